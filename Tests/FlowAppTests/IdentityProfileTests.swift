@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import SQLKit
import Testing

@Suite("Identity: profiles, privacy, preferences, roles, export and deletion")
struct IdentityProfileTests {
    @Test("another user's profile shows only what its privacy allows", arguments: TestEngine.allCases)
    func privacyFiltering(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let update = try await API.send(client, .put, "/api/v1/users/me", """
                {"displayName":"Ada L.","bio":"Engines.","interests":["math","Music","math"],
                 "location":{"city":"London","latitude":51.5,"longitude":-0.12},"avatarUrl":"https://img.example.com/ada.png",
                 "privacy":{"email":"members","location":"private"}}
                """, token: ada.token)
            #expect(update.status == .ok, "\(update.text)")
            #expect(update.json["interests"] as? [String] == ["math", "Music"])
            #expect((update.json["privacy"] as? [String: Any])?["attendedEvents"] as? String == "members")

            let asBob = try await API.send(client, .get, "/api/v1/profiles/\(ada.id)", token: bob.token).json
            #expect(asBob["email"] as? String == "ada@example.com")
            #expect(asBob["location"] is NSNull && asBob["privacy"] is NSNull)
            #expect(asBob["attendedEventsVisible"] as? Bool == true && asBob["bio"] as? String == "Engines.")
            let anonymous = try await API.send(client, .get, "/api/v1/profiles/\(ada.id)").json
            #expect(anonymous["email"] is NSNull && anonymous["location"] is NSNull && anonymous["attendedEventsVisible"] as? Bool == false)
            let own = try await API.send(client, .get, "/api/v1/profiles/me", token: ada.token).json
            #expect((own["location"] as? [String: Any])?["city"] as? String == "London" && own["privacy"] is [String: Any])
            let card = try await API.send(client, .get, "/api/v1/users/\(ada.id)")
            #expect(card.json["displayName"] as? String == "Ada L." && card.json["email"] == nil)
            #expect(!card.text.contains("$2b$") && !card.text.contains("password"))

            // Bob cannot edit Ada; null clears; bad values name the field.
            #expect(try await API.send(client, .put, "/api/v1/users/\(ada.id)", #"{"bio":"hacked"}"#, token: bob.token).status == .forbidden)
            let cleared = try await API.send(client, .put, "/api/v1/users/me", #"{"bio":null}"#, token: ada.token)
            #expect(cleared.json["bio"] is NSNull && cleared.json["displayName"] as? String == "Ada L.")
            let invalid = try await API.send(client, .put, "/api/v1/users/me",
                                             #"{"avatarUrl":"javascript:alert(1)","location":{"latitude":91,"longitude":0}}"#, token: ada.token)
            #expect(invalid.status == .unprocessableContent)
            let fields = ((invalid.errorBody()["details"] as? [String: Any])?["fields"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
            #expect(Set(fields) == ["avatarUrl", "location.latitude"])
            let taken = try await API.send(client, .put, "/api/v1/users/me", #"{"username":"BOB"}"#, token: ada.token)
            #expect(taken.status == .conflict)
            #expect(try await API.send(client, .get, "/api/v1/profiles/nobody").status == .notFound)

            // Two updates that changed something published two events naming the fields.
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM bus_events WHERE type = 'user.profile_updated'") == 2)
        }
    }

    @Test("preferences: defaults, partial updates, validation", arguments: TestEngine.allCases)
    func preferences(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let defaults = try await API.send(client, .get, "/api/v1/preferences", token: ada.token).json
            #expect(defaults["language"] as? String == "en" && defaults["timeZone"] as? String == "UTC" && defaults["theme"] as? String == "system")
            #expect((defaults["notifications"] as? [String: Bool])?["marketing"] == false)
            let updated = try await API.send(client, .put, "/api/v1/preferences",
                                             #"{"language":"pt-BR","timeZone":"Europe/Lisbon","notifications":{"push":false}}"#, token: ada.token)
            #expect(updated.status == .ok, "\(updated.text)")
            let again = try await API.send(client, .put, "/api/v1/preferences", #"{"theme":"dark"}"#, token: ada.token).json
            #expect(again["language"] as? String == "pt-BR" && again["theme"] as? String == "dark")
            #expect((again["notifications"] as? [String: Bool])?["push"] == false && (again["notifications"] as? [String: Bool])?["email"] == true)
            let bad = try await API.send(client, .put, "/api/v1/preferences", #"{"timeZone":"Mars/Base","notifications":{"spam":true}}"#, token: ada.token)
            #expect(bad.status == .unprocessableContent)
            #expect(try await API.send(client, .put, "/api/v1/preferences", #"{"theme":"neon"}"#, token: ada.token).status == .unprocessableContent)
            #expect(try await API.send(client, .get, "/api/v1/preferences").status == .unauthorized)
        }
    }

    @Test("role changes need manage_roles, end the target's sessions, and are audited", arguments: TestEngine.allCases)
    func roleChange(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            #expect(try await API.send(client, .put, "/api/v1/users/\(ada.id)/role", #"{"role":"admin"}"#, token: bob.token).status == .forbidden)
            _ = try await server.identity.createAdmin(email: "root@example.com", username: "root", password: API.password)
            let admin = try #require(try await IdentityRouteTests.login(client, "root@example.com").json["accessToken"] as? String)
            let promoted = try await API.send(client, .put, "/api/v1/users/\(bob.id)/role", #"{"role":"moderator"}"#, token: admin)
            #expect(promoted.status == .ok && promoted.json["role"] as? String == "moderator", "\(promoted.text)")
            #expect(try await API.send(client, .get, "/api/v1/auth/me", token: bob.token).status == .unauthorized)
            let claims = try IdentityRouteTests.decodeSegment(String((try await IdentityRouteTests.login(client, "bob@example.com").json["accessToken"] as! String).split(separator: ".")[1]))
            #expect((claims["permissions"] as? [String])?.contains("manage_attendees") == true)
            #expect(try await API.send(client, .put, "/api/v1/users/me/role", #"{"role":"user"}"#, token: admin).status == .conflict)
            #expect(try await API.send(client, .put, "/api/v1/users/\(bob.id)/role", #"{"role":"king"}"#, token: admin).status == .unprocessableContent)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'user.role_changed' AND entity_id = '\(bob.id)'") == 1)
        }
    }

    @Test("export holds the account's data; deletion erases it, ends sessions and publishes user.deleted", arguments: TestEngine.allCases)
    func exportAndDelete(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            _ = try await API.send(client, .put, "/api/v1/users/me", #"{"bio":"Engines.","privacy":{"email":"public"}}"#, token: ada.token)
            let export = try await API.send(client, .get, "/api/v1/users/me/export", token: ada.token)
            #expect(export.status == .ok && export.headers[.contentDisposition]?.contains("attachment") == true)
            #expect((export.json["account"] as? [String: Any])?["email"] as? String == "ada@example.com")
            #expect((export.json["profile"] as? [String: Any])?["bio"] as? String == "Engines.")
            #expect((export.json["sessions"] as? [Any])?.count == 1 && (export.json["auditLog"] as? [[String: Any]])?.first?["action"] != nil)
            #expect(!export.text.contains("$2b$") && !export.text.contains("password_hash"))
            #expect(try await API.send(client, .get, "/api/v1/users/\(ada.id)/export", token: bob.token).status == .forbidden)

            #expect(try await API.send(client, .delete, "/api/v1/users/me", #"{"password":"wrong wrong"}"#, token: ada.token).status == .forbidden)
            #expect(try await API.send(client, .delete, "/api/v1/users/\(ada.id)", #"{"password":"\#(API.password)"}"#, token: bob.token).status == .forbidden)
            let deleted = try await API.send(client, .delete, "/api/v1/users/me", #"{"password":"\#(API.password)"}"#, token: ada.token)
            #expect(deleted.status == .noContent, "\(deleted.text)")
            #expect(try await API.send(client, .get, "/api/v1/auth/me", token: ada.token).status == .unauthorized)
            #expect(try await IdentityRouteTests.login(client, "ada@example.com").status == .unauthorized)
            #expect(try await API.send(client, .get, "/api/v1/profiles/\(ada.id)", token: bob.token).status == .notFound)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM users WHERE email LIKE '%ada%' OR username = 'ada'") == 0)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM profiles WHERE user_id = '\(ada.id)'") == 0)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM bus_events WHERE type = 'user.deleted'") == 1)
            // The address is free again.
            _ = try await API.register(client, "ada@example.com", "ada")
        }
    }
}

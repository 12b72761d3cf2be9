@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import SQLKit
import Testing

@Suite("Events: create, edit, visibility, cancel")
struct EventRouteTests {
    static let soon = Date().addingTimeInterval(7 * 86_400)

    static func eventJSON(_ title: String, extra: String = "", startsIn days: Double = 7, lat: Double = 38.7223, lng: Double = -9.1393) -> String {
        let starts = RFC3339.format(Date().addingTimeInterval(days * 86_400))
        let ends = RFC3339.format(Date().addingTimeInterval(days * 86_400 + 7200))
        return """
            {"title":"\(title)","startsAt":"\(starts)","endsAt":"\(ends)","timeZone":"Europe/Lisbon","type":"physical",
             "location":{"address":"Praça do Comércio","latitude":\(lat),"longitude":\(lng)}\(extra)}
            """
    }

    static func create(_ client: some TestClientProtocol, _ token: String, _ json: String) async throws -> [String: Any] {
        let response = try await API.send(client, .post, "/api/v1/events", json, token: token)
        #expect(response.status == .created, "\(response.text)")
        return response.json
    }

    @Test("create, read, edit by the organizer only, with validation naming fields", arguments: TestEngine.allCases)
    func createAndEdit(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let venue = try await API.send(client, .post, "/api/v1/venues",
                                           #"{"name":"LX Factory","address":"R. Rodrigues de Faria 103","city":"Lisbon","country":"PT","latitude":38.7034,"longitude":-9.1785,"amenities":["wifi"]}"#,
                                           token: ada.token)
            #expect(venue.status == .created, "\(venue.text)")
            let venueId = try #require(venue.json["id"] as? String)
            let starts = RFC3339.format(Self.soon)
            let ends = RFC3339.format(Self.soon.addingTimeInterval(3600))
            let created = try await Self.create(client, ada.token, """
                {"title":"Swift meetup","summary":"Talks","startsAt":"\(starts)","endsAt":"\(ends)","timeZone":"Europe/Lisbon",
                 "type":"hybrid","venueId":"\(venueId)","meetingUrl":"https://meet.example.com/swift","capacity":50,
                 "categoryId":"tech-meetups","tags":["Swift","swift","server"]}
                """)
            let id = try #require(created["id"] as? String)
            #expect(created["tags"] as? [String] == ["swift", "server"])
            #expect((created["venue"] as? [String: Any])?["name"] as? String == "LX Factory" && created["location"] is NSNull)
            #expect(created["meetingUrl"] as? String == "https://meet.example.com/swift" && created["spotsLeft"] as? Int == 50)
            let asBob = try await API.send(client, .get, "/api/v1/events/\(id)", token: bob.token).json
            #expect(asBob["meetingUrl"] is NSNull, "the meeting link is for people going")

            let invalid = try await API.send(client, .post, "/api/v1/events",
                                             #"{"title":"","startsAt":"\#(ends)","endsAt":"\#(starts)","timeZone":"Mars/Olympus","type":"virtual"}"#, token: ada.token)
            #expect(invalid.status == .unprocessableContent)
            let fields = Set(((invalid.errorBody()["details"] as? [String: Any])?["fields"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
            #expect(fields == ["title", "endsAt", "timeZone", "meetingUrl"])
            #expect(try await API.send(client, .post, "/api/v1/events", Self.eventJSON("x", extra: #","categoryId":"nope""#), token: ada.token).status == .unprocessableContent)

            #expect(try await API.send(client, .put, "/api/v1/events/\(id)", #"{"title":"Mine now"}"#, token: bob.token).status == .forbidden)
            let edited = try await API.send(client, .put, "/api/v1/events/\(id)", #"{"title":"Swift & server meetup","summary":null}"#, token: ada.token)
            #expect(edited.status == .ok && edited.json["title"] as? String == "Swift & server meetup" && edited.json["summary"] is NSNull, "\(edited.text)")
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM bus_events WHERE type = 'event.updated'") == 1)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM bus_events WHERE type = 'event.created'") == 1)
        }
    }

    @Test("drafts, private and unlisted events never leak into lists or search", arguments: TestEngine.allCases)
    func visibility(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let draft = try await Self.create(client, ada.token, Self.eventJSON("Secret draft party", extra: #","status":"draft""#))
            let hidden = try await Self.create(client, ada.token, Self.eventJSON("Secret private party", extra: #","visibility":"private""#))
            let unlisted = try await Self.create(client, ada.token, Self.eventJSON("Secret unlisted party", extra: #","visibility":"unlisted""#))
            _ = try await Self.create(client, ada.token, Self.eventJSON("Open party"))
            for path in ["/api/v1/events", "/api/v1/events?q=secret", "/api/v1/events/nearby?lat=38.72&lng=-9.14&radius=5"] {
                let listed = try await API.send(client, .get, path, token: bob.token)
                #expect(listed.status == .ok, "\(listed.text)")
                let titles = (listed.json["items"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }
                #expect(!titles.contains { $0.hasPrefix("Secret") }, "\(path): \(titles)")
            }
            #expect(try await API.send(client, .get, "/api/v1/events/\(draft["id"] as! String)", token: bob.token).status == .notFound)
            #expect(try await API.send(client, .get, "/api/v1/events/\(hidden["id"] as! String)").status == .notFound)
            #expect(try await API.send(client, .get, "/api/v1/events/\(unlisted["id"] as! String)").status == .ok)
            #expect(try await API.send(client, .get, "/api/v1/events/\(draft["id"] as! String)", token: ada.token).status == .ok)
        }
    }

    @Test("deleting cancels an event people joined and deletes one nobody joined", arguments: TestEngine.allCases)
    func deleteOrCancel(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let lonely = try #require(try await Self.create(client, ada.token, Self.eventJSON("Lonely"))["id"] as? String)
            let popular = try #require(try await Self.create(client, ada.token, Self.eventJSON("Popular"))["id"] as? String)
            #expect(try await API.send(client, .post, "/api/v1/events/\(popular)/attend", token: bob.token).status == .ok)
            #expect(try await API.send(client, .delete, "/api/v1/events/\(popular)", token: bob.token).status == .forbidden)
            #expect(try await API.send(client, .delete, "/api/v1/events/\(lonely)", token: ada.token).status == .noContent)
            #expect(try await API.send(client, .get, "/api/v1/events/\(lonely)", token: ada.token).status == .notFound)
            let cancelled = try await API.send(client, .delete, "/api/v1/events/\(popular)", token: ada.token)
            #expect(cancelled.status == .ok && cancelled.json["status"] as? String == "cancelled" && cancelled.json["cancelledAt"] is String)
            #expect(try await API.send(client, .get, "/api/v1/events/\(popular)", token: bob.token).json["myAttendance"] as? String == "going")
            #expect(try await API.send(client, .post, "/api/v1/events/\(popular)/attend", token: bob.token).status == .conflict)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM bus_events WHERE type = 'event.cancelled'") == 2)
        }
    }
}

@Suite("Events: invitations")
struct InviteTests {
    @Test("a private event is seen and joined by invitees only; unknown ids are refused; withdrawing the invitation withdraws the seat", arguments: TestEngine.allCases)
    func privateEvents(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let cyd = try await API.register(client, "cyd@example.com", "cyd")
            let id = try #require(try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Birthday", extra: #","visibility":"private","capacity":1"#))["id"] as? String)
            #expect(try await API.send(client, .get, "/api/v1/events/\(id)", token: bob.token).status == .notFound)
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/attend", token: bob.token).status == .notFound)
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/invites", #"{"userIds":["\#(bob.id)"]}"#, token: cyd.token).status == .notFound)
            let unknown = try await API.send(client, .post, "/api/v1/events/\(id)/invites", #"{"userIds":["\#(bob.id)","nobody"]}"#, token: ada.token)
            #expect(unknown.status == .unprocessableContent && unknown.text.contains("userIds[1]"))
            let invited = try await API.send(client, .post, "/api/v1/events/\(id)/invites", #"{"userIds":["\#(bob.id)","\#(bob.id)"]}"#, token: ada.token)
            #expect(invited.json["invited"] as? [String] == [bob.id], "\(invited.text)")
            #expect((try await API.send(client, .post, "/api/v1/events/\(id)/invites", #"{"userIds":["\#(bob.id)"]}"#, token: ada.token)).json["invited"] as? [String] == [])
            #expect(try await API.send(client, .get, "/api/v1/events/\(id)", token: bob.token).status == .ok)
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/attend", token: bob.token).json["status"] as? String == "going")
            #expect(try await API.send(client, .get, "/api/v1/events/\(id)", token: cyd.token).status == .notFound)
            #expect((try await API.send(client, .get, "/api/v1/events/\(id)/invites", token: ada.token).json["items"] as? [Any])?.count == 1)
            #expect(try await API.send(client, .get, "/api/v1/events/\(id)/invites", token: bob.token).status == .forbidden)
            #expect(DiscoveryTests.titles(try await API.send(client, .get, "/api/v1/events", token: bob.token)).isEmpty)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM bus_events WHERE type = 'event.invited'") == 1)
            // Cyd waits for the one seat; withdrawing Bob's invitation takes his seat and gives it to her.
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/invites", #"{"userIds":["\#(cyd.id)"]}"#, token: ada.token).status == .ok)
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/attend", token: cyd.token).json["status"] as? String == "waitlisted")
            #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/invites/\(bob.id)", token: ada.token).status == .noContent)
            #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/invites/\(bob.id)", token: ada.token).status == .notFound)
            #expect(try await API.send(client, .get, "/api/v1/events/\(id)", token: bob.token).status == .notFound, "no invitation, no attendance: no access")
            let asCyd = try await API.send(client, .get, "/api/v1/events/\(id)", token: cyd.token).json
            #expect(asCyd["myAttendance"] as? String == "going" && asCyd["goingCount"] as? Int == 1 && asCyd["waitlistCount"] as? Int == 0)
        }
    }
}

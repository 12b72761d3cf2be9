@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Bus admin API")
struct BusAdminRouteTests {
    static let token = "test-operator-token-0123456789abcdef"

    static var authorized: HTTPFields { [.authorization: "Bearer \(token)"] }

    @Test("open to the operator token and to admins; 401 without credentials, 403 for other users")
    func authorization() async throws {
        try await withTestServer(configure: { $0.adminToken = Self.token }) { client, _ in
            try await client.execute(uri: "/api/v1/admin/bus/status", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                #expect(response.errorBody()["code"] as? String == "unauthorized")
            }
            try await client.execute(uri: "/api/v1/admin/bus/status", method: .get, headers: [.authorization: "Bearer nope"]) { response in
                #expect(response.status == .unauthorized)
                #expect(response.errorBody()["code"] as? String == "invalid_token")
            }
            try await client.execute(uri: "/api/v1/admin/bus/status", method: .get, headers: Self.authorized) { response in
                #expect(response.status == .ok)
                #expect(response.json["groups"] is [Any])
                #expect(response.json["eventTypes"] is [String: Any])
            }
            let member = try await signUp(client, email: "member@example.com", username: "member")
            try await client.execute(uri: "/api/v1/admin/bus/status", method: .get, headers: [.authorization: "Bearer \(member)"]) { response in
                #expect(response.status == .forbidden)
            }
        }
        try await withTestServer(configure: { $0.environment = .production; $0.jwtSecret = String(repeating: "k", count: 40) }) { client, server in
            // No operator token in production: the old one means nothing, an admin's token works.
            try await client.execute(uri: "/api/v1/admin/bus/status", method: .get, headers: Self.authorized) { response in
                #expect(response.status == .unauthorized)
            }
            _ = try await server.identity.createAdmin(email: "root@example.com", username: "root", password: "correct horse battery")
            let admin = try await signIn(client, email: "root@example.com", password: "correct horse battery")
            try await client.execute(uri: "/api/v1/admin/bus/status", method: .get, headers: [.authorization: "Bearer \(admin)"]) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("dead letters page, replay of a missing one is 404, replay needs a filter, group and event replay need a known group", arguments: TestEngine.allCases)
    func deadLettersAndReplay(engine: TestEngine) async throws {
        try await withTestServer(engine, configure: { $0.adminToken = Self.token }) { client, _ in
            try await client.execute(uri: "/api/v1/admin/bus/dead-letters?limit=5", method: .get, headers: Self.authorized) { response in
                #expect(response.status == .ok)
                #expect(response.json["items"] as? [Any] != nil)
                #expect(response.json.keys.contains("nextCursor"))
            }
            try await client.execute(uri: "/api/v1/admin/bus/dead-letters?limit=500", method: .get, headers: Self.authorized) { response in
                #expect(response.status == .unprocessableContent)
            }
            try await client.execute(uri: "/api/v1/admin/bus/dead-letters?cursor=%%%", method: .get, headers: Self.authorized) { response in
                #expect(response.status == .unprocessableContent)
            }
            try await client.execute(uri: "/api/v1/admin/bus/dead-letters/\(UUIDv7.string())/replay", method: .post, headers: Self.authorized) { response in
                #expect(response.status == .notFound)
            }
            var json = Self.authorized
            json[.contentType] = "application/json"
            try await client.execute(uri: "/api/v1/admin/bus/dead-letters/replay", method: .post, headers: json, body: jsonBody("{}")) { response in
                #expect(response.status == .unprocessableContent)
            }
            try await client.execute(uri: "/api/v1/admin/bus/dead-letters/replay", method: .post, headers: json, body: jsonBody(#"{"type":"event.created"}"#)) { response in
                #expect(response.status == .ok)
                #expect(response.json["count"] as? Int == 0)
            }
            try await client.execute(uri: "/api/v1/admin/bus/replay", method: .post, headers: json,
                                     body: jsonBody(#"{"group":"no.such.group","since":"2026-01-01T00:00:00Z"}"#)) { response in
                #expect(response.status == .unprocessableContent)
            }
            // One event: the group must be registered; the body must name one. (What a replay of
            // a real event does is tested on the bus itself, BusDeliveryTests.)
            try await client.execute(uri: "/api/v1/admin/bus/events/\(UUIDv7.string())/replay", method: .post, headers: json,
                                     body: jsonBody(#"{"group":"no.such.group"}"#)) { response in
                #expect(response.status == .unprocessableContent)
                #expect(response.errorBody()["code"] as? String == "validation_failed")
            }
            try await client.execute(uri: "/api/v1/admin/bus/events/\(UUIDv7.string())/replay", method: .post, headers: json, body: jsonBody("{}")) { response in
                #expect(response.status == .unprocessableContent || response.status == .badRequest)
            }
            try await client.execute(uri: "/api/v1/admin/bus/events/\(UUIDv7.string())/replay", method: .post, body: jsonBody(#"{"group":"g"}"#)) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }
}

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

    @Test("needs the operator token: 401 without or with a wrong one, 403 when the admin API is off")
    func authorization() async throws {
        try await withTestServer(configure: { $0.adminToken = Self.token }) { client, _ in
            try await client.execute(uri: "/api/v1/admin/bus/status", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                #expect(response.errorBody()["code"] as? String == "unauthorized")
            }
            try await client.execute(uri: "/api/v1/admin/bus/status", method: .get, headers: [.authorization: "Bearer nope"]) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/api/v1/admin/bus/status", method: .get, headers: Self.authorized) { response in
                #expect(response.status == .ok)
                #expect(response.json["groups"] is [Any])
                #expect(response.json["eventTypes"] is [String: Any])
            }
        }
        try await withTestServer(configure: { $0.environment = .production }) { client, _ in
            try await client.execute(uri: "/api/v1/admin/bus/status", method: .get, headers: Self.authorized) { response in
                #expect(response.status == .forbidden)
                #expect(response.errorBody()["code"] as? String == "admin_api_disabled")
            }
        }
    }

    @Test("dead letters page, replay of a missing one is 404, replay needs a filter, group replay needs a known group", arguments: TestEngine.allCases)
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
        }
    }
}

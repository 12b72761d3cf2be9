@testable import FlowApp
import FlowKit
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Requests the Identity suites make, with JSON bodies and an optional bearer token.
enum API {
    static let password = IdentityRouteTests.password

    static func send(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil,
                     token: String? = nil, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers: HTTPFields = [.userAgent: "flow-tests/1"]
        if body != nil { headers[.contentType] = "application/json" }
        if let token { headers[.authorization] = "Bearer \(token)" }
        headers.append(contentsOf: extra)
        return try await client.execute(uri: uri, method: method, headers: headers, body: body.map(jsonBody))
    }

    /// Registers and returns (access token, user id).
    static func register(_ client: some TestClientProtocol, _ email: String, _ username: String) async throws -> (token: String, id: String) {
        let signedIn = try await IdentityRouteTests.register(client, email, username)
        return (try #require(signedIn["accessToken"] as? String), try #require((signedIn["user"] as? [String: Any])?["id"] as? String))
    }

    /// The newest development-mailbox message of `kind` to the token's owner, and the token in it.
    static func mailedToken(_ client: some TestClientProtocol, kind: String, token: String) async throws -> String? {
        let response = try await send(client, .get, "/api/v1/dev/mailbox", token: token)
        #expect(response.status == .ok, "\(response.text)")
        let items = response.json["items"] as? [[String: Any]] ?? []
        guard let text = items.first(where: { $0["kind"] as? String == kind })?["text"] as? String else { return nil }
        return text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .first { $0.count >= 40 && !$0.contains(" ") && !$0.contains("/") }
    }

    static func count(_ server: FlowServer, _ sql: String) async throws -> Int {
        try await IdentityRouteTests.count(server, sql)
    }
}

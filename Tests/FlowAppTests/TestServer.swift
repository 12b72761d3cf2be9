@testable import FlowApp
import Identity
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Builds a `FlowServer` on a fresh database of `engine` with the probe module, and runs `body`
/// against it through HummingbirdTesting's in-process router client.
func withTestServer<T: Sendable>(
    _ engine: TestEngine = .sqlite,
    configure: (inout FlowConfig) -> Void = { _ in },
    policy: FlowServer.MigrationPolicy = .apply,
    _ body: @escaping @Sendable (any TestClientProtocol, FlowServer) async throws -> T
) async throws -> T {
    let (url, cleanup) = try await TestDatabases.makeURL(engine)
    var config = FlowConfig()
    config.database = try DatabaseLocation(url: url)
    config.databaseOptions.poolSize = 4
    // Tests sign in far more often than people; the rate-limit test sets its own limit.
    config.loginsPerMinute = 1_000
    config.registrationsPerHour = 1_000
    configure(&config)
    let server = try await FlowServer.build(
        config: config, migrationPolicy: policy, logger: TestDatabases.logger,
        modules: { try await FlowModules.build($0).all + [ProbeModule()] })
    do {
        let result = try await server.application.test(.router) { client in try await body(client, server) }
        await cleanup()
        return result
    } catch {
        await cleanup()
        throw error
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
    }

    /// The `error` object of the project's error shape, after checking the shape is complete.
    func errorBody(sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any] {
        let error = json["error"] as? [String: Any] ?? [:]
        #expect(error["code"] is String, "error.code missing in \(text)", sourceLocation: sourceLocation)
        #expect(error["message"] is String, "error.message missing in \(text)", sourceLocation: sourceLocation)
        #expect(error["details"] is [String: Any], "error.details missing in \(text)", sourceLocation: sourceLocation)
        #expect((error["requestId"] as? String) == headers[.xRequestId], "error.requestId differs from X-Request-Id", sourceLocation: sourceLocation)
        #expect(headers[.contentType]?.hasPrefix("application/json") == true, sourceLocation: sourceLocation)
        return error
    }
}

func jsonBody(_ text: String) -> ByteBuffer {
    ByteBuffer(string: text)
}

extension FlowServer {
    /// The Identity service of this server, for arranging accounts in tests.
    var identity: IdentityService {
        modules.compactMap { $0 as? IdentityModule }.first!.service
    }
}

/// Registers through the API and returns the access token.
func signUp(_ client: some TestClientProtocol, email: String, username: String, password: String = "correct horse battery") async throws -> String {
    try await client.execute(uri: "/api/v1/auth/register", method: .post, headers: [.contentType: "application/json"],
                             body: jsonBody(#"{"email":"\#(email)","username":"\#(username)","password":"\#(password)"}"#)) { response in
        #expect(response.status == .created, "\(response.text)")
        return try #require(response.json["accessToken"] as? String)
    }
}

/// Signs in through the API and returns the access token.
func signIn(_ client: some TestClientProtocol, email: String, password: String) async throws -> String {
    try await client.execute(uri: "/api/v1/auth/login", method: .post, headers: [.contentType: "application/json"],
                             body: jsonBody(#"{"email":"\#(email)","password":"\#(password)"}"#)) { response in
        #expect(response.status == .ok, "\(response.text)")
        return try #require(response.json["accessToken"] as? String)
    }
}

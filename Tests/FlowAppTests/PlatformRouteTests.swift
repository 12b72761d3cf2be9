@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Platform endpoints")
struct PlatformRouteTests {
    @Test("/health answers 200 with security headers and a request id")
    func health() async throws {
        try await withTestServer { client, _ in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["status"] as? String == "ok")
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[.xFrameOptions] == "DENY")
                #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
                #expect(response.headers[.referrerPolicy] == "no-referrer")
                #expect(response.headers[.strictTransportSecurity] == nil)
                let id = try #require(response.headers[.xRequestId])
                #expect(UUID(uuidString: id) != nil)
            }
        }
    }

    @Test("a usable X-Request-Id is kept; an unusable one is replaced")
    func requestIdPropagation() async throws {
        try await withTestServer { client, _ in
            try await client.execute(uri: "/health", method: .get, headers: [.xRequestId: "client-abc.123"]) { response in
                #expect(response.headers[.xRequestId] == "client-abc.123")
            }
            try await client.execute(uri: "/nope", method: .get, headers: [.xRequestId: "bad id with spaces"]) { response in
                #expect(response.headers[.xRequestId] != "bad id with spaces")
                #expect(response.errorBody()["requestId"] as? String == response.headers[.xRequestId])
            }
        }
    }

    @Test("/ready answers 200 when the database answers and the schema is current", arguments: TestEngine.allCases)
    func ready(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["status"] as? String == "ready")
                #expect(response.json["engine"] as? String == engine.rawValue)
                let checks = response.json["checks"] as? [String: String]
                #expect(checks == ["database": "ok", "schema": "ok"])
            }
        }
    }

    @Test("/ready answers 503 with the reason when the database is gone, while /health stays 200")
    func readyWhenDatabaseGone() async throws {
        try await withTestServer { client, server in
            await server.database.close()
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let error = response.errorBody()
                #expect(error["code"] as? String == "not_ready")
                let checks = (error["details"] as? [String: Any])?["checks"] as? [String: String]
                #expect(checks?["database"]?.hasPrefix("unreachable") == true)
                #expect(response.headers[.retryAfter] == "5")
            }
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("production refuses to serve a schema with pending migrations", arguments: TestEngine.allCases)
    func productionRefusesPendingSchema(engine: TestEngine) async throws {
        let error = await #expect(throws: SchemaError.self) {
            try await withTestServer(engine, policy: .requireCurrent) { client, _ in
                try await client.execute(uri: "/health", method: .get) { _ in }
            }
        }
        #expect(error?.description.contains("probe/0001_create_probe_notes") == true)
        #expect(error?.description.contains("refusing to serve") == true)
    }

    @Test("/metrics labels requests by route template, never by raw path")
    func metricsUseRouteTemplates() async throws {
        try await withTestServer { client, _ in
            let id = "item-\(UUID().uuidString.prefix(8))"
            try await client.execute(uri: "/test/items/\(id)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["id"] as? String == id)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = response.text
                #expect(text.contains(#"http_route="/test/items/{id}""#))
                #expect(!text.contains(id))
                #expect(text.contains("http_server_request_duration_bucket"))
                let counted = text.split(separator: "\n").filter {
                    $0.hasPrefix("hb_requests{") && $0.contains(#"http_route="/test/items/{id}""#) && $0.contains(#"="200""#)
                }
                // Other tests in this process use the route too: at least this request is counted.
                #expect(counted.count == 1 && (counted.first?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 1, "\(counted)")
                #expect(text.contains("http_server_active_requests"))
                #expect(text.contains("flow_db_connections_in_use"))
                #expect(text.contains("flow_db_pool_size"))
            }
        }
    }

    @Test("/openapi.json is OpenAPI 3.1 and documents every route")
    func openAPIDocumentsEveryRoute() async throws {
        try await withTestServer { client, server in
            let database = server.database
            let migrator = Migrator(database: database, sets: [], logger: TestDatabases.logger)
            let modules = try await FlowModules.build(ModuleContext(config: server.config, database: database, admin: AdminAccess(token: nil), logger: TestDatabases.logger)).all
            let (router, document) = FlowServer.makeRouter(config: server.config, database: database, migrator: migrator, modules: modules + [ProbeModule()], admin: AdminAccess(token: nil))
            for route in router.routes where route.method != .head {  // HEAD mirrors each GET
                #expect(document.documents(method: route.method, path: route.path.description), "\(route.method) \(route.path) is not in the OpenAPI document")
            }
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["openapi"] as? String == "3.1.0")
                let paths = response.json["paths"] as? [String: Any]
                #expect(paths?["/health"] != nil)
                #expect(paths?["/test/items/{id}"] != nil)
            }
        }
    }
}

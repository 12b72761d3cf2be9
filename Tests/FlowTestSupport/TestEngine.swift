import FlowKit
import Foundation
import Logging
import Testing

/// The engines every store test runs on: `@Test(arguments: TestEngine.allCases)`.
public enum TestEngine: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    public var testDescription: String { rawValue }
}

/// Fresh, empty databases for tests: a SQLite file in a temporary folder, or a new database on
/// the test PostgreSQL server (see ``PostgresTestServer``). Each test gets its own, so tests run
/// in parallel without cleaning up after each other.
public enum TestDatabases {
    public static let logger: Logger = {
        var logger = Logger(label: "flow-tests")
        logger.logLevel = ProcessInfo.processInfo.environment["FLOW_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }()

    /// A `FLOW_DATABASE_URL` for a new empty database; `cleanup` drops it.
    public static func makeURL(_ engine: TestEngine) async throws -> (url: String, cleanup: @Sendable () async -> Void) {
        switch engine {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flow-test-\(UUID().uuidString.prefix(8))")
            let url = "sqlite:\(folder.path)/flow.sqlite"
            return (url, { try? FileManager.default.removeItem(at: folder) })
        case .postgres:
            let server = try await PostgresTestServer.shared.requireAvailable()
            let name = try await server.createDatabase()
            return (server.url(database: name), { await server.dropDatabase(name) })
        }
    }

    /// Runs `body` with an open, running database on `engine`, then closes and removes it.
    ///
    /// The default `acquireTimeout` is generous: the suites run in parallel on 2 cores with
    /// bcrypt-heavy identity tests, and a CI run saw five PostgreSQL tests fail at 5 s while new
    /// connections waited for CPU. Tests of the timeout itself pass their own.
    public static func with<T>(_ engine: TestEngine, poolSize: Int = 4, acquireTimeout: Duration = .seconds(30),
                               statementCacheSize: Int = Database.Options.defaultStatementCacheSize,
                               _ body: (Database) async throws -> T) async throws -> T {
        FlowMetrics.bootstrap()
        let (url, cleanup) = try await makeURL(engine)
        let options = Database.Options(poolSize: poolSize, acquireTimeout: acquireTimeout, statementCacheSize: statementCacheSize)
        let database = try await Database.open(try DatabaseLocation(url: url), options: options, logger: logger)
        do {
            let result = try await database.withRunning { try await body(database) }
            await cleanup()
            return result
        } catch {
            await cleanup()
            throw error
        }
    }
}

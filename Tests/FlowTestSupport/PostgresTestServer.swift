import Foundation
import Logging
import NIOPosix
import PostgresNIO
import Testing

/// The PostgreSQL server tests use: `FLOW_TEST_DATABASE_URL` when set, otherwise a throwaway
/// cluster started once per test process by `scripts/pg-test-cluster` on a free loopback port
/// and stopped when the process exits.
///
/// Without PostgreSQL, PostgreSQL test cases are skipped with a warning that gives the reason,
/// unless `FLOW_TEST_REQUIRE_POSTGRES=1` (set by CI), which turns the absence into a failure.
public actor PostgresTestServer {
    public static let shared = PostgresTestServer()

    public struct Unavailable: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { "PostgreSQL is not available for tests: \(reason)" }
    }

    private enum State {
        case unknown
        case available(Server)
        case unavailable(String)
    }

    private var state = State.unknown

    /// The server, or: a test failure when PostgreSQL is required; otherwise a warning and the
    /// current test case is cancelled (reported as skipped).
    public func requireAvailable() async throws -> Server {
        switch await resolve() {
        case .success(let server):
            return server
        case .failure(let unavailable):
            if ProcessInfo.processInfo.environment["FLOW_TEST_REQUIRE_POSTGRES"] == "1" {
                throw unavailable
            }
            Issue.record("skipped on PostgreSQL: \(unavailable.reason)", severity: .warning)
            try Test.cancel("\(unavailable)")
        }
    }

    /// Whether a server can be had, without skipping anything.
    public func availability() async -> Result<Server, Unavailable> {
        await resolve()
    }

    private func resolve() async -> Result<Server, Unavailable> {
        switch state {
        case .available(let server): return .success(server)
        case .unavailable(let reason): return .failure(Unavailable(reason: reason))
        case .unknown: break
        }
        do {
            let server: Server
            if let given = ProcessInfo.processInfo.environment["FLOW_TEST_DATABASE_URL"], !given.isEmpty {
                server = try Server(baseURL: given)
            } else {
                let directory = NSTemporaryDirectory() + "flow-test-pg-\(ProcessInfo.processInfo.processIdentifier)"
                let url = try ThrowawayCluster.start(directory: directory)
                ThrowawayCluster.stopAtExit(directory: directory)
                server = try Server(baseURL: url, socketDirectory: directory)
            }
            state = .available(server)
            return .success(server)
        } catch {
            let reason = "\(error)"
            state = .unavailable(reason)
            return .failure(Unavailable(reason: reason))
        }
    }

    /// A reachable server: creates and drops per-test databases.
    public struct Server: Sendable {
        let host: String
        let port: Int
        let username: String
        let password: String?
        let adminDatabase: String
        /// Where the server's Unix socket is, for a throwaway cluster (its folder); nil for a
        /// server given by URL.
        public let socketDirectory: String?

        init(baseURL: String, socketDirectory: String? = nil) throws {
            self.socketDirectory = socketDirectory
            guard let components = URLComponents(string: baseURL), let host = components.host else {
                throw Unavailable(reason: "cannot parse \(baseURL)")
            }
            self.host = host
            self.port = components.port ?? 5432
            self.username = components.user ?? "postgres"
            self.password = components.password
            let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            self.adminDatabase = path.isEmpty ? "postgres" : path
        }

        public func url(database: String) -> String {
            let credentials = password.map { "\(username):\($0)" } ?? username
            return "postgres://\(credentials)@\(host):\(port)/\(database)?sslmode=disable"
        }

        /// libpq's Unix-socket URL of `database`, when the socket's folder is known.
        public func socketURL(database: String) -> String? {
            socketDirectory.map { "postgres://\(username)@/\(database)?host=\($0)&port=\(port)" }
        }

        public func createDatabase() async throws -> String {
            let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            try await admin { connection in
                _ = try await connection.query("CREATE DATABASE \(unescaped: name)", logger: TestDatabases.logger)
            }
            return name
        }

        public func dropDatabase(_ name: String) async {
            try? await admin { connection in
                _ = try await connection.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)", logger: TestDatabases.logger)
            }
        }

        private func admin(_ work: (PostgresConnection) async throws -> Void) async throws {
            let configuration = PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password, database: adminDatabase, tls: .disable)
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: TestDatabases.logger)
            do {
                try await work(connection)
                try await connection.close()
            } catch {
                try? await connection.close()
                throw error
            }
        }
    }
}

/// Drives `scripts/pg-test-cluster`, the one implementation of throwaway clusters (the Python
/// system tests and the benchmark use it too).
public enum ThrowawayCluster {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/pg-test-cluster").path

    /// Starts (or restarts) the cluster in `directory` and returns its URL. The cluster stops by
    /// itself when this process exits.
    public static func start(directory: String) throws -> String {
        let output = try run(["start", directory, "--watch", String(ProcessInfo.processInfo.processIdentifier)])
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public static func stop(directory: String, remove: Bool = false) throws {
        _ = try run(["stop", directory] + (remove ? ["--remove"] : []))
    }

    static func stopAtExit(directory: String) {
        clusterToStop = directory
        atexit {
            if let directory = ThrowawayCluster.clusterToStop {
                try? ThrowawayCluster.stop(directory: directory, remove: true)
            }
        }
    }

    nonisolated(unsafe) static var clusterToStop: String?

    /// Runs the script with posix_spawn and waitpid. (Foundation's `Process` can miss the exit
    /// of a child on Linux when other code in the test process handles signals, and hang.)
    private static func run(_ arguments: [String]) throws -> String {
        let capture = NSTemporaryDirectory() + "flow-pg-cluster-\(UUID().uuidString)"
        defer {
            try? FileManager.default.removeItem(atPath: capture + ".out")
            try? FileManager.default.removeItem(atPath: capture + ".err")
        }
        let quoted = ([script] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let command = "\(quoted) >'\(capture).out' 2>'\(capture).err' </dev/null"
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = ["/bin/bash", "-c", command].map { (text: String) in strdup(text) } + [nil]
        defer { argv.forEach { free($0) } }
        let spawned = posix_spawn(&pid, "/bin/bash", nil, nil, argv, environ)
        guard spawned == 0 else {
            throw PostgresTestServer.Unavailable(reason: "cannot run \(script): error \(spawned)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = (try? String(contentsOfFile: capture + ".out", encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: capture + ".err", encoding: .utf8)) ?? ""
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard exitCode == 0 else {
            throw PostgresTestServer.Unavailable(reason: "pg-test-cluster \(arguments[0]) exited \(exitCode): \(errors.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return output
    }
}

@testable import FlowKit
import FlowTestSupport
import Foundation
import SQLKit
import Testing

/// Flow's check of pooled PostgreSQL connections (``PostgresKeepAlive``).
@Suite("PostgreSQL connection checks")
struct PostgresKeepAliveTests {
    @Test("a round checks every pooled connection, not one idle connection again and again")
    func roundReachesEveryConnection() async throws {
        try await TestDatabases.with(.postgres, poolSize: 3) { database in
            let pids = try await Self.poolBackends(database, count: 3)
            await database.checkPostgresConnections(answerWithin: .seconds(10))
            // Asked from one of the pool's connections: the other two show what they ran last.
            let lastQueries = try await database.read { sql in
                try await sql.raw("""
                    SELECT query FROM pg_stat_activity WHERE pid IN (\(SQLList(pids.map { SQLBind($0) }))) AND pid <> pg_backend_pid()
                    """).all().map { try $0.decode(column: "query", as: String.self) }
            }
            #expect(lastQueries == ["SELECT 1", "SELECT 1"])
        }
    }

    @Test("a connection that does not answer is closed and the pool opens another")
    func silentConnectionIsReplaced() async throws {
        try await TestDatabases.with(.postgres, poolSize: 2) { database in
            let pids = try await Self.poolBackends(database, count: 2)
            // A stopped backend keeps its socket open but answers nothing, like a peer gone
            // without a FIN. The test cluster runs on this machine (as root, the tests may signal it).
            let silent = Int32(pids[0])
            try #require(kill(silent, SIGSTOP) == 0, "cannot stop backend \(silent): errno \(errno)")
            // Resumed after 4 s whatever happens, so that a round that waits for the answer ends
            // (and fails below) instead of hanging, and the cluster can stop afterwards.
            let resume = Task {
                try? await Task.sleep(for: .seconds(4))
                kill(silent, SIGCONT)
            }
            defer { kill(silent, SIGCONT) }
            let clock = ContinuousClock()
            let started = clock.now
            await database.checkPostgresConnections(answerWithin: .seconds(1))
            let took = clock.now - started
            #expect(took < .milliseconds(3500), "the round took \(took)")
            resume.cancel()
            kill(silent, SIGCONT)
            // The pool keeps two connections: the silent one is gone, a new one took its place.
            var now: [Int] = []
            for _ in 0..<50 {
                now = try await Self.poolBackends(database, count: 2)
                if !now.contains(pids[0]) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(!now.contains(pids[0]), "pool backends \(now), silent \(pids[0])")
            #expect(now.contains(pids[1]))
        }
    }

    /// The backend pids of `count` connections leased at once (each holds its lease until all
    /// have one, so they are different connections).
    private static func poolBackends(_ database: Database, count: Int) async throws -> [Int] {
        let together = CountdownGate(expected: count)
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<count {
                group.addTask {
                    try await database.read { sql in
                        let pid = try await sql.raw("SELECT pg_backend_pid() AS pid").first()!.decode(column: "pid", as: Int.self)
                        await together.arrive()
                        return pid
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }.sorted()
        }
    }
}

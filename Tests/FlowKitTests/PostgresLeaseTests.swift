@testable import FlowKit
import FlowTestSupport
import Foundation
import SQLKit
import Testing

/// How long a request waits for a PostgreSQL connection (``PostgresLeases``); the outage case,
/// a server that stops under traffic, is in tests/system/test_resilience.py.
@Suite("PostgreSQL connection leases")
struct PostgresLeaseTests {
    @Test("a request waits at most acquireTimeout for a connection of a busy pool, then answers unavailable")
    func busyPoolBoundsTheWait() async throws {
        try await TestDatabases.with(.postgres, poolSize: 1, acquireTimeout: .seconds(2)) { database in
            // Once a lease is granted the pool serves: leases skip the per-lease deadline and wait
            // in Flow's line. (The first one opens the connection, which can take longer than the
            // acquire timeout while the whole suite runs in parallel: it may be retried.)
            for attempt in 1... {
                do {
                    _ = try await database.read { sql in try await sql.raw("SELECT 1 AS ok").all() }
                    break
                } catch let error as DatabaseError where error.kind == .unavailable && attempt < 5 {
                    continue
                }
            }
            let clock = ContinuousClock()
            let holding = AtomicFlag()
            let holder = Task {
                try await database.read { sql in
                    _ = try await sql.raw("SELECT 1 AS ok").all()
                    holding.set()
                    try await Task.sleep(for: .seconds(4))
                }
            }
            while !holding.isSet { try await Task.sleep(for: .milliseconds(10)) }
            let asked = clock.now
            let error = await #expect(throws: DatabaseError.self) {
                try await database.read { sql in try await sql.raw("SELECT 2 AS ok").all() }
            }
            let waited = clock.now - asked
            #expect(error?.kind == .unavailable)
            #expect(waited >= .milliseconds(1950) && waited < .milliseconds(3500), "waited \(waited)")
            try await holder.value
            #expect(try await database.read { sql in try await sql.raw("SELECT 3 AS ok").all().count } == 1)
            #expect(database.connectionsInUse == 0)
        }
    }

    @Test("a lost connection puts leases back on the deadline until a newer connection, or one that outlived the loss, is granted")
    func lostConnectionSuspendsServing() async throws {
        try await TestDatabases.with(.postgres, poolSize: 2, acquireTimeout: .seconds(10)) { database in
            let leases = try #require(database.postgresLeases)
            #expect(!leases.isServing, "nothing granted yet: the server is not proven")
            // Two leases at once: the pool opens both its connections.
            async let first = Self.backendPID(database, holding: .milliseconds(300))
            async let second = Self.backendPID(database, holding: .milliseconds(300))
            let pids = try await [first, second]
            #expect(leases.isServing)
            // Terminate whichever pooled backend this lease is not on: its connection closes.
            _ = try await database.read { sql in
                try await sql.raw("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid IN (\(bind: pids[0]), \(bind: pids[1])) AND pid <> pg_backend_pid()").all()
            }
            let clock = ContinuousClock()
            let terminated = clock.now
            while leases.isServing, clock.now - terminated < .seconds(5) { try await Task.sleep(for: .milliseconds(10)) }
            #expect(!leases.isServing, "the close of a pooled connection ends serving")
            // The surviving connection, granted at once, does not prove anything yet (the pool
            // also opens a replacement at once, and a grant of that one would)...
            let granted = try await Self.backendPID(database, holding: .zero)
            if pids.contains(granted), clock.now - terminated < PostgresLeases.survivalProof {
                #expect(!leases.isServing)
            }
            // ...but granted after it outlived the loss by the survival proof, it does.
            try await Task.sleep(for: PostgresLeases.survivalProof + .milliseconds(100))
            _ = try await Self.backendPID(database, holding: .zero)
            #expect(leases.isServing)
        }
    }

    private static func backendPID(_ database: Database, holding: Duration) async throws -> Int {
        try await database.read { sql in
            let pid = try await sql.raw("SELECT pg_backend_pid() AS pid").first()!.decode(column: "pid", as: Int.self)
            try await Task.sleep(for: holding)
            return pid
        }
    }
}

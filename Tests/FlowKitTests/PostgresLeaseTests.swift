import FlowKit
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
        try await TestDatabases.with(.postgres, poolSize: 1, acquireTimeout: .seconds(1)) { database in
            // The pool serves: leases skip the per-lease deadline and wait in Flow's line.
            _ = try await database.read { sql in try await sql.raw("SELECT 1 AS ok").all() }
            let clock = ContinuousClock()
            let holding = AtomicFlag()
            let holder = Task {
                try await database.read { sql in
                    _ = try await sql.raw("SELECT 1 AS ok").all()
                    holding.set()
                    try await Task.sleep(for: .milliseconds(2500))
                }
            }
            while !holding.isSet { try await Task.sleep(for: .milliseconds(10)) }
            let asked = clock.now
            let error = await #expect(throws: DatabaseError.self) {
                try await database.read { sql in try await sql.raw("SELECT 2 AS ok").all() }
            }
            let waited = clock.now - asked
            #expect(error?.kind == .unavailable)
            #expect(waited >= .milliseconds(950) && waited < .milliseconds(1800), "waited \(waited)")
            try await holder.value
            #expect(try await database.read { sql in try await sql.raw("SELECT 3 AS ok").all().count } == 1)
            #expect(database.connectionsInUse == 0)
        }
    }
}

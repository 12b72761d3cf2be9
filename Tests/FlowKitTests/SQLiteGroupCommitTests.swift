@testable import FlowKit
import FlowTestSupport
import Foundation
import SQLKit
import Testing

/// Group commit on SQLite's single writer (`SQLiteWriter`): transactions queued behind a running
/// one share its COMMIT, and nobody hears "done" before that COMMIT has happened.
@Suite("SQLite group commit")
struct SQLiteGroupCommitTests {
    struct Abort: Error {}

    static func prepare(_ database: Database) async throws {
        try await database.transaction { tx in
            try await tx.sql.raw("CREATE TABLE parents (id TEXT PRIMARY KEY, email TEXT NOT NULL)").run()
            // Checked at COMMIT, so a transaction can break the group's COMMIT after its own work succeeded.
            try await tx.sql.raw("""
                CREATE TABLE kids (id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)
                """).run()
            // SQLite rolls back the whole transaction, not just the statement, when this fires.
            try await tx.sql.raw("""
                CREATE TRIGGER parents_veto BEFORE INSERT ON parents WHEN NEW.email = 'veto@example.com'
                BEGIN SELECT RAISE(ROLLBACK, 'vetoed'); END
                """).run()
        }
    }

    static func ids(_ database: Database, _ table: String = "parents") async throws -> Set<String> {
        try await database.read { sql in
            Set(try await sql.raw("SELECT id FROM \(unsafeRaw: table)").all().map { try $0.decode(column: "id", as: String.self) })
        }
    }

    static func insert(_ id: String, email: String? = nil, in tx: Transaction) async throws {
        try await tx.sql.raw("INSERT INTO parents (id, email) VALUES (\(bind: id), \(bind: email ?? "\(id)@example.com"))").run()
    }

    /// Polls until `condition` holds (the writers' queue has the expected shape), failing after 10 s.
    static func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw DatabaseError(.other, message: "timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// A transaction that holds the writer until ``release()``, so that others queue behind it.
    struct Holder {
        let task: Task<Void, any Error>
        let released: AtomicFlag

        /// Starts the transaction and returns once it holds the writer.
        init(_ database: Database, inserting id: String) async throws {
            let writer = try #require(database.sqliteWriter)
            let released = AtomicFlag()
            task = Task {
                try await database.transaction { tx in
                    try await insert(id, in: tx)
                    try await waitUntil("the test releases the writer") { released.isSet }
                }
            }
            self.released = released
            try await waitUntil("the first writer holds the connection") { writer.inUseCount == 1 }
        }

        /// Lets the transaction finish and returns its outcome.
        func release() async throws {
            released.set()
            try await task.value
        }
    }

    /// Starts `work` as a transaction and returns once it is queued behind the others.
    static func queue(_ database: Database, _ work: @escaping @Sendable (Transaction) async throws -> Void) async throws -> Task<Void, any Error> {
        let writer = try #require(database.sqliteWriter)
        let before = writer.waitingCount
        let task = Task { try await database.transaction(work) }
        try await waitUntil("the writer queues") { writer.waitingCount > before }
        return task
    }

    @Test("transactions queued behind each other share one COMMIT, and one that throws leaves the others' changes")
    func queuedTransactionsShareACommit() async throws {
        try await TestDatabases.with(.sqlite) { database in
            try await Self.prepare(database)
            let writer = try #require(database.sqliteWriter)
            let before = writer.statistics
            let holder = try await Holder(database, inserting: "p0")
            var queued: [Task<Void, any Error>] = []
            for index in 1...10 {
                queued.append(try await Self.queue(database) { tx in
                    try await Self.insert("p\(index)", in: tx)
                    if index == 5 { throw Abort() }
                })
            }
            try await holder.release()
            for (offset, task) in queued.enumerated() {
                if offset + 1 == 5 {
                    await #expect(throws: Abort.self) { try await task.value }
                } else {
                    try await task.value
                }
            }
            #expect(try await Self.ids(database) == Set((0...10).filter { $0 != 5 }.map { "p\($0)" }))
            let after = writer.statistics
            #expect(after.commits - before.commits == 1)
            #expect(after.writes - before.writes == 11)
        }
    }

    @Test("transactions started together share COMMITs: those arriving while the writer runs statements join its group")
    func simultaneousTransactionsGroup() async throws {
        try await TestDatabases.with(.sqlite) { database in
            try await Self.prepare(database)
            let writer = try #require(database.sqliteWriter)
            let before = writer.statistics
            // Statements run on the connection's thread without suspending; a writer whose task
            // was queued behind them must still get to join before the group commits.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 1...200 {
                    group.addTask { try await database.transaction { tx in try await Self.insert("s\(index)", in: tx) } }
                }
                try await group.waitForAll()
            }
            let after = writer.statistics
            #expect(after.writes - before.writes == 200)
            #expect(after.commits - before.commits <= 100, "200 writes took \(after.commits - before.commits) COMMITs")
            #expect(try await Self.ids(database).count == 200)
        }
    }

    @Test("when SQLite rolls the shared transaction back, every write in it fails and none is left behind")
    func rolledBackGroupFailsEveryWrite() async throws {
        try await TestDatabases.with(.sqlite) { database in
            try await Self.prepare(database)
            let holder = try await Holder(database, inserting: "a")
            let joined = try await Self.queue(database) { tx in try await Self.insert("b", in: tx) }
            let vetoed = try await Self.queue(database) { tx in try await Self.insert("c", email: "veto@example.com", in: tx) }
            let after = try await Self.queue(database) { tx in try await Self.insert("d", in: tx) }
            let holderError = await #expect(throws: DatabaseError.self) { try await holder.release() }
            #expect(holderError?.message.contains("rolled back by SQLite") == true)
            let joinedError = await #expect(throws: DatabaseError.self) { try await joined.value }
            #expect(joinedError?.message.contains("rolled back by SQLite") == true)
            await #expect(throws: (any Error).self) { try await vetoed.value }
            // The next writer starts a transaction of its own on the cleaned-up connection.
            try await after.value
            #expect(try await Self.ids(database) == ["d"])
        }
    }

    @Test("a failed COMMIT fails every write of the group, none of which was acknowledged")
    func failedCommitFailsTheGroup() async throws {
        try await TestDatabases.with(.sqlite) { database in
            try await Self.prepare(database)
            let holder = try await Holder(database, inserting: "a")
            let orphan = try await Self.queue(database) { tx in
                try await tx.sql.raw("INSERT INTO kids (id, parent_id) VALUES ('k1', 'nobody')").run()
            }
            let last = try await Self.queue(database) { tx in try await Self.insert("b", in: tx) }
            await #expect(throws: (any Error).self) { try await holder.release() }
            for task in [orphan, last] {
                await #expect(throws: (any Error).self) { try await task.value }
            }
            #expect(try await Self.ids(database).isEmpty)
            #expect(try await Self.ids(database, "kids").isEmpty)
            try await database.transaction { tx in try await Self.insert("c", in: tx) }
            #expect(try await Self.ids(database) == ["c"])
        }
    }

    @Test("the writer that commits for the group does so even when its own task is cancelled")
    func cancelledCommitterStillCommits() async throws {
        try await TestDatabases.with(.sqlite) { database in
            try await Self.prepare(database)
            let writer = try #require(database.sqliteWriter)
            let holder = try await Holder(database, inserting: "a")
            let started = AtomicFlag()
            let slow = try await Self.queue(database) { tx in
                try await Self.insert("b", in: tx)
                started.set()
                try await Task.sleep(for: .seconds(30))
            }
            let holderDone = Task { try await holder.release() }
            try await Self.waitUntil("the slow writer runs") { started.isSet && writer.waitingCount == 0 }
            // The slow writer is the last of the group: it rolls back its own insert and commits the
            // holder's, although every statement of its cancelled task would otherwise be skipped.
            slow.cancel()
            await #expect(throws: CancellationError.self) { try await slow.value }
            try await holderDone.value
            #expect(try await Self.ids(database) == ["a"])
        }
    }
}

import FlowKit
import FlowTestSupport
import Foundation
import NIOCore
import SQLKit
import Synchronization
import Testing

@Suite("Database on both engines")
struct DatabaseTests {
    static func prepare(_ database: Database) async throws {
        try await database.transaction { tx in
            let timestamp = tx.engine == .postgres ? "TIMESTAMPTZ" : "REAL"
            try await tx.sql.raw("CREATE TABLE parents (id TEXT PRIMARY KEY, email TEXT NOT NULL)").run()
            try await tx.sql.raw("CREATE UNIQUE INDEX parents_email_key ON parents (email)").run()
            try await tx.sql.raw("""
                CREATE TABLE children (id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parents (id), born_at \(unsafeRaw: timestamp))
                """).run()
        }
    }

    static func count(_ database: Database, _ table: String) async throws -> Int {
        try await database.read { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()!.decode(column: "n", as: Int.self)
        }
    }

    @Test("a committed transaction is visible to reads", arguments: TestEngine.allCases)
    func commitIsVisible(engine: TestEngine) async throws {
        try await TestDatabases.with(engine) { database in
            try await Self.prepare(database)
            try await database.transaction { tx in
                try await tx.sql.raw("INSERT INTO parents (id, email) VALUES (\(bind: "p1"), \(bind: "a@example.com"))").run()
            }
            #expect(try await Self.count(database, "parents") == 1)
        }
    }

    @Test("a throwing transaction leaves nothing behind", arguments: TestEngine.allCases)
    func rollbackOnThrow(engine: TestEngine) async throws {
        struct Abort: Error {}
        try await TestDatabases.with(engine) { database in
            try await Self.prepare(database)
            await #expect(throws: Abort.self) {
                try await database.transaction { tx in
                    try await tx.sql.raw("INSERT INTO parents (id, email) VALUES (\(bind: "p1"), \(bind: "a@example.com"))").run()
                    try await tx.sql.raw("INSERT INTO children (id, parent_id) VALUES (\(bind: "c1"), \(bind: "p1"))").run()
                    throw Abort()
                }
            }
            #expect(try await Self.count(database, "parents") == 0)
            #expect(try await Self.count(database, "children") == 0)
        }
    }

    @Test("unique, foreign-key and not-null violations arrive typed", arguments: TestEngine.allCases)
    func typedConstraintErrors(engine: TestEngine) async throws {
        try await TestDatabases.with(engine) { database in
            try await Self.prepare(database)
            try await database.transaction { tx in
                try await tx.sql.raw("INSERT INTO parents (id, email) VALUES (\(bind: "p1"), \(bind: "a@example.com"))").run()
            }

            let duplicate = await #expect(throws: DatabaseError.self) {
                try await database.transaction { tx in
                    try await tx.sql.raw("INSERT INTO parents (id, email) VALUES (\(bind: "p2"), \(bind: "a@example.com"))").run()
                }
            }
            #expect(duplicate?.kind == .uniqueViolation)
            #expect(duplicate?.isUniqueViolation(index: "parents_email_key", table: "parents", columns: ["email"]) == true)

            let orphan = await #expect(throws: DatabaseError.self) {
                try await database.transaction { tx in
                    try await tx.sql.raw("INSERT INTO children (id, parent_id) VALUES (\(bind: "c1"), \(bind: "missing"))").run()
                }
            }
            #expect(orphan?.kind == .foreignKeyViolation)

            let missing = await #expect(throws: DatabaseError.self) {
                try await database.transaction { tx in
                    try await tx.sql.raw("INSERT INTO parents (id) VALUES (\(bind: "p3"))").run()
                }
            }
            #expect(missing?.kind == .notNullViolation)
            // The failed transactions left the first row alone and added nothing.
            #expect(try await Self.count(database, "parents") == 1)
        }
    }

    @Test("dates round-trip through both engines", arguments: TestEngine.allCases)
    func datesRoundTrip(engine: TestEngine) async throws {
        try await TestDatabases.with(engine) { database in
            try await Self.prepare(database)
            let born = Date(timeIntervalSince1970: 1_790_000_000.123)
            try await database.transaction { tx in
                try await tx.sql.raw("INSERT INTO parents (id, email) VALUES ('p1', 'a@example.com')").run()
                try await tx.sql.raw("INSERT INTO children (id, parent_id, born_at) VALUES ('c1', 'p1', \(bind: born))").run()
            }
            let read = try await database.read { sql in
                try await sql.raw("SELECT born_at FROM children WHERE born_at > \(bind: born.addingTimeInterval(-1))").first()!.decode(column: "born_at", as: Date.self)
            }
            #expect(abs(read.timeIntervalSince(born)) < 0.001)
        }
    }

    @Test("concurrent transactions all commit and release their connections", arguments: TestEngine.allCases)
    func concurrentTransactions(engine: TestEngine) async throws {
        // 120 leases queue for 3 connections: on a loaded machine the last waits longer than the
        // production 5 s deadline, which is not what this test is about.
        try await TestDatabases.with(engine, poolSize: 3, acquireTimeout: .seconds(60)) { database in
            try await Self.prepare(database)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<60 {
                    group.addTask {
                        try await database.transaction { tx in
                            try await tx.sql.raw("INSERT INTO parents (id, email) VALUES (\(bind: "p\(index)"), \(bind: "u\(index)@example.com"))").run()
                        }
                        _ = try await Self.count(database, "parents")
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await Self.count(database, "parents") == 60)
            #expect(database.connectionsInUse == 0)
        }
    }

    @Test("a transaction opened inside another fails instead of deadlocking", arguments: TestEngine.allCases)
    func nestedTransactionRefused(engine: TestEngine) async throws {
        try await TestDatabases.with(engine) { database in
            try await Self.prepare(database)
            let error = await #expect(throws: DatabaseError.self) {
                try await database.transaction { tx in
                    try await tx.sql.raw("INSERT INTO parents (id, email) VALUES ('p1', 'a@example.com')").run()
                    try await database.transaction { _ in }
                }
            }
            #expect(error?.message.contains("inside another") == true)
            #expect(try await Self.count(database, "parents") == 0)
        }
    }

    @Test("SQLite runs in WAL mode with foreign keys on")
    func sqlitePragmas() async throws {
        try await TestDatabases.with(.sqlite) { database in
            let mode = try await database.read { sql in
                try await sql.raw("PRAGMA journal_mode").first()!.decode(column: "journal_mode", as: String.self)
            }
            #expect(mode == "wal")
            let foreignKeys = try await database.transaction { tx in
                try await tx.sql.raw("PRAGMA foreign_keys").first()!.decode(column: "foreign_keys", as: Int.self)
            }
            #expect(foreignKeys == 1)
        }
    }

    @Test("SQLite copies the WAL into the database file in the background, not inside the writer's commits")
    func sqliteCheckpointsInTheBackground() async throws {
        try await TestDatabases.with(.sqlite) { database in
            guard case .sqlite(let path) = database.location else { Issue.record("not SQLite"); return }
            func fileSize() throws -> Int { (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
            try await database.transaction { tx in
                try await tx.sql.raw("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)").run()
            }
            let before = try fileSize()
            // ~2.4 MB (about 600 pages): under the writer's own checkpoint threshold, so only the
            // background checkpointer moves these pages into the file (without it the test fails).
            for _ in 0..<3 {
                try await database.transaction { tx in
                    try await tx.sql.raw("""
                        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
                        INSERT INTO blobs (data) SELECT randomblob(4000) FROM n
                        """).run()
                }
            }
            // The writer only checkpoints as a backstop, far above these 600 pages.
            let writerThreshold = try await database.transaction { tx in
                try await tx.sql.raw("PRAGMA wal_autocheckpoint").first()!.decode(column: "wal_autocheckpoint", as: Int.self)
            }
            #expect(writerThreshold >= 10_000)
            let deadline = ContinuousClock.now + .seconds(5)
            while try fileSize() < before + 2_400_000, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try fileSize() >= before + 2_400_000, "no background checkpoint within 5 s")
            let rows = try await database.read { sql in try await sql.raw("SELECT COUNT(*) AS n FROM blobs").first()!.decode(column: "n", as: Int.self) }
            #expect(rows == 600)
        }
    }

    @Test("SQLite read connections refuse writes")
    func sqliteReadersAreReadOnly() async throws {
        try await TestDatabases.with(.sqlite) { database in
            try await Self.prepare(database)
            await #expect(throws: (any Error).self) {
                try await database.read { sql in
                    try await sql.raw("INSERT INTO parents (id, email) VALUES ('x', 'x@example.com')").run()
                }
            }
        }
    }

    @Test("a closed database answers unavailable, not a crash")
    func closedDatabaseIsUnavailable() async throws {
        try await TestDatabases.with(.sqlite) { database in
            await database.close()
            let error = await #expect(throws: DatabaseError.self) {
                try await database.ping(timeout: .seconds(1))
            }
            #expect(error?.kind == .unavailable)
        }
    }

    @Test("a connection cut under a prepared statement is unavailable (postgres-nio passes the socket error through)")
    func socketFailuresAreUnavailable() throws {
        let reset = DatabaseError.translate(IOError(errnoCode: ECONNRESET, reason: "read(descriptor:pointer:size:)"))
        #expect((reset as? DatabaseError)?.kind == .unavailable)
        let closed = DatabaseError.translate(ChannelError.ioOnClosedChannel)
        #expect((closed as? DatabaseError)?.kind == .unavailable)
        // A service's own error thrown inside a transaction is not the database's and passes through.
        let own = DatabaseError.translate(CocoaError(.fileNoSuchFile))
        #expect(!(own is DatabaseError))
    }

    @Test("PostgreSQL through its Unix socket: the pool's queries and the notification listener")
    func unixSocketConnections() async throws {
        let server = try await PostgresTestServer.shared.requireAvailable()
        guard server.socketDirectory != nil else {
            try Test.cancel("the test server was given by URL; its socket folder is unknown")
        }
        let name = try await server.createDatabase()
        do {
            let location = try DatabaseLocation(url: try #require(server.socketURL(database: name)))
            let database = try await Database.open(location, logger: TestDatabases.logger)
            try await database.withRunning {
                // inet_server_addr() is NULL exactly when the session came through a Unix socket.
                let session = try await database.read { sql in
                    try await sql.raw("SELECT inet_server_addr()::text AS address, current_database() AS name").first()
                }
                #expect(try session?.decodeNil(column: "address") == true)
                #expect(try session?.decode(column: "name", as: String.self) == name)

                let stream = database.notifications("flow_socket_channel")
                try await withDeadline(.seconds(20), failure: DatabaseError(.other, message: "no notification through the socket")) {
                    var iterator = stream.makeAsyncIterator()
                    #expect(await iterator.next() == .listening)
                    try await database.transaction { tx in try await database.notify("flow_socket_channel", payload: "hello", in: tx) }
                    #expect(await iterator.next() == .posted("hello"))
                }
            }
            await server.dropDatabase(name)
        } catch {
            await server.dropDatabase(name)
            throw error
        }
    }

    @Test("a PostgreSQL notification stream says when its listener starts listening, again after losing its connection")
    func notificationsSayWhenListening() async throws {
        try await TestDatabases.with(.postgres) { database in
            final class Received: Sendable {
                let all = Mutex<[DatabaseNotification]>([])
            }
            let received = Received()
            let stream = database.notifications("flow_test_channel")
            let reader = Task { for await notification in stream { received.all.withLock { $0.append(notification) } } }
            defer { reader.cancel() }
            func receive(_ expected: [DatabaseNotification]) async throws {
                try await withDeadline(.seconds(20), failure: DatabaseError(.other, message: "received \(received.all.withLock { $0 })")) {
                    while received.all.withLock({ $0 }) != expected { try await Task.sleep(for: .milliseconds(10)) }
                }
            }
            func post(_ payload: String) async throws {
                try await database.transaction { tx in try await database.notify("flow_test_channel", payload: payload, in: tx) }
            }

            // A post before LISTEN took effect may be lost; `.listening` says from when none is.
            try await receive([.listening])
            try await post("a")
            try await receive([.listening, .posted("a")])
            let cut = try await database.read { sql in
                try await sql.raw("""
                    SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity
                    WHERE query LIKE 'LISTEN%' AND datname = current_database() AND pid <> pg_backend_pid()
                    """).all()
            }
            #expect(cut.count == 1)
            try await receive([.listening, .posted("a"), .listening])
            try await post("b")
            try await receive([.listening, .posted("a"), .listening, .posted("b")])
        }
    }
}

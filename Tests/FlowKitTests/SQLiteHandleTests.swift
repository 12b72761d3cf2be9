@testable import FlowKit
import Foundation
import NIOPosix
import SQLiteNIO
import Testing

/// Flow's own SQLite connection (`SQLiteHandle`): statements stay prepared and are reset after
/// every run, whatever happens in it; values go in and come out exactly.
@Suite("SQLite connections")
struct SQLiteHandleTests {
    /// Runs `body` with a connection to a new database file, then closes and removes both.
    static func withHandle(_ body: (SQLiteHandle) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flow-sqlite-handle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        let handle = try await SQLiteHandle.open(path: folder.appendingPathComponent("test.sqlite").path, thread: thread, logger: .init(label: "test"))
        do {
            try await body(handle)
        } catch {
            await handle.close()
            try await thread.shutdownGracefully()
            try? FileManager.default.removeItem(at: folder)
            throw error
        }
        await handle.close()
        try await thread.shutdownGracefully()
        try? FileManager.default.removeItem(at: folder)
    }

    static func rows(_ handle: SQLiteHandle, _ sql: String, _ binds: [SQLiteData] = []) async throws -> [[SQLiteData]] {
        let collected = Collected()
        try await handle.query(sql, binds) { collected.rows.append($0.values) }
        return collected.rows
    }

    final class Collected: @unchecked Sendable { var rows: [[SQLiteData]] = [] }

    @Test("a statement run again is not prepared again; beyond the cache's capacity the least recently used goes")
    func keepsStatementsPrepared() async throws {
        try await Self.withHandle { handle in
            try await handle.query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
            for index in 1...5 {
                try await handle.query("INSERT INTO items (id, name) VALUES (?1, ?2)", [.integer(index), .text("item \(index)")])
            }
            #expect(handle.statementStatistics == (prepared: 2, kept: 2, reprepared: 0))
            #expect(try await Self.rows(handle, "SELECT count(*) FROM items") == [[.integer(5)]])

            let capacity = SQLiteHandle.statementCacheCapacity
            for index in 0..<capacity {
                _ = try await Self.rows(handle, "SELECT \(index)")
            }
            #expect(handle.statementStatistics.kept == capacity)
            let prepared = handle.statementStatistics.prepared
            // The INSERT and the first SELECTs were evicted; the newest is still kept.
            _ = try await Self.rows(handle, "SELECT \(capacity - 1)")
            #expect(handle.statementStatistics.prepared == prepared)
            try await handle.query("INSERT INTO items (id, name) VALUES (?1, ?2)", [.integer(6), .text("item 6")])
            #expect(handle.statementStatistics == (prepared: prepared + 1, kept: capacity, reprepared: 0))
        }
    }

    @Test("a statement whose plan SQLite could tie to its values (a partial index) runs with new values without being prepared again")
    func newValuesKeepThePlan() async throws {
        try await Self.withHandle { handle in
            // The bus claim's shape: sqlite3_clear_bindings between runs made SQLite prepare it
            // again every time.
            try await handle.query("CREATE TABLE jobs (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, job_key TEXT, owner TEXT, due REAL NOT NULL)")
            try await handle.query("CREATE INDEX jobs_queue_idx ON jobs (queue, id)")
            try await handle.query("CREATE INDEX jobs_key_idx ON jobs (queue, job_key, id) WHERE job_key IS NOT NULL")
            try await handle.query("INSERT INTO jobs (queue, job_key, due) VALUES ('q', 'k', 0), ('q', NULL, 0)")
            for run in 1...5 {
                try await handle.query("""
                    UPDATE jobs SET owner = ?1 WHERE id IN (
                        SELECT c.id FROM jobs c WHERE c.queue = ?2 AND c.due <= ?3
                          AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.queue = c.queue AND e.job_key = c.job_key AND e.id < c.id)
                        ORDER BY c.id LIMIT 8)
                    RETURNING id
                    """, [.text("worker \(run)"), .text("q"), .float(Double(run))])
            }
            #expect(handle.statementStatistics.reprepared == 0)
            // A parameter left without a value is NULL, as in a newly prepared statement.
            #expect(try await Self.rows(handle, "SELECT ?1 IS NULL, ?2 IS NULL", [.integer(1)]) == [[.integer(0), .integer(1)]])
        }
    }

    @Test("a statement that fails, or whose reader stops early, is reset and runs again from the start")
    func failedStatementsAreReset() async throws {
        try await Self.withHandle { handle in
            try await handle.query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
            let insert = "INSERT INTO items (id, name) VALUES (?1, ?2)"
            try await handle.query(insert, [.integer(1), .text("one")])
            let failure = await #expect(throws: SQLiteFailure.self) {
                try await handle.query(insert, [.integer(2), .text("one")])
            }
            #expect(failure?.code == SQLiteFailure.constraintUnique)
            let sqliteFailure = try #require(failure)
            let translated = try #require(DatabaseError.translate(sqliteFailure) as? DatabaseError)
            #expect(translated.kind == .uniqueViolation && translated.constraint == "items.name")
            try await handle.query(insert, [.integer(2), .text("two")])

            struct Enough: Error {}
            let select = "SELECT id FROM items ORDER BY id"
            await #expect(throws: Enough.self) {
                try await handle.query(select) { _ in throw Enough() }
            }
            #expect(try await Self.rows(handle, select) == [[.integer(1)], [.integer(2)]])
            // Left mid-way, the SELECT would keep its read transaction open and this would fail.
            try await handle.query("PRAGMA journal_mode = WAL")
            try await handle.query("BEGIN IMMEDIATE")
            try await handle.query("COMMIT")
        }
    }

    @Test("text, blobs, numbers and NULL round-trip, empty text and blobs included (not NULL)")
    func valuesRoundTrip() async throws {
        try await Self.withHandle { handle in
            var blob = ByteBuffer()
            blob.writeBytes([0, 1, 2, 255])
            let values: [SQLiteData] = [.text(""), .blob(ByteBuffer()), .text("naïve ✓ \u{0} end"), .blob(blob),
                                        .integer(Int.min), .float(-0.25), .null]
            let rows = try await Self.rows(handle, "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, typeof(?1), typeof(?2)", values)
            #expect(rows == [values + [.text("text"), .text("blob")]])
        }
    }

    @Test("a closed connection refuses statements with an error instead of crashing")
    func closedConnectionRefuses() async throws {
        try await Self.withHandle { handle in
            await handle.close()
            #expect(handle.isClosed)
            await #expect(throws: SQLiteFailure.self) { try await handle.query("SELECT 1") }
        }
    }
}

import FlowKit
import FlowTestSupport
import Foundation
import SQLKit
import Testing

@Suite("Migrations on both engines")
struct MigrationTests {
    static let first = Migration(1, "create_notes", sql: ["CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)"])
    static let second = Migration(2, "add_notes_index", sql: ["CREATE INDEX notes_body_idx ON notes (body)"])
    static let broken = Migration(3, "broken", sql: [
        "CREATE TABLE half_done (id TEXT PRIMARY KEY)",
        "THIS IS NOT SQL",
    ])

    static func migrator(_ database: Database, _ migrations: [Migration], domain: String = "notes") -> Migrator {
        Migrator(database: database, sets: [MigrationSet(domain: domain, migrations)], logger: TestDatabases.logger)
    }

    static func tableExists(_ database: Database, _ name: String) async throws -> Bool {
        do {
            _ = try await database.read { sql in try await sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: name)").all() }
            return true
        } catch {
            return false
        }
    }

    @Test("applies pending migrations in order, once", arguments: TestEngine.allCases)
    func appliesInOrder(engine: TestEngine) async throws {
        try await TestDatabases.with(engine) { database in
            let migrator = Self.migrator(database, [Self.first, Self.second])
            let before = try await migrator.status()
            #expect(before.map(\.state) == [.pending, .pending])

            let applied = try await migrator.migrate()
            #expect(applied.map(\.label) == ["notes/0001_create_notes", "notes/0002_add_notes_index"])
            #expect(try await Self.tableExists(database, "notes"))
            try await migrator.verifyCurrent()

            let again = try await migrator.migrate()
            #expect(again.isEmpty)
            let after = try await migrator.status()
            #expect(after.allSatisfy { if case .applied = $0.state { true } else { false } })
        }
    }

    @Test("a failing migration leaves neither changes nor a record", arguments: TestEngine.allCases)
    func failingMigrationRollsBack(engine: TestEngine) async throws {
        try await TestDatabases.with(engine) { database in
            let migrator = Self.migrator(database, [Self.first, Self.second, Self.broken])
            let error = await #expect(throws: SchemaError.self) { try await migrator.migrate() }
            #expect(error?.description.contains("notes/0003_broken failed") == true)
            #expect(try await Self.tableExists(database, "notes"))
            #expect(try await !Self.tableExists(database, "half_done"))
            let states = try await migrator.status().map(\.state)
            #expect(states.last == .pending)
        }
    }

    @Test("an applied migration whose SQL changed is refused", arguments: TestEngine.allCases)
    func changedMigrationRefused(engine: TestEngine) async throws {
        try await TestDatabases.with(engine) { database in
            try await Self.migrator(database, [Self.first]).migrate()
            let edited = Migration(1, "create_notes", sql: ["CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)"])
            let migrator = Self.migrator(database, [edited, Self.second])
            let status = try await migrator.status()
            guard case .changed = status[0].state else {
                Issue.record("expected .changed, got \(status[0].state)")
                return
            }
            let error = await #expect(throws: SchemaError.self) { try await migrator.migrate() }
            #expect(error?.description.contains("was changed after it was applied") == true)
            // Nothing else was applied because of the refusal.
            #expect(try await migrator.status()[1].state == .pending)
            await #expect(throws: SchemaError.self) { try await migrator.verifyCurrent() }
        }
    }

    @Test("migrations recorded by a newer release are refused", arguments: TestEngine.allCases)
    func unknownMigrationRefused(engine: TestEngine) async throws {
        try await TestDatabases.with(engine) { database in
            try await Self.migrator(database, [Self.first, Self.second]).migrate()
            let older = Self.migrator(database, [Self.first])
            #expect(try await older.status().last?.state == .unknown)
            let error = await #expect(throws: SchemaError.self) { try await older.verifyCurrent() }
            #expect(error?.description.contains("unknown to this binary") == true)
        }
    }

    @Test("pending migrations make the schema not current", arguments: TestEngine.allCases)
    func pendingIsNotCurrent(engine: TestEngine) async throws {
        try await TestDatabases.with(engine) { database in
            try await Self.migrator(database, [Self.first]).migrate()
            let error = await #expect(throws: SchemaError.self) {
                try await Self.migrator(database, [Self.first, Self.second]).verifyCurrent()
            }
            #expect(error?.description.contains("1 migration(s) pending: notes/0002_add_notes_index") == true)
        }
    }

    @Test("versions must run 1, 2, 3 without gaps")
    func versionGapsRefused() async throws {
        try await TestDatabases.with(.sqlite) { database in
            let gap = Migration(3, "skips_two", sql: ["CREATE TABLE x (id TEXT)"])
            let error = await #expect(throws: SchemaError.self) {
                try await Self.migrator(database, [Self.first, gap]).migrate()
            }
            #expect(error?.description.contains("without gaps") == true)
        }
    }

    @Test("instances migrating at once apply each migration exactly once", arguments: TestEngine.allCases)
    func concurrentMigrators(engine: TestEngine) async throws {
        try await TestDatabases.with(engine) { database in
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await Self.migrator(database, [Self.first, Self.second]).migrate().count }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(results.reduce(0, +) == 2)
            let recorded = try await database.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM flow_schema_migrations").first()!.decode(column: "n", as: Int.self)
            }
            #expect(recorded == 2)
        }
    }

    @Test("each engine runs its own statements and records their checksum")
    func engineSpecificStatements() async throws {
        let migration = Migration(1, "search", sqlite: ["CREATE VIRTUAL TABLE notes_fts USING fts5(body)"],
                                  postgres: ["CREATE TABLE notes_fts (body TSVECTOR)"])
        #expect(migration.checksum(for: .sqlite) != migration.checksum(for: .postgres))
        try await TestDatabases.with(.sqlite) { database in
            try await Self.migrator(database, [migration], domain: "search").migrate()
            #expect(try await Self.tableExists(database, "notes_fts"))
        }
    }
}

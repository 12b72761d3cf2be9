@testable import FlowKit
import FlowTestSupport
import Foundation
import PostgresNIO
import SQLKit
import Testing

/// Statements PostgreSQL sees again on a connection run as named prepared statements
/// (``PostgresStatementCache``); they must answer exactly as the unnamed ones did.
@Suite("PostgreSQL prepared statements")
struct PostgresStatementCacheTests {
    /// The statements prepared on the connection this runs on, as PostgreSQL lists them.
    static func preparedOnServer(_ sql: any SQLDatabase) async throws -> [String] {
        try await sql.raw("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql").all()
            .map { try $0.decode(column: "statement", as: String.self) }
    }

    @Test("a statement seen again is prepared once, and every kind of column and bind reads as from the unnamed one")
    func preparedAnswersAsUnnamed() async throws {
        try await TestDatabases.with(.postgres, poolSize: 1) { database in
            let statements = try #require(database.postgresStatements)
            let at = Date(timeIntervalSince1970: 1_790_000_000.5)
            let none: String? = nil
            @Sendable func select(_ sql: any SQLDatabase, _ number: Int) async throws -> any SQLRow {
                // A bare `$n` (no cast in the text) would be inferred as text when prepared; the
                // bind's own type must win, as it does unnamed.
                try #require(try await sql.raw("""
                    SELECT \(bind: number) AS number, \(bind: number) + 1 AS next, \(bind: "text") AS text, \(bind: 1.5) AS float8,
                           \(bind: at) AS at, \(bind: true) AS yes, \(bind: none)::text IS NULL AS none_is_null,
                           2.25::numeric AS numeric, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uuid, NULL::text AS nothing,
                           '{"name": "x", "count": 3}'::jsonb AS payload, ARRAY['a', 'b'] AS list, 42::int4 AS int4, 7::int2 AS int2,
                           (SELECT sum(v) FROM (VALUES (9000000000::int8), (1::int8)) AS t(v)) AS total
                    """).first())
            }
            try await database.read { sql in
                for number in 1...3 {
                    let row = try await select(sql, number)
                    #expect(try row.decode(column: "number", as: Int.self) == number)
                    #expect(try row.decode(column: "next", as: Int.self) == number + 1)
                    #expect(try row.decode(column: "text", as: String.self) == "text")
                    #expect(try row.decode(column: "float8", as: Double.self) == 1.5)
                    #expect(try row.decode(column: "at", as: Date.self) == at)
                    #expect(try row.decode(column: "yes", as: Bool.self))
                    #expect(try row.decode(column: "none_is_null", as: Bool.self))
                    #expect(try row.decode(column: "numeric", as: Double.self) == 2.25)
                    #expect(try row.decode(column: "uuid", as: UUID.self) == UUID(uuidString: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))
                    #expect(try row.decode(column: "nothing", as: String?.self) == nil)
                    #expect(try row.decodeNil(column: "nothing"))
                    #expect(try row.decode(column: "payload", as: RowTestPayload.self) == RowTestPayload(name: "x", count: 3))
                    #expect(try row.decode(column: "list", as: [String].self) == ["a", "b"])
                    #expect(try row.decode(column: "int4", as: Int.self) == 42)
                    #expect(try row.decode(column: "int2", as: Int.self) == 7)
                    // sum() of integers is numeric: a Double on both routes, never an Int (as in PostgresKit).
                    #expect(try row.decode(column: "total", as: Double.self) == 9_000_000_001)
                    #expect(throws: (any Error).self) { try row.decode(column: "total", as: Int.self) }
                    #expect(throws: (any Error).self) { try row.decode(column: "text", as: Int.self) }
                    #expect(throws: (any Error).self) { try row.decode(column: "nothing", as: String.self) }
                    #expect(throws: (any Error).self) { try row.decode(column: "no_such_column", as: String.self) }
                    let prepared = try await Self.preparedOnServer(sql).filter { $0.contains("AS number") }
                    // First run unnamed; from the second on, one prepared statement, reused.
                    #expect(prepared.count == (number == 1 ? 0 : 1), "run \(number): \(prepared)")
                    if number > 1 { #expect(prepared.first?.contains("::int8)") == true) }
                }
            }
            #expect(try await database.read { sql in statements.preparedCount(on: try #require((sql as? PostgresSQLDatabase)?.connection)) } == 1)
        }
    }

    @Test("a bind compared with a narrower column keeps its own type when prepared")
    func bindTypesSurvivePreparation() async throws {
        try await TestDatabases.with(.postgres, poolSize: 1) { database in
            try await database.read { sql in
                try await sql.raw("CREATE TABLE seats (id int4 PRIMARY KEY, capacity int4 NOT NULL)").run()
                try await sql.raw("INSERT INTO seats VALUES (1, 10), (2, 20)").run()
                for _ in 1...3 {
                    // Inferred from the text, `$1` would be int4, and the 8-byte Int would not fit it.
                    let rows = try await sql.raw("SELECT id FROM seats WHERE capacity = \(bind: 20)").all()
                    #expect(try rows.map { try $0.decode(column: "id", as: Int.self) } == [2])
                }
            }
        }
    }

    @Test("a prepared statement's errors are translated as the unnamed one's: a duplicate names its constraint")
    func preparedErrorsAreTranslated() async throws {
        try await TestDatabases.with(.postgres, poolSize: 1) { database in
            try await database.read { sql in try await sql.raw("CREATE TABLE handles (name text CONSTRAINT handles_name_key UNIQUE)").run() }
            for name in ["a", "b", "c"] {
                try await database.read { sql in try await sql.raw("INSERT INTO handles VALUES (\(bind: name))").run() }
            }
            let duplicate = await #expect(throws: DatabaseError.self) {
                try await database.transaction { tx in try await tx.sql.raw("INSERT INTO handles VALUES (\(bind: "b"))").run() }
            }
            #expect(duplicate?.kind == .uniqueViolation && duplicate?.constraint == "handles_name_key", "\(String(describing: duplicate))")
            #expect(try await database.read { sql in try await Self.preparedOnServer(sql).contains { $0.contains("INSERT INTO handles") } })
        }
    }

    @Test("each connection keeps at most its capacity, forgetting the least recently used")
    func capacityBoundsPreparedStatements() async throws {
        try await TestDatabases.with(.postgres, poolSize: 1, statementCacheSize: 3) { database in
            try await database.read { sql in
                func run(_ name: String, _ value: Int) async throws {
                    let row = try #require(try await sql.raw("SELECT \(bind: value) AS \(unsafeRaw: name)").first())
                    #expect(try row.decode(column: name, as: Int.self) == value)
                }
                func prepared() async throws -> [String] {
                    try await Self.preparedOnServer(sql).compactMap { text in ["a", "b", "c", "d"].first { text.hasSuffix("AS \($0)") } }.sorted()
                }
                for name in ["a", "b", "c"] { try await run(name, 1); try await run(name, 2) }
                #expect(try await prepared() == ["a", "b", "c"])
                try await run("b", 3)
                try await run("c", 3)
                // A fourth text takes the place of the least recently used, which is closed on the server.
                try await run("d", 1)
                try await run("d", 2)
                #expect(try await prepared() == ["b", "c", "d"])
                try await run("a", 3)
                #expect(try await prepared() == ["c", "d"])
            }
        }
    }

    @Test("a statement whose result columns changed under it runs again and is prepared anew")
    func schemaChangeIsRecovered() async throws {
        try await TestDatabases.with(.postgres, poolSize: 1) { database in
            try await database.read { sql in
                try await sql.raw("CREATE TABLE notes (id int8 PRIMARY KEY, body text NOT NULL)").run()
                try await sql.raw("INSERT INTO notes VALUES (1, 'one')").run()
                for _ in 1...3 { _ = try await sql.raw("SELECT * FROM notes WHERE id = \(bind: 1)").all() }
                #expect(try await Self.preparedOnServer(sql).contains { $0.contains("FROM notes") })
                // The prepared `SELECT *` now has another result type: PostgreSQL refuses it.
                try await sql.raw("ALTER TABLE notes ADD COLUMN pinned bool NOT NULL DEFAULT false").run()
                for _ in 1...3 {
                    let row = try #require(try await sql.raw("SELECT * FROM notes WHERE id = \(bind: 1)").first())
                    #expect(try row.decode(column: "pinned", as: Bool.self) == false)
                    #expect(try row.decode(column: "body", as: String.self) == "one")
                }
            }
            // Inside a transaction the refusal fails the statement (the transaction is aborted);
            // the next one prepares it again.
            try await database.read { sql in try await sql.raw("ALTER TABLE notes ADD COLUMN archived bool NOT NULL DEFAULT false").run() }
            await #expect(throws: DatabaseError.self) {
                try await database.transaction { tx in _ = try await tx.sql.raw("SELECT * FROM notes WHERE id = \(bind: 1)").all() }
            }
            let row = try await database.transaction { tx in try await tx.sql.raw("SELECT * FROM notes WHERE id = \(bind: 1)").first() }
            #expect(try row?.decode(column: "archived", as: Bool.self) == false)
        }
    }

    @Test("a statement cache of 0 prepares nothing")
    func disabled() async throws {
        try await TestDatabases.with(.postgres, poolSize: 1, statementCacheSize: 0) { database in
            #expect(database.postgresStatements == nil)
            try await database.read { sql in
                for number in 1...3 { _ = try await sql.raw("SELECT \(bind: number) AS number").all() }
                #expect(try await Self.preparedOnServer(sql).isEmpty)
            }
        }
    }

    @Test("placeholders get their bind's type; text the scan cannot read with certainty is left alone")
    func typedPlaceholders() {
        let types: [PostgresDataType?] = [.int8, .text]
        #expect(PostgresTypedPlaceholders.typed("SELECT $1, '$2', \"$2\", $2 -- $1\n", types: types)
            == "SELECT ($1::int8), '$2', \"$2\", ($2::text) -- $1\n")
        #expect(PostgresTypedPlaceholders.typed("SELECT 'it''s $1', $1 + $2", types: types) == "SELECT 'it''s $1', ($1::int8) + ($2::text)")
        #expect(PostgresTypedPlaceholders.typed("SELECT $1, NULL = $2", types: [.int8, nil]) == "SELECT ($1::int8), NULL = $2")
        // Out of range, unused, dollar quotes, block comments, identifiers with `$`, backslashes, unknown types.
        #expect(PostgresTypedPlaceholders.typed("SELECT $3", types: types) == nil)
        #expect(PostgresTypedPlaceholders.typed("SELECT $1", types: types) == nil)
        #expect(PostgresTypedPlaceholders.typed("SELECT $$ $1 $$, $1, $2", types: types) == nil)
        #expect(PostgresTypedPlaceholders.typed("SELECT /* $1 */ $1, $2", types: types) == nil)
        #expect(PostgresTypedPlaceholders.typed("SELECT a$1, $1, $2", types: types) == nil)
        #expect(PostgresTypedPlaceholders.typed("SELECT E'\\'$1', $1, $2", types: types) == nil)
        #expect(PostgresTypedPlaceholders.typed("SELECT 'open, $1, $2", types: types) == nil)
        #expect(PostgresTypedPlaceholders.typed("SELECT $1", types: [PostgresDataType(0x7fff_0000)]) == nil)
    }
}

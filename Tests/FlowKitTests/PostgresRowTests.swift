import FlowKit
import FlowTestSupport
import Foundation
import SQLKit
import Testing

/// A JSON document in a column, decoded through the drivers' Codable fallback (both engines' row tests).
struct RowTestPayload: Codable, Equatable, Sendable {
    let name: String
    let count: Int
}

/// PostgreSQL rows decode plain columns directly and hand everything else to PostgresKit
/// (`PostgresSQLDatabase`): both routes must give what PostgresKit alone gave.
@Suite("PostgreSQL rows and binds")
struct PostgresRowTests {
    @Test("plain columns decode directly; numeric, jsonb, NULL and missing columns behave as in PostgresKit")
    func decodesEveryKind() async throws {
        try await TestDatabases.with(.postgres) { database in
            let row = try #require(try await database.read { sql in
                try await sql.raw("""
                    SELECT 'text'::text AS text, 'var'::varchar(8) AS varchar, 42::int4 AS int4, 9000000000::int8 AS int8,
                           7::int2 AS int2, 1.5::float8 AS float8, 2.25::numeric AS numeric, true AS bool,
                           '2026-01-02T03:04:05.25Z'::timestamptz AS at, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS uuid,
                           NULL::text AS nothing, '{"name": "x", "count": 3}'::jsonb AS payload
                    """).first()
            })
            #expect(try row.decode(column: "text", as: String.self) == "text")
            #expect(try row.decode(column: "varchar", as: String.self) == "var")
            #expect(try row.decode(column: "int4", as: Int.self) == 42)
            #expect(try row.decode(column: "int8", as: Int64.self) == 9_000_000_000)
            #expect(try row.decode(column: "int2", as: Int.self) == 7)
            #expect(try row.decode(column: "float8", as: Double.self) == 1.5)
            #expect(try row.decode(column: "numeric", as: Double.self) == 2.25)
            #expect(try row.decode(column: "bool", as: Bool.self))
            #expect(try row.decode(column: "at", as: Date.self) == Date(timeIntervalSince1970: 1_767_323_045.25))
            #expect(try row.decode(column: "uuid", as: UUID.self) == UUID(uuidString: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))
            #expect(try row.decode(column: "uuid", as: String.self).lowercased() == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
            #expect(try row.decode(column: "int4", as: Int?.self) == 42)
            #expect(try row.decodeNil(column: "nothing"))
            #expect(try row.decodeOptional(column: "nothing", as: String.self) == nil)
            #expect(try row.decode(column: "nothing", as: String?.self) == nil)
            #expect(throws: (any Error).self) { try row.decode(column: "nothing", as: String.self) }
            #expect(throws: (any Error).self) { try row.decode(column: "text", as: Int.self) }
            #expect(throws: (any Error).self) { try row.decode(column: "no_such_column", as: String.self) }
            #expect(try row.decodeNil(column: "no_such_column"))
            #expect(try row.decode(column: "payload", as: RowTestPayload.self) == RowTestPayload(name: "x", count: 3))
            #expect(row.allColumns.count == 12 && row.contains(column: "payload") && !row.contains(column: "no_such_column"))
        }
    }

    @Test("nil, optional, plain and Codable binds arrive as PostgresKit sent them")
    func encodesBinds() async throws {
        try await TestDatabases.with(.postgres) { database in
            let none: String? = nil
            let some: String? = "some"
            let nested: Int?? = .some(nil)
            let at = Date(timeIntervalSince1970: 1_790_000_000.5)
            let row = try #require(try await database.read { sql in
                try await sql.raw("""
                    SELECT \(bind: none)::text IS NULL AS none_is_null, \(bind: some)::text AS some, \(bind: nested)::int8 IS NULL AS nested_is_null,
                           \(bind: 7)::int8 + 1 AS eight, \(bind: at)::timestamptz AS at, \(bind: true) AS yes,
                           (\(bind: RowTestPayload(name: "y", count: 5))::jsonb ->> 'count')::int AS count
                    """).first()
            })
            #expect(try row.decode(column: "none_is_null", as: Bool.self))
            #expect(try row.decode(column: "some", as: String.self) == "some")
            #expect(try row.decode(column: "nested_is_null", as: Bool.self))
            #expect(try row.decode(column: "eight", as: Int.self) == 8)
            #expect(try row.decode(column: "at", as: Date.self) == at)
            #expect(try row.decode(column: "yes", as: Bool.self))
            #expect(try row.decode(column: "count", as: Int.self) == 5)
        }
    }
}

import FlowKit
import FlowTestSupport
import Foundation
import SQLKit
import Testing

/// SQLite rows decode plain columns directly and hand everything else to SQLiteKit
/// (`SQLiteSQLDatabase`): both routes must give what SQLiteKit alone gave.
@Suite("SQLite rows")
struct SQLiteRowTests {
    @Test("plain columns decode directly; conversions, JSON, NULL and missing columns behave as in SQLiteKit")
    func decodesEveryKind() async throws {
        try await TestDatabases.with(.sqlite) { database in
            let at = Date(timeIntervalSince1970: 1_767_323_045.25)
            let row = try #require(try await database.read { sql in
                try await sql.raw("""
                    SELECT 'text' AS text, 42 AS integer, 9000000000 AS big, 1.5 AS real, 0 AS no, 1 AS yes, 2 AS two,
                           \(bind: at) AS at, 1767323045 AS whole_seconds, '2026-01-02T03:04:05Z' AS iso_text,
                           NULL AS empty, '{"name": "x", "count": 3}' AS payload, \(bind: "bound") AS bound
                    """).first()
            })
            #expect(try row.decode(column: "text", as: String.self) == "text")
            #expect(try row.decode(column: "integer", as: Int.self) == 42)
            #expect(try row.decode(column: "big", as: Int64.self) == 9_000_000_000)
            #expect(try row.decode(column: "integer", as: Int32.self) == 42)
            #expect(try row.decode(column: "real", as: Double.self) == 1.5)
            #expect(try row.decode(column: "integer", as: Double.self) == 42)
            #expect(try row.decode(column: "no", as: Bool.self) == false)
            #expect(try row.decode(column: "yes", as: Bool.self))
            #expect(try row.decode(column: "at", as: Date.self) == at)
            #expect(try row.decode(column: "whole_seconds", as: Date.self) == Date(timeIntervalSince1970: 1_767_323_045))
            #expect(try row.decode(column: "bound", as: String.self) == "bound")
            // SQLiteKit's own conversions, through the fallback.
            #expect(try row.decode(column: "integer", as: String.self) == "42")
            #expect(try row.decode(column: "iso_text", as: Date.self) == Date(timeIntervalSince1970: 1_767_323_045))
            #expect(try row.decode(column: "payload", as: RowTestPayload.self) == RowTestPayload(name: "x", count: 3))
            #expect(throws: (any Error).self) { try row.decode(column: "two", as: Bool.self) }
            #expect(throws: (any Error).self) { try row.decode(column: "real", as: Int.self) }
            #expect(throws: (any Error).self) { try row.decode(column: "text", as: Int.self) }
            // NULL and missing columns.
            #expect(try row.decodeNil(column: "empty"))
            #expect(try !row.decodeNil(column: "text"))
            #expect(try row.decodeOptional(column: "empty", as: String.self) == nil)
            #expect(try row.decode(column: "empty", as: String?.self) == nil)
            #expect(try row.decode(column: "integer", as: Int?.self) == 42)
            #expect(throws: (any Error).self) { try row.decode(column: "empty", as: String.self) }
            #expect(throws: (any Error).self) { try row.decode(column: "no_such_column", as: String.self) }
            #expect(try row.decodeNil(column: "no_such_column"))
            #expect(row.allColumns.count == 13 && row.contains(column: "payload") && !row.contains(column: "no_such_column"))
        }
    }
}

import Foundation
import Logging
import NIOCore
import SQLKit
import SQLiteKit
import SQLiteNIO

/// SQLKit over one SQLite connection, with rows that decode plain columns straight from their
/// values: the SQLite counterpart of ``PostgresSQLDatabase``.
///
/// SQLiteKit's rows ask the runtime, for every cell, whether the wanted type conforms to
/// `SQLiteDataConvertible`, then convert through that existential and cast back: on a nearby
/// search (21 rows of 28 columns) that was 8% of the machine's CPU. Here text, integers, doubles,
/// booleans and dates (stored as seconds) decode from the value directly, with SQLiteKit's
/// conversions; any other type, and any value they would not take, goes through SQLiteKit's
/// decoder, so results and errors are SQLiteKit's. Statements and binds are SQLiteKit's own.
struct SQLiteSQLDatabase: SQLDatabase {
    let connection: SQLiteConnection

    /// SQLiteKit's database over the same connection: the future-based `execute`, the version.
    private var sqliteKit: any SQLDatabase { connection.sql() }

    var logger: Logger { connection.logger }
    var eventLoop: any EventLoop { connection.eventLoop }
    var dialect: any SQLDialect { SQLiteDialect() }
    var version: (any SQLDatabaseReportedVersion)? { sqliteKit.version }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        sqliteKit.execute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let (sql, binds) = serialize(query)
        if let level = queryLogLevel { logger.log(level: level, "Executing query", metadata: ["sql": .string(sql)]) }
        let encoder = SQLiteDataEncoder()
        try await connection.query(sql, try binds.map { try encoder.encode($0) }) { row in onRow(SQLiteSQLRow(row)) }
    }
}

/// A result row; see ``SQLiteSQLDatabase``.
struct SQLiteSQLRow: SQLRow {
    let row: SQLiteRow

    init(_ row: SQLiteRow) { self.row = row }

    var allColumns: [String] { row.columns.map(\.name) }

    func contains(column: String) -> Bool { row.column(column) != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let value = row.column(column) else { return true }
        return value == .null
    }

    func decode<T: Decodable>(column: String, as type: T.Type) throws -> T {
        if let value = row.column(column), let decoded = Self.direct(value, as: type) { return decoded }
        return try row.sql().decode(column: column, as: type)
    }

    /// The value as SQLiteKit converts it, for the plain types and the storage classes they take
    /// without parsing; nil otherwise (SQLiteKit then converts or explains).
    private static func direct<T>(_ value: SQLiteData, as type: T.Type) -> T? {
        switch (type, value) {
        case (is String.Type, .text(let text)): return text as? T
        case (is Int.Type, .integer(let number)): return number as? T
        case (is Int64.Type, .integer(let number)): return Int64(number) as? T
        case (is Double.Type, .float(let number)): return number as? T
        case (is Double.Type, .integer(let number)): return Double(number) as? T
        case (is Bool.Type, .integer(0)): return false as? T
        case (is Bool.Type, .integer(1)): return true as? T
        case (is Date.Type, .float(let seconds)): return Date(timeIntervalSince1970: seconds) as? T
        case (is Date.Type, .integer(let seconds)): return Date(timeIntervalSince1970: Double(seconds)) as? T
        default: return nil
        }
    }
}

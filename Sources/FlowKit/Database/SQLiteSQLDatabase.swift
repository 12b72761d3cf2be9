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
/// decoder, so results and errors are SQLiteKit's. Binds are encoded by SQLiteKit; statements run on
/// ``SQLiteHandle``, which keeps them prepared.
struct SQLiteSQLDatabase: SQLDatabase {
    let connection: SQLiteHandle

    var logger: Logger { connection.logger }
    var eventLoop: any EventLoop { connection.eventLoop }
    var dialect: any SQLDialect { SQLiteDialect() }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        promise.completeWithTask { try await execute(sql: query, onRow) }
        return promise.futureResult
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
    let row: SQLiteResultRow

    init(_ row: SQLiteResultRow) { self.row = row }

    var allColumns: [String] { row.columns.names }

    func contains(column: String) -> Bool { row.value(of: column) != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let value = row.value(of: column) else { return true }
        return value == .null
    }

    func decode<T: Decodable>(column: String, as type: T.Type) throws -> T {
        guard let value = row.value(of: column) else {
            throw DecodingError.keyNotFound(SQLiteColumnKey(column), .init(codingPath: [], debugDescription: "no column \(column) in the result"))
        }
        // The plain types in the storage classes they take without parsing, as SQLiteKit
        // converts them; matched and handed back as `PostgresSQLRow` does (by type identity,
        // `unsafeBitCast` to the same type, no `T?`), since this runs unspecialized.
        switch (ObjectIdentifier(type), value) {
        case (ObjectIdentifier(String.self), .text(let text)): return unsafeBitCast(text, to: T.self)
        case (ObjectIdentifier(Int.self), .integer(let number)): return unsafeBitCast(number, to: T.self)
        case (ObjectIdentifier(Int64.self), .integer(let number)): return unsafeBitCast(Int64(number), to: T.self)
        case (ObjectIdentifier(Double.self), .float(let number)): return unsafeBitCast(number, to: T.self)
        case (ObjectIdentifier(Double.self), .integer(let number)): return unsafeBitCast(Double(number), to: T.self)
        case (ObjectIdentifier(Bool.self), .integer(0)): return unsafeBitCast(false, to: T.self)
        case (ObjectIdentifier(Bool.self), .integer(1)): return unsafeBitCast(true, to: T.self)
        case (ObjectIdentifier(Date.self), .float(let seconds)): return unsafeBitCast(Date(timeIntervalSince1970: seconds), to: T.self)
        case (ObjectIdentifier(Date.self), .integer(let seconds)): return unsafeBitCast(Date(timeIntervalSince1970: Double(seconds)), to: T.self)
        default: break
        }
        // Everything else: SQLiteKit converts or explains.
        return try SQLiteDataDecoder().decode(T.self, from: value)
    }
}

private struct SQLiteColumnKey: CodingKey {
    let stringValue: String
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

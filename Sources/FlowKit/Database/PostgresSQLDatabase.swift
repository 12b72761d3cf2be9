import Foundation
import Logging
import NIOCore
import PostgresKit
import PostgresNIO
import SQLKit

/// SQLKit over one PostgreSQL connection, with rows that decode plain columns straight from
/// their cells.
///
/// PostgresKit's own rows send every cell through its Codable translation, which formats a
/// coding key (a string per cell), runs dynamic casts and allocates on every call: on a nearby
/// search (21 rows of 28 columns) that was 13% of the machine's CPU, more than encoding the
/// JSON answer. Here the types Flow reads (text, integers, floats, booleans, timestamps, UUIDs)
/// decode from the cell directly; anything else, and any cell the direct decode refuses, goes
/// through PostgresKit's row, so results and errors are PostgresKit's. Binds are encoded the way
/// PostgresKit encodes them (nil, or a type with a PostgreSQL encoding); a bind of any other
/// type sends the whole query through PostgresKit.
struct PostgresSQLDatabase: SQLDatabase {
    let connection: PostgresConnection

    /// PostgresKit's database over the same connection: the route for what is not handled here,
    /// including the future-based `execute` (Flow's code uses the async one).
    private var postgresKit: any SQLDatabase { connection.sql() }

    var logger: Logger { connection.logger }
    var eventLoop: any EventLoop { connection.eventLoop }
    var dialect: any SQLDialect { PostgresDialect() }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        postgresKit.execute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let (sql, binds) = serialize(query)
        guard let bindings = try Self.bindings(binds) else {
            return try await postgresKit.execute(sql: query, onRow)
        }
        if let level = queryLogLevel { logger.log(level: level, "Executing query", metadata: ["sql": .string(sql)]) }
        let columns = FirstRowColumns()
        try await connection.run(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) { row in
            let cells = row.makeRandomAccess()
            onRow(PostgresSQLRow(row, cells: cells, columns: columns.of(cells)))
        }
    }

    /// The binds as PostgresKit would encode them, or nil when one needs its Codable route.
    private static func bindings(_ binds: [any Encodable & Sendable]) throws -> PostgresBindings? {
        var bindings = PostgresBindings(capacity: binds.count)
        for bind in binds {
            if Self.isNil(bind) {
                bindings.appendNull()
            } else if let value = bind as? any PostgresThrowingDynamicTypeEncodable {
                try bindings.append(value)
            } else {
                return nil
            }
        }
        return bindings
    }

    /// Whether `value` is an Optional holding nothing (at any depth).
    private static func isNil(_ value: Any) -> Bool {
        guard let optional = value as? any OptionalValue else { return false }
        return optional.wrappedAny.map(isNil) ?? true
    }
}

/// The column table of a result, built from its first row and shared by the others. Rows of one
/// query arrive one after another on the connection's event loop, hence no lock.
private final class FirstRowColumns: @unchecked Sendable {
    private var columns: PostgresSQLRow.Columns?

    func of(_ cells: PostgresRandomAccessRow) -> PostgresSQLRow.Columns {
        if let columns { return columns }
        let built = PostgresSQLRow.Columns(cells)
        columns = built
        return built
    }
}

private protocol OptionalValue {
    var wrappedAny: Any? { get }
}

extension Optional: OptionalValue {
    var wrappedAny: Any? { self.map { $0 as Any } }
}

/// A result row; see ``PostgresSQLDatabase``.
struct PostgresSQLRow: SQLRow {
    /// Each column name's position, once per query. `PostgresRandomAccessRow` can only say
    /// whether a name exists and then look it up again (it traps on a missing name), two hashes
    /// per cell read; this is one. Where a name repeats, the last column wins, as in PostgresNIO.
    final class Columns: Sendable {
        let positions: [String: Int]

        init(_ cells: PostgresRandomAccessRow) {
            var positions: [String: Int] = [:]
            positions.reserveCapacity(cells.count)
            for (index, cell) in cells.enumerated() { positions[cell.columnName] = index }
            self.positions = positions
        }
    }

    private let row: PostgresRow
    private let cells: PostgresRandomAccessRow
    private let columns: Columns

    init(_ row: PostgresRow, cells: PostgresRandomAccessRow, columns: Columns) {
        self.row = row
        self.cells = cells
        self.columns = columns
    }

    var allColumns: [String] { cells.map(\.columnName) }

    func contains(column: String) -> Bool { columns.positions[column] != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let index = columns.positions[column] else { return true }
        return cells[index].bytes == nil
    }

    func decode<T: Decodable>(column: String, as type: T.Type) throws -> T {
        if let index = columns.positions[column], let value = Self.direct(cells[index], as: type) { return value }
        return try row.sql().decode(column: column, as: type)
    }

    /// The cell decoded without PostgresKit, for the plain types; nil for other types, for
    /// user-defined PostgreSQL types (PostgresKit reads those as text), and when the cell does
    /// not decode (PostgresKit then converts or explains).
    private static func direct<T>(_ cell: PostgresCell, as type: T.Type) -> T? {
        guard !cell.dataType.isUserDefined else { return nil }
        switch type {
        case is String.Type: return try? cell.decode(String.self) as? T
        case is Int.Type: return try? cell.decode(Int.self) as? T
        case is Int64.Type: return try? cell.decode(Int64.self) as? T
        case is Int32.Type: return try? cell.decode(Int32.self) as? T
        case is Double.Type where cell.dataType != .numeric: return try? cell.decode(Double.self) as? T
        case is Bool.Type: return try? cell.decode(Bool.self) as? T
        case is Date.Type: return try? cell.decode(Date.self) as? T
        case is UUID.Type: return try? cell.decode(UUID.self) as? T
        default: return nil
        }
    }
}

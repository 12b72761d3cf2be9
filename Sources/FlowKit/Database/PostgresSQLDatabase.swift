import Foundation
import Logging
import NIOCore
import PostgresKit
import PostgresNIO
import SQLKit
import Synchronization

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
/// type sends the whole query through PostgresKit. A statement with binds that the connection
/// has run before runs as a named prepared statement (``PostgresStatementCache``, its text typed
/// by ``PostgresTypedPlaceholders``); its rows
/// decode as binary cells (see ``PostgresSQLRow``), through PostgresNIO's types for what is
/// not read directly.
struct PostgresSQLDatabase: SQLDatabase {
    let connection: PostgresConnection
    /// Where statements run again and again are prepared; nil runs every statement unnamed.
    let statements: PostgresStatementCache?
    /// Whether this is a transaction's connection (a failed statement aborts the transaction).
    let inTransaction: Bool

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
        guard let values = Self.bindValues(binds) else {
            return try await postgresKit.execute(sql: query, onRow)
        }
        if let level = queryLogLevel { logger.log(level: level, "Executing query", metadata: ["sql": .string(sql)]) }
        let columns = FirstRowColumns()
        let onPostgresRow: @Sendable (PostgresRow, _ prepared: Bool) throws -> Void = { row, prepared in
            let cells = row.makeRandomAccess()
            onRow(PostgresSQLRow(row, cells: cells, columns: columns.of(cells), prepared: prepared))
        }
        guard let statements, !values.isEmpty, values.allSatisfy({ $0?.psqlFormat ?? .binary == .binary }) else {
            return try await runUnnamed(sql, values, onRow: onPostgresRow)
        }
        let key = PostgresStatementCache.Key(sql: sql, types: values.map { $0?.psqlType })
        let prepared: PreparedQuery
        switch statements.plan(for: key, on: connection) {
        case .unnamed:
            return try await runUnnamed(sql, values, onRow: onPostgresRow)
        case .prepare:
            // The text is rewritten with its bind types only here, once per connection.
            guard let typed = PostgresTypedPlaceholders.typed(sql, types: key.types) else {
                statements.store(nil, for: key, on: connection)
                return try await runUnnamed(sql, values, onRow: onPostgresRow)
            }
            prepared = try await connection.prepareNamed(typed)
            statements.store(prepared, for: key, on: connection)
        case .prepared(let known):
            prepared = known
        }
        do {
            try await connection.runPrepared(prepared, binds: try Self.data(values)) { row in try onPostgresRow(row, true) }
        } catch PostgresError.server(let error) where ["26000", "0A000"].contains(error.fields[.sqlState]) {
            // The server refused the prepared statement: something ran DEALLOCATE or DISCARD, or a
            // column changed type under it ("cached plan must not change result type"). The next
            // execution starts over; outside a transaction this one runs again unnamed at once,
            // inside one it fails (the error has aborted the transaction).
            statements.forget(key, on: connection)
            guard !inTransaction else { throw PostgresError.server(error) }
            try await runUnnamed(sql, values, onRow: onPostgresRow)
        }
    }

    private func runUnnamed(_ sql: String, _ values: [(any PostgresThrowingDynamicTypeEncodable)?],
                            onRow: @escaping @Sendable (PostgresRow, _ prepared: Bool) throws -> Void) async throws {
        try await connection.run(PostgresQuery(unsafeSQL: sql, binds: try Self.bindings(values)), logger: logger) { row in
            try onRow(row, false)
        }
    }

    /// The binds as PostgresKit would encode them (nil for a NULL), or nil when one needs its
    /// Codable route: a type without a PostgreSQL encoding.
    private static func bindValues(_ binds: [any Encodable & Sendable]) -> [(any PostgresThrowingDynamicTypeEncodable)?]? {
        var values: [(any PostgresThrowingDynamicTypeEncodable)?] = []
        values.reserveCapacity(binds.count)
        for bind in binds {
            if Self.isNil(bind) {
                values.append(nil)
            } else if let value = bind as? any PostgresThrowingDynamicTypeEncodable {
                values.append(value)
            } else {
                return nil
            }
        }
        return values
    }

    private static func bindings(_ values: [(any PostgresThrowingDynamicTypeEncodable)?]) throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            if let value { try bindings.append(value) } else { bindings.appendNull() }
        }
        return bindings
    }

    /// The binds in the form postgres-nio's prepared statements take (binary format only).
    private static func data(_ values: [(any PostgresThrowingDynamicTypeEncodable)?]) throws -> [PostgresData] {
        try values.map { value in
            guard let value else { return PostgresData(type: .null) }
            var buffer = ByteBuffer()
            try value.encode(into: &buffer, context: .default)
            return PostgresData(type: value.psqlType, formatCode: .binary, value: buffer)
        }
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
    private var columns: ColumnPositions?

    func of(_ cells: PostgresRandomAccessRow) -> ColumnPositions {
        if let columns { return columns }
        let built = ColumnPositions(names: cells.map(\.columnName), repeated: .lastWins)
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
    private let row: PostgresRow
    private let cells: PostgresRandomAccessRow
    /// Built once per query (``ColumnPositions``). `PostgresRandomAccessRow` can only say whether
    /// a name exists and then look it up again (it traps on a missing name): two hashes per cell.
    private let columns: ColumnPositions
    /// Whether the row comes from a named prepared statement. postgres-nio 1.33 describes such
    /// rows with the formats of the statement's Describe (text) although it asked for, and got,
    /// binary cells; their cells are read as binary here, and PostgresKit (which would read the
    /// description) is not asked.
    private let prepared: Bool

    init(_ row: PostgresRow, cells: PostgresRandomAccessRow, columns: ColumnPositions, prepared: Bool) {
        self.row = row
        self.cells = cells
        self.columns = columns
        self.prepared = prepared
    }

    var allColumns: [String] { cells.map(\.columnName) }

    func contains(column: String) -> Bool { columns.position(of: column) != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let index = columns.position(of: column) else { return true }
        return cells[index].bytes == nil
    }

    func decode<T: Decodable>(column: String, as type: T.Type) throws -> T {
        guard let index = columns.position(of: column) else {
            guard prepared else { return try row.sql().decode(column: column, as: type) }
            throw DatabaseError(.other, message: "no column \(column) in the result")
        }
        var cell = cells[index]
        if prepared { cell.format = .binary }
        // The plain types, straight from the cell. The type is matched by identity and the value
        // handed back with `unsafeBitCast` (to its own type), with no `T?` on the way: rows arrive
        // as `any SQLRow`, so this runs unspecialized, where `is`/`as?` casts and every `T?`
        // cost a metadata lookup per cell (~9% of a nearby search's CPU in Flow).
        if !cell.dataType.isUserDefined {
            switch ObjectIdentifier(type) {
            case ObjectIdentifier(String.self): if let value = try? cell.decode(String.self) { return unsafeBitCast(value, to: T.self) }
            case ObjectIdentifier(Int.self): if let value = try? cell.decode(Int.self) { return unsafeBitCast(value, to: T.self) }
            case ObjectIdentifier(Date.self): if let value = try? cell.decode(Date.self) { return unsafeBitCast(value, to: T.self) }
            case ObjectIdentifier(Double.self) where cell.dataType != .numeric:
                if let value = try? cell.decode(Double.self) { return unsafeBitCast(value, to: T.self) }
            case ObjectIdentifier(Int64.self): if let value = try? cell.decode(Int64.self) { return unsafeBitCast(value, to: T.self) }
            case ObjectIdentifier(Int32.self): if let value = try? cell.decode(Int32.self) { return unsafeBitCast(value, to: T.self) }
            case ObjectIdentifier(Bool.self): if let value = try? cell.decode(Bool.self) { return unsafeBitCast(value, to: T.self) }
            case ObjectIdentifier(UUID.self): if let value = try? cell.decode(UUID.self) { return unsafeBitCast(value, to: T.self) }
            default: break
            }
        }
        // Other types, user-defined PostgreSQL types (PostgresKit reads those as text), and cells
        // that did not decode (PostgresKit then converts or explains).
        return prepared ? try Self.decodeBinary(cell, as: type) : try row.sql().decode(column: column, as: type)
    }

    /// A binary cell of a prepared statement's row in the types not read directly, as PostgresKit
    /// reads them from an unnamed statement's row: numeric as `Double` (PostgresKit converts it,
    /// PostgresNIO does not), JSON documents as any `Decodable`, and PostgresNIO's own types.
    private static func decodeBinary<T: Decodable>(_ cell: PostgresCell, as type: T.Type) throws -> T {
        if T.self == Double.self, cell.dataType == .numeric {
            return NSDecimalNumber(decimal: try cell.decode(Decimal.self)).doubleValue as! T
        }
        if let decodable = type as? any PostgresDecodable.Type {
            return try Self.decode(cell, as: decodable) as! T
        }
        guard cell.dataType == .jsonb || cell.dataType == .json, var bytes = cell.bytes else {
            throw DatabaseError(.other, message: "column \(cell.columnName) (\(cell.dataType)) cannot be read as \(type)")
        }
        // jsonb's binary form is a version byte, then the document's text.
        if cell.dataType == .jsonb { guard bytes.readInteger(as: UInt8.self) == 1 else { throw DatabaseError(.other, message: "column \(cell.columnName): unknown jsonb version") } }
        return try JSONDecoder().decode(type, from: Data(bytes.readableBytesView))
    }

    private static func decode<D: PostgresDecodable>(_ cell: PostgresCell, as type: D.Type) throws -> D {
        try cell.decode(type)
    }
}

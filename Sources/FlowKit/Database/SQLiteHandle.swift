import Logging
import NIOCore
import NIOPosix
import SQLiteNIO
import Synchronization
// The SQLite library sqlite-nio vendors (with FTS5 and R*Tree). Flow takes that library,
// `SQLiteData` and SQLiteKit's dialect and coders from the package, not its connections; a second
// copy of SQLite in the process would not see the first one's file locks.
import VaporCSQLite

/// One open SQLite connection that keeps its prepared statements, and runs them on a thread of
/// its own.
///
/// sqlite-nio prepares and finalizes every statement it runs and hands each one to its thread and
/// back through a future. On the bus benchmark `sqlite3_prepare_v3` alone was 15% of the samples
/// (a publish compiles the `bus_publish` view's trigger program each time), and every statement
/// cost a hop to the connection's thread and one back. Here a statement is prepared once per
/// connection and reset after each run, and a task that prefers the connection's executor (the
/// pools make their tasks do so) runs it right where it is.
///
/// The connection is used by one task at a time (the pools lease it), always on its thread; the
/// mutex only makes that rule one the compiler can check.
final class SQLiteHandle: Sendable {
    /// Distinct statements kept per connection: Flow's stores use a few dozen; statements built
    /// with a varying number of placeholders are evicted least recently used first.
    static let statementCacheCapacity = 128

    /// Runs tasks on the connection's thread (see ``ConnectionThreadExecutor``).
    let executor: ConnectionThreadExecutor
    let logger: Logger
    /// For SQLKit's future-based API; statements never run on it.
    let eventLoop: any EventLoop
    private let state: Mutex<State>

    /// The raw pointers and statement objects are only touched inside `state`'s lock.
    fileprivate struct State: ~Copyable, @unchecked Sendable {
        var database: OpaquePointer?
        var statements: [String: PreparedStatement] = [:]
        /// Counts statement runs, to find the least recently used one.
        var clock: UInt64 = 0
        /// Statements prepared since the connection opened (kept ones count once).
        var prepares = 0

        deinit {
            for statement in statements.values { sqlite_nio_sqlite3_finalize(statement.pointer) }
            if let database { sqlite_nio_sqlite3_close_v2(database) }
        }
    }

    /// Opens (creating if needed) the database file at `path` on `thread`.
    static func open(path: String, thread: NIOThreadPool, logger: Logger) async throws -> SQLiteHandle {
        let executor = ConnectionThreadExecutor(thread: thread)
        let database = try await withTaskExecutorPreference(executor) {
            _ = initialized
            var database: OpaquePointer?
            // NOMUTEX: SQLite need not lock for us; one task at a time uses a connection, under
            // `state`'s mutex. EXRESCODE: errors carry extended codes (which constraint failed).
            let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
            let code = sqlite_nio_sqlite3_open_v2(path, &database, flags, nil)
            guard code == SQLITE_OK, let database else {
                let message = database.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "cannot open"
                if let database { sqlite_nio_sqlite3_close_v2(database) }
                throw SQLiteFailure(code: code, message: "\(message) (\(path))")
            }
            return database
        }
        return SQLiteHandle(database: database, executor: executor, logger: logger)
    }

    /// sqlite-nio's note: initialising the library explicitly, once, avoids a race on its global
    /// configuration when the first connections open on several threads at once.
    private static let initialized: Void = { _ = sqlite_nio_sqlite3_initialize() }()

    private init(database: OpaquePointer, executor: ConnectionThreadExecutor, logger: Logger) {
        self.state = Mutex(State(database: database))
        self.executor = executor
        self.logger = logger
        self.eventLoop = MultiThreadedEventLoopGroup.singleton.any()
    }

    var isClosed: Bool { state.withLock { $0.database == nil } }

    /// Statements prepared so far, how many are kept now, and how often SQLite prepared the kept
    /// ones again by itself (after a schema change, or for a plan that depends on a bound value).
    var statementStatistics: (prepared: Int, kept: Int, reprepared: Int) {
        state.withLock { state in
            let reprepared = state.statements.values.reduce(0) { total, statement in
                total + Int(sqlite_nio_sqlite3_stmt_status(statement.pointer, SQLITE_STMTSTATUS_REPREPARE, 0))
            }
            return (state.prepares, state.statements.count, reprepared)
        }
    }

    /// Runs `sql` (its first statement) with `binds` for `?1`, `?2`, …, and passes each result row
    /// to `onRow` as it is read. Runs to completion even when the calling task is cancelled: a
    /// COMMIT or ROLLBACK half-skipped would leave a transaction open.
    func query(_ sql: String, _ binds: [SQLiteData] = [], _ onRow: (SQLiteResultRow) throws -> Void = { _ in }) async throws {
        try await withTaskExecutorPreference(executor) {
            try state.withLock { state in try state.run(sql, binds, onRow) }
        }
    }

    /// Finalizes the kept statements and closes the connection; later queries fail.
    func close() async {
        await withTaskExecutorPreference(executor) {
            state.withLock { state in
                for statement in state.statements.values { sqlite_nio_sqlite3_finalize(statement.pointer) }
                state.statements = [:]
                if let database = state.database { sqlite_nio_sqlite3_close_v2(database) }
                state.database = nil
            }
        }
    }
}

extension SQLiteHandle.State {
    fileprivate mutating func run(_ sql: String, _ binds: [SQLiteData], _ onRow: (SQLiteResultRow) throws -> Void) throws {
        guard let database else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "the connection is closed") }
        let statement = try prepared(sql, in: database)
        let pointer = statement.pointer
        // Reset whatever happens: a statement left mid-way holds its read snapshot (and, on the
        // writer, its locks) open. Bindings are not cleared: every run binds all parameters
        // again, and sqlite3_clear_bindings expires a statement whose plan may depend on a bound
        // value, so SQLite prepared it anew on the next run (the bus claim, on every run).
        defer { sqlite_nio_sqlite3_reset(pointer) }
        for (offset, value) in binds.enumerated() {
            let code = Self.bind(value, at: Int32(offset + 1), of: pointer)
            guard code == SQLITE_OK else { throw SQLiteFailure(of: database, code: code) }
        }
        // Parameters without a value are NULL, as in a newly prepared statement.
        let parameters = sqlite_nio_sqlite3_bind_parameter_count(pointer)
        if binds.count < parameters {
            for index in Int32(binds.count + 1)...parameters { sqlite_nio_sqlite3_bind_null(pointer, index) }
        }
        var runColumns: ColumnPositions?
        while true {
            let code = sqlite_nio_sqlite3_step(pointer)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw SQLiteFailure(of: database, code: code) }
            // Looked up at the first row: a statement SQLite prepared again may have new columns.
            let columns = runColumns ?? statement.columns(current: pointer)
            runColumns = columns
            var values: [SQLiteData] = []
            values.reserveCapacity(columns.names.count)
            for index in 0..<Int32(columns.names.count) { values.append(Self.value(at: index, of: pointer)) }
            try onRow(SQLiteResultRow(columns: columns, values: values))
        }
    }

    /// The kept statement for `sql`, or a newly prepared one (kept, evicting the least recently
    /// used when full).
    private mutating func prepared(_ sql: String, in database: OpaquePointer) throws -> SQLiteHandle.PreparedStatement {
        clock &+= 1
        if let statement = statements[sql] {
            statement.lastUse = clock
            return statement
        }
        var pointer: OpaquePointer?
        let code = sqlite_nio_sqlite3_prepare_v3(database, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &pointer, nil)
        guard code == SQLITE_OK else { throw SQLiteFailure(of: database, code: code) }
        prepares += 1
        guard let pointer else {
            // Only a comment or whitespace: SQLite prepares nothing.
            throw SQLiteFailure(code: SQLITE_MISUSE, message: "no SQL statement in: \(sql.prefix(80))")
        }
        if statements.count >= SQLiteHandle.statementCacheCapacity,
           let oldest = statements.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            sqlite_nio_sqlite3_finalize(oldest.value.pointer)
            statements[oldest.key] = nil
        }
        let statement = SQLiteHandle.PreparedStatement(pointer: pointer, lastUse: clock)
        statements[sql] = statement
        return statement
    }

    private static func bind(_ value: SQLiteData, at index: Int32, of statement: OpaquePointer) -> Int32 {
        switch value {
        case .integer(let number):
            return sqlite_nio_sqlite3_bind_int64(statement, index, Int64(number))
        case .float(let number):
            return sqlite_nio_sqlite3_bind_double(statement, index, number)
        case .text(var text):
            return text.withUTF8 { bytes in
                // An empty buffer may have no address, and a NULL pointer would bind NULL.
                guard let start = bytes.baseAddress else {
                    return sqlite_nio_sqlite3_bind_text64(statement, index, "", 0, transient, UInt8(SQLITE_UTF8))
                }
                return start.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                    sqlite_nio_sqlite3_bind_text64(statement, index, $0, UInt64(bytes.count), transient, UInt8(SQLITE_UTF8))
                }
            }
        case .blob(let buffer):
            return buffer.withUnsafeReadableBytes { bytes in
                guard let start = bytes.baseAddress else { return sqlite_nio_sqlite3_bind_zeroblob(statement, index, 0) }
                return sqlite_nio_sqlite3_bind_blob64(statement, index, start, UInt64(bytes.count), transient)
            }
        case .null:
            return sqlite_nio_sqlite3_bind_null(statement, index)
        }
    }

    private static func value(at index: Int32, of statement: OpaquePointer) -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER:
            return .integer(Int(sqlite_nio_sqlite3_column_int64(statement, index)))
        case SQLITE_FLOAT:
            return .float(sqlite_nio_sqlite3_column_double(statement, index))
        case SQLITE_TEXT:
            // Text first, then its length (SQLite's documented order for a conversion-free read).
            guard let text = sqlite_nio_sqlite3_column_text(statement, index) else { return .text("") }
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, index))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let bytes = sqlite_nio_sqlite3_column_blob(statement, index)
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, index))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            if let bytes { buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count)) }
            return .blob(buffer)
        default:
            return .null
        }
    }
}

/// SQLite copies bound values before the bind call returns (`SQLITE_TRANSIENT`).
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

extension SQLiteHandle {
    /// A statement prepared on a connection, with its result columns.
    fileprivate final class PreparedStatement {
        let pointer: OpaquePointer
        var lastUse: UInt64
        private var cachedColumns: ColumnPositions?

        init(pointer: OpaquePointer, lastUse: UInt64) {
            self.pointer = pointer
            self.lastUse = lastUse
        }

        /// The result columns, read once; again if SQLite re-prepared the statement after a schema
        /// change and the number of columns moved (a `SELECT *` after `ALTER TABLE … ADD`).
        func columns(current pointer: OpaquePointer) -> ColumnPositions {
            let count = Int(sqlite_nio_sqlite3_column_count(pointer))
            if let cachedColumns, cachedColumns.names.count == count { return cachedColumns }
            let names = (0..<Int32(count)).map { index in
                sqlite_nio_sqlite3_column_name(pointer, index).map { String(cString: $0) } ?? ""
            }
            let columns = ColumnPositions(names: names, repeated: .firstWins)
            cachedColumns = columns
            return columns
        }
    }
}

/// One result row: values in column order.
struct SQLiteResultRow: Sendable {
    let columns: ColumnPositions
    let values: [SQLiteData]

    func value(of column: String) -> SQLiteData? {
        columns.position(of: column).map { values[$0] }
    }
}

/// An error SQLite returned, with its extended result code.
struct SQLiteFailure: Error, CustomStringConvertible {
    /// The extended result code (`SQLITE_CONSTRAINT_UNIQUE`, …); `code & 0xff` is the primary one.
    let code: Int32
    let message: String

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// The error `database` reports for a call that returned `code`.
    init(of database: OpaquePointer, code: Int32) {
        let extended = sqlite_nio_sqlite3_extended_errcode(database)
        self.init(code: extended != SQLITE_OK ? extended : code,
                  message: sqlite_nio_sqlite3_errmsg(database).map { String(cString: $0) } ?? "SQLite error \(code)")
    }

    var primaryCode: Int32 { code & 0xff }

    // Extended constraint codes (sqlite3.h; Swift does not import these macros).
    static let constraintCheck = SQLITE_CONSTRAINT | (1 << 8)
    static let constraintForeignKey = SQLITE_CONSTRAINT | (3 << 8)
    static let constraintNotNull = SQLITE_CONSTRAINT | (5 << 8)
    static let constraintPrimaryKey = SQLITE_CONSTRAINT | (6 << 8)
    static let constraintUnique = SQLITE_CONSTRAINT | (8 << 8)
    static let constraintRowID = SQLITE_CONSTRAINT | (10 << 8)

    var description: String { "SQLite error \(code): \(message)" }
}

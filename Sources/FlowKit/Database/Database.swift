import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit
import ServiceLifecycle
import Synchronization

/// The one way services reach storage, the same on SQLite and PostgreSQL.
///
/// - ``read(_:)`` runs queries on a pooled connection outside a transaction.
/// - ``transaction(_:)`` runs a unit of work atomically: it commits when the closure returns and
///   rolls back when it throws, so a failed request never leaves half its writes behind.
///
/// Queries are written once with SQLKit (`sql.raw("… \(bind: value)")` or the builders); engine
/// errors arrive as ``DatabaseError``. Bind `Date` values and let each engine store them natively
/// (timestamptz on PostgreSQL, REAL Unix seconds on SQLite); store identifiers as lowercase text.
///
/// `Database` is a `Service`: run it in the service group before the HTTP server so it closes
/// after the server has finished its in-flight requests.
public final class Database: Service, Sendable {
    public let location: DatabaseLocation
    public var engine: DatabaseEngine { location.engine }
    let logger: Logger
    private let backend: Backend
    private let metrics: PoolMetrics
    private let hub = NotificationHub()

    private enum Backend: Sendable {
        case sqlite(SQLiteBackend)
        case postgres(PostgresBackend)
    }

    public struct Options: Sendable {
        /// PostgreSQL: maximum pooled connections. SQLite: number of read connections (there is
        /// always exactly one write connection).
        public var poolSize: Int
        /// How long a request waits for a free connection before it fails with 503.
        public var acquireTimeout: Duration
        public var sqliteSynchronous: SQLiteSynchronous
        /// PostgreSQL: statements each connection keeps prepared (``PostgresStatementCache``); 0
        /// runs every statement unnamed, for poolers that do not keep named statements.
        public var statementCacheSize: Int
        /// PostgreSQL: how often every pooled connection is checked (``PostgresKeepAlive``).
        public var connectionCheckInterval: Duration

        /// Twice the cores, at least 4. More connections than that do not add throughput on a
        /// CPU-bound server; they share the cores more unevenly and stretch the slowest requests.
        /// On this project's 2-core benchmark machine, 8 PostgreSQL connections instead of 4 left
        /// throughput as it was and raised nearby/search p99 from 56–86 ms to 94–134 ms.
        public static let defaultPoolSize = max(4, 2 * ProcessInfo.processInfo.activeProcessorCount)

        /// Room for the statement texts Flow runs (about 140 places write SQL, some with a few
        /// variants) without a connection forgetting the hot ones. Each costs the PostgreSQL
        /// backend its parsed and planned form: ~200 KB for the largest (nearby search, measured
        /// with `pg_backend_memory_contexts`), much less for simple ones.
        public static let defaultStatementCacheSize = 200

        public init(poolSize: Int = Options.defaultPoolSize, acquireTimeout: Duration = .seconds(5), sqliteSynchronous: SQLiteSynchronous = .full,
                    statementCacheSize: Int = Options.defaultStatementCacheSize, connectionCheckInterval: Duration = .seconds(30)) {
            self.poolSize = poolSize
            self.acquireTimeout = acquireTimeout
            self.sqliteSynchronous = sqliteSynchronous
            self.statementCacheSize = statementCacheSize
            self.connectionCheckInterval = connectionCheckInterval
        }
    }

    /// SQLite's `PRAGMA synchronous` in WAL mode: `full` syncs the WAL on every commit, so an
    /// acknowledged write survives a power cut; `normal` survives a crashed process but may lose
    /// the last commits on power loss, in exchange for several times more write throughput.
    public enum SQLiteSynchronous: String, Sendable, CaseIterable {
        case normal
        case full
    }

    private init(location: DatabaseLocation, backend: Backend, poolSize: Int, logger: Logger) {
        self.location = location
        self.backend = backend
        self.logger = logger
        self.metrics = PoolMetrics(engine: location.engine, poolSize: poolSize)
    }

    /// Opens the database. SQLite files (and their folder) are created if missing; PostgreSQL
    /// connections are made lazily by the pool once ``run()`` is running.
    public static func open(_ location: DatabaseLocation, options: Options = Options(), logger: Logger) async throws -> Database {
        switch location {
        case .sqlite(let path):
            let backend = try await SQLiteBackend.open(path: path, readers: options.poolSize, synchronous: options.sqliteSynchronous, logger: logger)
            return Database(location: location, backend: .sqlite(backend), poolSize: options.poolSize, logger: logger)
        case .postgres(let endpoint):
            var configuration = endpoint.clientConfiguration
            configuration.options.maximumConnections = options.poolSize
            configuration.options.connectTimeout = options.acquireTimeout
            // All connections stay open and Flow checks them itself: see PostgresKeepAlive.
            configuration.options.minimumConnections = options.poolSize
            configuration.options.keepAliveBehavior = nil
            let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
            let leases = PostgresLeases(poolSize: options.poolSize, acquireTimeout: options.acquireTimeout)
            let statements = options.statementCacheSize > 0 ? PostgresStatementCache(capacity: options.statementCacheSize) : nil
            let keepAlive = PostgresKeepAlive(poolSize: options.poolSize, interval: options.connectionCheckInterval,
                                              timeout: PostgresKeepAlive.defaultTimeout, logger: logger)
            let backend = PostgresBackend(client: client, leases: leases, statements: statements, keepAlive: keepAlive, logger: logger)
            return Database(location: location, backend: .postgres(backend), poolSize: options.poolSize, logger: logger)
        }
    }

    /// Runs `work` on a pooled connection outside any transaction.
    public func read<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withoutTransaction(.read, work)
    }

    /// Runs `work` on a writable connection without a transaction of its own, for statements that
    /// are complete units by themselves (`UPDATE … RETURNING` claims, `DELETE`s): on PostgreSQL
    /// each commits as it runs, saving the BEGIN/COMMIT round trips on hot paths; on SQLite they
    /// join the writer's shared transaction (see ``SQLiteWriter``) and have committed when this
    /// returns. Anything that must commit together with something else belongs in ``transaction(_:)``.
    public func autocommit<T: Sendable>(_ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard !Self.insideTransaction else {
            throw DatabaseError(.other, message: "autocommit statements inside a transaction would wait for the writer; use the Transaction")
        }
        return try await withoutTransaction(.write, work)
    }

    /// A connection of `pool` (on SQLite the readers or the single writer; on PostgreSQL any
    /// pooled connection) for statements that each commit on their own.
    private func withoutTransaction<T: Sendable>(_ pool: PoolMetrics.Pool, _ work: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let started = ContinuousClock.now
        do {
            switch backend {
            case .sqlite(let sqlite) where pool == .read:
                return try await sqlite.readers.withConnection { connection in
                    try await metrics.leased(pool: pool, waitedSince: started) {
                        try await work(SQLiteSQLDatabase(connection: connection))
                    }
                }
            case .sqlite(let sqlite):
                return try await sqlite.writer.write { connection in
                    try await metrics.leased(pool: pool, waitedSince: started) {
                        try await work(SQLiteSQLDatabase(connection: connection))
                    }
                }
            case .postgres(let postgres):
                return try await postgres.withConnection { connection in
                    try await metrics.leased(pool: pool, waitedSince: started) {
                        try await work(PostgresSQLDatabase(connection: connection, statements: postgres.statements, inTransaction: false))
                    }
                }
            }
        } catch {
            throw DatabaseError.translate(error)
        }
    }

    /// Runs `work` in a transaction: committed when it returns, rolled back when it throws.
    /// On SQLite, transactions run one at a time on the single writer, so a read-modify-write
    /// inside one never races another; transactions queued behind each other share one COMMIT
    /// (``SQLiteWriter``), and each returns only once its changes are committed.
    public func transaction<T: Sendable>(_ work: @Sendable (Transaction) async throws -> T) async throws -> T {
        // A transaction opened inside another would wait forever for SQLite's single writer (and
        // on PostgreSQL would not be atomic with the outer one): pass the `Transaction` instead.
        guard !Self.insideTransaction else {
            throw DatabaseError(.other, message: "a transaction was opened inside another; pass the outer Transaction down instead")
        }
        let started = ContinuousClock.now
        let afterCommit = AfterCommitActions()
        let result: T
        do {
            switch backend {
            case .sqlite(let sqlite):
                result = try await sqlite.writer.write { connection in
                    try await metrics.leased(pool: .write, waitedSince: started) {
                        try await Self.$insideTransaction.withValue(true) {
                            try await work(Transaction(sql: SQLiteSQLDatabase(connection: connection), engine: .sqlite, afterCommit: afterCommit))
                        }
                    }
                }
            case .postgres(let postgres):
                result = try await postgres.withTransaction { connection in
                    try await metrics.leased(pool: .write, waitedSince: started) {
                        try await Self.$insideTransaction.withValue(true) {
                            try await work(Transaction(sql: PostgresSQLDatabase(connection: connection, statements: postgres.statements, inTransaction: true), engine: .postgres, afterCommit: afterCommit))
                        }
                    }
                }
            }
        } catch {
            throw DatabaseError.translate(error)
        }
        afterCommit.run()
        return result
    }

    // MARK: Notifications

    /// Posts `payload` on `channel` when `tx` commits (never if it rolls back): through
    /// `NOTIFY` to every process on PostgreSQL, in-process on SQLite. Payloads must stay under
    /// 8,000 bytes (PostgreSQL's limit); send a reference to larger data.
    public func notify(_ channel: String, payload: String, in tx: Transaction) async throws {
        guard payload.utf8.count < 8000 else {
            throw DatabaseError(.other, message: "notification payloads must be under 8000 bytes; send a reference instead")
        }
        switch engine {
        case .postgres:
            try await tx.sql.raw("SELECT pg_notify(\(bind: channel), \(bind: payload))").run()
        case .sqlite:
            let hub = hub
            tx.afterCommit { hub.post(channel, payload) }
        }
    }

    /// The notifications posted on `channel` from now on. Delivery is best effort: use it to
    /// wake up work that also polls. On PostgreSQL the stream says ``DatabaseNotification/listening``
    /// each time the listener connection starts listening on `channel` (shortly after the first
    /// stream asks, and after every reconnect): posts from before may have been missed, so catch
    /// up then. The stream ends when the database closes.
    public func notifications(_ channel: String, bufferingNewest limit: Int = 1024) -> AsyncStream<DatabaseNotification> {
        hub.stream(channel, bufferingNewest: limit)
    }

    /// Answers whether the database takes a trivial query within `timeout`.
    public func ping(timeout: Duration) async throws {
        try await withDeadline(timeout, failure: DatabaseError(.unavailable, message: "the database did not answer within \(timeout)")) {
            _ = try await self.read { sql in try await sql.raw("SELECT 1 AS ok").all() }
        }
    }

    @TaskLocal static var insideTransaction = false

    /// Connections currently leased, for `/metrics` and tests.
    public var connectionsInUse: Int {
        switch backend {
        case .sqlite(let sqlite): sqlite.readers.inUseCount + sqlite.writer.inUseCount
        case .postgres: metrics.inUse
        }
    }

    /// How PostgreSQL leases wait, for tests.
    var postgresLeases: PostgresLeases? {
        if case .postgres(let postgres) = backend { postgres.leases } else { nil }
    }

    /// PostgreSQL's prepared statements, for tests.
    var postgresStatements: PostgresStatementCache? {
        if case .postgres(let postgres) = backend { postgres.statements } else { nil }
    }

    /// SQLite's write connection, for tests that look at group commit.
    var sqliteWriter: SQLiteWriter? {
        if case .sqlite(let sqlite) = backend { sqlite.writer } else { nil }
    }

    // MARK: Lifecycle

    /// Service entry point: keeps the PostgreSQL pool running (or SQLite's WAL checkpointed) until
    /// graceful shutdown, then closes every connection.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for work in backgroundWork { group.addTask(operation: work) }
            switch backend {
            // The pool stops on graceful shutdown; the listener stops with it.
            case .postgres: await group.next()
            case .sqlite: try? await gracefulShutdown()
            }
            group.cancelAll()
        }
        await close()
    }

    /// What runs beside an open database: PostgreSQL's pool and its LISTEN connection, SQLite's
    /// WAL checkpointer. ``run()`` and ``withRunning(_:)`` start it and cancel it before closing.
    private var backgroundWork: [@Sendable () async -> Void] {
        switch backend {
        case .postgres(let postgres):
            [{ await postgres.client.run() }, { await postgres.leases.expireWaiters() }, { await self.runNotificationListener(postgres) },
             { await postgres.keepAlive.run(withConnection: postgres.withConnection) }]
        case .sqlite(let sqlite): [{ await sqlite.checkpointContinuously(logger: self.logger) }]
        }
    }

    /// Runs one round of PostgreSQL's connection check now, with its own timeout; for tests.
    /// Nothing on SQLite.
    func checkPostgresConnections(answerWithin timeout: Duration) async {
        guard case .postgres(let postgres) = backend else { return }
        let keepAlive = PostgresKeepAlive(poolSize: postgres.keepAlive.poolSize, interval: postgres.keepAlive.interval, timeout: timeout, logger: logger)
        await keepAlive.checkEveryConnection(postgres.withConnection)
    }

    private func runNotificationListener(_ postgres: PostgresBackend) async {
        guard case .postgres(let endpoint) = location else { return }
        await PostgresNotificationListener(endpoint: endpoint, hub: hub, logger: logger).run()
    }

    /// Runs `body` with the database usable (the PostgreSQL pool running) and closes the database
    /// afterwards, whether `body` succeeds or throws. For the CLI and tests; the server uses ``run()``.
    public func withRunning<T>(_ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for work in backgroundWork { group.addTask(operation: work) }
            let result: Result<T, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            group.cancelAll()
            try? await group.waitForAll()
            await close()
            return try result.get()
        }
    }

    /// Closes SQLite connections (PostgreSQL closes when its pool stops running). Idempotent.
    public func close() async {
        hub.close()
        if case .sqlite(let sqlite) = backend {
            await sqlite.close()
        }
    }
}

/// The handle a unit of work writes through. Pass it to anything that must commit together with
/// the change (the bus's `publish`, the audit trail) instead of letting them open their own.
public struct Transaction: Sendable {
    public let sql: any SQLDatabase
    public let engine: DatabaseEngine
    let afterCommitActions: AfterCommitActions

    init(sql: any SQLDatabase, engine: DatabaseEngine, afterCommit: AfterCommitActions) {
        self.sql = sql
        self.engine = engine
        self.afterCommitActions = afterCommit
    }

    /// Runs `action` once this transaction has committed, never if it rolls back: wake-ups,
    /// cache invalidation, anything that must not announce a change that did not happen.
    public func afterCommit(_ action: @escaping @Sendable () -> Void) {
        afterCommitActions.append(action)
    }
}

final class AfterCommitActions: Sendable {
    private let actions = Mutex<[@Sendable () -> Void]>([])

    func append(_ action: @escaping @Sendable () -> Void) {
        actions.withLock { $0.append(action) }
    }

    func run() {
        for action in actions.withLock({ $0 }) { action() }
    }
}

// MARK: - Engines

private struct SQLiteBackend: Sendable {
    /// One per connection: writer, checkpointer, readers.
    let threads: [NIOThreadPool]
    let writer: SQLiteWriter
    let readers: SQLiteConnectionPool
    /// Copies the WAL back into the database file, off the writer's path.
    let checkpointer: SQLiteHandle

    /// How often the WAL is checkpointed in the background.
    static let checkpointInterval = Duration.milliseconds(500)

    static func open(path: String, readers readerCount: Int, synchronous: Database.SQLiteSynchronous, logger: Logger) async throws -> SQLiteBackend {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw DatabaseError(.unavailable, message: "cannot create the folder \(directory) for the SQLite file: \(error.localizedDescription)")
            }
        }
        // Each connection's calls block a thread, and each connection gets a thread of its own: a
        // connection's statements run one after another, and the thread that ran the last one (its
        // caches warm, often still awake) picks up the next, instead of whichever idle thread of a
        // shared pool the kernel wakes. It matters for the writer, whose statements queue back to
        // back (bus publishing gained ~10%, see scripts/bench-bus); for readers it measured neutral.
        let threads = (0..<(2 + max(1, readerCount))).map { _ in NIOThreadPool(numberOfThreads: 1) }
        threads.forEach { $0.start() }
        var opened: [SQLiteHandle] = []
        do {
            // The writer first: it creates the file and switches it to WAL, which readers rely on.
            let writer = try await SQLiteHandle.open(path: path, thread: threads[0], logger: logger)
            opened.append(writer)
            for pragma in [
                "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = \(synchronous.rawValue.uppercased())",
                "PRAGMA foreign_keys = ON",
                // Another process (a CLI command) may hold the write lock briefly; wait up to 5 s,
                // then report a conflict.
                "PRAGMA busy_timeout = 5000",
                // The checkpointer copies the WAL into the file every half second. Left to the
                // writer (every 1,000 pages by default), a checkpoint runs inside a COMMIT and
                // holds every queued write for its fsyncs: ~15 ms stalls at synchronous=normal
                // (bus idle p99 17–19 ms, 5–8 ms without). This is the backstop (~40 MB) for
                // when the checkpointer falls behind or is not running (CLI commands).
                "PRAGMA wal_autocheckpoint = 10000",
                // Group commit wraps each queued write in a SAVEPOINT; its statement journal went
                // to a temporary file, a pwrite per statement on the writer thread. In memory the
                // bus bench gained 10–30% (scripts/bench-bus, 20,000 events) and ~20% less CPU.
                "PRAGMA temp_store = MEMORY",
            ] {
                try await writer.query(pragma)
            }
            let checkpointer = try await SQLiteHandle.open(path: path, thread: threads[1], logger: logger)
            opened.append(checkpointer)
            try await checkpointer.query("PRAGMA busy_timeout = 5000")
            var readerConnections: [SQLiteHandle] = []
            for thread in threads.dropFirst(2) {
                let reader = try await SQLiteHandle.open(path: path, thread: thread, logger: logger)
                opened.append(reader)
                // Readers map the file (no read() copy per page) and keep a bigger page cache: lists
                // and searches touch many pages of large tables.
                for pragma in ["PRAGMA query_only = ON", "PRAGMA busy_timeout = 5000", "PRAGMA foreign_keys = ON",
                               "PRAGMA mmap_size = 1073741824", "PRAGMA cache_size = -16384"] {
                    try await reader.query(pragma)
                }
                readerConnections.append(reader)
            }
            return SQLiteBackend(
                threads: threads,
                writer: SQLiteWriter(connection: writer),
                readers: SQLiteConnectionPool(name: "read", connections: readerConnections),
                checkpointer: checkpointer)
        } catch {
            for connection in opened { await connection.close() }
            for thread in threads { try? await thread.shutdownGracefully() }
            throw DatabaseError.translate(error)
        }
    }

    /// A passive checkpoint every ``checkpointInterval`` until cancelled: it copies committed
    /// pages from the WAL into the database file without waiting for (or blocking) readers and
    /// the writer, so the WAL stays small and commits never wait for a checkpoint.
    func checkpointContinuously(logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: Self.checkpointInterval)
                guard !checkpointer.isClosed else { return }
                try await checkpointer.query("PRAGMA wal_checkpoint(PASSIVE)")
            } catch is CancellationError {
                return
            } catch {
                logger.warning("a background WAL checkpoint failed; the writer checkpoints as a backstop", metadata: ["error": "\(error)"])
            }
        }
    }

    func close() async {
        // Callers stop checkpointContinuously first (run and withRunning cancel it, then close).
        await checkpointer.close()
        await readers.close()
        await writer.close()
        for thread in threads { try? await thread.shutdownGracefully() }
    }
}

private struct PostgresBackend: Sendable {
    let client: PostgresClient
    let leases: PostgresLeases
    let statements: PostgresStatementCache?
    let keepAlive: PostgresKeepAlive
    let logger: Logger

    /// Leases a connection for `work`; the wait for it is bounded as ``PostgresLeases`` says.
    func withConnection<T: Sendable>(_ work: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await leases.lease { granted in
            try await client.withConnection { connection in
                granted(connection)
                return try await work(connection)
            }
        }
    }

    func withTransaction<T: Sendable>(_ work: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { connection in try await connection.transaction(logger: logger, work) }
    }
}

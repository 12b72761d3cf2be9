import Logging
import NIOCore
import NIOPosix
import SQLiteNIO

/// A fixed set of open SQLite connections handed out one task at a time, in FIFO order: the
/// readers (in WAL mode they never block the writer or each other), and the single write
/// connection under ``SQLiteWriter``, so that writers queue in-process instead of spinning on
/// `SQLITE_BUSY`.
final class SQLiteConnectionPool: Sendable {
    private let line: LeaseLine<SQLiteConnection>
    private let executors: [ObjectIdentifier: ConnectionThreadExecutor]

    /// `connections` with the one-thread pool each runs its statements on.
    init(name: String, connections: [(connection: SQLiteConnection, thread: NIOThreadPool)]) {
        self.line = LeaseLine(name: "SQLite \(name) pool", resources: connections.map(\.connection))
        self.executors = Dictionary(uniqueKeysWithValues: connections.map {
            (ObjectIdentifier($0.connection), ConnectionThreadExecutor(thread: $0.thread))
        })
    }

    /// Runs tasks on the thread of `connection`, which must be one of this pool's.
    func executor(of connection: SQLiteConnection) -> ConnectionThreadExecutor {
        executors[ObjectIdentifier(connection)]!
    }

    var inUseCount: Int { line.inUseCount }
    var waitingCount: Int { line.waitingCount }

    /// Runs `work` with a connection, on that connection's thread (see ``ConnectionThreadExecutor``).
    func withConnection<T>(_ work: (SQLiteConnection) async throws -> T) async throws -> T {
        let connection = try await lease()
        defer { release(connection) }
        return try await withTaskExecutorPreference(executor(of: connection)) {
            try await work(connection)
        }
    }

    func lease() async throws -> SQLiteConnection { try await line.lease() }

    /// Passes `connection` straight to the first queued task, if there is one; otherwise the
    /// caller keeps it.
    func handOnIfWaiting(_ connection: SQLiteConnection) -> Bool { line.handOnIfWaiting(connection) }

    func release(_ connection: SQLiteConnection) { line.release(connection) }

    /// Refuses new leases, fails queued ones, and closes the connections once all are returned.
    func close(logger: Logger) async {
        line.close()
        // Leases end when the requests holding them finish; the server stops before the database
        // in the service group, so this wait is bounded by the shutdown grace period.
        for connection in await line.drain() {
            do {
                // The future-based close runs to completion even when the calling task is
                // cancelled (the async one gives up, and an unclosed connection traps on deinit).
                let closing: EventLoopFuture<Void> = connection.close()
                try await closing.get()
            } catch {
                logger.warning("closing a SQLite connection failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

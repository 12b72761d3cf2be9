/// A fixed set of open SQLite connections handed out one task at a time, in FIFO order: the
/// readers (in WAL mode they never block the writer or each other), and the single write
/// connection under ``SQLiteWriter``, so that writers queue in-process instead of spinning on
/// `SQLITE_BUSY`.
final class SQLiteConnectionPool: Sendable {
    private let line: LeaseLine<SQLiteHandle>

    init(name: String, connections: [SQLiteHandle]) {
        self.line = LeaseLine(name: "SQLite \(name) pool", resources: connections)
    }

    var inUseCount: Int { line.inUseCount }
    var waitingCount: Int { line.waitingCount }

    /// Runs `work` with a connection, on that connection's thread (see ``ConnectionThreadExecutor``).
    func withConnection<T>(_ work: (SQLiteHandle) async throws -> T) async throws -> T {
        let connection = try await lease()
        defer { release(connection) }
        return try await withTaskExecutorPreference(connection.executor) {
            try await work(connection)
        }
    }

    func lease() async throws -> SQLiteHandle { try await line.lease() }

    /// Passes `connection` straight to the first queued task, if there is one; otherwise the
    /// caller keeps it.
    func handOnIfWaiting(_ connection: SQLiteHandle) -> Bool { line.handOnIfWaiting(connection) }

    func release(_ connection: SQLiteHandle) { line.release(connection) }

    /// Refuses new leases, fails queued ones, and closes the connections once all are returned.
    func close() async {
        line.close()
        // Leases end when the requests holding them finish; the server stops before the database
        // in the service group, so this wait is bounded by the shutdown grace period.
        for connection in await line.drain() {
            await connection.close()
        }
    }
}

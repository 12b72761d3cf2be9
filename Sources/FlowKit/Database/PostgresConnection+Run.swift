import Logging
import NIOCore
import PostgresNIO

extension PostgresConnection {
    /// Runs `query`, handing each row to `onRow` on the connection's event loop, and fails with
    /// ``DatabaseError/Kind/unavailable`` when the connection has closed.
    ///
    /// Not postgres-nio's async `query`, which can wait forever on a connection that closes
    /// meanwhile: see ``whileOpen(_:)``.
    func run(_ query: PostgresQuery, logger: Logger, onRow: @escaping @Sendable (PostgresRow) throws -> Void) async throws {
        _ = try await whileOpen { connection in connection.query(query, logger: logger, onRow) }
    }

    /// Prepares `sql` as a named statement on this connection (see ``PostgresStatementCache``).
    func prepareNamed(_ sql: String) async throws -> PreparedQuery {
        try await whileOpen { connection in connection.prepare(query: sql) }
    }

    /// Runs a statement prepared on this connection, handing each row to `onRow` like
    /// ``run(_:logger:onRow:)``.
    func runPrepared(_ prepared: PreparedQuery, binds: [PostgresData], onRow: @escaping @Sendable (PostgresRow) throws -> Void) async throws {
        try await whileOpen { _ in prepared.execute(binds, onRow) }
    }

    /// Calls `write` on the connection's event loop unless the connection has closed, in which
    /// case it fails with ``DatabaseError/Kind/unavailable``.
    ///
    /// Why: postgres-nio writes a query to the channel from the calling thread, and a connection
    /// that closes in between (the server stopped) has already removed the handler that would
    /// answer it; the write fails with nobody listening and the query waits forever (postgres-nio
    /// 1.33; seen when PostgreSQL stopped under traffic). Here the check and the write happen in
    /// one turn of the event loop, where the channel cannot close in between: a closed connection
    /// fails at once, an open one answers or fails the query.
    private func whileOpen<T: Sendable>(_ write: @escaping @Sendable (PostgresConnection) -> EventLoopFuture<T>) async throws -> T {
        let connection = self
        return try await eventLoop.flatSubmit { () -> EventLoopFuture<T> in
            guard !connection.isClosed else {
                return connection.eventLoop.makeFailedFuture(DatabaseError(.unavailable, message: "PostgreSQL connection: closed"))
            }
            return write(connection)
        }.get()
    }

    /// Runs `work` in a transaction on this connection: committed when it returns, rolled back
    /// when it throws (the error of `work` is the one thrown). BEGIN and COMMIT go through
    /// ``run(_:logger:onRow:)`` like every other statement.
    func transaction<T: Sendable>(logger: Logger, _ work: (PostgresConnection) async throws -> T) async throws -> T {
        try await run("BEGIN", logger: logger) { _ in }
        let result: T
        do {
            result = try await work(self)
        } catch {
            // A failed ROLLBACK means the connection is gone, and with it the transaction.
            try? await run("ROLLBACK", logger: logger) { _ in }
            throw error
        }
        try await run("COMMIT", logger: logger) { _ in }
        return result
    }
}

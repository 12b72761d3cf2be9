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

    /// Runs `sql` like ``run(_:logger:onRow:)``, as a named prepared statement once `statements`
    /// has seen it before on this connection (see ``PostgresStatementCache``). Its placeholders
    /// carry their types (``PostgresTypedPlaceholders``). `onRow` learns whether the row comes
    /// from a prepared statement (see ``PostgresSQLRow``).
    ///
    /// When the server refuses the prepared statement (something ran DEALLOCATE or DISCARD, or a
    /// column changed type under it: "cached plan must not change result type"), the statement
    /// is forgotten, so the next execution starts over; outside a transaction this one runs again
    /// unnamed, inside one it fails (the error has aborted the transaction).
    func runCached(_ sql: String, binds: [PostgresData], in statements: PostgresStatementCache, inTransaction: Bool, logger: Logger,
                   onRow: @escaping @Sendable (PostgresRow, _ prepared: Bool) throws -> Void) async throws {
        let prepared: PreparedQuery
        switch statements.plan(for: sql, on: self) {
        case .unnamed:
            return try await runUnnamed(sql, binds: binds, logger: logger, onRow: onRow)
        case .prepare:
            prepared = try await whileOpen { connection in connection.prepare(query: sql) }
            statements.store(prepared, for: sql, on: self)
        case .prepared(let known):
            prepared = known
        }
        do {
            try await whileOpen { _ in prepared.execute(binds) { row in try onRow(row, true) } }
        } catch PostgresError.server(let error) where ["26000", "0A000"].contains(error.fields[.sqlState]) {
            statements.forget(sql, on: self)
            guard !inTransaction else { throw PostgresError.server(error) }
            try await runUnnamed(sql, binds: binds, logger: logger, onRow: onRow)
        }
    }

    private func runUnnamed(_ sql: String, binds: [PostgresData], logger: Logger,
                            onRow: @escaping @Sendable (PostgresRow, _ prepared: Bool) throws -> Void) async throws {
        var bindings = PostgresBindings(capacity: binds.count)
        for bind in binds { bindings.append(bind) }
        try await run(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) { row in try onRow(row, false) }
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

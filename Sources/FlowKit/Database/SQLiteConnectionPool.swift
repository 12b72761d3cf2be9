import Logging
import NIOCore
import NIOPosix
import SQLiteNIO
import Synchronization

/// A fixed set of open SQLite connections handed out one task at a time, in FIFO order: the
/// readers (in WAL mode they never block the writer or each other), and the single write
/// connection under ``SQLiteWriter``, so that writers queue in-process instead of spinning on
/// `SQLITE_BUSY`.
final class SQLiteConnectionPool: Sendable {
    private struct State {
        var idle: [SQLiteConnection]
        var waiters: [(id: UInt64, continuation: CheckedContinuation<SQLiteConnection, any Error>)] = []
        var nextWaiterID: UInt64 = 0
        var inUse = 0
        var closed = false
        /// Resumed once the pool is closed and every lease has come back.
        var drained: [CheckedContinuation<Void, Never>] = []
    }

    let name: String
    let size: Int
    private let state: Mutex<State>

    private let executors: [ObjectIdentifier: ConnectionThreadExecutor]

    /// `connections` with the one-thread pool each runs its statements on.
    init(name: String, connections: [(connection: SQLiteConnection, thread: NIOThreadPool)]) {
        self.name = name
        self.size = connections.count
        self.state = Mutex(State(idle: connections.map(\.connection)))
        self.executors = Dictionary(uniqueKeysWithValues: connections.map {
            (ObjectIdentifier($0.connection), ConnectionThreadExecutor(thread: $0.thread))
        })
    }

    /// Runs tasks on the thread of `connection`, which must be one of this pool's.
    func executor(of connection: SQLiteConnection) -> ConnectionThreadExecutor {
        executors[ObjectIdentifier(connection)]!
    }

    var inUseCount: Int { state.withLock { $0.inUse } }
    var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Runs `work` with a connection, on that connection's thread (see ``ConnectionThreadExecutor``).
    func withConnection<T>(_ work: (SQLiteConnection) async throws -> T) async throws -> T {
        let connection = try await lease()
        defer { release(connection) }
        return try await withTaskExecutorPreference(executor(of: connection)) {
            try await work(connection)
        }
    }

    func lease() async throws -> SQLiteConnection {
        let waiterID = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                enum Outcome { case leased(SQLiteConnection), closed, cancelled, queued }
                let outcome: Outcome = state.withLock { state in
                    if state.closed { return .closed }
                    if let connection = state.idle.popLast() {
                        state.inUse += 1
                        return .leased(connection)
                    }
                    // Checked under the lock: if cancellation already ran its handler, it found no
                    // waiter to remove, so this task must not queue.
                    if Task.isCancelled { return .cancelled }
                    state.waiters.append((waiterID, continuation))
                    return .queued
                }
                switch outcome {
                case .leased(let connection): continuation.resume(returning: connection)
                case .closed: continuation.resume(throwing: DatabaseError(.unavailable, message: "the SQLite \(name) pool is closed"))
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .queued: break
                }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> CheckedContinuation<SQLiteConnection, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == waiterID }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    /// Passes `connection` straight to the first queued task, if there is one; otherwise the
    /// caller keeps it. Atomic with the queue: a task that gives up waiting meanwhile is skipped.
    func handOnIfWaiting(_ connection: SQLiteConnection) -> Bool {
        let next = state.withLock { state in
            state.waiters.isEmpty ? nil : state.waiters.removeFirst().continuation
        }
        next?.resume(returning: connection)
        return next != nil
    }

    func release(_ connection: SQLiteConnection) {
        let (next, drained) = state.withLock { state -> (CheckedContinuation<SQLiteConnection, any Error>?, [CheckedContinuation<Void, Never>]) in
            if !state.waiters.isEmpty {
                return (state.waiters.removeFirst().continuation, [])
            }
            state.inUse -= 1
            state.idle.append(connection)
            guard state.closed, state.inUse == 0 else { return (nil, []) }
            defer { state.drained.removeAll() }
            return (nil, state.drained)
        }
        next?.resume(returning: connection)
        drained.forEach { $0.resume() }
    }

    /// Refuses new leases, fails queued ones, and closes the connections once all are returned.
    func close(logger: Logger) async {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters.map(\.continuation)
        }
        for waiter in waiters {
            waiter.resume(throwing: DatabaseError(.unavailable, message: "the SQLite \(name) pool is closed"))
        }
        // Leases end when the requests holding them finish; the server stops before the database
        // in the service group, so this wait is bounded by the shutdown grace period. It must
        // not depend on the task (shutdown may run in a cancelled one).
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let drainedAlready = state.withLock { state in
                if state.inUse == 0 { return true }
                state.drained.append(continuation)
                return false
            }
            if drainedAlready { continuation.resume() }
        }
        let connections = state.withLock { state in
            defer { state.idle.removeAll() }
            return state.idle
        }
        for connection in connections {
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

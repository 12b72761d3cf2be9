import Logging
import Metrics
import Synchronization

/// SQLite's one write connection, shared by group commit.
///
/// SQLite takes one writer at a time, and at `synchronous=FULL` every COMMIT waits for the WAL to
/// reach the disk. Writers queue here in FIFO order. When a writer finishes while others are
/// queued, its transaction stays open and passes to the next writer, which runs inside a
/// savepoint of its own; the writer that finds nobody waiting (or the group full) commits for
/// all. One fsync then covers the group, and the BEGIN and COMMIT statements of the others are
/// saved.
///
/// - Nobody returns before the COMMIT that holds their writes: an acknowledged write is exactly
///   as durable as with a transaction each.
/// - A writer that throws rolls back to its savepoint; the other writers' changes stay.
/// - A COMMIT that fails, or an error after which SQLite rolled the whole transaction back, fails
///   every writer of the group: none of them had been told it succeeded.
/// - A writer sees the changes of those before it in its group, as if they had committed; if
///   theirs are lost, so are its own.
/// - Work holding the writer must not wait for another writer's call to return (that call may
///   be waiting for this group's COMMIT): do the waiting before or after the transaction.
final class SQLiteWriter: Sendable {
    /// A group commits when this many writers have joined it even if more are queued, which
    /// bounds how long the first one waits for its acknowledgement.
    static let maximumGroupSize = 64

    /// The transaction being passed from writer to writer. Only the writer holding the
    /// connection reads or changes it.
    private struct Group {
        /// Writers whose changes are in the transaction, waiting for its COMMIT.
        var pending: [CommitSignal] = []
        /// Writers that have joined, including those whose changes were rolled back.
        var joined = 1
    }

    /// A pool of the one write connection: its FIFO queue is the writers waiting for their turn.
    private let connection: SQLiteConnectionPool
    private let group = Mutex<Group?>(nil)
    private let counts = Mutex<(commits: Int, writes: Int)>((0, 0))
    private let groupSizes = Recorder(label: "flow_db_sqlite_commit_group_size")

    /// Where writers run while they hold the connection: on its own thread (see
    /// ``ConnectionThreadExecutor``), so the writer's statements, and the passing of the
    /// transaction from one writer to the next, need no thread switches.
    private let executor: ConnectionThreadExecutor

    init(connection: SQLiteHandle) {
        self.connection = SQLiteConnectionPool(name: "write", connections: [connection])
        self.executor = connection.executor
    }

    /// 1 while a writer holds the connection.
    var inUseCount: Int { connection.inUseCount }

    /// Writers queued for the connection.
    var waitingCount: Int { connection.waitingCount }

    /// COMMITs run and the writes they carried (a failed COMMIT counts with the writes it failed).
    var statistics: (commits: Int, writes: Int) { counts.withLock { $0 } }

    /// Runs `work` atomically, in a transaction that may be shared with the writers queued around
    /// it, and returns once that transaction has committed. Throws what `work` throws (its changes
    /// rolled back), or the error that made the shared transaction fail.
    func write<T>(_ work: (SQLiteHandle) async throws -> T) async throws -> T {
        let outcome = await withTaskExecutorPreference(executor) {
            let (outcome, committed) = await takeTurn(work)
            // Waiting here, the writer is resumed on the connection's thread by the writer that
            // commits, and leaves it for the caller's executor once (an event loop promise took
            // two more thread wake-ups per write).
            if let committed {
                do { try await committed.wait() } catch { return Result<T, any Error>.failure(error) }
            }
            return outcome
        }
        return try outcome.get()
    }

    /// Waits for the connection, runs `work` in the open transaction or a new one, and passes the
    /// transaction on or commits it. Returns the outcome of `work` and, when it succeeded, the
    /// signal of the COMMIT that carries its changes.
    private func takeTurn<T>(_ work: (SQLiteHandle) async throws -> T) async -> (Result<T, any Error>, CommitSignal?) {
        let connection: SQLiteHandle
        do {
            connection = try await self.connection.lease()
        } catch {
            return (.failure(error), nil)
        }
        let joining = group.withLock { $0 != nil }
        var outcome: Result<T, any Error>
        do {
            try await Self.control(connection, joining ? "SAVEPOINT writer" : "BEGIN IMMEDIATE")
            if !joining { group.withLock { $0 = Group() } }
            do {
                outcome = .success(try await work(connection))
            } catch {
                outcome = .failure(error)
                await undo(connection, joining: joining, cause: error)
            }
        } catch {
            outcome = .failure(error)  // nothing of this writer's ran; the group is as it was
        }
        // Writers that arrived meanwhile are jobs queued on this thread behind us (a statement
        // runs without suspending): let them join the queue, so the group can take them.
        await Task.yield()
        let signal: CommitSignal? = outcome.isSuccess ? CommitSignal() : nil
        if case .commit(let pending) = passOn(connection, pending: signal) {
            await commit(connection, pending: pending)
        }
        return (outcome, signal)
    }

    /// Takes back a failed writer's changes: its savepoint, or the whole transaction when it was
    /// the first (nobody else's changes are in it yet). When SQLite has already rolled the whole
    /// transaction back (the savepoint is gone), every writer waiting for it fails.
    private func undo(_ connection: SQLiteHandle, joining: Bool, cause: any Error) async {
        if joining {
            do {
                try await Self.control(connection, "ROLLBACK TO writer")
                return
            } catch {}
        }
        try? await Self.control(connection, "ROLLBACK")
        let lost = group.withLock { group in
            defer { group = nil }
            return group?.pending ?? []
        }
        let error = DatabaseError(.other, message: "the transaction this write shared with others was rolled back by SQLite: \(String(describing: DatabaseError.translate(cause)))")
        lost.forEach { $0.complete(.failure(error)) }
    }

    private enum Next {
        /// The connection went on: to the next writer (with the open transaction, if any) or
        /// back to the pool.
        case passedOn
        /// Nobody is waiting, or the group is full: the caller commits for `pending`.
        case commit(pending: [CommitSignal])
    }

    /// Passes the connection, with the open transaction, to the next queued writer, or says to
    /// commit now; `pending` is the finishing writer's own wait for the COMMIT, if it succeeded.
    private func passOn(_ connection: SQLiteHandle, pending: CommitSignal?) -> Next {
        let next: Next? = group.withLock { group in
            guard group != nil else { return nil }
            if let pending { group!.pending.append(pending) }
            // Under the lock: the next writer reads the group as soon as it has the connection.
            if group!.joined < Self.maximumGroupSize, self.connection.handOnIfWaiting(connection) {
                group!.joined += 1
                return .passedOn
            }
            return .commit(pending: group!.pending)
        }
        guard let next else {
            self.connection.release(connection)
            return .passedOn
        }
        return next
    }

    private func commit(_ connection: SQLiteHandle, pending: [CommitSignal]) async {
        var failure: (any Error)?
        do {
            try await Self.control(connection, "COMMIT")
        } catch {
            failure = error
            // A failed COMMIT (SQLITE_BUSY, a deferred constraint) leaves the transaction open.
            try? await Self.control(connection, "ROLLBACK")
        }
        let joined = group.withLock { group in
            defer { group = nil }
            return group?.joined ?? 1
        }
        counts.withLock { $0 = ($0.commits + 1, $0.writes + joined) }
        groupSizes.record(joined)
        self.connection.release(connection)
        for signal in pending {
            signal.complete(failure.map { .failure($0) } ?? .success(()))
        }
    }

    /// Runs a transaction-control statement (``SQLiteHandle`` runs it even when the calling task
    /// is cancelled, so the shared transaction is never left open half-way).
    private static func control(_ connection: SQLiteHandle, _ statement: String) async throws {
        try await connection.query(statement)
    }

    /// Refuses new writes, fails queued ones, and closes the connection once the writer holding
    /// it (and its group's COMMIT) has finished.
    func close() async {
        await connection.close()
    }
}

/// One writer's wait for the COMMIT that carries its changes: completed once, by the writer that
/// commits (or rolls back) for the group.
private final class CommitSignal: Sendable {
    private let state = Mutex<(outcome: Result<Void, any Error>?, waiter: CheckedContinuation<Void, any Error>?)>((nil, nil))

    func complete(_ outcome: Result<Void, any Error>) {
        let waiter = state.withLock { state in
            state.outcome = outcome
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: outcome)
    }

    /// Returns (or throws) once completed; at once if it already is.
    func wait() async throws {
        if let outcome = state.withLock({ $0.outcome }) { return try outcome.get() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = state.withLock { state in
                if state.outcome == nil { state.waiter = continuation }
                return state.outcome
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }
}

private extension Result {
    var isSuccess: Bool {
        if case .success = self { true } else { false }
    }
}

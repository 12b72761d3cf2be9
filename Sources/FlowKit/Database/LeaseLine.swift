import Synchronization

/// A fixed set of resources lent one holder at a time, with the tasks that wait for one served
/// in arrival order: SQLite's connections (``SQLiteConnectionPool``) and the PostgreSQL pool's
/// connection slots (``PostgresLeaseWatch``).
///
/// A waiter leaves the line when its task is cancelled, when ``failWaiters(queuedBefore:with:)``
/// expires it, or when the line closes. No timer runs per lease: deadlines are enforced by whoever
/// calls ``failWaiters(queuedBefore:with:)`` now and then.
final class LeaseLine<Resource: Sendable>: Sendable {
    private struct Waiter {
        let id: UInt64
        let since: ContinuousClock.Instant
        let continuation: CheckedContinuation<Resource, any Error>
    }

    private enum LeaseOutcome {
        case leased(Resource), closed, cancelled, queued
    }

    private struct State {
        var idle: [Resource]
        var waiters: [Waiter] = []
        var inUse = 0
        var closed = false
        /// Resumed once the line is closed and every resource has come back.
        var drained: [CheckedContinuation<Void, Never>] = []
    }

    /// Names the line in errors ("the SQLite read pool is closed").
    private let name: String
    private let state: Mutex<State>
    /// Waiter ids, taken before the lock (the cancellation handler needs one either way).
    private let waiterIDs = Atomic<UInt64>(0)

    init(name: String, resources: [Resource]) {
        self.name = name
        self.state = Mutex(State(idle: resources))
    }

    var inUseCount: Int { state.withLock { $0.inUse } }
    var waitingCount: Int { state.withLock { $0.waiters.count } }

    private var closedError: DatabaseError { DatabaseError(.unavailable, message: "the \(name) is closed") }

    /// A resource, at once if one is idle, else when one comes back for this task.
    func lease() async throws -> Resource {
        let waiterID = waiterIDs.wrappingAdd(1, ordering: .relaxed).newValue
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let outcome: LeaseOutcome = state.withLock { state in
                    if state.closed { return .closed }
                    if let resource = state.idle.popLast() {
                        state.inUse += 1
                        return .leased(resource)
                    }
                    // Checked under the lock: if cancellation already ran its handler, it found no
                    // waiter to remove, so this task must not queue.
                    if Task.isCancelled { return .cancelled }
                    state.waiters.append(Waiter(id: waiterID, since: .now, continuation: continuation))
                    return .queued
                }
                switch outcome {
                case .leased(let resource): continuation.resume(returning: resource)
                case .closed: continuation.resume(throwing: closedError)
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .queued: break
                }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> CheckedContinuation<Resource, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == waiterID }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    /// Passes `resource` straight to the first waiter, if there is one; otherwise the caller
    /// keeps it. Atomic with the line: a waiter that gives up meanwhile is skipped.
    func handOnIfWaiting(_ resource: Resource) -> Bool {
        let next = state.withLock { state in
            state.waiters.isEmpty ? nil : state.waiters.removeFirst().continuation
        }
        next?.resume(returning: resource)
        return next != nil
    }

    /// Gives `resource` back: to the first waiter, or to the idle set.
    func release(_ resource: Resource) {
        let (next, drained) = state.withLock { state -> (CheckedContinuation<Resource, any Error>?, [CheckedContinuation<Void, Never>]) in
            if !state.waiters.isEmpty {
                return (state.waiters.removeFirst().continuation, [])
            }
            state.inUse -= 1
            state.idle.append(resource)
            guard state.closed, state.inUse == 0 else { return (nil, []) }
            defer { state.drained.removeAll() }
            return (nil, state.drained)
        }
        next?.resume(returning: resource)
        drained.forEach { $0.resume() }
    }

    /// Fails, with `error`, the waiters that joined the line before `cutoff`.
    func failWaiters(queuedBefore cutoff: ContinuousClock.Instant, with error: @autoclosure () -> any Error) {
        let expired = state.withLock { state -> [CheckedContinuation<Resource, any Error>] in
            // Arrival order: the expired ones are a prefix.
            let count = state.waiters.prefix { $0.since < cutoff }.count
            defer { state.waiters.removeFirst(count) }
            return state.waiters.prefix(count).map(\.continuation)
        }
        guard !expired.isEmpty else { return }
        let error = error()
        expired.forEach { $0.resume(throwing: error) }
    }

    /// Refuses new leases and fails the waiting ones.
    func close() {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters.map(\.continuation)
        }
        let error = closedError
        waiters.forEach { $0.resume(throwing: error) }
    }

    /// Returns once the line is closed and every lease has ended, with the resources. Leases end
    /// when their holders finish; this wait must not depend on the task (shutdown may run in a
    /// cancelled one).
    func drain() async -> [Resource] {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let drainedAlready = state.withLock { state in
                if state.closed, state.inUse == 0 { return true }
                state.drained.append(continuation)
                return false
            }
            if drainedAlready { continuation.resume() }
        }
        return state.withLock { state in
            defer { state.idle.removeAll() }
            return state.idle
        }
    }
}

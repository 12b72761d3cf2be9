import Synchronization

/// A one-way latch: tasks wait until it opens, then pass forever. The server opens its
/// `schemaReady` gate once migrations are applied (or verified), and background workers wait
/// on it so they never query tables that do not exist yet.
public final class Gate: Sendable {
    private struct State {
        var open = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    public init(open: Bool = false) {
        state.withLock { $0.open = open }
    }

    public func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        waiters.forEach { $0.resume() }
    }

    public var isOpen: Bool { state.withLock { $0.open } }

    /// Returns when the gate is open (at once if it is), or when the task is cancelled.
    public func wait() async {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let passNow = state.withLock { state in
                    if state.open || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if passNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// A ``Gate`` that opens once `expected` parties have arrived (or left without waiting), or when
/// ``open()`` is called: a barrier for tasks that must hold something at the same time, such as
/// leases that must land on different pooled connections (``PostgresKeepAlive``).
final class CountdownGate: Sendable {
    private let gate = Gate()
    private let remaining: Atomic<Int>

    init(expected: Int) {
        remaining = Atomic(expected)
    }

    /// Counts as one of the expected and waits until the gate opens.
    func arrive() async {
        leave()
        await gate.wait()
    }

    /// Counts as one of the expected without waiting.
    func leave() {
        if remaining.subtract(1, ordering: .relaxed).newValue == 0 { gate.open() }
    }

    func open() { gate.open() }
}

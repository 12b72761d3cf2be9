import Synchronization

/// Lets a worker sleep until there may be work: a poke (a notification, shutdown) or a timeout,
/// whichever comes first. Pokes while nobody waits are remembered, once.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func poke() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Forgets pokes so far. A worker calls this just before it claims: that claim sees every
    /// event whose notification poked it until now (or, on PostgreSQL, says that some wait
    /// behind an older running transaction), so a remembered poke would only make the
    /// worker claim again and come back empty (under load most claims were empty: 19,400 of
    /// 26,900 in `scripts/bench-bus` on PostgreSQL).
    func clear() {
        state.withLock { $0.pending = false }
    }

    /// Returns at the next poke, at `timeout`, or when the task is cancelled.
    func wait(timeout: Duration) async {
        let timer = Task { [weak self] in
            // Cancelled when the wait ends first: that must not leave a poke behind.
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self?.poke()
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            poke()
        }
    }
}

import PostgresNIO
import Synchronization

/// How requests wait for a PostgreSQL connection: in Flow's own line, at most `acquireTimeout`.
///
/// postgres-nio's pool queues lease requests while it cannot reach the server and fails them only
/// when its circuit breaker trips, after a minute; Flow answers 503 after `acquireTimeout`
/// instead. Bounding the pool's own wait takes a child task per lease (the lease racing a timer
/// in a task group), and that hop cost ~150 µs of CPU per lease: 12–17% of Flow's CPU per nearby
/// search (2026-12-03). So requests queue in a ``LeaseLine`` of `poolSize` slots in front of the
/// pool, whose deadlines one sweep enforces for all, and a request holding a slot asks the pool
/// for a connection the pool has to hand: at most `poolSize` leases are out, so one of its
/// `poolSize` connections is idle or may be opened.
///
/// The pool's own wait is bounded only while the pool is not known to be *serving*: at start,
/// after any pooled connection closed (the server stopped or restarted, a network error, the idle
/// timeout) and after a query failed for want of a connection, until a lease is granted again.
/// Then a slot holder waits for its connection with the child-task deadline, for what is left of
/// `acquireTimeout`. Serving resumes with the grant of a connection opened after the loss, or of
/// one that outlived it by a second.
///
/// What this gives up: a request that found the pool serving an instant before the server went
/// away (between the check and its lease, while the close is on its way) waits for the pool
/// itself: it gets its connection when the server is back, or fails when the pool's circuit
/// breaker trips after a minute. Requests that come once the close is seen get their 503 in time
/// (tests/system/test_resilience.py stops PostgreSQL under traffic).
final class PostgresLeases: Sendable {
    let acquireTimeout: Duration
    private let slots: LeaseLine<Int>
    private let serving = Atomic<Bool>(false)
    private let connections = Mutex(Connections())

    /// The pool's connections as leases saw them. Ids grow with each connection the pool opens.
    private struct Connections {
        /// Open connections whose closing is watched: the pool reuses them, so each is watched once.
        var open: Set<PostgresConnection.ID> = []
        var newest: PostgresConnection.ID = -1
        /// The newest connection seen when one was last lost, and when: a newer one restores
        /// serving, and so does an older one that outlived the loss by ``survivalProof``.
        var newestAtLastLoss: PostgresConnection.ID = -1
        var lastLoss: ContinuousClock.Instant?
    }

    /// A server going down closes all its connections within milliseconds; a connection still
    /// granted this long after a loss has outlived it (the loss was one connection: the pool's
    /// idle timeout, a backend terminated), so the pool serves. Without this, a pool that shrank
    /// after a quiet spell kept the per-lease deadline until it opened a connection again.
    static let survivalProof: Duration = .seconds(1)

    /// Whether leases skip the per-lease deadline now; for tests.
    var isServing: Bool { serving.load(ordering: .relaxed) }

    init(poolSize: Int, acquireTimeout: Duration) {
        self.acquireTimeout = acquireTimeout
        self.slots = LeaseLine(name: "PostgreSQL pool", resources: Array(0..<poolSize))
    }

    private var timedOut: DatabaseError {
        DatabaseError(.unavailable, message: "no PostgreSQL connection became available within \(acquireTimeout)")
    }

    /// Runs `lease`, which must call `granted` with the connection as soon as the pool hands it
    /// over, once a slot is free; fails with ``DatabaseError/Kind/unavailable`` when slot and
    /// connection took longer than `acquireTimeout`. The bound covers the wait, not the work.
    func lease<T: Sendable>(_ lease: @Sendable (_ granted: @escaping @Sendable (PostgresConnection) -> Void) async throws -> T) async throws -> T {
        let asked = ContinuousClock.now
        let slot = try await slots.lease()
        defer { slots.release(slot) }
        do {
            if serving.load(ordering: .relaxed) {
                return try await lease { self.recordGrant(of: $0) }
            }
            return try await leaseWithDeadline(asked + acquireTimeout, lease)
        } catch {
            // A query cut off by a closing connection fails before the channel's close callbacks
            // run: stop serving now, before the slot passes to a waiter that would otherwise ask
            // the pool for a connection it can no longer open.
            if (DatabaseError.translate(error) as? DatabaseError)?.kind == .unavailable { stopServing(lost: nil) }
            throw error
        }
    }

    private func leaseWithDeadline<T: Sendable>(_ deadline: ContinuousClock.Instant,
                                                _ lease: @Sendable (_ granted: @escaping @Sendable (PostgresConnection) -> Void) async throws -> T) async throws -> T {
        let granted = AtomicFlag()
        let timedOut = timedOut
        return try await withoutActuallyEscaping(lease) { lease in
            try await withThrowingTaskGroup(of: LeaseOutcome<T>.self) { group in
                group.addTask {
                    .finished(try await lease { connection in
                        granted.set()
                        self.recordGrant(of: connection)
                    })
                }
                group.addTask {
                    try await Task.sleep(until: deadline)
                    if granted.isSet { return .grantedInTime }
                    throw timedOut
                }
                while let outcome = try await group.next() {
                    if case .finished(let value) = outcome {
                        group.cancelAll()
                        return value
                    }
                }
                throw CancellationError()
            }
        }
    }

    private func recordGrant(of connection: PostgresConnection) {
        let id = connection.id
        let firstSight = connections.withLock { connections in
            let firstSight = connections.open.insert(id).inserted
            if firstSight { connections.newest = max(connections.newest, id) }
            // A connection opened since the last loss proves the server is back; an older one only
            // once it has outlived the loss (a server going down closes them one by one).
            if !serving.load(ordering: .relaxed),
               id > connections.newestAtLastLoss || connections.lastLoss.map({ .now - $0 > Self.survivalProof }) ?? true {
                serving.store(true, ordering: .relaxed)
            }
            return firstSight
        }
        guard firstSight else { return }
        connection.closeFuture.whenComplete { _ in self.stopServing(lost: id) }
    }

    /// A connection closed, or a query failed for want of one (`lost` nil).
    private func stopServing(lost id: PostgresConnection.ID?) {
        connections.withLock { connections in
            if let id { connections.open.remove(id) }
            connections.newestAtLastLoss = connections.newest
            connections.lastLoss = .now
            serving.store(false, ordering: .relaxed)
        }
    }

    /// Fails the requests that have waited `acquireTimeout` for a slot, looking every 100 ms (every
    /// tenth of a shorter timeout); when cancelled (the pool stops), closes the line.
    func expireWaiters() async {
        let interval = min(acquireTimeout / 10, .milliseconds(100))
        while true {
            do { try await Task.sleep(for: interval) } catch { break }
            slots.failWaiters(queuedBefore: .now - acquireTimeout, with: timedOut)
        }
        slots.close()
    }
}

private enum LeaseOutcome<T: Sendable>: Sendable {
    case finished(T)
    case grantedInTime
}

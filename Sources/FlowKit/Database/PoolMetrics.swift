import Metrics
import Synchronization

/// Pool use for `/metrics`: connections in use, the configured size, and how long callers waited
/// for a connection, labelled by engine and by pool (`read` or `write`).
final class PoolMetrics: Sendable {
    enum Pool: String, CaseIterable {
        case read
        case write
    }

    private struct Instruments: Sendable {
        let acquireWait: Timer
        let inUse: Meter
    }

    private let instruments: [Pool: Instruments]
    private let inUseCount = Atomic<Int>(0)

    init(engine: DatabaseEngine, poolSize: Int) {
        Gauge(label: "flow_db_pool_size", dimensions: [("engine", engine.rawValue)]).record(poolSize)
        var instruments: [Pool: Instruments] = [:]
        for pool in Pool.allCases {
            let dimensions = [("engine", engine.rawValue), ("pool", pool.rawValue)]
            instruments[pool] = Instruments(
                acquireWait: Timer(label: "flow_db_acquire_duration_seconds", dimensions: dimensions),
                inUse: Meter(label: "flow_db_connections_in_use", dimensions: dimensions))
        }
        self.instruments = instruments
    }

    var inUse: Int { inUseCount.load(ordering: .relaxed) }

    /// Wraps the time a connection is held: records the wait that preceded it and counts it as in use.
    func leased<T>(pool: Pool, waitedSince start: ContinuousClock.Instant, _ work: () async throws -> T) async rethrows -> T {
        let instruments = instruments[pool]!
        instruments.acquireWait.record(duration: ContinuousClock.now - start)
        inUseCount.add(1, ordering: .relaxed)
        instruments.inUse.increment()
        defer {
            inUseCount.subtract(1, ordering: .relaxed)
            instruments.inUse.decrement()
        }
        return try await work()
    }
}

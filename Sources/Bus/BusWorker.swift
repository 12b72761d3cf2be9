import FlowKit
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The `worker` role's share of the bus: runs every registered consumer group's workers, wakes
/// them on new work (notifications, with a polling fallback), samples lag for `/metrics` and
/// prunes old events. Several processes may run it at once; claims keep them from handling one
/// delivery twice concurrently.
///
/// On graceful shutdown each worker finishes and records the batch it holds, then stops.
public struct BusWorkerService: Service {
    let bus: EventBus
    let pollInterval: Duration
    let retention: Duration
    let maintenanceInterval: Duration
    let startAfter: Gate
    let logger: Logger

    public init(
        bus: EventBus, pollInterval: Duration = .seconds(1), retention: Duration, maintenanceInterval: Duration = .seconds(600),
        startAfter: Gate = Gate(open: true), logger: Logger
    ) {
        self.bus = bus
        self.pollInterval = pollInterval
        self.retention = retention
        self.maintenanceInterval = maintenanceInterval
        self.startAfter = startAfter
        self.logger = logger
    }

    public func run() async throws {
        // Not before the bus tables exist; a shutdown meanwhile ends the wait too.
        await cancelWhenGracefulShutdown { await self.startAfter.wait() }
        guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
        let process = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
        var crews: [String: WorkerCrew] = [:]
        let workers = bus.groups.flatMap { group in
            let crew = WorkerCrew(size: group.concurrency)
            crews[group.name] = crew
            return (0..<group.concurrency).map { index in
                GroupWorker(bus: bus, group: group, name: "\(process):\(group.name):\(index):\(UUIDv7.string().suffix(8))",
                            pollInterval: pollInterval, crew: crew, wakeup: crew.wakeups[index], logger: logger)
            }
        }
        let wakeCrews = crews
        let stopping = AtomicFlag()
        let shutdown = Wakeup()
        let notifications = bus.database.notifications(EventBus.wakeChannel, bufferingNewest: 256)
        logger.info("bus workers starting", metadata: ["groups": "\(bus.groups.map(\.name).joined(separator: ","))", "workers": "\(workers.count)"])

        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { tasks in
                // Wake-ups: the payload lists the groups that got work. When the PostgreSQL
                // listener (re)starts, work posted meanwhile may be waiting for every group.
                tasks.addTask {
                    for await notification in notifications {
                        switch notification {
                        case .posted(let payload):
                            for group in payload.split(separator: ",") { wakeCrews[String(group)]?.wakeOne() }
                        case .listening:
                            for crew in wakeCrews.values { crew.wakeOne() }
                        }
                    }
                }
                tasks.addTask { await self.maintain(until: stopping) }
                await withTaskGroup(of: Void.self) { group in
                    for worker in workers {
                        group.addTask { await worker.run(until: stopping) }
                    }
                    // Runs until shutdown even with no groups registered: maintenance goes on.
                    group.addTask {
                        while !stopping.isSet && !Task.isCancelled { await shutdown.wait(timeout: .seconds(3600)) }
                    }
                }
                // Every worker has stopped: end the helpers too.
                tasks.cancelAll()
            }
        } onGracefulShutdown: {
            stopping.set()
            shutdown.poke()
            workers.forEach { $0.wakeup.poke() }
        }
        logger.info("bus workers stopped")
    }

    /// Lag gauges every 5 s; pruning every `maintenanceInterval`.
    private func maintain(until stopping: AtomicFlag) async {
        var lastPrune = ContinuousClock.now - maintenanceInterval + .seconds(60)  // first prune a minute after start
        var analyzedBacklog = 0
        while !stopping.isSet && !Task.isCancelled {
            do {
                let statuses = try await bus.status()
                for status in statuses { BusMetrics.backlog(status) }
                let backlog = statuses.reduce(0) { $0 + $1.pending }
                // Also once a large backlog has drained: the drained rows are dead tuples that
                // every claim on PostgreSQL would step over until they are vacuumed.
                if max(backlog, analyzedBacklog) > 1000 && (backlog > analyzedBacklog * 2 || backlog < analyzedBacklog / 4) {
                    try await bus.store.refreshStatistics()
                    analyzedBacklog = backlog
                }
                if ContinuousClock.now - lastPrune >= maintenanceInterval {
                    lastPrune = ContinuousClock.now
                    let pruned = try await bus.prune(retention: retention)
                    if pruned > 0 { logger.info("pruned bus events", metadata: ["count": "\(pruned)"]) }
                }
            } catch {
                if Task.isCancelled || stopping.isSet { return }  // shutting down, not failing
                logger.warning("bus maintenance failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(5))
        }
    }
}

/// One worker of one group: claim a batch, run its handlers concurrently, record the outcomes.
struct GroupWorker: Sendable {
    let bus: EventBus
    let group: ConsumerGroup
    let name: String
    let pollInterval: Duration
    let crew: WorkerCrew
    let wakeup: Wakeup
    let logger: Logger

    init(bus: EventBus, group: ConsumerGroup, name: String, pollInterval: Duration, crew: WorkerCrew? = nil, wakeup: Wakeup? = nil, logger: Logger) {
        let ownWakeup = wakeup ?? Wakeup()
        self.bus = bus
        self.group = group
        self.name = name
        self.pollInterval = pollInterval
        self.crew = crew ?? WorkerCrew(wakeups: [ownWakeup])
        self.wakeup = ownWakeup
        self.logger = logger
    }
    /// The first look again after a claim that said so (``BusStore/Batch/lookAgainSoon``).
    static let firstLookAgainDelay = Duration.milliseconds(2)

    func run(until stopping: AtomicFlag) async {
        var failureDelay = Duration.milliseconds(200)
        var lookAgainDelay = Self.firstLookAgainDelay
        // A batch whose deliveries were all handled is deleted by the next claim, in the same
        // write (BusStore.claim), and never later than that: the next claim follows at once or
        // after the linger, and an empty claim has acknowledged it before the worker sleeps.
        var unacknowledged: [BusStore.Claimed] = []
        while !stopping.isSet && !Task.isCancelled {
            do {
                wakeup.clear()
                let claim = try await bus.store.claimBatch(group: group, worker: name, limit: group.batchSize, now: Date(),
                                                           acknowledging: unacknowledged.map(\.lease))
                let batch = claim.claimed
                if !unacknowledged.isEmpty { BusMetrics.outcome(group: group.name, handled: unacknowledged.count, retried: 0, deadLettered: 0) }
                unacknowledged = []
                failureDelay = .milliseconds(200)
                if batch.isEmpty {
                    // The claim cleared any shutdown poke; the flag set before it still counts.
                    if stopping.isSet { break }
                    if claim.lookAgainSoon {
                        // Their notification came and went: look again soon, less often the
                        // longer the transaction in front of them runs.
                        await wakeup.wait(timeout: lookAgainDelay)
                        lookAgainDelay = min(lookAgainDelay * 2, pollInterval)
                    } else {
                        lookAgainDelay = Self.firstLookAgainDelay
                        await wakeup.wait(timeout: pollInterval)
                    }
                    continue
                }
                lookAgainDelay = Self.firstLookAgainDelay
                // A full batch means more may be waiting: bring in another worker of the group.
                if batch.count == group.batchSize { crew.wakeOne() }
                let outcomes = await handle(batch)
                if outcomes.allSatisfy({ if case .handled = $0.1 { true } else { false } }) {
                    unacknowledged = batch
                } else {
                    try await record(outcomes)
                }
                // A part-full batch means the worker keeps up with publishers one event at a time;
                // pausing briefly lets the next claim take several at once, which cuts the write
                // transactions per event under load. An idle worker still wakes at once.
                if batch.count < group.batchSize {
                    try? await Task.sleep(for: group.linger)
                }
            } catch {
                // The database is unreachable or busy: claims held now expire and are redelivered
                // (handled ones too, if their claim expires before the database is back).
                logger.warning("bus worker cannot reach the database; retrying", metadata: ["group": "\(group.name)", "error": "\(error)"])
                await wakeup.wait(timeout: failureDelay)
                failureDelay = min(failureDelay * 2, .seconds(10))
            }
        }
        // Stopping: the last handled batch is not left to be redelivered.
        if !unacknowledged.isEmpty {
            do {
                try await record(unacknowledged.map { ($0, .handled) })
            } catch {
                logger.warning("bus worker stopped before recording handled deliveries; they will be redelivered",
                               metadata: ["group": "\(group.name)", "count": "\(unacknowledged.count)", "error": "\(error)"])
            }
        }
    }

    /// Records outcomes that include failures (retries, dead letters), or a last handled batch.
    private func record(_ outcomes: [(BusStore.Claimed, BusStore.Outcome)]) async throws {
        let counts = try await bus.store.complete(outcomes, group: group, worker: name, now: Date())
        BusMetrics.outcome(group: group.name, handled: counts.handled, retried: counts.retried, deadLettered: counts.deadLettered)
        if counts.deadLettered > 0 {
            logger.warning("bus deliveries moved to dead letters", metadata: ["group": "\(group.name)", "count": "\(counts.deadLettered)"])
        }
    }

    private func handle(_ batch: [BusStore.Claimed]) async -> [(BusStore.Claimed, BusStore.Outcome)] {
        await withTaskGroup(of: (BusStore.Claimed, BusStore.Outcome).self) { tasks in
            for claimed in batch {
                // Handed out again after its last allowed attempt's claim expired: whatever it
                // does kills or stalls the worker, so it goes to the dead letters unhandled
                // instead of coming back (with its whole batch) forever.
                if claimed.attempt > group.retry.maxAttempts {
                    let error = "claimed \(claimed.attempt - 1) times without being finished: the worker died or outlasted the claim timeout"
                    tasks.addTask { (claimed, .failed(error: error)) }
                    continue
                }
                tasks.addTask {
                    let started = ContinuousClock.now
                    do {
                        try await group.handler(claimed.event, DeliveryAttempt(number: claimed.attempt, group: group.name))
                        BusMetrics.handlerDuration(group: group.name, ContinuousClock.now - started)
                        BusMetrics.endToEnd(group: group.name, seconds: Date().timeIntervalSince(claimed.event.occurredAt))
                        return (claimed, .handled)
                    } catch {
                        BusMetrics.handlerDuration(group: group.name, ContinuousClock.now - started)
                        logger.debug("bus handler failed", metadata: [
                            "group": "\(group.name)", "event_id": "\(claimed.event.id)", "type": "\(claimed.event.type)",
                            "attempt": "\(claimed.attempt)", "error": "\(error)",
                        ])
                        return (claimed, .failed(error: String(String(describing: error).prefix(2000))))
                    }
                }
            }
            var outcomes: [(BusStore.Claimed, BusStore.Outcome)] = []
            for await outcome in tasks { outcomes.append(outcome) }
            return outcomes
        }
    }
}

/// The workers of one group in this process. A notification wakes one of them (round robin),
/// not all: waking every worker for one event only makes them race for it. A worker that finds
/// a full batch wakes the next.
final class WorkerCrew: Sendable {
    let wakeups: [Wakeup]
    private let next = Atomic<Int>(0)

    init(size: Int) {
        wakeups = (0..<max(1, size)).map { _ in Wakeup() }
    }

    init(wakeups: [Wakeup]) {
        self.wakeups = wakeups
    }

    func wakeOne() {
        let index = next.add(1, ordering: .relaxed).newValue
        wakeups[index % wakeups.count].poke()
    }
}

// flow-bus-probe: drives the real Bus library in separate processes, for what in-process tests
// cannot show: a worker killed with SIGKILL mid-batch (tests/system/test_bus_processes.py) and
// end-to-end throughput and latency (scripts/bench-bus). It is not part of the server.
import ArgumentParser
import Bus
import FlowKit
import Foundation
import Logging
import NIOPosix
import NIOCore
import ServiceLifecycle
import SQLKit
import Synchronization

struct ProbeTick: DomainEvent {
    static let type = "probe.tick"
    static let version = 1
    let index: Int

    func validate() -> [FieldProblem] {
        index < 0 ? [FieldProblem(field: "index", problem: "must not be negative")] : []
    }
}

struct DatabaseOptions: ParsableArguments {
    @Option(help: "FLOW_DATABASE_URL-style location (sqlite:PATH or postgres://…).") var database: String
    @Option(help: "Connection pool size.") var poolSize = Database.Options.defaultPoolSize
    @Option(help: "SQLite synchronous mode: full or normal.") var synchronous = "full"

    func open(logger: Logger) async throws -> Database {
        FlowMetrics.bootstrap()
        let options = Database.Options(poolSize: poolSize, sqliteSynchronous: Database.SQLiteSynchronous(rawValue: synchronous) ?? .full)
        return try await Database.open(try DatabaseLocation(url: database), options: options, logger: logger)
    }
}

func makeLogger() -> Logger {
    var logger = Logger(label: "flow-bus-probe")
    logger.logLevel = .warning
    return logger
}

struct ProbeFailure: Error, CustomStringConvertible {
    var description: String { "probe handler told to fail" }
}

func makeGroups(
    count: Int, slow: Duration, batchSize: Int, claimTimeout: Duration, maxAttempts: Int = 8,
    handle: @escaping ConsumerGroup.Handler
) -> [ConsumerGroup] {
    (1...count).map { index in
        ConsumerGroup(
            name: "probe.g\(index)", eventTypes: [ProbeTick.type], retry: RetryPolicy(maxAttempts: maxAttempts, baseDelay: .milliseconds(50)),
            batchSize: batchSize, claimTimeout: claimTimeout
        ) { envelope, attempt in
            if slow > .zero { try await Task.sleep(for: slow) }
            try await handle(envelope, attempt)
        }
    }
}

@main
enum Entry {
    static func main() async {
        if ProcessInfo.processInfo.environment["PROBE_NIO_EXECUTOR"] == "1" {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        await Probe.main()
    }
}

struct Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow-bus-probe", abstract: "Drive the Flow event bus from separate processes (tests and benchmarks).",
        subcommands: [Migrate.self, Publish.self, Work.self, Bench.self, RoundTrip.self])

    /// The database layer's own floor: sequential `SELECT 1` reads and empty transactions.
    struct RoundTrip: AsyncParsableCommand {
        @OptionGroup var db: DatabaseOptions
        @Option var count = 2000

        func run() async throws {
            let database = try await db.open(logger: makeLogger())
            let count = self.count
            try await database.withRunning {
                let read: @Sendable () async throws -> Void = { _ = try await database.read { try await $0.raw("SELECT 1 AS one").all() } }
                let write: @Sendable () async throws -> Void = { _ = try await database.transaction { try await $0.sql.raw("SELECT 1 AS one").all() } }
                for (label, body) in [("read SELECT 1", read), ("transaction SELECT 1", write)] {
                    for _ in 0..<100 { try await body() }
                    var samples: [Double] = []
                    for _ in 0..<count {
                        let start = ContinuousClock.now
                        try await body()
                        let elapsed = ContinuousClock.now - start
                        samples.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
                    }
                    samples.sort()
                    print(String(format: "%@: p50 %.0f µs, p99 %.0f µs", label, samples[samples.count / 2], samples[samples.count * 99 / 100]))
                }
            }
        }
    }

    struct Migrate: AsyncParsableCommand {
        @OptionGroup var db: DatabaseOptions

        func run() async throws {
            let database = try await db.open(logger: makeLogger())
            try await database.withRunning {
                try await Migrator(database: database, sets: [MigrationSet(domain: "bus", BusModule.migrationsForTools)], logger: makeLogger()).migrate()
                try await database.transaction { tx in
                    try await tx.sql.raw("""
                        CREATE TABLE IF NOT EXISTS probe_handled (event_id TEXT NOT NULL, consumer_group TEXT NOT NULL, worker TEXT NOT NULL, attempt INTEGER NOT NULL)
                        """).run()
                }
            }
        }
    }

    struct Publish: AsyncParsableCommand {
        @OptionGroup var db: DatabaseOptions
        @Option var count = 100
        @Option(help: "Consumer groups probe.g1…gN the events fan out to.") var groups = 1

        func run() async throws {
            let logger = makeLogger()
            let database = try await db.open(logger: logger)
            let bus = EventBus(database: database, logger: logger)
            bus.register(ProbeTick.self)
            for group in makeGroups(count: groups, slow: .zero, batchSize: 1, claimTimeout: .seconds(60), handle: { _, _ in }) {
                try bus.register(group)
            }
            let publisher = bus.publisher(producer: "probe")
            try await database.withRunning {
                for index in 0..<count {
                    try await database.transaction { tx in _ = try await publisher.publish(ProbeTick(index: index), in: tx) }
                }
            }
        }
    }

    /// A worker process: handles probe.g1…gN, recording each handling in probe_handled,
    /// until SIGTERM (graceful) or SIGKILL.
    struct Work: AsyncParsableCommand {
        @OptionGroup var db: DatabaseOptions
        @Option var groups = 1
        @Option(help: "Milliseconds each handler takes.") var slowMs = 0
        @Option var batchSize = 16
        @Option(help: "Claim timeout in milliseconds.") var claimTimeoutMs = 2000
        @Option(help: "Name recorded with each handling.") var name = "worker"
        @Flag(help: "Make every handler throw (to produce retries and dead letters).") var fail = false
        @Option(help: "Attempts before a delivery becomes a dead letter.") var maxAttempts = 8
        @Option(help: "After recording this many handlings, every further handler hangs (holding its claim) until the process is killed.")
        var stallAfter: Int?

        func run() async throws {
            let logger = makeLogger()
            let database = try await db.open(logger: logger)
            let bus = EventBus(database: database, logger: logger)
            bus.register(ProbeTick.self)
            let (name, fail, stallAfter) = (self.name, self.fail, self.stallAfter)
            let recorded = Atomic<Int>(0)
            for group in makeGroups(
                count: groups, slow: .milliseconds(slowMs), batchSize: batchSize, claimTimeout: .milliseconds(claimTimeoutMs),
                maxAttempts: maxAttempts,
                handle: { envelope, attempt in
                    if fail { throw ProbeFailure() }
                    try await database.transaction { tx in
                        try await tx.sql.raw("""
                            INSERT INTO probe_handled (event_id, consumer_group, worker, attempt)
                            VALUES (\(bind: envelope.id), \(bind: attempt.group), \(bind: name), \(bind: attempt.number))
                            """).run()
                    }
                    // A test that kills this process needs it to die holding claims, not between two batches.
                    if let stallAfter, recorded.add(1, ordering: .relaxed).newValue >= stallAfter {
                        try await Task.sleep(for: .seconds(3_600))
                    }
                })
            {
                try bus.register(group)
            }
            let worker = BusWorkerService(bus: bus, pollInterval: .milliseconds(100), retention: .seconds(86_400), logger: logger)
            let group = ServiceGroup(configuration: .init(services: [database, worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            FileHandle.standardOutput.write(Data("ready\n".utf8))
            try await group.run()
        }
    }

    /// End-to-end throughput and latency: publishers and workers in this process.
    struct Bench: AsyncParsableCommand {
        @OptionGroup var db: DatabaseOptions
        @Option var events = 20_000
        @Option var groups = 3
        @Option(help: "Concurrent publishing tasks.") var publishers = 4
        @Option(help: "Events per publishing transaction.") var perTransaction = 1
        @Option var batchSize = 128
        @Option(help: "Worker tasks per group.") var concurrency = 2
        @Option(help: "Events for the idle-latency run (published one at a time, 10 ms apart).") var idleEvents = 200

        func run() async throws {
            let logger = makeLogger()
            let database = try await db.open(logger: logger)
            let latencies = Mutex<[Double]>([])
            let handledCount = Atomic<Int>(0)
            let bus = EventBus(database: database, logger: logger)
            bus.register(ProbeTick.self)
            for index in 1...groups {
                try bus.register(ConsumerGroup(name: "probe.g\(index)", eventTypes: [ProbeTick.type], concurrency: concurrency, batchSize: batchSize) { envelope, _ in
                    let latency = Date().timeIntervalSince(envelope.occurredAt)
                    latencies.withLock { $0.append(latency) }
                    handledCount.add(1, ordering: .relaxed)
                })
            }
            let worker = BusWorkerService(bus: bus, pollInterval: .milliseconds(500), retention: .seconds(86_400), logger: logger)
            let publisher = bus.publisher(producer: "probe")
            let (events, publishers, perTransaction, groups, idleEvents) = (self.events, self.publishers, self.perTransaction, self.groups, self.idleEvents)

            try await database.withRunning {
                try await Migrator(database: database, sets: [MigrationSet(domain: "bus", BusModule.migrationsForTools)], logger: logger).migrate()
                let serviceGroup = ServiceGroup(configuration: .init(services: [worker], logger: logger))
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await serviceGroup.run() }
                    try await Task.sleep(for: .milliseconds(300))

                    // Idle: one event at a time, so latency is the wake-up path, not queueing.
                    func idleRun() async throws -> [Double] {
                        latencies.withLock { $0.removeAll() }
                        let before = handledCount.load(ordering: .relaxed)
                        for index in 0..<idleEvents {
                            try await database.transaction { tx in _ = try await publisher.publish(ProbeTick(index: index), in: tx) }
                            try await Task.sleep(for: .milliseconds(10))
                        }
                        while handledCount.load(ordering: .relaxed) < before + idleEvents * groups {
                            try await Task.sleep(for: .milliseconds(2))
                        }
                        return latencies.withLock { values in defer { values.removeAll() }; return values }
                    }
                    let idleBefore = try await idleRun()
                    let handledBefore = handledCount.load(ordering: .relaxed)

                    // Load: everything published as fast as the publishers go.
                    let start = ContinuousClock.now
                    try await withThrowingTaskGroup(of: Void.self) { publishing in
                        for worker in 0..<publishers {
                            publishing.addTask {
                                var index = worker * perTransaction
                                while index < events {
                                    let slice = index..<min(index + perTransaction, events)
                                    try await database.transaction { tx in
                                        for item in slice { _ = try await publisher.publish(ProbeTick(index: item), in: tx) }
                                    }
                                    index += publishers * perTransaction
                                }
                            }
                        }
                        try await publishing.waitForAll()
                    }
                    let published = ContinuousClock.now - start
                    while handledCount.load(ordering: .relaxed) < handledBefore + events * groups {
                        try await Task.sleep(for: .milliseconds(2))
                    }
                    let total = ContinuousClock.now - start
                    let loaded = latencies.withLock { values in defer { values.removeAll() }; return values }

                    let idleAfter = try await idleRun()
                    await serviceGroup.triggerGracefulShutdown()
                    try await tasks.waitForAll()

                    func seconds(_ duration: Duration) -> Double { Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }
                    func percentile(_ values: [Double], _ p: Double) -> Double {
                        let sorted = values.sorted()
                        return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000
                    }
                    print(String(format: "engine=%@ events=%d groups=%d publishers=%d per_tx=%d", database.engine.rawValue, events, groups, publishers, perTransaction))
                    print(String(format: "publish: %.0f events/s (%.2f s)", Double(events) / seconds(published), seconds(published)))
                    print(String(format: "end-to-end: %.0f events/s handled by all %d groups (%.0f deliveries/s), %.2f s",
                                 Double(events) / seconds(total), groups, Double(events * groups) / seconds(total), seconds(total)))
                    print(String(format: "latency under load: p50 %.1f ms, p99 %.1f ms", percentile(loaded, 0.5), percentile(loaded, 0.99)))
                    print(String(format: "latency idle: p50 %.2f ms, p99 %.2f ms (%d events, 10 ms apart, before the load)", percentile(idleBefore, 0.5), percentile(idleBefore, 0.99), idleEvents))
                    print(String(format: "latency idle right after the load: p50 %.2f ms, p99 %.2f ms", percentile(idleAfter, 0.5), percentile(idleAfter, 0.99)))
                    if database.engine == .sqlite {
                        // Group commit on the single writer, from the histogram /metrics exposes.
                        let exposition = FlowMetrics.exposition().split(separator: "\n")
                        func total(_ name: String) -> Double {
                            exposition.first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
                        }
                        let commits = total("flow_db_sqlite_commit_group_size_count")
                        print(String(format: "group commit: %.1f writes per COMMIT on average (%.0f COMMITs, whole run)",
                                     total("flow_db_sqlite_commit_group_size_sum") / max(1, commits), commits))
                    }
                }
            }
        }
    }
}

@testable import Bus
import FlowKit
import FlowTestSupport
import Foundation
import Logging
import ServiceLifecycle
import SQLKit
import Synchronization
import Testing

/// A test event: a note was written.
struct NoteWritten: DomainEvent {
    static let type = "test.note_written"
    static let version = 1
    let noteId: String
    let index: Int

    func validate() -> [FieldProblem] {
        noteId.isEmpty ? [FieldProblem(field: "noteId", problem: "must not be empty")] : []
    }
}

/// A bus on a fresh database of one engine, with its workers running in the background the
/// way the worker role runs them (possibly as several independent "processes").
struct BusHarness: Sendable {
    let database: Database
    let bus: EventBus
    let publisher: EventPublisher

    static func with(
        _ engine: TestEngine, workerProcesses: Int = 1, pollInterval: Duration = .milliseconds(20),
        groups: [ConsumerGroup], _ body: @Sendable (BusHarness) async throws -> Void
    ) async throws {
        try await TestDatabases.with(engine, poolSize: 6) { database in
            try await Migrator(database: database, sets: [MigrationSet(domain: "bus", BusMigrations.all)], logger: TestDatabases.logger).migrate()
            // Each "process" has its own EventBus instance with the same registrations, as
            // separate `flow serve --roles worker` processes would.
            let buses = try (0..<max(1, workerProcesses)).map { _ in
                let bus = EventBus(database: database, logger: TestDatabases.logger)
                bus.register(NoteWritten.self)
                for group in groups { try bus.register(group) }
                return bus
            }
            let services: [any Service] = buses.map {
                BusWorkerService(bus: $0, pollInterval: pollInterval, retention: .seconds(86_400), logger: TestDatabases.logger)
            }
            let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
            let serviceGroup = ServiceGroup(configuration: .init(
                services: (workerProcesses > 0 ? services : []) + [Idle(started: startedContinuation)], logger: TestDatabases.logger))
            let harness = BusHarness(database: database, bus: buses[0], publisher: buses[0].publisher(producer: "tests"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await serviceGroup.run() }
                // A shutdown triggered before the group runs would be missed: wait for it to run.
                for await _ in started { break }
                do {
                    try await body(harness)
                } catch {
                    await serviceGroup.triggerGracefulShutdown()
                    throw error
                }
                await serviceGroup.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }

    /// Publishes each event in its own transaction, in order.
    @discardableResult
    func publish(_ events: [NoteWritten], key: (NoteWritten) -> String? = { _ in nil }) async throws -> [EventEnvelope] {
        var published: [EventEnvelope] = []
        for event in events {
            let key = key(event)
            published.append(try await database.transaction { tx in
                try await publisher.publish(event, key: key, in: tx)
            })
        }
        return published
    }

    /// A claim that waits until it gets something. On PostgreSQL a log group's events become
    /// claimable only once every older transaction of the cluster has ended (BusLogMigration),
    /// and other tests keep transactions running on the shared test cluster.
    func claimWhenVisible(_ group: ConsumerGroup, worker: String = "w", limit: Int) async throws -> [BusStore.Claimed] {
        let claimed = Mutex<[BusStore.Claimed]>([])
        try await eventually("nothing became claimable") {
            let batch = try await bus.store.claim(group: group, worker: worker, limit: limit, now: Date())
            claimed.withLock { $0 = batch }
            return !batch.isEmpty
        }
        return claimed.withLock { $0 }
    }

    /// Runs `begin` in a transaction that stays open (holding its locks and its transaction id)
    /// while `body` runs, and commits it after.
    func whileTransactionOpen<T: Sendable>(
        _ begin: @escaping @Sendable (Transaction) async throws -> Void, _ body: () async throws -> T
    ) async throws -> T {
        let (opened, openedContinuation) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                try await database.transaction { tx in
                    try await begin(tx)
                    openedContinuation.yield()
                    for await _ in release { break }
                }
            }
            for await _ in opened { break }
            defer { releaseContinuation.finish() }
            let result = try await body()
            releaseContinuation.finish()
            try await tasks.waitForAll()
            return result
        }
    }

    /// Claimed or waiting deliveries and claimed log ranges: work not yet recorded as done.
    func outstanding() async throws -> Int {
        try await count("bus_deliveries") + count("bus_range_claims")
    }

    func count(_ table: String) async throws -> Int {
        try await database.read { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()!.decode(column: "n", as: Int.self)
        }
    }
}

/// A service that says it runs, then does nothing until shutdown.
struct Idle: Service {
    let started: AsyncStream<Void>.Continuation

    func run() async throws {
        started.yield()
        started.finish()
        try? await gracefulShutdown()
    }
}

/// Thread-safe recording for handlers.
final class Recorder<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
    var count: Int { values.withLock { $0.count } }
}

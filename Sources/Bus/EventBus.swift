import FlowKit
import Foundation
import Logging
import Metrics
import Synchronization

/// The durable event bus: domains publish typed events inside their own transactions
/// (transactional outbox), and consumer groups handle them in the worker role with retries,
/// dead letters and replay. See ``ConsumerGroup`` for delivery guarantees.
///
/// Every process registers the same event types and groups at start (the modules do it while
/// FlowApp builds them), so a publisher fans out to every group even when that group's workers
/// run in another process.
public final class EventBus: Sendable {
    /// The notification channel that wakes workers; the payload names the groups with new work.
    static let wakeChannel = "flow_bus"
    /// Events carry references, not documents.
    static let maximumPayloadBytes = 64 * 1024

    let database: Database
    let store: BusStore
    let logger: Logger
    private let registry = Mutex(Registry())

    private struct Registry {
        var versions: [String: Int] = [:]
        var groups: [String: ConsumerGroup] = [:]
        var subscribers: [String: [String]] = [:]
        /// Whether this process has made sure every registered group reading the log has a
        /// cursor (see ``EventBus/publish``).
        var cursorsEnsured = false

        /// The groups that read the events as a log (all but those ordered by key).
        var logGroups: [ConsumerGroup] { groups.values.filter { !$0.orderedByKey } }
    }

    public init(database: Database, logger: Logger) {
        self.database = database
        self.store = BusStore(database: database)
        self.logger = logger
    }

    /// Makes `E` publishable. Registering a type twice is harmless.
    public func register<E: DomainEvent>(_: E.Type) {
        registry.withLock { $0.versions[E.type] = E.version }
    }

    /// Adds a consumer group. Group names are unique; a second group with the same name is a
    /// programming error and stops the start.
    public func register(_ group: ConsumerGroup) throws {
        try registry.withLock { registry throws(BusError) in
            guard registry.groups[group.name] == nil else { throw BusError.duplicateGroup(group.name) }
            registry.groups[group.name] = group
            registry.cursorsEnsured = false
            for type in group.eventTypes {
                registry.subscribers[type, default: []].append(group.name)
            }
        }
    }

    public var groups: [ConsumerGroup] {
        registry.withLock { $0.groups.values.sorted { $0.name < $1.name } }
    }

    public func group(named name: String) -> ConsumerGroup? {
        registry.withLock { $0.groups[name] }
    }

    /// Registered event types and their versions.
    public var eventTypes: [String: Int] {
        registry.withLock { $0.versions }
    }

    /// A publisher that stamps `producer` (the domain's name) on what it publishes.
    public func publisher(producer: String) -> EventPublisher {
        EventPublisher(bus: self, producer: producer)
    }

    func publish<E: DomainEvent>(_ event: E, key: String?, producer: String, in tx: Transaction) async throws -> EventEnvelope {
        let (version, subscribers, ordered, missingCursors) = registry.withLock { registry in
            let subscribers = registry.subscribers[E.type] ?? []
            return (registry.versions[E.type], subscribers, subscribers.filter { registry.groups[$0]?.orderedByKey == true },
                    // Sorted: two processes inserting the same cursors in different orders could deadlock.
                    registry.cursorsEnsured ? nil : registry.logGroups.map(\.name).sorted())
        }
        guard version != nil else { throw BusError.unregisteredEventType(E.type) }
        let problems = event.validate()
        guard problems.isEmpty else { throw BusError.invalidPayload(type: E.type, problems: problems) }
        let payload = String(decoding: try JSONEncoder.bus.encode(event), as: UTF8.self)
        guard payload.utf8.count <= Self.maximumPayloadBytes else {
            throw BusError.payloadTooLarge(type: E.type, bytes: payload.utf8.count)
        }
        let scope = RequestScope.current
        let envelope = EventEnvelope(
            id: UUIDv7.string(), type: E.type, version: E.version, key: key, occurredAt: Date(), producer: producer,
            correlationId: scope?.requestId, traceId: scope?.traceId, payload: payload)
        // A group reading the log sees what is published after its cursor exists; creating the
        // cursors with this process's first publish keeps the old promise that every event
        // published by a process that registered a group reaches that group.
        if let missingCursors {
            try await store.ensureCursors(missingCursors, in: tx)
            tx.afterCommit { self.registry.withLock { $0.cursorsEnsured = true } }
        }
        try await store.insert(envelope, deliveryGroups: ordered, wake: subscribers, wakeChannel: Self.wakeChannel, in: tx)
        tx.afterCommit { BusMetrics.published(type: E.type) }
        return envelope
    }

    // MARK: Operations (CLI and admin API)

    /// Backlog and dead letters of every group, registered or still holding rows.
    public func status() async throws -> [GroupStatus] {
        let now = Date()
        let registered = groups
        let logGroups = Dictionary(uniqueKeysWithValues: registered.filter { !$0.orderedByKey }.map { ($0.name, $0.eventTypes.sorted()) })
        let backlog = try await store.backlog(now: now, logGroups: logGroups)
        var names = Set(backlog.keys)
        registered.forEach { names.insert($0.name) }
        return names.sorted().map { name in
            let entry = backlog[name] ?? BusStore.Backlog()
            let group = registered.first { $0.name == name }
            return GroupStatus(
                group: name, registered: group != nil, eventTypes: group.map { $0.eventTypes.sorted() } ?? [],
                pending: entry.pending, inFlight: entry.inFlight, retrying: entry.retrying,
                oldestPendingSeconds: entry.oldestCreatedAt.map { max(0, now.timeIntervalSince($0)) },
                deadLetters: entry.deadLetters)
        }
    }

    public func deadLetters(group: String?, type: String?, page: PageRequest) async throws -> Page<DeadLetter> {
        let fetched = try await store.deadLetters(group: group, type: type, page: page)
        return Page(fetched: fetched, limit: page.limit) { [$0.id] }
    }

    /// Re-queues one dead letter; false when there is no such dead letter.
    public func replayDeadLetter(id: String) async throws -> Bool {
        try await store.replayDeadLetters(id: id, group: nil, type: nil, now: Date()) > 0
    }

    /// Re-queues every dead letter of a group and/or event type. Returns how many.
    public func replayDeadLetters(group: String?, type: String?) async throws -> Int {
        try await store.replayDeadLetters(id: nil, group: group, type: type, now: Date())
    }

    /// Delivers again to `group` every retained event of its types since `since`.
    public func replay(group name: String, since: Date) async throws -> Int {
        guard let group = group(named: name) else { throw BusOperationError.unknownGroup(name) }
        return try await replay(group, .since(since))
    }

    /// What replaying one event to a group did.
    public enum EventReplay: Sendable, Equatable {
        case queued
        /// The group has yet to handle it (or is handling it): it comes anyway.
        case pending
        /// The group does not subscribe to the event's type.
        case notSubscribed(type: String)
        /// The group has it as a dead letter: replay the dead letter (which also removes it).
        case deadLettered
        /// No retained event has that id (never published, or pruned).
        case unknownEvent
    }

    /// Delivers one retained event again to `group`, handled or not before (a consumer whose
    /// handler had a bug reprocesses the events it got wrong).
    public func replay(event id: String, group name: String) async throws -> EventReplay {
        guard let group = group(named: name) else { throw BusOperationError.unknownGroup(name) }
        guard let type = try await store.eventType(id: id) else { return .unknownEvent }
        guard group.eventTypes.contains(type) else { return .notSubscribed(type: type) }
        if try await replay(group, .event(id: id)) == 1 { return .queued }
        // Nothing queued: say why, looking again (a prune may have removed the event meanwhile).
        guard try await store.eventType(id: id) != nil else { return .unknownEvent }
        return try await store.hasDeadLetter(eventId: id, group: name) ? .deadLettered : .pending
    }

    private func replay(_ group: ConsumerGroup, _ selection: BusStore.ReplaySelection) async throws -> Int {
        let count = try await store.replay(group: group, selection, now: Date())
        if count > 0 {
            try await database.transaction { tx in
                try await self.database.notify(Self.wakeChannel, payload: group.name, in: tx)
            }
        }
        return count
    }

    /// Deletes handled events older than `retention`, in batches so no transaction grows large.
    public func prune(retention: Duration, batchSize: Int = 1000) async throws -> Int {
        let cutoff = Date().addingTimeInterval(-retention.seconds)
        let logGroups = registry.withLock { $0.logGroups.map(\.name) }
        var total = 0
        while true {
            let deleted = try await store.prune(before: cutoff, batchSize: batchSize, logGroups: logGroups)
            total += deleted
            if deleted < batchSize { return total }
            await Task.yield()
        }
    }
}

/// Publishes on behalf of one domain.
public struct EventPublisher: Sendable {
    let bus: EventBus
    public let producer: String

    /// Stores `event` in `tx`: it exists, and is delivered, only if `tx` commits. The request
    /// being served (if any) becomes the event's correlation and trace id.
    /// - Parameter key: ordering key (the entity's id) for groups that handle per key in order.
    @discardableResult
    public func publish<E: DomainEvent>(_ event: E, key: String? = nil, in tx: Transaction) async throws -> EventEnvelope {
        try await bus.publish(event, key: key, producer: producer, in: tx)
    }
}

public struct GroupStatus: Sendable, Codable {
    public let group: String
    /// False for a group that has rows but is no longer registered by this release.
    public let registered: Bool
    public let eventTypes: [String]
    public let pending: Int
    public let inFlight: Int
    public let retrying: Int
    /// Age of the oldest undelivered event: the group's lag in time (null when nothing is pending).
    @ExplicitNull public var oldestPendingSeconds: Double?
    public let deadLetters: Int

    init(group: String, registered: Bool, eventTypes: [String], pending: Int, inFlight: Int, retrying: Int,
         oldestPendingSeconds: Double?, deadLetters: Int) {
        self.group = group
        self.registered = registered
        self.eventTypes = eventTypes
        self.pending = pending
        self.inFlight = inFlight
        self.retrying = retrying
        self.oldestPendingSeconds = oldestPendingSeconds
        self.deadLetters = deadLetters
    }
}

public enum BusOperationError: Error, CustomStringConvertible {
    case unknownGroup(String)

    public var description: String {
        switch self {
        case .unknownGroup(let name): "no consumer group named \(name) is registered"
        }
    }
}

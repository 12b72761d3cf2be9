@testable import Bus
import FlowKit
import FlowTestSupport
import Foundation
import SQLKit
import Testing

/// Groups that read the events as a log (not ordered by key): cursor, ranges, retries, lag.
@Suite("Bus log reading on both engines")
struct BusLogTests {
    @Test("an event whose transaction commits after a later event's is not skipped by the cursor", arguments: [TestEngine.postgres])
    func lateCommitIsNotSkipped(engine: TestEngine) async throws {
        let group = ConsumerGroup(name: "log", handling: NoteWritten.self) { _, _, _ in }
        try await BusHarness.with(engine, workerProcesses: 0, groups: [group]) { harness in
            let taken = Recorder<String>()
            @Sendable func claim() async throws -> BusStore.Batch {
                let batch = try await harness.bus.store.claimBatch(group: group, worker: "w", limit: 10, now: Date())
                for claimed in batch.claimed { taken.append(try claimed.event.decode(NoteWritten.self).noteId) }
                return batch
            }
            try await harness.publish([NoteWritten(noteId: "before", index: 0)])
            // "early" is published first (smaller seq, smaller transaction id) but commits last.
            try await harness.whileTransactionOpen({ tx in
                try await harness.publisher.publish(NoteWritten(noteId: "early", index: 1), in: tx)
            }) {
                try await harness.publish([NoteWritten(noteId: "late", index: 2)])
                // Other tests' transactions on the shared cluster may hold delivery back briefly too.
                try await eventually { _ = try await claim(); return taken.all == ["before"] }
                try await eventually("\"late\" waits behind the open transaction and the claim says so") {
                    try await claim().lookAgainSoon
                }
                #expect(taken.all == ["before"], "nothing may pass the open transaction")
            }
            try await eventually { _ = try await claim(); return taken.count == 3 }
            #expect(taken.all == ["before", "early", "late"])
        }
    }

    @Test("a claim that finds the cursor held by another worker's claim says to look again soon", arguments: [TestEngine.postgres])
    func busyCursor(engine: TestEngine) async throws {
        let group = ConsumerGroup(name: "busy", handling: NoteWritten.self) { _, _, _ in }
        try await BusHarness.with(engine, workerProcesses: 0, groups: [group]) { harness in
            try await harness.publish([NoteWritten(noteId: "n", index: 0)])
            // As a claim in progress does: the cursor row updated, not yet committed.
            let claim = try await harness.whileTransactionOpen({ tx in
                try await tx.sql.raw("UPDATE bus_cursors SET seq = seq WHERE consumer_group = 'busy'").run()
            }) {
                let answered = AtomicFlag()
                let claim = Task {
                    defer { answered.set() }
                    return try await harness.bus.store.claimBatch(group: group, worker: "w", limit: 10, now: Date())
                }
                let deadline = ContinuousClock.now + .seconds(5)
                while !answered.isSet && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
                #expect(answered.isSet, "the claim waited for the other worker's claim to finish")
                return claim
            }
            let batch = try await claim.value
            #expect(batch.claimed.isEmpty && batch.lookAgainSoon)
            #expect(try await harness.claimWhenVisible(group, limit: 10).count == 1)
        }
    }

    @Test("a failing event of a claimed range is retried alone; the rest of its batch is not delivered again", arguments: TestEngine.allCases)
    func failureInARange(engine: TestEngine) async throws {
        let attempts = Recorder<(index: Int, attempt: Int)>()
        let failedOnce = AtomicFlag()
        let group = ConsumerGroup(name: "ranges", handling: NoteWritten.self, retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(20)),
                                  batchSize: 8) { note, _, attempt in
            attempts.append((note.index, attempt.number))
            if note.index == 2 && !failedOnce.isSet {
                failedOnce.set()
                throw FlakyError(message: "once")
            }
        }
        try await BusHarness.with(engine, groups: [group]) { harness in
            try await harness.publish(BusDeliveryTests.notes(6))
            try await eventually { attempts.count == 7 }
            try await eventually { try await harness.outstanding() == 0 }
            try await Task.sleep(for: .milliseconds(100))  // a redelivery would show now
            let byIndex = Dictionary(grouping: attempts.all, by: \.index).mapValues { $0.map(\.attempt) }
            #expect(byIndex == [0: [1], 1: [1], 2: [1, 2], 3: [1], 4: [1], 5: [1]])
            #expect(try await harness.count("bus_dead_letters") == 0)
        }
    }

    @Test("events whose claims keep expiring end in the dead letters, unhandled, after the last attempt", arguments: TestEngine.allCases)
    func expiringClaimsEndInDeadLetters(engine: TestEngine) async throws {
        let handled = Recorder<Int>()
        let group = ConsumerGroup(name: "crashing", handling: NoteWritten.self, retry: RetryPolicy(maxAttempts: 2),
                                  claimTimeout: .seconds(1)) { note, _, _ in handled.append(note.index) }
        try await BusHarness.with(engine, workerProcesses: 0, groups: [group]) { harness in
            // One event: with more, other tests' transactions on the shared PostgreSQL cluster
            // could spread them over ranges claimed at different times.
            try await harness.publish(BusDeliveryTests.notes(1))
            // Two workers die in turn holding it (attempts 1 and 2, the last allowed).
            #expect(try await harness.claimWhenVisible(group, worker: "first-to-die", limit: 10).map(\.attempt) == [1])
            try await Task.sleep(for: .milliseconds(1_100))
            #expect(try await harness.claimWhenVisible(group, worker: "second-to-die", limit: 10).map(\.attempt) == [2])
            try await Task.sleep(for: .milliseconds(1_100))
            let worker = GroupWorker(bus: harness.bus, group: group, name: "survivor", pollInterval: .milliseconds(20), logger: TestDatabases.logger)
            let stopping = AtomicFlag()
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { await worker.run(until: stopping) }
                try await eventually { try await harness.count("bus_dead_letters") == 1 }
                stopping.set()
                worker.wakeup.poke()
            }
            #expect(handled.all.isEmpty, "an event past its last attempt must not reach the handler")
            let letters = try await harness.bus.deadLetters(group: "crashing", type: nil, page: PageRequest()).items
            #expect(letters.map(\.attempts) == [3])
            #expect(letters.allSatisfy { $0.lastError.contains("claimed 2 times without being finished") })
            #expect(try await harness.outstanding() == 0)
        }
    }

    /// Another event type, for a group whose subscription changes.
    struct NoteArchived: DomainEvent {
        static let type = "test.note_archived"
        static let version = 1
        let noteId: String
        func validate() -> [FieldProblem] { [] }
    }

    @Test("an expired range with none of its group's event types left (the subscription changed) is released", arguments: TestEngine.allCases)
    func expiredRangeOfAnotherSubscription(engine: TestEngine) async throws {
        let before = ConsumerGroup(name: "changing", handling: NoteWritten.self, claimTimeout: .milliseconds(200)) { _, _, _ in }
        try await BusHarness.with(engine, workerProcesses: 0, groups: [before]) { harness in
            try await harness.publish([NoteWritten(noteId: "n", index: 0)])
            _ = try await harness.claimWhenVisible(before, worker: "died", limit: 10)
            try await Task.sleep(for: .milliseconds(300))
            // The next release subscribes the group to another type only.
            let after = ConsumerGroup(name: "changing", handling: NoteArchived.self, claimTimeout: .milliseconds(200)) { _, _, _ in }
            #expect(try await harness.bus.store.claim(group: after, worker: "new", limit: 10, now: Date()).isEmpty)
            #expect(try await harness.count("bus_range_claims") == 0, "the range would be taken over again at every timeout")
        }
    }

    @Test("replaying a log group queues only events it has finished, not those still coming or held", arguments: TestEngine.allCases)
    func replaySkipsPendingLogEvents(engine: TestEngine) async throws {
        let group = ConsumerGroup(name: "replayed", handling: NoteWritten.self) { _, _, _ in }
        try await BusHarness.with(engine, workerProcesses: 0, groups: [group]) { harness in
            let since = Date().addingTimeInterval(-60)
            try await harness.publish(BusDeliveryTests.notes(3))
            let held = try await harness.claimWhenVisible(group, limit: 1)
            #expect(try await harness.bus.replay(group: "replayed", since: since) == 0, "one held in a range, two ahead of the cursor")
            _ = try await harness.bus.store.complete(held.map { ($0, .handled) }, group: group, worker: "w", now: Date())
            #expect(try await harness.bus.replay(group: "replayed", since: since) == 1)
            #expect(try await harness.count("bus_deliveries") == 1)
        }
    }

    @Test("status counts unread and claimed events of a log group, and their age; the gauges export them", arguments: TestEngine.allCases)
    func lagOfALogGroup(engine: TestEngine) async throws {
        // One name per engine: the cases run at once and share the process's metrics.
        let name = "lagging-\(engine)"
        let group = ConsumerGroup(name: name, handling: NoteWritten.self) { _, _, _ in }
        try await BusHarness.with(engine, workerProcesses: 0, groups: [group]) { harness in
            try await harness.publish(BusDeliveryTests.notes(3))
            var status = try #require(try await harness.bus.status().first { $0.group == name })
            #expect(status.pending == 3 && status.inFlight == 0)
            #expect(status.oldestPendingSeconds != nil)
            // Up to 2: on PostgreSQL the later events may still wait behind other tests' transactions.
            let claimed = try await harness.claimWhenVisible(group, limit: 2)
            status = try #require(try await harness.bus.status().first { $0.group == name })
            #expect(status.pending == 3 && status.inFlight == claimed.count)
            BusMetrics.backlog(status)
            #expect(Self.gauge("flow_bus_pending", group: name) == 3)
            #expect(Self.gauge("flow_bus_in_flight", group: name) == Double(claimed.count))
            #expect(Self.gauge("flow_bus_retrying", group: name) == 0)
            #expect(Self.gauge("flow_bus_oldest_pending_seconds", group: name).map { $0 > 0 } == true)
            _ = try await harness.bus.store.complete(claimed.map { ($0, .handled) }, group: group, worker: "w", now: Date())
            status = try #require(try await harness.bus.status().first { $0.group == name })
            #expect(status.pending == 3 - claimed.count && status.inFlight == 0)
        }
    }

    /// A gauge's value in the `/metrics` text, nil when it is not there.
    static func gauge(_ metric: String, group: String) -> Double? {
        let prefix = "\(metric){group=\"\(group)\"} "
        return FlowMetrics.exposition().split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }
}

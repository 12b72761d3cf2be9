@testable import Bus
import FlowKit
import FlowTestSupport
import Foundation
import SQLKit
import Testing

@Suite("Bus retention on both engines")
struct BusRetentionTests {
    @Test("pruning deletes old handled events in batches and keeps what deliveries or dead letters need", arguments: TestEngine.allCases)
    func prune(engine: TestEngine) async throws {
        let group = ConsumerGroup(name: "never-runs", handling: NoteWritten.self) { _, _, _ in }
        try await BusHarness.with(engine, workerProcesses: 0, groups: [group]) { harness in
            // 25 events nobody subscribes to (handled, in effect), one pending delivery, one dead letter.
            let plain = EventBus(database: harness.database, logger: TestDatabases.logger)
            plain.register(NoteWritten.self)
            for index in 0..<25 {
                try await harness.database.transaction { tx in
                    try await plain.publisher(producer: "tests").publish(NoteWritten(noteId: "p\(index)", index: index), in: tx)
                }
            }
            try await harness.publish([NoteWritten(noteId: "pending", index: 0), NoteWritten(noteId: "dead", index: 1)])
            let claimed = try await harness.bus.store.claim(group: group, worker: "w", limit: 10, now: Date())
            let dead = try #require(claimed.first { (try? $0.event.decode(NoteWritten.self).noteId) == "dead" })
            let terminal = ConsumerGroup(name: "never-runs", handling: NoteWritten.self, retry: RetryPolicy(maxAttempts: 1)) { _, _, _ in }
            _ = try await harness.bus.store.complete([(dead, .failed(error: "boom"))], group: terminal, worker: "w", now: Date())
            try await harness.database.transaction { tx in
                try await tx.sql.raw("UPDATE bus_events SET occurred_at = \(bind: Date().addingTimeInterval(-10 * 86_400))").run()
            }

            let pruned = try await harness.bus.prune(retention: .seconds(7 * 86_400), batchSize: 10)
            #expect(pruned == 25)
            #expect(try await harness.count("bus_events") == 2)
            #expect(try await harness.bus.prune(retention: .seconds(7 * 86_400)) == 0)
        }
    }
}

@testable import Bus
import FlowKit
import FlowTestSupport
import Foundation
import SQLKit
import Testing

@Suite("Bus retention on both engines")
struct BusRetentionTests {
    @Test("pruning deletes old handled events in batches and keeps what cursors, claims, deliveries or dead letters need",
          arguments: TestEngine.allCases)
    func prune(engine: TestEngine) async throws {
        let group = ConsumerGroup(name: "never-runs", handling: NoteWritten.self) { _, _, _ in }
        try await BusHarness.with(engine, workerProcesses: 0, groups: [group]) { harness in
            // 25 handled events; then one that ends in the dead letters, one retrying, one held
            // in a claimed range, and one the group has not read yet.
            try await harness.publish(BusDeliveryTests.notes(25, prefix: "p"))
            var handled = 0
            while handled < 25 {
                let batch = try await harness.claimWhenVisible(group, limit: 25 - handled)
                _ = try await harness.bus.store.complete(batch.map { ($0, .handled) }, group: group, worker: "w", now: Date())
                handled += batch.count
            }
            let terminal = ConsumerGroup(name: "never-runs", handling: NoteWritten.self, retry: RetryPolicy(maxAttempts: 1)) { _, _, _ in }
            try await harness.publish([NoteWritten(noteId: "dead", index: 0)])
            let dead = try await harness.claimWhenVisible(group, limit: 1)
            #expect(try dead.map { try $0.event.decode(NoteWritten.self).noteId } == ["dead"])
            #expect(try await harness.bus.store.complete(dead.map { ($0, .failed(error: "boom")) }, group: terminal, worker: "w", now: Date()).deadLettered == 1)
            try await harness.publish([NoteWritten(noteId: "retrying", index: 1)])
            let retrying = try await harness.claimWhenVisible(group, limit: 1)
            #expect(try await harness.bus.store.complete(retrying.map { ($0, .failed(error: "later")) }, group: group, worker: "w", now: Date()).retried == 1)
            try await harness.publish([NoteWritten(noteId: "claimed", index: 2), NoteWritten(noteId: "unread", index: 3)])
            #expect(try await harness.claimWhenVisible(group, limit: 1).count == 1)
            try await harness.database.transaction { tx in
                try await tx.sql.raw("UPDATE bus_events SET occurred_at = \(bind: Date().addingTimeInterval(-10 * 86_400))").run()
            }

            let pruned = try await harness.bus.prune(retention: .seconds(7 * 86_400), batchSize: 10)
            #expect(pruned == 25)
            let kept = try await harness.database.read { sql in
                try await sql.raw("SELECT payload FROM bus_events ORDER BY seq").all().map { try $0.decode(column: "payload", as: String.self) }
            }
            let notes = try kept.map { try JSONDecoder().decode(NoteWritten.self, from: Data($0.utf8)).noteId }
            #expect(notes == ["dead", "retrying", "claimed", "unread"])
            #expect(try await harness.bus.prune(retention: .seconds(7 * 86_400)) == 0)
        }
    }
}

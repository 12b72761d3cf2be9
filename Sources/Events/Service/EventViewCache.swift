import FlowKit
import Foundation
import NIOCore

/// What signed-out callers get from `GET /api/v1/events/{id}`, rendered once and served from
/// memory: the same for every anonymous caller, and read far more often than an event changes.
///
/// Every statement that writes an `events` row calls ``changed(_:in:)`` (the stores do), which
/// drops the entry when the transaction commits, here at once and, on PostgreSQL, in every
/// other process through `NOTIFY`; when the listener reconnects, everything is dropped (changes
/// made meanwhile went unheard). Entries also expire after the configured lifetime, which bounds
/// what a write by another process on the same SQLite file (`flow seed`) can leave stale.
final class EventViewCache: Sendable {
    static let channel = "flow_event_changed"

    let bodies: ExpiringCache<String, RenderedJSON>
    private let database: Database

    /// `lifetime` zero disables the cache.
    init(database: Database, lifetime: Duration, capacity: Int = 10_000) {
        self.database = database
        bodies = ExpiringCache(capacity: capacity, lifetime: lifetime)
        followChanges()
    }

    /// Forgets `eventId`'s view when `tx` commits (never if it rolls back).
    func changed(_ eventId: String, in tx: Transaction) async throws {
        guard bodies.isEnabled else { return }
        let bodies = bodies
        tx.afterCommit { bodies.invalidate(eventId) }
        if tx.engine == .postgres { try await database.notify(Self.channel, payload: eventId, in: tx) }
    }

    /// Drops entries other processes report changed, until the database closes.
    private func followChanges() {
        guard bodies.isEnabled, database.engine == .postgres else { return }
        let changes = database.notifications(Self.channel)
        Task { [bodies] in
            for await change in changes {
                switch change {
                case .posted(let eventId): bodies.invalidate(eventId)
                // Changes made while the listener was away went unheard: start afresh.
                case .listening: bodies.invalidateAll()
                }
            }
        }
    }
}

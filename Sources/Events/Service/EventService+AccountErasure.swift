import Bus
import FlowKit
import Foundation

/// What Events does when an account is deleted (Identity publishes `user.deleted`): the
/// account's places at events not yet over are given up, so each freed seat goes to the first
/// person waiting, its ticket reservations there are cancelled (the tickets go back on sale),
/// and its invitations and its calendar feed are removed. Attendance of past events stays,
/// under the anonymous id Identity keeps. Events the account organized stay as they are (staff
/// can cancel them).
extension EventService {
    static let accountErasureGroupName = "events.account-erasure"

    /// The part of Identity's `user.deleted` (version 1) this domain reads. Events does not
    /// import Identity: domains share events by name and version, not by code.
    private struct DeletedAccount: Decodable {
        static let type = "user.deleted"
        static let version = 1
        let userId: String
    }

    /// The consumer group that runs ``eraseAccount(_:)`` for each deleted account, in the worker role.
    func accountErasureGroup() -> ConsumerGroup {
        ConsumerGroup(name: Self.accountErasureGroupName, eventTypes: [DeletedAccount.type]) { envelope, _ in
            let deleted = try envelope.decode(DeletedAccount.self, type: DeletedAccount.type, version: DeletedAccount.version)
            try await self.eraseAccount(deleted.userId)
        }
    }

    /// Idempotent: a second delivery of the same event finds nothing left to do.
    func eraseAccount(_ userId: String) async throws {
        try await database.transaction { tx in
            let now = Date()
            for eventId in try await attendance.unfinishedEventIds(userId: userId, now: now, on: tx.sql) {
                guard let event = try await store.event(id: eventId, on: tx.sql) else { continue }
                _ = try await removeAttendance(of: userId, from: event, in: tx)
            }
            for reservation in try await tickets.liveReservations(userId: userId, unfinishedAt: now, on: tx.sql) {
                guard let released = try await tickets.cancelReservation(id: reservation.id, eventId: reservation.eventId, userId: userId, now: now, in: tx) else { continue }
                try await tickets.giveBack(tierId: released.tierId, quantity: released.quantity, in: tx)
            }
            try await invites.removeAll(userId: userId, in: tx)
            try await calendars.removeFeed(userId: userId, in: tx)
        }
    }
}

import FlowKit
import Foundation
import SQLKit

/// Invitations: the way into a private event (and a nudge for any other).
extension EventService {
    public static let invitesPerRequest = 100

    /// Invites users (organizer or `edit_event`); unknown ids are refused, repeats ignored.
    public func invite(eventId: String, userIds: [String], by user: AuthenticatedUser) async throws -> [String] {
        var seen = Set<String>()
        let unique = userIds.filter { seen.insert($0).inserted }
        guard (1...Self.invitesPerRequest).contains(unique.count) else {
            throw APIError.validation(field: "userIds", "give 1–\(Self.invitesPerRequest) user ids")
        }
        let known = try await users.existing(unique)
        let unknown = unique.enumerated().filter { !known.contains($0.element) }
        guard unknown.isEmpty else {
            throw APIError.validation(unknown.map { FieldProblem(field: "userIds[\($0.offset)]", problem: "is not a user") })
        }
        return try await database.transaction { tx in
            let event = try await editable(eventId, by: user, on: tx.sql)
            guard event.status != .cancelled else { throw APIError.conflict("The event was cancelled.", code: "event_cancelled") }
            let added = try await invites.invite(eventId: eventId, userIds: unique, by: user.id, now: Date(), in: tx)
            for invitee in added {
                try await publisher.publish(EventInvited(eventId: eventId, userId: invitee, invitedBy: user.id), key: eventId, in: tx)
            }
            return added
        }
    }

    /// Withdraws an invitation. On a private event the invitation was the way in, so the
    /// person's attendance goes with it (a freed seat goes to the first person waiting); on any
    /// other event they could have joined anyway, so it stays.
    public func uninvite(eventId: String, userId: String, by user: AuthenticatedUser) async throws {
        try await database.transaction { tx in
            let event = try await editable(eventId, by: user, on: tx.sql)
            guard try await invites.remove(eventId: eventId, userId: userId, in: tx) else {
                throw APIError.notFound("This person is not invited.")
            }
            if event.visibility == .private, userId != event.organizerId {
                _ = try await removeAttendance(of: userId, from: event, in: tx)
            }
        }
    }

    public func invitees(eventId: String, by user: AuthenticatedUser, page: PageRequest) async throws -> Page<InviteView> {
        try await database.read { sql in
            _ = try await editable(eventId, by: user, on: sql)
            return Page(fetched: try await invites.invitees(eventId: eventId, page: page, on: sql), limit: page.limit) { [$0.userId] }
        }
    }
}

import FlowKit
import Foundation
import SQLKit

/// Going / interested / waitlisted, with the capacity held under concurrency and the waitlist
/// promoted automatically when a seat frees.
extension EventService {
    public struct AttendanceResult: Sendable, Codable {
        /// What you asked for may differ from what you got: `going` on a full event gives `waitlisted`.
        public let status: AttendanceStatus
        public let event: EventView
    }

    public func attend(eventId: String, wants: AttendanceStatus, user: AuthenticatedUser) async throws -> AttendanceResult {
        guard wants != .waitlisted else {
            throw APIError.validation(field: "status", "ask for going (the waitlist is automatic when the event is full) or interested")
        }
        return try await database.transaction { tx in
            let event = try await joinable(eventId, user: user, on: tx.sql)
            let now = Date()
            let current = try await attendance.status(eventId: eventId, userId: user.id, on: tx.sql)
            var result: AttendanceStatus = wants
            switch (current, wants) {
            case (.going, .going), (.waitlisted, .going), (.interested, .interested):
                result = current!
            case (_, .going):
                result = try await attendance.takeSeat(eventId: eventId, in: tx) ? .going : .waitlisted
                if result == .waitlisted { try await attendance.adjust(.waitlisted, by: 1, eventId: eventId, in: tx) }
            case (_, .interested):
                try await attendance.adjust(.interested, by: 1, eventId: eventId, in: tx)
            case (_, .waitlisted):
                break
            }
            if let current, current != result {
                try await release(current, eventId: eventId, in: tx)
            }
            if current != result {
                try await attendance.set(result, eventId: eventId, userId: user.id, now: now, in: tx)
                try await publisher.publish(AttendanceChanged(eventId: eventId, userId: user.id, from: current?.rawValue, to: result.rawValue),
                                            key: eventId, in: tx)
                if current == .going { try await promoteWaiting(eventId: eventId, now: now, in: tx) }
            }
            let updated = try await store.event(id: eventId, on: tx.sql) ?? event
            return AttendanceResult(status: result, event: try await view(updated, for: user, on: tx.sql))
        }
    }

    /// Leaves the event; a freed seat goes to the first person waiting.
    public func leave(eventId: String, user: AuthenticatedUser) async throws {
        try await database.transaction { tx in
            let event = try await visibleEvent(eventId, to: user, on: tx.sql)
            guard try await removeAttendance(of: user.id, from: event, in: tx) else {
                throw APIError.notFound("You are not attending this event.")
            }
        }
    }

    /// Removes `userId`'s attendance, if any, giving a freed seat to the first person waiting.
    /// Returns whether there was one.
    func removeAttendance(of userId: String, from event: EventRecord, in tx: Transaction) async throws -> Bool {
        guard let current = try await attendance.status(eventId: event.id, userId: userId, on: tx.sql) else { return false }
        try await attendance.remove(eventId: event.id, userId: userId, in: tx)
        try await release(current, eventId: event.id, in: tx)
        try await publisher.publish(AttendanceChanged(eventId: event.id, userId: userId, from: current.rawValue, to: nil), key: event.id, in: tx)
        if current == .going, event.status == .published { try await promoteWaiting(eventId: event.id, now: Date(), in: tx) }
        return true
    }

    /// The organizer (or `manage_attendees`) marks someone going as arrived.
    public func checkIn(eventId: String, attendeeId: String, by user: AuthenticatedUser) async throws {
        try await database.transaction { tx in
            let event = try await visibleEvent(eventId, to: user, on: tx.sql)
            guard user.id == event.organizerId || user.has(Permission.manageAttendees) else {
                throw APIError.forbidden("Only the organizer (or staff with manage_attendees) checks people in.")
            }
            guard try await attendance.checkIn(eventId: eventId, userId: attendeeId, now: Date(), in: tx) else {
                throw APIError.conflict("This person is not going to the event.", code: "not_going")
            }
        }
    }

    /// The attendee list: the organizer and staff see everyone; others see who is going or
    /// interested among the people whose privacy lets them see their attendance.
    public func attendees(eventId: String, status: AttendanceStatus?, viewer: AuthenticatedUser?, page: PageRequest) async throws -> Page<AttendeeView> {
        try await database.read { sql in
            let event = try await visibleEvent(eventId, to: viewer, on: sql)
            let insider = viewer.map { $0.id == event.organizerId || $0.has(Permission.manageAttendees) } ?? false
            if !insider, status == .waitlisted {
                throw APIError.forbidden("The waitlist is visible to the organizer only.")
            }
            let fetched = try await attendance.attendees(eventId: eventId, status: status, page: page, on: sql)
            let rows = Array(fetched.prefix(page.limit))
            let allowed = insider ? Set(rows.map(\.userId)) : try await privacy.attendanceVisible(of: rows.map(\.userId), to: viewer)
            let items = rows.filter { allowed.contains($0.userId) && (insider || $0.status != .waitlisted) }
                .map { AttendeeView(userId: $0.userId, status: $0.status, since: $0.since, checkedInAt: insider ? $0.checkedInAt : nil) }
            // The cursor follows the rows read, so hidden attendees never end a list early.
            let next = fetched.count > page.limit ? rows.last.map { PageRequest.encodeCursor([$0.userId]) } : nil
            return Page(items: items, nextCursor: next)
        }
    }

    // MARK: Helpers

    /// The event if it can be joined: visible, published and not over.
    func joinable(_ eventId: String, user: AuthenticatedUser, on sql: any SQLDatabase) async throws -> EventRecord {
        let event = try await visibleEvent(eventId, to: user, on: sql)
        switch event.status {
        case .published: break
        case .draft: throw APIError.conflict("The event is not published yet.", code: "event_not_published")
        case .cancelled: throw APIError.conflict("The event was cancelled.", code: "event_cancelled")
        }
        guard event.seriesEndsAt > Date() else { throw APIError.conflict("The event is over.", code: "event_over") }
        return event
    }

    /// Gives back what `status` held: the seat, or a place in a counter.
    func release(_ status: AttendanceStatus, eventId: String, in tx: Transaction) async throws {
        try await attendance.adjust(status, by: -1, eventId: eventId, in: tx)
    }

    /// Moves the longest-waiting person to going while seats are free.
    func promoteWaiting(eventId: String, now: Date, in tx: Transaction) async throws {
        while let next = try await attendance.nextWaiting(eventId: eventId, in: tx) {
            guard try await attendance.takeSeat(eventId: eventId, in: tx) else { return }
            try await attendance.adjust(.waitlisted, by: -1, eventId: eventId, in: tx)
            try await attendance.set(.going, eventId: eventId, userId: next, now: now, in: tx)
            try await publisher.publish(WaitlistPromoted(eventId: eventId, userId: next), key: eventId, in: tx)
            try await publisher.publish(AttendanceChanged(eventId: eventId, userId: next, from: "waitlisted", to: "going"), key: eventId, in: tx)
        }
    }
}

public struct AttendeeView: Sendable, Codable, Equatable {
    public let userId: String
    public let status: AttendanceStatus
    public let since: Date
    /// Shown to the organizer only.
    @ExplicitNull public var checkedInAt: Date?

    static let schema: JSONValue = [
        "type": "object", "required": ["userId", "status", "since", "checkedInAt"],
        "properties": [
            "userId": ["type": "string"], "status": ["type": "string", "enum": ["going", "interested", "waitlisted"]],
            "since": ["type": "string", "format": "date-time"], "checkedInAt": ["type": ["string", "null"], "format": "date-time"],
        ],
    ]
}

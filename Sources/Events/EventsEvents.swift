import Bus
import FlowKit
import Foundation

/// An event was created (draft or published).
public struct EventCreated: DomainEvent {
    public static let type = "event.created"
    public static let version = 1
    public let eventId: String
    public let organizerId: String
    public let title: String
    public let startsAt: Date
    public let status: String
    public let visibility: String

    public func validate() -> [FieldProblem] {
        Self.emptyFields(["eventId": eventId, "organizerId": organizerId, "title": title])
            + Self.oneOf(status, EventStatus.self, field: "status") + Self.oneOf(visibility, EventVisibility.self, field: "visibility")
    }
}

extension EventCreated {
    init(_ record: EventRecord) {
        self.init(eventId: record.id, organizerId: record.organizerId, title: record.title, startsAt: record.startsAt,
                  status: record.status.rawValue, visibility: record.visibility.rawValue)
    }
}

/// An event's details changed; `fields` names what changed.
public struct EventUpdated: DomainEvent {
    public static let type = "event.updated"
    public static let version = 1
    public let eventId: String
    public let fields: [String]

    public func validate() -> [FieldProblem] {
        Self.emptyFields(["eventId": eventId]) + (fields.isEmpty ? [FieldProblem(field: "fields", problem: "must name at least one field")] : [])
    }
}

/// An event was cancelled (or deleted before anyone joined). Attendees are to be told.
public struct EventCancelled: DomainEvent {
    public static let type = "event.cancelled"
    public static let version = 1
    public let eventId: String
    public let attendees: Int
    /// True when the event was removed outright (draft, or nobody attending).
    public let deleted: Bool

    public func validate() -> [FieldProblem] {
        Self.emptyFields(["eventId": eventId]) + (attendees < 0 ? [FieldProblem(field: "attendees", problem: "must not be negative")] : [])
    }
}

/// Someone's attendance changed; `from`/`to` are going, interested, waitlisted or null.
public struct AttendanceChanged: DomainEvent {
    public static let type = "attendance.changed"
    public static let version = 1
    public let eventId: String
    public let userId: String
    public let from: String?
    public let to: String?

    public func validate() -> [FieldProblem] {
        var problems = Self.emptyFields(["eventId": eventId, "userId": userId])
        if let from { problems += Self.oneOf(from, AttendanceStatus.self, field: "from") }
        if let to { problems += Self.oneOf(to, AttendanceStatus.self, field: "to") }
        if from == to { problems.append(FieldProblem(field: "to", problem: "must differ from `from`: nothing changed")) }
        return problems
    }
}

/// Someone was invited to an event (private events are visible to invitees only).
public struct EventInvited: DomainEvent {
    public static let type = "event.invited"
    public static let version = 1
    public let eventId: String
    public let userId: String
    public let invitedBy: String

    public func validate() -> [FieldProblem] {
        Self.emptyFields(["eventId": eventId, "userId": userId, "invitedBy": invitedBy])
    }
}

/// A seat freed up and the first person on the waitlist is now going.
public struct WaitlistPromoted: DomainEvent {
    public static let type = "waitlist.promoted"
    public static let version = 1
    public let eventId: String
    public let userId: String

    public func validate() -> [FieldProblem] {
        Self.emptyFields(["eventId": eventId, "userId": userId])
    }
}

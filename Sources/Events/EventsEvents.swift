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
}

/// An event was cancelled (or deleted before anyone joined). Attendees are to be told.
public struct EventCancelled: DomainEvent {
    public static let type = "event.cancelled"
    public static let version = 1
    public let eventId: String
    public let attendees: Int
    /// True when the event was removed outright (draft, or nobody attending).
    public let deleted: Bool
}

/// Someone's attendance changed; `from`/`to` are going, interested, waitlisted or null.
public struct AttendanceChanged: DomainEvent {
    public static let type = "attendance.changed"
    public static let version = 1
    public let eventId: String
    public let userId: String
    public let from: String?
    public let to: String?
}

/// Someone was invited to an event (private events are visible to invitees only).
public struct EventInvited: DomainEvent {
    public static let type = "event.invited"
    public static let version = 1
    public let eventId: String
    public let userId: String
    public let invitedBy: String
}

/// A seat freed up and the first person on the waitlist is now going.
public struct WaitlistPromoted: DomainEvent {
    public static let type = "waitlist.promoted"
    public static let version = 1
    public let eventId: String
    public let userId: String
}

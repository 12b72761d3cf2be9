import FlowKit
import Foundation

public enum EventKind: String, Sendable, Codable, CaseIterable {
    case physical, virtual, hybrid
}

public enum EventVisibility: String, Sendable, Codable, CaseIterable {
    /// Listed and searchable.
    case `public`
    /// Reachable by link, never listed or searched.
    case unlisted
    /// The organizer, staff and people with an attendance only; never listed.
    case `private`
}

public enum EventStatus: String, Sendable, Codable, CaseIterable {
    case draft, published, cancelled
}

/// Where a physical event happens when it has no venue.
public struct EventLocation: Sendable, Codable, Equatable {
    public var address: String?
    public let latitude: Double
    public let longitude: Double

    public func encode(to encoder: any Encoder) throws {
        var object = JSONObjectWriter(encoder)
        try object.field("address", address)
        try object.field("latitude", latitude)
        try object.field("longitude", longitude)
    }
}

/// An event as stored.
struct EventRecord: Sendable {
    /// The end of the last occurrence: `endsAt` for a one-off; for a series, the last
    /// occurrence's end (count), `until` plus the duration (until), or the far future.
    var seriesEndsAt: Date {
        guard let rule = recurrence, let expander else { return endsAt }
        let duration = endsAt.timeIntervalSince(startsAt)
        if let until = rule.until { return max(endsAt, until.addingTimeInterval(duration)) }
        guard rule.count != nil else { return Self.farFuture }
        let starts = expander.starts(from: startsAt, to: Self.farFuture, limit: RecurrenceRule.maximumCount)
        return max(endsAt, (starts.last ?? startsAt).addingTimeInterval(duration))
    }

    static let farFuture = Date(timeIntervalSince1970: 253_402_300_799)  // 9999-12-31T23:59:59Z

    /// The series' occurrences in the event's time zone; nil for a one-off.
    var expander: RecurrenceExpander? {
        recurrence.map { RecurrenceExpander(rule: $0, first: startsAt, timeZone: TimeZone(identifier: timeZone) ?? .gmt) }
    }

    let id: String
    var organizerId: String
    var title: String
    var summary: String?
    var description: String?
    var categoryId: String?
    var tags: [String]
    var venueId: String?
    var address: String?
    var latitude: Double?
    var longitude: Double?
    var startsAt: Date
    var endsAt: Date
    var timeZone: String
    var kind: EventKind
    var meetingURL: String?
    var meetingProvider: String?
    var capacity: Int?
    var goingCount: Int
    var interestedCount: Int
    var waitlistCount: Int
    var likeCount: Int
    var recurrence: RecurrenceRule? = nil
    var visibility: EventVisibility
    var status: EventStatus
    let createdAt: Date
    var updatedAt: Date
    var cancelledAt: Date?
}

/// An event as the API shows it.
public struct EventView: Sendable, Codable, Equatable {
    public let id: String
    public let organizerId: String
    public let title: String
    public var summary: String?
    public var description: String?
    public var categoryId: String?
    public let tags: [String]
    public var venue: VenueView?
    public var location: EventLocation?
    public let startsAt: Date
    public let endsAt: Date
    public let timeZone: String
    public let type: EventKind
    /// Shown to the organizer and to people going; null for everyone else.
    public var meetingUrl: String?
    public var meetingProvider: String?
    public var capacity: Int?
    public let goingCount: Int
    public let interestedCount: Int
    public let waitlistCount: Int
    public let likeCount: Int
    public var spotsLeft: Int?
    /// How the event repeats; null for a one-off. `startsAt`/`endsAt` are the first occurrence's.
    public var recurrence: RecurrenceRule?
    public let visibility: EventVisibility
    public let status: EventStatus
    public let createdAt: Date
    public let updatedAt: Date
    public var cancelledAt: Date?
    /// The caller's attendance (`going`, `interested`, `waitlisted`), or null.
    public var myAttendance: String?
    /// Whether the caller likes the event (false when signed out).
    public let likedByMe: Bool
    /// Kilometres from the searched point (nearby search only).
    public var distanceKm: Double?

    /// Every field, `null` included, written directly: the hot path of every list (see
    /// `JSONObjectWriter`). The names are the synthesized `CodingKeys` that decoding uses.
    public func encode(to encoder: any Encoder) throws {
        var object = JSONObjectWriter(encoder)
        try object.field("id", id)
        try object.field("organizerId", organizerId)
        try object.field("title", title)
        try object.field("summary", summary)
        try object.field("description", description)
        try object.field("categoryId", categoryId)
        try object.field("tags", tags)
        try object.field("venue", venue)
        try object.field("location", location)
        try object.field("startsAt", startsAt)
        try object.field("endsAt", endsAt)
        try object.field("timeZone", timeZone)
        try object.field("type", type.rawValue)
        try object.field("meetingUrl", meetingUrl)
        try object.field("meetingProvider", meetingProvider)
        try object.field("capacity", capacity)
        try object.field("goingCount", goingCount)
        try object.field("interestedCount", interestedCount)
        try object.field("waitlistCount", waitlistCount)
        try object.field("likeCount", likeCount)
        try object.field("spotsLeft", spotsLeft)
        try object.field("recurrence", recurrence)
        try object.field("visibility", visibility.rawValue)
        try object.field("status", status.rawValue)
        try object.field("createdAt", createdAt)
        try object.field("updatedAt", updatedAt)
        try object.field("cancelledAt", cancelledAt)
        try object.field("myAttendance", myAttendance)
        try object.field("likedByMe", likedByMe)
        try object.field("distanceKm", distanceKm)
    }

    static let schema: JSONValue = {
        let nullableString: JSONValue = ["type": ["string", "null"]]
        let dateTime: JSONValue = ["type": "string", "format": "date-time"]
        let properties: [String: JSONValue] = [
            "id": ["type": "string"], "organizerId": ["type": "string"], "title": ["type": "string"],
            "summary": nullableString, "description": nullableString, "categoryId": nullableString,
            "tags": ["type": "array", "items": ["type": "string"]],
            "venue": ["oneOf": [["$ref": "#/components/schemas/Venue"], ["type": "null"]]],
            "location": ["oneOf": [["$ref": "#/components/schemas/EventLocation"], ["type": "null"]]],
            "startsAt": dateTime, "endsAt": dateTime, "timeZone": ["type": "string"],
            "type": ["type": "string", "enum": .array(EventKind.allCases.map { .string($0.rawValue) })],
            "meetingUrl": nullableString, "meetingProvider": nullableString,
            "capacity": ["type": ["integer", "null"]], "goingCount": ["type": "integer"], "interestedCount": ["type": "integer"],
            "waitlistCount": ["type": "integer"], "likeCount": ["type": "integer"], "spotsLeft": ["type": ["integer", "null"]],
            "recurrence": ["oneOf": [["$ref": "#/components/schemas/Recurrence"], ["type": "null"]]],
            "visibility": ["type": "string", "enum": .array(EventVisibility.allCases.map { .string($0.rawValue) })],
            "status": ["type": "string", "enum": .array(EventStatus.allCases.map { .string($0.rawValue) })],
            "createdAt": dateTime, "updatedAt": dateTime, "cancelledAt": ["type": ["string", "null"], "format": "date-time"],
            "myAttendance": ["type": ["string", "null"], "enum": ["going", "interested", "waitlisted", nil]],
            "distanceKm": ["type": ["number", "null"]], "likedByMe": ["type": "boolean"],
        ]
        return ["type": "object", "required": .array(properties.keys.sorted().map { .string($0) }), "properties": .object(properties)]
    }()

    static let locationSchema: JSONValue = [
        "type": "object", "required": ["address", "latitude", "longitude"],
        "properties": [
            "address": ["type": ["string", "null"], "maxLength": 300],
            "latitude": ["type": "number", "minimum": -90, "maximum": 90],
            "longitude": ["type": "number", "minimum": -180, "maximum": 180],
        ],
    ]
}

import FlowKit
import Foundation

/// What `POST /api/v1/events` and `PUT /api/v1/events/{id}` take. One shape for both: on update,
/// left-out fields keep their value and `null` clears an optional one; on create, the required
/// fields must be present.
public struct EventInput: Decodable, Sendable {
    let title: FieldUpdate<String>
    let summary: FieldUpdate<String>
    let description: FieldUpdate<String>
    let categoryId: FieldUpdate<String>
    let tags: FieldUpdate<[String]>
    let venueId: FieldUpdate<String>
    let location: FieldUpdate<EventLocation>
    let startsAt: FieldUpdate<Date>
    let endsAt: FieldUpdate<Date>
    let timeZone: FieldUpdate<String>
    let type: FieldUpdate<EventKind>
    let meetingUrl: FieldUpdate<String>
    let meetingProvider: FieldUpdate<String>
    let capacity: FieldUpdate<Int>
    let visibility: FieldUpdate<EventVisibility>
    let status: FieldUpdate<EventStatus>
    let recurrence: FieldUpdate<RecurrenceRule>

    static let longestEvent: TimeInterval = 31 * 86_400

    static let schema: JSONValue = [
        "type": "object",
        "properties": [
            "title": ["type": "string", "minLength": 1, "maxLength": 140],
            "summary": ["type": ["string", "null"], "maxLength": 300],
            "description": ["type": ["string", "null"], "maxLength": 10000],
            "categoryId": ["type": ["string", "null"]],
            "tags": ["type": ["array", "null"], "maxItems": 10, "items": ["type": "string", "minLength": 1, "maxLength": 30], "description": "null clears them."],
            "venueId": ["type": ["string", "null"]],
            "location": ["oneOf": [["$ref": "#/components/schemas/EventLocation"], ["type": "null"]]],
            "startsAt": ["type": "string", "format": "date-time"], "endsAt": ["type": "string", "format": "date-time"],
            "timeZone": ["type": "string", "description": "IANA time zone of the event, e.g. Europe/Lisbon."],
            "type": ["type": "string", "enum": .array(EventKind.allCases.map { .string($0.rawValue) })],
            "meetingUrl": ["type": ["string", "null"], "format": "uri"], "meetingProvider": ["type": ["string", "null"], "maxLength": 60],
            "capacity": ["type": ["integer", "null"], "minimum": 1, "maximum": 1000000],
            "visibility": ["type": "string", "enum": .array(EventVisibility.allCases.map { .string($0.rawValue) })],
            "status": ["type": "string", "enum": ["draft", "published"], "description": "Cancel with DELETE."],
            "recurrence": ["oneOf": [["$ref": "#/components/schemas/Recurrence"], ["type": "null"]], "description": "null: a one-off event."],
        ],
    ]

    /// Applies the input to `current` (nil: a new event). Checks every rule and names each bad field.
    func applied(to current: EventRecord?, id: String, organizerId: String, now: Date) throws(APIError) -> EventRecord {
        var problems: [FieldProblem] = []
        func required<T>(_ update: FieldUpdate<T>, _ existing: T?, _ field: String) -> T? {
            guard let value = update.applied(to: existing) else {
                problems.append(FieldProblem(field: field, problem: "is required"))
                return nil
            }
            return value
        }
        let title = required(self.title, current?.title, "title")?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let title { problems += Validate.text(title, field: "title", max: 140) }
        let summary = self.summary.applied(to: current?.summary)
        problems += Validate.optionalText(summary, field: "summary", max: 300)
        let description = self.description.applied(to: current?.description)
        problems += Validate.optionalText(description, field: "description", max: 10_000)
        let tags = Validate.tags(self.tags.applied(to: current?.tags) ?? [], problems: &problems)
        let startsAt = required(self.startsAt, current?.startsAt, "startsAt")
        let endsAt = required(self.endsAt, current?.endsAt, "endsAt")
        if let startsAt, let endsAt {
            if endsAt <= startsAt { problems.append(FieldProblem(field: "endsAt", problem: "must be after startsAt")) }
            if endsAt.timeIntervalSince(startsAt) > Self.longestEvent { problems.append(FieldProblem(field: "endsAt", problem: "an event lasts at most 31 days")) }
        }
        let timeZone = required(self.timeZone, current?.timeZone, "timeZone")
        if let timeZone, timeZone.count > 64 || TimeZone(identifier: timeZone) == nil {
            problems.append(FieldProblem(field: "timeZone", problem: "must be an IANA time zone such as Europe/Lisbon"))
        }
        let kind = required(self.type, current?.kind, "type")
        let venueId = self.venueId.applied(to: current?.venueId)
        let currentLocation = current.flatMap { record in
            record.latitude.map { EventLocation(address: record.address, latitude: $0, longitude: record.longitude ?? 0) }
        }
        // A venue brings its own coordinates (the service copies them in); a custom location is for events without one.
        let location = venueId == nil ? self.location.applied(to: current?.venueId == nil ? currentLocation : nil) : nil
        if venueId != nil, case .set = self.location {
            problems.append(FieldProblem(field: "location", problem: "give a venueId or a location, not both"))
        }
        if let location {
            problems += CoordinateRules.problems(latitude: location.latitude, longitude: location.longitude, prefix: "location")
            problems += Validate.optionalText(location.address, field: "location.address", max: 300)
        }
        let meetingURL = self.meetingUrl.applied(to: current?.meetingURL)
        if let meetingURL, !WebURL.isValid(meetingURL) {
            problems.append(FieldProblem(field: "meetingUrl", problem: "must be an http(s) URL"))
        }
        let meetingProvider = self.meetingProvider.applied(to: current?.meetingProvider)
        problems += Validate.optionalText(meetingProvider, field: "meetingProvider", max: 60)
        if let kind {
            if kind != .virtual, venueId == nil, location == nil {
                problems.append(FieldProblem(field: "venueId", problem: "a \(kind.rawValue) event needs a venueId or a location"))
            }
            if kind != .physical, meetingURL == nil {
                problems.append(FieldProblem(field: "meetingUrl", problem: "a \(kind.rawValue) event needs a meetingUrl"))
            }
        }
        let capacity = self.capacity.applied(to: current?.capacity)
        if let capacity, !(1...1_000_000).contains(capacity) {
            problems.append(FieldProblem(field: "capacity", problem: "must be 1–1000000, or null for no limit"))
        }
        if let capacity, let going = current?.goingCount, capacity < going {
            problems.append(FieldProblem(field: "capacity", problem: "\(going) people are already going; cancel attendances before lowering it below that"))
        }
        let recurrence = self.recurrence.applied(to: current?.recurrence)
        if let recurrence { problems += recurrence.problems() }
        let visibility = self.visibility.applied(to: current?.visibility) ?? .public
        var status = self.status.applied(to: current?.status) ?? .published
        if case .set(.cancelled) = self.status { problems.append(FieldProblem(field: "status", problem: "cancel an event with DELETE /api/v1/events/{id}")) }
        if current?.status == .cancelled, !self.status.isKeep { problems.append(FieldProblem(field: "status", problem: "a cancelled event stays cancelled")) }
        if current?.status == .published, status == .draft, (current?.goingCount ?? 0) > 0 {
            problems.append(FieldProblem(field: "status", problem: "people are going; it cannot go back to draft"))
        }
        guard problems.isEmpty, let title, let startsAt, let endsAt, let timeZone, let kind else { throw APIError.validation(problems) }
        if current?.status == .cancelled { status = .cancelled }
        return EventRecord(
            id: id, organizerId: current?.organizerId ?? organizerId, title: title, summary: summary, description: description,
            categoryId: self.categoryId.applied(to: current?.categoryId), tags: tags, venueId: venueId,
            address: location?.address, latitude: location?.latitude, longitude: location?.longitude,
            startsAt: startsAt, endsAt: endsAt, timeZone: timeZone, kind: kind, meetingURL: meetingURL, meetingProvider: meetingProvider,
            capacity: capacity, goingCount: current?.goingCount ?? 0, interestedCount: current?.interestedCount ?? 0,
            waitlistCount: current?.waitlistCount ?? 0, likeCount: current?.likeCount ?? 0, recurrence: recurrence, visibility: visibility, status: status,
            createdAt: current?.createdAt ?? now, updatedAt: now, cancelledAt: current?.cancelledAt)
    }
}

import FlowKit
import Foundation
import SQLKit

/// iCalendar exports: one event, and a secret per-user feed of the events they attend.
extension EventService {
    static let feedSize = 500

    public func icalendar(eventId: String, viewer: AuthenticatedUser?) async throws -> String {
        try await database.read { sql in
            let event = try await visibleEvent(eventId, to: viewer, on: sql)
            var writer = ICalendarWriter(name: event.title)
            let going = try await viewer.asyncMap { try await attendance.status(eventId: eventId, userId: $0.id, on: sql) } == .going
            let insider = viewer.map { $0.id == event.organizerId || $0.has(Permission.editEvent) } == true || going
            try await addEntries(of: event, revealMeeting: insider, to: &writer, on: sql)
            return writer.document()
        }
    }

    public struct CalendarFeed: Sendable, Codable {
        /// Subscribe to this address in a calendar app. It is a secret: anyone with it sees the list.
        public let url: String
        public let token: String
    }

    /// Makes (or replaces) the caller's feed address; the old address stops working.
    public func createCalendarFeed(for user: AuthenticatedUser) async throws -> CalendarFeed {
        let token = SecretToken.make()
        try await database.transaction { tx in
            try await calendars.replaceFeed(userId: user.id, tokenHash: SecretToken.hash(token), now: Date(), in: tx)
        }
        return CalendarFeed(url: "\(publicURL)/api/v1/calendar/\(token).ics", token: token)
    }

    public func calendarFeed(token: String) async throws -> String {
        try await database.read { sql in
            guard let owner = try await calendars.feedOwner(tokenHash: SecretToken.hash(token), on: sql) else {
                throw APIError.notFound("No calendar feed has this address (it may have been replaced).")
            }
            let events = try await calendars.attendedEvents(userId: owner, since: Date().addingTimeInterval(-30 * 86_400), limit: Self.feedSize, on: sql)
            var writer = ICalendarWriter(name: "Flow: my events")
            for (event, going) in events { try await addEntries(of: event, revealMeeting: going, to: &writer, on: sql) }
            return writer.document()
        }
    }

    /// The event's entry, and for a series one more per occurrence moved or renamed alone (same
    /// UID, RECURRENCE-ID naming the occurrence it replaces, as RFC 5545 §3.8.4.4 has it).
    func addEntries(of event: EventRecord, revealMeeting: Bool, to writer: inout ICalendarWriter, on sql: any SQLDatabase) async throws {
        let series = try await calendarEntry(event, revealMeeting: revealMeeting, on: sql)
        writer.add(series)
        for occurrence in try await modifiedOccurrences(of: event, on: sql) { writer.add(series.overriding(occurrence)) }
    }

    /// The meeting link goes only to people who may see it in the API (organizer, people going).
    func calendarEntry(_ event: EventRecord, revealMeeting: Bool, on sql: any SQLDatabase) async throws -> ICalendarWriter.Event {
        let venue = try await event.venueId.asyncMap { try await store.venue(id: $0, on: sql) } ?? nil
        let place = venue.map { "\($0.name), \($0.address)" } ?? event.address ?? (event.kind == .virtual ? "Online" : nil)
        let zone = TimeZone(identifier: event.timeZone) ?? .gmt
        return ICalendarWriter.Event(
            uid: "\(event.id)@flow", start: event.startsAt, end: event.endsAt, timeZone: zone,
            summary: event.title, description: [event.summary, event.description].compactMap { $0 }.joined(separator: "\n\n").nilIfEmpty,
            location: place, latitude: event.latitude, longitude: event.longitude, url: revealMeeting ? event.meetingURL : nil,
            cancelled: event.status == .cancelled, categories: event.tags, created: event.createdAt, modified: event.updatedAt,
            recurrence: event.recurrence.map { $0.rrule(timeZone: zone) }, exceptions: event.recurrence?.exceptions ?? [])
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}

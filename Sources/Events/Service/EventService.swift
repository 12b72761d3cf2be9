import Bus
import FlowKit
import Foundation
import Logging
import SQLKit

/// Events, venues and categories: the rules, the transactions and the domain events.
public struct EventService: Sendable {
    let database: Database
    let store: EventStore
    let attendance: AttendanceStore
    let discovery = DiscoveryStore()
    let social: SocialStore
    let tickets = TicketStore()
    let calendars = CalendarStore()
    let occurrenceStore = OccurrenceStore()
    let invites = InviteStore()
    let publisher: EventPublisher
    /// Identity's answers about who may see whose attendance.
    let privacy: any PrivacyPolicy
    /// Identity's answers about which user ids exist.
    let users: any UserDirectory
    let audit = AuditTrail()
    /// Where users reach Flow, for addresses handed out (calendar feeds).
    let publicURL: String
    let logger: Logger
    /// Signed-out callers' rendered views; the stores drop entries as they write events.
    let viewCache: EventViewCache

    init(database: Database, publisher: EventPublisher, privacy: any PrivacyPolicy, users: any UserDirectory, publicURL: String,
         viewCacheLifetime: Duration, logger: Logger) {
        self.database = database
        self.publisher = publisher
        self.privacy = privacy
        self.users = users
        self.publicURL = publicURL
        self.logger = logger
        viewCache = EventViewCache(database: database, lifetime: viewCacheLifetime)
        store = EventStore(viewCache: viewCache)
        attendance = AttendanceStore(viewCache: viewCache)
        social = SocialStore(viewCache: viewCache)
    }

    // MARK: Events

    public func create(_ input: EventInput, by user: AuthenticatedUser) async throws -> EventView {
        guard user.has(Permission.createEvent) else { throw APIError.forbidden("Creating events needs the create_event permission.") }
        let now = Date()
        let draft = try input.applied(to: nil, id: UUIDv7.string(at: now), organizerId: user.id, now: now)
        return try await database.transaction { tx in
            var record = draft
            try await resolvePlace(&record, on: tx.sql)
            try await store.insert(record, in: tx)
            try await publisher.publish(EventCreated(record), key: record.id, in: tx)
            return try await view(record, for: user, on: tx.sql)
        }
    }

    public func update(id: String, _ input: EventInput, by user: AuthenticatedUser) async throws -> EventView {
        try await database.transaction { tx in
            let current = try await editable(id, by: user, on: tx.sql)
            var record = try input.applied(to: current, id: id, organizerId: current.organizerId, now: Date())
            try await resolvePlace(&record, on: tx.sql)
            let fields = Self.changedFields(current, record)
            guard !fields.isEmpty else { return try await view(current, for: user, on: tx.sql) }
            try await store.update(record, in: tx)
            try await publisher.publish(EventUpdated(eventId: id, fields: fields), key: id, in: tx)
            if user.id != current.organizerId {
                try await audit.record(.init(actorId: user.id, action: "event.updated", entityType: "event", entityId: id,
                                             reason: "by staff; fields: \(fields.joined(separator: ", "))"), clientAddress: nil, in: tx)
            }
            return try await view(try await store.event(id: id, on: tx.sql) ?? record, for: user, on: tx.sql)
        }
    }

    public enum Removal: Sendable {
        case cancelled(EventView)
        case deleted
    }

    /// Deletes a draft or an event nobody joined; cancels (keeping it and its attendance) an
    /// event people joined, so they can be told instead of the event silently vanishing.
    public func remove(id: String, by user: AuthenticatedUser) async throws -> Removal {
        try await database.transaction { tx in
            let event = try await editable(id, by: user, on: tx.sql)
            let attendees = event.goingCount + event.interestedCount + event.waitlistCount
            if event.status == .cancelled { return .cancelled(try await view(event, for: user, on: tx.sql)) }
            if event.status == .draft || attendees == 0 {
                try await store.delete(eventId: id, in: tx)
                try await publisher.publish(EventCancelled(eventId: id, attendees: 0, deleted: true), key: id, in: tx)
                return .deleted
            }
            let now = Date()
            try await store.cancel(eventId: id, now: now, in: tx)
            try await publisher.publish(EventCancelled(eventId: id, attendees: attendees, deleted: false), key: id, in: tx)
            return .cancelled(try await view(try await store.event(id: id, on: tx.sql) ?? event, for: user, on: tx.sql))
        }
    }

    public func event(id: String, viewer: AuthenticatedUser?) async throws -> EventView {
        try await database.read { sql in
            let event = try await visibleEvent(id, to: viewer, on: sql)
            return try await view(event, for: viewer, on: sql)
        }
    }

    /// The event as JSON, from ``viewCache`` for signed-out callers (their view has nothing personal).
    public func renderedEvent(id: String, viewer: AuthenticatedUser?) async throws -> RenderedJSON {
        if viewer != nil { return try RenderedJSON(try await event(id: id, viewer: viewer)) }
        return try await viewCache.bodies.value(for: id) {
            let view = try await event(id: id, viewer: nil)
            return try RenderedJSON(view)
        }
    }

    // MARK: Access

    /// Drafts and private events are seen by the organizer, staff with `edit_event`, and (private)
    /// invitees and people with an attendance; published public and unlisted events by everyone.
    func canSee(_ event: EventRecord, _ viewer: AuthenticatedUser?, on sql: any SQLDatabase) async throws -> Bool {
        if let viewer, viewer.id == event.organizerId || viewer.has(Permission.editEvent) { return true }
        switch (event.status, event.visibility) {
        case (.draft, _): return false
        case (_, .private):
            guard let viewer else { return false }
            if try await invites.isInvited(eventId: event.id, userId: viewer.id, on: sql) { return true }
            return try await attendance.status(eventId: event.id, userId: viewer.id, on: sql) != nil
        default: return true
        }
    }

    static let noSuchEvent = APIError.notFound("No event has this id.")

    /// The event if `viewer` may see it; 404 otherwise, so hidden events look like missing ones.
    func visibleEvent(_ id: String, to viewer: AuthenticatedUser?, on sql: any SQLDatabase) async throws -> EventRecord {
        guard let event = try await store.event(id: id, on: sql), try await canSee(event, viewer, on: sql) else { throw Self.noSuchEvent }
        return event
    }

    /// The event if the user may edit it: 404 when they cannot even see it, 403 when they can but may not edit.
    func editable(_ id: String, by user: AuthenticatedUser, on sql: any SQLDatabase) async throws -> EventRecord {
        let event = try await visibleEvent(id, to: user, on: sql)
        guard user.id == event.organizerId || user.has(Permission.editEvent) else {
            throw APIError.forbidden("Only the organizer (or staff with edit_event) can change this event.")
        }
        return event
    }

    /// A venue's coordinates and address become the event's, for the spatial index.
    func resolvePlace(_ record: inout EventRecord, on sql: any SQLDatabase) async throws {
        if let categoryId = record.categoryId, try await store.categoryFamily(id: categoryId, on: sql).first?.id != categoryId {
            throw APIError.validation(field: "categoryId", "is not a category (GET /api/v1/categories)")
        }
        guard let venueId = record.venueId else { return }
        guard let venue = try await store.venue(id: venueId, on: sql) else {
            throw APIError.validation(field: "venueId", "is not a venue (GET /api/v1/venues)")
        }
        record.address = venue.address
        record.latitude = venue.latitude
        record.longitude = venue.longitude
    }

    // MARK: Views

    func view(_ event: EventRecord, for viewer: AuthenticatedUser?, on sql: any SQLDatabase, distanceKm: Double? = nil) async throws -> EventView {
        try await views([event], for: viewer, on: sql, distances: distanceKm.map { [event.id: $0] } ?? [:]).first!
    }

    /// Views of several events with two queries in all (venues, the viewer's attendance).
    func views(_ events: [EventRecord], for viewer: AuthenticatedUser?, on sql: any SQLDatabase, distances: [String: Double] = [:]) async throws -> [EventView] {
        let venues = try await store.venues(ids: Set(events.compactMap(\.venueId)), on: sql)
        var mine: [String: AttendanceStatus] = [:]
        var liked: Set<String> = []
        if let viewer {
            mine = try await attendance.statuses(eventIds: events.map(\.id), userId: viewer.id, on: sql)
            liked = try await social.liked(eventIds: events.map(\.id), userId: viewer.id, on: sql)
        }
        return events.map { event in
            let status = mine[event.id]
            let insider = viewer.map { $0.id == event.organizerId || $0.has(Permission.editEvent) } == true || status == .going
            return EventView(
                id: event.id, organizerId: event.organizerId, title: event.title, summary: event.summary, description: event.description,
                categoryId: event.categoryId, tags: event.tags, venue: event.venueId.flatMap { venues[$0] },
                location: event.venueId == nil ? event.latitude.map { EventLocation(address: event.address, latitude: $0, longitude: event.longitude ?? 0) } : nil,
                startsAt: event.startsAt, endsAt: event.endsAt, timeZone: event.timeZone, type: event.kind,
                meetingUrl: insider ? event.meetingURL : nil, meetingProvider: event.meetingProvider, capacity: event.capacity,
                goingCount: event.goingCount, interestedCount: event.interestedCount, waitlistCount: event.waitlistCount, likeCount: event.likeCount,
                spotsLeft: event.capacity.map { max(0, $0 - event.goingCount) }, recurrence: event.recurrence, visibility: event.visibility, status: event.status,
                createdAt: event.createdAt, updatedAt: event.updatedAt, cancelledAt: event.cancelledAt, myAttendance: status?.rawValue, likedByMe: liked.contains(event.id),
                distanceKm: distances[event.id].map { ($0 * 100).rounded() / 100 })
        }
    }

    static func changedFields(_ a: EventRecord, _ b: EventRecord) -> [String] {
        var fields: [String] = []
        func check<T: Equatable>(_ name: String, _ key: KeyPath<EventRecord, T>) { if a[keyPath: key] != b[keyPath: key] { fields.append(name) } }
        check("title", \.title); check("summary", \.summary); check("description", \.description); check("categoryId", \.categoryId)
        check("tags", \.tags); check("venueId", \.venueId); check("address", \.address); check("latitude", \.latitude)
        check("longitude", \.longitude); check("startsAt", \.startsAt); check("endsAt", \.endsAt); check("timeZone", \.timeZone)
        check("type", \.kind); check("meetingUrl", \.meetingURL); check("meetingProvider", \.meetingProvider); check("capacity", \.capacity)
        check("visibility", \.visibility); check("status", \.status); check("recurrence", \.recurrence)
        return fields
    }
}

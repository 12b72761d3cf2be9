import FlowKit
import Foundation
import SQLKit

/// Events' SQL for events, tags, venues and categories. Only Events reads these tables.
struct EventStore: Sendable {
    let viewCache: EventViewCache

    static let columns = """
        e.id, e.organizer_id, e.title, e.summary, e.description, e.category_id, e.tags, e.venue_id, e.address, e.latitude, e.longitude,
        e.starts_at, e.ends_at, e.time_zone, e.kind, e.meeting_url, e.meeting_provider, e.capacity, e.going_count, e.interested_count,
        e.waitlist_count, e.like_count, e.recurrence, e.visibility, e.status, e.created_at, e.updated_at, e.cancelled_at
        """

    func insert(_ event: EventRecord, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            INSERT INTO events (id, organizer_id, title, summary, description, category_id, tags, venue_id, address, latitude, longitude,
                                starts_at, ends_at, time_zone, kind, meeting_url, meeting_provider, capacity, visibility, status,
                                created_at, updated_at, recurrence, series_ends_at)
            VALUES (\(bind: event.id), \(bind: event.organizerId), \(bind: event.title), \(bind: event.summary), \(bind: event.description),
                    \(bind: event.categoryId), \(bind: Self.json(event.tags)), \(bind: event.venueId), \(bind: event.address),
                    \(bind: event.latitude), \(bind: event.longitude), \(bind: event.startsAt), \(bind: event.endsAt), \(bind: event.timeZone),
                    \(bind: event.kind.rawValue), \(bind: event.meetingURL), \(bind: event.meetingProvider), \(bind: event.capacity),
                    \(bind: event.visibility.rawValue), \(bind: event.status.rawValue), \(bind: event.createdAt), \(bind: event.updatedAt),
                    \(bind: Self.json(event.recurrence)), \(bind: event.seriesEndsAt))
            """).run()
        try await replaceTags(eventId: event.id, tags: event.tags, in: tx)
    }

    /// Inserts many events with one multi-row INSERT per 500 (seeding and imports). Publishes nothing.
    func insertBatch(_ events: [EventRecord], in tx: Transaction) async throws {
        for chunk in stride(from: 0, to: events.count, by: 500).map({ events[$0..<min($0 + 500, events.count)] }) {
            let rows = chunk.map { event -> SQLQueryString in
                """
                (\(bind: event.id), \(bind: event.organizerId), \(bind: event.title), \(bind: event.summary), \(bind: event.description),
                 \(bind: event.categoryId), \(bind: Self.json(event.tags)), \(bind: event.venueId), \(bind: event.address), \(bind: event.latitude),
                 \(bind: event.longitude), \(bind: event.startsAt), \(bind: event.endsAt), \(bind: event.timeZone), \(bind: event.kind.rawValue),
                 \(bind: event.meetingURL), \(bind: event.meetingProvider), \(bind: event.capacity), \(bind: event.visibility.rawValue),
                 \(bind: event.status.rawValue), \(bind: event.createdAt), \(bind: event.updatedAt), \(bind: event.seriesEndsAt))
                """
            }
            var query: SQLQueryString = """
                INSERT INTO events (id, organizer_id, title, summary, description, category_id, tags, venue_id, address, latitude, longitude,
                                    starts_at, ends_at, time_zone, kind, meeting_url, meeting_provider, capacity, visibility, status,
                                    created_at, updated_at, series_ends_at) VALUES
                """
            for (index, row) in rows.enumerated() { query += (index == 0 ? " " : ", ") + row }
            try await tx.sql.raw(query).run()
            let tags = chunk.flatMap { event in event.tags.map { (event.id, $0) } }
            if !tags.isEmpty {
                var tagQuery: SQLQueryString = "INSERT INTO event_tags (event_id, tag) VALUES"
                for (index, pair) in tags.enumerated() { tagQuery += (index == 0 ? " " : ", ") + "(\(bind: pair.0), \(bind: pair.1))" }
                try await tx.sql.raw(tagQuery).run()
            }
        }
    }

    func update(_ event: EventRecord, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            UPDATE events SET title = \(bind: event.title), summary = \(bind: event.summary), description = \(bind: event.description),
                category_id = \(bind: event.categoryId), tags = \(bind: Self.json(event.tags)), venue_id = \(bind: event.venueId),
                address = \(bind: event.address), latitude = \(bind: event.latitude), longitude = \(bind: event.longitude),
                starts_at = \(bind: event.startsAt), ends_at = \(bind: event.endsAt), time_zone = \(bind: event.timeZone),
                kind = \(bind: event.kind.rawValue), meeting_url = \(bind: event.meetingURL), meeting_provider = \(bind: event.meetingProvider),
                capacity = \(bind: event.capacity), visibility = \(bind: event.visibility.rawValue), status = \(bind: event.status.rawValue),
                recurrence = \(bind: Self.json(event.recurrence)), series_ends_at = \(bind: event.seriesEndsAt), updated_at = \(bind: event.updatedAt)
            WHERE id = \(bind: event.id)
            """).run()
        try await viewCache.changed(event.id, in: tx)
        try await replaceTags(eventId: event.id, tags: event.tags, in: tx)
    }

    func cancel(eventId: String, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            UPDATE events SET status = 'cancelled', cancelled_at = \(bind: now), updated_at = \(bind: now) WHERE id = \(bind: eventId)
            """).run()
        try await viewCache.changed(eventId, in: tx)
    }

    /// Removes an event nobody attends (a draft, or one without attendance rows).
    func delete(eventId: String, in tx: Transaction) async throws {
        try await tx.sql.raw("DELETE FROM event_tags WHERE event_id = \(bind: eventId)").run()
        try await tx.sql.raw("DELETE FROM attendance WHERE event_id = \(bind: eventId)").run()
        try await tx.sql.raw("DELETE FROM events WHERE id = \(bind: eventId)").run()
        try await viewCache.changed(eventId, in: tx)
    }

    func event(id: String, on sql: any SQLDatabase) async throws -> EventRecord? {
        try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM events e WHERE e.id = \(bind: id)").first().map(Self.event(from:))
    }

    private func replaceTags(eventId: String, tags: [String], in tx: Transaction) async throws {
        try await tx.sql.raw("DELETE FROM event_tags WHERE event_id = \(bind: eventId)").run()
        for tag in tags {
            try await tx.sql.raw("INSERT INTO event_tags (event_id, tag) VALUES (\(bind: eventId), \(bind: tag))").run()
        }
    }

    // MARK: Venues and categories

    func insertVenue(id: String, _ input: VenueInput, createdBy: String, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            INSERT INTO venues (id, name, address, city, country, latitude, longitude, capacity, amenities, created_by, created_at, updated_at)
            VALUES (\(bind: id), \(bind: input.name), \(bind: input.address), \(bind: input.city), \(bind: input.country), \(bind: input.latitude),
                    \(bind: input.longitude), \(bind: input.capacity), \(bind: Self.json(input.amenities ?? [])), \(bind: createdBy), \(bind: now), \(bind: now))
            """).run()
    }

    func venueCount(createdBy userIds: [String], on sql: any SQLDatabase) async throws -> Int {
        guard !userIds.isEmpty else { return 0 }
        return try await sql.raw("SELECT COUNT(*) AS n FROM venues WHERE created_by IN (\(SQLList(userIds.map { SQLBind($0) })))")
            .first()?.decode(column: "n", as: Int.self) ?? 0
    }

    static let venueColumns = "id, name, address, city, country, latitude, longitude, capacity, amenities, created_at"

    func venue(id: String, on sql: any SQLDatabase) async throws -> VenueView? {
        try await sql.raw("SELECT \(unsafeRaw: Self.venueColumns) FROM venues WHERE id = \(bind: id)").first().map(Self.venue(from:))
    }

    func venues(ids: Set<String>, on sql: any SQLDatabase) async throws -> [String: VenueView] {
        guard !ids.isEmpty else { return [:] }
        let list = SQLList(ids.sorted().map { SQLBind($0) })
        let rows = try await sql.raw("SELECT \(unsafeRaw: Self.venueColumns) FROM venues WHERE id IN (\(list))").all()
        return Dictionary(uniqueKeysWithValues: try rows.map(Self.venue(from:)).map { ($0.id, $0) })
    }

    /// Venues by name, optionally in a city, in name order.
    func venues(matching query: String?, city: String?, page: PageRequest, on sql: any SQLDatabase) async throws -> [VenueView] {
        var statement: SQLQueryString = "SELECT \(unsafeRaw: Self.venueColumns) FROM venues WHERE 1 = 1"
        if let query { statement += " AND LOWER(name) LIKE \(bind: "%" + Self.escapeLike(query.lowercased()) + "%") ESCAPE '\\'" }
        if let city { statement += " AND LOWER(city) = \(bind: city.lowercased())" }
        if let after = page.after, after.count == 2 {
            statement += " AND (name > \(bind: after[0]) OR (name = \(bind: after[0]) AND id > \(bind: after[1])))"
        }
        statement += " ORDER BY name, id LIMIT \(literal: page.limit + 1)"
        return try await sql.raw(statement).all().map(Self.venue(from:))
    }

    func categories(on sql: any SQLDatabase) async throws -> [(id: String, parentId: String?, name: String)] {
        try await sql.raw("SELECT id, parent_id, name FROM categories ORDER BY name, id").all().map { row in
            (try row.decode(column: "id", as: String.self), try row.decodeOptional(column: "parent_id", as: String.self),
             try row.decode(column: "name", as: String.self))
        }
    }

    /// The category `id` (first, if it exists) and its subcategories.
    func categoryFamily(id: String, on sql: any SQLDatabase) async throws -> [(id: String, parentId: String?)] {
        try await sql.raw("SELECT id, parent_id FROM categories WHERE id = \(bind: id) OR parent_id = \(bind: id) ORDER BY parent_id IS NOT NULL, id")
            .all().map { (try $0.decode(column: "id", as: String.self), try $0.decodeOptional(column: "parent_id", as: String.self)) }
    }

    func insertCategory(id: String, parentId: String?, name: String, in tx: Transaction) async throws {
        try await tx.sql.raw("INSERT INTO categories (id, parent_id, name) VALUES (\(bind: id), \(bind: parentId), \(bind: name))").run()
    }

    // MARK: Rows

    static func json(_ strings: [String]) -> String {
        (try? FlowJSON.text(strings)) ?? "[]"
    }

    static func json(_ rule: RecurrenceRule?) -> String? {
        rule.flatMap { try? RecurrenceRule.storageEncoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) }
    }

    static func strings(_ json: String) -> [String] {
        FlowJSON.strings(json) ?? []
    }

    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }

    static func event(from row: any SQLRow) throws -> EventRecord {
        EventRecord(
            id: try row.decode(column: "id", as: String.self), organizerId: try row.decode(column: "organizer_id", as: String.self),
            title: try row.decode(column: "title", as: String.self), summary: try row.decodeOptional(column: "summary", as: String.self),
            description: try row.decodeOptional(column: "description", as: String.self), categoryId: try row.decodeOptional(column: "category_id", as: String.self),
            tags: strings(try row.decode(column: "tags", as: String.self)), venueId: try row.decodeOptional(column: "venue_id", as: String.self),
            address: try row.decodeOptional(column: "address", as: String.self), latitude: try row.decodeOptional(column: "latitude", as: Double.self),
            longitude: try row.decodeOptional(column: "longitude", as: Double.self), startsAt: try row.decode(column: "starts_at", as: Date.self),
            endsAt: try row.decode(column: "ends_at", as: Date.self), timeZone: try row.decode(column: "time_zone", as: String.self),
            kind: EventKind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .physical,
            meetingURL: try row.decodeOptional(column: "meeting_url", as: String.self),
            meetingProvider: try row.decodeOptional(column: "meeting_provider", as: String.self),
            capacity: try row.decodeOptional(column: "capacity", as: Int.self), goingCount: try row.decode(column: "going_count", as: Int.self),
            interestedCount: try row.decode(column: "interested_count", as: Int.self),
            waitlistCount: try row.decode(column: "waitlist_count", as: Int.self), likeCount: try row.decode(column: "like_count", as: Int.self),
            recurrence: try row.decodeOptional(column: "recurrence", as: String.self).flatMap { try? FlowJSONDecoder.decode(RecurrenceRule.self, from: Data($0.utf8)) },
            visibility: EventVisibility(rawValue: try row.decode(column: "visibility", as: String.self)) ?? .private,
            status: EventStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .draft,
            createdAt: try row.decode(column: "created_at", as: Date.self), updatedAt: try row.decode(column: "updated_at", as: Date.self),
            cancelledAt: try row.decodeOptional(column: "cancelled_at", as: Date.self))
    }

    static func venue(from row: any SQLRow) throws -> VenueView {
        VenueView(
            id: try row.decode(column: "id", as: String.self), name: try row.decode(column: "name", as: String.self),
            address: try row.decode(column: "address", as: String.self), city: try row.decodeOptional(column: "city", as: String.self),
            country: try row.decodeOptional(column: "country", as: String.self), latitude: try row.decode(column: "latitude", as: Double.self),
            longitude: try row.decode(column: "longitude", as: Double.self), capacity: try row.decodeOptional(column: "capacity", as: Int.self),
            amenities: strings(try row.decode(column: "amenities", as: String.self)), createdAt: try row.decode(column: "created_at", as: Date.self))
    }
}

import FlowKit
import Foundation
import SQLKit

/// Lists, full-text search, nearby search, venues and categories.
extension EventService {
    public struct DiscoveryQuery: Sendable {
        public var text: String?
        public var categoryId: String?
        public var tags: [String]?
        public var from: Date?
        public var to: Date?
        public var kind: EventKind?
        public var organizerId: String?
        public var free: Bool?

        public init() {}
    }

    /// Published public events: by start time, or by relevance (``SearchTiers``) when `text` is given.
    public func discover(_ query: DiscoveryQuery, viewer: AuthenticatedUser?, page: PageRequest) async throws -> Page<EventView> {
        try await database.read { sql in
            let filters = try await filters(query, on: sql)
            let now = Date()
            if let text = query.text {
                guard let tiers = SearchTiers(text) else { return Page(items: [], nextCursor: nil) }
                let hits = try await discovery.search(tiers, filters, now: now, page: page, on: sql)
                let views = try await views(hits.map(\.event), for: viewer, on: sql)
                // Tiers exclude each other's matches; should an event still come twice, its first
                // place wins rather than the request crashing.
                let cursors = Dictionary(hits.map { ($0.event.id, ["\($0.tier)", $0.position]) }, uniquingKeysWith: { first, _ in first })
                return Page(fetched: views, limit: page.limit) { cursors[$0.id] ?? [] }
            }
            let events = try await discovery.list(filters, now: now, page: page, on: sql)
            return Page(fetched: try await views(events, for: viewer, on: sql), limit: page.limit) { ["\($0.startsAt.timeIntervalSince1970)", $0.id] }
        }
    }

    /// Events within `radiusKm` of a point, nearest first, each with its distance.
    public func nearby(latitude: Double, longitude: Double, radiusKm: Double, _ query: DiscoveryQuery, viewer: AuthenticatedUser?,
                       page: PageRequest) async throws -> Page<EventView> {
        // Named as the query parameters are (`lat`, `lng`).
        let queryNames = ["latitude": "lat", "longitude": "lng"]
        var problems = CoordinateRules.problems(latitude: latitude, longitude: longitude, prefix: "")
            .map { FieldProblem(field: queryNames[$0.field] ?? $0.field, problem: $0.problem) }
        if !(radiusKm.isFinite && radiusKm > 0 && radiusKm <= 500) { problems.append(FieldProblem(field: "radius", problem: "must be more than 0 and at most 500 (km)")) }
        guard problems.isEmpty else { throw APIError.validation(problems) }
        let center = Coordinate(latitude: latitude, longitude: longitude)
        return try await database.read { sql in
            let filters = try await filters(query, on: sql)
            let now = Date()
            // Read the nearest events within a circle (``DiscoveryStore/firstReach`` says how
            // large), and widen it fourfold until it holds a full page: the nearest events inside
            // a circle are the nearest overall.
            let wanted = page.limit + 1
            var reach = discovery.firstReach(within: radiusKm, on: sql)
            var candidates = discovery.firstRead(toFill: wanted, on: sql)
            var inside: [(EventRecord, rank: Double, distance: Double)] = []
            while true {
                let found = try await discovery.nearby(center: center, reachKm: reach, filters, now: now,
                                                       page: PageRequest(limit: wanted - 1, after: page.after), candidates: candidates, on: sql)
                let completeBelow = found.completeBelowRank ?? .infinity
                inside = found.events.compactMap { event, rank in
                    let distance = Geo.distanceKm(center, Coordinate(latitude: event.latitude ?? 0, longitude: event.longitude ?? 0))
                    return distance <= reach && rank < completeBelow ? (event, rank, distance) : nil
                }
                if inside.count >= wanted { break }
                // The box held more entries than were read: read more before widening it (filters
                // dropped many). PostgreSQL's read says so itself; SQLite is asked.
                var readPart = found.completeBelowRank != nil
                if !readPart { readPart = try await discovery.readPart(around: center, reachKm: reach, than: candidates, on: sql) }
                if readPart {
                    candidates = discovery.nextRead(after: candidates, on: sql)
                    continue
                }
                if reach >= radiusKm { break }
                reach = min(radiusKm, reach * 4)
            }
            let events = inside.map(\.0)
            let distances = Dictionary(uniqueKeysWithValues: inside.map { ($0.0.id, $0.distance) })
            let ranks = Dictionary(uniqueKeysWithValues: inside.map { ($0.0.id, $0.rank) })
            let views = try await views(events, for: viewer, on: sql, distances: distances)
            return Page(fetched: views, limit: page.limit) { ["\(ranks[$0.id] ?? 0)", $0.id] }
        }
    }

    private func filters(_ query: DiscoveryQuery, on sql: any SQLDatabase) async throws -> DiscoveryStore.Filters {
        var filters = DiscoveryStore.Filters(tags: query.tags?.map { $0.lowercased() }, from: query.from, to: query.to, kind: query.kind,
                                             organizerId: query.organizerId, free: query.free)
        if let categoryId = query.categoryId {
            // A category includes its subcategories.
            let family = try await store.categoryFamily(id: categoryId, on: sql)
            guard family.first?.id == categoryId else { throw APIError.validation(field: "category", "is not a category") }
            filters.categoryIds = family.map(\.id)
        }
        return filters
    }

    // MARK: Venues and categories

    public func createVenue(_ input: VenueInput, by user: AuthenticatedUser) async throws -> VenueView {
        guard user.has(Permission.createEvent) else { throw APIError.forbidden("Adding venues needs the create_event permission.") }
        let problems = input.problems
        guard problems.isEmpty else { throw APIError.validation(problems) }
        let id = UUIDv7.string()
        return try await database.transaction { tx in
            try await store.insertVenue(id: id, input, createdBy: user.id, now: Date(), in: tx)
            return try await store.venue(id: id, on: tx.sql)!
        }
    }

    public func venue(id: String) async throws -> VenueView {
        guard let venue = try await database.read({ sql in try await store.venue(id: id, on: sql) }) else {
            throw APIError.notFound("No venue has this id.")
        }
        return venue
    }

    public func venues(matching query: String?, city: String?, page: PageRequest) async throws -> Page<VenueView> {
        let fetched = try await database.read { sql in try await store.venues(matching: query, city: city, page: page, on: sql) }
        return Page(fetched: fetched, limit: page.limit) { [$0.name, $0.id] }
    }

    public func categories() async throws -> [CategoryView] {
        let rows = try await database.read { sql in try await store.categories(on: sql) }
        return rows.filter { $0.parentId == nil }.map { parent in
            CategoryView(id: parent.id, name: parent.name, parentId: nil,
                         subcategories: rows.filter { $0.parentId == parent.id }.map { CategoryView(id: $0.id, name: $0.name, parentId: parent.id, subcategories: []) })
        }
    }

    /// Adds a category (staff with `manage_users`); ids are lowercase slugs.
    public func createCategory(id: String, name: String, parentId: String?, by user: AuthenticatedUser) async throws -> CategoryView {
        guard user.has(Permission.manageUsers) else { throw APIError.forbidden("Managing categories needs the manage_users permission.") }
        var problems = Validate.text(name, field: "name", max: 60)
        if !(2...40).contains(id.count) || !id.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }) {
            problems.append(FieldProblem(field: "id", problem: "must be a slug of 2–40 lowercase letters, digits and hyphens"))
        }
        guard problems.isEmpty else { throw APIError.validation(problems) }
        do {
            return try await database.transaction { tx in
                if let parentId {
                    guard let parent = try await store.categoryFamily(id: parentId, on: tx.sql).first, parent.id == parentId, parent.parentId == nil else {
                        throw APIError.validation(field: "parentId", "must be a top-level category")
                    }
                }
                try await store.insertCategory(id: id, parentId: parentId, name: name, in: tx)
                return CategoryView(id: id, name: name, parentId: parentId, subcategories: [])
            }
        } catch let error as DatabaseError where error.kind == .uniqueViolation {
            throw APIError.conflict("A category with this id exists.", code: "category_exists")
        }
    }
}

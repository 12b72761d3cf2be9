import FlowKit
import Foundation
import SQLKit

/// Listing, full-text search and nearby search over published public events. Every query
/// starts from an index: the listing index, FTS5 / the tsvector GIN index, or the R*Tree / the
/// GiST point index; filters narrow what the index yields.
struct DiscoveryStore: Sendable {
    struct Filters: Sendable {
        var categoryIds: [String]?
        var tags: [String]?
        var from: Date?
        var to: Date?
        var kind: EventKind?
        var organizerId: String?
        /// true: no paid ticket tier; false: at least one.
        var free: Bool?
    }

    /// Upcoming (or in the given range) published public events, by start time.
    func list(_ filters: Filters, now: Date, page: PageRequest, on sql: any SQLDatabase) async throws -> [EventRecord] {
        var query: SQLQueryString = "SELECT \(unsafeRaw: EventStore.columns) FROM events e WHERE "
        query += Self.conditions(filters, now: now)
        if let after = page.after, after.count == 2, let start = Double(after[0]) {
            let date = Date(timeIntervalSince1970: start)
            query += " AND (e.starts_at > \(bind: date) OR (e.starts_at = \(bind: date) AND e.id > \(bind: after[1])))"
        }
        query += " ORDER BY e.starts_at, e.id LIMIT \(literal: page.limit + 1)"
        return try await sql.raw(query).all().map(EventStore.event(from:))
    }

    /// A search hit: the event, its ``SearchTiers`` tier and its place within the tier (the
    /// SQLite rowid or the PostgreSQL id, newest first), which together make the page cursor.
    struct SearchHit: Sendable {
        let event: EventRecord
        let tier: Int
        let position: String
    }

    /// Events matching the words of `tiers`, ranked as ``SearchTiers`` describes, after the
    /// cursor (`[tier, position]`) when there is one.
    func search(_ tiers: SearchTiers, _ filters: Filters, now: Date, page: PageRequest, on sql: any SQLDatabase) async throws -> [SearchHit] {
        // A cursor names the tier and position of the last hit shown; a forged one only moves the start.
        var tier = max(0, page.after.flatMap { $0.first.flatMap(Int.init) } ?? 0)
        var position = page.after.flatMap { $0.count == 2 ? $0[1] : nil }
        var hits: [SearchHit] = []
        let wanted = page.limit + 1
        while hits.count < wanted, tier < tiers.count {
            let limit = wanted - hits.count
            let found: [SearchHit]
            if sql.dialect.name == "postgresql" {
                found = try await postgresTier(tiers, tier: tier, before: position, filters, now: now, limit: limit, on: sql)
            } else {
                found = try await sqliteTier(tiers.fts(tier), tier: tier, before: position.flatMap(Int64.init), filters, now: now, limit: limit, on: sql)
            }
            hits += found
            tier += 1
            position = nil
        }
        return hits
    }

    /// One tier on SQLite: FTS5 yields matching rowids newest first, a window at a time, and the
    /// window's events that pass the filters are kept until `limit` are found or the tier ends.
    private func sqliteTier(_ match: String, tier: Int, before: Int64?, _ filters: Filters, now: Date, limit: Int,
                            on sql: any SQLDatabase) async throws -> [SearchHit] {
        var hits: [SearchHit] = []
        var before = before
        let window = max(limit * 4, 64)
        while hits.count < limit {
            var matches: SQLQueryString = "SELECT rowid FROM events_fts WHERE events_fts MATCH \(bind: match)"
            if let before { matches += " AND rowid < \(bind: before)" }
            matches += " ORDER BY rowid DESC LIMIT \(literal: window)"
            let rowids = try await sql.raw(matches).all().map { try $0.decode(column: "rowid", as: Int64.self) }
            guard let last = rowids.last else { break }
            // NOT INDEXED: left alone, the planner prefers the listing index (status, visibility)
            // to these few rowid lookups and reads every published event.
            var query: SQLQueryString = "SELECT \(unsafeRaw: EventStore.columns), e.rowid AS position FROM events e NOT INDEXED WHERE e.rowid IN ("
            query += "\(SQLList(rowids.map { SQLBind($0) }))) AND " + Self.conditions(filters, now: now)
            query += " ORDER BY e.rowid DESC LIMIT \(literal: limit - hits.count)"
            hits += try await sql.raw(query).all().map { row in
                SearchHit(event: try EventStore.event(from: row), tier: tier, position: String(try row.decode(column: "position", as: Int64.self)))
            }
            if rowids.count < window { break }
            before = last
        }
        return hits
    }

    /// One tier on PostgreSQL: one query; the planner walks the primary key backwards while the
    /// words are common and uses the GIN index when they are rare. Tier 0 finds the page's ids
    /// first, in `events_title_search_idx` (index only, EventsMigrations 9), then reads those
    /// events: 0.66–0.77 ms instead of 1.4–1.6 ms for "jazz" at a million events (EXPLAIN
    /// ANALYZE). The other tiers test `search`, which only the table holds, so they read it directly.
    private func postgresTier(_ tiers: SearchTiers, tier: Int, before: String?, _ filters: Filters, now: Date, limit: Int,
                              on sql: any SQLDatabase) async throws -> [SearchHit] {
        var selection: SQLQueryString = tier == 0
            ? "FROM events e WHERE e.title_search @@ to_tsquery('english', \(bind: tiers.titleTsquery)) AND "
            : "FROM events e WHERE e.search @@ to_tsquery('english', \(bind: tiers.tsquery(tier))) AND "
        selection += Self.conditions(filters, now: now)
        if let before { selection += " AND e.id < \(bind: before)" }
        selection += " ORDER BY e.id DESC LIMIT \(literal: limit)"
        let query: SQLQueryString = tier == 0
            ? "SELECT \(unsafeRaw: EventStore.columns) FROM (SELECT e.id " + selection + ") AS hits CROSS JOIN events e WHERE e.id = hits.id ORDER BY e.id DESC"
            : "SELECT \(unsafeRaw: EventStore.columns) " + selection
        return try await sql.raw(query).all().map { row in
            let event = try EventStore.event(from: row)
            return SearchHit(event: event, tier: tier, position: event.id)
        }
    }

    /// What ``nearby`` read: up to a page of events nearest first, each with its rank (the
    /// squared equirectangular distance on SQLite, the chord through the unit sphere on
    /// PostgreSQL), and how far the read is known to be complete.
    struct NearbyRead: Sendable {
        let events: [(event: EventRecord, rank: Double)]
        /// PostgreSQL read only the `candidates` nearest entries: the last rank read may have
        /// more events than were read (ties: events at one venue), so only events ranked below
        /// it are known to be all there. Nil when nothing was left unread (always on SQLite,
        /// which answers that through ``readPart(around:reachKm:than:on:)``).
        let completeBelowRank: Double?
    }

    /// The SQL of an event's point on the unit sphere (x, y, z), from the `latitude` and
    /// `longitude` columns of `table` (or unqualified): the expression PostgreSQL's nearby index
    /// holds (migration `index_nearby_unit_vector`), so a query must spell it the same way. The
    /// straight-line distance (`<->`) between two such points is the chord, which grows with the
    /// great-circle distance: nearest first by chord is nearest first on the Earth, across the
    /// antimeridian and at the poles too.
    static func unitVector(table: String?) -> String {
        let latitude = table.map { "\($0).latitude" } ?? "latitude"
        let longitude = table.map { "\($0).longitude" } ?? "longitude"
        return "cube(array[cos(radians(\(latitude))) * cos(radians(\(longitude))), cos(radians(\(latitude))) * sin(radians(\(longitude))), sin(radians(\(latitude)))])"
    }

    /// The radius (km) of the first box ``nearby`` reads, searching within `radiusKm`.
    ///
    /// SQLite reads whole R*Tree boxes, whose cost grows with the entries they hold: it starts
    /// with a small box (a 64th of the radius, at least 250 m) and the caller widens it fourfold
    /// until it holds a page, so the last box holds about a page instead of every event within the
    /// radius. PostgreSQL walks its index nearest first and stops after the rows it was asked for,
    /// whatever the bound: it reads within the whole radius at once.
    func firstReach(within radiusKm: Double, on sql: any SQLDatabase) -> Double {
        sql.dialect.name == "postgresql" ? radiusKm : min(radiusKm, max(radiusKm / 64, 0.25))
    }

    /// How many index entries ``nearby``'s first read takes to fill `wanted` rows.
    ///
    /// SQLite reads R*Tree entries before the filters (status, visibility, dates) drop any, so it
    /// reads four pages' worth. PostgreSQL applies the filters while it walks its index in true
    /// distance order: a page and a few more, so that a tie at the end of the read (events at one
    /// venue) rarely needs a second one.
    func firstRead(toFill wanted: Int, on sql: any SQLDatabase) -> Int {
        sql.dialect.name == "postgresql" ? wanted + 4 : wanted * 4
    }

    /// How many entries the next read of the same box takes when `candidates` were too few:
    /// SQLite's filters may drop most of what it reads, so eight times as many; PostgreSQL's
    /// read ended inside a group of equally distant events, so twice as many.
    func nextRead(after candidates: Int, on sql: any SQLDatabase) -> Int {
        sql.dialect.name == "postgresql" ? candidates * 2 : candidates * 8
    }

    /// Events within `reachKm` of `center`, nearest first.
    ///
    /// PostgreSQL walks its GiST index of unit vectors (``unitVector(table:)``) nearest first
    /// (KNN, `<->`), bounded by the cube around the circle's chord, with the filters applied on
    /// the way, and stops after `candidates` rows; the rank is the chord, exact. Its index walk
    /// orders by distance alone: a tie-break by id in the same `ORDER BY` would make PostgreSQL
    /// read and sort the whole bound instead, so the page is sorted by (rank, id) after the walk.
    ///
    /// SQLite orders by the squared equirectangular distance, with the longitude difference
    /// taken the short way round (across the antimeridian): exact enough to rank within a few
    /// hundred km. It takes the nearest R*Tree entries of each box covering the circle (one, or
    /// two across the antimeridian; coordinates only, compact pages) before touching `events` for
    /// the filters, and the caller asks ``readPart(around:reachKm:than:on:)`` when the filters
    /// left too few. The caller computes the great-circle distance it shows.
    func nearby(center: Coordinate, reachKm: Double, _ filters: Filters, now: Date, page: PageRequest,
                candidates: Int, on sql: any SQLDatabase) async throws -> NearbyRead {
        var after: (rank: Double, id: String)?
        if let cursor = page.after, cursor.count == 2, let rank = Double(cursor[0]) { after = (rank, cursor[1]) }
        if sql.dialect.name == "postgresql" {
            let latitude = center.latitude * .pi / 180, longitude = center.longitude * .pi / 180
            let here: SQLQueryString = "cube(array[\(bind: cos(latitude) * cos(longitude)), \(bind: cos(latitude) * sin(longitude)), \(bind: sin(latitude))])"
            let chord: SQLQueryString = "\(unsafeRaw: Self.unitVector(table: "e")) <-> " + here
            // The cube around the circle: its half side is the circle's chord (a hair more for
            // rounding), so it holds every point of the sphere within the radius.
            let bound: SQLQueryString = "\(unsafeRaw: Self.unitVector(table: "e")) <@ cube_enlarge(" + here + ", \(bind: Geo.chord(km: reachKm) * 1.000001 + 1e-12), 3)"
            var query: SQLQueryString = "SELECT \(unsafeRaw: EventStore.columns), " + chord + " AS proximity FROM events e WHERE e.latitude IS NOT NULL AND " + bound + " AND "
            // PostgreSQL's own clock instead of a bound `now`: a prepared nearby statement then gets
            // a generic plan (planned once per connection, not per call; ~0.2 ms of the server's
            // CPU per request). Against a bound timestamp the generic plan's estimate assumes a
            // third of the events qualify (PostgreSQL's default for an unknown bound) instead of
            // nearly all, looks three times costlier than the same plan made for the actual values,
            // and is never chosen. `now()` is estimated from its value in both. The plan itself
            // does not depend on the values: the index walk nearest first is the only sensible one.
            query += Self.conditions(filters, now: now, serverClock: true)
            if let after {
                query += " AND (" + chord + " > \(bind: after.rank) OR (" + chord + " = \(bind: after.rank) AND e.id > \(bind: after.id)))"
            }
            // By the column, not the expression again: the expression's binds would be new
            // parameters, and PostgreSQL could not tell that the walk's order is the column's. The
            // generic plan would then sort the page in full, look costlier than one planned for
            // the values, and be replanned on every call (+0.3 ms of its CPU each).
            query += " ORDER BY proximity LIMIT \(literal: candidates)"
            // The page is picked here rather than by an outer query: a window (for the count and
            // the farthest rank read) and a sort would copy every row read twice more in
            // PostgreSQL, for a handful of rows that are already nearly in order. Only the rows
            // on the page are decoded.
            let rows = try await sql.raw(query).all()
            let ranked = try rows.map { row in
                (row: row, rank: try row.decode(column: "proximity", as: Double.self), id: try row.decode(column: "id", as: String.self))
            }
            let onPage = ranked.sorted { ($0.rank, $0.id) < ($1.rank, $1.id) }.prefix(page.limit + 1)
            let events = try onPage.map { (try EventStore.event(from: $0.row), $0.rank) }
            guard rows.count >= candidates else { return NearbyRead(events: events, completeBelowRank: nil) }
            return NearbyRead(events: events, completeBelowRank: ranked.map(\.rank).max())
        }
        // One R*Tree scan per box (an OR would not use the index), merged by proximity.
        let scale = cos(center.latitude * .pi / 180)
        func proximity(_ latitude: String, _ longitude: String) -> SQLQueryString {
            let eastWest: SQLQueryString = """
                min(abs(\(unsafeRaw: longitude) - \(bind: center.longitude)), 360 - abs(\(unsafeRaw: longitude) - \(bind: center.longitude))) * \(bind: scale)
                """
            let northSouth: SQLQueryString = "(\(unsafeRaw: latitude) - \(bind: center.latitude))"
            return "(" + northSouth + " * " + northSouth + " + " + eastWest + " * " + eastWest + ")"
        }
        let scans = BoundingBox.covering(center, radiusKm: reachKm).map { box -> SQLQueryString in
            var scan: SQLQueryString = "SELECT id AS geo_id, " + proximity("min_lat", "min_lng") + " AS proximity FROM events_geo "
            scan += """
                WHERE min_lat >= \(bind: box.minLatitude) AND max_lat <= \(bind: box.maxLatitude)
                AND min_lng >= \(bind: box.minLongitude) AND max_lng <= \(bind: box.maxLongitude)
                """
            if let after { scan += " AND " + proximity("min_lat", "min_lng") + " >= \(bind: after.rank)" }
            return scan
        }
        var geo = scans.joined(separator: " UNION ALL ")
        geo += " ORDER BY proximity LIMIT \(literal: candidates)"
        var inner: SQLQueryString = "SELECT \(unsafeRaw: EventStore.columns), g.proximity AS proximity FROM (" + geo + ") AS g CROSS JOIN events e ON e.rowid = g.geo_id WHERE "
        inner += " " + Self.conditions(filters, now: now)
        var query: SQLQueryString = "SELECT * FROM (" + inner + ") AS near"
        if let after { query += " WHERE (proximity > \(bind: after.rank) OR (proximity = \(bind: after.rank) AND id > \(bind: after.id)))" }
        query += " ORDER BY proximity, id LIMIT \(literal: page.limit + 1)"
        let events = try await sql.raw(query).all().map { row in (try EventStore.event(from: row), try row.decode(column: "proximity", as: Double.self)) }
        return NearbyRead(events: events, completeBelowRank: nil)
    }

    /// Whether the boxes ``nearby`` read around `center` hold more than `candidates` R*Tree
    /// entries, i.e. whether it read only part of them. Always false on PostgreSQL, whose read
    /// says so itself (``NearbyRead/completeBelowRank``).
    func readPart(around center: Coordinate, reachKm: Double, than candidates: Int, on sql: any SQLDatabase) async throws -> Bool {
        guard sql.dialect.name != "postgresql" else { return false }
        let scans = BoundingBox.covering(center, radiusKm: reachKm).map { box -> SQLQueryString in
            """
            SELECT id FROM events_geo WHERE min_lat >= \(bind: box.minLatitude) AND max_lat <= \(bind: box.maxLatitude)
            AND min_lng >= \(bind: box.minLongitude) AND max_lng <= \(bind: box.maxLongitude)
            """
        }
        let query: SQLQueryString = "SELECT COUNT(*) AS n FROM (" + scans.joined(separator: " UNION ALL ") + " LIMIT \(literal: candidates + 1)) AS c"
        return try await sql.raw(query).first()?.decode(column: "n", as: Int.self) ?? 0 > candidates
    }

    /// Published public events starting in [now, until), most attended and liked first.
    func featuredCandidates(now: Date, until: Date, limit: Int, on sql: any SQLDatabase) async throws -> [EventRecord] {
        try await sql.raw("""
            SELECT \(unsafeRaw: EventStore.columns) FROM events e
            WHERE e.status = 'published' AND e.visibility = 'public' AND e.starts_at >= \(bind: now) AND e.starts_at < \(bind: until)
            ORDER BY e.going_count * 3 + e.interested_count + e.like_count * 2 DESC, e.id LIMIT \(literal: limit)
            """).all().map(EventStore.event(from:))
    }

    /// Published, public, not over (unless a range says otherwise), and the filters.
    /// `serverClock` (PostgreSQL only) compares with the server's `now()` instead of `now`.
    static func conditions(_ filters: Filters, now: Date, serverClock: Bool = false) -> SQLQueryString {
        var query: SQLQueryString = "e.status = 'published' AND e.visibility = 'public'"
        if let from = filters.from {
            query += " AND e.starts_at >= \(bind: from)"
        } else if serverClock {
            query += " AND e.series_ends_at > now()"
        } else {
            query += " AND e.series_ends_at > \(bind: now)"
        }
        if let to = filters.to { query += " AND e.starts_at < \(bind: to)" }
        if let kind = filters.kind { query += " AND e.kind = \(bind: kind.rawValue)" }
        if let organizer = filters.organizerId { query += " AND e.organizer_id = \(bind: organizer)" }
        if let categories = filters.categoryIds, !categories.isEmpty {
            query += " AND e.category_id IN (\(SQLList(categories.map { SQLBind($0) })))"
        }
        if let free = filters.free {
            query += free ? " AND NOT EXISTS" : " AND EXISTS"
            query += " (SELECT 1 FROM ticket_tiers t WHERE t.event_id = e.id AND t.price_minor > 0)"
        }
        if let tags = filters.tags, !tags.isEmpty {
            query += " AND e.id IN (SELECT event_id FROM event_tags WHERE tag IN (\(SQLList(tags.map { SQLBind($0) }))))"
        }
        return query
    }
}

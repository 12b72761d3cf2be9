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
        query += " ORDER BY e.starts_at, e.id LIMIT \(bind: page.limit + 1)"
        return try await sql.raw(query).all().map(EventStore.event(from:))
    }

    /// Events matching the words of `text`, best first. `relevance`: lower is better.
    ///
    /// SQLite: FTS5 ranks inside its own index (`ORDER BY rank`, weighted bm25 set by the
    /// migration) and only the best `candidates` rows are joined to `events` and filtered; when
    /// filters leave less than a page, the candidate window grows eightfold until the matches
    /// run out. PostgreSQL: the GIN index finds the matches and `ts_rank` orders them.
    func search(_ text: String, _ filters: Filters, now: Date, page: PageRequest, on sql: any SQLDatabase) async throws -> [(EventRecord, Double)] {
        if sql.dialect.name == "postgresql" {
            var inner: SQLQueryString = """
                SELECT \(unsafeRaw: EventStore.columns), -ts_rank(e.search, websearch_to_tsquery('english', \(bind: text))) AS relevance
                FROM events e WHERE e.search @@ websearch_to_tsquery('english', \(bind: text)) AND
                """
            inner += " " + Self.conditions(filters, now: now)
            return try await ranked(inner, page: page, on: sql)
        }
        guard let match = Self.ftsQuery(text) else { return [] }
        var candidates = (page.limit + 1) * 8
        while true {
            var inner: SQLQueryString = """
                SELECT \(unsafeRaw: EventStore.columns), f.rank AS relevance
                FROM (SELECT rowid, rank FROM events_fts WHERE events_fts MATCH \(bind: match) ORDER BY rank LIMIT \(bind: candidates)) AS f
                CROSS JOIN events e ON e.rowid = f.rowid WHERE
                """
            inner += " " + Self.conditions(filters, now: now)
            let found = try await ranked(inner, page: page, on: sql)
            if found.count > page.limit { return found }
            let matches = try await sql.raw("""
                SELECT COUNT(*) AS n FROM (SELECT rowid FROM events_fts WHERE events_fts MATCH \(bind: match) LIMIT \(bind: candidates + 1)) AS m
                """).first()?.decode(column: "n", as: Int.self) ?? 0
            if matches <= candidates { return found }
            candidates *= 8
        }
    }

    private func ranked(_ inner: SQLQueryString, page: PageRequest, on sql: any SQLDatabase) async throws -> [(EventRecord, Double)] {
        var query: SQLQueryString = "SELECT * FROM (" + inner + ") AS ranked WHERE 1 = 1"
        if let after = page.after, after.count == 2, let relevance = Double(after[0]) {
            query += " AND (relevance > \(bind: relevance) OR (relevance = \(bind: relevance) AND id > \(bind: after[1])))"
        }
        query += " ORDER BY relevance, id LIMIT \(bind: page.limit + 1)"
        return try await sql.raw(query).all().map { row in (try EventStore.event(from: row), try row.decode(column: "relevance", as: Double.self)) }
    }

    /// Events within `box`, nearest to `center` first.
    /// The order uses the squared equirectangular distance (exact enough to rank within a few
    /// hundred km, and plain arithmetic on both engines); the caller computes the great-circle
    /// distance it shows.
    ///
    /// SQLite reads the `candidates` nearest entries of the R*Tree (coordinates only, compact
    /// pages) before touching `events` for the filters; when the filters leave too few, the
    /// caller asks ``boxHoldsMore`` and widens `candidates`. PostgreSQL filters through the GiST
    /// index directly.
    func nearby(center: Coordinate, box: BoundingBox, _ filters: Filters, now: Date, page: PageRequest, candidates: Int,
                on sql: any SQLDatabase) async throws -> [(EventRecord, Double)] {
        let scale = cos(center.latitude * .pi / 180)
        func proximity(_ latitude: String, _ longitude: String) -> SQLQueryString {
            """
            ((\(unsafeRaw: latitude) - \(bind: center.latitude)) * (\(unsafeRaw: latitude) - \(bind: center.latitude)) + \
            ((\(unsafeRaw: longitude) - \(bind: center.longitude)) * \(bind: scale)) * ((\(unsafeRaw: longitude) - \(bind: center.longitude)) * \(bind: scale)))
            """
        }
        let after = page.after.flatMap { $0.count == 2 ? Double($0[0]) : nil }
        var inner: SQLQueryString
        if sql.dialect.name == "postgresql" {
            inner = "SELECT \(unsafeRaw: EventStore.columns), " + proximity("e.latitude", "e.longitude") + " AS proximity "
            inner += """
                FROM events e WHERE e.latitude IS NOT NULL AND point(e.longitude, e.latitude) <@ \
                box(point(\(bind: box.minLongitude), \(bind: box.minLatitude)), point(\(bind: box.maxLongitude), \(bind: box.maxLatitude))) AND
                """
        } else {
            var geo: SQLQueryString = "SELECT id AS geo_id, " + proximity("min_lat", "min_lng") + " AS proximity FROM events_geo "
            geo += """
                WHERE min_lat >= \(bind: box.minLatitude) AND max_lat <= \(bind: box.maxLatitude)
                AND min_lng >= \(bind: box.minLongitude) AND max_lng <= \(bind: box.maxLongitude)
                """
            if let after { geo += " AND " + proximity("min_lat", "min_lng") + " >= \(bind: after)" }
            geo += " ORDER BY proximity LIMIT \(bind: candidates)"
            inner = "SELECT \(unsafeRaw: EventStore.columns), g.proximity AS proximity FROM (" + geo + ") AS g CROSS JOIN events e ON e.rowid = g.geo_id WHERE "
        }
        inner += " " + Self.conditions(filters, now: now)
        var query: SQLQueryString = "SELECT * FROM (" + inner + ") AS near WHERE 1 = 1"
        if let after = page.after, after.count == 2, let proximity = Double(after[0]) {
            query += " AND (proximity > \(bind: proximity) OR (proximity = \(bind: proximity) AND id > \(bind: after[1])))"
        }
        query += " ORDER BY proximity, id LIMIT \(bind: page.limit + 1)"
        return try await sql.raw(query).all().map { row in (try EventStore.event(from: row), try row.decode(column: "proximity", as: Double.self)) }
    }

    /// Whether `box` holds more than `candidates` R*Tree entries, i.e. whether ``nearby`` read
    /// only part of it. Always false on PostgreSQL, which reads the whole box.
    func boxHoldsMore(_ box: BoundingBox, than candidates: Int, on sql: any SQLDatabase) async throws -> Bool {
        guard sql.dialect.name != "postgresql" else { return false }
        return try await sql.raw("""
            SELECT COUNT(*) AS n FROM (SELECT id FROM events_geo WHERE min_lat >= \(bind: box.minLatitude) AND max_lat <= \(bind: box.maxLatitude)
            AND min_lng >= \(bind: box.minLongitude) AND max_lng <= \(bind: box.maxLongitude) LIMIT \(bind: candidates + 1)) AS c
            """).first()?.decode(column: "n", as: Int.self) ?? 0 > candidates
    }

    /// Published public events starting in [now, until), most attended and liked first.
    func featuredCandidates(now: Date, until: Date, limit: Int, on sql: any SQLDatabase) async throws -> [EventRecord] {
        try await sql.raw("""
            SELECT \(unsafeRaw: EventStore.columns) FROM events e
            WHERE e.status = 'published' AND e.visibility = 'public' AND e.starts_at >= \(bind: now) AND e.starts_at < \(bind: until)
            ORDER BY e.going_count * 3 + e.interested_count + e.like_count * 2 DESC, e.id LIMIT \(bind: limit)
            """).all().map(EventStore.event(from:))
    }

    /// Published, public, not over (unless a range says otherwise), and the filters.
    static func conditions(_ filters: Filters, now: Date) -> SQLQueryString {
        var query: SQLQueryString = "e.status = 'published' AND e.visibility = 'public'"
        if let from = filters.from { query += " AND e.starts_at >= \(bind: from)" } else { query += " AND e.series_ends_at > \(bind: now)" }
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

    /// User text as an FTS5 query: each word quoted (so operators and quotes in the text are
    /// plain words), all required, the last one as a prefix (search as you type).
    static func ftsQuery(_ text: String) -> String? {
        let words = text.lowercased().split { !($0.isLetter || $0.isNumber) }.prefix(12).map(String.init)
        guard !words.isEmpty else { return nil }
        return words.enumerated().map { index, word in index == words.count - 1 ? "\"\(word)\"*" : "\"\(word)\"" }.joined(separator: " ")
    }
}

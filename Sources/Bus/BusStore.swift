import FlowKit
import Foundation
import SQLKit

/// The bus's SQL, written once for both engines where it can be. Two statements differ: a
/// publish (one statement each way: a data-modifying CTE on PostgreSQL, the `bus_publish` view
/// on SQLite) and a claim (on PostgreSQL `FOR UPDATE SKIP LOCKED` in the `bus_claim` function,
/// which pins its plan and also acknowledges the last batch; on SQLite the single writer
/// already serialises claims).
struct BusStore: Sendable {
    let database: Database

    static let eventColumns = "e.seq, e.id, e.type, e.version, e.event_key, e.payload, e.occurred_at, e.producer, e.correlation_id, e.trace_id"

    // MARK: Publishing

    /// Stores the event, and one delivery per group in `deliveryGroups` (groups ordered by key; the
    /// others read the events as a log), in the caller's transaction, and posts `wake` (the groups
    /// with new work) on `wakeChannel` when it commits.
    func insert(_ event: EventEnvelope, deliveryGroups: [String], wake: [String], wakeChannel: String, in tx: Transaction) async throws {
        let wakePayload = wake.joined(separator: ",")
        switch tx.engine {
        case .postgres:
            // One round trip instead of three: the event, its deliveries and the NOTIFY (sent by
            // PostgreSQL at commit) in one statement with data-modifying CTEs.
            var query: SQLQueryString = """
                WITH event AS (
                    INSERT INTO bus_events (id, type, version, event_key, payload, occurred_at, producer, correlation_id, trace_id)
                    VALUES (\(bind: event.id), \(bind: event.type), \(bind: event.version), \(bind: event.key), \(bind: event.payload),
                            \(bind: event.occurredAt), \(bind: event.producer), \(bind: event.correlationId), \(bind: event.traceId))
                    RETURNING seq
                )
                """
            if !deliveryGroups.isEmpty {
                let names = deliveryGroups.map { name -> SQLQueryString in "(\(bind: name))" }.joined(separator: ", ")
                query += """
                    , deliveries AS (
                        INSERT INTO bus_deliveries (event_seq, consumer_group, event_key, attempts, available_at, created_at)
                        SELECT event.seq, g.name, \(bind: event.key), 0, \(bind: event.occurredAt), \(bind: event.occurredAt)
                        FROM event CROSS JOIN (VALUES
                    """
                query += names + ") AS g(name))"
            }
            query += wake.isEmpty ? " SELECT seq FROM event" : " SELECT pg_notify(\(bind: wakeChannel), \(bind: wakePayload)) FROM event"
            try await tx.sql.raw(query).run()
        case .sqlite:
            // One statement too: the `bus_publish` view's trigger inserts the event and its
            // deliveries (BusMigrations 2).
            let consumerGroups = try FlowJSON.text(deliveryGroups)
            try await tx.sql.raw("""
                INSERT INTO bus_publish (id, type, version, event_key, payload, occurred_at, producer, correlation_id, trace_id, consumer_groups)
                VALUES (\(bind: event.id), \(bind: event.type), \(bind: event.version), \(bind: event.key), \(bind: event.payload),
                        \(bind: event.occurredAt), \(bind: event.producer), \(bind: event.correlationId), \(bind: event.traceId),
                        \(bind: consumerGroups))
                """).run()
            if !wake.isEmpty { try await database.notify(wakeChannel, payload: wakePayload, in: tx) }
        }
    }

    /// Creates the cursors of `groups` that do not exist yet, at the head of the log, in the
    /// publisher's transaction: its own event, and everything published after, is then ahead of
    /// every cursor (on PostgreSQL the head is the oldest running transaction, which this one is
    /// not older than once it writes).
    func ensureCursors(_ groups: [String], in tx: Transaction) async throws {
        guard !groups.isEmpty else { return }
        switch tx.engine {
        case .postgres:
            try await tx.sql.raw("""
                INSERT INTO bus_cursors (consumer_group, tx, seq)
                SELECT g, pg_snapshot_xmin(pg_current_snapshot()), 0 FROM unnest(\(bind: groups)::text[]) AS g
                ON CONFLICT DO NOTHING
                """).run()
        case .sqlite:
            try await tx.sql.raw("""
                INSERT OR IGNORE INTO bus_cursors (consumer_group, seq)
                SELECT value, (SELECT COALESCE(MAX(seq), 0) FROM bus_events) FROM json_each(\(bind: try FlowJSON.text(groups)))
                """).run()
        }
    }

    /// A log position in SQL: `(tx, seq)` on PostgreSQL, `seq` on SQLite (BusLogMigration says
    /// why). `prefix` picks a range claim's `from_` or `to_` columns.
    func position(_ alias: String, _ prefix: String = "") -> String {
        database.engine == .postgres ? "(\(alias).\(prefix)tx, \(alias).\(prefix)seq)" : "\(alias).\(prefix)seq"
    }

    /// The select list that reads a position back for ``positionLiteral(_:_:)``.
    func positionColumns(_ prefix: String = "") -> String {
        database.engine == .postgres ? "\(prefix)tx::text AS \(prefix)tx, \(prefix)seq" : "\(prefix)seq"
    }

    /// A position read with ``positionColumns(_:)``, as an SQL literal comparable with ``position(_:_:)``.
    func positionLiteral(_ row: any SQLRow, _ prefix: String = "") throws -> String {
        let seq = try row.decode(column: "\(prefix)seq", as: Int64.self)
        guard database.engine == .postgres else { return "\(seq)" }
        let tx = try row.decode(column: "\(prefix)tx", as: String.self)
        guard !tx.isEmpty, tx.allSatisfy(\.isASCII), tx.allSatisfy(\.isNumber) else {
            throw DatabaseError(.invalidValue, message: "a bus log position has a transaction id that is not a number: \(tx)")
        }
        return "('\(tx)'::xid8, \(seq))"
    }

    enum Outcome: Sendable {
        case handled
        case failed(error: String)
    }

    struct CompletionCounts: Sendable {
        var handled = 0
        var retried = 0
        var deadLettered = 0
    }

    /// Records a batch's outcomes in one transaction: handled leases are deleted; failed events
    /// are rescheduled with backoff or, out of attempts, moved to the dead letters. A failed event
    /// of a range becomes a delivery row of its own (the range is done with). Only leases still
    /// held by `worker` are touched (an expired claim belongs to another).
    func complete(_ outcomes: [(Claimed, Outcome)], group: ConsumerGroup, worker: String, now: Date) async throws -> CompletionCounts {
        let failed = outcomes.filter { if case .failed = $0.1 { true } else { false } }
        if failed.isEmpty {
            // The common case, all handled: DELETEs committing by themselves.
            try await database.autocommit { sql in try await Self.delete(Acknowledged(outcomes.map(\.0.lease)), heldBy: worker, on: sql) }
            return CompletionCounts(handled: outcomes.count)
        }
        return try await database.transaction { tx in
            var counts = CompletionCounts(handled: outcomes.count - failed.count)
            // A range is released whole; its failures are recorded only if this worker still held it.
            let ranges = Acknowledged(outcomes.map(\.0.lease)).ranges
            var held: Set<Int64> = []
            if !ranges.isEmpty {
                let rows = try await tx.sql.raw("""
                    DELETE FROM bus_range_claims WHERE id IN (\(binds: ranges)) AND worker = \(bind: worker) RETURNING id
                    """).all()
                held = Set(try rows.map { try $0.decode(column: "id", as: Int64.self) })
            }
            let handledDeliveries = outcomes.compactMap { item -> Lease? in
                if case .handled = item.1, case .delivery = item.0.lease { item.0.lease } else { nil }
            }
            try await Self.delete(Acknowledged(handledDeliveries), heldBy: worker, on: tx.sql)
            for (claimed, outcome) in failed {
                guard case .failed(let error) = outcome else { continue }
                if case .range(let id) = claimed.lease, !held.contains(id) { continue }
                if claimed.attempt >= group.retry.maxAttempts {
                    if case .delivery(let id) = claimed.lease {
                        let removed = try await tx.sql.raw("DELETE FROM bus_deliveries WHERE id = \(bind: id) AND claimed_by = \(bind: worker) RETURNING id").first()
                        if removed == nil { continue }
                    }
                    try await tx.sql.raw("""
                        INSERT INTO bus_dead_letters (id, event_seq, consumer_group, attempts, last_error, failed_at)
                        VALUES (\(bind: UUIDv7.string()), \(bind: claimed.eventSeq), \(bind: group.name), \(bind: claimed.attempt), \(bind: error), \(bind: now))
                        """).run()
                    counts.deadLettered += 1
                    continue
                }
                let retryAt = now.addingTimeInterval(group.retry.delay(afterAttempt: claimed.attempt).seconds)
                switch claimed.lease {
                case .delivery(let id):
                    // In place: for a group ordered by key the row keeps its place ahead of the
                    // key's later events.
                    let rescheduled = try await tx.sql.raw("""
                        UPDATE bus_deliveries
                        SET claimed_by = NULL, claim_expires_at = NULL, available_at = \(bind: retryAt), last_error = \(bind: error)
                        WHERE id = \(bind: id) AND claimed_by = \(bind: worker)
                        RETURNING id
                        """).first()
                    if rescheduled == nil { continue }
                case .range:
                    try await tx.sql.raw("""
                        INSERT INTO bus_deliveries (event_seq, consumer_group, event_key, attempts, available_at, last_error, created_at)
                        VALUES (\(bind: claimed.eventSeq), \(bind: group.name), \(bind: claimed.event.key), \(bind: claimed.attempt),
                                \(bind: retryAt), \(bind: error), \(bind: now))
                        """).run()
                }
                counts.retried += 1
            }
            return counts
        }
    }

    // MARK: Inspection

    struct Backlog: Sendable {
        var pending = 0
        var inFlight = 0
        var retrying = 0
        var oldestCreatedAt: Date?
        var deadLetters = 0
    }

    /// Backlog per consumer group, including groups with rows but no longer registered.
    /// `logGroups` are the registered groups that read the log, with their event types: their
    /// events past the cursor, and in claimed ranges, count as pending too (in flight while the
    /// range's claim is live).
    func backlog(now: Date, logGroups: [String: [String]]) async throws -> [String: Backlog] {
        try await database.read { sql in
            var result: [String: Backlog] = [:]
            let rows = try await sql.raw("""
                SELECT consumer_group,
                       COUNT(*) AS pending,
                       SUM(CASE WHEN claim_expires_at > \(bind: now) THEN 1 ELSE 0 END) AS in_flight,
                       SUM(CASE WHEN attempts > 0 AND claimed_by IS NULL THEN 1 ELSE 0 END) AS retrying,
                       MIN(created_at) AS oldest
                FROM bus_deliveries GROUP BY consumer_group
                """).all()
            for row in rows {
                let group = try row.decode(column: "consumer_group", as: String.self)
                result[group] = Backlog(
                    pending: try row.decode(column: "pending", as: Int.self),
                    inFlight: try row.decodeOptional(column: "in_flight", as: Int.self) ?? 0,
                    retrying: try row.decodeOptional(column: "retrying", as: Int.self) ?? 0,
                    oldestCreatedAt: try row.decodeOptional(column: "oldest", as: Date.self))
            }
            for (group, types) in logGroups {
                var entry = result[group, default: Backlog()]
                // Positions are read first and written into the counts as literals: compared with
                // a bound or joined position, PostgreSQL plans for a third of the table and
                // scans all of it, every 5 s.
                var spans: [(after: String, upTo: String?, live: Bool)] = []
                if let cursor = try await sql.raw("""
                    SELECT \(unsafeRaw: positionColumns()) FROM bus_cursors WHERE consumer_group = \(bind: group)
                    """).first() {
                    spans.append((try positionLiteral(cursor), nil, false))
                }
                let ranges = try await sql.raw("""
                    SELECT expires_at, \(unsafeRaw: positionColumns("from_")), \(unsafeRaw: positionColumns("to_"))
                    FROM bus_range_claims WHERE consumer_group = \(bind: group)
                    """).all()
                for range in ranges {
                    spans.append((try positionLiteral(range, "from_"), try positionLiteral(range, "to_"),
                                  try range.decode(column: "expires_at", as: Date.self) > now))
                }
                for span in spans {
                    let upTo = span.upTo.map { " AND \(position("e")) <= \($0)" } ?? ""
                    let row = try await sql.raw("""
                        SELECT COUNT(*) AS pending, MIN(e.occurred_at) AS oldest FROM bus_events e
                        WHERE \(unsafeRaw: position("e")) > \(unsafeRaw: span.after)\(unsafeRaw: upTo) AND e.type IN (\(binds: types))
                        """).first()
                    let pending = try row?.decode(column: "pending", as: Int.self) ?? 0
                    entry.pending += pending
                    if span.live { entry.inFlight += pending }
                    if let oldest = try row?.decodeOptional(column: "oldest", as: Date.self) {
                        entry.oldestCreatedAt = min(entry.oldestCreatedAt ?? oldest, oldest)
                    }
                }
                if entry.pending > 0 || result[group] != nil { result[group] = entry }
            }
            let dead = try await sql.raw("SELECT consumer_group, COUNT(*) AS dead FROM bus_dead_letters GROUP BY consumer_group").all()
            for row in dead {
                let group = try row.decode(column: "consumer_group", as: String.self)
                result[group, default: Backlog()].deadLetters = try row.decode(column: "dead", as: Int.self)
            }
            return result
        }
    }

    /// Whether `group` has a dead letter of the event with this id.
    func hasDeadLetter(eventId: String, group: String) async throws -> Bool {
        try await database.read { sql in
            try await sql.raw("""
                SELECT 1 AS one FROM bus_dead_letters x JOIN bus_events e ON e.seq = x.event_seq
                WHERE e.id = \(bind: eventId) AND x.consumer_group = \(bind: group)
                """).first() != nil
        }
    }

    /// The type of the retained event with this id; nil when there is none.
    func eventType(id: String) async throws -> String? {
        try await database.read { sql in
            try await sql.raw("SELECT type FROM bus_events WHERE id = \(bind: id)").first()?.decode(column: "type", as: String.self)
        }
    }

    func deadLetters(group: String?, type: String?, page: PageRequest) async throws -> [DeadLetter] {
        var query: SQLQueryString = """
            SELECT d.id AS dead_letter_id, d.consumer_group, d.attempts, d.last_error, d.failed_at, \(unsafeRaw: Self.eventColumns)
            FROM bus_dead_letters d JOIN bus_events e ON e.seq = d.event_seq
            WHERE d.id > \(bind: page.after?.first ?? "")
            """
        query += Self.filters(id: nil, group: group, type: type)
        query += " ORDER BY d.id LIMIT \(literal: page.limit + 1)"
        return try await database.read { [query] sql in
            try await sql.raw(query).all().map { row in
                DeadLetter(
                    id: try row.decode(column: "dead_letter_id", as: String.self),
                    group: try row.decode(column: "consumer_group", as: String.self),
                    attempts: try row.decode(column: "attempts", as: Int.self),
                    lastError: try row.decode(column: "last_error", as: String.self),
                    failedAt: try row.decode(column: "failed_at", as: Date.self),
                    event: try Self.envelope(from: row))
            }
        }
    }

    /// ` AND …` conditions on dead letters `d` joined with their events `e`, for the filters given.
    static func filters(id: String?, group: String?, type: String?) -> SQLQueryString {
        var conditions: SQLQueryString = ""
        if let id { conditions += " AND d.id = \(bind: id)" }
        if let group { conditions += " AND d.consumer_group = \(bind: group)" }
        if let type { conditions += " AND e.type = \(bind: type)" }
        return conditions
    }

    // MARK: Replay

    /// Moves matching dead letters back to deliveries (attempts start over). Returns how many.
    func replayDeadLetters(id: String?, group: String?, type: String?, now: Date) async throws -> Int {
        try await database.transaction { tx in
            let query: SQLQueryString = """
                SELECT d.id, d.event_seq, d.consumer_group, e.event_key
                FROM bus_dead_letters d JOIN bus_events e ON e.seq = d.event_seq
                WHERE 1 = 1
                """ + Self.filters(id: id, group: group, type: type) + " ORDER BY d.id"
            let rows = try await tx.sql.raw(query).all()
            if rows.isEmpty { return 0 }
            var insert = tx.sql.insert(into: "bus_deliveries")
                .columns("event_seq", "consumer_group", "event_key", "attempts", "available_at", "created_at")
            var ids: [String] = []
            for row in rows {
                ids.append(try row.decode(column: "id", as: String.self))
                insert = insert.values(
                    SQLBind(try row.decode(column: "event_seq", as: Int64.self)),
                    SQLBind(try row.decode(column: "consumer_group", as: String.self)),
                    SQLBind(try row.decodeOptional(column: "event_key", as: String.self)),
                    SQLBind(0), SQLBind(now), SQLBind(now))
            }
            try await insert.run()
            try await tx.sql.raw("DELETE FROM bus_dead_letters WHERE id IN (\(binds: ids))").run()
            return rows.count
        }
    }

    /// Which stored events a replay delivers again.
    enum ReplaySelection {
        /// Every event that occurred at or after this time.
        case since(Date)
        /// The event with this id.
        case event(id: String)
    }

    /// Delivers again to `group` every selected stored event of its types that is not pending
    /// for the group: no delivery of it waiting, and, for a group reading the log, not ahead of
    /// its cursor or in a range it holds (those are coming anyway; queueing them too could hand
    /// one event to two workers at once). Dead letters are left to the dead-letter replay, which
    /// also removes them (queued here too, a later replay of the dead letter would queue it twice).
    /// Returns how many were queued.
    func replay(group: ConsumerGroup, _ selection: ReplaySelection, now: Date) async throws -> Int {
        let selected: SQLQueryString = switch selection {
        case .since(let since): "e.occurred_at >= \(bind: since)"
        case .event(let id): "e.id = \(bind: id)"
        }
        var query: SQLQueryString = """
            INSERT INTO bus_deliveries (event_seq, consumer_group, event_key, attempts, available_at, created_at)
            SELECT e.seq, \(bind: group.name), e.event_key, 0, \(bind: now), \(bind: now)
            FROM bus_events e
            WHERE e.type IN (\(binds: group.eventTypes.sorted()))
              AND NOT EXISTS (SELECT 1 FROM bus_deliveries d WHERE d.event_seq = e.seq AND d.consumer_group = \(bind: group.name))
              AND NOT EXISTS (SELECT 1 FROM bus_dead_letters x WHERE x.event_seq = e.seq AND x.consumer_group = \(bind: group.name))
            """
        query += " AND " + selected
        if !group.orderedByKey {
            let event = position("e")
            query += """
                 AND NOT EXISTS (SELECT 1 FROM bus_cursors c WHERE c.consumer_group = \(bind: group.name) AND \(unsafeRaw: event) > \(unsafeRaw: position("c")))
                 AND NOT EXISTS (SELECT 1 FROM bus_range_claims k WHERE k.consumer_group = \(bind: group.name)
                                 AND \(unsafeRaw: event) > \(unsafeRaw: position("k", "from_")) AND \(unsafeRaw: event) <= \(unsafeRaw: position("k", "to_")))
                """
        }
        query += " ORDER BY e.seq RETURNING id"
        return try await database.transaction { [query] tx in
            try await tx.sql.raw(query).all().count
        }
    }

    /// Refreshes the planner's statistics of the deliveries table. Its size swings from empty to
    /// a large backlog in seconds; with stale statistics a claim sorts the whole backlog instead
    /// of reading the first rows of its index. On PostgreSQL it also vacuums the table: handled
    /// deliveries are deleted rows that claims keep stepping over in the index until a vacuum
    /// removes them, and autovacuum's default thresholds wait for 20% of the table to be dead.
    func refreshStatistics() async throws {
        let statement = database.engine == .postgres ? "VACUUM (ANALYZE) bus_deliveries" : "ANALYZE bus_deliveries"
        try await database.autocommit { sql in try await sql.raw(SQLQueryString(statement)).run() }
    }

    // MARK: Retention

    /// Deletes up to `batchSize` events that occurred before `cutoff` and that nothing still
    /// needs: no delivery or dead letter, and neither ahead of the cursor nor in a claimed range
    /// of any group in `logGroups` (the registered groups reading the log; the cursor or an
    /// abandoned range of a group no longer registered, or now ordered by key, would otherwise
    /// keep those events forever). Returns how many.
    func prune(before cutoff: Date, batchSize: Int, logGroups: [String]) async throws -> Int {
        let event = position("e")
        let unread: SQLQueryString = logGroups.isEmpty ? "" : """
             AND NOT EXISTS (SELECT 1 FROM bus_cursors c WHERE c.consumer_group IN (\(binds: logGroups)) AND \(unsafeRaw: event) > \(unsafeRaw: position("c")))
             AND NOT EXISTS (SELECT 1 FROM bus_range_claims k WHERE k.consumer_group IN (\(binds: logGroups))
                             AND \(unsafeRaw: event) > \(unsafeRaw: position("k", "from_")) AND \(unsafeRaw: event) <= \(unsafeRaw: position("k", "to_")))
            """
        var candidates: SQLQueryString = """
            SELECT e.seq FROM bus_events e
            WHERE e.occurred_at < \(bind: cutoff)
              AND NOT EXISTS (SELECT 1 FROM bus_deliveries d WHERE d.event_seq = e.seq)
              AND NOT EXISTS (SELECT 1 FROM bus_dead_letters x WHERE x.event_seq = e.seq)
            """
        candidates += unread + " ORDER BY e.seq LIMIT \(literal: batchSize)"
        let query: SQLQueryString = "DELETE FROM bus_events WHERE seq IN (" + candidates + ") RETURNING seq"
        return try await database.transaction { tx in
            try await tx.sql.raw(query).all().count
        }
    }

    static func envelope(from row: any SQLRow) throws -> EventEnvelope {
        EventEnvelope(
            id: try row.decode(column: "id", as: String.self),
            type: try row.decode(column: "type", as: String.self),
            version: try row.decode(column: "version", as: Int.self),
            key: try row.decodeOptional(column: "event_key", as: String.self),
            occurredAt: try row.decode(column: "occurred_at", as: Date.self),
            producer: try row.decode(column: "producer", as: String.self),
            correlationId: try row.decodeOptional(column: "correlation_id", as: String.self),
            traceId: try row.decodeOptional(column: "trace_id", as: String.self),
            payload: try row.decode(column: "payload", as: String.self))
    }
}

/// A delivery that ran out of attempts, with the event and why it failed last.
public struct DeadLetter: Sendable, Codable {
    public let id: String
    public let group: String
    public let attempts: Int
    public let lastError: String
    public let failedAt: Date
    public let event: EventEnvelope
}

extension Duration {
    var seconds: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

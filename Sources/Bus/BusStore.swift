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

    /// Stores the event and one delivery per subscribed group in the caller's transaction, and
    /// posts `wake` (the groups with new work) on `wakeChannel` when it commits.
    func insert(_ event: EventEnvelope, groups: [String], wakeChannel: String, in tx: Transaction) async throws {
        let wake = groups.joined(separator: ",")
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
            if groups.isEmpty {
                query += " SELECT seq FROM event"
            } else {
                let names = groups.map { name -> SQLQueryString in "(\(bind: name))" }.joined(separator: ", ")
                query += """
                    , deliveries AS (
                        INSERT INTO bus_deliveries (event_seq, consumer_group, event_key, attempts, available_at, created_at)
                        SELECT event.seq, g.name, \(bind: event.key), 0, \(bind: event.occurredAt), \(bind: event.occurredAt)
                        FROM event CROSS JOIN (VALUES
                    """
                query += names + """
                    ) AS g(name)
                    )
                    SELECT pg_notify(\(bind: wakeChannel), \(bind: wake)) FROM event
                    """
            }
            try await tx.sql.raw(query).run()
        case .sqlite:
            // One statement too: the `bus_publish` view's trigger inserts the event and its
            // deliveries (BusMigrations 2).
            let consumerGroups = try FlowJSON.text(groups)
            try await tx.sql.raw("""
                INSERT INTO bus_publish (id, type, version, event_key, payload, occurred_at, producer, correlation_id, trace_id, consumer_groups)
                VALUES (\(bind: event.id), \(bind: event.type), \(bind: event.version), \(bind: event.key), \(bind: event.payload),
                        \(bind: event.occurredAt), \(bind: event.producer), \(bind: event.correlationId), \(bind: event.traceId),
                        \(bind: consumerGroups))
                """).run()
            if !groups.isEmpty { try await database.notify(wakeChannel, payload: wake, in: tx) }
        }
    }

    // MARK: Claiming and completing

    struct Claimed: Sendable {
        let deliveryId: Int64
        let attempt: Int
        let event: EventEnvelope
    }

    /// Claims up to `limit` deliveries of `group` that are due and not held by a live claim.
    /// For ordered groups a delivery is only claimable when no earlier delivery with the same
    /// key is still present (pending, retrying or in flight), so a key has one event in flight.
    ///
    /// `acknowledging` are deliveries `worker` handled since its last claim: they are deleted
    /// first, in the same write, so a worker's steady state is one write per batch instead of two
    /// (on SQLite both statements are one job of the single writer, on PostgreSQL one call of
    /// `bus_claim`). Only deliveries still claimed by `worker` are deleted, as in ``complete``.
    func claim(group: ConsumerGroup, worker: String, limit: Int, now: Date, acknowledging handled: [Int64] = []) async throws -> [Claimed] {
        let expires = now.addingTimeInterval(group.claimTimeout.seconds)
        switch database.engine {
        case .postgres:
            // One round trip: `bus_claim` deletes the acknowledged deliveries and claims with
            // `FOR UPDATE SKIP LOCKED` in a plan pinned to an ordered index scan, and returns the
            // claimed events (BusMigrations 3 and 4 say why). It commits by itself.
            let rows = try await database.autocommit { sql in
                try await sql.raw("""
                    SELECT c.delivery_id, c.delivery_attempts AS attempts, (c.event).*
                    FROM bus_claim(\(bind: group.name), \(bind: worker), \(bind: now), \(bind: expires), \(bind: limit),
                                   \(bind: group.orderedByKey), \(bind: handled)) c
                    ORDER BY c.delivery_id
                    """).all()
            }
            return try rows.map { row in
                Claimed(deliveryId: try row.decode(column: "delivery_id", as: Int64.self),
                        attempt: try row.decode(column: "attempts", as: Int.self), event: try Self.envelope(from: row))
            }
        case .sqlite:
            return try await claimOnSQLite(group: group, worker: worker, limit: limit, now: now, expires: expires, acknowledging: handled)
        }
    }

    /// The claim on SQLite, where the single writer already serialises claims: the delete and
    /// the claim are one job of the writer, and the events are read afterwards from a reader
    /// (they are immutable).
    private func claimOnSQLite(group: ConsumerGroup, worker: String, limit: Int, now: Date, expires: Date, acknowledging handled: [Int64]) async throws -> [Claimed] {
        let claimed = try await database.autocommit { sql in
            if !handled.isEmpty { try await Self.delete(handled, claimedBy: worker, on: sql) }
            // The statement `bus_claim` holds on PostgreSQL; that copy lives in a migration and
            // does not follow edits here: a change to the claim needs a migration that replaces
            // the function too.
            let orderedFilter = group.orderedByKey
                ? """
                  AND NOT EXISTS (SELECT 1 FROM bus_deliveries e
                                  WHERE e.consumer_group = c.consumer_group AND e.event_key = c.event_key AND e.id < c.id)
                  """
                : ""
            return try await sql.raw("""
                UPDATE bus_deliveries SET claimed_by = \(bind: worker), claim_expires_at = \(bind: expires), attempts = attempts + 1
                WHERE id IN (
                    SELECT c.id FROM bus_deliveries c
                    WHERE c.consumer_group = \(bind: group.name) AND c.available_at <= \(bind: now)
                      AND (c.claim_expires_at IS NULL OR c.claim_expires_at <= \(bind: now))
                      \(unsafeRaw: orderedFilter)
                    ORDER BY c.id
                    LIMIT \(literal: limit)
                )
                RETURNING id, event_seq, attempts
                """).all()
        }
        if claimed.isEmpty { return [] }
        var bySeq: [Int64: (id: Int64, attempts: Int)] = [:]
        for row in claimed {
            bySeq[try row.decode(column: "event_seq", as: Int64.self)] =
                (try row.decode(column: "id", as: Int64.self), try row.decode(column: "attempts", as: Int.self))
        }
        let seqs = Array(bySeq.keys)
        let events = try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.eventColumns) FROM bus_events e WHERE e.seq IN (\(binds: seqs))").all()
        }
        return try events.map { row in
            let delivery = bySeq[try row.decode(column: "seq", as: Int64.self)]!
            return Claimed(deliveryId: delivery.id, attempt: delivery.attempts, event: try Self.envelope(from: row))
        }.sorted { $0.deliveryId < $1.deliveryId }
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

    /// Records a batch's outcomes in one transaction: handled deliveries are deleted, failed
    /// ones are rescheduled with backoff or, out of attempts, moved to the dead letters. Only
    /// deliveries still claimed by `worker` are touched (an expired claim belongs to another).
    func complete(_ outcomes: [(Claimed, Outcome)], group: ConsumerGroup, worker: String, now: Date) async throws -> CompletionCounts {
        let handled = outcomes.compactMap { item -> Int64? in
            if case .handled = item.1 { return item.0.deliveryId } else { return nil }
        }
        if handled.count == outcomes.count {
            // The common case, all handled: one DELETE, committing by itself.
            try await database.autocommit { sql in try await Self.delete(handled, claimedBy: worker, on: sql) }
            return CompletionCounts(handled: handled.count)
        }
        return try await database.transaction { tx in
            var counts = CompletionCounts()
            if !handled.isEmpty {
                try await Self.delete(handled, claimedBy: worker, on: tx.sql)
                counts.handled = handled.count
            }
            for (claimed, outcome) in outcomes {
                guard case .failed(let error) = outcome else { continue }
                if claimed.attempt >= group.retry.maxAttempts {
                    let removed = try await tx.sql.raw("""
                        DELETE FROM bus_deliveries WHERE id = \(bind: claimed.deliveryId) AND claimed_by = \(bind: worker)
                        RETURNING event_seq
                        """).first()
                    guard let seq = try removed?.decode(column: "event_seq", as: Int64.self) else { continue }
                    try await tx.sql.raw("""
                        INSERT INTO bus_dead_letters (id, event_seq, consumer_group, attempts, last_error, failed_at)
                        VALUES (\(bind: UUIDv7.string()), \(bind: seq), \(bind: group.name), \(bind: claimed.attempt), \(bind: error), \(bind: now))
                        """).run()
                    counts.deadLettered += 1
                } else {
                    let retryAt = now.addingTimeInterval(group.retry.delay(afterAttempt: claimed.attempt).seconds)
                    try await tx.sql.raw("""
                        UPDATE bus_deliveries
                        SET claimed_by = NULL, claim_expires_at = NULL, available_at = \(bind: retryAt), last_error = \(bind: error)
                        WHERE id = \(bind: claimed.deliveryId) AND claimed_by = \(bind: worker)
                        """).run()
                    counts.retried += 1
                }
            }
            return counts
        }
    }

    /// Deletes handled deliveries that `worker` still holds (an expired claim belongs to another).
    private static func delete(_ handled: [Int64], claimedBy worker: String, on sql: any SQLDatabase) async throws {
        try await sql.raw("DELETE FROM bus_deliveries WHERE id IN (\(binds: handled)) AND claimed_by = \(bind: worker)").run()
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
    func backlog(now: Date) async throws -> [String: Backlog] {
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
            let dead = try await sql.raw("SELECT consumer_group, COUNT(*) AS dead FROM bus_dead_letters GROUP BY consumer_group").all()
            for row in dead {
                let group = try row.decode(column: "consumer_group", as: String.self)
                result[group, default: Backlog()].deadLetters = try row.decode(column: "dead", as: Int.self)
            }
            return result
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

    /// Delivers again to `group` every stored event of its types that occurred at or after
    /// `since` and has no delivery for the group pending. Returns how many were queued.
    func replay(group: ConsumerGroup, since: Date, now: Date) async throws -> Int {
        try await database.transaction { tx in
            let rows = try await tx.sql.raw("""
                INSERT INTO bus_deliveries (event_seq, consumer_group, event_key, attempts, available_at, created_at)
                SELECT e.seq, \(bind: group.name), e.event_key, 0, \(bind: now), \(bind: now)
                FROM bus_events e
                WHERE e.occurred_at >= \(bind: since) AND e.type IN (\(binds: group.eventTypes.sorted()))
                  AND NOT EXISTS (SELECT 1 FROM bus_deliveries d WHERE d.event_seq = e.seq AND d.consumer_group = \(bind: group.name))
                ORDER BY e.seq
                RETURNING id
                """).all()
            return rows.count
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

    /// Deletes up to `batchSize` events that occurred before `cutoff` and that no delivery or
    /// dead letter still needs. Returns how many were deleted.
    func prune(before cutoff: Date, batchSize: Int) async throws -> Int {
        try await database.transaction { tx in
            try await tx.sql.raw("""
                DELETE FROM bus_events WHERE seq IN (
                    SELECT e.seq FROM bus_events e
                    WHERE e.occurred_at < \(bind: cutoff)
                      AND NOT EXISTS (SELECT 1 FROM bus_deliveries d WHERE d.event_seq = e.seq)
                      AND NOT EXISTS (SELECT 1 FROM bus_dead_letters x WHERE x.event_seq = e.seq)
                    ORDER BY e.seq
                    LIMIT \(literal: batchSize)
                )
                RETURNING seq
                """).all().count
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

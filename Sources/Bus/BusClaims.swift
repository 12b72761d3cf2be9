import FlowKit
import Foundation
import SQLKit

/// What a claim holds, and what handling it acknowledges.
enum Lease: Sendable, Hashable {
    /// One row of `bus_deliveries`: a retry, a replay, or any event of a group ordered by key.
    case delivery(Int64)
    /// A range of the log taken by moving a group's cursor (``BusLogMigration``): all of its
    /// events of the group's types.
    case range(Int64)
}

extension BusStore {
    struct Claimed: Sendable {
        let lease: Lease
        let attempt: Int
        let eventSeq: Int64
        let event: EventEnvelope
    }

    /// Claims up to `limit` events for `group` that are due and not held by a live claim: an
    /// expired range whole, or else due retries and replays, then the log after the group's cursor.
    /// Groups ordered by key claim only deliveries, and a delivery is claimable only when no
    /// earlier delivery with the same key is still present (pending, retrying or in flight), so a
    /// key has one event in flight.
    ///
    /// `acknowledging` are leases `worker` handled since its last claim: they are deleted first,
    /// in the same write, so a worker's steady state is one write per batch instead of two (on
    /// SQLite one job of the single writer, on PostgreSQL one function call). Only leases still
    /// held by `worker` are deleted, as in ``complete``.
    func claim(group: ConsumerGroup, worker: String, limit: Int, now: Date, acknowledging handled: [Lease] = []) async throws -> [Claimed] {
        try await claimBatch(group: group, worker: worker, limit: limit, now: now, acknowledging: handled).claimed
    }

    struct Batch: Sendable {
        var claimed: [Claimed]
        /// On PostgreSQL: nothing was claimable, but committed events of the group's types wait
        /// behind an older transaction that is still running (BusLogMigration), or another worker
        /// of the group held the cursor. Worth another look in a few milliseconds: the
        /// notification for those events has already come and gone.
        var lookAgainSoon = false
    }

    func claimBatch(group: ConsumerGroup, worker: String, limit: Int, now: Date, acknowledging handled: [Lease] = []) async throws -> Batch {
        let expires = now.addingTimeInterval(group.claimTimeout.seconds)
        let acknowledged = Acknowledged(handled)
        switch database.engine {
        case .postgres where group.orderedByKey:
            // `bus_claim` deletes the acknowledged deliveries and claims with `FOR UPDATE SKIP
            // LOCKED` in a plan pinned to an ordered index scan, and returns the claimed events
            // (BusMigrations 3 and 4 say why). It commits by itself.
            let rows = try await database.autocommit { sql in
                try await sql.raw("""
                    SELECT c.delivery_id, c.delivery_attempts AS attempts, (c.event).*
                    FROM bus_claim(\(bind: group.name), \(bind: worker), \(bind: now), \(bind: expires), \(bind: limit),
                                   true, \(bind: acknowledged.deliveries)) c
                    """).all()
            }
            return Batch(claimed: try rows.map { row in try Self.claimed(row, lease: .delivery(try row.decode(column: "delivery_id", as: Int64.self))) }
                .sorted { $0.eventSeq < $1.eventSeq })
        case .postgres:
            let rows = try await database.autocommit { sql in
                try await sql.raw("""
                    SELECT c.range_id, c.delivery_id, c.attempts, (c.event).*
                    FROM bus_claim_log(\(bind: group.name), \(bind: worker), \(bind: now), \(bind: expires), \(bind: limit),
                                       \(bind: group.eventTypes.sorted()), \(bind: acknowledged.ranges), \(bind: acknowledged.deliveries)) c
                    """).all()
            }
            var batch = Batch(claimed: [])
            for row in rows {
                if let range = try row.decodeOptional(column: "range_id", as: Int64.self) {
                    batch.claimed.append(try Self.claimed(row, lease: .range(range)))
                } else if let delivery = try row.decodeOptional(column: "delivery_id", as: Int64.self) {
                    batch.claimed.append(try Self.claimed(row, lease: .delivery(delivery)))
                } else {
                    batch.lookAgainSoon = true
                }
            }
            batch.claimed.sort { $0.eventSeq < $1.eventSeq }
            return batch
        case .sqlite:
            return Batch(claimed: try await claimOnSQLite(group: group, worker: worker, limit: limit, now: now, expires: expires, acknowledged: acknowledged))
        }
    }

    /// Handled leases split by table.
    struct Acknowledged: Sendable {
        var ranges: [Int64] = []
        var deliveries: [Int64] = []

        init(_ leases: some Sequence<Lease>) {
            for lease in Set(leases) {
                switch lease {
                case .range(let id): ranges.append(id)
                case .delivery(let id): deliveries.append(id)
                }
            }
        }

        var isEmpty: Bool { ranges.isEmpty && deliveries.isEmpty }
    }

    /// Deletes the leases `worker` still holds (an expired claim belongs to another worker).
    static func delete(_ acknowledged: Acknowledged, heldBy worker: String, on sql: any SQLDatabase) async throws {
        if !acknowledged.ranges.isEmpty {
            try await sql.raw("DELETE FROM bus_range_claims WHERE id IN (\(binds: acknowledged.ranges)) AND worker = \(bind: worker)").run()
        }
        if !acknowledged.deliveries.isEmpty {
            try await sql.raw("DELETE FROM bus_deliveries WHERE id IN (\(binds: acknowledged.deliveries)) AND claimed_by = \(bind: worker)").run()
        }
    }

    private static func claimed(_ row: any SQLRow, lease: Lease) throws -> Claimed {
        Claimed(lease: lease, attempt: try row.decode(column: "attempts", as: Int.self),
                eventSeq: try row.decode(column: "seq", as: Int64.self), event: try envelope(from: row))
    }

    // MARK: SQLite

    /// What the writer took for one claim on SQLite; the events are read afterwards from a reader
    /// (they are immutable, and pruning keeps every event a claim holds).
    private struct SQLiteClaim: Sendable {
        var range: (id: Int64, attempts: Int, from: Int64, to: Int64)?
        var deliveries: [Int64: (id: Int64, attempts: Int)] = [:]
    }

    /// The claim on SQLite, where the single writer already serialises claims: acknowledging and
    /// claiming are one job of the writer. The same steps as `bus_claim_log` on PostgreSQL, whose
    /// copy lives in a migration and does not follow edits here.
    private func claimOnSQLite(group: ConsumerGroup, worker: String, limit: Int, now: Date, expires: Date, acknowledged: Acknowledged) async throws -> [Claimed] {
        let types = group.eventTypes.sorted()
        let taken = try await database.autocommit { sql in
            if !acknowledged.isEmpty { try await Self.delete(acknowledged, heldBy: worker, on: sql) }
            var taken = SQLiteClaim()
            if !group.orderedByKey, let expired = try await Self.takeExpiredRange(group: group.name, worker: worker, now: now, expires: expires, on: sql) {
                let left = try await sql.raw("""
                    SELECT COUNT(*) AS n FROM bus_events WHERE seq > \(bind: expired.from) AND seq <= \(bind: expired.to) AND type IN (\(binds: types))
                    """).first()?.decode(column: "n", as: Int.self) ?? 0
                if left > 0 {
                    taken.range = expired
                    return taken
                }
                // None of the group's types left in it (its types changed): release it.
                try await sql.raw("DELETE FROM bus_range_claims WHERE id = \(bind: expired.id)").run()
            }
            // Retries and replays first, so a group that never catches up with its log still retries.
            taken.deliveries = try await Self.claimDeliveries(group: group, worker: worker, limit: limit, now: now, expires: expires, on: sql)
            if !group.orderedByKey && taken.deliveries.count < limit {
                taken.range = try await Self.takeFromLog(
                    group: group.name, types: types, worker: worker, limit: limit - taken.deliveries.count, now: now, expires: expires, on: sql)
            }
            return taken
        }
        var claimed: [Claimed] = []
        if let range = taken.range {
            let rows = try await database.read { sql in
                try await sql.raw("""
                    SELECT \(unsafeRaw: Self.eventColumns) FROM bus_events e
                    WHERE e.seq > \(bind: range.from) AND e.seq <= \(bind: range.to) AND e.type IN (\(binds: types))
                    """).all()
            }
            claimed += try rows.map { row in
                Claimed(lease: .range(range.id), attempt: range.attempts, eventSeq: try row.decode(column: "seq", as: Int64.self), event: try Self.envelope(from: row))
            }
        }
        if !taken.deliveries.isEmpty {
            let seqs = Array(taken.deliveries.keys)
            let rows = try await database.read { sql in
                try await sql.raw("SELECT \(unsafeRaw: Self.eventColumns) FROM bus_events e WHERE e.seq IN (\(binds: seqs))").all()
            }
            claimed += try rows.map { row in
                let seq = try row.decode(column: "seq", as: Int64.self)
                let delivery = taken.deliveries[seq]!
                return Claimed(lease: .delivery(delivery.id), attempt: delivery.attempts, eventSeq: seq, event: try Self.envelope(from: row))
            }
        }
        return claimed.sorted { $0.eventSeq < $1.eventSeq }
    }

    /// A range whose claim expired (its worker died), taken over whole as a new attempt.
    private static func takeExpiredRange(group: String, worker: String, now: Date, expires: Date, on sql: any SQLDatabase) async throws -> (id: Int64, attempts: Int, from: Int64, to: Int64)? {
        guard let row = try await sql.raw("""
            UPDATE bus_range_claims SET worker = \(bind: worker), expires_at = \(bind: expires), attempts = attempts + 1
            WHERE id = (SELECT id FROM bus_range_claims WHERE consumer_group = \(bind: group) AND expires_at <= \(bind: now) ORDER BY id LIMIT 1)
            RETURNING id, attempts, from_seq, to_seq
            """).first() else { return nil }
        return (try row.decode(column: "id", as: Int64.self), try row.decode(column: "attempts", as: Int.self),
                try row.decode(column: "from_seq", as: Int64.self), try row.decode(column: "to_seq", as: Int64.self))
    }

    /// Moves the group's cursor past up to `limit` events of `types` (and the other events among
    /// them) and records what it passed as a range claimed by `worker`; nil when nothing matched.
    private static func takeFromLog(group: String, types: [String], worker: String, limit: Int, now: Date, expires: Date, on sql: any SQLDatabase) async throws -> (id: Int64, attempts: Int, from: Int64, to: Int64)? {
        guard let cursor = try await sql.raw("SELECT seq FROM bus_cursors WHERE consumer_group = \(bind: group)").first()?.decode(column: "seq", as: Int64.self) else {
            try await sql.raw("""
                INSERT OR IGNORE INTO bus_cursors (consumer_group, seq) SELECT \(bind: group), COALESCE(MAX(seq), 0) FROM bus_events
                """).run()
            return nil
        }
        let wanted = Set(types)
        var last = cursor
        var matched = 0
        var window = limit
        // Windows of growing size, so a group whose types are rare passes other groups' events
        // quickly, but in bounded work per claim (as bus_claim_log's scans on PostgreSQL).
        for _ in 0..<6 {
            let rows = try await sql.raw("SELECT seq, type FROM bus_events WHERE seq > \(bind: last) ORDER BY seq LIMIT \(literal: window)").all()
            for row in rows {
                last = try row.decode(column: "seq", as: Int64.self)
                if wanted.contains(try row.decode(column: "type", as: String.self)) {
                    matched += 1
                    if matched == limit { break }
                }
            }
            if matched == limit || rows.count < window { break }
            window = min(window * 4, 4096)
        }
        guard last != cursor else { return nil }
        try await sql.raw("UPDATE bus_cursors SET seq = \(bind: last) WHERE consumer_group = \(bind: group)").run()
        guard matched > 0 else { return nil }
        let id = try await sql.raw("""
            INSERT INTO bus_range_claims (consumer_group, worker, attempts, expires_at, created_at, from_seq, to_seq)
            VALUES (\(bind: group), \(bind: worker), 1, \(bind: expires), \(bind: now), \(bind: cursor), \(bind: last))
            RETURNING id
            """).first()!.decode(column: "id", as: Int64.self)
        return (id, 1, cursor, last)
    }

    /// Claims due deliveries (`bus_migrations` 3's statement, kept by `bus_claim` on PostgreSQL).
    private static func claimDeliveries(group: ConsumerGroup, worker: String, limit: Int, now: Date, expires: Date, on sql: any SQLDatabase) async throws -> [Int64: (id: Int64, attempts: Int)] {
        let orderedFilter = group.orderedByKey
            ? """
              AND NOT EXISTS (SELECT 1 FROM bus_deliveries e
                              WHERE e.consumer_group = c.consumer_group AND e.event_key = c.event_key AND e.id < c.id)
              """
            : ""
        let rows = try await sql.raw("""
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
        var bySeq: [Int64: (id: Int64, attempts: Int)] = [:]
        for row in rows {
            bySeq[try row.decode(column: "event_seq", as: Int64.self)] =
                (try row.decode(column: "id", as: Int64.self), try row.decode(column: "attempts", as: Int.self))
        }
        return bySeq
    }
}

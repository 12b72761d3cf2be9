import FlowKit

/// Migration 5: groups that do not ask for per-key order read the events table as a log, through
/// a cursor per group, instead of getting one delivery row per event.
///
/// Why: a delivery row per (event, group) made every publish write 1 + groups rows (each with
/// three index entries) and every handled event a DELETE per group. On PostgreSQL on 2 cores that
/// SQL alone tops out at ~1.4k events/s end to end with 3 groups (pgbench, 2026-12-03 note). With
/// the log a publish writes one row, and a worker claims a whole batch by moving its group's
/// cursor and recording the range it took (one row), then deletes that row when done.
///
/// - `bus_cursors`: where each group has read up to. A new cursor starts at the head of the log.
/// - `bus_range_claims`: the ranges (from, to] that workers hold. A range whose claim expires (its
///   worker died) is taken over whole by another worker, as the events' next attempt.
/// - Events that fail go to `bus_deliveries` as retries (and from there to dead letters), as do
///   replays; a claim takes those too. Groups ordered by key keep using `bus_deliveries` only:
///   their claim needs per-key bookkeeping that a range cannot give.
///
/// The log's order on PostgreSQL is `(tx, seq)`, `tx` being the publishing transaction's id, and a
/// claim reads only below `pg_snapshot_xmin(pg_current_snapshot())`, the oldest transaction still
/// running. `seq` alone would not do: sequence values are taken at INSERT, not at COMMIT, so a
/// cursor past seq 11 would skip seq 10 if its transaction committed later. Every transaction
/// below the snapshot's xmin has ended, and every later one gets a larger id, so nothing can
/// appear behind the cursor. The price: a transaction that stays open (idle in transaction) holds
/// back delivery of everything published after it began, until it ends. On SQLite one writer
/// commits in `seq` order, so `seq` is the position.
enum BusLogMigration {
    static let migration = Migration(5, "log_cursors_and_range_claims",
        sqlite: [
            "CREATE TABLE bus_cursors (consumer_group TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
            """
            CREATE TABLE bus_range_claims (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                consumer_group TEXT NOT NULL,
                worker TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                expires_at REAL NOT NULL,
                created_at REAL NOT NULL,
                from_seq INTEGER NOT NULL,
                to_seq INTEGER NOT NULL
            )
            """,
            "CREATE INDEX bus_range_claims_group_idx ON bus_range_claims (consumer_group, id)",
        ],
        postgres: [
            // A constant default adds the column without rewriting the table (a volatile one
            // would rewrite it, locked against publishers); existing rows get 0 and sort before
            // every cursor, which all start later. New rows get their transaction's id.
            "ALTER TABLE bus_events ADD COLUMN tx xid8 NOT NULL DEFAULT '0'",
            "ALTER TABLE bus_events ALTER COLUMN tx SET DEFAULT pg_current_xact_id()",
            "CREATE INDEX bus_events_log_idx ON bus_events (tx, seq)",
            // Updated by every claim: room on the page keeps those updates HOT (no index writes).
            "CREATE TABLE bus_cursors (consumer_group TEXT PRIMARY KEY, tx xid8 NOT NULL, seq BIGINT NOT NULL) WITH (fillfactor = 20)",
            """
            CREATE TABLE bus_range_claims (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                consumer_group TEXT NOT NULL,
                worker TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                expires_at TIMESTAMPTZ NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                from_tx xid8 NOT NULL,
                from_seq BIGINT NOT NULL,
                to_tx xid8 NOT NULL,
                to_seq BIGINT NOT NULL
            )
            """,
            "CREATE INDEX bus_range_claims_group_idx ON bus_range_claims (consumer_group, id)",
            // A row per batch, inserted and deleted within milliseconds: vacuum often.
            "ALTER TABLE bus_range_claims SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000)",
            "ALTER TABLE bus_cursors SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)",
            // One round trip per batch: acknowledge what the worker handled, then take (1) an
            // expired range whole, or else (2) due retries and replays from bus_deliveries
            // (migration 4's claim; first, so a group that never catches up with its log still
            // retries), then (3) events of the group's types after the cursor, for what is left
            // of p_limit, recorded as a range. An expired range with none of the group's types
            // left (its types changed) is released. The cursor row is locked with SKIP LOCKED: a
            // worker that finds it busy takes no range this time instead of waiting. When nothing
            // could be taken from the log but committed events of the group's types wait behind
            // an older running transaction, or another worker holds the cursor, it returns a row
            // of nulls, so the worker looks again shortly. At most 8 scans of 1,024 rows per
            // call, so a group whose types are rare moves past other groups' events quickly but
            // in bounded work.
            """
            CREATE FUNCTION bus_claim_log(p_group TEXT, p_worker TEXT, p_now TIMESTAMPTZ, p_expires TIMESTAMPTZ, p_limit BIGINT,
                                          p_types TEXT[], p_handled_ranges BIGINT[], p_handled_deliveries BIGINT[])
            RETURNS TABLE (range_id BIGINT, delivery_id BIGINT, attempts INTEGER, event bus_events)
            LANGUAGE plpgsql VOLATILE
            SET enable_seqscan = off
            SET enable_bitmapscan = off
            AS $$
            #variable_conflict use_column
            DECLARE
                v_range bus_range_claims;
                v_cursor bus_cursors;
                v_event bus_events;
                v_batch bus_events[] := '{}';
                v_room BIGINT := p_limit;
                v_count BIGINT;
                v_last_tx xid8;
                v_last_seq BIGINT;
                v_scanned INTEGER;
                v_passes INTEGER := 0;
                v_range_id BIGINT;
            BEGIN
                IF cardinality(p_handled_ranges) > 0 THEN
                    DELETE FROM bus_range_claims k WHERE k.id = ANY (p_handled_ranges) AND k.worker = p_worker;
                END IF;
                IF cardinality(p_handled_deliveries) > 0 THEN
                    DELETE FROM bus_deliveries d WHERE d.id = ANY (p_handled_deliveries) AND d.claimed_by = p_worker;
                END IF;

                UPDATE bus_range_claims k SET worker = p_worker, expires_at = p_expires, attempts = k.attempts + 1
                WHERE k.id = (SELECT x.id FROM bus_range_claims x
                              WHERE x.consumer_group = p_group AND x.expires_at <= p_now
                              ORDER BY x.id LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING k.* INTO v_range;
                IF FOUND THEN
                    RETURN QUERY
                    SELECT v_range.id, NULL::BIGINT, v_range.attempts, e FROM bus_events e
                    WHERE (e.tx, e.seq) > (v_range.from_tx, v_range.from_seq) AND (e.tx, e.seq) <= (v_range.to_tx, v_range.to_seq)
                      AND e.type = ANY (p_types)
                    ORDER BY e.tx, e.seq;
                    GET DIAGNOSTICS v_count = ROW_COUNT;
                    IF v_count > 0 THEN
                        RETURN;
                    END IF;
                    DELETE FROM bus_range_claims k WHERE k.id = v_range.id;
                END IF;

                IF EXISTS (SELECT 1 FROM bus_deliveries d WHERE d.consumer_group = p_group) THEN
                    RETURN QUERY
                    SELECT NULL::BIGINT, c.delivery_id, c.delivery_attempts, c.event
                    FROM bus_claim(p_group, p_worker, p_now, p_expires, p_limit, false, '{}'::BIGINT[]) c;
                    GET DIAGNOSTICS v_count = ROW_COUNT;
                    v_room := p_limit - v_count;
                    IF v_room <= 0 THEN
                        RETURN;
                    END IF;
                END IF;

                SELECT c.* INTO v_cursor FROM bus_cursors c WHERE c.consumer_group = p_group FOR UPDATE SKIP LOCKED;
                IF NOT FOUND THEN
                    IF EXISTS (SELECT 1 FROM bus_cursors c WHERE c.consumer_group = p_group) THEN
                        -- Another worker of the group is claiming right now, perhaps with a
                        -- snapshot older than the notification that woke this one.
                        RETURN QUERY SELECT NULL::BIGINT, NULL::BIGINT, 0, NULL::bus_events;
                    ELSE
                        -- A new group starts at the head of the log.
                        INSERT INTO bus_cursors (consumer_group, tx, seq)
                        VALUES (p_group, pg_snapshot_xmin(pg_current_snapshot()), 0) ON CONFLICT DO NOTHING;
                    END IF;
                    RETURN;
                END IF;

                v_last_tx := v_cursor.tx;
                v_last_seq := v_cursor.seq;
                LOOP
                    v_scanned := 0;
                    FOR v_event IN
                        SELECT e.* FROM bus_events e
                        WHERE (e.tx, e.seq) > (v_last_tx, v_last_seq) AND e.tx < pg_snapshot_xmin(pg_current_snapshot())
                        ORDER BY e.tx, e.seq
                        LIMIT 1024
                    LOOP
                        v_scanned := v_scanned + 1;
                        v_last_tx := v_event.tx;
                        v_last_seq := v_event.seq;
                        IF v_event.type = ANY (p_types) THEN
                            v_batch := v_batch || v_event;
                            EXIT WHEN cardinality(v_batch) >= v_room;
                        END IF;
                    END LOOP;
                    v_passes := v_passes + 1;
                    EXIT WHEN cardinality(v_batch) >= v_room OR v_scanned < 1024 OR v_passes >= 8;
                END LOOP;
                IF v_last_seq <> v_cursor.seq OR v_last_tx <> v_cursor.tx THEN
                    UPDATE bus_cursors c SET tx = v_last_tx, seq = v_last_seq WHERE c.consumer_group = p_group;
                END IF;
                IF cardinality(v_batch) > 0 THEN
                    INSERT INTO bus_range_claims (consumer_group, worker, attempts, expires_at, created_at, from_tx, from_seq, to_tx, to_seq)
                    VALUES (p_group, p_worker, 1, p_expires, p_now, v_cursor.tx, v_cursor.seq, v_last_tx, v_last_seq)
                    RETURNING id INTO v_range_id;
                    RETURN QUERY SELECT v_range_id, NULL::BIGINT, 1, b FROM unnest(v_batch) AS b;
                ELSIF EXISTS (
                    SELECT 1 FROM (SELECT e.type FROM bus_events e WHERE (e.tx, e.seq) > (v_last_tx, v_last_seq)
                                   ORDER BY e.tx, e.seq LIMIT 1024) waiting
                    WHERE waiting.type = ANY (p_types)) THEN
                    -- Committed events wait behind an older transaction that is still running.
                    RETURN QUERY SELECT NULL::BIGINT, NULL::BIGINT, 0, NULL::bus_events;
                END IF;
            END
            $$
            """,
        ])
}

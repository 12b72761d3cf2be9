import FlowKit

/// The bus's tables. Migrations 1–4 built a delivery row per (event, consumer group), written in
/// the publisher's transaction and deleted once handled; since migration 5 (``BusLogMigration``)
/// only groups ordered by key, retries and replays use those rows, and other groups read the
/// events as a log. Events are kept for replay until pruned; dead letters keep their event from
/// being pruned.
enum BusMigrations {
    static let all: [Migration] = [
        Migration(1, "create_bus_tables",
            sqlite: [
                """
                CREATE TABLE bus_events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    type TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    event_key TEXT,
                    payload TEXT NOT NULL,
                    occurred_at REAL NOT NULL,
                    producer TEXT NOT NULL,
                    correlation_id TEXT,
                    trace_id TEXT
                )
                """,
                "CREATE INDEX bus_events_occurred_at_idx ON bus_events (occurred_at)",
                """
                CREATE TABLE bus_deliveries (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    event_seq INTEGER NOT NULL REFERENCES bus_events (seq),
                    consumer_group TEXT NOT NULL,
                    event_key TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    available_at REAL NOT NULL,
                    claimed_by TEXT,
                    claim_expires_at REAL,
                    last_error TEXT,
                    created_at REAL NOT NULL
                )
                """,
                "CREATE INDEX bus_deliveries_group_idx ON bus_deliveries (consumer_group, id)",
                "CREATE INDEX bus_deliveries_key_idx ON bus_deliveries (consumer_group, event_key, id) WHERE event_key IS NOT NULL",
                "CREATE INDEX bus_deliveries_event_idx ON bus_deliveries (event_seq)",
                """
                CREATE TABLE bus_dead_letters (
                    id TEXT PRIMARY KEY,
                    event_seq INTEGER NOT NULL REFERENCES bus_events (seq),
                    consumer_group TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    last_error TEXT NOT NULL,
                    failed_at REAL NOT NULL
                )
                """,
                "CREATE INDEX bus_dead_letters_group_idx ON bus_dead_letters (consumer_group, id)",
                "CREATE INDEX bus_dead_letters_event_idx ON bus_dead_letters (event_seq)",
            ],
            postgres: [
                """
                CREATE TABLE bus_events (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    type TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    event_key TEXT,
                    payload TEXT NOT NULL,
                    occurred_at TIMESTAMPTZ NOT NULL,
                    producer TEXT NOT NULL,
                    correlation_id TEXT,
                    trace_id TEXT
                )
                """,
                "CREATE INDEX bus_events_occurred_at_idx ON bus_events (occurred_at)",
                """
                CREATE TABLE bus_deliveries (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    event_seq BIGINT NOT NULL REFERENCES bus_events (seq),
                    consumer_group TEXT NOT NULL,
                    event_key TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    available_at TIMESTAMPTZ NOT NULL,
                    claimed_by TEXT,
                    claim_expires_at TIMESTAMPTZ,
                    last_error TEXT,
                    created_at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX bus_deliveries_group_idx ON bus_deliveries (consumer_group, id)",
                "CREATE INDEX bus_deliveries_key_idx ON bus_deliveries (consumer_group, event_key, id) WHERE event_key IS NOT NULL",
                "CREATE INDEX bus_deliveries_event_idx ON bus_deliveries (event_seq)",
                // Rows churn (inserted, then deleted within seconds): keep statistics and
                // visibility fresh so claims keep their index plan.
                "ALTER TABLE bus_deliveries SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 2000)",
                """
                CREATE TABLE bus_dead_letters (
                    id TEXT PRIMARY KEY,
                    event_seq BIGINT NOT NULL REFERENCES bus_events (seq),
                    consumer_group TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    last_error TEXT NOT NULL,
                    failed_at TIMESTAMPTZ NOT NULL
                )
                """,
                "CREATE INDEX bus_dead_letters_group_idx ON bus_dead_letters (consumer_group, id)",
                "CREATE INDEX bus_dead_letters_event_idx ON bus_dead_letters (event_seq)",
            ]),
        // SQLite has no data-modifying CTEs, and every statement cost two thread hand-offs when
        // this was written (sqlite-nio's, to its thread pool and back), which bounded publishing;
        // one statement is still one writer step instead of four. Inserting into this
        // view stores the event and its deliveries (one per group named in the `consumer_groups`
        // JSON array) in one statement. PostgreSQL does the same with a CTE (`BusStore.insert`).
        Migration(2, "publish_in_one_statement",
            sqlite: [
                """
                CREATE VIEW bus_publish AS
                SELECT id, type, version, event_key, payload, occurred_at, producer, correlation_id, trace_id,
                       NULL AS consumer_groups
                FROM bus_events WHERE 0
                """,
                """
                CREATE TRIGGER bus_publish_insert INSTEAD OF INSERT ON bus_publish
                BEGIN
                    INSERT INTO bus_events (id, type, version, event_key, payload, occurred_at, producer, correlation_id, trace_id)
                    VALUES (NEW.id, NEW.type, NEW.version, NEW.event_key, NEW.payload, NEW.occurred_at, NEW.producer,
                            NEW.correlation_id, NEW.trace_id);
                    INSERT INTO bus_deliveries (event_seq, consumer_group, event_key, attempts, available_at, created_at)
                    SELECT (SELECT seq FROM bus_events WHERE id = NEW.id), g.value, NEW.event_key, 0, NEW.occurred_at, NEW.occurred_at
                    FROM json_each(NEW.consumer_groups) AS g;
                END
                """,
            ],
            postgres: []),
        // A claim must walk the (consumer_group, id) index in order and stop after `limit` rows:
        // that is the only plan whose cost does not grow with the deliveries deleted since the
        // last vacuum (an index scan marks dead entries as it passes, so later claims skip them).
        // Planner statistics of a table that swings from empty to a backlog and back in seconds
        // are always stale, and with them PostgreSQL picked a bitmap or sequential scan plus a
        // sort: after a 20,000-event burst (63,000 dead rows, autovacuum not yet round) each
        // claim read all 20,000 index entries of its group, 4.2 ms instead of 0.2 ms. A function
        // can carry the planner settings that rule those plans out, for its own statement only;
        // PL/pgSQL keeps the plan between calls (a LANGUAGE sql function plans on every call:
        // 1.0 ms per claim against 0.6 ms, pgbench on one connection).
        Migration(3, "claim_by_index_scan",
            sqlite: [],
            postgres: [
                """
                CREATE FUNCTION bus_claim(p_group TEXT, p_worker TEXT, p_now TIMESTAMPTZ, p_expires TIMESTAMPTZ, p_limit BIGINT, p_ordered BOOLEAN)
                RETURNS TABLE (claimed_id BIGINT, claimed_event_seq BIGINT, claimed_attempts INTEGER)
                LANGUAGE plpgsql VOLATILE
                SET enable_seqscan = off
                SET enable_bitmapscan = off
                AS $$
                BEGIN
                    RETURN QUERY
                    UPDATE bus_deliveries d SET claimed_by = p_worker, claim_expires_at = p_expires, attempts = d.attempts + 1
                    WHERE d.id IN (
                        SELECT c.id FROM bus_deliveries c
                        WHERE c.consumer_group = p_group AND c.available_at <= p_now
                          AND (c.claim_expires_at IS NULL OR c.claim_expires_at <= p_now)
                          AND (NOT p_ordered OR NOT EXISTS (
                              SELECT 1 FROM bus_deliveries e
                              WHERE e.consumer_group = c.consumer_group AND e.event_key = c.event_key AND e.id < c.id))
                        ORDER BY c.id
                        LIMIT p_limit
                        FOR UPDATE SKIP LOCKED)
                    RETURNING d.id, d.event_seq, d.attempts;
                END
                $$
                """,
            ]),
        // A worker's steady state on PostgreSQL was three round trips per batch: delete the
        // deliveries handled since its last claim, claim, read the claimed events. This overload
        // of `bus_claim` deletes `p_handled` (those `p_worker` still holds), claims, and returns
        // each claimed delivery with its event row. The events are joined inside the claiming
        // statement: a statement that calls the function reads with its own, older snapshot and
        // would miss the events of deliveries committed while the function ran. The claim repeats
        // migration 3's statement on purpose: an applied migration's text never changes, so the
        // two cannot share it. The six-argument form stays for instances of the previous release
        // still running during a rolling upgrade.
        Migration(4, "claim_acknowledges_handled_and_returns_events",
            sqlite: [],
            postgres: [
                """
                CREATE FUNCTION bus_claim(p_group TEXT, p_worker TEXT, p_now TIMESTAMPTZ, p_expires TIMESTAMPTZ, p_limit BIGINT,
                                          p_ordered BOOLEAN, p_handled BIGINT[])
                RETURNS TABLE (delivery_id BIGINT, delivery_attempts INTEGER, event bus_events)
                LANGUAGE plpgsql VOLATILE
                SET enable_seqscan = off
                SET enable_bitmapscan = off
                AS $$
                #variable_conflict use_column
                BEGIN
                    IF cardinality(p_handled) > 0 THEN
                        DELETE FROM bus_deliveries d WHERE d.id = ANY (p_handled) AND d.claimed_by = p_worker;
                    END IF;
                    RETURN QUERY
                    WITH claimed AS (
                        UPDATE bus_deliveries d SET claimed_by = p_worker, claim_expires_at = p_expires, attempts = d.attempts + 1
                        WHERE d.id IN (
                            SELECT c.id FROM bus_deliveries c
                            WHERE c.consumer_group = p_group AND c.available_at <= p_now
                              AND (c.claim_expires_at IS NULL OR c.claim_expires_at <= p_now)
                              AND (NOT p_ordered OR NOT EXISTS (
                                  SELECT 1 FROM bus_deliveries e
                                  WHERE e.consumer_group = c.consumer_group AND e.event_key = c.event_key AND e.id < c.id))
                            ORDER BY c.id
                            LIMIT p_limit
                            FOR UPDATE SKIP LOCKED)
                        RETURNING d.id, d.event_seq, d.attempts)
                    SELECT claimed.id, claimed.attempts, ev FROM claimed JOIN bus_events ev ON ev.seq = claimed.event_seq;
                END
                $$
                """,
            ]),
        BusLogMigration.migration,
    ]
}

import FlowKit

/// The bus's tables. Deliveries are the hot table: one row per (event, consumer group), written
/// in the publisher's transaction and deleted once handled, so it stays as small as the backlog.
/// Events are kept for replay until pruned; dead letters keep their event from being pruned.
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
        // SQLite has no data-modifying CTEs, and every statement sqlite-nio runs costs two thread
        // hand-offs (to its thread pool and back), which bounded publishing. Inserting into this
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
    ]
}

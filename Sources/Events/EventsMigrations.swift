import FlowKit

/// Events' tables: categories (seeded), venues, events with their tags, full-text index and
/// geographic index, and attendance (going / interested / waitlisted).
enum EventsMigrations {
    static let all: [Migration] = [
        Migration(1, "create_events",
            sqlite: tables(timestamp: "REAL", double: "REAL", json: "TEXT") + sqliteIndexes + seedCategories,
            postgres: tables(timestamp: "TIMESTAMPTZ", double: "DOUBLE PRECISION", json: "TEXT") + postgresIndexes + seedCategories),
        Migration(2, "create_likes_and_comments",
            sqlite: social(timestamp: "REAL"), postgres: social(timestamp: "TIMESTAMPTZ")),
        Migration(3, "create_ticket_tiers",
            sqlite: tickets(timestamp: "REAL"), postgres: tickets(timestamp: "TIMESTAMPTZ")),
        Migration(4, "create_calendar_feeds",
            sqlite: [Self.calendarFeeds(timestamp: "REAL")], postgres: [Self.calendarFeeds(timestamp: "TIMESTAMPTZ")]),
        // FTS5's `rank` becomes bm25 weighted by column (title, summary, description, tags), so
        // `ORDER BY rank` ranks inside the index. PostgreSQL weighs with setweight instead.
        Migration(5, "weight_search_rank",
            sqlite: ["INSERT INTO events_fts (events_fts, rank) VALUES ('rank', 'bm25(10.0, 4.0, 1.0, 6.0)')"],
            postgres: ["SELECT 1"]),
        Migration(6, "add_recurrence",
            sqlite: recurrence(timestamp: "REAL"), postgres: recurrence(timestamp: "TIMESTAMPTZ")),
        Migration(7, "create_event_invites",
            sqlite: invites(timestamp: "REAL"), postgres: invites(timestamp: "TIMESTAMPTZ")),
        // When the last occurrence ends: what "upcoming" and "can still be joined" test, so a
        // series stays listed after its first date. Unbounded series get the far future.
        Migration(8, "add_series_end",
            sqlite: [
                "ALTER TABLE events ADD COLUMN series_ends_at REAL",
                "UPDATE events SET series_ends_at = CASE WHEN recurrence IS NULL THEN ends_at ELSE 253402300799 END",
            ],
            postgres: [
                "ALTER TABLE events ADD COLUMN series_ends_at TIMESTAMPTZ",
                "UPDATE events SET series_ends_at = CASE WHEN recurrence IS NULL THEN ends_at ELSE TIMESTAMPTZ '9999-12-31 23:59:59+00' END",
            ]),
        // PostgreSQL's search tier 0 (every word in the title) walks the primary key backwards and
        // tests each event until a page matches: ~1,100 events for a word in 2% of the titles.
        // Reading the title's own tsvector from an index that also holds what the listing filter
        // needs lets that walk skip the table (an index-only scan: ~40 index entries per page
        // instead of a table row each); only the page found is read from the table. The index
        // covers listed events only. SQLite's FTS5 already yields title matches by itself.
        Migration(9, "index_title_search",
            sqlite: ["SELECT 1"],
            postgres: [
                "ALTER TABLE events ADD COLUMN title_search tsvector GENERATED ALWAYS AS (to_tsvector('english', coalesce(title, ''))) STORED",
                """
                CREATE INDEX events_title_search_idx ON events (id) INCLUDE (title_search, series_ends_at)
                WHERE status = 'published' AND visibility = 'public'
                """,
            ]),
        // PostgreSQL's nearby search walked a GiST index of (longitude, latitude) points nearest
        // first in plain degrees, which are not distances: it read half as many rows again as it
        // listed to be sure of the order, and where the nearest events lay east or west (at a
        // city's edge) it read again and again, up to six queries and 240 ms for one page. The
        // index of each event's point on the unit sphere (the `cube` extension, trusted since
        // PostgreSQL 13: the database owner may create it) is walked by true distance, as chord
        // lengths. SQLite's R*Tree is unchanged. The point index stays for instances of the
        // previous release still serving during a rolling upgrade (without it their nearby search
        // would read the whole table); migration 11 drops it.
        Migration(10, "index_nearby_unit_vector",
            sqlite: ["SELECT 1"],
            postgres: [
                "CREATE EXTENSION IF NOT EXISTS cube",
                "CREATE INDEX events_geo_vector_idx ON events USING gist (\(DiscoveryStore.unitVector(table: nil))) WHERE latitude IS NOT NULL",
            ]),
        // No statement reads the (longitude, latitude) point index since migration 10; every event
        // written still updated it. 64 MB at a million events (3% of the database).
        Migration(11, "drop_point_index",
            sqlite: ["SELECT 1"],
            postgres: ["DROP INDEX IF EXISTS events_geo_idx"]),
    ]

    private static func invites(timestamp: String) -> [String] {
        [
            """
            CREATE TABLE event_invites (
                event_id TEXT NOT NULL REFERENCES events (id),
                user_id TEXT NOT NULL,
                invited_by TEXT NOT NULL,
                created_at \(timestamp) NOT NULL,
                PRIMARY KEY (event_id, user_id)
            )
            """,
            "CREATE INDEX event_invites_user_idx ON event_invites (user_id, event_id)",
        ]
    }

    /// A series is one event row with its rule (JSON); one occurrence can be moved or renamed.
    private static func recurrence(timestamp: String) -> [String] {
        [
            "ALTER TABLE events ADD COLUMN recurrence TEXT",
            """
            CREATE TABLE event_occurrence_overrides (
                event_id TEXT NOT NULL REFERENCES events (id),
                original_start \(timestamp) NOT NULL,
                starts_at \(timestamp) NOT NULL,
                ends_at \(timestamp) NOT NULL,
                title TEXT,
                PRIMARY KEY (event_id, original_start)
            )
            """,
        ]
    }

    /// One secret feed address per user (stored hashed); making a new one retires the old.
    private static func calendarFeeds(timestamp: String) -> String {
        "CREATE TABLE calendar_feeds (user_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, created_at \(timestamp) NOT NULL)"
    }

    private static func tickets(timestamp: String) -> [String] {
        [
            """
            CREATE TABLE ticket_tiers (
                id TEXT PRIMARY KEY,
                event_id TEXT NOT NULL REFERENCES events (id),
                name TEXT NOT NULL,
                price_minor INTEGER NOT NULL CHECK (price_minor >= 0),
                currency TEXT NOT NULL,
                quantity INTEGER NOT NULL CHECK (quantity > 0),
                reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
                sales_start \(timestamp),
                sales_end \(timestamp),
                created_at \(timestamp) NOT NULL,
                CHECK (reserved <= quantity)
            )
            """,
            "CREATE INDEX ticket_tiers_event_idx ON ticket_tiers (event_id, price_minor)",
            """
            CREATE TABLE ticket_reservations (
                id TEXT PRIMARY KEY,
                tier_id TEXT NOT NULL REFERENCES ticket_tiers (id),
                event_id TEXT NOT NULL REFERENCES events (id),
                user_id TEXT NOT NULL,
                quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 10),
                status TEXT NOT NULL CHECK (status IN ('reserved', 'cancelled')),
                created_at \(timestamp) NOT NULL,
                cancelled_at \(timestamp)
            )
            """,
            "CREATE INDEX ticket_reservations_user_idx ON ticket_reservations (user_id, id)",
            "CREATE INDEX ticket_reservations_tier_idx ON ticket_reservations (tier_id)",
        ]
    }

    private static func social(timestamp: String) -> [String] {
        [
            "ALTER TABLE events ADD COLUMN like_count INTEGER NOT NULL DEFAULT 0",
            """
            CREATE TABLE event_likes (
                event_id TEXT NOT NULL REFERENCES events (id),
                user_id TEXT NOT NULL,
                created_at \(timestamp) NOT NULL,
                PRIMARY KEY (event_id, user_id)
            )
            """,
            """
            CREATE TABLE event_comments (
                id TEXT PRIMARY KEY,
                event_id TEXT NOT NULL REFERENCES events (id),
                author_id TEXT NOT NULL,
                body TEXT NOT NULL,
                created_at \(timestamp) NOT NULL,
                deleted_at \(timestamp),
                deleted_by TEXT
            )
            """,
            "CREATE INDEX event_comments_event_idx ON event_comments (event_id, id)",
        ]
    }

    private static func tables(timestamp: String, double: String, json: String) -> [String] {
        [
            """
            CREATE TABLE categories (
                id TEXT PRIMARY KEY,
                parent_id TEXT REFERENCES categories (id),
                name TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE venues (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                address TEXT NOT NULL,
                city TEXT,
                country TEXT,
                latitude \(double) NOT NULL,
                longitude \(double) NOT NULL,
                capacity INTEGER,
                amenities \(json) NOT NULL DEFAULT '[]',
                created_by TEXT NOT NULL,
                created_at \(timestamp) NOT NULL,
                updated_at \(timestamp) NOT NULL
            )
            """,
            """
            CREATE TABLE events (
                id TEXT PRIMARY KEY,
                organizer_id TEXT NOT NULL,
                title TEXT NOT NULL,
                summary TEXT,
                description TEXT,
                category_id TEXT REFERENCES categories (id),
                tags \(json) NOT NULL DEFAULT '[]',
                venue_id TEXT REFERENCES venues (id),
                address TEXT,
                latitude \(double),
                longitude \(double),
                starts_at \(timestamp) NOT NULL,
                ends_at \(timestamp) NOT NULL,
                time_zone TEXT NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('physical', 'virtual', 'hybrid')),
                meeting_url TEXT,
                meeting_provider TEXT,
                capacity INTEGER CHECK (capacity IS NULL OR capacity > 0),
                going_count INTEGER NOT NULL DEFAULT 0 CHECK (going_count >= 0),
                interested_count INTEGER NOT NULL DEFAULT 0 CHECK (interested_count >= 0),
                waitlist_count INTEGER NOT NULL DEFAULT 0 CHECK (waitlist_count >= 0),
                visibility TEXT NOT NULL CHECK (visibility IN ('public', 'unlisted', 'private')),
                status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'cancelled')),
                created_at \(timestamp) NOT NULL,
                updated_at \(timestamp) NOT NULL,
                cancelled_at \(timestamp),
                CHECK (ends_at > starts_at),
                CHECK (capacity IS NULL OR going_count <= capacity)
            )
            """,
            "CREATE TABLE event_tags (event_id TEXT NOT NULL REFERENCES events (id), tag TEXT NOT NULL, PRIMARY KEY (tag, event_id))",
            "CREATE INDEX event_tags_event_idx ON event_tags (event_id)",
            // Listing: only published, listed events, by start time.
            "CREATE INDEX events_listing_idx ON events (status, visibility, starts_at, id)",
            "CREATE INDEX events_organizer_idx ON events (organizer_id, starts_at)",
            "CREATE INDEX events_category_idx ON events (category_id, starts_at)",
            """
            CREATE TABLE attendance (
                event_id TEXT NOT NULL REFERENCES events (id),
                user_id TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('going', 'interested', 'waitlisted')),
                created_at \(timestamp) NOT NULL,
                updated_at \(timestamp) NOT NULL,
                checked_in_at \(timestamp),
                PRIMARY KEY (event_id, user_id)
            )
            """,
            // The waitlist is served in the order people joined it.
            "CREATE INDEX attendance_queue_idx ON attendance (event_id, status, updated_at, user_id)",
            "CREATE INDEX attendance_user_idx ON attendance (user_id, event_id)",
        ]
    }

    /// SQLite: FTS5 (porter stemming) kept in step by triggers, and an R*Tree over coordinates.
    private static let sqliteIndexes: [String] = [
        """
        CREATE VIRTUAL TABLE events_fts USING fts5(
            title, summary, description, tags, content='events', content_rowid='rowid', tokenize='porter unicode61'
        )
        """,
        """
        CREATE TRIGGER events_fts_insert AFTER INSERT ON events BEGIN
            INSERT INTO events_fts (rowid, title, summary, description, tags) VALUES (new.rowid, new.title, new.summary, new.description, new.tags);
        END
        """,
        """
        CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
            INSERT INTO events_fts (events_fts, rowid, title, summary, description, tags) VALUES ('delete', old.rowid, old.title, old.summary, old.description, old.tags);
        END
        """,
        """
        CREATE TRIGGER events_fts_update AFTER UPDATE OF title, summary, description, tags ON events BEGIN
            INSERT INTO events_fts (events_fts, rowid, title, summary, description, tags) VALUES ('delete', old.rowid, old.title, old.summary, old.description, old.tags);
            INSERT INTO events_fts (rowid, title, summary, description, tags) VALUES (new.rowid, new.title, new.summary, new.description, new.tags);
        END
        """,
        "CREATE VIRTUAL TABLE events_geo USING rtree(id, min_lat, max_lat, min_lng, max_lng)",
        """
        CREATE TRIGGER events_geo_insert AFTER INSERT ON events WHEN new.latitude IS NOT NULL BEGIN
            INSERT INTO events_geo (id, min_lat, max_lat, min_lng, max_lng) VALUES (new.rowid, new.latitude, new.latitude, new.longitude, new.longitude);
        END
        """,
        """
        CREATE TRIGGER events_geo_update AFTER UPDATE OF latitude, longitude ON events BEGIN
            DELETE FROM events_geo WHERE id = old.rowid;
            INSERT INTO events_geo (id, min_lat, max_lat, min_lng, max_lng)
                SELECT new.rowid, new.latitude, new.latitude, new.longitude, new.longitude WHERE new.latitude IS NOT NULL;
        END
        """,
        """
        CREATE TRIGGER events_geo_delete AFTER DELETE ON events BEGIN
            DELETE FROM events_geo WHERE id = old.rowid;
        END
        """,
    ]

    /// PostgreSQL: a weighted tsvector (generated column, GIN) and a GiST index on the location point
    /// (unused since migration 10, which indexes unit vectors instead; migration 11 drops it).
    private static let postgresIndexes: [String] = [
        """
        ALTER TABLE events ADD COLUMN search tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
            setweight(to_tsvector('english', coalesce(tags, '')), 'B') ||
            setweight(to_tsvector('english', coalesce(summary, '')), 'C') ||
            setweight(to_tsvector('english', coalesce(description, '')), 'D')
        ) STORED
        """,
        "CREATE INDEX events_search_idx ON events USING gin (search)",
        "CREATE INDEX events_geo_idx ON events USING gist (point(longitude, latitude)) WHERE latitude IS NOT NULL",
    ]

    /// The starting taxonomy; admins add more through the API.
    private static var seedCategories: [String] {
        let tree: [(String, String, [(String, String)])] = [
            ("music", "Music", [("music-concerts", "Concerts"), ("music-dj", "DJ nights"), ("music-jam", "Jam sessions")]),
            ("sports", "Sports & fitness", [("sports-running", "Running"), ("sports-football", "Football"), ("sports-yoga", "Yoga")]),
            ("tech", "Technology", [("tech-meetups", "Meetups"), ("tech-hackathons", "Hackathons"), ("tech-talks", "Talks")]),
            ("arts", "Arts & culture", [("arts-exhibitions", "Exhibitions"), ("arts-theatre", "Theatre"), ("arts-film", "Film")]),
            ("food", "Food & drink", [("food-tastings", "Tastings"), ("food-cooking", "Cooking classes")]),
            ("outdoors", "Outdoors", [("outdoors-hiking", "Hiking"), ("outdoors-cycling", "Cycling")]),
            ("community", "Community", [("community-volunteering", "Volunteering"), ("community-language", "Language exchange")]),
            ("learning", "Learning", [("learning-workshops", "Workshops"), ("learning-books", "Book clubs")]),
        ]
        var statements: [String] = []
        for (id, name, children) in tree {
            statements.append("INSERT INTO categories (id, parent_id, name) VALUES ('\(id)', NULL, '\(name)')")
            for (childId, childName) in children {
                statements.append("INSERT INTO categories (id, parent_id, name) VALUES ('\(childId)', '\(id)', '\(childName)')")
            }
        }
        return statements
    }
}

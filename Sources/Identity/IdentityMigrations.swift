import FlowKit

/// Identity's tables: accounts, sessions and the rotating refresh tokens of each session.
enum IdentityMigrations {
    static let all: [Migration] = [
        Migration(1, "create_accounts_and_sessions",
            sqlite: statements(timestamp: "REAL"),
            postgres: statements(timestamp: "TIMESTAMPTZ")),
    ]

    private static func statements(timestamp: String) -> [String] {
        [
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL,
                email_key TEXT NOT NULL,
                username TEXT NOT NULL,
                username_key TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'moderator', 'admin')),
                email_verified_at \(timestamp),
                failed_logins INTEGER NOT NULL DEFAULT 0,
                locked_until \(timestamp),
                created_at \(timestamp) NOT NULL,
                updated_at \(timestamp) NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX users_email_key ON users (email_key)",
            "CREATE UNIQUE INDEX users_username_key ON users (username_key)",
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id),
                created_at \(timestamp) NOT NULL,
                last_seen_at \(timestamp) NOT NULL,
                expires_at \(timestamp) NOT NULL,
                client_address TEXT,
                user_agent TEXT,
                revoked_at \(timestamp),
                revoke_reason TEXT
            )
            """,
            "CREATE INDEX sessions_user_idx ON sessions (user_id, id)",
            """
            CREATE TABLE refresh_tokens (
                token_hash TEXT PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES sessions (id),
                issued_at \(timestamp) NOT NULL,
                expires_at \(timestamp) NOT NULL,
                used_at \(timestamp)
            )
            """,
            "CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id)",
        ]
    }
}

import FlowKit

/// Identity's tables: accounts, sessions and the rotating refresh tokens of each session; then
/// single-use account tokens (email verification, password reset, 2FA login challenges), TOTP
/// and backup codes, profiles and preferences.
enum IdentityMigrations {
    static let all: [Migration] = [
        Migration(1, "create_accounts_and_sessions",
            sqlite: statements(timestamp: "REAL"),
            postgres: statements(timestamp: "TIMESTAMPTZ")),
        Migration(2, "add_recovery_two_factor_profiles",
            sqlite: recoveryAndProfiles(timestamp: "REAL", bigint: "INTEGER", double: "REAL"),
            postgres: recoveryAndProfiles(timestamp: "TIMESTAMPTZ", bigint: "BIGINT", double: "DOUBLE PRECISION")),
    ]

    private static func recoveryAndProfiles(timestamp: String, bigint: String, double: String) -> [String] {
        [
            "ALTER TABLE users ADD COLUMN password_changed_at \(timestamp)",
            "ALTER TABLE users ADD COLUMN deleted_at \(timestamp)",
            // The shared secret of an authenticator app: pending until a first code confirms it.
            "ALTER TABLE users ADD COLUMN totp_pending_secret TEXT",
            "ALTER TABLE users ADD COLUMN totp_secret TEXT",
            "ALTER TABLE users ADD COLUMN totp_enabled_at \(timestamp)",
            // The last 30-second step a code was accepted for: a code works once.
            "ALTER TABLE users ADD COLUMN totp_last_step \(bigint)",
            """
            CREATE TABLE account_tokens (
                token_hash TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id),
                purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'login_challenge')),
                email TEXT,
                created_at \(timestamp) NOT NULL,
                expires_at \(timestamp) NOT NULL,
                used_at \(timestamp),
                failed_attempts INTEGER NOT NULL DEFAULT 0
            )
            """,
            "CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose)",
            """
            CREATE TABLE backup_codes (
                user_id TEXT NOT NULL REFERENCES users (id),
                code_hash TEXT NOT NULL,
                created_at \(timestamp) NOT NULL,
                used_at \(timestamp),
                PRIMARY KEY (user_id, code_hash)
            )
            """,
            """
            CREATE TABLE profiles (
                user_id TEXT PRIMARY KEY REFERENCES users (id),
                display_name TEXT,
                bio TEXT,
                interests TEXT NOT NULL DEFAULT '[]',
                city TEXT,
                latitude \(double),
                longitude \(double),
                avatar_url TEXT,
                email_visibility TEXT NOT NULL DEFAULT 'private' CHECK (email_visibility IN ('public', 'members', 'private')),
                location_visibility TEXT NOT NULL DEFAULT 'members' CHECK (location_visibility IN ('public', 'members', 'private')),
                attended_events_visibility TEXT NOT NULL DEFAULT 'members' CHECK (attended_events_visibility IN ('public', 'members', 'private')),
                updated_at \(timestamp) NOT NULL
            )
            """,
            """
            CREATE TABLE preferences (
                user_id TEXT PRIMARY KEY REFERENCES users (id),
                language TEXT NOT NULL,
                time_zone TEXT NOT NULL,
                theme TEXT NOT NULL CHECK (theme IN ('system', 'light', 'dark')),
                notifications TEXT NOT NULL,
                updated_at \(timestamp) NOT NULL
            )
            """,
        ]
    }

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

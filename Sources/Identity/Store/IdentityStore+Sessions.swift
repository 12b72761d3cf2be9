import FlowKit
import Foundation
import SQLKit

extension IdentityStore {
    // MARK: Sessions and refresh tokens

    func insertSession(id: String, userId: String, now: Date, expiresAt: Date, clientAddress: String?, userAgent: String?, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, client_address, user_agent)
            VALUES (\(bind: id), \(bind: userId), \(bind: now), \(bind: now), \(bind: expiresAt), \(bind: clientAddress), \(bind: userAgent))
            """).run()
    }

    func insertRefreshToken(hash: String, sessionId: String, now: Date, expiresAt: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at)
            VALUES (\(bind: hash), \(bind: sessionId), \(bind: now), \(bind: expiresAt))
            """).run()
    }

    /// Marks the token used if it was unused; returns its session when this call won the race.
    func consumeRefreshToken(hash: String, now: Date, in tx: Transaction) async throws -> (sessionId: String, expiresAt: Date)? {
        guard let row = try await tx.sql.raw("""
            UPDATE refresh_tokens SET used_at = \(bind: now) WHERE token_hash = \(bind: hash) AND used_at IS NULL
            RETURNING session_id, expires_at
            """).first() else { return nil }
        return (try row.decode(column: "session_id", as: String.self), try row.decode(column: "expires_at", as: Date.self))
    }

    /// The session of a refresh token that was already used (a replay), if the token exists.
    func sessionOfUsedRefreshToken(hash: String, in tx: Transaction) async throws -> String? {
        try await tx.sql.raw("SELECT session_id FROM refresh_tokens WHERE token_hash = \(bind: hash) AND used_at IS NOT NULL")
            .first()?.decode(column: "session_id", as: String.self)
    }

    struct SessionState: Sendable {
        let userId: String
        let expiresAt: Date
        let revokedAt: Date?
    }

    func session(id: String, on sql: any SQLDatabase) async throws -> SessionState? {
        guard let row = try await sql.raw("SELECT user_id, expires_at, revoked_at FROM sessions WHERE id = \(bind: id)").first() else { return nil }
        return SessionState(
            userId: try row.decode(column: "user_id", as: String.self),
            expiresAt: try row.decode(column: "expires_at", as: Date.self),
            revokedAt: try row.decodeOptional(column: "revoked_at", as: Date.self))
    }

    func touchSession(id: String, now: Date, expiresAt: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("UPDATE sessions SET last_seen_at = \(bind: now), expires_at = \(bind: expiresAt) WHERE id = \(bind: id)").run()
    }

    /// Revokes sessions of `userId` (one, all, or all but one); returns the ids revoked.
    @discardableResult
    func revokeSessions(userId: String, only: String? = nil, except: String? = nil, reason: String, now: Date, in tx: Transaction) async throws -> [String] {
        var query: SQLQueryString = """
            UPDATE sessions SET revoked_at = \(bind: now), revoke_reason = \(bind: reason)
            WHERE user_id = \(bind: userId) AND revoked_at IS NULL
            """
        if let only { query += " AND id = \(bind: only)" }
        if let except { query += " AND id <> \(bind: except)" }
        query += " RETURNING id"
        return try await tx.sql.raw(query).all().map { try $0.decode(column: "id", as: String.self) }
    }

    func activeSessions(userId: String, now: Date, on sql: any SQLDatabase) async throws -> [SessionView] {
        try await sql.raw("""
            SELECT id, created_at, last_seen_at, expires_at, client_address, user_agent FROM sessions
            WHERE user_id = \(bind: userId) AND revoked_at IS NULL AND expires_at > \(bind: now)
            ORDER BY id DESC
            """).all().map { row in
                SessionView(
                    id: try row.decode(column: "id", as: String.self),
                    createdAt: try row.decode(column: "created_at", as: Date.self),
                    lastSeenAt: try row.decode(column: "last_seen_at", as: Date.self),
                    expiresAt: try row.decode(column: "expires_at", as: Date.self),
                    clientAddress: try row.decodeOptional(column: "client_address", as: String.self),
                    userAgent: try row.decodeOptional(column: "user_agent", as: String.self),
                    current: false)
            }
    }
}

extension IdentityStore {
    /// Every session, ended ones included (for the data export).
    func allSessions(userId: String, on sql: any SQLDatabase) async throws -> [IdentityService.ExportedSession] {
        try await sql.raw("""
            SELECT id, created_at, last_seen_at, client_address, user_agent, revoked_at FROM sessions
            WHERE user_id = \(bind: userId) ORDER BY id DESC
            """).all().map { row in
                IdentityService.ExportedSession(
                    id: try row.decode(column: "id", as: String.self), createdAt: try row.decode(column: "created_at", as: Date.self),
                    lastSeenAt: try row.decode(column: "last_seen_at", as: Date.self),
                    clientAddress: try row.decodeOptional(column: "client_address", as: String.self),
                    userAgent: try row.decodeOptional(column: "user_agent", as: String.self),
                    revokedAt: try row.decodeOptional(column: "revoked_at", as: Date.self))
            }
    }

    /// Erases what identifies the person; the row stays (anonymous) so references hold.
    func erasePersonalData(userId: String, now: Date, in tx: Transaction) async throws {
        let anonymousName = "deleted-\(userId.suffix(12).lowercased())"
        let anonymousEmail = "\(anonymousName)@deleted.invalid"
        try await tx.sql.raw("""
            UPDATE users SET email = \(bind: anonymousEmail), email_key = \(bind: anonymousEmail), username = \(bind: anonymousName),
                username_key = \(bind: anonymousName), password_hash = '!', email_verified_at = NULL, failed_logins = 0, locked_until = NULL,
                totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL,
                deleted_at = \(bind: now), updated_at = \(bind: now)
            WHERE id = \(bind: userId)
            """).run()
        try await tx.sql.raw("UPDATE sessions SET client_address = NULL, user_agent = NULL WHERE user_id = \(bind: userId)").run()
        try await tx.sql.raw("DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = \(bind: userId))").run()
        for table in ["profiles", "preferences", "backup_codes", "account_tokens"] {
            try await tx.sql.raw("DELETE FROM \(unsafeRaw: table) WHERE user_id = \(bind: userId)").run()
        }
    }
}

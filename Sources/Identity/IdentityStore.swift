import FlowKit
import Foundation
import SQLKit

/// Identity's SQL. Only Identity reads these tables.
struct IdentityStore: Sendable {
    static let accountColumns = "id, email, username, password_hash, role, email_verified_at, failed_logins, locked_until, created_at"

    func insertAccount(id: String, email: String, username: String, passwordHash: String, role: Role, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            INSERT INTO users (id, email, email_key, username, username_key, password_hash, role, created_at, updated_at)
            VALUES (\(bind: id), \(bind: email), \(bind: Self.key(email)), \(bind: username), \(bind: Self.key(username)),
                    \(bind: passwordHash), \(bind: role.rawValue), \(bind: now), \(bind: now))
            """).run()
    }

    func account(email: String, on sql: any SQLDatabase) async throws -> Account? {
        try await sql.raw("SELECT \(unsafeRaw: Self.accountColumns) FROM users WHERE email_key = \(bind: Self.key(email))")
            .first().map(Self.account(from:))
    }

    func account(id: String, on sql: any SQLDatabase) async throws -> Account? {
        try await sql.raw("SELECT \(unsafeRaw: Self.accountColumns) FROM users WHERE id = \(bind: id)").first().map(Self.account(from:))
    }

    func recordFailedLogin(userId: String, lockUntil: Date?, now: Date, in tx: Transaction) async throws {
        if let lockUntil {
            try await tx.sql.raw("""
                UPDATE users SET failed_logins = 0, locked_until = \(bind: lockUntil), updated_at = \(bind: now) WHERE id = \(bind: userId)
                """).run()
        } else {
            try await tx.sql.raw("""
                UPDATE users SET failed_logins = failed_logins + 1, updated_at = \(bind: now) WHERE id = \(bind: userId)
                """).run()
        }
    }

    func resetFailedLogins(userId: String, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            UPDATE users SET failed_logins = 0, locked_until = NULL, updated_at = \(bind: now)
            WHERE id = \(bind: userId) AND (failed_logins <> 0 OR locked_until IS NOT NULL)
            """).run()
    }

    func setRole(userId: String, role: Role, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("UPDATE users SET role = \(bind: role.rawValue), updated_at = \(bind: now) WHERE id = \(bind: userId)").run()
    }

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
            revokedAt: try row.decode(column: "revoked_at", as: Date?.self))
    }

    func touchSession(id: String, now: Date, expiresAt: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("UPDATE sessions SET last_seen_at = \(bind: now), expires_at = \(bind: expiresAt) WHERE id = \(bind: id)").run()
    }

    /// Revokes sessions of `userId` (one, all, or all but one); returns the ids revoked.
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
                    clientAddress: try row.decode(column: "client_address", as: String?.self),
                    userAgent: try row.decode(column: "user_agent", as: String?.self),
                    current: false)
            }
    }

    static func key(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespaces).lowercased()
    }

    static func account(from row: any SQLRow) throws -> Account {
        Account(
            id: try row.decode(column: "id", as: String.self),
            email: try row.decode(column: "email", as: String.self),
            username: try row.decode(column: "username", as: String.self),
            passwordHash: try row.decode(column: "password_hash", as: String.self),
            role: Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .user,
            emailVerifiedAt: try row.decode(column: "email_verified_at", as: Date?.self),
            failedLogins: try row.decode(column: "failed_logins", as: Int.self),
            lockedUntil: try row.decode(column: "locked_until", as: Date?.self),
            createdAt: try row.decode(column: "created_at", as: Date.self))
    }
}

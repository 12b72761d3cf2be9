import FlowKit
import Foundation
import SQLKit

/// Single-use tokens mailed to or handed to the account holder. Only their hash is stored.
enum AccountTokenPurpose: String, Sendable {
    case verifyEmail = "verify_email"
    case resetPassword = "reset_password"
    /// The second step of a login with 2FA on.
    case loginChallenge = "login_challenge"
}

struct AccountToken: Sendable {
    let userId: String
    let email: String?
    let expiresAt: Date
    let failedAttempts: Int
}

extension IdentityStore {
    /// Stores a new token; returns when it expires.
    @discardableResult
    func insertAccountToken(hash: String, userId: String, purpose: AccountTokenPurpose, email: String?, now: Date,
                            lifetime: TimeInterval, in tx: Transaction) async throws -> Date {
        let expiresAt = now.addingTimeInterval(lifetime)
        try await tx.sql.raw("""
            INSERT INTO account_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
            VALUES (\(bind: hash), \(bind: userId), \(bind: purpose.rawValue), \(bind: email), \(bind: now), \(bind: expiresAt))
            """).run()
        return expiresAt
    }

    /// Marks an unused, unexpired token of `purpose` used, once: only the first of two
    /// concurrent calls gets it.
    func consumeAccountToken(hash: String, purpose: AccountTokenPurpose, now: Date, in tx: Transaction) async throws -> AccountToken? {
        try await tx.sql.raw("""
            UPDATE account_tokens SET used_at = \(bind: now)
            WHERE token_hash = \(bind: hash) AND purpose = \(bind: purpose.rawValue) AND used_at IS NULL AND expires_at > \(bind: now)
            RETURNING user_id, email, expires_at, failed_attempts
            """).first().map(Self.accountToken(from:))
    }

    /// An unused, unexpired token without consuming it (a 2FA challenge survives a wrong code).
    func liveAccountToken(hash: String, purpose: AccountTokenPurpose, now: Date, on sql: any SQLDatabase) async throws -> AccountToken? {
        try await sql.raw("""
            SELECT user_id, email, expires_at, failed_attempts FROM account_tokens
            WHERE token_hash = \(bind: hash) AND purpose = \(bind: purpose.rawValue) AND used_at IS NULL AND expires_at > \(bind: now)
            """).first().map(Self.accountToken(from:))
    }

    /// Counts a wrong answer to a challenge; at `limit` the challenge is used up.
    func recordFailedAttempt(hash: String, limit: Int, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            UPDATE account_tokens SET failed_attempts = failed_attempts + 1,
                used_at = CASE WHEN failed_attempts + 1 >= \(bind: limit) THEN \(bind: now) ELSE used_at END
            WHERE token_hash = \(bind: hash)
            """).run()
    }

    /// Retires every unused token of `purpose` for the user (a new reset link replaces the old).
    func retireAccountTokens(userId: String, purpose: AccountTokenPurpose, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            UPDATE account_tokens SET used_at = \(bind: now)
            WHERE user_id = \(bind: userId) AND purpose = \(bind: purpose.rawValue) AND used_at IS NULL
            """).run()
    }

    private static func accountToken(from row: any SQLRow) throws -> AccountToken {
        AccountToken(userId: try row.decode(column: "user_id", as: String.self), email: try row.decodeOptional(column: "email", as: String.self),
                     expiresAt: try row.decode(column: "expires_at", as: Date.self),
                     failedAttempts: try row.decode(column: "failed_attempts", as: Int.self))
    }
}

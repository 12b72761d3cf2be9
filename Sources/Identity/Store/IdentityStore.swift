import FlowKit
import Foundation
import SQLKit

/// Identity's SQL. Only Identity reads these tables.
struct IdentityStore: Sendable {
    static let accountColumns = "id, email, username, password_hash, role, email_verified_at, failed_logins, locked_until, created_at, totp_secret, deleted_at"

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

    func setPassword(userId: String, hash: String, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            UPDATE users SET password_hash = \(bind: hash), password_changed_at = \(bind: now), failed_logins = 0, locked_until = NULL,
                updated_at = \(bind: now)
            WHERE id = \(bind: userId)
            """).run()
    }

    func markEmailVerified(userId: String, email: String, now: Date, in tx: Transaction) async throws -> Bool {
        try await tx.sql.raw("""
            UPDATE users SET email_verified_at = \(bind: now), updated_at = \(bind: now)
            WHERE id = \(bind: userId) AND email_key = \(bind: Self.key(email)) AND deleted_at IS NULL RETURNING id
            """).first() != nil
    }

    func setUsername(userId: String, username: String, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            UPDATE users SET username = \(bind: username), username_key = \(bind: Self.key(username)), updated_at = \(bind: now)
            WHERE id = \(bind: userId)
            """).run()
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
            emailVerifiedAt: try row.decodeOptional(column: "email_verified_at", as: Date.self),
            failedLogins: try row.decode(column: "failed_logins", as: Int.self),
            lockedUntil: try row.decodeOptional(column: "locked_until", as: Date.self),
            createdAt: try row.decode(column: "created_at", as: Date.self),
            totpSecret: try row.decodeOptional(column: "totp_secret", as: String.self),
            deletedAt: try row.decodeOptional(column: "deleted_at", as: Date.self))
    }
}

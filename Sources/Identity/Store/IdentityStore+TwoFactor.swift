import FlowKit
import Foundation
import SQLKit

extension IdentityStore {
    func setPendingTOTPSecret(userId: String, secret: String, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("UPDATE users SET totp_pending_secret = \(bind: secret), updated_at = \(bind: now) WHERE id = \(bind: userId)").run()
    }

    func pendingTOTPSecret(userId: String, on sql: any SQLDatabase) async throws -> String? {
        try await sql.raw("SELECT totp_pending_secret FROM users WHERE id = \(bind: userId)").first()?
            .decodeOptional(column: "totp_pending_secret", as: String.self)
    }

    /// Turns the pending secret on; `step` is the step of the confirming code, which may not be used again.
    func enableTOTP(userId: String, secret: String, step: Int64, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            UPDATE users SET totp_secret = \(bind: secret), totp_pending_secret = NULL, totp_enabled_at = \(bind: now),
                totp_last_step = \(bind: step), updated_at = \(bind: now)
            WHERE id = \(bind: userId)
            """).run()
    }

    func disableTOTP(userId: String, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL,
                updated_at = \(bind: now)
            WHERE id = \(bind: userId)
            """).run()
        try await tx.sql.raw("DELETE FROM backup_codes WHERE user_id = \(bind: userId)").run()
    }

    /// Records `step` as used if it is newer than the last used one. False means the code was
    /// already used (a replay) or an older one was.
    func claimTOTPStep(userId: String, step: Int64, in tx: Transaction) async throws -> Bool {
        try await tx.sql.raw("""
            UPDATE users SET totp_last_step = \(bind: step)
            WHERE id = \(bind: userId) AND (totp_last_step IS NULL OR totp_last_step < \(bind: step)) RETURNING id
            """).first() != nil
    }

    func replaceBackupCodes(userId: String, hashes: [String], now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("DELETE FROM backup_codes WHERE user_id = \(bind: userId)").run()
        for hash in hashes {
            try await tx.sql.raw("""
                INSERT INTO backup_codes (user_id, code_hash, created_at) VALUES (\(bind: userId), \(bind: hash), \(bind: now))
                """).run()
        }
    }

    /// Uses a backup code once; false if it is unknown or used.
    func consumeBackupCode(userId: String, hash: String, now: Date, in tx: Transaction) async throws -> Bool {
        try await tx.sql.raw("""
            UPDATE backup_codes SET used_at = \(bind: now)
            WHERE user_id = \(bind: userId) AND code_hash = \(bind: hash) AND used_at IS NULL RETURNING code_hash
            """).first() != nil
    }

    func remainingBackupCodes(userId: String, on sql: any SQLDatabase) async throws -> Int {
        try await sql.raw("SELECT COUNT(*) AS n FROM backup_codes WHERE user_id = \(bind: userId) AND used_at IS NULL")
            .first()?.decode(column: "n", as: Int.self) ?? 0
    }
}

import FlowKit
import Foundation

/// Email verification, password change and password reset.
extension IdentityService {
    /// Confirms the address a verification mail was sent to. The token is single-use and only
    /// counts while the account still has that address.
    public func verifyEmail(token: String, client: Client) async throws {
        let now = Date()
        try await database.transaction { tx in
            guard let used = try await store.consumeAccountToken(hash: SecretToken.hash(token), purpose: .verifyEmail, now: now, in: tx),
                  let email = used.email,
                  try await store.markEmailVerified(userId: used.userId, email: email, now: now, in: tx) else {
                throw APIError.badRequest("The verification link is not valid, was already used or has expired; ask for a new one.",
                                          code: "invalid_verification_token")
            }
            try await audit.record(.init(actorId: used.userId, action: "user.email_verified", entityType: "user", entityId: used.userId),
                                   clientAddress: client.address, in: tx)
        }
    }

    /// Mails a new verification link (earlier links stop working).
    public func resendVerification(_ user: AuthenticatedUser) async throws {
        let account = try await liveAccount(user.id)
        guard account.emailVerifiedAt == nil else {
            throw APIError.conflict("The email address is already verified.", code: "already_verified")
        }
        let token = SecretToken.make()
        try await database.transaction { tx in
            let now = Date()
            try await store.retireAccountTokens(userId: account.id, purpose: .verifyEmail, now: now, in: tx)
            try await store.insertAccountToken(hash: SecretToken.hash(token), userId: account.id, purpose: .verifyEmail, email: account.email,
                                               now: now, lifetime: Self.verificationLifetime, in: tx)
        }
        await sendMail(IdentityMail.verification(to: account.email, username: account.username, token: token, publicURL: publicURL))
    }

    /// Changes the password of a signed-in user who knows the current one; every other session
    /// is signed out.
    public func changePassword(_ user: AuthenticatedUser, current: String, new: String, client: Client) async throws {
        let account = try await liveAccount(user.id)
        let problems = Passwords.problems(new, field: "newPassword", email: account.email, username: account.username)
        guard problems.isEmpty else { throw APIError.validation(problems) }
        try await requirePassword(current, of: account)
        let hash = try await passwords.hash(new)
        try await database.transaction { tx in
            let now = Date()
            try await store.setPassword(userId: account.id, hash: hash, now: now, in: tx)
            let revoked = try await store.revokeSessions(userId: account.id, except: user.sessionId, reason: "password changed", now: now, in: tx)
            try await audit.record(.init(actorId: account.id, action: "password.changed", entityType: "user", entityId: account.id,
                                         reason: "\(revoked.count) other session(s) signed out"),
                                   clientAddress: client.address, in: tx)
        }
    }

    /// Mails a reset link valid for 10 minutes when the address belongs to an account. Answers
    /// the same either way, so the endpoint does not reveal who has an account.
    public func requestPasswordReset(email: String, client: Client) async throws {
        guard let account = try await database.read({ sql in try await store.account(email: email, on: sql) }), account.deletedAt == nil else {
            logger.info("password reset asked for an unknown address")
            return
        }
        let token = SecretToken.make()
        try await database.transaction { tx in
            let now = Date()
            try await store.retireAccountTokens(userId: account.id, purpose: .resetPassword, now: now, in: tx)
            try await store.insertAccountToken(hash: SecretToken.hash(token), userId: account.id, purpose: .resetPassword, email: account.email,
                                               now: now, lifetime: Self.resetLifetime, in: tx)
            try await audit.record(.init(actorId: nil, action: "password.reset_requested", entityType: "user", entityId: account.id),
                                   clientAddress: client.address, in: tx)
        }
        await sendMail(IdentityMail.passwordReset(to: account.email, username: account.username, token: token, publicURL: publicURL))
    }

    /// Sets a new password with a reset token; signs out every session and lifts a lockout.
    /// Following the mailed link also proves the address, so it counts as verified.
    public func resetPassword(token: String, newPassword: String, client: Client) async throws {
        // Rules that need no account first, so a bad password costs no bcrypt round.
        let basic = Passwords.problems(newPassword, field: "newPassword", email: "", username: "")
        guard basic.isEmpty else { throw APIError.validation(basic) }
        let hash = try await passwords.hash(newPassword)
        let now = Date()
        try await database.transaction { tx in
            guard let used = try await store.consumeAccountToken(hash: SecretToken.hash(token), purpose: .resetPassword, now: now, in: tx),
                  let account = try await store.account(id: used.userId, on: tx.sql), account.deletedAt == nil else {
                throw APIError.badRequest("The reset link is not valid, was already used or has expired (links last 10 minutes); ask for a new one.",
                                          code: "invalid_reset_token")
            }
            let problems = Passwords.problems(newPassword, field: "newPassword", email: account.email, username: account.username)
            guard problems.isEmpty else { throw APIError.validation(problems) }
            try await store.setPassword(userId: account.id, hash: hash, now: now, in: tx)
            if account.emailVerifiedAt == nil, let email = used.email {
                _ = try await store.markEmailVerified(userId: account.id, email: email, now: now, in: tx)
            }
            let revoked = try await store.revokeSessions(userId: account.id, reason: "password reset", now: now, in: tx)
            try await audit.record(.init(actorId: account.id, action: "password.reset", entityType: "user", entityId: account.id,
                                         reason: "\(revoked.count) session(s) signed out"),
                                   clientAddress: client.address, in: tx)
        }
    }
}

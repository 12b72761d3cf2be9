import FlowKit
import Foundation

/// Two-factor sign-in with an authenticator app (TOTP) and single-use backup codes.
extension IdentityService {
    static let challengeAttempts = 5

    public struct TwoFactorSetup: Sendable, Codable {
        /// Show as a QR code; authenticator apps scan it.
        public let otpauthUri: String
        /// The same secret in base32, for typing in by hand.
        public let secret: String
    }

    public struct BackupCodeList: Sendable, Codable {
        /// Shown once; each works once in place of an authenticator code.
        public let backupCodes: [String]
    }

    /// Starts enrolment: a new pending secret, active only once a code from it is confirmed.
    public func beginTwoFactorSetup(_ user: AuthenticatedUser) async throws -> TwoFactorSetup {
        let account = try await liveAccount(user.id)
        guard !account.twoFactorEnabled else {
            throw APIError.conflict("Two-factor sign-in is already on; turn it off first to enrol a new authenticator.", code: "two_factor_enabled")
        }
        let secret = AuthenticatorCodes.makeSecret()
        try await database.transaction { tx in
            try await store.setPendingTOTPSecret(userId: user.id, secret: secret, now: Date(), in: tx)
        }
        let uri = AuthenticatorCodes.enrolmentURI(secret: secret, account: account.email, issuer: tokens.issuer)
        return TwoFactorSetup(otpauthUri: uri, secret: AuthenticatorCodes.manualEntryKey(fromURI: uri) ?? "")
    }

    /// Confirms enrolment with a code from the app; turns 2FA on and returns the backup codes.
    public func confirmTwoFactor(_ user: AuthenticatedUser, code: String, client: Client) async throws -> BackupCodeList {
        let now = Date()
        let codes = BackupCodes.make()
        try await database.transaction { tx in
            guard let secret = try await store.pendingTOTPSecret(userId: user.id, on: tx.sql) else {
                throw APIError.conflict("Start with POST /api/v1/auth/2fa/setup.", code: "two_factor_not_started")
            }
            guard let step = AuthenticatorCodes.matchingStep(of: code, secret: secret, now: now) else {
                throw APIError.validation(field: "code", "is not the current code of the authenticator app")
            }
            try await store.enableTOTP(userId: user.id, secret: secret, step: step, now: now, in: tx)
            try await store.replaceBackupCodes(userId: user.id, hashes: codes.map { BackupCodes.hash($0, userId: user.id) }, now: now, in: tx)
            try await audit.record(.init(actorId: user.id, action: "two_factor.enabled", entityType: "user", entityId: user.id),
                                   clientAddress: client.address, in: tx)
        }
        return BackupCodeList(backupCodes: codes)
    }

    /// Turns 2FA off: needs the password and a current code (or a backup code).
    public func disableTwoFactor(_ user: AuthenticatedUser, password: String, code: String, client: Client) async throws {
        let account = try await liveAccount(user.id)
        guard account.twoFactorEnabled else { throw APIError.conflict("Two-factor sign-in is not on.", code: "two_factor_disabled") }
        try await requirePassword(password, of: account)
        try await database.transaction { tx in
            guard try await acceptSecondFactor(code: code, account: account, now: Date(), in: tx) != nil else {
                throw APIError.validation(field: "code", "is neither a current authenticator code nor an unused backup code")
            }
            try await store.disableTOTP(userId: user.id, now: Date(), in: tx)
            try await audit.record(.init(actorId: user.id, action: "two_factor.disabled", entityType: "user", entityId: user.id),
                                   clientAddress: client.address, in: tx)
        }
    }

    /// New backup codes (the old ones stop working); needs a current authenticator code.
    public func regenerateBackupCodes(_ user: AuthenticatedUser, code: String, client: Client) async throws -> BackupCodeList {
        let account = try await liveAccount(user.id)
        guard let secret = account.totpSecret else { throw APIError.conflict("Two-factor sign-in is not on.", code: "two_factor_disabled") }
        let now = Date()
        let codes = BackupCodes.make()
        try await database.transaction { tx in
            guard let step = AuthenticatorCodes.matchingStep(of: code, secret: secret, now: now),
                  try await store.claimTOTPStep(userId: user.id, step: step, in: tx) else {
                throw APIError.validation(field: "code", "is not the current code of the authenticator app, or was already used")
            }
            try await store.replaceBackupCodes(userId: user.id, hashes: codes.map { BackupCodes.hash($0, userId: user.id) }, now: now, in: tx)
            try await audit.record(.init(actorId: user.id, action: "two_factor.backup_codes_regenerated", entityType: "user", entityId: user.id),
                                   clientAddress: client.address, in: tx)
        }
        return BackupCodeList(backupCodes: codes)
    }

    /// The second step of a login: the challenge from the first step and an authenticator code
    /// or a backup code. Five wrong answers use the challenge up (sign in with the password again).
    public func completeLogin(challenge: String, code: String, client: Client) async throws -> SignedIn {
        let hash = SecretToken.hash(challenge)
        let now = Date()
        let outcome: SignedIn? = try await database.transaction { tx in
            guard let pending = try await store.liveAccountToken(hash: hash, purpose: .loginChallenge, now: now, on: tx.sql),
                  let account = try await store.account(id: pending.userId, on: tx.sql), account.deletedAt == nil else {
                throw APIError(.unauthorized, code: "invalid_challenge", message: "The sign-in challenge is not valid or has expired; sign in again.")
            }
            guard let method = try await acceptSecondFactor(code: code, account: account, now: now, in: tx) else {
                try await store.recordFailedAttempt(hash: hash, limit: Self.challengeAttempts, now: now, in: tx)
                try await audit.record(.init(actorId: nil, action: "login.failed", entityType: "user", entityId: account.id, reason: "wrong second factor"),
                                       clientAddress: client.address, in: tx)
                return nil
            }
            guard try await store.consumeAccountToken(hash: hash, purpose: .loginChallenge, now: now, in: tx) != nil else {
                throw APIError(.unauthorized, code: "invalid_challenge", message: "The sign-in challenge was already used; sign in again.")
            }
            try await audit.record(.init(actorId: account.id, action: "login.succeeded", entityType: "user", entityId: account.id, reason: method),
                                   clientAddress: client.address, in: tx)
            return try await startSession(for: account, client: client, now: now, in: tx)
        }
        // The failed attempt is committed before answering, so it counts even though this is an error.
        guard let outcome else {
            throw APIError(.unauthorized, code: "invalid_second_factor", message: "The code is wrong, expired or already used.")
        }
        return outcome
    }

    /// Checks a TOTP code (each step once) or a backup code (each once); returns which it was.
    func acceptSecondFactor(code: String, account: Account, now: Date, in tx: Transaction) async throws -> String? {
        guard let secret = account.totpSecret else { return nil }
        if let step = AuthenticatorCodes.matchingStep(of: code, secret: secret, now: now) {
            return try await store.claimTOTPStep(userId: account.id, step: step, in: tx) ? "totp" : nil
        }
        let usedBackup = try await store.consumeBackupCode(userId: account.id, hash: BackupCodes.hash(code, userId: account.id), now: now, in: tx)
        return usedBackup ? "backup code" : nil
    }

    /// The account behind a token, 404 if it was deleted meanwhile.
    func liveAccount(_ id: String) async throws -> Account {
        guard let account = try await database.read({ sql in try await store.account(id: id, on: sql) }), account.deletedAt == nil else {
            throw APIError.notFound("The account no longer exists.")
        }
        return account
    }

    /// 403 when `password` is not the account's password (re-authentication for sensitive changes).
    func requirePassword(_ password: String, of account: Account) async throws {
        guard try await passwords.verify(password, hash: account.passwordHash) else {
            throw APIError(.forbidden, code: "wrong_password", message: "The password is wrong.")
        }
    }
}

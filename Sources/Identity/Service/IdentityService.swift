import Bus
import HTTPTypes
import FlowKit
import Foundation
import Logging
import NIOPosix

/// Accounts, sign-in and sessions. Every state change commits together with its audit entry and
/// domain event.
public struct IdentityService: Sendable {
    static let refreshLifetime: TimeInterval = 7 * 86_400
    static let maximumFailedLogins = 5
    static let lockDuration: TimeInterval = 2 * 3600
    static let verificationLifetime: TimeInterval = 24 * 3600
    static let resetLifetime: TimeInterval = 10 * 60
    static let challengeLifetime: TimeInterval = 5 * 60

    let database: Database
    let store = IdentityStore()
    let passwords: Passwords
    let tokens: AccessTokens
    let publisher: EventPublisher
    let audit = AuditTrail()
    let mailer: any Mailer
    /// The address of the web client, for links in mail (`…/verify-email?token=…`).
    let publicURL: String
    let logger: Logger

    /// Where a request came from, for sessions and the audit trail.
    public struct Client: Sendable {
        public let address: String?
        public let userAgent: String?

        public init(address: String?, userAgent: String?) {
            self.address = address
            self.userAgent = userAgent.map { String($0.prefix(512)) }
        }
    }

    /// What sign-in, registration and refresh return.
    public struct SignedIn: Sendable, Codable {
        public let accessToken: String
        public let tokenType: String
        /// Seconds until the access token expires.
        public let expiresIn: Int
        public let refreshToken: String
        public let refreshTokenExpiresAt: Date
        public let sessionId: String
        public let user: AccountView
    }

    /// What a correct password gets: a session, or (with 2FA on) a challenge to answer with a code.
    public enum LoginResult: Sendable {
        case signedIn(SignedIn)
        case secondFactorRequired(SecondFactorChallenge)
    }

    public struct SecondFactorChallenge: Sendable, Codable {
        public let status: String
        /// Answer it at `POST /api/v1/auth/login/2fa` within five minutes.
        public let challengeToken: String
        public let expiresAt: Date
        public let methods: [String]
    }

    // MARK: Registration and sign-in

    public func register(email rawEmail: String, username rawUsername: String, password: String, client: Client) async throws -> SignedIn {
        let email = rawEmail.trimmingCharacters(in: .whitespaces)
        let username = rawUsername.trimmingCharacters(in: .whitespaces)
        var problems = AccountRules.emailProblems(email) + AccountRules.usernameProblems(username)
        problems += Passwords.problems(password, email: email, username: username)
        guard problems.isEmpty else { throw APIError.validation(problems) }

        let hash = try await passwords.hash(password)
        let now = Date()
        let id = UUIDv7.string(at: now)
        let verification = SecretToken.make()
        let signedIn: SignedIn
        do {
            signedIn = try await database.transaction { tx in
                try await store.insertAccount(id: id, email: email, username: username, passwordHash: hash, role: .user, now: now, in: tx)
                try await store.insertAccountToken(hash: SecretToken.hash(verification), userId: id, purpose: .verifyEmail, email: email,
                                                   now: now, lifetime: Self.verificationLifetime, in: tx)
                try await publisher.publish(UserRegistered(userId: id, username: username), key: id, in: tx)
                try await audit.record(.init(actorId: id, action: "user.registered", entityType: "user", entityId: id), clientAddress: client.address, in: tx)
                let account = Account(id: id, email: email, username: username, passwordHash: hash, role: .user, emailVerifiedAt: nil,
                                      failedLogins: 0, lockedUntil: nil, createdAt: now)
                return try await startSession(for: account, client: client, now: now, in: tx)
            }
        } catch let error as DatabaseError where error.kind == .uniqueViolation {
            if error.isUniqueViolation(index: "users_email_key", table: "users", columns: ["email_key"]) {
                throw APIError.conflict("An account with this email address exists.", code: "email_taken")
            }
            throw APIError.conflict("This username is taken.", code: "username_taken")
        }
        await sendMail(IdentityMail.verification(to: email, username: username, token: verification, publicURL: publicURL))
        return signedIn
    }

    public func login(email: String, password: String, client: Client) async throws -> LoginResult {
        let now = Date()
        // A deleted account keeps an anonymous row; it never signs in (its hash is not a bcrypt hash).
        guard let account = try await database.read({ sql in try await store.account(email: email, on: sql) }), account.deletedAt == nil else {
            try await passwords.verifyAgainstNothing(password)
            throw Self.invalidCredentials
        }
        if let lockedUntil = account.lockedUntil, lockedUntil > now {
            throw Self.locked(until: lockedUntil, now: now)
        }
        guard try await passwords.verify(password, hash: account.passwordHash) else {
            let lockUntil = try await recordFailedLogin(account, client: client, now: now)
            if let lockUntil { throw Self.locked(until: lockUntil, now: now) }
            throw Self.invalidCredentials
        }
        return try await database.transaction { tx in
            try await store.resetFailedLogins(userId: account.id, now: now, in: tx)
            if account.twoFactorEnabled {
                let challenge = SecretToken.make()
                let expiresAt = try await store.insertAccountToken(hash: SecretToken.hash(challenge), userId: account.id, purpose: .loginChallenge,
                                                                   email: nil, now: now, lifetime: Self.challengeLifetime, in: tx)
                return .secondFactorRequired(SecondFactorChallenge(status: "two_factor_required", challengeToken: challenge, expiresAt: expiresAt,
                                                                   methods: ["totp", "backup_code"]))
            }
            try await audit.record(.init(actorId: account.id, action: "login.succeeded", entityType: "user", entityId: account.id),
                                   clientAddress: client.address, in: tx)
            return .signedIn(try await startSession(for: account, client: client, now: now, in: tx))
        }
    }

    /// Counts a failed login; the fifth in a row locks the account for two hours. Returns the
    /// lock's end when this failure locked it.
    private func recordFailedLogin(_ account: Account, client: Client, now: Date) async throws -> Date? {
        try await database.transaction { tx in
            // Re-read inside the transaction: concurrent failures must all count.
            guard let current = try await store.account(id: account.id, on: tx.sql) else { return nil }
            let locks = current.failedLogins + 1 >= Self.maximumFailedLogins
            let lockUntil = locks ? now.addingTimeInterval(Self.lockDuration) : nil
            try await store.recordFailedLogin(userId: account.id, lockUntil: lockUntil, now: now, in: tx)
            try await audit.record(.init(actorId: nil, action: "login.failed", entityType: "user", entityId: account.id),
                                   clientAddress: client.address, in: tx)
            if let lockUntil {
                try await audit.record(.init(actorId: nil, action: "user.locked", entityType: "user", entityId: account.id,
                                             changes: ["lockedUntil": AuditChange(before: nil, after: .string(RFC3339.format(lockUntil)))],
                                             reason: "\(Self.maximumFailedLogins) failed logins"),
                                       clientAddress: client.address, in: tx)
                try await publisher.publish(UserLocked(userId: account.id, lockedUntil: lockUntil), key: account.id, in: tx)
            }
            return lockUntil
        }
    }

    // MARK: Tokens and mail

    /// Sends after the change committed. A failed send is logged, not returned: the change
    /// stands, and the user can ask for the mail again.
    func sendMail(_ message: MailMessage) async {
        do {
            try await mailer.send(message)
        } catch {
            logger.error("mail not sent", metadata: ["kind": .string(message.kind), "error": .string("\(error)")])
        }
    }

    func startSession(for account: Account, client: Client, now: Date, in tx: Transaction) async throws -> SignedIn {
        let sessionId = UUIDv7.string(at: now)
        try await store.insertSession(id: sessionId, userId: account.id, now: now, expiresAt: now.addingTimeInterval(Self.refreshLifetime),
                                      clientAddress: client.address, userAgent: client.userAgent, in: tx)
        return try await issueRefresh(for: account, sessionId: sessionId, now: now, in: tx)
    }

    func issueRefresh(for account: Account, sessionId: String, now: Date, in tx: Transaction) async throws -> SignedIn {
        let refreshToken = SecretToken.make()
        let refreshExpiresAt = now.addingTimeInterval(Self.refreshLifetime)
        try await store.insertRefreshToken(hash: SecretToken.hash(refreshToken), sessionId: sessionId, now: now, expiresAt: refreshExpiresAt, in: tx)
        try await store.touchSession(id: sessionId, now: now, expiresAt: refreshExpiresAt, in: tx)
        let access = try await tokens.issue(for: account, sessionId: sessionId, now: now)
        return SignedIn(accessToken: access.token, tokenType: "Bearer", expiresIn: Int(AccessTokens.lifetime), refreshToken: refreshToken,
                        refreshTokenExpiresAt: refreshExpiresAt, sessionId: sessionId, user: account.publicView)
    }

    // MARK: Rules

    static let invalidCredentials = APIError(.unauthorized, code: "invalid_credentials", message: "The email address or password is wrong.")

    static func locked(until: Date, now: Date) -> APIError {
        APIError(HTTPResponse.Status(code: 423, reasonPhrase: "Locked"), code: "account_locked",
                 message: "Too many failed sign-ins: the account is locked until \(RFC3339.format(until)).",
                 details: ["lockedUntil": .string(RFC3339.format(until))],
                 headers: [.retryAfter: String(Int(until.timeIntervalSince(now).rounded(.up)))])
    }
}


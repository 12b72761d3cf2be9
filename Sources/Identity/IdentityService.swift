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

    let database: Database
    let store = IdentityStore()
    let passwords: Passwords
    let tokens: AccessTokens
    let publisher: EventPublisher
    let audit = AuditTrail()
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

    // MARK: Registration and sign-in

    public func register(email rawEmail: String, username rawUsername: String, password: String, client: Client) async throws -> SignedIn {
        let email = rawEmail.trimmingCharacters(in: .whitespaces)
        let username = rawUsername.trimmingCharacters(in: .whitespaces)
        var problems = Self.emailProblems(email) + Self.usernameProblems(username)
        problems += Passwords.problems(password, email: email, username: username)
        guard problems.isEmpty else { throw APIError.validation(problems) }

        let hash = try await passwords.hash(password)
        let now = Date()
        let id = UUIDv7.string(at: now)
        do {
            return try await database.transaction { tx in
                try await store.insertAccount(id: id, email: email, username: username, passwordHash: hash, role: .user, now: now, in: tx)
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
    }

    public func login(email: String, password: String, client: Client) async throws -> SignedIn {
        let now = Date()
        guard let account = try await database.read({ sql in try await store.account(email: email, on: sql) }) else {
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
            try await audit.record(.init(actorId: account.id, action: "login.succeeded", entityType: "user", entityId: account.id),
                                   clientAddress: client.address, in: tx)
            return try await startSession(for: account, client: client, now: now, in: tx)
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

    // MARK: Refresh and sign-out

    private enum RefreshOutcome: Sendable {
        case signedIn(SignedIn)
        case reused
        case invalid
    }

    /// Trades a refresh token for a new pair. Each refresh token works once; presenting one that
    /// was already used means it was stolen (or replayed), so the whole session is revoked.
    public func refresh(token: String, client: Client) async throws -> SignedIn {
        let hash = SecretToken.hash(token)
        let now = Date()
        let outcome: RefreshOutcome = try await database.transaction { tx in
            guard let consumed = try await store.consumeRefreshToken(hash: hash, now: now, in: tx) else {
                guard let sessionId = try await store.sessionOfUsedRefreshToken(hash: hash, in: tx),
                      let session = try await store.session(id: sessionId, on: tx.sql) else { return .invalid }
                let revoked = try await store.revokeSessions(userId: session.userId, only: sessionId, reason: "refresh token reuse", now: now, in: tx)
                if !revoked.isEmpty {
                    try await audit.record(.init(actorId: nil, action: "session.revoked", entityType: "session", entityId: sessionId,
                                                 reason: "a used refresh token was presented again"),
                                           clientAddress: client.address, in: tx)
                }
                return .reused
            }
            guard consumed.expiresAt > now,
                  let session = try await store.session(id: consumed.sessionId, on: tx.sql),
                  session.revokedAt == nil, session.expiresAt > now,
                  let account = try await store.account(id: session.userId, on: tx.sql)
            else { return .invalid }
            return .signedIn(try await issueRefresh(for: account, sessionId: consumed.sessionId, now: now, in: tx))
        }
        switch outcome {
        case .signedIn(let signedIn): return signedIn
        case .reused:
            throw APIError(.unauthorized, code: "refresh_token_reused",
                           message: "This refresh token was already used; the session has been signed out for safety. Sign in again.")
        case .invalid:
            throw APIError(.unauthorized, code: "invalid_refresh_token", message: "The refresh token is not valid or has expired. Sign in again.")
        }
    }

    /// Ends the caller's session.
    public func logout(_ user: AuthenticatedUser, client: Client) async throws {
        try await revoke(userId: user.id, only: user.sessionId, reason: "logout", actor: user.id, client: client)
    }

    /// Ends every session of the caller, this one included. Returns how many.
    public func logoutEverywhere(_ user: AuthenticatedUser, client: Client) async throws -> Int {
        try await revoke(userId: user.id, reason: "logout everywhere", actor: user.id, client: client)
    }

    /// Ends the caller's other sessions. Returns how many.
    public func revokeOtherSessions(_ user: AuthenticatedUser, client: Client) async throws -> Int {
        try await revoke(userId: user.id, except: user.sessionId, reason: "revoked by owner", actor: user.id, client: client)
    }

    /// Ends one of the caller's sessions; 404 when it is not theirs or already ended.
    public func revokeSession(_ sessionId: String, of user: AuthenticatedUser, client: Client) async throws {
        let count = try await revoke(userId: user.id, only: sessionId, reason: "revoked by owner", actor: user.id, client: client)
        guard count > 0 else { throw APIError.notFound("You have no active session with this id.") }
    }

    public func sessions(of user: AuthenticatedUser) async throws -> [SessionView] {
        try await database.read { sql in
            try await store.activeSessions(userId: user.id, now: Date(), on: sql)
        }.map { session in
            SessionView(id: session.id, createdAt: session.createdAt, lastSeenAt: session.lastSeenAt, expiresAt: session.expiresAt,
                        clientAddress: session.clientAddress, userAgent: session.userAgent, current: session.id == user.sessionId)
        }
    }

    public func account(of user: AuthenticatedUser) async throws -> AccountView {
        guard let account = try await database.read({ sql in try await store.account(id: user.id, on: sql) }) else {
            throw APIError.notFound("The account no longer exists.")
        }
        return account.publicView
    }

    @discardableResult
    private func revoke(userId: String, only: String? = nil, except: String? = nil, reason: String, actor: String, client: Client) async throws -> Int {
        try await database.transaction { tx in
            let revoked = try await store.revokeSessions(userId: userId, only: only, except: except, reason: reason, now: Date(), in: tx)
            for sessionId in revoked {
                try await audit.record(.init(actorId: actor, action: "session.revoked", entityType: "session", entityId: sessionId, reason: reason),
                                       clientAddress: client.address, in: tx)
            }
            return revoked.count
        }
    }

    // MARK: Administration

    /// Creates an account with the admin role (`flow users create-admin`), or promotes an
    /// existing account with that email, recording the role change.
    public func createAdmin(email: String, username: String, password: String) async throws -> AccountView {
        var problems = Self.emailProblems(email) + Self.usernameProblems(username)
        problems += Passwords.problems(password, email: email, username: username)
        guard problems.isEmpty else { throw APIError.validation(problems) }
        let hash = try await passwords.hash(password)
        let now = Date()
        return try await database.transaction { tx in
            if let existing = try await store.account(email: email, on: tx.sql) {
                try await store.setRole(userId: existing.id, role: .admin, now: now, in: tx)
                try await audit.record(.init(actorId: nil, action: "user.role_changed", entityType: "user", entityId: existing.id,
                                             changes: ["role": AuditChange(before: .string(existing.role.rawValue), after: "admin")],
                                             reason: "flow users create-admin"), clientAddress: nil, in: tx)
                return AccountView(id: existing.id, email: existing.email, username: existing.username, role: "admin",
                                   emailVerified: existing.emailVerifiedAt != nil, createdAt: existing.createdAt)
            }
            let id = UUIDv7.string(at: now)
            try await store.insertAccount(id: id, email: email, username: username, passwordHash: hash, role: .admin, now: now, in: tx)
            try await publisher.publish(UserRegistered(userId: id, username: username), key: id, in: tx)
            try await audit.record(.init(actorId: nil, action: "user.registered", entityType: "user", entityId: id,
                                         changes: ["role": AuditChange(before: nil, after: "admin")], reason: "flow users create-admin"),
                                   clientAddress: nil, in: tx)
            return AccountView(id: id, email: email, username: username, role: "admin", emailVerified: false, createdAt: now)
        }
    }

    // MARK: Tokens

    private func startSession(for account: Account, client: Client, now: Date, in tx: Transaction) async throws -> SignedIn {
        let sessionId = UUIDv7.string(at: now)
        try await store.insertSession(id: sessionId, userId: account.id, now: now, expiresAt: now.addingTimeInterval(Self.refreshLifetime),
                                      clientAddress: client.address, userAgent: client.userAgent, in: tx)
        return try await issueRefresh(for: account, sessionId: sessionId, now: now, in: tx)
    }

    private func issueRefresh(for account: Account, sessionId: String, now: Date, in tx: Transaction) async throws -> SignedIn {
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

    static func emailProblems(_ email: String) -> [FieldProblem] {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        let valid = parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
            && email.count <= 254 && !email.contains(where: { $0.isWhitespace })
        return valid ? [] : [FieldProblem(field: "email", problem: "must be an email address like name@example.com")]
    }

    static func usernameProblems(_ username: String) -> [FieldProblem] {
        let allowed = username.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) }
        guard (3...30).contains(username.count), allowed, username.unicodeScalars.allSatisfy(\.isASCII) else {
            return [FieldProblem(field: "username", problem: "must be 3–30 characters: letters, digits, dot, underscore or hyphen")]
        }
        return []
    }
}

/// Identity's side of authentication: a valid token of a live session.
struct IdentityAuthenticator: Authenticator {
    let tokens: AccessTokens
    let database: Database
    let store = IdentityStore()

    func authenticate(bearer token: String) async throws -> AuthenticatedUser {
        let claims = try await tokens.verify(token)
        // Revocation takes effect at once, not when the token expires.
        let session = try await database.read { sql in try await store.session(id: claims.sessionId, on: sql) }
        guard let session, session.revokedAt == nil, session.expiresAt > Date(), session.userId == claims.sub.value else {
            throw APIError(.unauthorized, code: "session_ended", message: "This session has ended; sign in again.",
                           headers: [.wwwAuthenticate: #"Bearer error="invalid_token", error_description="session ended""#])
        }
        return AuthenticatedUser(id: claims.sub.value, email: claims.email, username: claims.username, role: claims.role,
                                 permissions: Set(claims.permissions), sessionId: claims.sessionId)
    }
}

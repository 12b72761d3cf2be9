import FlowKit
import Foundation

extension IdentityService {
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
    func revoke(userId: String, only: String? = nil, except: String? = nil, reason: String, actor: String, client: Client) async throws -> Int {
        try await database.transaction { tx in
            let revoked = try await store.revokeSessions(userId: userId, only: only, except: except, reason: reason, now: Date(), in: tx)
            for sessionId in revoked {
                try await audit.record(.init(actorId: actor, action: "session.revoked", entityType: "session", entityId: sessionId, reason: reason),
                                       clientAddress: client.address, in: tx)
            }
            return revoked.count
        }
    }
}

import FlowKit
import Foundation

extension IdentityService {
    // MARK: Administration

    /// Creates an account with the admin role (`flow users create-admin`), or promotes an
    /// existing account with that email, recording the role change.
    public func createAdmin(email: String, username: String, password: String) async throws -> AccountView {
        var problems = AccountRules.emailProblems(email) + AccountRules.usernameProblems(username)
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
                var promoted = existing
                promoted.role = .admin
                return promoted.publicView
            }
            let id = UUIDv7.string(at: now)
            try await store.insertAccount(id: id, email: email, username: username, passwordHash: hash, role: .admin, now: now, in: tx)
            try await publisher.publish(UserRegistered(userId: id, username: username), key: id, in: tx)
            try await audit.record(.init(actorId: nil, action: "user.registered", entityType: "user", entityId: id,
                                         changes: ["role": AuditChange(before: nil, after: "admin")], reason: "flow users create-admin"),
                                   clientAddress: nil, in: tx)
            return AccountView(id: id, email: email, username: username, role: "admin", emailVerified: false, twoFactorEnabled: false, createdAt: now)
        }
    }
}

extension IdentityService {
    /// Gives an account another role (staff with `manage_roles`). The account's sessions end, so
    /// its next sign-in carries the new permissions instead of the old ones lingering for up to
    /// 15 minutes in live access tokens. Nobody changes their own role: an admin cannot lock the
    /// platform out of its last admin by accident.
    public func changeRole(of id: String, to role: Role, by user: AuthenticatedUser, client: Client) async throws -> AccountView {
        guard user.id != id else {
            throw APIError.conflict("You cannot change your own role; ask another admin.", code: "own_role")
        }
        return try await database.transaction { tx in
            guard let account = try await store.account(id: id, on: tx.sql), account.deletedAt == nil else {
                throw APIError.notFound("No user has this id.")
            }
            guard account.role != role else { return account.publicView }
            let now = Date()
            try await store.setRole(userId: id, role: role, now: now, in: tx)
            try await store.revokeSessions(userId: id, reason: "role changed", now: now, in: tx)
            try await audit.record(.init(actorId: user.id, action: "user.role_changed", entityType: "user", entityId: id,
                                         changes: ["role": AuditChange(before: .string(account.role.rawValue), after: .string(role.rawValue))]),
                                   clientAddress: client.address, in: tx)
            var changed = account
            changed.role = role
            return changed.publicView
        }
    }
}

extension IdentityService {
    /// The account with this email, created (role user) if missing: for `flow seed`, which needs
    /// organizers and attendees. Not an API operation: it skips sign-in.
    public func ensureAccount(email: String, username: String, password: String) async throws -> AuthenticatedUser {
        if let existing = try await database.read({ sql in try await store.account(email: email, on: sql) }), existing.deletedAt == nil {
            return AuthenticatedUser(id: existing.id, email: existing.email, username: existing.username, role: existing.role.rawValue,
                                     permissions: existing.role.permissions, sessionId: "")
        }
        let signedIn = try await register(email: email, username: username, password: password, client: Client(address: nil, userAgent: "flow seed"))
        return AuthenticatedUser(id: signedIn.user.id, email: email, username: username, role: Role.user.rawValue,
                                 permissions: Role.user.permissions, sessionId: signedIn.sessionId)
    }
}

import FlowKit
import Foundation
import SQLKit

/// Privacy rights: a copy of everything Identity holds about a user, and account deletion.
extension IdentityService {
    public struct PersonalDataExport: Sendable, Encodable {
        public let exportedAt: Date
        public let account: ExportedAccount
        public let profile: ProfileView
        public let preferences: Preferences
        public let sessions: [ExportedSession]
        public let twoFactor: ExportedTwoFactor
        /// Security events about the account (sign-ins, changes), newest first, at most 1,000.
        public let auditLog: [RecordedAudit]
    }

    public struct ExportedAccount: Sendable, Encodable {
        public let id: String
        public let email: String
        public let username: String
        public let role: String
        @ExplicitNull public var emailVerifiedAt: Date?
        public let createdAt: Date
    }

    public struct ExportedSession: Sendable, Encodable {
        public let id: String
        public let createdAt: Date
        public let lastSeenAt: Date
        @ExplicitNull public var clientAddress: String?
        @ExplicitNull public var userAgent: String?
        @ExplicitNull public var revokedAt: Date?
    }

    public struct ExportedTwoFactor: Sendable, Encodable {
        public let enabled: Bool
        public let unusedBackupCodes: Int
    }

    public func exportPersonalData(of user: AuthenticatedUser) async throws -> PersonalDataExport {
        let account = try await liveAccount(user.id)
        return try await database.read { sql in
            let profile = try await store.profile(userId: account.id, on: sql)
            return PersonalDataExport(
                exportedAt: Date(),
                account: ExportedAccount(id: account.id, email: account.email, username: account.username, role: account.role.rawValue,
                                         emailVerifiedAt: account.emailVerifiedAt, createdAt: account.createdAt),
                profile: Self.view(account, profile, for: Viewer(user)),
                preferences: try await store.preferences(userId: account.id, on: sql),
                sessions: try await store.allSessions(userId: account.id, on: sql),
                twoFactor: ExportedTwoFactor(enabled: account.twoFactorEnabled,
                                             unusedBackupCodes: try await store.remainingBackupCodes(userId: account.id, on: sql)),
                auditLog: try await audit.entries(concerningUser: account.id, limit: 1_000, on: sql))
        }
    }

    /// Deletes the caller's account: the password (and a 2FA code when 2FA is on) confirms it.
    /// Personal data is erased, the row keeps only an anonymous id so other domains' references
    /// stay valid, every session ends, and `user.deleted` tells the other domains.
    public func deleteAccount(_ user: AuthenticatedUser, password: String, code: String?, client: Client) async throws {
        let account = try await liveAccount(user.id)
        try await requirePassword(password, of: account)
        let now = Date()
        try await database.transaction { tx in
            if account.twoFactorEnabled {
                guard let code, try await acceptSecondFactor(code: code, account: account, now: now, in: tx) != nil else {
                    throw APIError.validation(field: "code", "2FA is on: give a current authenticator code or an unused backup code")
                }
            }
            try await store.revokeSessions(userId: account.id, reason: "account deleted", now: now, in: tx)
            try await store.erasePersonalData(userId: account.id, now: now, in: tx)
            try await audit.forgetClientAddresses(ofUser: account.id, in: tx)
            try await audit.record(.init(actorId: account.id, action: "user.deleted", entityType: "user", entityId: account.id),
                                   clientAddress: nil, in: tx)
            try await publisher.publish(UserDeleted(userId: account.id), key: account.id, in: tx)
        }
    }
}

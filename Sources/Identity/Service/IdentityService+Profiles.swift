import FlowKit
import Foundation

/// Public user cards, extended profiles filtered by privacy, profile edits and preferences.
extension IdentityService {
    /// What `PUT /api/v1/users/{id}` takes. Left-out fields keep their value; `null` clears one.
    public struct ProfileUpdate: Decodable, Sendable {
        let username: String?
        let displayName: FieldUpdate<String>
        let bio: FieldUpdate<String>
        let interests: [String]?
        let location: FieldUpdate<Location>
        let avatarUrl: FieldUpdate<String>
        let privacy: PrivacyUpdate?

        struct PrivacyUpdate: Decodable, Sendable {
            let email: Visibility?
            let location: Visibility?
            let attendedEvents: Visibility?
        }
    }

    public func userCard(id: String) async throws -> UserCard {
        let (account, profile) = try await accountAndProfile(id)
        return UserCard(id: account.id, username: account.username, displayName: profile.displayName, avatarUrl: profile.avatarUrl,
                        createdAt: account.createdAt)
    }

    public func profile(id: String, viewer user: AuthenticatedUser?) async throws -> ProfileView {
        let (account, profile) = try await accountAndProfile(id)
        return Self.view(account, profile, for: Viewer(user))
    }

    /// Edits the caller's own profile (or any, with `manage_users`); publishes `user.profile_updated`
    /// with the names of the fields that changed.
    public func updateProfile(id: String, _ update: ProfileUpdate, by user: AuthenticatedUser, client: Client) async throws -> ProfileView {
        guard user.id == id || user.has(Permission.manageUsers) else {
            throw APIError.forbidden("You can edit only your own profile.")
        }
        if let username = update.username {
            let problems = AccountRules.usernameProblems(username)
            guard problems.isEmpty else { throw APIError.validation(problems) }
        }
        let now = Date()
        do {
            return try await database.transaction { tx in
                guard let account = try await store.account(id: id, on: tx.sql), account.deletedAt == nil else {
                    throw APIError.notFound("No user has this id.")
                }
                let before = try await store.profile(userId: id, on: tx.sql)
                let after = try Self.applying(update, to: before)
                var changed = Self.changedFields(before, after)
                var current = account
                if let username = update.username, username != account.username {
                    try await store.setUsername(userId: id, username: username, now: now, in: tx)
                    changed.append("username")
                    current.username = username
                }
                if !changed.isEmpty {
                    try await store.saveProfile(userId: id, after, now: now, in: tx)
                    try await publisher.publish(UserProfileUpdated(userId: id, fields: changed.sorted()), key: id, in: tx)
                    if user.id != id {
                        try await audit.record(.init(actorId: user.id, action: "user.profile_updated", entityType: "user", entityId: id,
                                                     reason: "fields: \(changed.sorted().joined(separator: ", "))"),
                                               clientAddress: client.address, in: tx)
                    }
                }
                return Self.view(current, after, for: Viewer(user))
            }
        } catch let error as DatabaseError where error.kind == .uniqueViolation {
            throw APIError.conflict("This username is taken.", code: "username_taken")
        }
    }

    public func preferences(of user: AuthenticatedUser) async throws -> Preferences {
        try await database.read { sql in try await store.preferences(userId: user.id, on: sql) }
    }

    public func updatePreferences(of user: AuthenticatedUser, _ update: Preferences.Update) async throws -> Preferences {
        try await database.transaction { tx in
            let updated = try await store.preferences(userId: user.id, on: tx.sql).applying(update)
            try await store.savePreferences(userId: user.id, updated, now: Date(), in: tx)
            return updated
        }
    }

    // MARK: Helpers

    private func accountAndProfile(_ id: String) async throws -> (Account, ProfileRecord) {
        try await database.read { sql in
            guard let account = try await store.account(id: id, on: sql), account.deletedAt == nil else {
                throw APIError.notFound("No user has this id.")
            }
            return (account, try await store.profile(userId: id, on: sql))
        }
    }

    static func view(_ account: Account, _ profile: ProfileRecord, for viewer: Viewer) -> ProfileView {
        ProfileView(
            id: account.id, username: account.username, displayName: profile.displayName, avatarUrl: profile.avatarUrl, bio: profile.bio,
            interests: profile.interests,
            email: viewer.sees(profile.privacy.email, of: account.id) ? account.email : nil,
            location: viewer.sees(profile.privacy.location, of: account.id) ? profile.location : nil,
            attendedEventsVisible: viewer.sees(profile.privacy.attendedEvents, of: account.id),
            privacy: viewer.isOwner(of: account.id) ? profile.privacy : nil,
            createdAt: account.createdAt)
    }

    static func applying(_ update: ProfileUpdate, to profile: ProfileRecord) throws(APIError) -> ProfileRecord {
        var result = profile
        var problems: [FieldProblem] = []
        result.displayName = update.displayName.applied(to: profile.displayName)?.trimmingCharacters(in: .whitespaces)
        if let name = result.displayName, name.isEmpty || name.codePointCount > 50 {
            problems.append(FieldProblem(field: "displayName", problem: "must be 1–50 characters"))
        }
        result.bio = update.bio.applied(to: profile.bio)
        if let bio = result.bio, bio.codePointCount > 500 {
            problems.append(FieldProblem(field: "bio", problem: "must be at most 500 characters"))
        }
        if let interests = update.interests {
            var seen = Set<String>()
            result.interests = interests.map { $0.trimmingCharacters(in: .whitespaces) }.filter { seen.insert($0.lowercased()).inserted }
            if result.interests.count > 20 { problems.append(FieldProblem(field: "interests", problem: "at most 20")) }
            for (index, interest) in result.interests.enumerated() where interest.isEmpty || interest.codePointCount > 40 {
                problems.append(FieldProblem(field: "interests[\(index)]", problem: "must be 1–40 characters"))
            }
        }
        result.location = update.location.applied(to: profile.location)
        if case .set(let location) = update.location { problems += location.problems }
        result.avatarUrl = update.avatarUrl.applied(to: profile.avatarUrl)
        if case .set(let url) = update.avatarUrl, !WebURL.isValid(url) {
            problems.append(FieldProblem(field: "avatarUrl", problem: "must be an http(s) URL of at most 2048 characters"))
        }
        if let privacy = update.privacy {
            result.privacy.email = privacy.email ?? profile.privacy.email
            result.privacy.location = privacy.location ?? profile.privacy.location
            result.privacy.attendedEvents = privacy.attendedEvents ?? profile.privacy.attendedEvents
        }
        guard problems.isEmpty else { throw APIError.validation(problems) }
        return result
    }

    static func changedFields(_ before: ProfileRecord, _ after: ProfileRecord) -> [String] {
        var fields: [String] = []
        if before.displayName != after.displayName { fields.append("displayName") }
        if before.bio != after.bio { fields.append("bio") }
        if before.interests != after.interests { fields.append("interests") }
        if before.location != after.location { fields.append("location") }
        if before.avatarUrl != after.avatarUrl { fields.append("avatarUrl") }
        if before.privacy != after.privacy { fields.append("privacy") }
        return fields
    }
}

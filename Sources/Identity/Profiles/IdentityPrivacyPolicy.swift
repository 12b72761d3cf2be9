import FlowKit
import Foundation
import SQLKit

/// Identity's answer to ``UserDirectory``.
struct IdentityUserDirectory: UserDirectory {
    let database: Database

    func existing(_ ids: [String]) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return try await database.read { sql in
            Set(try await sql.raw("""
                SELECT id FROM users WHERE deleted_at IS NULL AND id IN (\(SQLList(ids.map { SQLBind($0) })))
                """).all().map { try $0.decode(column: "id", as: String.self) })
        }
    }
}

/// Identity's answer to ``PrivacyPolicy``: reads the users' profile privacy in one query.
struct IdentityPrivacyPolicy: PrivacyPolicy {
    let database: Database

    func attendanceVisible(of userIds: [String], to user: AuthenticatedUser?) async throws -> Set<String> {
        guard !userIds.isEmpty else { return [] }
        let viewer = Viewer(user)
        let settings: [String: Visibility] = try await database.read { sql in
            let rows = try await sql.raw("""
                SELECT user_id, attended_events_visibility FROM profiles WHERE user_id IN (\(SQLList(userIds.map { SQLBind($0) })))
                """).all()
            var result: [String: Visibility] = [:]
            for row in rows {
                result[try row.decode(column: "user_id", as: String.self)] =
                    Visibility(rawValue: try row.decode(column: "attended_events_visibility", as: String.self)) ?? .private
            }
            return result
        }
        // No profile row means the defaults.
        return Set(userIds.filter { viewer.sees(settings[$0] ?? Privacy.defaults.attendedEvents, of: $0) })
    }
}

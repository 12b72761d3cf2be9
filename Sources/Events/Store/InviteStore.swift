import FlowKit
import Foundation
import SQLKit

struct InviteStore: Sendable {
    func isInvited(eventId: String, userId: String, on sql: any SQLDatabase) async throws -> Bool {
        try await sql.raw("SELECT 1 AS found FROM event_invites WHERE event_id = \(bind: eventId) AND user_id = \(bind: userId)").first() != nil
    }

    /// Adds the invitations that do not exist yet; returns the user ids newly invited.
    func invite(eventId: String, userIds: [String], by inviter: String, now: Date, in tx: Transaction) async throws -> [String] {
        var added: [String] = []
        for userId in userIds {
            let inserted = try await tx.sql.raw("""
                INSERT INTO event_invites (event_id, user_id, invited_by, created_at)
                VALUES (\(bind: eventId), \(bind: userId), \(bind: inviter), \(bind: now))
                ON CONFLICT (event_id, user_id) DO NOTHING RETURNING user_id
                """).first() != nil
            if inserted { added.append(userId) }
        }
        return added
    }

    func remove(eventId: String, userId: String, in tx: Transaction) async throws -> Bool {
        try await tx.sql.raw("DELETE FROM event_invites WHERE event_id = \(bind: eventId) AND user_id = \(bind: userId) RETURNING user_id")
            .first() != nil
    }

    func removeAll(userId: String, in tx: Transaction) async throws {
        try await tx.sql.raw("DELETE FROM event_invites WHERE user_id = \(bind: userId)").run()
    }

    func invitees(eventId: String, page: PageRequest, on sql: any SQLDatabase) async throws -> [InviteView] {
        var query: SQLQueryString = "SELECT user_id, invited_by, created_at FROM event_invites WHERE event_id = \(bind: eventId)"
        if let after = page.after?.first { query += " AND user_id > \(bind: after)" }
        query += " ORDER BY user_id LIMIT \(literal: page.limit + 1)"
        return try await sql.raw(query).all().map { row in
            InviteView(userId: try row.decode(column: "user_id", as: String.self), invitedBy: try row.decode(column: "invited_by", as: String.self),
                       invitedAt: try row.decode(column: "created_at", as: Date.self))
        }
    }
}

public struct InviteView: Sendable, Codable, Equatable {
    public let userId: String
    public let invitedBy: String
    public let invitedAt: Date

    static let schema: JSONValue = [
        "type": "object", "required": ["userId", "invitedBy", "invitedAt"],
        "properties": ["userId": ["type": "string"], "invitedBy": ["type": "string"], "invitedAt": ["type": "string", "format": "date-time"]],
    ]
}

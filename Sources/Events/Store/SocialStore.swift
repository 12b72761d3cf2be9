import FlowKit
import Foundation
import SQLKit

/// Likes and comments on events.
struct SocialStore: Sendable {
    let viewCache: EventViewCache

    /// Adds a like once; returns whether it was new.
    func like(eventId: String, userId: String, now: Date, in tx: Transaction) async throws -> Bool {
        let inserted = try await tx.sql.raw("""
            INSERT INTO event_likes (event_id, user_id, created_at) VALUES (\(bind: eventId), \(bind: userId), \(bind: now))
            ON CONFLICT (event_id, user_id) DO NOTHING RETURNING user_id
            """).first() != nil
        if inserted {
            try await tx.sql.raw("UPDATE events SET like_count = like_count + 1 WHERE id = \(bind: eventId)").run()
            try await viewCache.changed(eventId, in: tx)
        }
        return inserted
    }

    func unlike(eventId: String, userId: String, in tx: Transaction) async throws -> Bool {
        let removed = try await tx.sql.raw("""
            DELETE FROM event_likes WHERE event_id = \(bind: eventId) AND user_id = \(bind: userId) RETURNING user_id
            """).first() != nil
        if removed {
            try await tx.sql.raw("UPDATE events SET like_count = like_count - 1 WHERE id = \(bind: eventId)").run()
            try await viewCache.changed(eventId, in: tx)
        }
        return removed
    }

    func liked(eventIds: [String], userId: String, on sql: any SQLDatabase) async throws -> Set<String> {
        guard !eventIds.isEmpty else { return [] }
        let rows = try await sql.raw("""
            SELECT event_id FROM event_likes WHERE user_id = \(bind: userId) AND event_id IN (\(SQLList(eventIds.map { SQLBind($0) })))
            """).all()
        return Set(try rows.map { try $0.decode(column: "event_id", as: String.self) })
    }

    func insertComment(id: String, eventId: String, authorId: String, body: String, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            INSERT INTO event_comments (id, event_id, author_id, body, created_at)
            VALUES (\(bind: id), \(bind: eventId), \(bind: authorId), \(bind: body), \(bind: now))
            """).run()
    }

    func comment(id: String, eventId: String, on sql: any SQLDatabase) async throws -> CommentView? {
        try await sql.raw("""
            SELECT id, event_id, author_id, body, created_at FROM event_comments
            WHERE id = \(bind: id) AND event_id = \(bind: eventId) AND deleted_at IS NULL
            """).first().map(Self.comment(from:))
    }

    /// Removes the text; the row stays (who deleted it and when) for moderation records.
    func deleteComment(id: String, by userId: String, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            UPDATE event_comments SET body = '', deleted_at = \(bind: now), deleted_by = \(bind: userId) WHERE id = \(bind: id)
            """).run()
    }

    /// Live comments, oldest first.
    func comments(eventId: String, page: PageRequest, on sql: any SQLDatabase) async throws -> [CommentView] {
        var query: SQLQueryString = """
            SELECT id, event_id, author_id, body, created_at FROM event_comments WHERE event_id = \(bind: eventId) AND deleted_at IS NULL
            """
        if let after = page.after?.first { query += " AND id > \(bind: after)" }
        query += " ORDER BY id LIMIT \(literal: page.limit + 1)"
        return try await sql.raw(query).all().map(Self.comment(from:))
    }

    static func comment(from row: any SQLRow) throws -> CommentView {
        CommentView(id: try row.decode(column: "id", as: String.self), eventId: try row.decode(column: "event_id", as: String.self),
                    authorId: try row.decode(column: "author_id", as: String.self), body: try row.decode(column: "body", as: String.self),
                    createdAt: try row.decode(column: "created_at", as: Date.self))
    }
}

public struct CommentView: Sendable, Codable, Equatable {
    public let id: String
    public let eventId: String
    public let authorId: String
    public let body: String
    public let createdAt: Date

    static let schema: JSONValue = [
        "type": "object", "required": ["id", "eventId", "authorId", "body", "createdAt"],
        "properties": [
            "id": ["type": "string"], "eventId": ["type": "string"], "authorId": ["type": "string"], "body": ["type": "string"],
            "createdAt": ["type": "string", "format": "date-time"],
        ],
    ]
}

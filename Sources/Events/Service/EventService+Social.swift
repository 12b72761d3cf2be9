import FlowKit
import Foundation
import SQLKit

/// Likes, comments and the featured list.
extension EventService {
    public struct LikeState: Sendable, Codable {
        public let liked: Bool
        public let likeCount: Int
    }

    public func setLike(eventId: String, liked: Bool, user: AuthenticatedUser) async throws -> LikeState {
        try await database.transaction { tx in
            let event = try await visibleEvent(eventId, to: user, on: tx.sql)
            guard event.status != .draft else { throw Self.noSuchEvent }
            if liked {
                _ = try await social.like(eventId: eventId, userId: user.id, now: Date(), in: tx)
            } else {
                _ = try await social.unlike(eventId: eventId, userId: user.id, in: tx)
            }
            let count = try await store.event(id: eventId, on: tx.sql)?.likeCount ?? 0
            return LikeState(liked: liked, likeCount: count)
        }
    }

    public func comment(eventId: String, body: String, user: AuthenticatedUser) async throws -> CommentView {
        let text = body.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, text.codePointCount <= 2000 else { throw APIError.validation(field: "body", "must be 1–2000 characters") }
        return try await database.transaction { tx in
            let event = try await visibleEvent(eventId, to: user, on: tx.sql)
            guard event.status != .draft else { throw Self.noSuchEvent }
            let id = UUIDv7.string()
            try await social.insertComment(id: id, eventId: eventId, authorId: user.id, body: text, now: Date(), in: tx)
            return try await social.comment(id: id, eventId: eventId, on: tx.sql)!
        }
    }

    public func comments(eventId: String, viewer: AuthenticatedUser?, page: PageRequest) async throws -> Page<CommentView> {
        try await database.read { sql in
            _ = try await visibleEvent(eventId, to: viewer, on: sql)
            return Page(fetched: try await social.comments(eventId: eventId, page: page, on: sql), limit: page.limit) { [$0.id] }
        }
    }

    /// The author, the event's organizer, or a moderator (`moderate_content`) removes a comment.
    /// Removals by others than the author are audited.
    public func deleteComment(eventId: String, commentId: String, user: AuthenticatedUser) async throws {
        try await database.transaction { tx in
            let event = try await visibleEvent(eventId, to: user, on: tx.sql)
            guard let comment = try await social.comment(id: commentId, eventId: eventId, on: tx.sql) else {
                throw APIError.notFound("No such comment on this event.")
            }
            let moderating = comment.authorId != user.id
            guard !moderating || user.id == event.organizerId || user.has(Permission.moderateContent) else {
                throw APIError.forbidden("Only the author, the organizer or a moderator removes a comment.")
            }
            try await social.deleteComment(id: commentId, by: user.id, now: Date(), in: tx)
            if moderating {
                try await audit.record(.init(actorId: user.id, action: "comment.removed", entityType: "event_comment", entityId: commentId,
                                             reason: "by \(user.id == event.organizerId ? "organizer" : "moderator"); author \(comment.authorId)"),
                                       clientAddress: nil, in: tx)
            }
        }
    }

    /// Featured: published public events starting in the next 30 days, ranked by
    /// `(3 × going + interested + 2 × likes + 1) / (1 + days until start / 7)`: popularity,
    /// discounted the further away the event is. The 500 most popular candidates are scored.
    public func featured(viewer: AuthenticatedUser?, page: PageRequest) async throws -> Page<EventView> {
        let now = Date()
        let offset = page.after?.first.flatMap(Int.init) ?? 0
        return try await database.read { sql in
            let candidates = try await discovery.featuredCandidates(now: now, until: now.addingTimeInterval(30 * 86_400), limit: 500, on: sql)
            let ranked = candidates.map { event -> (EventRecord, Double) in
                let days = max(0, event.startsAt.timeIntervalSince(now) / 86_400)
                let popularity = Double(3 * event.goingCount + event.interestedCount + 2 * event.likeCount + 1)
                return (event, popularity / (1 + days / 7))
            }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0.id < $1.0.id }
            let slice = Array(ranked.dropFirst(offset).prefix(page.limit + 1).map(\.0))
            let views = try await views(slice, for: viewer, on: sql)
            return Page(fetched: views, limit: page.limit) { _ in ["\(offset + page.limit)"] }
        }
    }
}

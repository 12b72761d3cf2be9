import FlowKit
import Foundation
import SQLKit

struct CalendarStore: Sendable {
    func replaceFeed(userId: String, tokenHash: String, now: Date, in tx: Transaction) async throws {
        try await removeFeed(userId: userId, in: tx)
        try await tx.sql.raw("INSERT INTO calendar_feeds (user_id, token_hash, created_at) VALUES (\(bind: userId), \(bind: tokenHash), \(bind: now))").run()
    }

    func removeFeed(userId: String, in tx: Transaction) async throws {
        try await tx.sql.raw("DELETE FROM calendar_feeds WHERE user_id = \(bind: userId)").run()
    }

    func feedOwner(tokenHash: String, on sql: any SQLDatabase) async throws -> String? {
        try await sql.raw("SELECT user_id FROM calendar_feeds WHERE token_hash = \(bind: tokenHash)").first()?.decode(column: "user_id", as: String.self)
    }

    /// What the user goes to or is interested in, from 30 days ago on, soonest first.
    func attendedEvents(userId: String, since: Date, limit: Int, on sql: any SQLDatabase) async throws -> [(EventRecord, going: Bool)] {
        try await sql.raw("""
            SELECT \(unsafeRaw: EventStore.columns), a.status AS attendance_status FROM attendance a JOIN events e ON e.id = a.event_id
            WHERE a.user_id = \(bind: userId) AND a.status IN ('going', 'interested') AND e.series_ends_at >= \(bind: since) AND e.status <> 'draft'
            ORDER BY e.starts_at, e.id LIMIT \(literal: limit)
            """).all().map { row in (try EventStore.event(from: row), try row.decode(column: "attendance_status", as: String.self) == "going") }
    }
}

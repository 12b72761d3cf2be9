import FlowKit
import Foundation
import SQLKit

struct OccurrenceStore: Sendable {
    struct Override: Sendable {
        let startsAt: Date
        let endsAt: Date
        let title: String?
    }

    /// Overrides of the event, keyed by the original start in whole seconds.
    func overrides(eventId: String, on sql: any SQLDatabase) async throws -> [Double: Override] {
        let rows = try await sql.raw("""
            SELECT original_start, starts_at, ends_at, title FROM event_occurrence_overrides WHERE event_id = \(bind: eventId)
            """).all()
        var result: [Double: Override] = [:]
        for row in rows {
            result[try row.decode(column: "original_start", as: Date.self).timeIntervalSince1970.rounded()] = Override(
                startsAt: try row.decode(column: "starts_at", as: Date.self), endsAt: try row.decode(column: "ends_at", as: Date.self),
                title: try row.decodeOptional(column: "title", as: String.self))
        }
        return result
    }

    func saveOverride(eventId: String, originalStart: Date, startsAt: Date, endsAt: Date, title: String?, in tx: Transaction) async throws {
        try await removeOverride(eventId: eventId, originalStart: originalStart, in: tx)
        try await tx.sql.raw("""
            INSERT INTO event_occurrence_overrides (event_id, original_start, starts_at, ends_at, title)
            VALUES (\(bind: eventId), \(bind: originalStart), \(bind: startsAt), \(bind: endsAt), \(bind: title))
            """).run()
    }

    func removeOverride(eventId: String, originalStart: Date, in tx: Transaction) async throws {
        // Compared within half a second: stored times may carry sub-second noise on SQLite (REAL).
        try await tx.sql.raw("""
            DELETE FROM event_occurrence_overrides WHERE event_id = \(bind: eventId)
            AND original_start > \(bind: originalStart.addingTimeInterval(-0.5)) AND original_start < \(bind: originalStart.addingTimeInterval(0.5))
            """).run()
    }
}

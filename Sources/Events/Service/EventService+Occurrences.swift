import FlowKit
import Foundation
import SQLKit

/// Occurrences of recurring events: listed for a date range, each addressable by its original
/// start, movable or renamable one by one, or cancelled one by one (an exception in the rule).
extension EventService {
    static let longestOccurrenceRange: TimeInterval = 400 * 86_400
    static let occurrencesPerRequest = 500

    public func occurrences(eventId: String, from: Date?, to: Date?, viewer: AuthenticatedUser?) async throws -> [OccurrenceView] {
        let from = from ?? Date()
        let to = to ?? from.addingTimeInterval(90 * 86_400)
        guard to > from else { throw APIError.validation(field: "to", "must be after from") }
        guard to.timeIntervalSince(from) <= Self.longestOccurrenceRange else { throw APIError.validation(field: "to", "a range spans at most 400 days") }
        return try await database.read { sql in
            let event = try await visibleEvent(eventId, to: viewer, on: sql)
            return try await occurrences(of: event, from: from, to: to, on: sql)
        }
    }

    public func occurrence(eventId: String, originalStart: Date, viewer: AuthenticatedUser?) async throws -> OccurrenceView {
        try await database.read { sql in
            let event = try await visibleEvent(eventId, to: viewer, on: sql)
            return try await existingOccurrence(of: event, originalStart: originalStart, on: sql)
        }
    }

    /// Moves or renames one occurrence (organizer); the rest of the series is unchanged.
    public func changeOccurrence(eventId: String, originalStart: Date, startsAt: Date?, endsAt: Date?, title: String?,
                                 by user: AuthenticatedUser) async throws -> OccurrenceView {
        if let title { let problems = Validate.text(title, field: "title", max: 140); guard problems.isEmpty else { throw APIError.validation(problems) } }
        return try await database.transaction { tx in
            let event = try await editable(eventId, by: user, on: tx.sql)
            let current = try await existingOccurrence(of: event, originalStart: originalStart, on: tx.sql)
            let newStart = startsAt ?? current.startsAt
            let newEnd = endsAt ?? newStart.addingTimeInterval(current.endsAt.timeIntervalSince(current.startsAt))
            guard newEnd > newStart else { throw APIError.validation(field: "endsAt", "must be after startsAt") }
            try await occurrenceStore.saveOverride(eventId: eventId, originalStart: originalStart, startsAt: newStart, endsAt: newEnd,
                                                   title: title ?? (current.modified ? current.title : nil), in: tx)
            try await publisher.publish(EventUpdated(eventId: eventId, fields: ["occurrence"]), key: eventId, in: tx)
            return try await existingOccurrence(of: event, originalStart: originalStart, on: tx.sql)
        }
    }

    /// Cancels one occurrence (organizer): it becomes an exception of the rule.
    public func cancelOccurrence(eventId: String, originalStart: Date, by user: AuthenticatedUser) async throws {
        try await database.transaction { tx in
            var event = try await editable(eventId, by: user, on: tx.sql)
            guard event.recurrence != nil else {
                throw APIError.conflict("The event does not repeat; cancel it with DELETE /api/v1/events/{id}.", code: "not_recurring")
            }
            _ = try await existingOccurrence(of: event, originalStart: originalStart, on: tx.sql)
            let exceptions = ((event.recurrence?.exceptions ?? []) + [originalStart]).sorted()
            event.recurrence?.exceptions = exceptions
            event.updatedAt = Date()
            try await store.update(event, in: tx)
            try await occurrenceStore.removeOverride(eventId: eventId, originalStart: originalStart, in: tx)
            try await publisher.publish(EventUpdated(eventId: eventId, fields: ["recurrence"]), key: eventId, in: tx)
        }
    }

    // MARK: Helpers

    /// Occurrences overlapping [from, to) as they now are, including ones moved into the range
    /// from outside it; with `original`, those whose original start falls in the range wherever
    /// they were moved (to address one).
    func occurrences(of event: EventRecord, from: Date, to: Date, original: Bool = false, on sql: any SQLDatabase) async throws -> [OccurrenceView] {
        let duration = event.endsAt.timeIntervalSince(event.startsAt)
        let expander = event.expander
        var starts: [Date]
        if let expander {
            // Start early enough to catch occurrences that began before `from` and are still on.
            starts = expander.starts(from: from.addingTimeInterval(-duration), to: to, limit: Self.occurrencesPerRequest)
        } else {
            starts = event.startsAt < to && event.endsAt > from ? [event.startsAt] : []
        }
        let overrides = try await occurrenceStore.overrides(eventId: event.id, on: sql)
        if !original, let expander {
            // Moved here from a start outside the range: still an occurrence of the rule (not an exception)?
            let listed = Set(starts.map { $0.timeIntervalSince1970.rounded() })
            for (originalSeconds, change) in overrides where !listed.contains(originalSeconds) && change.endsAt > from && change.startsAt < to {
                if let start = expander.occurrence(at: Date(timeIntervalSince1970: originalSeconds)) { starts.append(start) }
            }
        }
        return starts.compactMap { start in
            let change = overrides[start.timeIntervalSince1970.rounded()]
            let view = OccurrenceView(eventId: event.id, occurrenceId: RFC3339.format(start), originalStartsAt: start,
                                      startsAt: change?.startsAt ?? start, endsAt: change?.endsAt ?? start.addingTimeInterval(duration),
                                      title: change?.title ?? event.title, modified: change != nil)
            if original { return start >= from && start < to ? view : nil }
            return view.endsAt > from && view.startsAt < to ? view : nil
        }.sorted { ($0.startsAt, $0.originalStartsAt) < ($1.startsAt, $1.originalStartsAt) }
    }

    /// The occurrences moved or renamed one by one that the rule still yields (an edit of the
    /// series may have dropped some), for calendar exports.
    func modifiedOccurrences(of event: EventRecord, on sql: any SQLDatabase) async throws -> [OccurrenceView] {
        guard let expander = event.expander else { return [] }
        let overrides = try await occurrenceStore.overrides(eventId: event.id, on: sql)
        return overrides.sorted { $0.key < $1.key }.compactMap { originalSeconds, change in
            guard let start = expander.occurrence(at: Date(timeIntervalSince1970: originalSeconds)) else { return nil }
            return OccurrenceView(eventId: event.id, occurrenceId: RFC3339.format(start), originalStartsAt: start, startsAt: change.startsAt,
                                  endsAt: change.endsAt, title: change.title ?? event.title, modified: true)
        }
    }

    func existingOccurrence(of event: EventRecord, originalStart: Date, on sql: any SQLDatabase) async throws -> OccurrenceView {
        let found = try await occurrences(of: event, from: originalStart.addingTimeInterval(-0.5), to: originalStart.addingTimeInterval(0.5),
                                          original: true, on: sql)
        guard let occurrence = found.first(where: { abs($0.originalStartsAt.timeIntervalSince(originalStart)) < 0.5 }) else {
            throw APIError.notFound("The event has no occurrence starting at \(RFC3339.format(originalStart)).")
        }
        return occurrence
    }
}

public struct OccurrenceView: Sendable, Codable, Equatable {
    public let eventId: String
    /// The original start in RFC 3339: the occurrence's address under /occurrences/.
    public let occurrenceId: String
    public let originalStartsAt: Date
    public let startsAt: Date
    public let endsAt: Date
    public let title: String
    /// True when this occurrence was moved or renamed.
    public let modified: Bool

    static let schema: JSONValue = [
        "type": "object", "required": ["eventId", "occurrenceId", "originalStartsAt", "startsAt", "endsAt", "title", "modified"],
        "properties": [
            "eventId": ["type": "string"], "occurrenceId": ["type": "string"], "originalStartsAt": ["type": "string", "format": "date-time"],
            "startsAt": ["type": "string", "format": "date-time"], "endsAt": ["type": "string", "format": "date-time"],
            "title": ["type": "string"], "modified": ["type": "boolean"],
        ],
    ]
}

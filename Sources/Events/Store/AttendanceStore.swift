import FlowKit
import Foundation
import SQLKit

public enum AttendanceStatus: String, Sendable, Codable, CaseIterable {
    case going, interested, waitlisted

    /// The counter column on `events` that counts this status.
    var counterColumn: String {
        switch self {
        case .going: "going_count"
        case .interested: "interested_count"
        case .waitlisted: "waitlist_count"
        }
    }
}

/// Attendance rows and the event's counters, changed together in one transaction.
struct AttendanceStore: Sendable {
    let viewCache: EventViewCache

    func status(eventId: String, userId: String, on sql: any SQLDatabase) async throws -> AttendanceStatus? {
        let row = try await sql.raw("SELECT status FROM attendance WHERE event_id = \(bind: eventId) AND user_id = \(bind: userId)").first()
        return try row.flatMap { AttendanceStatus(rawValue: try $0.decode(column: "status", as: String.self)) }
    }

    func statuses(eventIds: [String], userId: String, on sql: any SQLDatabase) async throws -> [String: AttendanceStatus] {
        guard !eventIds.isEmpty else { return [:] }
        let rows = try await sql.raw("""
            SELECT event_id, status FROM attendance WHERE user_id = \(bind: userId) AND event_id IN (\(SQLList(eventIds.map { SQLBind($0) })))
            """).all()
        var result: [String: AttendanceStatus] = [:]
        for row in rows {
            if let status = AttendanceStatus(rawValue: try row.decode(column: "status", as: String.self)) {
                result[try row.decode(column: "event_id", as: String.self)] = status
            }
        }
        return result
    }

    /// Takes a seat if one is free. A single conditional UPDATE: on PostgreSQL the row lock
    /// makes concurrent takers wait and re-check the condition, on SQLite the single writer
    /// serialises them, so the count never passes the capacity.
    func takeSeat(eventId: String, in tx: Transaction) async throws -> Bool {
        try await viewCache.changed(eventId, in: tx)
        return try await tx.sql.raw("""
            UPDATE events SET going_count = going_count + 1
            WHERE id = \(bind: eventId) AND (capacity IS NULL OR going_count < capacity) RETURNING going_count
            """).first() != nil
    }

    func adjust(_ status: AttendanceStatus, by delta: Int, eventId: String, in tx: Transaction) async throws {
        let column = status.counterColumn
        try await viewCache.changed(eventId, in: tx)
        try await tx.sql.raw("UPDATE events SET \(unsafeRaw: column) = \(unsafeRaw: column) + \(bind: delta) WHERE id = \(bind: eventId)").run()
    }

    func set(_ status: AttendanceStatus, eventId: String, userId: String, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            INSERT INTO attendance (event_id, user_id, status, created_at, updated_at)
            VALUES (\(bind: eventId), \(bind: userId), \(bind: status.rawValue), \(bind: now), \(bind: now))
            ON CONFLICT (event_id, user_id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
            """).run()
    }

    /// The events not yet over (the whole series, for recurring ones) that `userId` attends in
    /// any status, in id order.
    func unfinishedEventIds(userId: String, now: Date, on sql: any SQLDatabase) async throws -> [String] {
        try await sql.raw("""
            SELECT a.event_id FROM attendance a JOIN events e ON e.id = a.event_id
            WHERE a.user_id = \(bind: userId) AND e.series_ends_at > \(bind: now) ORDER BY a.event_id
            """).all().map { try $0.decode(column: "event_id", as: String.self) }
    }

    func remove(eventId: String, userId: String, in tx: Transaction) async throws {
        try await tx.sql.raw("DELETE FROM attendance WHERE event_id = \(bind: eventId) AND user_id = \(bind: userId)").run()
    }

    /// The person waiting longest.
    func nextWaiting(eventId: String, in tx: Transaction) async throws -> String? {
        try await tx.sql.raw("""
            SELECT user_id FROM attendance WHERE event_id = \(bind: eventId) AND status = 'waitlisted'
            ORDER BY updated_at, user_id LIMIT 1
            """).first()?.decode(column: "user_id", as: String.self)
    }

    func checkIn(eventId: String, userId: String, now: Date, in tx: Transaction) async throws -> Bool {
        try await tx.sql.raw("""
            UPDATE attendance SET checked_in_at = \(bind: now)
            WHERE event_id = \(bind: eventId) AND user_id = \(bind: userId) AND status = 'going' RETURNING user_id
            """).first() != nil
    }

    struct Attendee: Sendable, Codable, Equatable {
        let userId: String
        let status: AttendanceStatus
        let since: Date
        @ExplicitNull var checkedInAt: Date?
    }

    func attendees(eventId: String, status: AttendanceStatus?, page: PageRequest, on sql: any SQLDatabase) async throws -> [Attendee] {
        var query: SQLQueryString = """
            SELECT user_id, status, updated_at, checked_in_at FROM attendance WHERE event_id = \(bind: eventId)
            """
        if let status { query += " AND status = \(bind: status.rawValue)" }
        if let after = page.after, after.count == 1 { query += " AND user_id > \(bind: after[0])" }
        query += " ORDER BY user_id LIMIT \(literal: page.limit + 1)"
        return try await sql.raw(query).all().map { row in
            Attendee(userId: try row.decode(column: "user_id", as: String.self),
                     status: AttendanceStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .interested,
                     since: try row.decode(column: "updated_at", as: Date.self),
                     checkedInAt: try row.decodeOptional(column: "checked_in_at", as: Date.self))
        }
    }
}

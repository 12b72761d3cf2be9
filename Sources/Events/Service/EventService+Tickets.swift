import FlowKit
import Foundation
import SQLKit

/// Ticket tiers and reservations, never oversold.
extension EventService {
    public func addTier(eventId: String, _ input: TicketTierInput, by user: AuthenticatedUser) async throws -> TicketTierView {
        let problems = input.problems
        guard problems.isEmpty else { throw APIError.validation(problems) }
        let now = Date()
        return try await database.transaction { tx in
            let event = try await editable(eventId, by: user, on: tx.sql)
            guard event.status != .cancelled else { throw APIError.conflict("The event was cancelled.", code: "event_cancelled") }
            let id = UUIDv7.string(at: now)
            try await tickets.insertTier(id: id, eventId: eventId, input, now: now, in: tx)
            return try await tickets.tier(id: id, eventId: eventId, on: tx.sql)!.view(now: now)
        }
    }

    public func tiers(eventId: String, viewer: AuthenticatedUser?) async throws -> [TicketTierView] {
        try await database.read { sql in
            _ = try await visibleEvent(eventId, to: viewer, on: sql)
            let now = Date()
            return try await tickets.tiers(eventId: eventId, on: sql).map { $0.view(now: now) }
        }
    }

    public func reserve(eventId: String, tierId: String, quantity: Int, user: AuthenticatedUser) async throws -> ReservationView {
        guard (1...10).contains(quantity) else { throw APIError.validation(field: "quantity", "must be 1–10") }
        let now = Date()
        return try await database.transaction { tx in
            _ = try await joinable(eventId, user: user, on: tx.sql)
            guard let tier = try await tickets.tier(id: tierId, eventId: eventId, on: tx.sql) else {
                throw APIError.notFound("This event has no such ticket tier.")
            }
            guard try await tickets.take(tierId: tierId, quantity: quantity, now: now, in: tx) else {
                let view = tier.view(now: now)
                if view.remaining < quantity {
                    throw APIError.conflict(view.remaining == 0 ? "Sold out." : "Only \(view.remaining) left.", code: "sold_out",
                                            details: ["remaining": .number(Double(view.remaining))])
                }
                throw APIError.conflict("Tickets of this tier are not on sale now.", code: "sales_closed")
            }
            let id = UUIDv7.string(at: now)
            try await tickets.insertReservation(id: id, tier: tier, userId: user.id, quantity: quantity, now: now, in: tx)
            return try await tickets.reservations(eventId: eventId, userId: user.id, on: tx.sql).first { $0.id == id }!
        }
    }

    public func cancelReservation(eventId: String, reservationId: String, user: AuthenticatedUser) async throws {
        try await database.transaction { tx in
            guard let released = try await tickets.cancelReservation(id: reservationId, eventId: eventId, userId: user.id, now: Date(), in: tx) else {
                throw APIError.notFound("You have no live reservation with this id for this event.")
            }
            try await tickets.giveBack(tierId: released.tierId, quantity: released.quantity, in: tx)
        }
    }

    public func reservations(eventId: String, user: AuthenticatedUser) async throws -> [ReservationView] {
        try await database.read { sql in try await tickets.reservations(eventId: eventId, userId: user.id, on: sql) }
    }
}

import FlowKit
import Foundation
import SQLKit

struct TicketStore: Sendable {
    struct Tier: Sendable {
        let id: String
        let eventId: String
        let name: String
        let priceMinor: Int
        let currency: String
        let quantity: Int
        let reserved: Int
        let salesStart: Date?
        let salesEnd: Date?

        func view(now: Date) -> TicketTierView {
            let open = (salesStart.map { $0 <= now } ?? true) && (salesEnd.map { $0 > now } ?? true)
            return TicketTierView(id: id, eventId: eventId, name: name, priceMinor: priceMinor, currency: currency, quantity: quantity,
                                  remaining: quantity - reserved, salesStart: salesStart, salesEnd: salesEnd, onSale: open && reserved < quantity)
        }
    }

    func insertTier(id: String, eventId: String, _ input: TicketTierInput, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            INSERT INTO ticket_tiers (id, event_id, name, price_minor, currency, quantity, sales_start, sales_end, created_at)
            VALUES (\(bind: id), \(bind: eventId), \(bind: input.name), \(bind: input.priceMinor), \(bind: input.currency), \(bind: input.quantity),
                    \(bind: input.salesStart), \(bind: input.salesEnd), \(bind: now))
            """).run()
    }

    func tiers(eventId: String, on sql: any SQLDatabase) async throws -> [Tier] {
        try await sql.raw("""
            SELECT id, event_id, name, price_minor, currency, quantity, reserved, sales_start, sales_end FROM ticket_tiers
            WHERE event_id = \(bind: eventId) ORDER BY price_minor, id
            """).all().map(Self.tier(from:))
    }

    func tier(id: String, eventId: String, on sql: any SQLDatabase) async throws -> Tier? {
        try await sql.raw("""
            SELECT id, event_id, name, price_minor, currency, quantity, reserved, sales_start, sales_end FROM ticket_tiers
            WHERE id = \(bind: id) AND event_id = \(bind: eventId)
            """).first().map(Self.tier(from:))
    }

    /// Takes `quantity` tickets if that many remain and sales are open: one conditional UPDATE,
    /// so concurrent buyers can never take more than the tier holds.
    func take(tierId: String, quantity: Int, now: Date, in tx: Transaction) async throws -> Bool {
        try await tx.sql.raw("""
            UPDATE ticket_tiers SET reserved = reserved + \(bind: quantity)
            WHERE id = \(bind: tierId) AND reserved + \(bind: quantity) <= quantity
              AND (sales_start IS NULL OR sales_start <= \(bind: now)) AND (sales_end IS NULL OR sales_end > \(bind: now))
            RETURNING reserved
            """).first() != nil
    }

    func giveBack(tierId: String, quantity: Int, in tx: Transaction) async throws {
        try await tx.sql.raw("UPDATE ticket_tiers SET reserved = reserved - \(bind: quantity) WHERE id = \(bind: tierId)").run()
    }

    func insertReservation(id: String, tier: Tier, userId: String, quantity: Int, now: Date, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            INSERT INTO ticket_reservations (id, tier_id, event_id, user_id, quantity, status, created_at)
            VALUES (\(bind: id), \(bind: tier.id), \(bind: tier.eventId), \(bind: userId), \(bind: quantity), 'reserved', \(bind: now))
            """).run()
    }

    /// The user's live reservations for events not yet over (the whole series, for recurring ones).
    func liveReservations(userId: String, unfinishedAt now: Date, on sql: any SQLDatabase) async throws -> [(id: String, eventId: String)] {
        try await sql.raw("""
            SELECT r.id, r.event_id FROM ticket_reservations r JOIN events e ON e.id = r.event_id
            WHERE r.user_id = \(bind: userId) AND r.status = 'reserved' AND e.series_ends_at > \(bind: now) ORDER BY r.id
            """).all().map { (try $0.decode(column: "id", as: String.self), try $0.decode(column: "event_id", as: String.self)) }
    }

    /// Cancels the user's live reservation; returns its tier and quantity.
    func cancelReservation(id: String, eventId: String, userId: String, now: Date, in tx: Transaction) async throws -> (tierId: String, quantity: Int)? {
        guard let row = try await tx.sql.raw("""
            UPDATE ticket_reservations SET status = 'cancelled', cancelled_at = \(bind: now)
            WHERE id = \(bind: id) AND event_id = \(bind: eventId) AND user_id = \(bind: userId) AND status = 'reserved'
            RETURNING tier_id, quantity
            """).first() else { return nil }
        return (try row.decode(column: "tier_id", as: String.self), try row.decode(column: "quantity", as: Int.self))
    }

    func reservations(eventId: String, userId: String, on sql: any SQLDatabase) async throws -> [ReservationView] {
        try await sql.raw("""
            SELECT r.id, r.tier_id, r.event_id, r.quantity, r.status, r.created_at, t.price_minor, t.currency
            FROM ticket_reservations r JOIN ticket_tiers t ON t.id = r.tier_id
            WHERE r.event_id = \(bind: eventId) AND r.user_id = \(bind: userId) ORDER BY r.id
            """).all().map { row in
                let quantity = try row.decode(column: "quantity", as: Int.self)
                return ReservationView(
                    id: try row.decode(column: "id", as: String.self), tierId: try row.decode(column: "tier_id", as: String.self),
                    eventId: try row.decode(column: "event_id", as: String.self), quantity: quantity,
                    status: try row.decode(column: "status", as: String.self),
                    totalMinor: quantity * (try row.decode(column: "price_minor", as: Int.self)),
                    currency: try row.decode(column: "currency", as: String.self), createdAt: try row.decode(column: "created_at", as: Date.self))
            }
    }

    static func tier(from row: any SQLRow) throws -> Tier {
        Tier(id: try row.decode(column: "id", as: String.self), eventId: try row.decode(column: "event_id", as: String.self),
             name: try row.decode(column: "name", as: String.self), priceMinor: try row.decode(column: "price_minor", as: Int.self),
             currency: try row.decode(column: "currency", as: String.self), quantity: try row.decode(column: "quantity", as: Int.self),
             reserved: try row.decode(column: "reserved", as: Int.self), salesStart: try row.decodeOptional(column: "sales_start", as: Date.self),
             salesEnd: try row.decodeOptional(column: "sales_end", as: Date.self))
    }
}

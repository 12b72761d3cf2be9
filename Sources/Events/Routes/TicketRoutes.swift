import FlowKit
import Foundation
import Hummingbird

/// `/api/v1/events/{id}/tickets…`: tiers and reservations.
struct TicketRoutes: Sendable {
    let service: EventService

    struct ReserveBody: Decodable { let tierId: String; let quantity: Int? }
    struct TiersBody: ResponseEncodable { let items: [TicketTierView] }
    struct ReservationsBody: ResponseEncodable { let items: [ReservationView] }

    func register(on api: DocumentedRouter<FlowRequestContext>) {
        api.document.addSchema("TicketTier", TicketTierView.schema)
        api.document.addSchema("Reservation", ReservationView.schema)
        let events = api.group("/api/v1/events")
        let tags = ["events"]
        let id = APIOperation.Parameter.path("id", "The event's id.")
        let bearer = APIOperation.bearerSecurity
        let tier: JSONValue = ["$ref": "#/components/schemas/TicketTier"]
        let reservation: JSONValue = ["$ref": "#/components/schemas/Reservation"]

        events.get("/{id}/tickets", APIOperation(
            "listTicketTiers", summary: "The event's ticket tiers with what remains.", tags: tags, parameters: [id],
            responses: [.json(200, "Tiers, cheapest first.", schema: ["type": "object", "required": ["items"], "properties": ["items": ["type": "array", "items": tier]]]),
                        .error(404, "No such event.")])
        ) { _, context in
            let eventId = try context.parameters.require("id")
            return TiersBody(items: try await service.tiers(eventId: eventId, viewer: context.user))
        }

        events.post("/{id}/tickets", APIOperation(
            "addTicketTier", summary: "Add a ticket tier (organizer).", tags: tags, parameters: [id], requestBody: TicketTierInput.schema,
            responses: [.json(201, "Added.", schema: tier), .error(403, "Not the organizer."), .error(404, "No such event."),
                        .error(409, "The event was cancelled."), .error(422, "A field breaks a rule.")],
            security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let input = try await request.decode(as: TicketTierInput.self, context: context)
            let created = try await service.addTier(eventId: eventId, input, by: user)
            return EditedResponse(status: .created, response: Encoded(created))
        }

        events.get("/{id}/reservations", APIOperation(
            "listMyReservations", summary: "Your reservations for this event.", tags: tags, parameters: [id],
            responses: [.json(200, "Your reservations.", schema: ["type": "object", "required": ["items"], "properties": ["items": ["type": "array", "items": reservation]]])],
            security: bearer)
        ) { _, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            return ReservationsBody(items: try await service.reservations(eventId: eventId, user: user))
        }

        events.post("/{id}/reservations", APIOperation(
            "reserveTickets", summary: "Reserve 1–10 tickets of a tier; never more than the tier holds, even under concurrency.", tags: tags,
            parameters: [id],
            requestBody: ["type": "object", "required": ["tierId"], "properties": [
                "tierId": ["type": "string"], "quantity": ["type": ["integer", "null"], "minimum": 1, "maximum": 10, "description": "Default 1."],
            ]],
            responses: [.json(201, "Reserved.", schema: reservation), .error(404, "No such event or tier."),
                        .error(409, "Sold out, not on sale, or the event is not open."), .error(422, "Bad quantity.")],
            security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let body = try await request.decode(as: ReserveBody.self, context: context)
            let created = try await service.reserve(eventId: eventId, tierId: body.tierId, quantity: body.quantity ?? 1, user: user)
            return EditedResponse(status: .created, response: Encoded(created))
        }

        events.delete("/{id}/reservations/{reservationId}", APIOperation(
            "cancelReservation", summary: "Cancel your reservation; the tickets go back on sale.", tags: tags,
            parameters: [id, .path("reservationId", "The reservation's id.")],
            responses: [.noContent("Cancelled."), .error(404, "No such live reservation of yours.")], security: bearer)
        ) { _, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let reservationId = try context.parameters.require("reservationId")
            try await service.cancelReservation(eventId: eventId, reservationId: reservationId, user: user)
            return Response(status: .noContent)
        }
    }
}

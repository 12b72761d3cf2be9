import FlowKit
import Foundation
import Hummingbird

/// `/api/v1/events/{id}/occurrences…`: the dates of a recurring event.
struct OccurrenceRoutes: Sendable {
    let service: EventService

    struct ChangeBody: Decodable { let startsAt: Date?; let endsAt: Date?; let title: String? }
    struct OccurrencesBody: ResponseEncodable { let items: [OccurrenceView] }

    func register(on api: DocumentedRouter<FlowRequestContext>) {
        api.document.addSchema("Occurrence", OccurrenceView.schema)
        api.document.addSchema("Recurrence", RecurrenceRule.schema)
        let events = api.group("/api/v1/events")
        let tags = ["events"]
        let id = APIOperation.Parameter.path("id", "The event's id.")
        let occurrenceId = APIOperation.Parameter.path("occurrence", "The occurrence's original start (RFC 3339, as in occurrenceId).")
        let occurrence: JSONValue = ["$ref": "#/components/schemas/Occurrence"]
        let bearer = APIOperation.bearerSecurity

        events.get("/{id}/occurrences", APIOperation(
            "listOccurrences", summary: "The event's occurrences in a range (default: the next 90 days; at most 400 days, 500 items).",
            description: "A one-off event has one occurrence. Cancelled occurrences are left out; moved ones show their new times.",
            tags: tags,
            parameters: [id, .query("from", "Range start (RFC 3339).", schema: ["type": "string", "format": "date-time"]),
                         .query("to", "Range end (RFC 3339).", schema: ["type": "string", "format": "date-time"])],
            responses: [.json(200, "Occurrences in order.", schema: ["type": "object", "required": ["items"], "properties": ["items": ["type": "array", "items": occurrence]]]),
                        .error(404, "No such event."), .error(422, "Bad range.")])
        ) { request, context in
            let eventId = try context.parameters.require("id")
            let parameters = request.uri.queryParameters
            let from = try EventRoutes.date(parameters["from"].map(String.init), "from")
            let to = try EventRoutes.date(parameters["to"].map(String.init), "to")
            return OccurrencesBody(items: try await service.occurrences(eventId: eventId, from: from, to: to, viewer: context.user))
        }

        events.get("/{id}/occurrences/{occurrence}", APIOperation(
            "getOccurrence", summary: "One occurrence.", tags: tags, parameters: [id, occurrenceId],
            responses: [.json(200, "The occurrence.", schema: occurrence), .error(404, "No such event or occurrence.")])
        ) { _, context in
            let eventId = try context.parameters.require("id")
            let start = try Self.originalStart(context)
            return Encoded(try await service.occurrence(eventId: eventId, originalStart: start, viewer: context.user))
        }

        events.put("/{id}/occurrences/{occurrence}", APIOperation(
            "changeOccurrence", summary: "Move or rename one occurrence (organizer); the series is unchanged.", tags: tags,
            parameters: [id, occurrenceId],
            requestBody: ["type": "object", "properties": [
                "startsAt": ["type": ["string", "null"], "format": "date-time"], "endsAt": ["type": ["string", "null"], "format": "date-time"],
                "title": ["type": ["string", "null"], "minLength": 1, "maxLength": 140],
            ]],
            responses: [.json(200, "The occurrence now.", schema: occurrence), .error(403, "Not the organizer."), .error(404, "No such occurrence."),
                        .error(422, "A field breaks a rule.")],
            security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let start = try Self.originalStart(context)
            let body = try await request.decode(as: ChangeBody.self, context: context)
            return Encoded(try await service.changeOccurrence(eventId: eventId, originalStart: start, startsAt: body.startsAt, endsAt: body.endsAt,
                                                              title: body.title, by: user))
        }

        events.delete("/{id}/occurrences/{occurrence}", APIOperation(
            "cancelOccurrence", summary: "Cancel one occurrence (organizer): it becomes an exception of the rule.", tags: tags,
            parameters: [id, occurrenceId],
            responses: [.noContent("Cancelled."), .error(403, "Not the organizer."), .error(404, "No such occurrence.")], security: bearer)
        ) { _, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let start = try Self.originalStart(context)
            try await service.cancelOccurrence(eventId: eventId, originalStart: start, by: user)
            return Response(status: .noContent)
        }
    }

    static func originalStart(_ context: FlowRequestContext) throws -> Date {
        let raw = try context.parameters.require("occurrence")
        guard let date = RFC3339.parse(raw.removingPercentEncoding ?? raw) else {
            throw APIError.notFound("An occurrence is addressed by its original start, such as 2026-12-01T18:00:00Z.")
        }
        return date
    }
}

import FlowKit
import Foundation
import Hummingbird

/// iCalendar: `GET /api/v1/events/{id}.ics` and the per-user feed.
struct CalendarRoutes: Sendable {
    let service: EventService

    func register(on api: DocumentedRouter<FlowRequestContext>) {
        let calendar: APIOperation.Response = .other(200, "An iCalendar (RFC 5545) document.", mediaType: "text/calendar")

        api.get("/api/v1/events/{id}.ics", APIOperation(
            "getEventCalendar", summary: "The event as an iCalendar file, in its own time zone.", tags: ["events"],
            parameters: [.path("id", "The event's id.")], responses: [calendar, .error(404, "No such event.")])
        ) { _, context in
            let eventId = try context.parameters.require("id")
            return Self.calendarResponse(try await service.icalendar(eventId: eventId, viewer: context.user), filename: "event-\(eventId).ics")
        }

        api.post("/api/v1/calendar/feed", APIOperation(
            "createCalendarFeed", summary: "Make a secret calendar-feed address of the events you attend (replaces any earlier one).",
            tags: ["events"],
            responses: [.json(201, "The address; shown once.", schema: [
                "type": "object", "required": ["url", "token"], "properties": ["url": ["type": "string"], "token": ["type": "string"]],
            ])],
            security: [["bearerAuth": []]])
        ) { _, context in
            let user = try context.requireUser()
            return EditedResponse(status: .created, response: Encoded(try await service.createCalendarFeed(for: user)))
        }

        api.get("/api/v1/calendar/{token}.ics", APIOperation(
            "getCalendarFeed", summary: "A calendar feed: the events its owner is going to or interested in (no sign-in: the address is the secret).",
            tags: ["events"], parameters: [.path("token", "The feed's secret token.")],
            responses: [calendar, .error(404, "No such feed.")])
        ) { _, context in
            let token = try context.parameters.require("token")
            return Self.calendarResponse(try await service.calendarFeed(token: token), filename: "flow.ics")
        }
    }

    static func calendarResponse(_ document: String, filename: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/calendar; charset=utf-8"
        headers[.contentDisposition] = #"inline; filename="\#(filename)""#
        headers[.cacheControl] = "private, max-age=300"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: document)))
    }
}

import FlowKit
import Foundation
import Hummingbird

/// `/api/v1/events…`: create, read, edit, cancel; discovery (list, search, nearby); attendance.
struct EventRoutes: Sendable {
    let service: EventService

    struct AttendBody: Decodable { let status: AttendanceStatus? }
    struct AttendeeBody: Decodable { let userId: String }

    func register(on api: DocumentedRouter<FlowRequestContext>) {
        let document = api.document
        document.addTag("events", description: "Events: create, discover, attend.")
        document.addSchema("Event", EventView.schema)
        document.addSchema("EventLocation", EventView.locationSchema)
        document.addSchema("EventInput", EventInput.schema)
        document.addSchema("Attendee", AttendeeView.schema)
        let events = api.group("/api/v1/events")
        let tags = ["events"]
        let event: JSONValue = ["$ref": "#/components/schemas/Event"]
        let eventPage = Page<EventView>.schema(of: event)
        let id = APIOperation.Parameter.path("id", "The event's id.")
        let bearer = APIOperation.bearerSecurity

        events.get("", APIOperation(
            "listEvents", summary: "Published public events: upcoming by start time, or by relevance with `q`.",
            description: "Filters combine. Without `from`, events that have not ended. `q` is full-text search over title, tags, summary and description (stemmed; the last word matches as a prefix on SQLite).",
            tags: tags, parameters: Self.filterParameters + [.query("q", "Search words, all required. Ranked by where they match (title, tags, summary, anywhere, then the last word as a prefix of 3+ letters), newest first within each.", schema: ["type": "string", "maxLength": 200])] + PageRequest.openAPIParameters,
            responses: [.json(200, "A page of events.", schema: eventPage), .error(422, "A filter is invalid.")])
        ) { request, context in
            var query = try Self.discoveryQuery(request)
            if let text = request.uri.queryParameters["q"].map(String.init), !text.trimmingCharacters(in: .whitespaces).isEmpty {
                guard text.codePointCount <= 200 else { throw APIError.validation(field: "q", "must be at most 200 characters") }
                query.text = text
            }
            let page = try PageRequest(request: request)
            return try await service.discover(query, viewer: context.user, page: page)
        }

        events.get("/nearby", APIOperation(
            "nearbyEvents", summary: "Published public events within a radius, nearest first, with their distance.",
            tags: tags,
            parameters: [
                .query("lat", "Latitude of the centre.", required: true, schema: ["type": "number", "minimum": -90, "maximum": 90]),
                .query("lng", "Longitude of the centre.", required: true, schema: ["type": "number", "minimum": -180, "maximum": 180]),
                .query("radius", "Kilometres, at most 500 (default 10).", schema: ["type": "number", "exclusiveMinimum": 0, "maximum": 500]),
            ] + Self.filterParameters + PageRequest.openAPIParameters,
            responses: [.json(200, "A page of events, nearest first.", schema: eventPage), .error(422, "Missing or invalid coordinates.")])
        ) { request, context in
            let parameters = request.uri.queryParameters
            let latitude = try Self.number(parameters["lat"].map(String.init), "lat", required: true)!
            let longitude = try Self.number(parameters["lng"].map(String.init), "lng", required: true)!
            let radius = try Self.number(parameters["radius"].map(String.init), "radius", required: false) ?? 10
            let query = try Self.discoveryQuery(request)
            let page = try PageRequest(request: request)
            return try await service.nearby(latitude: latitude, longitude: longitude, radiusKm: radius, query, viewer: context.user, page: page)
        }

        events.post("", APIOperation(
            "createEvent", summary: "Create an event (published unless `status: draft`).", tags: tags,
            requestBody: ["$ref": "#/components/schemas/EventInput"],
            responses: [.json(201, "Created.", schema: event), .error(403, "Needs create_event."), .error(422, "A field breaks a rule.")],
            security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let input = try await request.decode(as: EventInput.self, context: context)
            let created = try await service.create(input, by: user)
            return EditedResponse(status: .created, response: Encoded(created))
        }

        events.get("/{id}", APIOperation(
            "getEvent", summary: "One event. Drafts and private events only for those allowed to see them (404 otherwise).", tags: tags,
            parameters: [id], responses: [.json(200, "The event.", schema: event), .error(404, "No such event, or not visible to you.")])
        ) { _, context in
            let eventId = try context.parameters.require("id")
            return try await service.renderedEvent(id: eventId, viewer: context.user)
        }

        events.put("/{id}", APIOperation(
            "updateEvent", summary: "Edit an event (organizer, or staff with edit_event): left-out fields keep their value, null clears one.",
            tags: tags, parameters: [id], requestBody: ["$ref": "#/components/schemas/EventInput"],
            responses: [.json(200, "The event now.", schema: event), .error(403, "Not yours."), .error(404, "No such event."),
                        .error(422, "A field breaks a rule.")],
            security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let input = try await request.decode(as: EventInput.self, context: context)
            return Encoded(try await service.update(id: eventId, input, by: user))
        }

        events.delete("/{id}", APIOperation(
            "deleteEvent", summary: "Cancel an event people joined (200 with the cancelled event); delete a draft or an event nobody joined (204).",
            tags: tags, parameters: [id],
            responses: [.json(200, "Cancelled; attendees are notified.", schema: event), .noContent("Deleted."), .error(403, "Not yours."),
                        .error(404, "No such event.")],
            security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            switch try await service.remove(id: eventId, by: user) {
            case .cancelled(let view): return try Encoded(view).response(from: request, context: context)
            case .deleted: return Response(status: .noContent)
            }
        }

        events.post("/{id}/attend", APIOperation(
            "attendEvent", summary: "Join as going (default) or interested. On a full event, going puts you on the waitlist.",
            description: "Capacity holds under concurrency. When a seat frees, the first person waiting is promoted automatically.",
            tags: tags, parameters: [id],
            requestBody: ["type": "object", "properties": ["status": ["type": ["string", "null"], "enum": ["going", "interested", nil], "description": "Default going."]]],
            responses: [.json(200, "Your attendance and the event.", schema: [
                "type": "object", "required": ["status", "event"],
                "properties": ["status": ["type": "string", "enum": ["going", "interested", "waitlisted"]], "event": event],
            ]), .error(404, "No such event."), .error(409, "Not published, cancelled or over."), .error(422, "Bad status.")],
            security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let body = try await Self.optionalBody(request, context, as: AttendBody.self)
            return Encoded(try await service.attend(eventId: eventId, wants: body?.status ?? .going, user: user))
        }

        events.delete("/{id}/attend", APIOperation(
            "leaveEvent", summary: "Stop attending; a freed seat goes to the first person on the waitlist.", tags: tags, parameters: [id],
            responses: [.noContent("Left."), .error(404, "No such event, or you are not attending.")], security: bearer)
        ) { _, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            try await service.leave(eventId: eventId, user: user)
            return Response(status: .noContent)
        }

        events.get("/{id}/attendees", APIOperation(
            "listAttendees", summary: "Who is going or interested; the organizer also sees the waitlist and check-ins.", tags: tags,
            parameters: [id, .query("status", "Only this status.", schema: ["type": "string", "enum": ["going", "interested", "waitlisted"]])]
                + PageRequest.openAPIParameters,
            responses: [.json(200, "A page of attendees.", schema: Page<AttendeeView>.schema(of: ["$ref": "#/components/schemas/Attendee"])),
                        .error(403, "The waitlist is the organizer's."), .error(404, "No such event.")])
        ) { request, context in
            let eventId = try context.parameters.require("id")
            let status = try Self.attendanceStatus(request)
            let page = try PageRequest(request: request)
            return try await service.attendees(eventId: eventId, status: status, viewer: context.user, page: page)
        }

        events.post("/{id}/check-in", APIOperation(
            "checkInAttendee", summary: "Mark someone going as arrived (organizer, or staff with manage_attendees).", tags: tags,
            parameters: [id], requestBody: ["type": "object", "required": ["userId"], "properties": ["userId": ["type": "string"]]],
            responses: [.noContent("Checked in."), .error(403, "Not the organizer."), .error(404, "No such event."), .error(409, "Not going.")],
            security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let body = try await request.decode(as: AttendeeBody.self, context: context)
            try await service.checkIn(eventId: eventId, attendeeId: body.userId, by: user)
            return Response(status: .noContent)
        }
    }

    // MARK: Query parameters

    static let filterParameters: [APIOperation.Parameter] = [
        .query("category", "A category id; includes its subcategories."),
        .query("tags", "Comma-separated; events with any of them."),
        .query("from", "Events starting at or after (RFC 3339).", schema: ["type": "string", "format": "date-time"]),
        .query("to", "Events starting before (RFC 3339).", schema: ["type": "string", "format": "date-time"]),
        .query("type", "physical, virtual or hybrid.", schema: ["type": "string", "enum": ["physical", "virtual", "hybrid"]]),
        .query("organizer", "An organizer's user id."),
        .query("free", "true: events without paid tickets; false: events with paid tickets.", schema: ["type": "boolean"]),
    ]

    static func discoveryQuery(_ request: Request) throws -> EventService.DiscoveryQuery {
        let parameters = request.uri.queryParameters
        var query = EventService.DiscoveryQuery()
        query.categoryId = parameters["category"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        if let raw = parameters["tags"] {
            let tags = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard tags.count <= 10 else { throw APIError.validation(field: "tags", "at most 10") }
            query.tags = tags.isEmpty ? nil : tags
        }
        query.from = try date(parameters["from"].map(String.init), "from")
        query.to = try date(parameters["to"].map(String.init), "to")
        if let raw = parameters["type"] {
            guard let kind = EventKind(rawValue: String(raw)) else { throw APIError.validation(field: "type", "must be physical, virtual or hybrid") }
            query.kind = kind
        }
        query.organizerId = parameters["organizer"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        if let raw = parameters["free"] {
            switch raw {
            case "true": query.free = true
            case "false": query.free = false
            default: throw APIError.validation(field: "free", "must be true or false")
            }
        }
        return query
    }

    static func date(_ raw: String?, _ field: String) throws -> Date? {
        guard let raw else { return nil }
        guard let date = RFC3339.parse(raw) else { throw APIError.validation(field: field, "must be an RFC 3339 time such as 2026-05-01T18:00:00Z") }
        return date
    }

    /// A number from the query. Present but empty (`radius=`) is not a number: the OpenAPI
    /// document says number, so it is refused rather than read as absent (schemathesis found it).
    static func number(_ raw: String?, _ field: String, required: Bool) throws -> Double? {
        guard let raw else {
            if required { throw APIError.validation(field: field, "is required") }
            return nil
        }
        guard let value = Double(raw), value.isFinite else { throw APIError.validation(field: field, "must be a number") }
        return value
    }

    static func attendanceStatus(_ request: Request) throws -> AttendanceStatus? {
        guard let raw = request.uri.queryParameters["status"] else { return nil }
        guard let status = AttendanceStatus(rawValue: String(raw)) else {
            throw APIError.validation(field: "status", "must be going, interested or waitlisted")
        }
        return status
    }

    /// A JSON body that may be absent (`POST …/attend` with no body means going).
    static func optionalBody<T: Decodable>(_ request: Request, _ context: FlowRequestContext, as type: T.Type) async throws -> T? {
        guard request.headers[.contentLength].map({ $0 != "0" }) ?? (request.headers[.transferEncoding] != nil) else { return nil }
        return try await request.decode(as: type, context: context)
    }
}

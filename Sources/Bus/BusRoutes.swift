import FlowKit
import Foundation
import Hummingbird

/// Operator endpoints under `/api/v1/admin/bus`: backlog, dead letters and replay.
struct BusRoutes: Sendable {
    let bus: EventBus
    let admin: AdminAccess

    struct ReplayDeadLettersBody: Decodable {
        let group: String?
        let type: String?
    }

    struct ReplayGroupBody: Decodable {
        let group: String
        let since: Date
    }

    struct ReplayEventBody: Decodable {
        let group: String
    }

    struct StatusBody: ResponseEncodable {
        let groups: [GroupStatus]
        let eventTypes: [String: Int]
    }

    struct CountBody: ResponseEncodable {
        let count: Int
    }

    func register(on api: DocumentedRouter<FlowRequestContext>) {
        let document = api.document
        document.addTag("admin: bus", description: "Event bus operations: backlog, dead letters, replay. Needs an admin or the operator token.")
        document.addSecurityScheme("adminToken", AdminAccess.openAPIScheme)
        document.addSchema("EventEnvelope", BusSchemas.envelope)
        document.addSchema("GroupStatus", BusSchemas.groupStatus)
        document.addSchema("DeadLetter", BusSchemas.deadLetter)
        document.addSchema("Count", ["type": "object", "required": ["count"], "properties": ["count": ["type": "integer", "minimum": 0]]])
        let routes = api.group("/api/v1/admin/bus")
        let tags = ["admin: bus"]
        let security = AdminAccess.openAPISecurity

        routes.get("/status", APIOperation(
            "getBusStatus", summary: "Backlog, lag and dead letters of every consumer group.", tags: tags,
            responses: [.json(200, "Per-group status and the registered event types.", schema: [
                "type": "object", "required": ["groups", "eventTypes"],
                "properties": [
                    "groups": ["type": "array", "items": ["$ref": "#/components/schemas/GroupStatus"]],
                    "eventTypes": ["type": "object", "additionalProperties": ["type": "integer"]],
                ],
            ])], security: security)
        ) { request, context in
            try admin.authorize(context)
            return StatusBody(groups: try await bus.status(), eventTypes: bus.eventTypes)
        }

        routes.get("/dead-letters", APIOperation(
            "listBusDeadLetters", summary: "Deliveries that ran out of attempts, oldest first.", tags: tags,
            parameters: [.query("group", "Only this consumer group."), .query("type", "Only this event type.")] + PageRequest.openAPIParameters,
            responses: [.json(200, "A page of dead letters.", schema: Page<DeadLetter>.schema(of: ["$ref": "#/components/schemas/DeadLetter"]))],
            security: security)
        ) { request, context in
            try admin.authorize(context)
            let page = try PageRequest(request: request)
            let query = request.uri.queryParameters
            return try await bus.deadLetters(group: query["group"].map(String.init), type: query["type"].map(String.init), page: page)
        }

        routes.post("/dead-letters/{id}/replay", APIOperation(
            "replayBusDeadLetter", summary: "Deliver one dead letter again (its attempts start over).", tags: tags,
            parameters: [.path("id", "The dead letter's id.")],
            responses: [.json(200, "Queued again.", schema: ["$ref": "#/components/schemas/Count"]), .error(404, "No such dead letter.")],
            security: security)
        ) { request, context in
            try admin.authorize(context)
            let id = try context.parameters.require("id")
            guard try await bus.replayDeadLetter(id: id) else {
                throw APIError.notFound("No dead letter has the id \(id).")
            }
            return CountBody(count: 1)
        }

        routes.post("/dead-letters/replay", APIOperation(
            "replayBusDeadLetters", summary: "Deliver again every dead letter of a group and/or event type.", tags: tags,
            requestBody: [
                "type": "object", "minProperties": 1,
                "description": "At least one of group and type (null means not given).",
                "properties": ["group": ["type": ["string", "null"], "minLength": 1], "type": ["type": ["string", "null"], "minLength": 1]],
            ],
            responses: [.json(200, "How many were queued again.", schema: ["$ref": "#/components/schemas/Count"])],
            security: security)
        ) { request, context in
            try admin.authorize(context)
            let body = try await request.decode(as: ReplayDeadLettersBody.self, context: context)
            var problems: [FieldProblem] = []
            if body.group?.isEmpty == true { problems.append(FieldProblem(field: "group", problem: "must not be empty")) }
            if body.type?.isEmpty == true { problems.append(FieldProblem(field: "type", problem: "must not be empty")) }
            if body.group == nil && body.type == nil {
                problems.append(FieldProblem(field: "group", problem: "or type is required (replaying every dead letter at once is refused)"))
            }
            guard problems.isEmpty else { throw APIError.validation(problems) }
            return CountBody(count: try await bus.replayDeadLetters(group: body.group, type: body.type))
        }

        routes.post("/events/{id}/replay", APIOperation(
            "replayBusEvent", summary: "Deliver one retained event again to a group, handled before or not.", tags: tags,
            parameters: [.path("id", "The event's id (its envelope id).")],
            requestBody: ["type": "object", "required": ["group"], "properties": ["group": ["type": "string"]]],
            responses: [
                .json(200, "Queued.", schema: ["$ref": "#/components/schemas/Count"]),
                .error(404, "No retained event has this id."),
                .error(409, "The group has yet to handle the event (it comes anyway), or holds it as a dead letter (replay that)."),
            ],
            security: security)
        ) { request, context in
            try admin.authorize(context)
            let id = try context.parameters.require("id")
            let body = try await request.decode(as: ReplayEventBody.self, context: context)
            guard bus.group(named: body.group) != nil else {
                throw APIError.validation(field: "group", "is not a registered consumer group")
            }
            switch try await bus.replay(event: id, group: body.group) {
            case .queued: return CountBody(count: 1)
            case .pending: throw APIError.conflict("Event \(id) is still pending for \(body.group); it will be delivered anyway.", code: "event_pending")
            case .notSubscribed(let type): throw APIError.validation(field: "group", "does not subscribe to \(type), the event's type")
            case .deadLettered:
                throw APIError.conflict("Event \(id) is a dead letter of \(body.group); replay the dead letter instead.", code: "event_dead_lettered")
            case .unknownEvent: throw APIError.notFound("No retained event has the id \(id).")
            }
        }

        routes.post("/replay", APIOperation(
            "replayBusGroup", summary: "Deliver again to a group every retained event of its types since a point in time.", tags: tags,
            requestBody: [
                "type": "object", "required": ["group", "since"],
                "properties": ["group": ["type": "string"], "since": ["type": "string", "format": "date-time"]],
            ],
            responses: [.json(200, "How many deliveries were queued.", schema: ["$ref": "#/components/schemas/Count"])],
            security: security)
        ) { request, context in
            try admin.authorize(context)
            let body = try await request.decode(as: ReplayGroupBody.self, context: context)
            guard bus.group(named: body.group) != nil else {
                throw APIError.validation(field: "group", "is not a registered consumer group")
            }
            return CountBody(count: try await bus.replay(group: body.group, since: body.since))
        }
    }
}

enum BusSchemas {
    static let envelope: JSONValue = [
        "type": "object",
        "required": ["id", "type", "version", "key", "occurredAt", "producer", "correlationId", "traceId", "payload"],
        "properties": [
            "id": ["type": "string"], "type": ["type": "string"], "version": ["type": "integer"],
            "key": ["type": ["string", "null"]], "occurredAt": ["type": "string", "format": "date-time"],
            "producer": ["type": "string"], "correlationId": ["type": ["string", "null"]], "traceId": ["type": ["string", "null"]],
            "payload": ["type": "string", "description": "The event's JSON payload, as text."],
        ],
    ]

    static let groupStatus: JSONValue = [
        "type": "object",
        "required": ["group", "registered", "eventTypes", "pending", "inFlight", "retrying", "oldestPendingSeconds", "deadLetters"],
        "properties": [
            "group": ["type": "string"], "registered": ["type": "boolean"],
            "eventTypes": ["type": "array", "items": ["type": "string"]],
            "pending": ["type": "integer"], "inFlight": ["type": "integer"], "retrying": ["type": "integer"],
            "oldestPendingSeconds": ["type": ["number", "null"]], "deadLetters": ["type": "integer"],
        ],
    ]

    static let deadLetter: JSONValue = [
        "type": "object", "required": ["id", "group", "attempts", "lastError", "failedAt", "event"],
        "properties": [
            "id": ["type": "string"], "group": ["type": "string"], "attempts": ["type": "integer"],
            "lastError": ["type": "string"], "failedAt": ["type": "string", "format": "date-time"],
            "event": ["$ref": "#/components/schemas/EventEnvelope"],
        ],
    ]
}

import FlowKit
import Foundation
import Hummingbird

/// `/api/v1/events/{id}/invites…` (organizer).
struct InviteRoutes: Sendable {
    let service: EventService

    struct InviteBody: Decodable { let userIds: [String] }
    struct InvitedBody: ResponseEncodable { let invited: [String] }

    func register(on api: DocumentedRouter<FlowRequestContext>) {
        api.document.addSchema("Invite", InviteView.schema)
        let events = api.group("/api/v1/events")
        let tags = ["events"]
        let id = APIOperation.Parameter.path("id", "The event's id.")
        let bearer = APIOperation.bearerSecurity

        events.get("/{id}/invites", APIOperation(
            "listInvites", summary: "Who is invited (organizer).", tags: tags, parameters: [id] + PageRequest.openAPIParameters,
            responses: [.json(200, "A page of invitations.", schema: Page<InviteView>.schema(of: ["$ref": "#/components/schemas/Invite"])),
                        .error(403, "Not the organizer."), .error(404, "No such event.")],
            security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let page = try PageRequest(request: request)
            return try await service.invitees(eventId: eventId, by: user, page: page)
        }

        events.post("/{id}/invites", APIOperation(
            "inviteToEvent", summary: "Invite people (organizer). Invitees can see and join a private event.", tags: tags, parameters: [id],
            requestBody: ["type": "object", "required": ["userIds"], "properties": [
                "userIds": ["type": "array", "minItems": 1, "maxItems": 100, "items": ["type": "string"]],
            ]],
            responses: [.json(200, "Who was newly invited (repeats are ignored).", schema: [
                "type": "object", "required": ["invited"], "properties": ["invited": ["type": "array", "items": ["type": "string"]]],
            ]), .error(403, "Not the organizer."), .error(404, "No such event."), .error(409, "Cancelled."), .error(422, "Unknown user ids.")],
            security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let body = try await request.decode(as: InviteBody.self, context: context)
            return InvitedBody(invited: try await service.invite(eventId: eventId, userIds: body.userIds, by: user))
        }

        events.delete("/{id}/invites/{userId}", APIOperation(
            "withdrawInvite", summary: "Withdraw an invitation (organizer). On a private event the person's attendance goes with it; a freed seat goes to the first person waiting.", tags: tags, parameters: [id, .path("userId", "The invitee.")],
            responses: [.noContent("Withdrawn."), .error(403, "Not the organizer."), .error(404, "No such invitation.")], security: bearer)
        ) { _, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let userId = try context.parameters.require("userId")
            try await service.uninvite(eventId: eventId, userId: userId, by: user)
            return Response(status: .noContent)
        }
    }
}

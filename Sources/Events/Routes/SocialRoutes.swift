import FlowKit
import Foundation
import Hummingbird

/// Likes, comments and featured events.
struct SocialRoutes: Sendable {
    let service: EventService

    struct CommentBody: Decodable { let body: String }

    func register(on api: DocumentedRouter<FlowRequestContext>) {
        api.document.addSchema("Comment", CommentView.schema)
        let events = api.group("/api/v1/events")
        let tags = ["events"]
        let id = APIOperation.Parameter.path("id", "The event's id.")
        let bearer = APIOperation.bearerSecurity
        let likeState: JSONValue = [
            "type": "object", "required": ["liked", "likeCount"],
            "properties": ["liked": ["type": "boolean"], "likeCount": ["type": "integer"]],
        ]

        events.get("/featured", APIOperation(
            "featuredEvents", summary: "Featured events: popular soon.",
            description: "Published public events starting in the next 30 days, ranked by (3 × going + interested + 2 × likes + 1) / (1 + days until start / 7).",
            tags: tags, parameters: PageRequest.openAPIParameters,
            responses: [.json(200, "A page of events, best first.", schema: Page<EventView>.schema(of: ["$ref": "#/components/schemas/Event"]))])
        ) { request, context in
            let page = try PageRequest(request: request)
            return try await service.featured(viewer: context.user, page: page)
        }

        events.post("/{id}/like", APIOperation(
            "likeEvent", summary: "Like an event (idempotent).", tags: tags, parameters: [id],
            responses: [.json(200, "Liked.", schema: likeState), .error(404, "No such event.")], security: bearer)
        ) { _, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            return Encoded(try await service.setLike(eventId: eventId, liked: true, user: user))
        }

        events.delete("/{id}/like", APIOperation(
            "unlikeEvent", summary: "Take a like back (idempotent).", tags: tags, parameters: [id],
            responses: [.json(200, "Not liked.", schema: likeState), .error(404, "No such event.")], security: bearer)
        ) { _, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            return Encoded(try await service.setLike(eventId: eventId, liked: false, user: user))
        }

        events.get("/{id}/comments", APIOperation(
            "listComments", summary: "Comments, oldest first.", tags: tags, parameters: [id] + PageRequest.openAPIParameters,
            responses: [.json(200, "A page of comments.", schema: Page<CommentView>.schema(of: ["$ref": "#/components/schemas/Comment"])),
                        .error(404, "No such event.")])
        ) { request, context in
            let eventId = try context.parameters.require("id")
            let page = try PageRequest(request: request)
            return try await service.comments(eventId: eventId, viewer: context.user, page: page)
        }

        events.post("/{id}/comments", APIOperation(
            "addComment", summary: "Comment on an event.", tags: tags, parameters: [id],
            requestBody: ["type": "object", "required": ["body"], "properties": ["body": ["type": "string", "minLength": 1, "maxLength": 2000]]],
            responses: [.json(201, "Posted.", schema: ["$ref": "#/components/schemas/Comment"]), .error(404, "No such event."),
                        .error(422, "Empty or too long.")],
            security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let body = try await request.decode(as: CommentBody.self, context: context)
            let created = try await service.comment(eventId: eventId, body: body.body, user: user)
            return EditedResponse(status: .created, response: Encoded(created))
        }

        events.delete("/{id}/comments/{commentId}", APIOperation(
            "deleteComment", summary: "Remove a comment (its author, the organizer, or a moderator).", tags: tags,
            parameters: [id, .path("commentId", "The comment's id.")],
            responses: [.noContent("Removed."), .error(403, "Not yours to remove."), .error(404, "No such comment.")], security: bearer)
        ) { _, context in
            let user = try context.requireUser()
            let eventId = try context.parameters.require("id")
            let commentId = try context.parameters.require("commentId")
            try await service.deleteComment(eventId: eventId, commentId: commentId, user: user)
            return Response(status: .noContent)
        }
    }
}

import FlowKit
import Foundation
import Hummingbird

/// `/api/v1/venues…` and `/api/v1/categories`.
struct PlaceRoutes: Sendable {
    let service: EventService

    struct CategoryBody: Decodable { let id: String; let name: String; let parentId: String? }
    struct CategoriesBody: ResponseEncodable { let items: [CategoryView] }

    func register(on api: DocumentedRouter<FlowRequestContext>) {
        let document = api.document
        document.addSchema("Venue", VenueView.schema)
        document.addSchema("Category", CategoryView.schema)
        let tags = ["events"]
        let venue: JSONValue = ["$ref": "#/components/schemas/Venue"]
        let bearer = APIOperation.bearerSecurity

        api.get("/api/v1/venues", APIOperation(
            "listVenues", summary: "Venues by name.", tags: tags,
            parameters: [.query("q", "Part of the name."), .query("city", "Exact city (case-insensitive).")] + PageRequest.openAPIParameters,
            responses: [.json(200, "A page of venues.", schema: Page<VenueView>.schema(of: venue))])
        ) { request, _ in
            let parameters = request.uri.queryParameters
            let page = try PageRequest(request: request)
            return try await service.venues(matching: parameters["q"].map(String.init).flatMap { $0.isEmpty ? nil : $0 },
                                            city: parameters["city"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }, page: page)
        }

        api.post("/api/v1/venues", APIOperation(
            "createVenue", summary: "Add a venue.", tags: tags, requestBody: VenueInput.schema,
            responses: [.json(201, "Created.", schema: venue), .error(422, "A field breaks a rule.")], security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let input = try await request.decode(as: VenueInput.self, context: context)
            let created = try await service.createVenue(input, by: user)
            return EditedResponse(status: .created, response: Encoded(created))
        }

        api.get("/api/v1/venues/{id}", APIOperation(
            "getVenue", summary: "One venue.", tags: tags, parameters: [.path("id", "The venue's id.")],
            responses: [.json(200, "The venue.", schema: venue), .error(404, "No such venue.")])
        ) { _, context in
            let id = try context.parameters.require("id")
            return Encoded(try await service.venue(id: id))
        }

        api.get("/api/v1/categories", APIOperation(
            "listCategories", summary: "Categories with their subcategories.", tags: tags,
            responses: [.json(200, "The category tree.", schema: [
                "type": "object", "required": ["items"], "properties": ["items": ["type": "array", "items": ["$ref": "#/components/schemas/Category"]]],
            ])])
        ) { _, _ in
            CategoriesBody(items: try await service.categories())
        }

        api.post("/api/v1/categories", APIOperation(
            "createCategory", summary: "Add a category or subcategory (staff with manage_users).", tags: tags,
            requestBody: [
                "type": "object", "required": ["id", "name"],
                "properties": [
                    "id": ["type": "string", "pattern": "^[a-z0-9-]{2,40}$"], "name": ["type": "string", "minLength": 1, "maxLength": 60],
                    "parentId": ["type": ["string", "null"]],
                ],
            ],
            responses: [.json(201, "Created.", schema: ["$ref": "#/components/schemas/Category"]), .error(403, "Needs manage_users."),
                        .error(409, "The id exists."), .error(422, "A field breaks a rule.")],
            security: bearer)
        ) { request, context in
            let user = try context.requireUser()
            let body = try await request.decode(as: CategoryBody.self, context: context)
            let created = try await service.createCategory(id: body.id, name: body.name, parentId: body.parentId, by: user)
            return EditedResponse(status: .created, response: Encoded(created))
        }
    }
}

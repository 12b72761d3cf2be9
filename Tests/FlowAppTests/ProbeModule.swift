import FlowKit
import Foundation
import Hummingbird

/// A module that exists only in tests: routes that take a body, take a parameter, or fail in
/// each way the platform must render, and one table so schema checks have something to check.
struct ProbeModule: FlowModule {
    let name = "probe"
    var migrations: [Migration] = [
        Migration(1, "create_probe_notes", sql: ["CREATE TABLE probe_notes (id TEXT PRIMARY KEY)"]),
    ]

    struct Payload: Codable, ResponseEncodable {
        let name: String
        let count: Int
        let tags: [String]?
        let at: Date?
    }

    struct Unexpected: Error {
        let secret = "internal detail that must not reach clients"
    }

    func registerRoutes(on api: DocumentedRouter<FlowRequestContext>) {
        let probe = api.group("/test")
        probe.post("/echo", APIOperation(
            "probeEcho", summary: "Echo a payload.", tags: ["probe"],
            requestBody: ["type": "object"], responses: [.json(200, "The payload.", schema: ["type": "object"])])
        ) { request, context in
            let payload = try await request.decode(as: Payload.self, context: context)
            guard (1...10).contains(payload.count) else {
                throw APIError.validation(field: "count", "must be between 1 and 10")
            }
            return payload
        }
        probe.get("/items/{id}", APIOperation(
            "probeItem", summary: "Echo a path parameter.", tags: ["probe"],
            parameters: [.path("id", "Any id.")], responses: [.json(200, "The id.", schema: ["type": "object"])])
        ) { _, context in
            ["id": try context.parameters.require("id")]
        }
        probe.get("/boom", APIOperation("probeBoom", summary: "Fail unexpectedly.", tags: ["probe"], responses: [])) { _, _ -> String in
            throw Unexpected()
        }
        probe.get("/database-down", APIOperation("probeDatabaseDown", summary: "Fail as if the database were down.", tags: ["probe"], responses: [])) { _, _ -> String in
            throw DatabaseError(.unavailable, message: "connection refused")
        }
    }
}

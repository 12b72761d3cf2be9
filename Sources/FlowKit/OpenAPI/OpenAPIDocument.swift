import Foundation
import HTTPTypes
import Synchronization

/// The OpenAPI 3.1 description served at `/openapi.json`, assembled from the routes as they
/// are registered (``DocumentedRouter``), so a route cannot exist without its description.
/// Schemas are JSON Schema 2020-12 values written next to the types they describe.
public final class OpenAPIDocument: Sendable {
    private struct State {
        var paths: [String: [String: JSONValue]] = [:]
        var schemas: [String: JSONValue] = [:]
        var securitySchemes: [String: JSONValue] = [:]
        var tags: [String: String] = [:]
        var rendered: Data?
    }

    private let title: String
    private let version: String
    private let summary: String
    private let state = Mutex(State())

    public init(title: String, version: String, summary: String) {
        self.title = title
        self.version = version
        self.summary = summary
        addSchema("Error", ErrorResponse.schema)
    }

    public func addSchema(_ name: String, _ schema: JSONValue) {
        state.withLock {
            $0.schemas[name] = schema
            $0.rendered = nil
        }
    }

    public func addSecurityScheme(_ name: String, _ scheme: JSONValue) {
        state.withLock {
            $0.securitySchemes[name] = scheme
            $0.rendered = nil
        }
    }

    public func addTag(_ name: String, description: String) {
        state.withLock {
            $0.tags[name] = description
            $0.rendered = nil
        }
    }

    func add(_ operation: APIOperation, method: HTTPRequest.Method, path: String) {
        state.withLock {
            $0.paths[path, default: [:]][method.rawValue.lowercased()] = operation.json(path: path)
            $0.rendered = nil
        }
    }

    /// Whether an operation is documented for this method and (template) path.
    public func documents(method: HTTPRequest.Method, path: String) -> Bool {
        state.withLock { $0.paths[path]?[method.rawValue.lowercased()] != nil }
    }

    public var json: JSONValue {
        state.withLock { state in
            var paths: [String: JSONValue] = [:]
            for (path, operations) in state.paths { paths[path] = .object(operations) }
            return [
                "openapi": "3.1.0",
                "info": ["title": .string(title), "version": .string(version), "description": .string(summary)],
                "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
                "tags": .array(state.tags.keys.sorted().map { ["name": .string($0), "description": .string(state.tags[$0]!)] }),
                "paths": .object(paths),
                "components": [
                    "schemas": .object(state.schemas),
                    "securitySchemes": .object(state.securitySchemes),
                    "responses": [
                        "Error": [
                            "description": "Any failure: the status says which kind, the body says why.",
                            "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]],
                        ],
                    ],
                ],
            ]
        }
    }

    /// The rendered document, cached until the next change.
    public func rendered() -> Data {
        if let cached = state.withLock({ $0.rendered }) { return cached }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(json)) ?? Data("{}".utf8)
        state.withLock { $0.rendered = data }
        return data
    }
}

extension ErrorResponse {
    static let schema: JSONValue = [
        "type": "object",
        "required": ["error"],
        "properties": [
            "error": [
                "type": "object",
                "required": ["code", "message", "details", "requestId"],
                "properties": [
                    "code": ["type": "string", "description": "Stable machine-readable reason, e.g. validation_failed, not_found."],
                    "message": ["type": "string", "description": "Human-readable explanation."],
                    "details": ["type": "object", "description": "Structured context; for validation_failed, `fields` lists each field and its problem."],
                    "requestId": ["type": "string", "description": "The request's id, also in the X-Request-Id header and the server logs."],
                ],
            ],
        ],
    ]
}

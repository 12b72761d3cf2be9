import HTTPTypes

/// The description of one route: what it does, what it takes and what it answers. Every
/// operation also documents the shared error response as `default`, which covers each
/// 4xx/5xx status with the JSON error shape.
public struct APIOperation: Sendable {
    public struct Parameter: Sendable {
        public enum Location: String, Sendable { case path, query, header }
        public let name: String
        public let location: Location
        public let required: Bool
        public let description: String
        public let schema: JSONValue

        public static func path(_ name: String, _ description: String, schema: JSONValue = ["type": "string"]) -> Parameter {
            Parameter(name: name, location: .path, required: true, description: description, schema: schema)
        }

        public static func query(_ name: String, _ description: String, required: Bool = false, schema: JSONValue = ["type": "string"]) -> Parameter {
            Parameter(name: name, location: .query, required: required, description: description, schema: schema)
        }
    }

    public struct Response: Sendable {
        public let status: Int
        public let description: String
        public let mediaType: String?
        public let schema: JSONValue?

        /// A JSON response whose body is described by `schema` (often `["$ref": "#/components/schemas/X"]`).
        public static func json(_ status: Int, _ description: String, schema: JSONValue) -> Response {
            Response(status: status, description: description, mediaType: "application/json", schema: schema)
        }

        public static func noContent(_ description: String) -> Response {
            Response(status: 204, description: description, mediaType: nil, schema: nil)
        }

        public static func other(_ status: Int, _ description: String, mediaType: String, schema: JSONValue = ["type": "string"]) -> Response {
            Response(status: status, description: description, mediaType: mediaType, schema: schema)
        }

        /// A documented error status (beyond the `default` error response) for readers of the document.
        public static func error(_ status: Int, _ description: String) -> Response {
            Response(status: status, description: description, mediaType: "application/json", schema: ["$ref": "#/components/schemas/Error"])
        }
    }

    public let operationId: String
    public let summary: String
    public let description: String?
    public let tags: [String]
    public let parameters: [Parameter]
    public let requestBody: JSONValue?
    public let responses: [Response]
    /// Security requirements, e.g. ``AdminAccess/openAPISecurity``; nil for public operations.
    public let security: JSONValue?

    public init(
        _ operationId: String, summary: String, description: String? = nil, tags: [String],
        parameters: [Parameter] = [], requestBody: JSONValue? = nil, responses: [Response], security: JSONValue? = nil
    ) {
        self.security = security
        self.operationId = operationId
        self.summary = summary
        self.description = description
        self.tags = tags
        self.parameters = parameters
        self.requestBody = requestBody
        self.responses = responses
    }

    func json(path: String) -> JSONValue {
        var operation: [String: JSONValue] = [
            "operationId": .string(operationId),
            "summary": .string(summary),
            "tags": .array(tags.map { .string($0) }),
        ]
        if let description { operation["description"] = .string(description) }
        if !parameters.isEmpty {
            operation["parameters"] = .array(parameters.map { parameter in
                [
                    "name": .string(parameter.name), "in": .string(parameter.location.rawValue),
                    "required": .bool(parameter.required), "description": .string(parameter.description),
                    "schema": parameter.schema,
                ]
            })
        }
        if let requestBody {
            operation["requestBody"] = ["required": true, "content": ["application/json": ["schema": requestBody]]]
        }
        var responses: [String: JSONValue] = ["default": ["$ref": "#/components/responses/Error"]]
        for response in self.responses {
            var entry: [String: JSONValue] = ["description": .string(response.description)]
            if let mediaType = response.mediaType {
                entry["content"] = [mediaType: response.schema.map { ["schema": $0] } ?? [:]]
            }
            responses[String(response.status)] = .object(entry)
        }
        operation["responses"] = .object(responses)
        if let security { operation["security"] = security }
        return .object(operation)
    }
}

extension APIOperation {
    /// The security requirement of operations that need a signed-in user (an access token).
    public static let bearerSecurity: JSONValue = [["bearerAuth": []]]
}

import FlowKit
import Foundation

/// A place events happen at.
public struct VenueView: Sendable, Codable, Equatable {
    public let id: String
    public let name: String
    public let address: String
    public var city: String?
    public var country: String?
    public let latitude: Double
    public let longitude: Double
    public var capacity: Int?
    public let amenities: [String]
    public let createdAt: Date

    /// Written directly, nulls included (see `JSONObjectWriter`); it is nested in events.
    public func encode(to encoder: any Encoder) throws {
        var object = JSONObjectWriter(encoder)
        try object.field("id", id)
        try object.field("name", name)
        try object.field("address", address)
        try object.field("city", city)
        try object.field("country", country)
        try object.field("latitude", latitude)
        try object.field("longitude", longitude)
        try object.field("capacity", capacity)
        try object.field("amenities", amenities)
        try object.field("createdAt", createdAt)
    }

    static let schema: JSONValue = [
        "type": "object", "required": ["id", "name", "address", "city", "country", "latitude", "longitude", "capacity", "amenities", "createdAt"],
        "properties": [
            "id": ["type": "string"], "name": ["type": "string"], "address": ["type": "string"],
            "city": ["type": ["string", "null"]], "country": ["type": ["string", "null"]],
            "latitude": ["type": "number"], "longitude": ["type": "number"], "capacity": ["type": ["integer", "null"]],
            "amenities": ["type": "array", "items": ["type": "string"]], "createdAt": ["type": "string", "format": "date-time"],
        ],
    ]
}

/// What `POST /api/v1/venues` takes.
public struct VenueInput: Decodable, Sendable {
    let name: String
    let address: String
    let city: String?
    let country: String?
    let latitude: Double
    let longitude: Double
    let capacity: Int?
    let amenities: [String]?

    static let schema: JSONValue = [
        "type": "object", "required": ["name", "address", "latitude", "longitude"],
        "properties": [
            "name": ["type": "string", "minLength": 1, "maxLength": 120], "address": ["type": "string", "minLength": 1, "maxLength": 300],
            "city": ["type": ["string", "null"], "maxLength": 100],
            "country": ["type": ["string", "null"], "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2."],
            "latitude": ["type": "number", "minimum": -90, "maximum": 90], "longitude": ["type": "number", "minimum": -180, "maximum": 180],
            "capacity": ["type": ["integer", "null"], "minimum": 1],
            "amenities": ["type": ["array", "null"], "maxItems": 30, "items": ["type": "string", "maxLength": 40]],
        ],
    ]

    var problems: [FieldProblem] {
        var problems = Validate.text(name, field: "name", max: 120) + Validate.text(address, field: "address", max: 300)
        if let city { problems += Validate.text(city, field: "city", max: 100) }
        if let country, !(country.count == 2 && country.allSatisfy { $0.isASCII && $0.isUppercase }) {
            problems.append(FieldProblem(field: "country", problem: "must be an ISO 3166-1 alpha-2 code such as PT"))
        }
        problems += CoordinateRules.problems(latitude: latitude, longitude: longitude, prefix: "")
        if let capacity, capacity < 1 { problems.append(FieldProblem(field: "capacity", problem: "must be at least 1")) }
        if let amenities {
            if amenities.count > 30 { problems.append(FieldProblem(field: "amenities", problem: "at most 30")) }
            for (index, amenity) in amenities.enumerated() { problems += Validate.text(amenity, field: "amenities[\(index)]", max: 40) }
        }
        return problems
    }
}

/// A category and its subcategories.
public struct CategoryView: Sendable, Codable, Equatable {
    public let id: String
    public let name: String
    @ExplicitNull public var parentId: String?
    public var subcategories: [CategoryView]

    static let schema: JSONValue = [
        "type": "object", "required": ["id", "name", "parentId", "subcategories"],
        "properties": [
            "id": ["type": "string"], "name": ["type": "string"], "parentId": ["type": ["string", "null"]],
            "subcategories": ["type": "array", "items": ["$ref": "#/components/schemas/Category"]],
        ],
    ]
}

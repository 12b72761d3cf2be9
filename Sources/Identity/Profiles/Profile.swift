import FlowKit
import Foundation

/// Who may see a part of a profile.
public enum Visibility: String, Sendable, Codable, CaseIterable {
    /// Anyone, signed in or not.
    case `public`
    /// Signed-in users.
    case members
    /// The owner (and staff with `manage_users`).
    case `private`

    static let schema: JSONValue = ["type": "string", "enum": .array(allCases.map { .string($0.rawValue) })]
}

public struct Privacy: Sendable, Codable, Equatable {
    public var email: Visibility
    public var location: Visibility
    public var attendedEvents: Visibility

    static let defaults = Privacy(email: .private, location: .members, attendedEvents: .members)

    static let schema: JSONValue = [
        "type": "object", "required": ["email", "location", "attendedEvents"],
        "properties": ["email": Visibility.schema, "location": Visibility.schema, "attendedEvents": Visibility.schema],
    ]
}

public struct Location: Sendable, Codable, Equatable {
    @ExplicitNull public var city: String?
    @ExplicitNull public var latitude: Double?
    @ExplicitNull public var longitude: Double?

    public init(city: String?, latitude: Double?, longitude: Double?) {
        self.city = city
        self.latitude = latitude
        self.longitude = longitude
    }

    static let schema: JSONValue = [
        "type": "object", "required": ["city", "latitude", "longitude"],
        "properties": [
            "city": ["type": ["string", "null"], "maxLength": 100],
            "latitude": ["type": ["number", "null"], "minimum": -90, "maximum": 90],
            "longitude": ["type": ["number", "null"], "minimum": -180, "maximum": 180],
        ],
    ]

    /// What a profile edit sends: any of the three (null or left out means none).
    static let inputSchema: JSONValue = [
        "type": "object",
        "properties": [
            "city": ["type": ["string", "null"], "minLength": 1, "maxLength": 100],
            "latitude": ["type": ["number", "null"], "minimum": -90, "maximum": 90],
            "longitude": ["type": ["number", "null"], "minimum": -180, "maximum": 180],
        ],
    ]

    var problems: [FieldProblem] {
        var problems: [FieldProblem] = []
        if let city, city.trimmingCharacters(in: .whitespaces).isEmpty || city.codePointCount > 100 {
            problems.append(FieldProblem(field: "location.city", problem: "must be 1–100 characters"))
        }
        if (latitude == nil) != (longitude == nil) {
            problems.append(FieldProblem(field: "location", problem: "latitude and longitude come together"))
        }
        problems += CoordinateRules.problems(latitude: latitude, longitude: longitude, prefix: "location")
        if city == nil, latitude == nil {
            problems.append(FieldProblem(field: "location", problem: "needs a city or coordinates; send null to remove the location"))
        }
        return problems
    }
}

/// The stored profile of one account (defaults when the owner never edited it).
struct ProfileRecord: Sendable, Equatable {
    var displayName: String?
    var bio: String?
    var interests: [String]
    var location: Location?
    var avatarUrl: String?
    var privacy: Privacy

    static let empty = ProfileRecord(displayName: nil, bio: nil, interests: [], location: nil, avatarUrl: nil, privacy: .defaults)
}

/// A user as anyone may see them: `GET /api/v1/users/{id}`.
public struct UserCard: Sendable, Codable, Equatable {
    public let id: String
    public let username: String
    @ExplicitNull public var displayName: String?
    @ExplicitNull public var avatarUrl: String?
    public let createdAt: Date

    static let schema: JSONValue = [
        "type": "object", "required": ["id", "username", "displayName", "avatarUrl", "createdAt"],
        "properties": [
            "id": ["type": "string"], "username": ["type": "string"], "displayName": ["type": ["string", "null"]],
            "avatarUrl": ["type": ["string", "null"]], "createdAt": ["type": "string", "format": "date-time"],
        ],
    ]
}

/// The extended profile, filtered by the owner's privacy settings for the viewer:
/// `GET /api/v1/profiles/{id}`. Hidden parts are null; `privacy` is shown to the owner only.
public struct ProfileView: Sendable, Codable, Equatable {
    public let id: String
    public let username: String
    @ExplicitNull public var displayName: String?
    @ExplicitNull public var avatarUrl: String?
    @ExplicitNull public var bio: String?
    public let interests: [String]
    @ExplicitNull public var email: String?
    @ExplicitNull public var location: Location?
    /// Whether the viewer may see which events this user attended (the Events domain asks).
    public let attendedEventsVisible: Bool
    @ExplicitNull public var privacy: Privacy?
    public let createdAt: Date

    static let schema: JSONValue = [
        "type": "object",
        "required": ["id", "username", "displayName", "avatarUrl", "bio", "interests", "email", "location", "attendedEventsVisible", "privacy", "createdAt"],
        "properties": [
            "id": ["type": "string"], "username": ["type": "string"], "displayName": ["type": ["string", "null"]],
            "avatarUrl": ["type": ["string", "null"]], "bio": ["type": ["string", "null"]],
            "interests": ["type": "array", "items": ["type": "string"]],
            "email": ["type": ["string", "null"], "description": "Null unless the owner's privacy lets the viewer see it."],
            "location": ["oneOf": [["$ref": "#/components/schemas/Location"], ["type": "null"]]],
            "attendedEventsVisible": ["type": "boolean"],
            "privacy": ["oneOf": [["$ref": "#/components/schemas/Privacy"], ["type": "null"]], "description": "The owner's settings; null for other viewers."],
            "createdAt": ["type": "string", "format": "date-time"],
        ],
    ]
}

/// Who is looking at a profile.
struct Viewer: Sendable {
    let userId: String?
    let isStaff: Bool

    init(_ user: AuthenticatedUser?) {
        userId = user?.id
        isStaff = user?.has(Permission.manageUsers) ?? false
    }

    func isOwner(of id: String) -> Bool { userId == id }

    func sees(_ visibility: Visibility, of ownerId: String) -> Bool {
        if isOwner(of: ownerId) || isStaff { return true }
        switch visibility {
        case .public: return true
        case .members: return userId != nil
        case .private: return false
        }
    }
}

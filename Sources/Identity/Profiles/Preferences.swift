import FlowKit
import Foundation

/// Per-user settings: language, time zone, theme and which notifications they want.
public struct Preferences: Sendable, Codable, Equatable {
    public enum Theme: String, Sendable, Codable, CaseIterable {
        case system, light, dark
    }

    public var language: String
    public var timeZone: String
    public var theme: Theme
    /// Switches by kind; the Notifications domain reads them before sending.
    public var notifications: [String: Bool]

    /// Notification kinds and whether they are on by default (marketing is opt-in).
    public static let notificationDefaults: [String: Bool] = [
        "email": true, "push": true, "inApp": true, "eventReminders": true, "eventUpdates": true,
        "friendActivity": true, "chatMessages": true, "marketing": false,
    ]

    static let defaults = Preferences(language: "en", timeZone: "UTC", theme: .system, notifications: notificationDefaults)

    static let schema: JSONValue = [
        "type": "object", "required": ["language", "timeZone", "theme", "notifications"],
        "properties": [
            "language": ["type": "string", "pattern": "^[a-z]{2,3}(-[A-Z]{2})?$", "example": "pt-BR"],
            "timeZone": ["type": "string", "description": "An IANA time zone such as Europe/Lisbon."],
            "theme": ["type": "string", "enum": .array(Theme.allCases.map { .string($0.rawValue) })],
            "notifications": [
                "type": "object",
                "properties": .object(Dictionary(uniqueKeysWithValues: notificationDefaults.keys.map { ($0, ["type": "boolean"] as JSONValue) })),
                "additionalProperties": false,
            ],
        ],
    ]

    /// What `PUT /api/v1/preferences` takes: any subset; notification switches merge.
    public struct Update: Decodable, Sendable {
        let language: String?
        let timeZone: String?
        let theme: Theme?
        let notifications: [String: Bool]?

        /// `null` is the same as leaving a field out: it keeps the current value.
        static let schema: JSONValue = [
            "type": "object",
            "properties": [
                "language": ["type": ["string", "null"], "pattern": "^[a-z]{2,3}(-[A-Z]{2})?$"],
                "timeZone": ["type": ["string", "null"]],
                "theme": ["type": ["string", "null"], "enum": .array(Theme.allCases.map { .string($0.rawValue) } + [.null])],
                "notifications": ["type": ["object", "null"], "additionalProperties": ["type": "boolean"]],
            ],
        ]
    }

    func applying(_ update: Update) throws(APIError) -> Preferences {
        var problems: [FieldProblem] = []
        var result = self
        if let language = update.language {
            if Self.isLanguageTag(language) { result.language = language } else {
                problems.append(FieldProblem(field: "language", problem: "must be a language tag like en or pt-BR"))
            }
        }
        if let zone = update.timeZone {
            if zone.count <= 64, TimeZone(identifier: zone) != nil { result.timeZone = zone } else {
                problems.append(FieldProblem(field: "timeZone", problem: "must be an IANA time zone such as Europe/Lisbon"))
            }
        }
        if let theme = update.theme { result.theme = theme }
        for (kind, on) in update.notifications ?? [:] {
            if Self.notificationDefaults[kind] != nil { result.notifications[kind] = on } else {
                problems.append(FieldProblem(field: "notifications.\(kind)",
                                             problem: "is not a notification kind (\(Self.notificationDefaults.keys.sorted().joined(separator: ", ")))"))
            }
        }
        guard problems.isEmpty else { throw APIError.validation(problems) }
        return result
    }

    static func isLanguageTag(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let primary = parts.first, (2...3).contains(primary.count), primary.allSatisfy({ $0.isASCII && $0.isLowercase }) else { return false }
        if parts.count == 1 { return true }
        return parts.count == 2 && parts[1].count == 2 && parts[1].allSatisfy { $0.isASCII && $0.isUppercase }
    }
}

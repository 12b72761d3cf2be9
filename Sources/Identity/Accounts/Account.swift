import FlowKit
import Foundation

/// A user account as Identity stores it. The password hash never leaves this module.
struct Account: Sendable {
    let id: String
    let email: String
    var username: String
    let passwordHash: String
    var role: Role
    let emailVerifiedAt: Date?
    let failedLogins: Int
    let lockedUntil: Date?
    let createdAt: Date
    /// The confirmed authenticator secret; nil when 2FA is off.
    var totpSecret: String? = nil
    var deletedAt: Date? = nil

    var twoFactorEnabled: Bool { totpSecret != nil }

    var publicView: AccountView {
        AccountView(id: id, email: email, username: username, role: role.rawValue, emailVerified: emailVerifiedAt != nil,
                    twoFactorEnabled: twoFactorEnabled, createdAt: createdAt)
    }
}

/// The account as its owner sees it in API responses.
public struct AccountView: Sendable, Codable, Equatable {
    public let id: String
    public let email: String
    public let username: String
    public let role: String
    public let emailVerified: Bool
    public let twoFactorEnabled: Bool
    public let createdAt: Date

    static let schema: JSONValue = [
        "type": "object", "required": ["id", "email", "username", "role", "emailVerified", "twoFactorEnabled", "createdAt"],
        "properties": [
            "id": ["type": "string"], "email": ["type": "string", "format": "email"], "username": ["type": "string"],
            "role": ["type": "string", "enum": ["user", "moderator", "admin"]], "emailVerified": ["type": "boolean"],
            "twoFactorEnabled": ["type": "boolean"], "createdAt": ["type": "string", "format": "date-time"],
        ],
    ]
}

/// A signed-in device: what the owner sees in their session list.
public struct SessionView: Sendable, Codable, Equatable {
    public let id: String
    public let createdAt: Date
    public let lastSeenAt: Date
    public let expiresAt: Date
    @ExplicitNull public var clientAddress: String?
    @ExplicitNull public var userAgent: String?
    /// True for the session of the token making the request.
    public let current: Bool

    init(id: String, createdAt: Date, lastSeenAt: Date, expiresAt: Date, clientAddress: String?, userAgent: String?, current: Bool) {
        self.id = id
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
        self.clientAddress = clientAddress
        self.userAgent = userAgent
        self.current = current
    }

    static let schema: JSONValue = [
        "type": "object", "required": ["id", "createdAt", "lastSeenAt", "expiresAt", "clientAddress", "userAgent", "current"],
        "properties": [
            "id": ["type": "string"], "createdAt": ["type": "string", "format": "date-time"],
            "lastSeenAt": ["type": "string", "format": "date-time"], "expiresAt": ["type": "string", "format": "date-time"],
            "clientAddress": ["type": ["string", "null"]], "userAgent": ["type": ["string", "null"]], "current": ["type": "boolean"],
        ],
    ]
}

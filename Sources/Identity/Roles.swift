import FlowKit

/// Roles and the permissions they grant. Tokens carry the permissions so other domains check
/// `context.require(permission:)` without knowing roles.
public enum Role: String, Sendable, CaseIterable, Codable {
    case user
    case moderator
    case admin

    public var permissions: Set<String> {
        switch self {
        case .user:
            [Permission.createEvent]
        case .moderator:
            Role.user.permissions.union([Permission.moderateContent, Permission.editEvent, Permission.manageAttendees])
        case .admin:
            Role.moderator.permissions.union([Permission.viewAnalytics, Permission.manageUsers, Permission.manageRoles, Permission.operate])
        }
    }
}

/// Permission strings, as they appear in tokens.
public enum Permission {
    public static let createEvent = "create_event"
    /// Edit any event, not only one's own.
    public static let editEvent = "edit_event"
    public static let manageAttendees = "manage_attendees"
    public static let moderateContent = "moderate_content"
    public static let viewAnalytics = "view_analytics"
    public static let manageUsers = "manage_users"
    public static let manageRoles = "manage_roles"
    /// Operator endpoints (bus, health details).
    public static let operate = AdminAccess.permission
}

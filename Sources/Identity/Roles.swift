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

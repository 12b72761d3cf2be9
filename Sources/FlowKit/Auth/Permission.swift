/// Permission strings, as they appear in access tokens. Identity grants them through roles;
/// every domain checks them with `context.require(permission:)` without knowing roles.
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

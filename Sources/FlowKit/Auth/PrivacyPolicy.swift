/// What users' privacy settings let someone see, for domains that show people (attendee lists,
/// crews). Identity owns the settings and implements this; other domains ask it instead of
/// reading Identity's tables.
public protocol PrivacyPolicy: Sendable {
    /// Those of `userIds` whose attended events `viewer` may see (themselves, staff, or as the
    /// user's `attendedEvents` visibility allows).
    func attendanceVisible(of userIds: [String], to viewer: AuthenticatedUser?) async throws -> Set<String>
}

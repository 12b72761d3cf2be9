/// Which user ids exist, for domains that take user ids as input (invitations) and must refuse
/// unknown ones. Identity implements it.
public protocol UserDirectory: Sendable {
    /// Those of `ids` that belong to live (not deleted) accounts.
    func existing(_ ids: [String]) async throws -> Set<String>
}

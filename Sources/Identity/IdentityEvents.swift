import Bus
import FlowKit
import Foundation

/// A new account exists.
public struct UserRegistered: DomainEvent {
    public static let type = "user.registered"
    public static let version = 1
    public let userId: String
    public let username: String

    public func validate() -> [FieldProblem] {
        Self.emptyFields(["userId": userId, "username": username])
    }
}

/// An account was locked after too many failed logins.
public struct UserLocked: DomainEvent {
    public static let type = "user.locked"
    public static let version = 1
    public let userId: String
    public let lockedUntil: Date

    public func validate() -> [FieldProblem] {
        Self.emptyFields(["userId": userId])
    }
}

/// The owner (or staff) changed profile fields; `fields` names them, values stay in Identity.
public struct UserProfileUpdated: DomainEvent {
    public static let type = "user.profile_updated"
    public static let version = 1
    public let userId: String
    public let fields: [String]

    public func validate() -> [FieldProblem] {
        Self.emptyFields(["userId": userId]) + (fields.isEmpty ? [FieldProblem(field: "fields", problem: "must name at least one field")] : [])
    }
}

/// An account was deleted and its personal data erased. Other domains erase or anonymise what
/// they hold about the user when they see this.
public struct UserDeleted: DomainEvent {
    public static let type = "user.deleted"
    public static let version = 1
    public let userId: String

    public func validate() -> [FieldProblem] {
        Self.emptyFields(["userId": userId])
    }
}

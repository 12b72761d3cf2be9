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
        userId.isEmpty ? [FieldProblem(field: "userId", problem: "must not be empty")] : []
    }
}

/// An account was locked after too many failed logins.
public struct UserLocked: DomainEvent {
    public static let type = "user.locked"
    public static let version = 1
    public let userId: String
    public let lockedUntil: Date
}

import Foundation

/// Where one migration stands in one database.
public struct MigrationStatus: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case applied(at: Date)
        case pending
        /// Applied, but the code's SQL no longer matches what was applied.
        case changed(recorded: String, current: String)
        /// Recorded in the database but unknown to this binary (a newer release applied it).
        case unknown
    }

    public let domain: String
    public let version: Int
    public let name: String
    public let state: State

    public var label: String { "\(domain)/\(String(format: "%04d", version))_\(name)" }
}

/// The schema does not match the code: the message lists each problem, one per line.
public struct SchemaError: Error, Sendable, CustomStringConvertible {
    public let problems: [String]

    public init(problems: [String]) {
        self.problems = problems
    }

    public var description: String {
        problems.joined(separator: "; ")
    }
}

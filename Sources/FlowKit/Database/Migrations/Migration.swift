import Crypto
import Foundation

/// One versioned schema change owned by a domain. Versions start at 1 and increase by one; once
/// a migration has been applied anywhere its SQL must never change (the recorded checksum would
/// no longer match and the server refuses to start): add a new migration instead.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    private let sqlite: [String]
    private let postgres: [String]

    /// A migration whose statements are the same on both engines.
    public init(_ version: Int, _ name: String, sql: [String]) {
        self.init(version, name, sqlite: sql, postgres: sql)
    }

    /// A migration with engine-specific statements (full-text and geo indexes, column types).
    public init(_ version: Int, _ name: String, sqlite: [String], postgres: [String]) {
        self.version = version
        self.name = name
        self.sqlite = sqlite
        self.postgres = postgres
    }

    public func statements(for engine: DatabaseEngine) -> [String] {
        switch engine {
        case .sqlite: sqlite
        case .postgres: postgres
        }
    }

    /// SHA-256 of the statements this engine runs, recorded when applied.
    public func checksum(for engine: DatabaseEngine) -> String {
        let text = statements(for: engine).joined(separator: "\n;\n")
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// `identity/0003_add_totp` style label used in logs, errors and `flow migrate status`.
    func label(domain: String) -> String {
        "\(domain)/\(String(format: "%04d", version))_\(name)"
    }
}

/// The ordered migrations of one domain (one SwiftPM target owns one set and its tables).
public struct MigrationSet: Sendable {
    public let domain: String
    public let migrations: [Migration]

    public init(domain: String, _ migrations: [Migration]) {
        self.domain = domain
        self.migrations = migrations.sorted { $0.version < $1.version }
    }
}

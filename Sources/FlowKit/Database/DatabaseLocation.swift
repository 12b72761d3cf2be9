import Foundation
import NIOSSL
import PostgresKit

/// Where the data lives, parsed from `FLOW_DATABASE_URL`.
///
/// - `sqlite:PATH` (also `sqlite://PATH`, `sqlite:///ABSOLUTE/PATH`): a SQLite file; relative
///   paths are relative to the working directory; missing parent folders are created.
/// - `postgres://user:password@host:port/database?sslmode=disable` (or `postgresql://`): a
///   PostgreSQL server; `sslmode` / `tlsmode` accept disable, prefer (the default) and require.
public enum DatabaseLocation: Sendable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresEndpoint)

    public static let defaultURL = "sqlite:flow-data/flow.sqlite"

    public var engine: DatabaseEngine {
        switch self {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    /// The location without credentials, safe to log and to show in `/ready`.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let endpoint): endpoint.redacted
        }
    }

    public init(url: String) throws(ConfigError) {
        let trimmed = url.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.lowercased().hasPrefix("sqlite:") {
            var path = String(trimmed.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else {
                throw ConfigError(key: "database.url", "the SQLite URL has no file path (example: sqlite:flow-data/flow.sqlite)")
            }
            self = .sqlite(path: path)
            return
        }
        let scheme = trimmed.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
        guard ["postgres", "postgresql", "postgres+tcp", "postgresql+tcp"].contains(scheme) else {
            throw ConfigError(key: "database.url", "unsupported scheme '\(scheme)'; use sqlite:PATH or postgres://user:password@host:port/database")
        }
        let parsed: SQLPostgresConfiguration
        do {
            parsed = try SQLPostgresConfiguration(url: trimmed)
        } catch {
            throw ConfigError(key: "database.url", "not a valid PostgreSQL URL (\(error))")
        }
        let core = parsed.coreConfiguration
        guard let host = core.host else {
            throw ConfigError(key: "database.url", "the PostgreSQL URL must name a host")
        }
        let tls: PostgresEndpoint.TLSMode = core.tls.isEnforced ? .require : (core.tls.isAllowed ? .prefer : .disable)
        self = .postgres(PostgresEndpoint(
            host: host, port: core.port ?? 5432, username: core.username, password: core.password,
            database: core.database, tls: tls))
    }
}

/// A PostgreSQL server and database, with what both the pool and single connections (the
/// notification listener) need to reach it.
public struct PostgresEndpoint: Sendable {
    public enum TLSMode: Sendable { case disable, prefer, require }

    public let host: String
    public let port: Int
    public let username: String
    public let password: String?
    public let database: String?
    public let tls: TLSMode

    /// Without the password.
    public var redacted: String { "postgres://\(username)@\(host):\(port)/\(database ?? username)" }

    var clientConfiguration: PostgresClient.Configuration {
        let clientTLS: PostgresClient.Configuration.TLS = switch tls {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        return PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: clientTLS)
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let connectionTLS: PostgresConnection.Configuration.TLS = switch tls {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        return PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: connectionTLS)
    }
}

public enum DatabaseEngine: String, Sendable, CaseIterable {
    case sqlite
    case postgres
}

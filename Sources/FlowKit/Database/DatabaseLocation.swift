import Foundation
import NIOSSL
import PostgresKit

/// Where the data lives, parsed from `FLOW_DATABASE_URL`.
///
/// - `sqlite:PATH` (also `sqlite://PATH`, `sqlite:///ABSOLUTE/PATH`): a SQLite file; relative
///   paths are relative to the working directory; missing parent folders are created.
/// - `postgres://user:password@host:port/database?sslmode=disable` (or `postgresql://`): a
///   PostgreSQL server; `sslmode` / `tlsmode` accept disable, prefer (the default) and require.
/// - `postgres://user@/database?host=/var/run/postgresql` (libpq's form): a server on this
///   machine through its Unix socket in that directory (`.s.PGSQL.5432`, or the `port` given
///   as `?port=`). No TLS on a socket. Cheaper than loopback TCP: each round trip skips the
///   TCP stack on both sides.
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
        if let socket = try Self.unixSocketEndpoint(trimmed) {
            self = .postgres(socket)
            return
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
            address: .tcp(host: host, port: core.port ?? 5432), username: core.username, password: core.password,
            database: core.database, tls: tls))
    }

    /// libpq's Unix-socket form, `postgres://user:password@/database?host=/socket/dir[&port=N]`;
    /// nil for a URL without a `host` parameter that is a path.
    private static func unixSocketEndpoint(_ url: String) throws(ConfigError) -> PostgresEndpoint? {
        guard let components = URLComponents(string: url),
              let directory = components.queryItems?.first(where: { $0.name == "host" })?.value, directory.hasPrefix("/") else {
            return nil
        }
        func fail(_ message: String) -> ConfigError { ConfigError(key: "database.url", message) }
        guard components.queryItems?.filter({ $0.name == "host" }).count == 1 else {
            throw fail("give one host parameter (the socket folder)")
        }
        guard components.host?.isEmpty ?? true, components.port == nil else {
            throw fail("a Unix-socket URL names no host or port before the path: postgres://user@/database?host=\(directory)")
        }
        var port = 5432
        for item in components.queryItems ?? [] {
            switch (item.name, item.value ?? "") {
            case ("host", _): continue
            case ("port", let value):
                guard let number = Int(value), (1...65535).contains(number) else { throw fail("port '\(value)' is not a port number") }
                port = number
            // As libpq: TLS is never used on a socket, so modes that only allow it are fine.
            case ("sslmode", "disable"), ("sslmode", "allow"), ("sslmode", "prefer"),
                 ("tlsmode", "disable"), ("tlsmode", "allow"), ("tlsmode", "prefer"): continue
            case ("sslmode", _), ("tlsmode", _): throw fail("TLS is not available on a Unix socket; leave sslmode out or set it to disable or prefer")
            case (let name, _): throw fail("unknown parameter '\(name)' in the PostgreSQL URL")
            }
        }
        guard let username = components.user, !username.isEmpty else { throw fail("the PostgreSQL URL must name a user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        return PostgresEndpoint(
            address: .unixSocket(path: directory.hasSuffix("/") ? "\(directory).s.PGSQL.\(port)" : "\(directory)/.s.PGSQL.\(port)"),
            username: username, password: components.password, database: database.isEmpty ? nil : database, tls: .disable)
    }
}

/// A PostgreSQL server and database, with what both the pool and single connections (the
/// notification listener) need to reach it.
public struct PostgresEndpoint: Sendable {
    public enum TLSMode: Sendable { case disable, prefer, require }

    /// Where the server listens: a TCP host and port, or the path of a Unix socket file.
    public enum Address: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)
    }

    public let address: Address
    public let username: String
    public let password: String?
    public let database: String?
    public let tls: TLSMode

    /// Without the password.
    public var redacted: String {
        switch address {
        case .tcp(let host, let port): "postgres://\(username)@\(host):\(port)/\(database ?? username)"
        case .unixSocket(let path): "postgres://\(username)@/\(database ?? username) (socket \(path))"
        }
    }

    var clientConfiguration: PostgresClient.Configuration {
        let clientTLS: PostgresClient.Configuration.TLS = switch tls {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        return switch address {
        case .tcp(let host, let port):
            PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: clientTLS)
        case .unixSocket(let path):
            PostgresClient.Configuration(unixSocketPath: path, username: username, password: password, database: database)
        }
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let connectionTLS: PostgresConnection.Configuration.TLS = switch tls {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        return switch address {
        case .tcp(let host, let port):
            PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: connectionTLS)
        case .unixSocket(let path):
            PostgresConnection.Configuration(unixSocketPath: path, username: username, password: password, database: database)
        }
    }
}

public enum DatabaseEngine: String, Sendable, CaseIterable {
    case sqlite
    case postgres
}

import Configuration
import Foundation
import Logging
import SystemPackage

/// The validated settings of one `flow` process. Built once at start from (highest first) the
/// command line, `FLOW_*` environment variables, an optional JSON config file, and the defaults
/// in ``ConfigKeys``. Any unusable value stops the start with a ``ConfigError`` naming the key.
public struct FlowConfig: Sendable {
    public enum Environment: String, Sendable, CaseIterable {
        case development
        case production
    }

    public var environment: Environment
    public var host: String
    public var port: Int
    public var roles: Set<ServerRole>
    public var database: DatabaseLocation
    public var databaseOptions: Database.Options
    public var corsOrigins: [String]
    public var bodyLimit: Int
    public var logLevel: Logger.Level
    public var shutdownGrace: Duration
    public var trustProxy: Bool
    /// The HS256 signing secret of access tokens, if configured.
    public var jwtSecret: String?
    public var jwtIssuer: String
    public var jwtAudience: String
    /// PEM file of the Ed25519 or RSA private key that signs access tokens (instead of HS256).
    public var signingKeyFile: String?
    /// PEM files of retired keys: their tokens still verify, and they stay in the JWK Set.
    public var previousKeyFiles: [String]
    /// Sign-in attempts allowed per minute per client address and per account.
    public var loginsPerMinute: Int
    /// New accounts allowed per hour from one client address.
    public var registrationsPerHour: Int
    /// The operator token of the admin API, if configured.
    public var adminToken: String?
    public var busRetention: Duration
    /// How long a signed-out caller's rendered event may be served from memory; zero: never cached.
    public var eventCacheLifetime: Duration
    /// Where users reach Flow (links in mail); defaults to `http://<host>:<port>`.
    public var publicURLOverride: String?

    public var publicURL: String {
        publicURLOverride ?? "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    /// Defaults for everything: what a fresh checkout runs with.
    public init() {
        environment = .development
        host = "127.0.0.1"
        port = 8080
        roles = Set(ServerRole.allCases)
        database = try! DatabaseLocation(url: DatabaseLocation.defaultURL)
        databaseOptions = Database.Options()
        corsOrigins = []
        bodyLimit = 1 << 20
        logLevel = .info
        shutdownGrace = .seconds(10)
        trustProxy = false
        adminToken = nil
        jwtSecret = nil
        jwtIssuer = "flow"
        jwtAudience = "flow-api"
        signingKeyFile = nil
        previousKeyFiles = []
        loginsPerMinute = 5
        registrationsPerHour = 10
        publicURLOverride = nil
        busRetention = .seconds(7 * 86_400)
        eventCacheLifetime = .seconds(30)
    }

    /// Reads the configuration.
    /// - Parameters:
    ///   - environment: the process environment (tests pass their own).
    ///   - configFile: path of a JSON file whose nested keys mirror the dotted keys.
    ///   - overrides: values from command-line options, keyed like the file (`port`, `roles`).
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        configFile: String? = nil,
        overrides: [String: String] = [:]
    ) async throws(ConfigError) -> FlowConfig {
        var providers: [any ConfigProvider] = []
        providers.append(InMemoryProvider(name: "command line", values: Dictionary(uniqueKeysWithValues: overrides.map {
            (AbsoluteConfigKey(stringLiteral: $0.key), ConfigValue(.string($0.value), isSecret: false))
        })))
        providers.append(EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "flow"))
        if let configFile {
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(configFile)))
            } catch {
                throw ConfigError(key: "--config", "cannot read the config file \(configFile): \(error)")
            }
        }
        let reader = ConfigReader(providers: providers)
        let values = Values(reader: reader, environment: environment)

        var config = FlowConfig()
        if let raw = try await values.string("env") {
            guard let parsed = Environment(rawValue: raw.lowercased()) else {
                throw ConfigError(key: "env", "'\(raw)' is not one of development, production")
            }
            config.environment = parsed
        }
        if let host = try await values.string("host") {
            guard !host.isEmpty else { throw ConfigError(key: "host", "must not be empty") }
            config.host = host
        }
        if let port = try await values.int("port") {
            guard (0...65535).contains(port) else { throw ConfigError(key: "port", "\(port) is not a TCP port (0–65535)") }
            config.port = port
        }
        if let roles = try await values.list("roles") {
            config.roles = try ServerRole.parse(roles)
        }
        if let url = try await values.secret("database.url") {
            config.database = try DatabaseLocation(url: url)
        }
        if let poolSize = try await values.int("database.poolSize") {
            guard (1...500).contains(poolSize) else { throw ConfigError(key: "database.poolSize", "\(poolSize) is outside 1–500") }
            config.databaseOptions.poolSize = poolSize
        }
        if let timeout = try await values.int("database.acquireTimeout") {
            guard (1...300).contains(timeout) else { throw ConfigError(key: "database.acquireTimeout", "\(timeout) seconds is outside 1–300") }
            config.databaseOptions.acquireTimeout = .seconds(timeout)
        }
        if let size = try await values.int("database.statementCache") {
            guard (0...10_000).contains(size) else { throw ConfigError(key: "database.statementCache", "\(size) is outside 0–10000") }
            config.databaseOptions.statementCacheSize = size
        }
        if let raw = try await values.string("sqlite.synchronous") {
            guard let mode = Database.SQLiteSynchronous(rawValue: raw.lowercased()) else {
                throw ConfigError(key: "sqlite.synchronous", "'\(raw)' is not one of full, normal")
            }
            config.databaseOptions.sqliteSynchronous = mode
        }
        if let origins = try await values.list("cors.origins") {
            config.corsOrigins = try origins.map { origin throws(ConfigError) in try validateOrigin(origin) }
        }
        if let raw = try await values.string("bodyLimit") {
            config.bodyLimit = try parseByteSize(raw, key: "bodyLimit")
        }
        if let raw = try await values.string("log.level") {
            guard let level = Logger.Level(rawValue: raw.lowercased()) else {
                throw ConfigError(key: "log.level", "'\(raw)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            config.logLevel = level
        }
        if let grace = try await values.int("shutdown.grace") {
            guard (0...600).contains(grace) else { throw ConfigError(key: "shutdown.grace", "\(grace) seconds is outside 0–600") }
            config.shutdownGrace = .seconds(grace)
        }
        if let trust = try await values.bool("trustProxy") {
            config.trustProxy = trust
        }
        if let secret = try await values.secret("auth.jwtSecret") {
            try Self.validateSecret(secret, key: "auth.jwtSecret")
            config.jwtSecret = secret
        }
        if let issuer = try await values.string("auth.issuer") {
            guard !issuer.isEmpty else { throw ConfigError(key: "auth.issuer", "must not be empty") }
            config.jwtIssuer = issuer
        }
        if let audience = try await values.string("auth.audience") {
            guard !audience.isEmpty else { throw ConfigError(key: "auth.audience", "must not be empty") }
            config.jwtAudience = audience
        }
        if let path = try await values.string("auth.signingKeyFile"), !path.isEmpty {
            config.signingKeyFile = path
        }
        if let paths = try await values.list("auth.previousKeyFiles") {
            config.previousKeyFiles = paths
        }
        if let logins = try await values.int("auth.loginsPerMinute") {
            guard (1...10_000).contains(logins) else { throw ConfigError(key: "auth.loginsPerMinute", "\(logins) is outside 1–10000") }
            config.loginsPerMinute = logins
        }
        if let registrations = try await values.int("auth.registrationsPerHour") {
            guard (1...100_000).contains(registrations) else {
                throw ConfigError(key: "auth.registrationsPerHour", "\(registrations) is outside 1–100000")
            }
            config.registrationsPerHour = registrations
        }
        if let raw = try await values.string("publicUrl") {
            guard let url = URL(string: raw), ["http", "https"].contains(url.scheme ?? ""), url.host != nil, url.query == nil else {
                throw ConfigError(key: "publicUrl", "'\(raw)' is not an http(s) URL like https://flow.example.com")
            }
            config.publicURLOverride = raw.hasSuffix("/") ? String(raw.dropLast()) : raw
        }
        if let token = try await values.secret("admin.token") {
            guard token.count >= 24 else {
                throw ConfigError(key: "admin.token", "is too short to be a secret (at least 24 characters; `openssl rand -hex 32` makes one)")
            }
            config.adminToken = token
        }
        if let days = try await values.int("bus.retentionDays") {
            guard (1...3650).contains(days) else { throw ConfigError(key: "bus.retentionDays", "\(days) is outside 1–3650") }
            config.busRetention = .seconds(days * 86_400)
        }
        if let seconds = try await values.int("events.cacheSeconds") {
            guard (0...3600).contains(seconds) else { throw ConfigError(key: "events.cacheSeconds", "\(seconds) is outside 0–3600") }
            config.eventCacheLifetime = .seconds(seconds)
        }
        return config
    }

    /// Placeholders that ship in examples and tutorials; a server signing with one is forgeable.
    static let knownDefaultSecrets: Set<String> = [
        "secret", "changeme", "change-me", "your-secret-key", "your-secret-key-here-please-change-in-production",
        "supersecret", "jwt-secret", "development", "test", "password",
    ]

    static func validateSecret(_ secret: String, key: String) throws(ConfigError) {
        if knownDefaultSecrets.contains(secret.lowercased()) {
            throw ConfigError(key: key, "is a well-known placeholder; generate one with `openssl rand -hex 32`")
        }
        guard secret.utf8.count >= 32 else {
            throw ConfigError(key: key, "is too short to be a signing secret (at least 32 characters; `openssl rand -hex 32` makes one)")
        }
    }

    /// Refuses what production must not run without (called by `flow serve`).
    public func checkProductionSecrets() throws(ConfigError) {
        guard environment == .production else { return }
        guard jwtSecret != nil || signingKeyFile != nil else {
            throw ConfigError(key: "auth.jwtSecret", "or auth.signingKeyFile is required in production (tokens signed with a per-run secret would die with the process)")
        }
    }

    static func validateOrigin(_ origin: String) throws(ConfigError) -> String {
        if origin == "*" { return origin }
        guard let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme),
              url.host != nil, url.path.isEmpty || url.path == "/", url.query == nil
        else {
            throw ConfigError(key: "cors.origins", "'\(origin)' is not an origin like https://app.example.com (scheme, host and optional port only)")
        }
        return origin.hasSuffix("/") ? String(origin.dropLast()) : origin
    }

    /// `1048576`, `512KiB`, `2MiB`, `1MB` (decimal units are accepted and mean 1000s).
    static func parseByteSize(_ raw: String, key: String) throws(ConfigError) -> Int {
        let text = raw.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1)]
        var number = text
        var multiplier = 1
        for (suffix, factor) in units where text.uppercased().hasSuffix(suffix.uppercased()) {
            number = String(text.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            multiplier = factor
            break
        }
        guard let value = Int(number), value > 0, value <= (1 << 30) / multiplier else {
            throw ConfigError(key: key, "'\(raw)' is not a size between 1 byte and 1 GiB (examples: 1048576, 512KiB, 2MiB)")
        }
        return value * multiplier
    }
}

/// What a `flow serve` process does; each role can be deployed and scaled on its own.
public enum ServerRole: String, Sendable, CaseIterable, Comparable {
    /// The HTTP API.
    case api
    /// The Socket.IO gateway.
    case realtime
    /// Background work: bus consumers, scheduled jobs.
    case worker

    public static func < (lhs: ServerRole, rhs: ServerRole) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    public static func parse(_ names: [String]) throws(ConfigError) -> Set<ServerRole> {
        var roles = Set<ServerRole>()
        for name in names.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !name.isEmpty {
            guard let role = ServerRole(rawValue: name) else {
                throw ConfigError(key: "roles", "'\(name)' is not a role; use api, realtime, worker")
            }
            roles.insert(role)
        }
        guard !roles.isEmpty else { throw ConfigError(key: "roles", "at least one role is needed") }
        return roles
    }
}

/// Typed access to the providers with Flow's error reporting: a value of the wrong type is an
/// error naming the key (swift-configuration's non-throwing getters would fall back to the default).
private struct Values {
    let reader: ConfigReader
    let environment: [String: String]

    func string(_ key: String) async throws(ConfigError) -> String? {
        do {
            return try await reader.fetchString(forKey: ConfigKey(stringLiteral: key))
        } catch {
            // A number or boolean in the JSON file is fine where text is expected.
            if let number = try? await reader.fetchInt(forKey: ConfigKey(stringLiteral: key)) { return String(number) }
            if let flag = try? await reader.fetchBool(forKey: ConfigKey(stringLiteral: key)) { return String(flag) }
            throw ConfigError(key: key, "expected a single value")
        }
    }

    /// Numbers may arrive as text (environment, command line) or as JSON numbers (config file).
    func int(_ key: String) async throws(ConfigError) -> Int? {
        if let number = try? await reader.fetchInt(forKey: ConfigKey(stringLiteral: key)) { return number }
        guard let raw = try await string(key) else { return nil }
        guard let number = Int(raw.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigError(key: key, "'\(raw)' is not a whole number")
        }
        return number
    }

    func bool(_ key: String) async throws(ConfigError) -> Bool? {
        if let value = try? await reader.fetchBool(forKey: ConfigKey(stringLiteral: key)) { return value }
        guard let raw = try await string(key) else { return nil }
        switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "1", "on": return true
        case "false", "no", "0", "off": return false
        default: throw ConfigError(key: key, "'\(raw)' is not true or false")
        }
    }

    /// A comma-separated string or a JSON array.
    func list(_ key: String) async throws(ConfigError) -> [String]? {
        if let array = try? await reader.fetchStringArray(forKey: ConfigKey(stringLiteral: key)) {
            return array.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return try await string(key).map { text in
            text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    /// A secret from the providers, or from the file named by `<VARIABLE>_FILE` (Docker and
    /// Kubernetes secrets), never both.
    func secret(_ key: String) async throws(ConfigError) -> String? {
        let fileVariable = ConfigKeys.environmentName(for: key) + "_FILE"
        let direct: String?
        do {
            direct = try await reader.fetchString(forKey: ConfigKey(stringLiteral: key), isSecret: true)
        } catch {
            throw ConfigError(key: key, "expected text")
        }
        guard let path = environment[fileVariable] else { return direct }
        if direct != nil {
            throw ConfigError(key: key, "both \(ConfigKeys.environmentName(for: key)) (or the config file) and \(fileVariable) are set; keep one")
        }
        do {
            return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw ConfigError(key: key, "cannot read \(fileVariable)=\(path): \(error.localizedDescription)")
        }
    }
}

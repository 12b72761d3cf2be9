@testable import FlowKit
import Foundation
import Testing

@Suite("Configuration")
struct ConfigTests {
    @Test("defaults serve a fresh checkout on SQLite")
    func defaults() async throws {
        let config = try await FlowConfig.load(environment: [:])
        #expect(config.environment == .development)
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 8080)
        #expect(config.roles == [.api, .realtime, .worker])
        #expect(config.database.description == "sqlite:flow-data/flow.sqlite")
        #expect(config.bodyLimit == 1_048_576)
        #expect(config.corsOrigins.isEmpty)
        #expect(config.databaseOptions.sqliteSynchronous == .full)
        #expect(config.databaseOptions.statementCacheSize == Database.Options.defaultStatementCacheSize)
    }

    @Test("FLOW_* variables set every key")
    func environmentVariables() async throws {
        let config = try await FlowConfig.load(environment: [
            "FLOW_ENV": "production", "FLOW_HOST": "0.0.0.0", "FLOW_PORT": "9000", "FLOW_ROLES": "api, worker",
            "FLOW_DATABASE_URL": "postgres://app:s3cret@db.internal:5433/flow?sslmode=disable",
            "FLOW_DATABASE_POOL_SIZE": "12", "FLOW_DATABASE_ACQUIRE_TIMEOUT": "3", "FLOW_SQLITE_SYNCHRONOUS": "normal",
            "FLOW_DATABASE_STATEMENT_CACHE": "0",
            "FLOW_CORS_ORIGINS": "https://app.example.com, http://localhost:5173/", "FLOW_BODY_LIMIT": "512KiB",
            "FLOW_LOG_LEVEL": "debug", "FLOW_SHUTDOWN_GRACE": "30", "FLOW_TRUST_PROXY": "true",
        ])
        #expect(config.environment == .production)
        #expect(config.host == "0.0.0.0")
        #expect(config.port == 9000)
        #expect(config.roles == [.api, .worker])
        #expect(config.database.engine == .postgres)
        #expect(config.database.description == "postgres://app@db.internal:5433/flow")
        #expect(!config.database.description.contains("s3cret"))
        #expect(config.databaseOptions.poolSize == 12)
        #expect(config.databaseOptions.acquireTimeout == .seconds(3))
        #expect(config.databaseOptions.sqliteSynchronous == .normal)
        #expect(config.databaseOptions.statementCacheSize == 0)
        #expect(config.corsOrigins == ["https://app.example.com", "http://localhost:5173"])
        #expect(config.bodyLimit == 512 * 1024)
        #expect(config.logLevel == .debug)
        #expect(config.shutdownGrace == .seconds(30))
        #expect(config.trustProxy)
    }

    @Test("an invalid value stops the start and names the variable", arguments: [
        ("FLOW_PORT", "eighty", "FLOW_PORT"),
        ("FLOW_PORT", "70000", "FLOW_PORT"),
        ("FLOW_ENV", "staging", "FLOW_ENV"),
        ("FLOW_ROLES", "api,web", "FLOW_ROLES"),
        ("FLOW_DATABASE_URL", "mysql://x", "FLOW_DATABASE_URL"),
        ("FLOW_BODY_LIMIT", "lots", "FLOW_BODY_LIMIT"),
        ("FLOW_LOG_LEVEL", "loud", "FLOW_LOG_LEVEL"),
        ("FLOW_CORS_ORIGINS", "app.example.com", "FLOW_CORS_ORIGINS"),
        ("FLOW_TRUST_PROXY", "maybe", "FLOW_TRUST_PROXY"),
        ("FLOW_SQLITE_SYNCHRONOUS", "off", "FLOW_SQLITE_SYNCHRONOUS"),
        ("FLOW_DATABASE_POOL_SIZE", "0", "FLOW_DATABASE_POOL_SIZE"),
        ("FLOW_DATABASE_STATEMENT_CACHE", "-1", "FLOW_DATABASE_STATEMENT_CACHE"),
    ])
    func invalidValues(variable: String, value: String, named: String) async throws {
        let error = await #expect(throws: ConfigError.self) {
            try await FlowConfig.load(environment: [variable: value])
        }
        #expect(error?.description.contains(named) == true)
    }

    @Test("secrets come from a variable or from <VARIABLE>_FILE, not both")
    func secretFiles() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("flow-secret-\(UUID().uuidString)")
        try "postgres://app:pw@db:5432/flow\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }

        let fromFile = try await FlowConfig.load(environment: ["FLOW_DATABASE_URL_FILE": file.path])
        #expect(fromFile.database.description == "postgres://app@db:5432/flow")

        let both = await #expect(throws: ConfigError.self) {
            try await FlowConfig.load(environment: ["FLOW_DATABASE_URL_FILE": file.path, "FLOW_DATABASE_URL": "sqlite:x.db"])
        }
        #expect(both?.description.contains("keep one") == true)

        let missing = await #expect(throws: ConfigError.self) {
            try await FlowConfig.load(environment: ["FLOW_DATABASE_URL_FILE": "/nonexistent/secret"])
        }
        #expect(missing?.description.contains("FLOW_DATABASE_URL") == true)
    }

    @Test("a JSON config file sets nested keys; variables and the command line win over it")
    func configFilePrecedence() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("flow-config-\(UUID().uuidString).json")
        try #"{"port": 7000, "host": "10.0.0.1", "database": {"poolSize": 3}, "cors": {"origins": ["https://a.example"]}, "log": {"level": "warning"}}"#
            .write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }

        let config = try await FlowConfig.load(environment: ["FLOW_HOST": "0.0.0.0"], configFile: file.path, overrides: ["roles": "api"])
        #expect(config.port == 7000)
        #expect(config.host == "0.0.0.0")
        #expect(config.databaseOptions.poolSize == 3)
        #expect(config.corsOrigins == ["https://a.example"])
        #expect(config.logLevel == .warning)
        #expect(config.roles == [.api])

        let overridden = try await FlowConfig.load(environment: ["FLOW_PORT": "7001"], configFile: file.path, overrides: ["port": "7002"])
        #expect(overridden.port == 7002)

        let unreadable = await #expect(throws: ConfigError.self) {
            try await FlowConfig.load(environment: [:], configFile: "/nonexistent/flow.json")
        }
        #expect(unreadable?.description.contains("config file") == true)
    }

    @Test("database URLs", arguments: [
        ("sqlite:flow-data/flow.sqlite", "sqlite:flow-data/flow.sqlite"),
        ("sqlite://relative/x.db", "sqlite:relative/x.db"),
        ("sqlite:///var/lib/flow/x.db", "sqlite:/var/lib/flow/x.db"),
        ("postgresql://u:p@h/d", "postgres://u@h:5432/d"),
        ("postgres://u:p@/d?host=/var/run/postgresql", "postgres://u@/d (socket /var/run/postgresql/.s.PGSQL.5432)"),
        ("postgres://u@/d?host=/tmp/pg/&port=5433&sslmode=disable", "postgres://u@/d (socket /tmp/pg/.s.PGSQL.5433)"),
        ("postgres://u@/d?sslmode=prefer&host=/run/pg", "postgres://u@/d (socket /run/pg/.s.PGSQL.5432)"),
    ])
    func databaseURLs(url: String, described: String) throws {
        #expect(try DatabaseLocation(url: url).description == described)
    }

    @Test("Unix-socket PostgreSQL URLs that cannot work are refused with the reason", arguments: [
        ("postgres://u@/d?host=/run/pg&sslmode=require", "TLS is not available"),
        ("postgres://u@db:5432/d?host=/run/pg", "names no host or port"),
        ("postgres://u@/d?host=/run/pg&port=http", "not a port number"),
        ("postgres://u@/d?host=/run/pg&pool=3", "unknown parameter 'pool'"),
        ("postgres://u@/d?host=/run/pg&host=/run/other", "one host parameter"),
        ("postgres:///d?host=/run/pg", "must name a user"),
    ])
    func unixSocketURLErrors(url: String, reason: String) {
        #expect {
            try DatabaseLocation(url: url)
        } throws: { error in
            (error as? ConfigError)?.description.contains(reason) == true
        }
    }

    @Test("byte sizes")
    func byteSizes() throws {
        #expect(try FlowConfig.parseByteSize("1048576", key: "bodyLimit") == 1_048_576)
        #expect(try FlowConfig.parseByteSize("2MiB", key: "bodyLimit") == 2_097_152)
        #expect(try FlowConfig.parseByteSize("10 kb", key: "bodyLimit") == 10_000)
        #expect(throws: ConfigError.self) { try FlowConfig.parseByteSize("0", key: "bodyLimit") }
        #expect(throws: ConfigError.self) { try FlowConfig.parseByteSize("2GiB", key: "bodyLimit") }
    }

    @Test("signing secrets: placeholders and short ones refused; production needs one")
    func signingSecrets() async throws {
        let placeholder = await #expect(throws: ConfigError.self) {
            try await FlowConfig.load(environment: ["FLOW_AUTH_JWT_SECRET": "your-secret-key-here-please-change-in-production"])
        }
        #expect(placeholder?.description.contains("placeholder") == true)
        await #expect(throws: ConfigError.self) { try await FlowConfig.load(environment: ["FLOW_AUTH_JWT_SECRET": "short"]) }
        let production = try await FlowConfig.load(environment: ["FLOW_ENV": "production"])
        let missing = #expect(throws: ConfigError.self) { try production.checkProductionSecrets() }
        #expect(missing?.description.contains("FLOW_AUTH_JWT_SECRET") == true)
        let configured = try await FlowConfig.load(environment: ["FLOW_ENV": "production", "FLOW_AUTH_JWT_SECRET": String(repeating: "s", count: 40)])
        try configured.checkProductionSecrets()
        try await FlowConfig.load(environment: [:]).checkProductionSecrets()  // development needs none
    }

    @Test("unknown FLOW_ variables are reported as likely typos")
    func unknownVariables() {
        let unknown = ConfigKeys.unknownVariables(in: ["FLOW_PROT": "1", "FLOW_PORT": "1", "FLOW_DATABASE_URL_FILE": "x", "PATH": "/bin"])
        #expect(unknown == ["FLOW_PROT"])
    }

    @Test("environment names follow swift-configuration's mapping")
    func environmentNames() {
        #expect(ConfigKeys.environmentName(for: "database.poolSize") == "FLOW_DATABASE_POOL_SIZE")
        #expect(ConfigKeys.environmentName(for: "bodyLimit") == "FLOW_BODY_LIMIT")
        #expect(ConfigKeys.environmentName(for: "trustProxy") == "FLOW_TRUST_PROXY")
    }
}

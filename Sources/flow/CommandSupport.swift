import ArgumentParser
import FlowApp
import FlowKit
import Foundation
import Logging

/// Options every subcommand that touches configuration accepts.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "A JSON config file whose keys mirror the FLOW_* variables (see `flow config --keys`).")
    var config: String?

    /// Loads and validates the configuration; an invalid value ends the command with exit code 78
    /// (EX_CONFIG) and a message naming the variable.
    func load(overrides: [String: String] = [:]) async throws -> FlowConfig {
        do {
            return try await FlowConfig.load(configFile: config, overrides: overrides)
        } catch {
            FileHandle.standardError.write(Data("flow: \(error)\n".utf8))
            throw ExitCode(78)
        }
    }
}

enum CommandLogging {
    /// JSON lines on standard output at the configured level; warns about unknown FLOW_* variables.
    static func bootstrap(_ config: FlowConfig) -> Logger {
        LoggingSystem.bootstrap { label in
            JSONLogHandler(label: label, level: config.logLevel)
        }
        let logger = Logger(label: "flow")
        let unknown = ConfigKeys.unknownVariables(in: ProcessInfo.processInfo.environment)
        if !unknown.isEmpty {
            logger.warning("ignoring unknown configuration variables (typos?)", metadata: ["variables": "\(unknown.joined(separator: ","))"])
        }
        return logger
    }
}

extension Database {
    /// Opens the configured database for a one-off command, builds the domains on it, and
    /// closes it afterwards.
    static func withConfigured<T>(_ config: FlowConfig, logger: Logger, _ body: (Database, FlowModules) async throws -> T) async throws -> T {
        FlowMetrics.bootstrap()
        let database = try await Database.open(config.database, options: config.databaseOptions, logger: logger)
        return try await database.withRunning {
            let modules = try await FlowModules.build(ModuleContext(config: config, database: database, admin: AdminAccess(token: config.adminToken), logger: logger))
            return try await body(database, modules)
        }
    }
}

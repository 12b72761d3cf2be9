import ArgumentParser
import FlowApp
import FlowKit
import Foundation

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server: HTTP API, realtime gateway and background worker.",
        discussion: """
            Stops on SIGTERM or SIGINT: the listener closes, in-flight requests get up to \
            FLOW_SHUTDOWN_GRACE seconds to finish, then the database is closed.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Comma-separated roles to run: api, realtime, worker (default: all, or FLOW_ROLES).")
    var roles: String?

    @Option(help: "Address to listen on (overrides FLOW_HOST).")
    var host: String?

    @Option(help: "Port to listen on (overrides FLOW_PORT).")
    var port: Int?

    @Flag(help: "Apply pending migrations before serving. Always on in development; in production the server otherwise refuses an outdated schema.")
    var migrate = false

    func run() async throws {
        var overrides: [String: String] = [:]
        if let roles { overrides["roles"] = roles }
        if let host { overrides["host"] = host }
        if let port { overrides["port"] = String(port) }
        let config = try await options.load(overrides: overrides)
        let logger = CommandLogging.bootstrap(config)
        let policy: FlowServer.MigrationPolicy = (config.environment == .development || migrate) ? .apply : .requireCurrent
        do {
            let server = try await FlowServer.build(config: config, migrationPolicy: policy, logger: logger)
            try await server.run()
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("flow: \(error)\n".utf8))
            throw ExitCode(78)
        } catch {
            logger.critical("flow serve stopped on an error", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }
}

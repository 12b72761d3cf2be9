import ArgumentParser
import FlowApp
import FlowKit
import Foundation

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations (default), or show their status.",
        subcommands: [Up.self, Status.self],
        defaultSubcommand: Up.self)

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply every pending migration, each in its own transaction.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let config = try await options.load()
            let logger = CommandLogging.bootstrap(config)
            do {
                let applied = try await Database.withConfigured(config, logger: logger) { database, modules in
                    try await Migrator(database: database, sets: modules.all.migrationSets, logger: logger).migrate()
                }
                print(applied.isEmpty ? "Schema is current; nothing to apply." : "Applied \(applied.count) migration(s):\n" + applied.map { "  \($0.label)" }.joined(separator: "\n"))
            } catch {
                FileHandle.standardError.write(Data("flow migrate: \(error)\n".utf8))
                throw ExitCode.failure
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every migration and whether it is applied, pending or changed.")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let config = try await options.load()
            let logger = CommandLogging.bootstrap(config)
            let statuses: [MigrationStatus]
            do {
                statuses = try await Database.withConfigured(config, logger: logger) { database, modules in
                    try await Migrator(database: database, sets: modules.all.migrationSets, logger: logger).status()
                }
            } catch {
                FileHandle.standardError.write(Data("flow migrate status: \(error)\n".utf8))
                throw ExitCode.failure
            }
            print("Database: \(config.database)")
            if statuses.isEmpty { print("No migrations are defined yet.") }
            for status in statuses {
                let state: String
                switch status.state {
                case .applied(let at): state = "applied \(RFC3339.format(at))"
                case .pending: state = "PENDING"
                case .changed: state = "CHANGED since applied (refused)"
                case .unknown: state = "UNKNOWN to this binary (refused)"
                }
                print("  \(status.label.padding(toLength: 48, withPad: " ", startingAt: 0)) \(state)")
            }
            let refused = statuses.contains { status in
                switch status.state {
                case .changed, .unknown: true
                case .applied, .pending: false
                }
            }
            if refused { throw ExitCode.failure }
        }
    }
}

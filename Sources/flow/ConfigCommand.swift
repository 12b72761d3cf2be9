import ArgumentParser
import FlowKit

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check the configuration and print the values in effect (secrets hidden).")

    @OptionGroup var options: ConfigOptions

    @Flag(help: "List every configuration key with its default instead.")
    var keys = false

    @Flag(help: "With --keys: print the list as the Markdown table used in the README.")
    var markdown = false

    func run() async throws {
        if keys {
            if markdown {
                print(ConfigKeys.markdownTable())
            } else {
                for entry in ConfigKeys.all {
                    print("\(entry.environmentName.padding(toLength: 32, withPad: " ", startingAt: 0)) default \(entry.defaultValue)\n    \(entry.summary)")
                }
            }
            return
        }
        let config = try await options.load()
        let rows: [(String, String)] = [
            ("env", config.environment.rawValue),
            ("host", config.host),
            ("port", String(config.port)),
            ("roles", config.roles.sorted().map(\.rawValue).joined(separator: ",")),
            ("database.url", config.database.description),
            ("database.poolSize", String(config.databaseOptions.poolSize)),
            ("database.acquireTimeout", "\(config.databaseOptions.acquireTimeout)"),
            ("sqlite.synchronous", config.databaseOptions.sqliteSynchronous.rawValue),
            ("cors.origins", config.corsOrigins.isEmpty ? "(none)" : config.corsOrigins.joined(separator: ",")),
            ("bodyLimit", "\(config.bodyLimit) bytes"),
            ("log.level", config.logLevel.rawValue),
            ("shutdown.grace", "\(config.shutdownGrace)"),
            ("admin.token", config.adminToken == nil ? "(not set)" : "(set, hidden)"),
            ("bus.retentionDays", "\(config.busRetention.components.seconds / 86_400)"),
            ("trustProxy", String(config.trustProxy)),
        ]
        for (key, value) in rows {
            print("\(ConfigKeys.environmentName(for: key).padding(toLength: 32, withPad: " ", startingAt: 0)) \(value)")
        }
    }
}

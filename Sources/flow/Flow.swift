import ArgumentParser
import FlowKit

@main
struct Flow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "Flow: event discovery and social meet-ups, in one server.",
        discussion: "Configuration comes from FLOW_* environment variables and an optional JSON file (--config); `flow config --keys` lists every key.",
        version: FlowVersion.current,
        subcommands: [ServeCommand.self, MigrateCommand.self, BusCommand.self, UsersCommand.self, SeedCommand.self, MailboxCommand.self, ConfigCommand.self])
}

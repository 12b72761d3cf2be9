import ArgumentParser
import FlowApp
import FlowKit
import Foundation

/// `flow mailbox`: the mail the server would have sent, while no mail provider is configured.
struct MailboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailbox",
        abstract: "Show mail kept in the development mailbox (verification links, reset tokens), newest first.")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Only mail to this address.") var to: String?
    @Option(help: "How many messages (1–100).") var limit = 10
    @Flag(help: "One JSON object per line instead of text.") var json = false

    func validate() throws {
        guard (1...PageRequest.maximumLimit).contains(limit) else { throw ValidationError("--limit must be 1–\(PageRequest.maximumLimit)") }
    }

    func run() async throws {
        let config = try await options.load()
        let logger = CommandLogging.bootstrap(config)
        let page = try await Database.withConfigured(config, logger: logger) { database, modules in
            try await Migrator(database: database, sets: modules.all.migrationSets, logger: logger).verifyCurrent()
            return try await modules.mailbox.messages(to: to, page: PageRequest(limit: limit))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for message in page.items { print(String(decoding: try encoder.encode(message), as: UTF8.self)) }
            return
        }
        if page.items.isEmpty { print("The mailbox is empty.") }
        for message in page.items {
            print("── \(RFC3339.format(message.sentAt))  to \(message.to)  [\(message.kind)]")
            print("Subject: \(message.subject)\n")
            print(message.text + "\n")
        }
    }
}

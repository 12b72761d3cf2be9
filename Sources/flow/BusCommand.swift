import ArgumentParser
import Bus
import FlowApp
import FlowKit
import Foundation

struct BusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bus",
        abstract: "Inspect the event bus: backlog per consumer group, dead letters, replay, pruning.",
        subcommands: [Status.self, DeadLetters.self, Replay.self, Prune.self],
        defaultSubcommand: Status.self)

    /// A replay that queued nothing, and why (printed as the command's one-line failure).
    struct NothingReplayed: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Runs `body` with the configured database's bus; failures print one line and exit 1.
    static func withBus<T>(_ options: ConfigOptions, _ body: (EventBus) async throws -> T) async throws -> T {
        let config = try await options.load()
        let logger = CommandLogging.bootstrap(config)
        do {
            return try await Database.withConfigured(config, logger: logger) { _, modules in try await body(modules.bus) }
        } catch {
            FileHandle.standardError.write(Data("flow bus: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Backlog, lag and dead letters of every consumer group.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let statuses = try await BusCommand.withBus(options) { try await $0.status() }
            if statuses.isEmpty { print("No consumer groups are registered and no deliveries are stored.") }
            print("GROUP".padding(toLength: 36, withPad: " ", startingAt: 0) + "  PENDING  IN FLIGHT  RETRYING  OLDEST (s)  DEAD")
            for status in statuses {
                let name = status.group + (status.registered ? "" : " (unregistered)")
                let oldest = status.oldestPendingSeconds.map { String(format: "%.1f", $0) } ?? "-"
                let padded = String(repeating: " ", count: max(0, 10 - oldest.count)) + oldest
                print(name.padding(toLength: 36, withPad: " ", startingAt: 0)
                      + String(format: "  %7d  %9d  %8d  ", status.pending, status.inFlight, status.retrying)
                      + padded + String(format: "  %4d", status.deadLetters))
            }
        }
    }

    struct DeadLetters: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "dead-letters", abstract: "List dead letters, oldest first.")
        @OptionGroup var options: ConfigOptions
        @Option(help: "Only this consumer group.") var group: String?
        @Option(help: "Only this event type.") var type: String?
        @Option(help: "How many to show (1–100).") var limit = 20
        @Option(help: "Continue after this cursor (printed below a full page).") var cursor: String?

        func run() async throws {
            guard (1...PageRequest.maximumLimit).contains(limit) else {
                throw ValidationError("--limit must be between 1 and \(PageRequest.maximumLimit)")
            }
            let after = try cursor.map { text -> [String] in
                guard let values = PageRequest.decode(cursor: text) else { throw ValidationError("--cursor is not a cursor printed by this command") }
                return values
            }
            let page = try await BusCommand.withBus(options) { bus in
                try await bus.deadLetters(group: group, type: type, page: PageRequest(limit: limit, after: after))
            }
            if page.items.isEmpty { print("No dead letters.") }
            for letter in page.items {
                print("\(letter.id)  \(letter.group)  \(letter.event.type) (event \(letter.event.id))  attempts \(letter.attempts)  failed \(RFC3339.format(letter.failedAt))")
                print("    last error: \(letter.lastError)")
            }
            if let next = page.nextCursor { print("more: flow bus dead-letters --cursor \(next)") }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deliver again: one dead letter, the dead letters of a group or type, one event or a group's events since a time.",
            discussion: """
                flow bus replay --dead-letter ID
                flow bus replay --event ID --group G        (one retained event to G, handled before or not)
                flow bus replay --group G [--type T]        (dead letters of G, of type T)
                flow bus replay --type T                    (dead letters of type T, any group)
                flow bus replay --group G --since 2026-05-01T00:00:00Z   (every retained event of G's types since then)
                """)
        @OptionGroup var options: ConfigOptions
        @Option(name: .customLong("dead-letter"), help: "The id of one dead letter.") var deadLetter: String?
        @Option(help: "The id of one retained event, delivered again to --group.") var event: String?
        @Option(help: "A consumer group.") var group: String?
        @Option(help: "An event type.") var type: String?
        @Option(help: "Replay the group's events from this RFC 3339 time instead of its dead letters.") var since: String?

        func validate() throws {
            if deadLetter != nil, group != nil || type != nil || since != nil {
                throw ValidationError("--dead-letter replays one dead letter; do not combine it with other options")
            }
            if deadLetter == nil, event == nil, group == nil, type == nil {
                throw ValidationError("say what to replay: --dead-letter ID, --event ID --group G, --group G, or --type T")
            }
            if event != nil, group == nil || type != nil || since != nil || deadLetter != nil {
                throw ValidationError("--event replays one event to one group: give --group and nothing else")
            }
            if let since {
                guard group != nil, type == nil else { throw ValidationError("--since replays one group: give --group and no --type") }
                guard RFC3339.parse(since) != nil else { throw ValidationError("--since must be an RFC 3339 time such as 2026-05-01T00:00:00Z") }
            }
        }

        func run() async throws {
            let message = try await BusCommand.withBus(options) { bus -> String in
                if let deadLetter {
                    guard try await bus.replayDeadLetter(id: deadLetter) else { return "No dead letter has the id \(deadLetter)." }
                    return "Dead letter \(deadLetter) queued again."
                }
                if let event, let group {
                    // Only a queued event exits 0, as only it answers 200 on the API.
                    switch try await bus.replay(event: event, group: group) {
                    case .queued: return "Event \(event) queued again for \(group)."
                    case .pending: throw NothingReplayed("event \(event) is still pending for \(group); it comes anyway")
                    case .deadLettered: throw NothingReplayed("event \(event) is a dead letter of \(group): use --dead-letter with its id (flow bus dead-letters --group \(group))")
                    case .notSubscribed(let type): throw NothingReplayed("\(group) does not subscribe to \(type), the type of event \(event)")
                    case .unknownEvent: throw NothingReplayed("no retained event has the id \(event)")
                    }
                }
                if let since, let group, let start = RFC3339.parse(since) {
                    return "Queued \(try await bus.replay(group: group, since: start)) event(s) for \(group)."
                }
                return "Queued \(try await bus.replayDeadLetters(group: group, type: type)) dead letter(s) again."
            }
            print(message)
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete handled events older than the retention (FLOW_BUS_RETENTION_DAYS) now.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let config = try await options.load()
            let pruned = try await BusCommand.withBus(options) { try await $0.prune(retention: config.busRetention) }
            print("Pruned \(pruned) event(s).")
        }
    }
}

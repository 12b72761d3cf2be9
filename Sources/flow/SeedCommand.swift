import ArgumentParser
import Events
import FlowApp
import FlowKit
import Foundation

/// `flow seed`: demo data for newcomers, or many synthetic events for benchmarks.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Fill the database: --demo (venues, users, a few hundred events with activity) or --events N (synthetic, for benchmarks).",
        discussion: "Demo accounts are demo1@flow.test … demo10@flow.test with the password 'flow demo password'. Applies pending migrations first.")

    @OptionGroup var options: ConfigOptions
    @Flag(help: "Create demo venues, users and events with attendance, likes and comments.") var demo = false
    @Option(help: "Create this many synthetic published events.") var events: Int?
    @Option(help: "City to centre on: \(SeedCity.all.keys.sorted().joined(separator: ", ")).") var city = "lisbon"
    @Option(help: "Random seed (the same seed makes the same events).") var seed: UInt64 = 42

    static let demoPassword = "flow demo password"

    func validate() throws {
        guard demo || events != nil else { throw ValidationError("give --demo or --events N") }
        if let events, !(1...10_000_000).contains(events) { throw ValidationError("--events must be 1–10000000") }
        guard SeedCity.all[city] != nil else { throw ValidationError("--city must be one of \(SeedCity.all.keys.sorted().joined(separator: ", "))") }
    }

    func run() async throws {
        let config = try await options.load()
        let logger = CommandLogging.bootstrap(config)
        let place = SeedCity.all[city]!
        try await Database.withConfigured(config, logger: logger) { database, modules in
            try await Migrator(database: database, sets: modules.all.migrationSets, logger: logger).migrate()
            var users: [AuthenticatedUser] = []
            for index in 1...10 {
                users.append(try await modules.identity.ensureAccount(email: "demo\(index)@flow.test", username: "demo\(index)", password: Self.demoPassword))
            }
            let seeder = EventSeeder(service: modules.events)
            if demo {
                let summary = try await seeder.seedDemo(users: users, city: place)
                if summary.alreadySeeded {
                    print("Demo data is already here (the demo accounts own \(summary.venues) venues); nothing added.")
                } else {
                    print("Demo data around \(place.name): \(summary.venues) venues, \(summary.events) events, \(summary.attendances) attendances.")
                }
                print("Sign in as demo1@flow.test … demo10@flow.test with the password '\(Self.demoPassword)'.")
            }
            if let events {
                let bar = ProgressBar(total: events)
                let started = ContinuousClock.now
                try await seeder.seedSynthetic(count: events, organizerIds: users.map(\.id), city: place, seed: seed) { bar.update($0) }
                let seconds = (ContinuousClock.now - started) / .seconds(1)
                bar.finish()
                print("Seeded \(events) events around \(place.name) in \(String(format: "%.1f", seconds)) s (\(Int(Double(events) / max(seconds, 0.001))) events/s).")
            }
        }
    }
}

/// A progress bar on standard error: redrawn in place on a terminal, a line per 10% otherwise.
final class ProgressBar: @unchecked Sendable {
    let total: Int
    let interactive = isatty(STDERR_FILENO) != 0
    private var lastTenth = -1
    private let lock = NSLock()
    private let started = Date()

    init(total: Int) { self.total = total }

    func update(_ done: Int) {
        lock.lock(); defer { lock.unlock() }
        let fraction = Double(done) / Double(max(total, 1))
        let rate = Int(Double(done) / max(Date().timeIntervalSince(started), 0.001))
        if interactive {
            let width = 30
            let filled = Int(fraction * Double(width))
            let line = "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(Int(fraction * 100))% \(done)/\(total) \(rate)/s"
            FileHandle.standardError.write(Data(line.utf8))
        } else if Int(fraction * 10) > lastTenth {
            lastTenth = Int(fraction * 10)
            FileHandle.standardError.write(Data("seeded \(done)/\(total) (\(Int(fraction * 100))%, \(rate)/s)\n".utf8))
        }
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

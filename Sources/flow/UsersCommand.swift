import ArgumentParser
import FlowApp
import FlowKit
import Foundation

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage accounts from the command line.",
        subcommands: [CreateAdmin.self])

    struct CreateAdmin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-admin",
            abstract: "Create an admin account, or give an existing account (same email) the admin role.",
            discussion: "The password is read from standard input (one line), so it stays out of the shell history: echo \"$PASSWORD\" | flow users create-admin --email … --username …")

        @OptionGroup var options: ConfigOptions
        @Option(help: "The admin's email address.") var email: String
        @Option(help: "The admin's username (3–30 letters, digits, . _ -).") var username: String

        func run() async throws {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw ValidationError("give the password on standard input")
            }
            let config = try await options.load()
            let logger = CommandLogging.bootstrap(config)
            do {
                let account = try await Database.withConfigured(config, logger: logger) { database, modules in
                    try await Migrator(database: database, sets: modules.all.migrationSets, logger: logger).verifyCurrent()
                    return try await modules.identity.createAdmin(email: email, username: username, password: line)
                }
                print("Admin \(account.username) <\(account.email)> (\(account.id)) is ready.")
            } catch let error as APIError {
                FileHandle.standardError.write(Data("flow users create-admin: \(error.message)\n".utf8))
                throw ExitCode(65)
            } catch {
                FileHandle.standardError.write(Data("flow users create-admin: \(error)\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}

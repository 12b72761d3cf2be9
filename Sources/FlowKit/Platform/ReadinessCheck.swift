import Foundation
import Logging

/// Decides whether this process should receive traffic: the database must answer a query
/// within `timeout` and every migration must be applied. Each probe runs the checks afresh, so
/// readiness returns by itself when the database comes back.
public struct ReadinessCheck: Sendable {
    let database: Database
    let migrator: Migrator
    let timeout: Duration

    public init(database: Database, migrator: Migrator, timeout: Duration = .seconds(2)) {
        self.database = database
        self.migrator = migrator
        self.timeout = timeout
    }

    public func run() async -> ReadinessReport {
        let started = ContinuousClock.now
        var databaseCheck: String
        var schemaCheck: String
        do {
            try await database.ping(timeout: timeout)
            databaseCheck = "ok"
        } catch {
            databaseCheck = "unreachable: \(error)"
        }
        if databaseCheck == "ok" {
            do {
                let migrator = migrator
                try await withDeadline(timeout, failure: DatabaseError(.unavailable, message: "schema check timed out")) {
                    try await migrator.verifyCurrent()
                }
                schemaCheck = "ok"
            } catch {
                schemaCheck = "\(error)"
            }
        } else {
            schemaCheck = "unknown: the database is unreachable"
        }
        let elapsed = ContinuousClock.now - started
        return ReadinessReport(
            engine: database.engine.rawValue, database: databaseCheck, schema: schemaCheck,
            milliseconds: Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
    }
}

public struct ReadinessReport: Sendable, Encodable {
    public let engine: String
    public let database: String
    public let schema: String
    public let milliseconds: Double

    public var ready: Bool { database == "ok" && schema == "ok" }

    var summary: String {
        database != "ok" ? "Not ready: the database is \(database)." : "Not ready: the schema is not current: \(schema)."
    }

    var checksJSON: JSONValue {
        ["database": .string(database), "schema": .string(schema), "engine": .string(engine)]
    }

    func encoded() -> String {
        let body: JSONValue = [
            "status": "ready", "engine": .string(engine),
            "checks": ["database": .string(database), "schema": .string(schema)],
            "durationMs": .number((milliseconds * 100).rounded() / 100),
        ]
        let data = (try? JSONEncoder().encode(body)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static let schema: JSONValue = [
        "type": "object", "required": ["status", "engine", "checks", "durationMs"],
        "properties": [
            "status": ["type": "string", "enum": ["ready"]],
            "engine": ["type": "string", "enum": ["sqlite", "postgres"]],
            "checks": [
                "type": "object", "required": ["database", "schema"],
                "properties": ["database": ["type": "string"], "schema": ["type": "string"]],
            ],
            "durationMs": ["type": "number"],
        ],
    ]
}

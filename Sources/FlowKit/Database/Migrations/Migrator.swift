import Foundation
import Logging
import SQLKit

/// Applies and checks the migrations of every domain against one database.
///
/// Each migration runs in its own transaction together with its bookkeeping row, so a failed
/// migration leaves neither its changes nor a record. On PostgreSQL a transaction-scoped advisory
/// lock serialises instances that start at the same time; on SQLite the single writer does.
public struct Migrator: Sendable {
    public let database: Database
    public let sets: [MigrationSet]
    private let logger: Logger

    static let table = "flow_schema_migrations"
    /// Arbitrary constant naming Flow's migration lock in `pg_advisory_xact_lock`.
    private static let advisoryLockKey = 7_346_110_001

    public init(database: Database, sets: [MigrationSet], logger: Logger) {
        self.database = database
        self.sets = sets
        self.logger = logger
    }

    /// Every known and recorded migration with its state, in apply order.
    public func status() async throws -> [MigrationStatus] {
        let recorded = try await recordedMigrations()
        var result: [MigrationStatus] = []
        var known = Set<String>()
        for set in sets {
            for migration in set.migrations {
                let key = "\(set.domain)#\(migration.version)"
                known.insert(key)
                let state: MigrationStatus.State
                if let row = recorded[key] {
                    let current = migration.checksum(for: database.engine)
                    state = row.checksum == current ? .applied(at: row.appliedAt) : .changed(recorded: row.checksum, current: current)
                } else {
                    state = .pending
                }
                result.append(MigrationStatus(domain: set.domain, version: migration.version, name: migration.name, state: state))
            }
        }
        for (key, row) in recorded.sorted(by: { $0.key < $1.key }) where !known.contains(key) {
            result.append(MigrationStatus(domain: row.domain, version: row.version, name: row.name, state: .unknown))
        }
        return result
    }

    /// Applies every pending migration in order. Refuses (throws ``SchemaError``) before changing
    /// anything if an applied migration was edited, if the database has migrations this binary
    /// does not know, or if a pending migration is older than one already applied.
    @discardableResult
    public func migrate() async throws -> [MigrationStatus] {
        try validateDefinitions()
        try await ensureBookkeepingTable()
        let before = try await status()
        try refuseUnsafe(before)
        var applied: [MigrationStatus] = []
        for set in sets {
            for migration in set.migrations where before.contains(where: { $0.domain == set.domain && $0.version == migration.version && $0.state == .pending }) {
                if try await apply(migration, domain: set.domain) {
                    logger.info("applied migration", metadata: ["migration": "\(migration.label(domain: set.domain))"])
                    applied.append(MigrationStatus(domain: set.domain, version: migration.version, name: migration.name, state: .applied(at: Date())))
                }
            }
        }
        return applied
    }

    /// Throws ``SchemaError`` unless every known migration is applied unchanged.
    public func verifyCurrent() async throws {
        let current = try await status()
        try refuseUnsafe(current)
        let pending = current.filter { $0.state == .pending }
        if !pending.isEmpty {
            throw SchemaError(problems: ["\(pending.count) migration(s) pending: " + pending.map(\.label).joined(separator: ", ")])
        }
    }

    // MARK: -

    private func validateDefinitions() throws {
        var problems: [String] = []
        var domains = Set<String>()
        for set in sets {
            if !domains.insert(set.domain).inserted { problems.append("domain \(set.domain) has two migration sets") }
            for (index, migration) in set.migrations.enumerated() where migration.version != index + 1 {
                problems.append("\(set.domain): migration versions must be 1, 2, 3, … without gaps or repeats; found \(migration.version) at position \(index + 1)")
            }
        }
        if !problems.isEmpty { throw SchemaError(problems: problems) }
    }

    private func refuseUnsafe(_ statuses: [MigrationStatus]) throws {
        var problems: [String] = []
        for status in statuses {
            switch status.state {
            case .changed:
                problems.append("\(status.label) was changed after it was applied (checksum differs); add a new migration instead of editing an applied one")
            case .unknown:
                problems.append("\(status.label) is applied in the database but unknown to this binary (was the database migrated by a newer release?)")
            case .pending:
                let newerApplied = statuses.contains { other in
                    other.domain == status.domain && other.version > status.version
                        && { if case .applied = other.state { return true } else { return false } }()
                }
                if newerApplied {
                    problems.append("\(status.label) is pending but a later migration of \(status.domain) is already applied")
                }
            case .applied:
                break
            }
        }
        if !problems.isEmpty { throw SchemaError(problems: problems) }
    }

    /// Returns false when another instance applied the migration first.
    private func apply(_ migration: Migration, domain: String) async throws -> Bool {
        let engine = database.engine
        return try await database.transaction { tx in
            try await Self.lock(tx)
            let already = try await tx.sql.raw("""
                SELECT checksum FROM \(unsafeRaw: Self.table) WHERE domain = \(bind: domain) AND version = \(bind: migration.version)
                """).all()
            if !already.isEmpty { return false }
            for statement in migration.statements(for: engine) {
                do {
                    try await tx.sql.raw("\(unsafeRaw: statement)").run()
                } catch {
                    throw SchemaError(problems: ["\(migration.label(domain: domain)) failed: \(DatabaseError.translate(error)) in statement: \(statement)"])
                }
            }
            try await tx.sql.raw("""
                INSERT INTO \(unsafeRaw: Self.table) (domain, version, name, checksum, applied_at)
                VALUES (\(bind: domain), \(bind: migration.version), \(bind: migration.name), \(bind: migration.checksum(for: engine)), \(bind: Date()))
                """).run()
            return true
        }
    }

    private static func lock(_ tx: Transaction) async throws {
        if tx.engine == .postgres {
            try await tx.sql.raw("SELECT pg_advisory_xact_lock(\(bind: advisoryLockKey))").run()
        }
    }

    private func ensureBookkeepingTable() async throws {
        let timestampType = database.engine == .postgres ? "TIMESTAMPTZ" : "REAL"
        try await database.transaction { tx in
            try await Self.lock(tx)
            try await tx.sql.raw("""
                CREATE TABLE IF NOT EXISTS \(unsafeRaw: Self.table) (
                    domain TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    name TEXT NOT NULL,
                    checksum TEXT NOT NULL,
                    applied_at \(unsafeRaw: timestampType) NOT NULL,
                    PRIMARY KEY (domain, version)
                )
                """).run()
        }
    }

    private struct RecordedMigration: Decodable, Sendable {
        let domain: String
        let version: Int
        let name: String
        let checksum: String
        let appliedAt: Date

        enum CodingKeys: String, CodingKey {
            case domain, version, name, checksum
            case appliedAt = "applied_at"
        }
    }

    /// Read-only (readiness probes call this): a database never migrated has no table yet.
    private func recordedMigrations() async throws -> [String: RecordedMigration] {
        let engine = database.engine
        let rows = try await database.read { sql -> [RecordedMigration] in
            let exists = engine == .postgres
                ? try await sql.raw("SELECT 1 AS found WHERE to_regclass(\(bind: Self.table)) IS NOT NULL").all()
                : try await sql.raw("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = \(bind: Self.table)").all()
            if exists.isEmpty { return [] }
            return try await sql.raw("SELECT domain, version, name, checksum, applied_at FROM \(unsafeRaw: Self.table)")
                .all(decoding: RecordedMigration.self)
        }
        return Dictionary(rows.map { ("\($0.domain)#\($0.version)", $0) }, uniquingKeysWith: { first, _ in first })
    }
}

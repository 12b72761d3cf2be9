import Foundation
import SQLKit

/// Who did what to which entity, when, from where, with the before/after of what changed and an
/// optional reason. Written with the change, in the same transaction, so the trail can neither
/// miss a change nor record one that did not happen. Security events (logins, lockouts, role and
/// 2FA changes) go through it too.
public struct AuditTrail: Sendable {
    public struct Entry: Sendable {
        public var actorId: String?
        public var action: String
        public var entityType: String
        public var entityId: String?
        public var changes: [String: AuditChange]
        public var reason: String?

        public init(actorId: String?, action: String, entityType: String, entityId: String?,
                    changes: [String: AuditChange] = [:], reason: String? = nil) {
            self.actorId = actorId
            self.action = action
            self.entityType = entityType
            self.entityId = entityId
            self.changes = changes
            self.reason = reason
        }
    }

    public init() {}

    static let rowDecoder = SQLRowDecoder(keyDecodingStrategy: .convertFromSnakeCase)

    /// Records `entry` in `tx`, stamped with the current request's id and the client address.
    public func record(_ entry: Entry, clientAddress: String?, in tx: Transaction) async throws {
        let changes: String? = entry.changes.isEmpty ? nil : String(
            decoding: try JSONEncoder.sortedKeys.encode(entry.changes), as: UTF8.self)
        try await tx.sql.raw("""
            INSERT INTO audit_log (id, occurred_at, actor_id, action, entity_type, entity_id, client_address, request_id, changes, reason)
            VALUES (\(bind: UUIDv7.string()), \(bind: Date()), \(bind: entry.actorId), \(bind: entry.action), \(bind: entry.entityType),
                    \(bind: entry.entityId), \(bind: clientAddress), \(bind: RequestScope.current?.requestId), \(bind: changes), \(bind: entry.reason))
            """).run()
    }

    /// The trail of one entity, newest first.
    public func entries(entityType: String, entityId: String, limit: Int, database: Database) async throws -> [RecordedAudit] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT id, occurred_at, actor_id, action, entity_type, entity_id, client_address, request_id, changes, reason
                FROM audit_log WHERE entity_type = \(bind: entityType) AND entity_id = \(bind: entityId)
                ORDER BY id DESC LIMIT \(literal: limit)
                """).all(decoding: RecordedAudit.self, with: Self.rowDecoder)
        }
    }

    /// What the trail holds about a user: what they did and what was done to their account,
    /// newest first (for their data export).
    public func entries(concerningUser userId: String, limit: Int, on sql: any SQLDatabase) async throws -> [RecordedAudit] {
        try await sql.raw("""
            SELECT id, occurred_at, actor_id, action, entity_type, entity_id, client_address, request_id, changes, reason
            FROM audit_log WHERE actor_id = \(bind: userId) OR (entity_type = 'user' AND entity_id = \(bind: userId))
            ORDER BY id DESC LIMIT \(literal: limit)
            """).all(decoding: RecordedAudit.self, with: Self.rowDecoder)
    }

    /// Erases the client addresses stored with a user's entries (account deletion). The actions
    /// stay: a security trail without who-did-what would be useless, and it names only the id.
    public func forgetClientAddresses(ofUser userId: String, in tx: Transaction) async throws {
        try await tx.sql.raw("""
            UPDATE audit_log SET client_address = NULL
            WHERE actor_id = \(bind: userId) OR (entity_type = 'user' AND entity_id = \(bind: userId))
            """).run()
    }

    public static let migrations: [Migration] = [
        Migration(1, "create_audit_log",
            sqlite: [
                """
                CREATE TABLE audit_log (
                    id TEXT PRIMARY KEY, occurred_at REAL NOT NULL, actor_id TEXT, action TEXT NOT NULL,
                    entity_type TEXT NOT NULL, entity_id TEXT, client_address TEXT, request_id TEXT, changes TEXT, reason TEXT
                )
                """,
                "CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id, id)",
                "CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id)",
            ],
            postgres: [
                """
                CREATE TABLE audit_log (
                    id TEXT PRIMARY KEY, occurred_at TIMESTAMPTZ NOT NULL, actor_id TEXT, action TEXT NOT NULL,
                    entity_type TEXT NOT NULL, entity_id TEXT, client_address TEXT, request_id TEXT, changes TEXT, reason TEXT
                )
                """,
                "CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id, id)",
                "CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id)",
            ]),
    ]
}

/// A field's value before and after a change (JSON values; null when absent).
public struct AuditChange: Sendable, Codable, Equatable {
    public let before: JSONValue?
    public let after: JSONValue?

    public init(before: JSONValue?, after: JSONValue?) {
        self.before = before
        self.after = after
    }
}

public struct RecordedAudit: Sendable, Codable {
    public let id: String
    public let occurredAt: Date
    public let actorId: String?
    public let action: String
    public let entityType: String
    public let entityId: String?
    public let clientAddress: String?
    public let requestId: String?
    public let changes: String?
    public let reason: String?
}

extension JSONEncoder {
    /// Stable key order, so equal values encode to equal text.
    public static let sortedKeys: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

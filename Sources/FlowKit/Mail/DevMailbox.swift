import Foundation
import SQLKit

/// The mailer used when no mail provider is configured: messages are stored in the
/// `dev_mailbox` table instead of being delivered, so a developer (or a test) can read the
/// verification link or reset token. Old messages are trimmed to the newest ``keep``.
public struct DevMailbox: Mailer {
    public static let keep = 1_000

    /// A stored message.
    public struct Stored: Sendable, Codable, Equatable {
        public let id: String
        public let sentAt: Date
        public let to: String
        public let subject: String
        public let text: String
        public let kind: String
    }

    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func send(_ message: MailMessage) async throws {
        let now = Date()
        try await database.transaction { tx in
            try await tx.sql.raw("""
                INSERT INTO dev_mailbox (id, sent_at, recipient, recipient_key, subject, body, kind)
                VALUES (\(bind: UUIDv7.string(at: now)), \(bind: now), \(bind: message.to), \(bind: message.to.lowercased()),
                        \(bind: message.subject), \(bind: message.text), \(bind: message.kind))
                """).run()
            // With fewer than `keep` messages the subquery is NULL and nothing is deleted.
            try await tx.sql.raw("""
                DELETE FROM dev_mailbox
                WHERE id < (SELECT id FROM dev_mailbox ORDER BY id DESC LIMIT 1 OFFSET \(bind: Self.keep - 1))
                """).run()
        }
    }

    /// The newest messages first, optionally only those to `recipient` (case-insensitive).
    public func messages(to recipient: String? = nil, page: PageRequest = PageRequest()) async throws -> Page<Stored> {
        let fetched = try await database.read { sql in
            var query: SQLQueryString = "SELECT id, sent_at, recipient, subject, body, kind FROM dev_mailbox WHERE 1 = 1"
            if let recipient { query += " AND recipient_key = \(bind: recipient.lowercased())" }
            if let after = page.after?.first { query += " AND id < \(bind: after)" }
            query += " ORDER BY id DESC LIMIT \(literal: page.limit + 1)"
            return try await sql.raw(query).all().map { row in
                Stored(id: try row.decode(column: "id", as: String.self), sentAt: try row.decode(column: "sent_at", as: Date.self),
                       to: try row.decode(column: "recipient", as: String.self), subject: try row.decode(column: "subject", as: String.self),
                       text: try row.decode(column: "body", as: String.self), kind: try row.decode(column: "kind", as: String.self))
            }
        }
        return Page(fetched: fetched, limit: page.limit) { [$0.id] }
    }

    static let storedSchema: JSONValue = [
        "type": "object", "required": ["id", "sentAt", "to", "subject", "text", "kind"],
        "properties": [
            "id": ["type": "string"], "sentAt": ["type": "string", "format": "date-time"], "to": ["type": "string"],
            "subject": ["type": "string"], "text": ["type": "string"], "kind": ["type": "string"],
        ],
    ]

    public static let migrations: [Migration] = [
        Migration(2, "create_dev_mailbox",
            sqlite: statements(timestamp: "REAL"),
            postgres: statements(timestamp: "TIMESTAMPTZ")),
    ]

    private static func statements(timestamp: String) -> [String] {
        [
            """
            CREATE TABLE dev_mailbox (
                id TEXT PRIMARY KEY, sent_at \(timestamp) NOT NULL, recipient TEXT NOT NULL, recipient_key TEXT NOT NULL,
                subject TEXT NOT NULL, body TEXT NOT NULL, kind TEXT NOT NULL
            )
            """,
            "CREATE INDEX dev_mailbox_recipient_idx ON dev_mailbox (recipient_key, id)",
        ]
    }
}

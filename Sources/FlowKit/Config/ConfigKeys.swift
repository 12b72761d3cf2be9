/// Every configuration key Flow reads, with its default and meaning. The README's table is
/// generated from this list (`flow config keys --markdown`), and startup warns about `FLOW_*`
/// variables that are not in it (a typo otherwise silently falls back to the default).
public enum ConfigKeys {
    public struct Entry: Sendable {
        /// Dotted key as written in the JSON config file (`database.poolSize`).
        public let key: String
        public let defaultValue: String
        public let summary: String
        /// Secrets are redacted when printed and may also come from `<VARIABLE>_FILE`.
        public let isSecret: Bool

        public var environmentName: String { ConfigKeys.environmentName(for: key) }
    }

    public static let all: [Entry] = [
        Entry(key: "env", defaultValue: "development",
              summary: "`development` or `production`. In production the server does not migrate on start unless `flow serve --migrate` is given, and refuses an outdated schema.", isSecret: false),
        Entry(key: "host", defaultValue: "127.0.0.1", summary: "Address to listen on (`0.0.0.0` for all interfaces).", isSecret: false),
        Entry(key: "port", defaultValue: "8080", summary: "TCP port to listen on (0 picks a free one).", isSecret: false),
        Entry(key: "roles", defaultValue: "api,realtime,worker",
              summary: "Roles this process runs; `flow serve --roles` overrides it.", isSecret: false),
        Entry(key: "database.url", defaultValue: DatabaseLocation.defaultURL,
              summary: "`sqlite:PATH` for an embedded SQLite file, or `postgres://user:password@host:5432/db` (`?sslmode=` disable, prefer or require), or `postgres://user@/db?host=/var/run/postgresql` for the server's Unix socket in that folder.", isSecret: true),
        Entry(key: "database.poolSize", defaultValue: "2 × cores, at least 4",
              summary: "PostgreSQL: maximum pooled connections per process. SQLite: read connections (writes use one connection).", isSecret: false),
        Entry(key: "database.acquireTimeout", defaultValue: "5",
              summary: "Seconds a request waits for a database connection before answering 503.", isSecret: false),
        Entry(key: "database.statementCache", defaultValue: "\(Database.Options.defaultStatementCacheSize)",
              summary: "PostgreSQL: statements each connection keeps prepared, so the server reuses their plans. 0 turns it off (PgBouncer in transaction mode before 1.21).", isSecret: false),
        Entry(key: "sqlite.synchronous", defaultValue: "full",
              summary: "`full`: every acknowledged write survives a power cut. `normal`: survives a crash of the process, several times faster writes.", isSecret: false),
        Entry(key: "cors.origins", defaultValue: "(none)",
              summary: "Comma-separated origins allowed to call the API from a browser, e.g. `https://app.example.com`. `*` allows any origin (never with credentials).", isSecret: false),
        Entry(key: "bodyLimit", defaultValue: "1MiB", summary: "Largest accepted request body: bytes, or with a unit (`512KiB`, `2MiB`). Larger bodies get 413.", isSecret: false),
        Entry(key: "log.level", defaultValue: "info", summary: "trace, debug, info, notice, warning, error or critical.", isSecret: false),
        Entry(key: "shutdown.grace", defaultValue: "10",
              summary: "Seconds in-flight requests get to finish after SIGTERM/SIGINT before they are cancelled.", isSecret: false),
        Entry(key: "auth.jwtSecret", defaultValue: "(none)",
              summary: "Secret (at least 32 characters) that signs access tokens (HS256). Required in production unless `auth.signingKeyFile` is set; development makes a random one per run, so tokens do not survive a restart.", isSecret: true),
        Entry(key: "auth.signingKeyFile", defaultValue: "(none)",
              summary: "PEM file of an Ed25519 (EdDSA) or RSA (RS256) private key that signs access tokens instead of HS256; its public key is served at `/.well-known/jwks.json`.", isSecret: false),
        Entry(key: "auth.previousKeyFiles", defaultValue: "(none)",
              summary: "Comma-separated PEM files (private or public) of retired signing keys: tokens they signed verify until they expire. Rotate by moving the old signing key here.", isSecret: false),
        Entry(key: "auth.loginsPerMinute", defaultValue: "5",
              summary: "Sign-in attempts allowed per minute from one client address, and for one account (429 with Retry-After beyond).", isSecret: false),
        Entry(key: "auth.registrationsPerHour", defaultValue: "10",
              summary: "New accounts allowed per hour from one client address (raise it when many people share an address).", isSecret: false),
        Entry(key: "publicUrl", defaultValue: "http://<host>:<port>",
              summary: "The address users reach Flow at, for links in mail (email verification, password reset).", isSecret: false),
        Entry(key: "auth.issuer", defaultValue: "flow", summary: "The `iss` claim of access tokens.", isSecret: false),
        Entry(key: "auth.audience", defaultValue: "flow-api", summary: "The `aud` claim of access tokens.", isSecret: false),
        Entry(key: "admin.token", defaultValue: "(none)",
              summary: "Operator token for the admin API (`Authorization: Bearer …`), for automation; signed-in admins need none. Unset: a random one per run in development (logged), none in production.", isSecret: true),
        Entry(key: "bus.retentionDays", defaultValue: "7",
              summary: "Days handled bus events are kept for replay before they are pruned.", isSecret: false),
        Entry(key: "events.cacheSeconds", defaultValue: "30",
              summary: "Seconds a signed-out caller's `GET /api/v1/events/{id}` may be answered from memory. Writes drop the entry at once (on PostgreSQL in every instance, through NOTIFY); this bounds staleness when a notification is missed. 0 turns the cache off.", isSecret: false),
        Entry(key: "trustProxy", defaultValue: "false",
              summary: "Trust `X-Forwarded-For` / `X-Forwarded-Proto` from a reverse proxy (client IP in logs, HSTS behind TLS). Enable only behind a proxy that sets them.", isSecret: false),
    ]

    public static func entry(_ key: String) -> Entry? {
        all.first { $0.key == key }
    }

    /// `database.poolSize` → `FLOW_DATABASE_POOL_SIZE`, the same mapping swift-configuration's
    /// environment provider applies.
    public static func environmentName(for key: String) -> String {
        var name = "FLOW"
        for component in key.split(separator: ".") {
            name += "_"
            var previous: Character?
            for character in component {
                if let previous, previous.isLowercase, character.isUppercase { name += "_" }
                name += character.isLetter || character.isNumber ? character.uppercased() : "_"
                previous = character
            }
        }
        return name
    }

    /// `FLOW_*` variables that no key reads, most likely typos.
    public static func unknownVariables(in environment: [String: String]) -> [String] {
        var known = Set(all.map(\.environmentName))
        for entry in all where entry.isSecret { known.insert(entry.environmentName + "_FILE") }
        return environment.keys.filter { $0.hasPrefix("FLOW_") && !known.contains($0) && !$0.hasPrefix("FLOW_TEST_") }.sorted()
    }

    /// The configuration table in Markdown, for the README.
    public static func markdownTable() -> String {
        var lines = ["| Variable | Config file key | Default | Meaning |", "|---|---|---|---|"]
        for entry in all {
            let name = entry.isSecret ? "`\(entry.environmentName)` (or `\(entry.environmentName)_FILE`)" : "`\(entry.environmentName)`"
            lines.append("| \(name) | `\(entry.key)` | `\(entry.defaultValue)` | \(entry.summary) |")
        }
        return lines.joined(separator: "\n")
    }
}

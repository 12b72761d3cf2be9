import Metrics
import NIOCore
import PostgresNIO
import Synchronization

/// Named prepared statements, per pooled PostgreSQL connection, for the statements Flow runs
/// again and again.
///
/// PostgreSQL parses, analyses and plans an unnamed statement on every execution. For nearby
/// search that was half of the server's CPU per request: pgbench on the 1M-event database ran
/// the same query 2,012 times/s unnamed and 4,112 times/s prepared. So a statement text seen a
/// second time on a connection is prepared there (Parse/Describe once); later executions send
/// only Bind/Execute and reuse the server's cached plan (PostgreSQL switches to a generic plan
/// after five custom ones when it is not costlier: `plan_cache_mode = auto`). Texts seen once
/// (one-off statements, `IN` lists of a new length) never cost a second round trip.
///
/// Each connection remembers at most `capacity` statements, seen or prepared; the least recently used
/// is forgotten and, if prepared, closed on the server. A connection's entries go when it
/// closes. Poolers that hand one client connection to several server sessions (PgBouncer in
/// transaction mode before 1.21) lose named statements: turn the cache off there
/// (`database.statementCache` 0).
///
/// `/metrics`: `flow_db_statements_total{run="unnamed|prepare|prepared"}` counts executions by
/// route, `flow_db_statements_evicted_total` the prepared statements closed to make room (a
/// steady rise means the cache is too small for the statements in use).
final class PostgresStatementCache: Sendable {
    let capacity: Int
    private let connections = Mutex<[Int: Statements]>([:])
    private let runs: [String: Counter] = Dictionary(uniqueKeysWithValues: ["unnamed", "prepare", "prepared"].map {
        ($0, Counter(label: "flow_db_statements_total", dimensions: [("run", $0)]))
    })
    private let evictions = Counter(label: "flow_db_statements_evicted_total")

    /// A statement as written (placeholders `$n`) with its binds' types (nil for a NULL): the
    /// same text with other types is another statement.
    struct Key: Hashable, Sendable {
        let sql: String
        let types: [PostgresDataType?]
    }

    /// How to run a statement on a connection.
    enum Plan {
        /// First sight, or a statement that cannot be prepared: run it unnamed, as without the cache.
        case unnamed
        /// Second sight: prepare it, then ``store(_:for:on:)`` the prepared statement (or nil).
        case prepare
        case prepared(PreparedQuery)

        var metricName: String {
            switch self {
            case .unnamed: "unnamed"
            case .prepare: "prepare"
            case .prepared: "prepared"
            }
        }
    }

    init(capacity: Int) {
        precondition(capacity > 0, "a statement cache holds at least one statement")
        self.capacity = capacity
    }

    func plan(for key: Key, on connection: PostgresConnection) -> Plan {
        let (plan, firstUse, evicted) = connections.withLock { all -> (Plan, Bool, PreparedQuery?) in
            let firstUse = all[connection.id] == nil
            var statements = all[connection.id] ?? Statements()
            let (plan, evicted) = statements.use(key, capacity: capacity)
            all[connection.id] = statements
            return (plan, firstUse, evicted)
        }
        // Outside the lock: the close future may already be complete and run its callback at once.
        if firstUse {
            connection.closeFuture.whenComplete { [weak self] _ in self?.forgetConnection(connection.id) }
        }
        if let evicted {
            evictions.increment()
            Self.close(evicted, on: connection)
        }
        runs[plan.metricName]?.increment()
        return plan
    }

    /// Records the statement prepared for `key`, or nil when it cannot be prepared (its text is
    /// not one ``PostgresTypedPlaceholders`` can type): it then runs unnamed without asking again.
    func store(_ prepared: PreparedQuery?, for key: Key, on connection: PostgresConnection) {
        connections.withLock { all in
            if let prepared { all[connection.id]?.entries[key]?.prepared = prepared } else { all[connection.id]?.entries[key]?.preparable = false }
        }
    }

    /// Drops `key` from the connection's statements, after the server refused the prepared one
    /// (it no longer exists, or a schema change altered its result columns): the next execution
    /// starts over.
    func forget(_ key: Key, on connection: PostgresConnection) {
        let prepared = connections.withLock { all in all[connection.id]?.entries.removeValue(forKey: key)?.prepared }
        if let prepared { Self.close(prepared, on: connection) }
    }

    /// How many statements are prepared on `connection`, for tests and metrics.
    func preparedCount(on connection: PostgresConnection) -> Int {
        connections.withLock { all in all[connection.id]?.entries.values.count { $0.prepared != nil } ?? 0 }
    }

    private func forgetConnection(_ id: Int) {
        _ = connections.withLock { all in all.removeValue(forKey: id) }
    }

    /// Closes a prepared statement on the server, written on the connection's event loop like
    /// every other message (see ``PostgresConnection/run(_:logger:onRow:)``); a closed
    /// connection took its statements with it.
    private static func close(_ prepared: PreparedQuery, on connection: PostgresConnection) {
        connection.eventLoop.execute {
            guard !connection.isClosed else { return }
            prepared.deallocate().whenFailure { _ in }
        }
    }

    private struct Statements {
        struct Entry {
            var prepared: PreparedQuery?
            var preparable = true
            var lastUse: UInt64
        }

        var entries: [Key: Entry] = [:]
        var clock: UInt64 = 0

        /// Records a use of `key`; returns how to run it and the prepared statement evicted to
        /// make room, if any.
        mutating func use(_ key: Key, capacity: Int) -> (Plan, evicted: PreparedQuery?) {
            clock += 1
            if var entry = entries[key] {
                entry.lastUse = clock
                entries[key] = entry
                if let prepared = entry.prepared { return (.prepared(prepared), nil) }
                return (entry.preparable ? .prepare : .unnamed, nil)
            }
            var evicted: PreparedQuery?
            if entries.count >= capacity, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                evicted = entries.removeValue(forKey: oldest.key)?.prepared
            }
            entries[key] = Entry(prepared: nil, lastUse: clock)
            return (.unnamed, evicted)
        }
    }
}

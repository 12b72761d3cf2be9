import Foundation
import NIOCore
import PostgresNIO
import VaporCSQLite

/// Database failures a service can act on, the same on both engines. Everything the engines
/// throw passes through ``DatabaseError/translate(_:)`` at the ``Database`` boundary, so services
/// match on `kind` (a duplicate email is a 409, a missing parent row a 422) instead of on
/// SQLSTATE codes or SQLite result codes.
public struct DatabaseError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case uniqueViolation
        case foreignKeyViolation
        case notNullViolation
        case checkViolation
        /// A value the column cannot hold (bad encoding, too long, out of range).
        case invalidValue
        /// The server cannot be reached, the pool is shut down, or no connection was free in time.
        case unavailable
        /// Two transactions conflicted (deadlock, serialization failure, SQLite busy); retrying may succeed.
        case conflict
        case other
    }

    public let kind: Kind
    /// The violated constraint: PostgreSQL's constraint name, or SQLite's `table.column` list or index name.
    public let constraint: String?
    public let message: String

    public init(_ kind: Kind, constraint: String? = nil, message: String) {
        self.kind = kind
        self.constraint = constraint
        self.message = message
    }

    public var description: String {
        "database \(kind.rawValue)" + (constraint.map { " (\($0))" } ?? "") + ": \(message)"
    }

    /// True when this is a unique violation of the named constraint. Name unique indexes in
    /// migrations as `<table>_<columns>_key` and this matches on both engines: PostgreSQL reports
    /// the index name; SQLite reports `index '<name>'` for expression indexes and `table.column`
    /// for plain ones, so both spellings are accepted.
    public func isUniqueViolation(index: String, table: String, columns: [String]) -> Bool {
        guard kind == .uniqueViolation, let constraint else { return false }
        return constraint == index || constraint == columns.map { "\(table).\($0)" }.joined(separator: ", ")
    }

    /// Maps an engine error to a ``DatabaseError``; errors that are not from the database (a
    /// service's own validation error thrown inside a transaction) pass through unchanged.
    public static func translate(_ error: any Error) -> any Error {
        switch error {
        case let error as DatabaseError:
            return error
        case let error as PSQLError:
            return translate(postgres: error)
        case PostgresError.server(let error):
            // postgres-nio's future-based API (prepared statements, PostgresKit's fallback) reports this older form.
            let fields = error.fields
            return translate(sqlState: fields[.sqlState] ?? "", message: fields[.message], constraint: fields[.constraintName], column: fields[.columnName])
        case PostgresError.connectionClosed:
            return DatabaseError(.unavailable, message: "PostgreSQL connection: closed")
        case let error as IOError:
            // The future-based API also passes the socket's own failure through unchanged: a
            // prepared statement running while PostgreSQL stops reads "Connection reset by peer".
            return DatabaseError(.unavailable, message: "PostgreSQL connection: \(error)")
        case let error as ChannelError:
            return DatabaseError(.unavailable, message: "PostgreSQL connection: \(error)")
        case let error as SQLiteFailure:
            return translate(sqlite: error)
        default:
            // The pool's own errors (circuit breaker tripped, pool shut down) live in an underscored
            // module; recognise them by type name rather than importing it.
            let typeName = String(reflecting: type(of: error))
            if typeName.contains("ConnectionPoolError") {
                return DatabaseError(.unavailable, message: "connection pool: \(error)")
            }
            return error
        }
    }

    private static func translate(postgres error: PSQLError) -> DatabaseError {
        switch error.code {
        case .server:
            return translate(sqlState: error.serverInfo?[.sqlState] ?? "", message: error.serverInfo?[.message],
                             constraint: error.serverInfo?[.constraintName], column: error.serverInfo?[.columnName])
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
            return DatabaseError(.unavailable, message: "PostgreSQL connection: \(error.code)")
        default:
            return DatabaseError(.other, message: String(reflecting: error))
        }
    }

    /// A PostgreSQL server error by its SQLSTATE.
    private static func translate(sqlState state: String, message: String?, constraint: String?, column: String?) -> DatabaseError {
        let message = message ?? "server error \(state)"
        switch state {
        case "23505": return DatabaseError(.uniqueViolation, constraint: constraint, message: message)
        case "23503": return DatabaseError(.foreignKeyViolation, constraint: constraint, message: message)
        case "23502": return DatabaseError(.notNullViolation, constraint: column, message: message)
        case "23514": return DatabaseError(.checkViolation, constraint: constraint, message: message)
        case "40001", "40P01": return DatabaseError(.conflict, message: message)
        case "22021", "22P05", "22001", "22003", "22007", "22008": return DatabaseError(.invalidValue, constraint: column, message: message)
        case "57P01", "57P02", "57P03", "53300": return DatabaseError(.unavailable, message: message)
        default: return DatabaseError(.other, message: "\(state): \(message)")
        }
    }

    private static func translate(sqlite error: SQLiteFailure) -> DatabaseError {
        // SQLite says "UNIQUE constraint failed: users.email" or "... failed: index 'users_email_key'".
        let detail = error.message.split(separator: ":", maxSplits: 1).dropFirst().first
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let constraint = detail.map { text in
            text.hasPrefix("index '") ? String(text.dropFirst(7).dropLast()) : text
        }
        switch error.code {
        case SQLiteFailure.constraintUnique, SQLiteFailure.constraintPrimaryKey, SQLiteFailure.constraintRowID:
            return DatabaseError(.uniqueViolation, constraint: constraint, message: error.message)
        case SQLiteFailure.constraintForeignKey:
            return DatabaseError(.foreignKeyViolation, constraint: constraint, message: error.message)
        case SQLiteFailure.constraintNotNull:
            return DatabaseError(.notNullViolation, constraint: constraint, message: error.message)
        case SQLiteFailure.constraintCheck:
            return DatabaseError(.checkViolation, constraint: constraint, message: error.message)
        default:
            break
        }
        switch error.primaryCode {
        case SQLITE_TOOBIG, SQLITE_MISMATCH, SQLITE_RANGE:
            return DatabaseError(.invalidValue, message: error.message)
        case SQLITE_BUSY, SQLITE_LOCKED:
            return DatabaseError(.conflict, message: error.message)
        case SQLITE_CANTOPEN, SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR:
            return DatabaseError(.unavailable, message: error.message)
        default:
            return DatabaseError(.other, message: "SQLite error \(error.code): \(error.message)")
        }
    }
}

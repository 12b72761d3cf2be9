import Synchronization

/// Where each named column of a result is, built once per result (PostgreSQL) or per prepared
/// statement (SQLite) and shared by its rows, which may be read on several threads at once.
///
/// Rows are read column after column in the query's order, a nullable column twice
/// (`decodeNil`, then `decode`). So the position read last, or the one after it, is tried
/// before the table: comparing a short name with the guess is cheaper than hashing it. Hashing
/// was a sixth of reading an event's row on PostgreSQL, and 3% of a nearby search's CPU on
/// SQLite before SQLite's rows used this too.
final class ColumnPositions: Sendable {
    /// Which column a name means when the result has it twice: SQLite's own lookups (and
    /// SQLiteKit's) take the first, PostgresNIO's the last.
    enum Repeated { case firstWins, lastWins }

    /// The names by position, as the result has them.
    let names: [String]
    private let positions: [String: Int]
    /// The names by position; nil where another column of the same name wins.
    private let winners: [String?]
    private let lastRead = Atomic<Int>(0)

    init(names: [String], repeated: Repeated) {
        var positions: [String: Int] = [:]
        positions.reserveCapacity(names.count)
        for (index, name) in names.enumerated() where repeated == .lastWins || positions[name] == nil {
            positions[name] = index
        }
        self.names = names
        self.positions = positions
        winners = names.enumerated().map { index, name in positions[name] == index ? name : nil }
    }

    func position(of column: String) -> Int? {
        let last = lastRead.load(ordering: .relaxed)
        if last < winners.count, winners[last] == column { return last }
        if last + 1 < winners.count, winners[last + 1] == column {
            lastRead.store(last + 1, ordering: .relaxed)
            return last + 1
        }
        guard let position = positions[column] else { return nil }
        lastRead.store(position, ordering: .relaxed)
        return position
    }
}

/// How search ranks: by the best place the words are found, then newest first.
///
///   tier 0  every word in the title
///   tier 1  every word in the title or tags
///   tier 2  every word in the title, tags or summary
///   tier 3  every word anywhere (the description too)
///   tier 4  the same with the last word as a prefix (search as you type; 3 letters or more)
///
/// Each tier excludes the matches of the tiers before it, and within a tier the newest events
/// come first. Both orders come straight from the indexes (FTS5 yields matches in rowid order;
/// PostgreSQL walks the primary key backwards or the GIN index), so a page costs about a page of
/// matches however common the words are. A scored ranking (bm25, ts_rank) has to score every
/// match first: 0.5–0.9 s for a common word at a million events.
struct SearchTiers: Sendable {
    /// Words shorter than this are never prefixes: "a*" matches most of the index.
    static let shortestPrefix = 3

    let words: [String]

    /// nil when `text` holds no words.
    init?(_ text: String) {
        words = Array(text.lowercased().split { !($0.isLetter || $0.isNumber) }.prefix(12).map(String.init))
        if words.isEmpty { return nil }
    }

    var count: Int { (words.last?.count ?? 0) >= Self.shortestPrefix ? 5 : 4 }

    // MARK: FTS5 (SQLite)

    /// The FTS5 query of `tier`. Words are quoted, so nothing a user types is query syntax.
    func fts(_ tier: Int) -> String {
        let exact = words.map { "\"\($0)\"" }.joined(separator: " ")
        let columns = ["{title}", "{title tags}", "{title tags summary}"]
        switch tier {
        case 0: return "\(columns[0]) : (\(exact))"
        case 1, 2: return "\(columns[tier]) : (\(exact)) NOT \(columns[tier - 1]) : (\(exact))"
        case 3: return "(\(exact)) NOT \(columns[2]) : (\(exact))"
        default: return "(\(exact)*) NOT (\(exact))"  // the closing quote of the last word, then *: a prefix
        }
    }

    // MARK: tsquery (PostgreSQL)

    /// The `to_tsquery('english', …)` text of `tier`; the weights set by the migration are title A,
    /// tags B, summary C, description D.
    func tsquery(_ tier: Int) -> String {
        let weights = [":A", ":AB", ":ABC"]
        switch tier {
        case 0: return all(weights[0])
        case 1, 2: return all(weights[tier]) + " & !" + all(weights[tier - 1])
        case 3: return all("") + " & !" + all(weights[2])
        default: return all("", prefixLast: true) + " & !" + all("")
        }
    }

    /// Tier 0 for `events.title_search`, the title alone (unweighted, so no weight in the query):
    /// the same matches as `tsquery(0)` on `events.search`.
    var titleTsquery: String { all("") }

    /// Every word, each followed by `suffix`; the last one as a prefix when `prefixLast`.
    private func all(_ suffix: String, prefixLast: Bool = false) -> String {
        "(" + words.enumerated().map { index, word in
            word + (prefixLast && index == words.count - 1 ? ":*" : "") + suffix
        }.joined(separator: " & ") + ")"
    }
}

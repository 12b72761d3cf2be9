import FlowKit
import Foundation

/// How an event repeats: the iCalendar RRULE subset people use (RFC 5545 §3.3.10), expanded
/// the way python-dateutil's `rrule` does (an interop test holds us to it).
///
/// `frequency` with `interval`; `byWeekday` (`MO`…`SU`, with an ordinal such as `2TU` or `-1FR`
/// for monthly and yearly rules); `byMonthDay` (1…31 or -1…-31 from the end); `byMonth`
/// (1…12); ending after `count` occurrences or at `until` (inclusive), or never.
/// `exceptions` are cancelled occurrences, by their original start.
public struct RecurrenceRule: Sendable, Codable, Equatable {
    public enum Frequency: String, Sendable, Codable, CaseIterable {
        case daily, weekly, monthly, yearly
    }

    public var frequency: Frequency
    public var interval: Int
    public var byWeekday: [String]?
    public var byMonthDay: [Int]?
    public var byMonth: [Int]?
    public var count: Int?
    public var until: Date?
    public var exceptions: [Date]?

    static let maximumCount = 730

    /// Stored as JSON with RFC 3339 times, as the API reads and writes them.
    static let storageEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date))
        }
        return encoder
    }()
    static let weekdayCodes = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"]

    static let schema: JSONValue = [
        "type": "object", "required": ["frequency"],
        "properties": [
            "frequency": ["type": "string", "enum": .array(Frequency.allCases.map { .string($0.rawValue) })],
            "interval": ["type": "integer", "minimum": 1, "maximum": 366, "default": 1],
            "byWeekday": ["type": ["array", "null"], "items": ["type": "string", "pattern": "^(-?[1-5])?(MO|TU|WE|TH|FR|SA|SU)$"], "maxItems": 7],
            "byMonthDay": ["type": ["array", "null"], "items": ["type": "integer", "minimum": -31, "maximum": 31], "maxItems": 31],
            "byMonth": ["type": ["array", "null"], "items": ["type": "integer", "minimum": 1, "maximum": 12], "maxItems": 12],
            "count": ["type": ["integer", "null"], "minimum": 1, "maximum": 730],
            "until": ["type": ["string", "null"], "format": "date-time"],
            "exceptions": ["type": ["array", "null"], "items": ["type": "string", "format": "date-time"], "maxItems": 500,
                           "description": "Original starts of cancelled occurrences."],
        ],
    ]

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        frequency = try container.decode(Frequency.self, forKey: .frequency)
        interval = try container.decodeIfPresent(Int.self, forKey: .interval) ?? 1
        byWeekday = try container.decodeIfPresent([String].self, forKey: .byWeekday)
        byMonthDay = try container.decodeIfPresent([Int].self, forKey: .byMonthDay)
        byMonth = try container.decodeIfPresent([Int].self, forKey: .byMonth)
        count = try container.decodeIfPresent(Int.self, forKey: .count)
        until = try container.decodeIfPresent(Date.self, forKey: .until)
        exceptions = try container.decodeIfPresent([Date].self, forKey: .exceptions)
    }

    /// A weekday rule: `weekday` 1 = Sunday … 7 = Saturday (Foundation's numbering), `ordinal` nil for every one.
    struct WeekdayRule: Equatable {
        let weekday: Int
        let ordinal: Int?
    }

    var weekdayRules: [WeekdayRule] {
        (byWeekday ?? []).compactMap { code in
            let letters = String(code.suffix(2))
            guard let index = Self.weekdayCodes.firstIndex(of: letters) else { return nil }
            let prefix = code.dropLast(2)
            return WeekdayRule(weekday: index + 1, ordinal: prefix.isEmpty ? nil : Int(prefix))
        }
    }

    func problems(field prefix: String = "recurrence") -> [FieldProblem] {
        var problems: [FieldProblem] = []
        func problem(_ field: String, _ text: String) { problems.append(FieldProblem(field: "\(prefix).\(field)", problem: text)) }
        if !(1...366).contains(interval) { problem("interval", "must be 1–366") }
        for code in byWeekday ?? [] {
            let letters = String(code.suffix(2))
            let prefixText = code.dropLast(2)
            let ordinal = prefixText.isEmpty ? 1 : Int(prefixText)
            if !Self.weekdayCodes.contains(letters) || ordinal == nil || ordinal == 0 || abs(ordinal ?? 0) > 5 {
                problem("byWeekday", "'\(code)' is not a weekday like MO, 2TU or -1FR")
            } else if !prefixText.isEmpty, frequency == .daily || frequency == .weekly {
                problem("byWeekday", "ordinals such as 2TU are for monthly and yearly rules")
            }
        }
        if frequency == .yearly, byWeekday != nil, byMonth == nil { problem("byWeekday", "a yearly rule with weekdays needs byMonth") }
        if frequency == .weekly, byMonthDay != nil { problem("byMonthDay", "does not apply to weekly rules") }
        for day in byMonthDay ?? [] where day == 0 || abs(day) > 31 { problem("byMonthDay", "days are 1…31 or -1…-31") }
        for month in byMonth ?? [] where !(1...12).contains(month) { problem("byMonth", "months are 1…12") }
        if count != nil, until != nil { problem("count", "give count or until, not both") }
        if let count, !(1...Self.maximumCount).contains(count) { problem("count", "must be 1–\(Self.maximumCount)") }
        if (exceptions?.count ?? 0) > 500 { problem("exceptions", "at most 500") }
        return problems
    }

    /// The RRULE value for iCalendar (`FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE`).
    func rrule(timeZone: TimeZone) -> String {
        var parts = ["FREQ=\(frequency.rawValue.uppercased())"]
        if interval != 1 { parts.append("INTERVAL=\(interval)") }
        if let byMonth, !byMonth.isEmpty { parts.append("BYMONTH=" + byMonth.map(String.init).joined(separator: ",")) }
        if let byMonthDay, !byMonthDay.isEmpty { parts.append("BYMONTHDAY=" + byMonthDay.map(String.init).joined(separator: ",")) }
        if let byWeekday, !byWeekday.isEmpty { parts.append("BYDAY=" + byWeekday.joined(separator: ",")) }
        if let count { parts.append("COUNT=\(count)") }
        if let until { parts.append("UNTIL=\(ICalendarWriter.utc(until))") }
        return parts.joined(separator: ";")
    }
}

import Foundation

/// Writes iCalendar (RFC 5545) documents: CRLF lines folded at 75 octets, escaped text, times
/// in the event's own time zone with a VTIMEZONE describing that zone's offsets (its actual
/// transitions around the events, taken from the system time zone database).
struct ICalendarWriter {
    private var lines: [String] = []
    private var zones: [String: ClosedRange<Date>] = [:]
    let name: String

    init(name: String) {
        self.name = name
    }

    struct Event {
        let uid: String
        let start: Date
        let end: Date
        let timeZone: TimeZone
        let summary: String
        let description: String?
        let location: String?
        let latitude: Double?
        let longitude: Double?
        let url: String?
        let cancelled: Bool
        let categories: [String]
        let created: Date
        let modified: Date
        /// RRULE value and EXDATEs, for recurring series.
        var recurrence: String? = nil
        var exceptions: [Date] = []
        /// The original start of the one occurrence this entry overrides (RECURRENCE-ID); same UID as the series.
        var recurrenceId: Date? = nil

        /// This series' entry for one occurrence moved or renamed alone.
        func overriding(_ occurrence: OccurrenceView) -> Event {
            var entry = Event(uid: uid, start: occurrence.startsAt, end: occurrence.endsAt, timeZone: timeZone, summary: occurrence.title,
                              description: description, location: location, latitude: latitude, longitude: longitude, url: url,
                              cancelled: cancelled, categories: categories, created: created, modified: modified)
            entry.recurrenceId = occurrence.originalStartsAt
            return entry
        }
    }

    mutating func add(_ event: Event) {
        let zone = event.timeZone.identifier
        let lower = min(zones[zone]?.lowerBound ?? event.start, event.start)
        let upper = max(zones[zone]?.upperBound ?? event.end, event.end)
        zones[zone] = lower...upper
        lines.append("BEGIN:VEVENT")
        lines.append("UID:\(event.uid)")
        lines.append("DTSTAMP:\(Self.utc(Date()))")
        lines.append("DTSTART;TZID=\(zone):\(Self.local(event.start, event.timeZone))")
        lines.append("DTEND;TZID=\(zone):\(Self.local(event.end, event.timeZone))")
        if let original = event.recurrenceId { lines.append("RECURRENCE-ID;TZID=\(zone):\(Self.local(original, event.timeZone))") }
        if let recurrence = event.recurrence { lines.append("RRULE:\(recurrence)") }
        if !event.exceptions.isEmpty {
            lines.append("EXDATE;TZID=\(zone):" + event.exceptions.map { Self.local($0, event.timeZone) }.joined(separator: ","))
        }
        lines.append("SUMMARY:\(Self.escape(event.summary))")
        if let description = event.description { lines.append("DESCRIPTION:\(Self.escape(description))") }
        if let location = event.location { lines.append("LOCATION:\(Self.escape(location))") }
        if let latitude = event.latitude, let longitude = event.longitude { lines.append("GEO:\(latitude);\(longitude)") }
        if let url = event.url { lines.append("URL:\(url)") }
        if !event.categories.isEmpty { lines.append("CATEGORIES:" + event.categories.map(Self.escape).joined(separator: ",")) }
        lines.append("STATUS:\(event.cancelled ? "CANCELLED" : "CONFIRMED")")
        lines.append("CREATED:\(Self.utc(event.created))")
        lines.append("LAST-MODIFIED:\(Self.utc(event.modified))")
        lines.append("END:VEVENT")
    }

    /// The document, with one VTIMEZONE per zone used.
    func document() -> String {
        var output = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Flow//Events//EN", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
                      "X-WR-CALNAME:\(Self.escape(name))"]
        for (identifier, span) in zones.sorted(by: { $0.key < $1.key }) {
            guard let zone = TimeZone(identifier: identifier) else { continue }
            output += Self.timeZoneComponent(zone, covering: span)
        }
        output += lines
        output.append("END:VCALENDAR")
        return output.map(Self.fold).joined(separator: "\r\n") + "\r\n"
    }

    /// VTIMEZONE with one STANDARD or DAYLIGHT block per offset period overlapping a year
    /// either side of the events (so clients can also place nearby recurrences correctly).
    static func timeZoneComponent(_ zone: TimeZone, covering span: ClosedRange<Date>) -> [String] {
        let start = span.lowerBound.addingTimeInterval(-366 * 86_400)
        let end = span.upperBound.addingTimeInterval(366 * 86_400)
        var output = ["BEGIN:VTIMEZONE", "TZID:\(zone.identifier)"]
        var previousOffset = zone.secondsFromGMT(for: start)
        var moment = start
        var periods: [(Date, Int, Int, Bool)] = [(start, previousOffset, previousOffset, zone.isDaylightSavingTime(for: start))]
        while let transition = zone.nextDaylightSavingTimeTransition(after: moment), transition < end {
            let offset = zone.secondsFromGMT(for: transition)
            periods.append((transition, previousOffset, offset, zone.isDaylightSavingTime(for: transition)))
            previousOffset = offset
            moment = transition
        }
        for (begin, from, to, daylight) in periods {
            let kind = daylight ? "DAYLIGHT" : "STANDARD"
            output.append("BEGIN:\(kind)")
            // DTSTART of a period is local time in the offset in effect before it.
            output.append("DTSTART:\(local(begin, TimeZone(secondsFromGMT: from) ?? zone))")
            output.append("TZOFFSETFROM:\(offset(from))")
            output.append("TZOFFSETTO:\(offset(to))")
            if let abbreviation = zone.abbreviation(for: begin) { output.append("TZNAME:\(escape(abbreviation))") }
            output.append("END:\(kind)")
        }
        output.append("END:VTIMEZONE")
        return output
    }

    static func offset(_ seconds: Int) -> String {
        let sign = seconds < 0 ? "-" : "+"
        let absolute = abs(seconds)
        return sign + String(format: "%02d%02d", absolute / 3600, (absolute % 3600) / 60)
    }

    static func utc(_ date: Date) -> String {
        local(date, TimeZone(identifier: "UTC")!) + "Z"
    }

    static func local(_ date: Date, _ zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    /// TEXT values: backslash, semicolon and comma escaped, newlines as \n (RFC 5545 §3.3.11).
    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "\\": result += "\\\\"
            case ";": result += "\\;"
            case ",": result += "\\,"
            case "\n", "\r\n": result += "\\n"
            case "\r": continue
            default: result.append(character)
            }
        }
        return result
    }

    /// Lines longer than 75 octets continue on the next line after a space, never inside a
    /// UTF-8 sequence (RFC 5545 §3.1).
    static func fold(_ line: String) -> String {
        guard line.utf8.count > 75 else { return line }
        var folded = ""
        var current = 0
        for scalar in line.unicodeScalars {
            let size = String(scalar).utf8.count
            if current + size > 75 {
                folded += "\r\n "
                current = 1
            }
            folded.unicodeScalars.append(scalar)
            current += size
        }
        return folded
    }
}

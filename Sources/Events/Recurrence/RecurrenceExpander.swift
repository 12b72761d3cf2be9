import Foundation

/// Expands a ``RecurrenceRule`` into occurrence starts, in the event's time zone so wall-clock
/// times hold across daylight-saving changes. Follows python-dateutil's `rrule`: the period
/// (day, week from Monday, month, year) steps by `interval` from the first start; within a
/// period a day must pass every given filter; with no day filters the first start's weekday
/// (weekly), day of month (monthly) or day and month (yearly) are used; starts before the
/// first are skipped; `count` counts what is produced and `until` is inclusive.
struct RecurrenceExpander {
    let rule: RecurrenceRule
    let first: Date
    let calendar: Calendar

    init(rule: RecurrenceRule, first: Date, timeZone: TimeZone) {
        self.rule = rule
        self.first = first
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 2  // weeks start on Monday, as RFC 5545's default WKST
        self.calendar = calendar
    }

    /// The occurrence starting at `start` (within half a second: stored times carry sub-second
    /// noise), if the rule yields one there and it is not an exception.
    func occurrence(at start: Date) -> Date? {
        starts(from: start.addingTimeInterval(-0.5), to: start.addingTimeInterval(0.5), limit: 1).first
    }

    /// Occurrence starts in [from, to), exceptions removed, at most `limit`.
    func starts(from: Date, to: Date, limit: Int = 1_000) -> [Date] {
        var result: [Date] = []
        let cancelled = Set((rule.exceptions ?? []).map { $0.timeIntervalSince1970.rounded() })
        var produced = 0
        let time = calendar.dateComponents([.hour, .minute, .second], from: first)
        let start = calendar.dateComponents([.year, .month, .day, .weekday], from: first)
        let dayFilters = rule.byMonthDay != nil || rule.byWeekday != nil
        let months = rule.byMonth ?? (rule.frequency == .yearly && !dayFilters ? [start.month!] : nil)
        let monthDays = rule.byMonthDay ?? (!dayFilters && (rule.frequency == .monthly || rule.frequency == .yearly) ? [start.day!] : nil)
        let weekdays = rule.weekdayRules.isEmpty ? (!dayFilters && rule.frequency == .weekly ? [RecurrenceRule.WeekdayRule(weekday: start.weekday!, ordinal: nil)] : nil)
            : rule.weekdayRules
        // A rule that produces nothing for about ten years (30 February) never will.
        let barrenLimit = [RecurrenceRule.Frequency.daily: 3_700, .weekly: 530, .monthly: 125, .yearly: 11][rule.frequency]!
        var barren = 0
        var period = 0
        while period < 100_000 {
            let days = periodDays(period, start: start)
            period += 1
            guard let firstDay = days.first, let periodStart = calendar.date(from: firstDay) else { continue }
            // Periods only move forward: once one begins at or after `to` (or `until`), nothing more can be in range.
            if periodStart >= to || rule.until.map({ periodStart > $0 }) == true { break }
            var matched = false
            for day in days where matches(day, months: months, monthDays: monthDays, weekdays: weekdays) {
                var components = day
                components.hour = time.hour
                components.minute = time.minute
                components.second = time.second
                guard let occurrence = calendar.date(from: components), occurrence >= first else { continue }
                if let until = rule.until, occurrence > until { return result }
                produced += 1
                matched = true
                if occurrence >= to { return result }
                if occurrence >= from, !cancelled.contains(occurrence.timeIntervalSince1970.rounded()) {
                    result.append(occurrence)
                    if result.count >= limit { return result }
                }
                if let count = rule.count, produced >= count { return result }
            }
            barren = matched ? 0 : barren + 1
            if barren > barrenLimit { break }
        }
        return result
    }

    /// The calendar days of period `index` (each with year, month, day).
    private func periodDays(_ index: Int, start: DateComponents) -> [DateComponents] {
        let step = index * rule.interval
        let origin = DateComponents(year: start.year, month: start.month, day: start.day, hour: 12)
        guard let anchor = calendar.date(from: origin) else { return [] }
        let span: (Calendar.Component, Int, Date?)
        switch rule.frequency {
        case .daily:
            span = (.day, 1, calendar.date(byAdding: .day, value: step, to: anchor))
        case .weekly:
            let weekStart = calendar.dateInterval(of: .weekOfYear, for: anchor)?.start
            span = (.day, 7, weekStart.flatMap { calendar.date(byAdding: .day, value: 7 * step, to: $0) })
        case .monthly:
            let monthStart = calendar.date(from: DateComponents(year: start.year, month: start.month, day: 1, hour: 12))
            let month = monthStart.flatMap { calendar.date(byAdding: .month, value: step, to: $0) }
            span = (.day, month.flatMap { calendar.range(of: .day, in: .month, for: $0)?.count } ?? 0, month)
        case .yearly:
            let yearStart = calendar.date(from: DateComponents(year: start.year! + step, month: 1, day: 1, hour: 12))
            span = (.day, yearStart.flatMap { calendar.range(of: .day, in: .year, for: $0)?.count } ?? 0, yearStart)
        }
        guard let begin = span.2 else { return [] }
        let beginDay = calendar.dateComponents([.year, .month, .day], from: begin)
        return (0..<span.1).compactMap { offset in
            calendar.date(from: DateComponents(year: beginDay.year, month: beginDay.month, day: beginDay.day! + offset, hour: 12))
                .map { calendar.dateComponents([.year, .month, .day], from: $0) }
        }
    }

    private func matches(_ day: DateComponents, months: [Int]?, monthDays: [Int]?, weekdays: [RecurrenceRule.WeekdayRule]?) -> Bool {
        guard let year = day.year, let month = day.month, let dayOfMonth = day.day else { return false }
        if let months, !months.contains(month) { return false }
        guard let date = calendar.date(from: DateComponents(year: year, month: month, day: dayOfMonth, hour: 12)),
              let length = calendar.range(of: .day, in: .month, for: date)?.count else { return false }
        if let monthDays, !monthDays.contains(where: { $0 > 0 ? $0 == dayOfMonth : length + $0 + 1 == dayOfMonth }) { return false }
        if let weekdays {
            let weekday = calendar.component(.weekday, from: date)
            let matchesAny = weekdays.contains { rule in
                guard rule.weekday == weekday else { return false }
                guard let ordinal = rule.ordinal else { return true }
                // nth weekday of the month (monthly rules, and yearly rules with byMonth).
                let fromStart = (dayOfMonth - 1) / 7 + 1
                let fromEnd = -((length - dayOfMonth) / 7 + 1)
                return ordinal == fromStart || ordinal == fromEnd
            }
            if !matchesAny { return false }
        }
        return true
    }
}

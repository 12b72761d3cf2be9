@testable import Events
@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Events: recurrence")
struct RecurrenceTests {
    static func local(_ date: Date, _ zone: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone)!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!)
    }

    static func expand(_ json: String, first: String, zone: String = "Europe/Lisbon", to: String) throws -> [String] {
        let rule = try FlowJSONDecoder.decode(RecurrenceRule.self, from: Data(json.utf8))
        let start = RFC3339.parse(first)!
        return RecurrenceExpander(rule: rule, first: start, timeZone: TimeZone(identifier: zone)!)
            .starts(from: start, to: RFC3339.parse(to)!).map { local($0, zone) }
    }

    @Test("rules expand like RFC 5545 / dateutil, keeping wall-clock time across daylight saving")
    func expansion() throws {
        // Weekly on Mondays and Wednesdays at 18:00 Lisbon, across the October DST change.
        #expect(try Self.expand(#"{"frequency":"weekly","byWeekday":["MO","WE"],"count":4}"#, first: "2026-10-19T17:00:00Z", to: "2027-01-01T00:00:00Z")
                == ["2026-10-19 18:00", "2026-10-21 18:00", "2026-10-26 18:00", "2026-10-28 18:00"])
        // Monthly on the 31st skips shorter months.
        #expect(try Self.expand(#"{"frequency":"monthly","count":3}"#, first: "2027-01-31T10:00:00Z", to: "2028-01-01T00:00:00Z")
                == ["2027-01-31 10:00", "2027-03-31 10:00", "2027-05-31 10:00"])
        // Last Friday of every second month.
        #expect(try Self.expand(#"{"frequency":"monthly","interval":2,"byWeekday":["-1FR"],"count":3}"#, first: "2027-01-01T19:00:00Z", to: "2028-01-01T00:00:00Z")
                == ["2027-01-29 19:00", "2027-03-26 19:00", "2027-05-28 19:00"])
        // Yearly on 29 February only in leap years; until is inclusive.
        #expect(try Self.expand(#"{"frequency":"yearly","until":"2036-02-29T12:00:00Z"}"#, first: "2028-02-29T12:00:00Z", to: "2040-01-01T00:00:00Z")
                == ["2028-02-29 12:00", "2032-02-29 12:00", "2036-02-29 12:00"])
        // Daily with an exception.
        #expect(try Self.expand(#"{"frequency":"daily","count":3,"exceptions":["2027-06-02T08:00:00Z"]}"#, first: "2027-06-01T08:00:00Z", to: "2028-01-01T00:00:00Z")
                == ["2027-06-01 09:00", "2027-06-03 09:00"])
        // A rule that never matches ends instead of looping.
        #expect(try Self.expand(#"{"frequency":"yearly","byMonth":[2],"byMonthDay":[30]}"#, first: "2027-01-01T08:00:00Z", to: "2030-01-01T00:00:00Z") == [])
    }

    @Test("a weekly series lists occurrences; one can be moved, renamed or cancelled; the .ics carries RRULE and EXDATE", arguments: TestEngine.allCases)
    func occurrences(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let first = Date().addingTimeInterval(2 * 86_400)
            let created = try await API.send(client, .post, "/api/v1/events", """
                {"title":"Weekly run","startsAt":"\(RFC3339.format(first))","endsAt":"\(RFC3339.format(first.addingTimeInterval(3600)))",
                 "timeZone":"Europe/Lisbon","type":"physical","location":{"latitude":38.7,"longitude":-9.1},
                 "recurrence":{"frequency":"weekly","count":5}}
                """, token: ada.token)
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created.json["id"] as? String)
            #expect((created.json["recurrence"] as? [String: Any])?["frequency"] as? String == "weekly")
            let bad = try await API.send(client, .post, "/api/v1/events", EventRouteTests.eventJSON("Bad", extra: #","recurrence":{"frequency":"weekly","byWeekday":["2XX"],"count":0}"#), token: ada.token)
            #expect(bad.status == .unprocessableContent)

            let list = try await API.send(client, .get, "/api/v1/events/\(id)/occurrences?from=\(RFC3339.format(first.addingTimeInterval(-60)))&to=\(RFC3339.format(first.addingTimeInterval(60 * 86_400)))")
            let items = try #require(list.json["items"] as? [[String: Any]])
            #expect(items.count == 5, "\(list.text)")
            let second = try #require(items[1]["occurrenceId"] as? String)
            let third = try #require(items[2]["occurrenceId"] as? String)

            #expect(try await API.send(client, .put, "/api/v1/events/\(id)/occurrences/\(second)", #"{"title":"Hill run"}"#, token: bob.token).status == .forbidden)
            let moved = try await API.send(client, .put, "/api/v1/events/\(id)/occurrences/\(second)",
                                           #"{"startsAt":"\#(RFC3339.format(first.addingTimeInterval(8 * 86_400)))","title":"Hill run"}"#, token: ada.token)
            #expect(moved.status == .ok && moved.json["modified"] as? Bool == true && moved.json["title"] as? String == "Hill run", "\(moved.text)")
            #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/occurrences/\(third)", token: ada.token).status == .noContent)
            #expect(try await API.send(client, .get, "/api/v1/events/\(id)/occurrences/\(third)").status == .notFound)
            let after = try await API.send(client, .get, "/api/v1/events/\(id)/occurrences?from=\(RFC3339.format(first.addingTimeInterval(-60)))&to=\(RFC3339.format(first.addingTimeInterval(60 * 86_400)))")
            let titles = (after.json["items"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }
            #expect(titles == ["Weekly run", "Hill run", "Weekly run", "Weekly run"])
            // A range holding only the new date (not the original one) lists the moved occurrence.
            let movedInto = try await API.send(client, .get, "/api/v1/events/\(id)/occurrences?from=\(RFC3339.format(first.addingTimeInterval(7.5 * 86_400)))&to=\(RFC3339.format(first.addingTimeInterval(9 * 86_400)))")
            #expect((movedInto.json["items"] as? [[String: Any]] ?? []).compactMap { $0["occurrenceId"] as? String } == [second], "\(movedInto.text)")

            let ics = try await API.send(client, .get, "/api/v1/events/\(id).ics").text
            #expect(ics.contains("RRULE:FREQ=WEEKLY;COUNT=5") && ics.contains("EXDATE;TZID=Europe/Lisbon:"))
            // The moved occurrence is its own VEVENT with the series' UID and the original start as RECURRENCE-ID.
            #expect(ics.components(separatedBy: "BEGIN:VEVENT").count == 3 && ics.contains("RECURRENCE-ID;TZID=Europe/Lisbon:") && ics.contains("SUMMARY:Hill run"), "\(ics)")
            #expect(try await API.send(client, .get, "/api/v1/events/\(id)/occurrences/not-a-date").status == .notFound)
        }
    }

    @Test("a series stays listed and joinable after its first date; a finished one-off does not", arguments: TestEngine.allCases)
    func seriesStayUpcoming(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let series = try #require(try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Weekly choir", extra: #","recurrence":{"frequency":"weekly","count":6}"#, startsIn: -10))["id"] as? String)
            let finished = try #require(try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Last week's talk", startsIn: -7))["id"] as? String)
            let short = try #require(try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Two days only", extra: #","recurrence":{"frequency":"daily","count":2}"#, startsIn: -10))["id"] as? String)
            let titles = DiscoveryTests.titles(try await API.send(client, .get, "/api/v1/events"))
            #expect(titles == ["Weekly choir"], "\(titles)")
            #expect(try await API.send(client, .post, "/api/v1/events/\(series)/attend", token: bob.token).status == .ok)
            #expect(try await API.send(client, .post, "/api/v1/events/\(finished)/attend", token: bob.token).status == .conflict)
            #expect(try await API.send(client, .post, "/api/v1/events/\(short)/attend", token: bob.token).status == .conflict)
        }
    }
}

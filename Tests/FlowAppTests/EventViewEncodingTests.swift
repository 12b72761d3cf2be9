@testable import Events
import FlowKit
import Foundation
import Testing

/// Events, venues and locations write their fields by hand (`JSONObjectWriter`): every field
/// of the documented schema must be there, `null` included, under the name decoding reads.
@Suite("Events: the event view's JSON")
struct EventViewEncodingTests {
    static let venue = VenueView(
        id: "v1", name: "Armazém 16", address: "Rua Pereira Henriques 1", city: "Lisboa", country: "PT",
        latitude: 38.7071, longitude: -9.1556, capacity: 250, amenities: ["bar", "step-free"],
        createdAt: Date(timeIntervalSince1970: 1_767_607_200))

    static let full = EventView(
        id: "e1", organizerId: "u1", title: "Jazz \"night\"", summary: "Live", description: "Doors at 19:30\nMusic at 20:00",
        categoryId: "music", tags: ["jazz", "live music"], venue: venue, location: nil,
        startsAt: Date(timeIntervalSince1970: 1_797_105_600), endsAt: Date(timeIntervalSince1970: 1_797_118_200), timeZone: "Europe/Lisbon",
        type: .hybrid, meetingUrl: "https://meet.example/x", meetingProvider: "jitsi", capacity: 120, goingCount: 87,
        interestedCount: 31, waitlistCount: 2, likeCount: 54, spotsLeft: 33,
        recurrence: try! JSONDecoder().decode(RecurrenceRule.self, from: Data(#"{"frequency":"weekly","interval":1,"byWeekday":["FR"],"count":10}"#.utf8)),
        visibility: .unlisted, status: .cancelled, createdAt: Date(timeIntervalSince1970: 1_795_000_000),
        updatedAt: Date(timeIntervalSince1970: 1_795_100_000), cancelledAt: Date(timeIntervalSince1970: 1_795_200_000),
        myAttendance: "going", likedByMe: true, distanceKm: 1.83)

    static let sparse = EventView(
        id: "e2", organizerId: "u2", title: "Walk", summary: nil, description: nil, categoryId: nil, tags: [], venue: nil,
        location: EventLocation(address: nil, latitude: 38.72, longitude: -9.14),
        startsAt: Date(timeIntervalSince1970: 1_797_105_600), endsAt: Date(timeIntervalSince1970: 1_797_109_200), timeZone: "UTC",
        type: .physical, meetingUrl: nil, meetingProvider: nil, capacity: nil, goingCount: 0, interestedCount: 0, waitlistCount: 0,
        likeCount: 0, spotsLeft: nil, recurrence: nil, visibility: .public, status: .published,
        createdAt: Date(timeIntervalSince1970: 1_795_000_000), updatedAt: Date(timeIntervalSince1970: 1_795_000_000), cancelledAt: nil,
        myAttendance: nil, likedByMe: false, distanceKm: nil)

    private func keys(_ document: JSONValue) -> Set<String> {
        guard case .object(let object) = document else { return [] }
        return Set(object.keys)
    }

    private func required(_ schema: JSONValue) -> Set<String> {
        guard case .object(let object) = schema, case .array(let names)? = object["required"] else { return [] }
        return Set(names.compactMap { if case .string(let name) = $0 { name } else { nil } })
    }

    @Test("every documented field, nulls included, the same under both encoders, and it decodes back", arguments: [full, sparse])
    func fieldsRoundTrip(view: EventView) throws {
        let bytes = Data(try StreamingJSONEncoder().encode(view))
        let foundation = JSONEncoder()
        foundation.dateEncodingStrategy = .iso8601
        let document = try JSONDecoder().decode(JSONValue.self, from: bytes)
        #expect(document == (try JSONDecoder().decode(JSONValue.self, from: foundation.encode(view))))
        #expect(keys(document) == required(EventView.schema))
        guard case .object(let object) = document else { Issue.record("not an object"); return }
        if let venue = object["venue"], venue != .null { #expect(keys(venue) == required(VenueView.schema)) }
        if let location = object["location"], location != .null { #expect(keys(location) == required(EventView.locationSchema)) }

        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode(EventView.self, from: bytes) == view)
    }
}

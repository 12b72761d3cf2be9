// Encoding a page of 20 events, the body of every list, search and nearby response: Foundation's
// JSONEncoder (what the API used before) against FlowKit's StreamingJSONEncoder (what it uses
// now). Prints the median and p99 time per page and the page size. Run: scripts/bench-json
import Events
import FlowKit
import Foundation

/// One realistic event as the API shows it, with a venue, tags, a recurrence and a distance.
func sampleEvent(_ index: Int) throws -> EventView {
    let json = """
        {"id":"0193a8f0-7c1e-7b2a-9d4e-\(String(format: "%012d", index))","organizerId":"0193a8f0-0000-7000-8000-000000000001",
         "title":"Jazz night at the river \(index)","summary":"Live quartet, standards and a jam session after the break",
         "description":"Bring friends. Doors at 19:30, music from 20:00 until late. Food trucks outside; the bar takes cards.\\nSecond line.",
         "categoryId":"music","tags":["jazz","live music","lisbon"],
         "venue":{"id":"v1","name":"Armazém 16","address":"Rua Pereira Henriques 1, Lisboa","city":"Lisboa","country":"PT",
                  "latitude":38.7071,"longitude":-9.1556,"capacity":250,"amenities":["bar","step-free"],"createdAt":"2026-01-05T10:00:00Z"},
         "location":null,"startsAt":"2026-12-12T20:00:00Z","endsAt":"2026-12-12T23:30:00Z","timeZone":"Europe/Lisbon",
         "type":"physical","meetingUrl":null,"meetingProvider":null,"capacity":120,"goingCount":87,"interestedCount":31,
         "waitlistCount":0,"likeCount":54,"spotsLeft":33,
         "recurrence":{"frequency":"weekly","interval":1,"byWeekday":["FR"],"count":10},
         "visibility":"public","status":"published","createdAt":"2026-11-20T09:15:42Z","updatedAt":"2026-11-21T11:02:03Z",
         "cancelledAt":null,"myAttendance":null,"likedByMe":false,"distanceKm":1.8342}
        """
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .iso8601
    return try decoder.decode(EventView.self, from: Data(json.utf8))
}

func measure(_ name: String, rounds: Int, _ body: () throws -> Int) rethrows {
    var nanoseconds: [UInt64] = []
    nanoseconds.reserveCapacity(rounds)
    var bytes = 0
    for _ in 0..<rounds {
        let start = DispatchTime.now().uptimeNanoseconds
        bytes = try body()
        nanoseconds.append(DispatchTime.now().uptimeNanoseconds - start)
    }
    nanoseconds.sort()
    let median = Double(nanoseconds[rounds / 2]) / 1000
    let p99 = Double(nanoseconds[rounds * 99 / 100]) / 1000
    print(String(format: "%-34@ median %8.1f µs   p99 %8.1f µs   %6d bytes", name as NSString, median, p99, bytes))
}

// Arguments: [rounds] [foundation|streaming] (one encoder only, for profiling).
let arguments = Array(CommandLine.arguments.dropFirst())
let rounds = Int(arguments.first ?? "") ?? 5000
let only = arguments.dropFirst().first
let page = Page(items: try (0..<20).map(sampleEvent), nextCursor: "WyIwIiwiMTIzNDUiXQ")
let foundation = JSONEncoder()
foundation.dateEncodingStrategy = .iso8601
let streaming = StreamingJSONEncoder()
print("page of 20 events, \(rounds) rounds each (after 200 warm-up rounds)")
if only != "streaming" {
    for _ in 0..<200 { _ = try foundation.encode(page) }
    try measure("Foundation JSONEncoder (.iso8601)", rounds: rounds) { try foundation.encode(page).count }
}
if only != "foundation" {
    for _ in 0..<200 { _ = try streaming.encode(page) }
    try measure("FlowKit StreamingJSONEncoder", rounds: rounds) { try streaming.encode(page).count }
}

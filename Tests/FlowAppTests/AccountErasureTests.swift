@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Events' reaction to a deleted account, through the bus (the `events.account-erasure` group
/// in the worker role): the seat goes to the next person waiting; invitations and the calendar
/// feed go; past attendance stays.
@Suite("Events: a deleted account gives up its places")
struct AccountErasureTests {
    @Test("deleting an account frees its seat for the waitlist and removes its invitations and calendar feed", arguments: TestEngine.allCases)
    func deletedAccountGivesUpItsPlaces(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let dan = try await API.register(client, "dan@example.com", "dan")
            let wes = try await API.register(client, "wes@example.com", "wes")
            let event = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("One seat", extra: #","capacity":1"#))
            let id = try #require(event["id"] as? String)
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/attend", #"{"status":"going"}"#, token: dan.token).json["status"] as? String == "going")
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/attend", #"{"status":"going"}"#, token: wes.token).json["status"] as? String == "waitlisted")
            let other = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Another"))
            let otherId = try #require(other["id"] as? String)
            #expect(try await API.send(client, .post, "/api/v1/events/\(otherId)/invites", #"{"userIds":["\#(dan.id)"]}"#, token: ada.token).status == .ok)
            #expect(try await API.send(client, .post, "/api/v1/calendar/feed", token: dan.token).status == .created)
            let tier = try await API.send(client, .post, "/api/v1/events/\(otherId)/tickets", #"{"name":"Standard","priceMinor":0,"currency":"EUR","quantity":3}"#, token: ada.token)
            let tierId = try #require(tier.json["id"] as? String, "\(tier.text)")
            #expect(try await API.send(client, .post, "/api/v1/events/\(otherId)/reservations", #"{"tierId":"\#(tierId)"}"#, token: dan.token).status == .created)

            let deleted = try await API.send(client, .delete, "/api/v1/users/me", #"{"password":"\#(API.password)"}"#, token: dan.token)
            #expect(deleted.status == .noContent)

            try await eventually("the waitlist was not promoted") {
                try await API.count(server, "SELECT COUNT(*) AS n FROM attendance WHERE event_id = '\(id)' AND user_id = '\(wes.id)' AND status = 'going'") == 1
            }
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM attendance WHERE user_id = '\(dan.id)'") == 0)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM event_invites WHERE user_id = '\(dan.id)'") == 0)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM calendar_feeds WHERE user_id = '\(dan.id)'") == 0)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM ticket_reservations WHERE user_id = '\(dan.id)' AND status = 'reserved'") == 0)
            #expect(try await API.count(server, "SELECT reserved AS n FROM ticket_tiers WHERE id = '\(tierId)'") == 0)
            let counts = try await API.send(client, .get, "/api/v1/events/\(id)").json
            #expect(counts["goingCount"] as? Int == 1 && counts["waitlistCount"] as? Int == 0)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM bus_events WHERE type = 'waitlist.promoted'") == 1)
        }
    }
}

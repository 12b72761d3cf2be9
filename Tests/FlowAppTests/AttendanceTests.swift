@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import SQLKit
import Testing

@Suite("Events: attendance, capacity under concurrency, waitlist")
struct AttendanceTests {
    @Test("20 people join a 5-seat event at once: 5 going, 15 waitlisted in order; leaving promotes the next", arguments: TestEngine.allCases)
    func capacityUnderConcurrency(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let event = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Small room", extra: #","capacity":5"#))
            let id = try #require(event["id"] as? String)
            var people: [(token: String, id: String)] = []
            for index in 0..<20 { people.append(try await API.register(client, "p\(index)@example.com", "person\(index)")) }

            let outcomes = try await withThrowingTaskGroup(of: (String, String).self) { group in
                for person in people {
                    group.addTask {
                        let response = try await API.send(client, .post, "/api/v1/events/\(id)/attend", #"{"status":"going"}"#, token: person.token)
                        return (person.id, response.json["status"] as? String ?? "error \(response.status)")
                    }
                }
                return try await group.reduce(into: [String: String]()) { $0[$1.0] = $1.1 }
            }
            #expect(outcomes.values.filter { $0 == "going" }.count == 5)
            #expect(outcomes.values.filter { $0 == "waitlisted" }.count == 15)
            let counts = try await API.send(client, .get, "/api/v1/events/\(id)").json
            #expect(counts["goingCount"] as? Int == 5 && counts["waitlistCount"] as? Int == 15 && counts["spotsLeft"] as? Int == 0)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM attendance WHERE event_id = '\(id)' AND status = 'going'") == 5)

            // Two going people leave: the two who waited longest are promoted, in order.
            let waiting = try await server.database.read { sql in
                try await sql.raw("SELECT user_id FROM attendance WHERE event_id = \(bind: id) AND status = 'waitlisted' ORDER BY updated_at, user_id")
                    .all().map { try $0.decode(column: "user_id", as: String.self) }
            }
            let leavers = people.filter { outcomes[$0.id] == "going" }.prefix(2)
            for leaver in leavers {
                #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/attend", token: leaver.token).status == .noContent)
            }
            let promoted = try await server.database.read { sql in
                try await sql.raw("SELECT user_id FROM attendance WHERE event_id = \(bind: id) AND status = 'going'").all()
                    .map { try $0.decode(column: "user_id", as: String.self) }
            }
            #expect(Set(waiting.prefix(2)).isSubset(of: Set(promoted)) && promoted.count == 5)
            let after = try await API.send(client, .get, "/api/v1/events/\(id)").json
            #expect(after["goingCount"] as? Int == 5 && after["waitlistCount"] as? Int == 13)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM bus_events WHERE type = 'waitlist.promoted'") == 2)
        }
    }

    @Test("interested, switching, leaving, check-in and the attendee list", arguments: TestEngine.allCases)
    func statusesAndCheckIn(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let cy = try await API.register(client, "cyd@example.com", "cyd")
            let id = try #require(try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Picnic", extra: #","capacity":1"#))["id"] as? String)
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/attend", #"{"status":"interested"}"#, token: bob.token).json["status"] as? String == "interested")
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/attend", token: bob.token).json["status"] as? String == "going")
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/attend", token: cy.token).json["status"] as? String == "waitlisted")
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/attend", #"{"status":"waitlisted"}"#, token: cy.token).status == .unprocessableContent)
            let counts = try await API.send(client, .get, "/api/v1/events/\(id)", token: bob.token).json
            #expect(counts["goingCount"] as? Int == 1 && counts["interestedCount"] as? Int == 0 && counts["myAttendance"] as? String == "going")

            // Bob steps down to interested: his seat goes to Cy.
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/attend", #"{"status":"interested"}"#, token: bob.token).status == .ok)
            #expect(try await API.send(client, .get, "/api/v1/events/\(id)", token: cy.token).json["myAttendance"] as? String == "going")

            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/check-in", #"{"userId":"\#(cy.id)"}"#, token: bob.token).status == .forbidden)
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/check-in", #"{"userId":"\#(bob.id)"}"#, token: ada.token).status == .conflict)
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/check-in", #"{"userId":"\#(cy.id)"}"#, token: ada.token).status == .noContent)
            let asOrganizer = try await API.send(client, .get, "/api/v1/events/\(id)/attendees", token: ada.token).json["items"] as? [[String: Any]] ?? []
            #expect(asOrganizer.count == 2 && asOrganizer.contains { $0["userId"] as? String == cy.id && $0["checkedInAt"] is String })
            #expect(try await API.send(client, .get, "/api/v1/events/\(id)/attendees?status=waitlisted", token: bob.token).status == .forbidden)
            #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/attend", token: ada.token).status == .notFound)
        }
    }
}

@Suite("Events: attendee privacy")
struct AttendeePrivacyTests {
    @Test("the attendee list follows each attendee's attended-events privacy; the organizer sees everyone", arguments: TestEngine.allCases)
    func privacy(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let cyd = try await API.register(client, "cyd@example.com", "cyd")
            let dee = try await API.register(client, "dee@example.com", "dee")
            let id = try #require(try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Open air cinema"))["id"] as? String)
            _ = try await API.send(client, .put, "/api/v1/users/me", #"{"privacy":{"attendedEvents":"private"}}"#, token: bob.token)
            _ = try await API.send(client, .put, "/api/v1/users/me", #"{"privacy":{"attendedEvents":"public"}}"#, token: cyd.token)
            for person in [bob, cyd, dee] { _ = try await API.send(client, .post, "/api/v1/events/\(id)/attend", token: person.token) }
            func listed(_ token: String?) async throws -> Set<String> {
                let response = try await API.send(client, .get, "/api/v1/events/\(id)/attendees", token: token)
                return Set((response.json["items"] as? [[String: Any]] ?? []).compactMap { $0["userId"] as? String })
            }
            #expect(try await listed(ada.token) == [bob.id, cyd.id, dee.id])
            #expect(try await listed(dee.token) == [cyd.id, dee.id], "members see members-level and public; Bob is private")
            #expect(try await listed(nil) == [cyd.id], "anonymous viewers see public only")
            #expect(try await listed(bob.token) == [bob.id, cyd.id, dee.id], "everyone sees themselves")
        }
    }
}

@Suite("Events: ticket tiers")
struct TicketTests {
    @Test("12 buyers race for 5 tickets: 5 reservations, 7 sold out; cancelling puts tickets back; free/paid filter", arguments: TestEngine.allCases)
    func noOverselling(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let id = try #require(try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Gala"))["id"] as? String)
            _ = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Free picnic"))
            let bad = try await API.send(client, .post, "/api/v1/events/\(id)/tickets", #"{"name":"VIP","priceMinor":-1,"currency":"EURO","quantity":0}"#, token: ada.token)
            #expect(bad.status == .unprocessableContent)
            let tier = try await API.send(client, .post, "/api/v1/events/\(id)/tickets", #"{"name":"Standard","priceMinor":2500,"currency":"EUR","quantity":5}"#, token: ada.token)
            #expect(tier.status == .created, "\(tier.text)")
            let tierId = try #require(tier.json["id"] as? String)
            var buyers: [(token: String, id: String)] = []
            for index in 0..<12 { buyers.append(try await API.register(client, "b\(index)@example.com", "buyer\(index)")) }
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for buyer in buyers {
                    group.addTask {
                        try await API.send(client, .post, "/api/v1/events/\(id)/reservations", #"{"tierId":"\#(tierId)"}"#, token: buyer.token).status.code
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 5 && statuses.filter { $0 == 409 }.count == 7, "\(statuses)")
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM ticket_reservations WHERE status = 'reserved'") == 5)
            let tiers = try await API.send(client, .get, "/api/v1/events/\(id)/tickets").json["items"] as? [[String: Any]] ?? []
            #expect(tiers.first?["remaining"] as? Int == 0 && tiers.first?["onSale"] as? Bool == false)

            var holder: (token: String, id: String)?
            for buyer in buyers where holder == nil {
                if (try await API.send(client, .get, "/api/v1/events/\(id)/reservations", token: buyer.token).json["items"] as? [Any])?.isEmpty == false { holder = buyer }
            }
            let owner = try #require(holder)
            let mine = try #require((try await API.send(client, .get, "/api/v1/events/\(id)/reservations", token: owner.token).json["items"] as? [[String: Any]])?.first)
            #expect(mine["totalMinor"] as? Int == 2500 && mine["currency"] as? String == "EUR")
            #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/reservations/\(mine["id"] as! String)", token: ada.token).status == .notFound)
            #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/reservations/\(mine["id"] as! String)", token: owner.token).status == .noContent)
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/reservations", #"{"tierId":"\#(tierId)","quantity":2}"#, token: ada.token).status == .conflict)
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/reservations", #"{"tierId":"\#(tierId)"}"#, token: ada.token).status == .created)

            #expect(DiscoveryTests.titles(try await API.send(client, .get, "/api/v1/events?free=false")) == ["Gala"])
            #expect(DiscoveryTests.titles(try await API.send(client, .get, "/api/v1/events?free=true")) == ["Free picnic"])
        }
    }
}

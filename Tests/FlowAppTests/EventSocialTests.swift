@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Events: likes, comments with moderation, featured")
struct EventSocialTests {
    @Test("likes are idempotent and counted; comments page; removal by author, organizer or moderator only", arguments: TestEngine.allCases)
    func likesAndComments(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let cyd = try await API.register(client, "cyd@example.com", "cyd")
            let id = try #require(try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Talk night"))["id"] as? String)
            for _ in 0..<2 { #expect(try await API.send(client, .post, "/api/v1/events/\(id)/like", token: bob.token).json["likeCount"] as? Int == 1) }
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/like", token: cyd.token).json["likeCount"] as? Int == 2)
            #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/like", token: cyd.token).json["likeCount"] as? Int == 1)
            #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/like", token: cyd.token).json["likeCount"] as? Int == 1)
            let seen = try await API.send(client, .get, "/api/v1/events/\(id)", token: bob.token).json
            #expect(seen["likedByMe"] as? Bool == true && seen["likeCount"] as? Int == 1)

            var ids: [String] = []
            for index in 0..<3 {
                let posted = try await API.send(client, .post, "/api/v1/events/\(id)/comments", #"{"body":"comment \#(index)"}"#, token: index == 2 ? cyd.token : bob.token)
                #expect(posted.status == .created)
                ids.append(posted.json["id"] as? String ?? "")
            }
            #expect(try await API.send(client, .post, "/api/v1/events/\(id)/comments", #"{"body":"   "}"#, token: bob.token).status == .unprocessableContent)
            let first = try await API.send(client, .get, "/api/v1/events/\(id)/comments?limit=2")
            #expect((first.json["items"] as? [[String: Any]])?.compactMap { $0["body"] as? String } == ["comment 0", "comment 1"])
            let cursor = try #require(first.json["nextCursor"] as? String)
            #expect((try await API.send(client, .get, "/api/v1/events/\(id)/comments?limit=2&cursor=\(cursor)").json["items"] as? [Any])?.count == 1)

            #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/comments/\(ids[0])", token: cyd.token).status == .forbidden)
            #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/comments/\(ids[0])", token: bob.token).status == .noContent)
            #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/comments/\(ids[2])", token: ada.token).status == .noContent)
            _ = try await server.identity.createAdmin(email: "mod@example.com", username: "mod", password: API.password)
            let moderator = try #require(try await IdentityRouteTests.login(client, "mod@example.com").json["accessToken"] as? String)
            #expect(try await API.send(client, .delete, "/api/v1/events/\(id)/comments/\(ids[1])", token: moderator).status == .noContent)
            #expect((try await API.send(client, .get, "/api/v1/events/\(id)/comments").json["items"] as? [Any])?.isEmpty == true)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'comment.removed'") == 2)
        }
    }

    @Test("featured: popularity, discounted by how far away the event is; beyond 30 days not featured")
    func featured() async throws {
        try await withTestServer { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let soon = try #require(try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Soon and liked", startsIn: 1))["id"] as? String)
            let later = try #require(try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Later and liked", startsIn: 25))["id"] as? String)
            _ = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Soon, nobody", startsIn: 2))
            _ = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Too far away", startsIn: 40))
            for event in [soon, later] {
                _ = try await API.send(client, .post, "/api/v1/events/\(event)/like", token: bob.token)
                _ = try await API.send(client, .post, "/api/v1/events/\(event)/attend", token: bob.token)
            }
            let page = try await API.send(client, .get, "/api/v1/events/featured?limit=2")
            // Scores: soon and liked 6 / (1 + 1/7) = 5.25; later and liked 6 / (1 + 25/7) = 1.31; soon, nobody 1 / (1 + 2/7) = 0.78.
            #expect(DiscoveryTests.titles(page) == ["Soon and liked", "Later and liked"])
            let next = try await API.send(client, .get, "/api/v1/events/featured?limit=2&cursor=\(page.json["nextCursor"] as? String ?? "")")
            #expect(DiscoveryTests.titles(next) == ["Soon, nobody"])
        }
    }
}

@Suite("Events: iCalendar")
struct CalendarTests {
    @Test("an event's .ics is RFC 5545 text in its time zone; the feed lists what I attend", arguments: TestEngine.allCases)
    func icalendar(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let id = try #require(try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Fado; night, live", extra: #","description":"Bring friends\nand voices""#))["id"] as? String)
            let ics = try await API.send(client, .get, "/api/v1/events/\(id).ics")
            #expect(ics.status == .ok && ics.headers[.contentType]?.hasPrefix("text/calendar") == true, "\(ics.text)")
            #expect(ics.text.hasPrefix("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") && ics.text.hasSuffix("END:VCALENDAR\r\n"))
            #expect(ics.text.contains("TZID:Europe/Lisbon") && ics.text.contains("DTSTART;TZID=Europe/Lisbon:"))
            #expect(ics.text.contains(#"SUMMARY:Fado\; night\, live"#) && ics.text.contains(#"DESCRIPTION:Bring friends\nand voices"#))
            #expect(ics.text.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 75 })
            #expect(try await API.send(client, .get, "/api/v1/events/\(id)").json["id"] as? String == id, "the plain route still answers")
            let wrongMethod = try await API.send(client, .put, "/api/v1/events/\(id).ics", "{}", token: ada.token)
            #expect(wrongMethod.status == .methodNotAllowed && wrongMethod.headers[.allow] == "GET, HEAD", "\(wrongMethod.headers)")

            let feed = try await API.send(client, .post, "/api/v1/calendar/feed", token: bob.token)
            #expect(feed.status == .created)
            let token = try #require(feed.json["token"] as? String)
            #expect(!(try await API.send(client, .get, "/api/v1/calendar/\(token).ics").text.contains("BEGIN:VEVENT")))
            _ = try await API.send(client, .post, "/api/v1/events/\(id)/attend", token: bob.token)
            #expect(try await API.send(client, .get, "/api/v1/calendar/\(token).ics").text.contains("UID:\(id)@flow"))
            _ = try await API.send(client, .post, "/api/v1/calendar/feed", token: bob.token)
            #expect(try await API.send(client, .get, "/api/v1/calendar/\(token).ics").status == .notFound, "a new address retires the old")
        }
    }
}

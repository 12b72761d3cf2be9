@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Events: discovery, search, nearby")
struct DiscoveryTests {
    static func titles(_ response: TestResponse) -> [String] {
        (response.json["items"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }
    }

    @Test("filters, full-text relevance, nearby by distance, and cursor pages", arguments: TestEngine.allCases)
    func discovery(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            // Lisbon centre, Cascais (~25 km), Porto (~275 km).
            _ = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Jazz night", extra: #","categoryId":"music-concerts","tags":["jazz"],"description":"Live jazz quartet""#, startsIn: 3))
            _ = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Beach run", extra: #","categoryId":"sports-running","tags":["running","beach"],"summary":"Easy 5k, jazz playlist""#, startsIn: 1, lat: 38.6979, lng: -9.4215))
            _ = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Porto wine tasting", extra: #","categoryId":"food-tastings","tags":["wine"]"#, startsIn: 2, lat: 41.1579, lng: -8.6291))
            _ = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Rock concert", extra: #","categoryId":"music","tags":["rock"]"#, startsIn: 4, lat: 38.7436, lng: -9.1602))

            #expect(Self.titles(try await API.send(client, .get, "/api/v1/events")) == ["Beach run", "Porto wine tasting", "Jazz night", "Rock concert"])
            #expect(Self.titles(try await API.send(client, .get, "/api/v1/events?category=music")) == ["Jazz night", "Rock concert"])
            #expect(Self.titles(try await API.send(client, .get, "/api/v1/events?tags=wine,beach")) == ["Beach run", "Porto wine tasting"])
            let window = "from=\(RFC3339.format(Date().addingTimeInterval(1.5 * 86_400)))&to=\(RFC3339.format(Date().addingTimeInterval(3.5 * 86_400)))"
            #expect(Self.titles(try await API.send(client, .get, "/api/v1/events?\(window.replacingOccurrences(of: "+", with: "%2B"))")) == ["Porto wine tasting", "Jazz night"])

            // "jazz" in the title ranks above "jazz" in a summary.
            #expect(Self.titles(try await API.send(client, .get, "/api/v1/events?q=jazz")) == ["Jazz night", "Beach run"])
            #expect(Self.titles(try await API.send(client, .get, "/api/v1/events?q=tasting")) == ["Porto wine tasting"])
            // The last word is a prefix on both engines (search as you type); operators are plain words.
            #expect(Self.titles(try await API.send(client, .get, "/api/v1/events?q=wine%20tast")) == ["Porto wine tasting"])
            #expect(Self.titles(try await API.send(client, .get, "/api/v1/events?q=por%20%26%20!wine")).isEmpty)
            #expect(Self.titles(try await API.send(client, .get, #"/api/v1/events?q=%22unbalanced%20AND%20(OR"#)).isEmpty)

            let near = try await API.send(client, .get, "/api/v1/events/nearby?lat=38.7223&lng=-9.1393&radius=30")
            #expect(Self.titles(near) == ["Jazz night", "Rock concert", "Beach run"])
            let distances = (near.json["items"] as? [[String: Any]] ?? []).compactMap { $0["distanceKm"] as? Double }
            #expect(distances.count == 3 && distances[0] < 0.1 && abs(distances[1] - 2.9) < 0.5 && abs(distances[2] - 24.5) < 1.5)
            #expect(Self.titles(try await API.send(client, .get, "/api/v1/events/nearby?lat=38.7223&lng=-9.1393&radius=10")) == ["Jazz night", "Rock concert"])
            #expect(try await API.send(client, .get, "/api/v1/events/nearby?lat=95&lng=0").status == .unprocessableContent)
            #expect(try await API.send(client, .get, "/api/v1/events/nearby?lng=0").status == .unprocessableContent)

            // Pages of two, following the cursor, cover everything once.
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await API.send(client, .get, "/api/v1/events/nearby?lat=38.7223&lng=-9.1393&radius=400&limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                seen += Self.titles(page)
                cursor = page.json["nextCursor"] as? String
            } while cursor != nil
            #expect(seen == ["Jazz night", "Rock concert", "Beach run", "Porto wine tasting"])
        }
    }

    @Test("search ranks title, tags, summary, description, then prefix matches, newest first within each; pages cover every match once",
          arguments: TestEngine.allCases)
    func searchTiers(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            for (title, extra) in [("Street fair", #","description":"A jazz band plays all day""#), ("Jazzercise class", ""), ("Jazz brunch", ""),
                                   ("Sunday market", #","summary":"Stalls, with jazz""#), ("Sunday brunch", #","tags":["jazz"]"#), ("Cinema", ""),
                                   ("Jazz night", "")] {
                _ = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON(title, extra: extra))
            }
            let expected = ["Jazz night", "Jazz brunch", "Sunday brunch", "Sunday market", "Street fair", "Jazzercise class"]
            #expect(Self.titles(try await API.send(client, .get, "/api/v1/events?q=jazz")) == expected)
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await API.send(client, .get, "/api/v1/events?q=jazz&limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
                #expect(page.status == .ok, "\(page.text)")
                seen += Self.titles(page)
                cursor = page.json["nextCursor"] as? String
            } while cursor != nil && seen.count < 20
            #expect(seen == expected)
            // Two letters are never a prefix; three are.
            #expect(Self.titles(try await API.send(client, .get, "/api/v1/events?q=ja")).isEmpty)
            // "jaz" is no word: every match is a prefix match, in one tier, newest first.
            #expect(Self.titles(try await API.send(client, .get, "/api/v1/events?q=jaz")) == ["Jazz night", "Sunday brunch", "Sunday market", "Jazz brunch", "Jazzercise class", "Street fair"])
        }
    }

    @Test("nearby search reaches across the antimeridian, nearest first", arguments: TestEngine.allCases)
    func antimeridian(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            // Around Taveuni, Fiji, where the 180th meridian runs through the island.
            _ = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Just east", lat: -16.8, lng: -179.98))
            _ = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("West side", lat: -16.8, lng: 179.90))
            _ = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Too far east", lat: -16.8, lng: -179.5))
            for (lng, expected) in [(179.99, ["Just east", "West side"]), (-179.99, ["Just east", "West side"])] {
                let near = try await API.send(client, .get, "/api/v1/events/nearby?lat=-16.8&lng=\(lng)&radius=20")
                #expect(Self.titles(near) == expected, "from \(lng): \(near.text)")
                let distances = (near.json["items"] as? [[String: Any]] ?? []).compactMap { $0["distanceKm"] as? Double }
                #expect(distances.allSatisfy { $0 < 20 } && distances == distances.sorted())
            }
        }
    }

    @Test("categories are a tree; staff add more")
    func categories() async throws {
        try await withTestServer { client, server in
            let tree = try await API.send(client, .get, "/api/v1/categories").json["items"] as? [[String: Any]] ?? []
            #expect(tree.count == 8 && tree.allSatisfy { ($0["subcategories"] as? [Any])?.isEmpty == false })
            let ada = try await API.register(client, "ada@example.com", "ada")
            #expect(try await API.send(client, .post, "/api/v1/categories", #"{"id":"games","name":"Games"}"#, token: ada.token).status == .forbidden)
            _ = try await server.identity.createAdmin(email: "root@example.com", username: "root", password: API.password)
            let admin = try #require(try await IdentityRouteTests.login(client, "root@example.com").json["accessToken"] as? String)
            #expect(try await API.send(client, .post, "/api/v1/categories", #"{"id":"games","name":"Games"}"#, token: admin).status == .created)
            #expect(try await API.send(client, .post, "/api/v1/categories", #"{"id":"games-board","name":"Board games","parentId":"games"}"#, token: admin).status == .created)
            #expect(try await API.send(client, .post, "/api/v1/categories", #"{"id":"games","name":"Again"}"#, token: admin).status == .conflict)
            #expect(try await API.send(client, .post, "/api/v1/categories", #"{"id":"deep","name":"Deep","parentId":"games-board"}"#, token: admin).status == .unprocessableContent)
        }
    }
}

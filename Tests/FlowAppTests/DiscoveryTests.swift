@testable import FlowApp
@testable import Events
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

    @Test("nearby refuses a missing, empty, non-numeric or out-of-range centre or radius, naming the parameter")
    func nearbyValidation() async throws {
        try await withTestServer(.sqlite) { client, _ in
            let cases = [
                ("lng=-9.14", "lat"), ("lat=&lng=-9.14", "lat"), ("lat=91&lng=-9.14", "lat"), ("lat=38.7&lng=abc", "lng"),
                ("lat=38.7&lng=-9.14&radius=", "radius"), ("lat=38.7&lng=-9.14&radius=0", "radius"),
                ("lat=38.7&lng=-9.14&radius=501", "radius"), ("lat=38.7&lng=-9.14&radius=nan", "radius"),
            ]
            for (query, field) in cases {
                let response = try await API.send(client, .get, "/api/v1/events/nearby?" + query)
                #expect(response.status == .unprocessableContent, "\(query): \(response.text)")
                let fields = ((response.errorBody()["details"] as? [String: Any])?["fields"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
                #expect(fields == [field], "\(query): \(response.text)")
            }
            #expect(try await API.send(client, .get, "/api/v1/events/nearby?lat=38.7&lng=-9.14").status == .ok)
        }
    }

    /// The OpenAPI document says `maxLength: 200`, which JSON Schema counts in code points: a
    /// letter with a combining accent is two. Counting characters let 150 accented letters (300
    /// code points) through, which schemathesis reported as a schema-violating request accepted.
    @Test("search refuses more than 200 code points in q, as its documented maxLength counts them")
    func searchLengthInCodePoints() async throws {
        try await withTestServer(.sqlite) { client, _ in
            let accented = String(repeating: "e\u{0301}", count: 150)
            #expect(accented.count == 150 && accented.unicodeScalars.count == 300)
            let encoded = accented.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let refused = try await API.send(client, .get, "/api/v1/events?q=" + encoded)
            #expect(refused.status == .unprocessableContent, "\(refused.text)")
            let fields = ((refused.errorBody()["details"] as? [String: Any])?["fields"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
            #expect(fields == ["q"])
            let longest = String(repeating: "e\u{0301}", count: 100).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            #expect(try await API.send(client, .get, "/api/v1/events?q=" + longest).status == .ok)
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

    @Test("nearby search at the North Pole finds events on every side of it, nearest first", arguments: TestEngine.allCases)
    func northPole(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            // 0.05° of latitude is 5.6 km, whatever the longitude; 0.12° is 13.3 km.
            for (title, lat, lng) in [("Greenwich side", 89.95, 0.0), ("Asian side", 89.96, 90.0), ("Date line side", 89.97, 180.0),
                                      ("American side", 89.94, -90.0), ("Too far", 89.88, 45.0)] {
                _ = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON(title, lat: lat, lng: lng))
            }
            let near = try await API.send(client, .get, "/api/v1/events/nearby?lat=90&lng=0&radius=10")
            #expect(Self.titles(near) == ["Date line side", "Asian side", "Greenwich side", "American side"], "\(near.text)")
        }
    }

    @Test("nearby pages list every event in the radius exactly once, in true distance order, far north too (partial reads)", arguments: TestEngine.allCases)
    func nearbyMatchesBruteForce(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let events = try #require(server.modules.compactMap { $0 as? EventsModule }.first).service
            // 600 events within ~25 km of Longyearbyen (latitude 78: a degree east is a fifth of a
            // degree north, so nearest in degrees is far from nearest): many more than a first
            // read's candidates fit in the radius, so the engines' partial nearest-first reads
            // decide the order.
            let svalbard = SeedCity(name: "Longyearbyen", latitude: 78.22, longitude: 15.65, timeZone: "Arctic/Longyearbyen")
            try await EventSeeder(service: events).seedSynthetic(count: 600, organizerIds: [ada.id], city: svalbard, seed: 9) { _ in }
            let (lat, lng, radius) = (78.23, 15.70, 12.0)
            // And a trap for nearest-in-degrees: 120 events 2–3.2 km due north come before 30
            // events 1–1.3 km due east in degrees (east–west degrees are 4.9 times shorter here),
            // though the eastern ones are the nearest.
            var random = SeededRandom(seed: 3)
            let kmPerDegree = Geo.kilometresPerDegree
            let line = (0..<150).map { index -> EventRecord in
                var event = EventSeeder.syntheticEvent(organizerId: ada.id, city: svalbard, venue: nil, now: Date(), random: &random)
                event.latitude = index < 120 ? lat + (2.0 + Double(index) * 0.01) / kmPerDegree : lat
                event.longitude = index < 120 ? lng : lng + (1.0 + Double(index - 120) * 0.01) / (kmPerDegree * cos(lat * .pi / 180))
                return event
            }
            // And 40 events at one venue 1.5 km west, equally distant: more than a read's
            // candidates tie, so PostgreSQL's reads end inside the tie (only what is ranked below
            // a read's last rank is known complete) and pages split it by id.
            let venue = (0..<40).map { _ -> EventRecord in
                var event = EventSeeder.syntheticEvent(organizerId: ada.id, city: svalbard, venue: nil, now: Date(), random: &random)
                event.latitude = lat
                event.longitude = lng - 1.5 / (kmPerDegree * cos(lat * .pi / 180))
                return event
            }
            try await events.database.transaction { tx in try await events.store.insertBatch(line + venue, in: tx) }
            let eastIds = Set(line.suffix(30).map(\.id)), northIds = Set(line.prefix(120).map(\.id))
            var seen: [String] = []
            var distances: [Double] = []
            var cursor: String?
            repeat {
                let path = "/api/v1/events/nearby?lat=\(lat)&lng=\(lng)&radius=\(radius)&limit=25" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await API.send(client, .get, path)
                let items = page.json["items"] as? [[String: Any]] ?? []
                seen += items.compactMap { $0["id"] as? String }
                distances += items.compactMap { $0["distanceKm"] as? Double }
                cursor = page.json["nextCursor"] as? String
            } while cursor != nil && seen.count < 1000
            // Brute force over every seeded event, by the distance the API reports (2 decimals).
            let all = try await server.database.read { sql in
                try await sql.raw("SELECT id, latitude, longitude FROM events").all().map {
                    (id: try $0.decode(column: "id", as: String.self), latitude: try $0.decode(column: "latitude", as: Double.self),
                     longitude: try $0.decode(column: "longitude", as: Double.self))
                }
            }
            let center = Coordinate(latitude: lat, longitude: lng)
            let expected = all.map { ($0.id, Geo.distanceKm(center, Coordinate(latitude: $0.latitude, longitude: $0.longitude))) }
                .filter { $0.1 <= radius }
            #expect(expected.count > 100, "the radius should hold many events, holds \(expected.count)")
            #expect(Set(seen) == Set(expected.map(\.0)) && seen.count == expected.count, "\(seen.count) listed, \(expected.count) within \(radius) km")
            let position = Dictionary(seen.enumerated().map { ($1, $0) }, uniquingKeysWith: min)
            let lastEast = eastIds.map { position[$0] ?? Int.max }.max() ?? Int.max
            let firstNorth = northIds.map { position[$0] ?? -1 }.min() ?? -1
            #expect(lastEast < firstNorth, "every event 1–1.3 km east comes before any 2–3.2 km north")
            // Nearest first; the rank is an equirectangular approximation of the great-circle
            // distance shown, so near-ties (a few metres at 12 km) may swap.
            #expect(zip(distances, distances.dropFirst()).allSatisfy { $1 >= $0 - 0.03 }, "pages must run nearest first: \(distances)")
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

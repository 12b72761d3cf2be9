@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HummingbirdTesting
import Testing

/// Signed-out reads of an event come from memory; every kind of write must reach them at once.
@Suite("Events: the signed-out view cache")
struct EventViewCacheTests {
    @Test("edits, attendance, likes, privacy, cancellation and deletion show at once to signed-out readers", arguments: TestEngine.allCases)
    func writesReachCachedReads(engine: TestEngine) async throws {
        // An hour of lifetime: only invalidation can explain a fresh read.
        try await withTestServer(engine, configure: { $0.eventCacheLifetime = .seconds(3600) }) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let created = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Rooftop jazz"))
            let path = "/api/v1/events/\(try #require(created["id"] as? String))"
            func anonymous() async throws -> TestResponse { try await API.send(client, .get, path) }

            let first = try await anonymous()
            #expect(first.status == .ok && first.json["title"] as? String == "Rooftop jazz")
            #expect(try await anonymous().body == first.body)

            #expect(try await API.send(client, .put, path, #"{"title":"Rooftop jazz, indoors"}"#, token: ada.token).status == .ok)
            #expect(try await anonymous().json["title"] as? String == "Rooftop jazz, indoors")

            #expect(try await API.send(client, .post, "\(path)/attend", #"{"status":"going"}"#, token: bob.token).status == .ok)
            #expect(try await anonymous().json["goingCount"] as? Int == 1)
            #expect(try await API.send(client, .delete, "\(path)/attend", token: bob.token).status == .noContent)
            #expect(try await anonymous().json["goingCount"] as? Int == 0)

            #expect(try await API.send(client, .post, "\(path)/like", token: bob.token).status == .ok)
            #expect(try await anonymous().json["likeCount"] as? Int == 1)

            // Signed-in readers get their own view, never the shared one.
            let asBob = try await API.send(client, .get, path, token: bob.token)
            #expect(asBob.json["likedByMe"] as? Bool == true)
            #expect(try await anonymous().json["likedByMe"] as? Bool == false)

            #expect(try await API.send(client, .put, path, #"{"visibility":"private"}"#, token: ada.token).status == .ok)
            #expect(try await anonymous().status == .notFound)
            #expect(try await API.send(client, .put, path, #"{"visibility":"public"}"#, token: ada.token).status == .ok)
            #expect(try await anonymous().status == .ok)

            #expect(try await API.send(client, .post, "\(path)/attend", #"{"status":"going"}"#, token: bob.token).status == .ok)
            #expect(try await API.send(client, .delete, path, token: ada.token).status == .ok, "people go: cancelled, not deleted")
            #expect(try await anonymous().json["status"] as? String == "cancelled")

            let lonely = try await EventRouteTests.create(client, ada.token, EventRouteTests.eventJSON("Nobody comes"))
            let lonelyPath = "/api/v1/events/\(try #require(lonely["id"] as? String))"
            #expect(try await API.send(client, .get, lonelyPath).status == .ok)
            #expect(try await API.send(client, .delete, lonelyPath, token: ada.token).status == .noContent)
            #expect(try await API.send(client, .get, lonelyPath).status == .notFound)
        }
    }

    @Test("the cache refuses fills that may predate an invalidation, stays bounded, expires, and zero turns it off")
    func cacheRules() async throws {
        let cache = ExpiringCache<String, Int>(capacity: 4, lifetime: .seconds(60))
        let generation = cache.generation
        cache.invalidate("other")
        cache.store(1, for: "a", loadedAt: generation)
        #expect(cache.value(for: "a") == nil, "a fill that started before an invalidation may be stale and is refused")
        cache.store(1, for: "a", loadedAt: cache.generation)
        #expect(cache.value(for: "a") == 1)
        for key in ["b", "c", "d", "e"] { cache.store(0, for: key, loadedAt: cache.generation) }
        #expect(cache.count <= 4, "bounded by its capacity")
        #expect(cache.value(for: "e") == 0, "the newest entry survives")

        let off = ExpiringCache<String, Int>(capacity: 10, lifetime: .zero)
        off.store(1, for: "a", loadedAt: off.generation)
        #expect(off.value(for: "a") == nil && !off.isEnabled)

        let expiring = ExpiringCache<String, Int>(capacity: 10, lifetime: .milliseconds(50))
        expiring.store(1, for: "a", loadedAt: expiring.generation)
        try await Task.sleep(for: .milliseconds(120))
        #expect(expiring.value(for: "a") == nil, "an entry is not served past its lifetime")
    }
}

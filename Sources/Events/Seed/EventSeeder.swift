import FlowKit
import Foundation
import SQLKit

/// Fills the database with events: synthetic ones in bulk for benchmarks, or a small realistic
/// demo (venues, a few hundred events, attendance, likes, comments, tickets) for newcomers.
/// Synthetic events publish no domain events (a million `event.created` would only load the
/// bus); demo events, attendance and likes do, like events made through the API.
public struct EventSeeder: Sendable {
    let service: EventService

    public init(service: EventService) {
        self.service = service
    }

    /// Inserts `count` published public events within ~25 km of `city`, starting over the next
    /// year, in transactions of `batch`; calls `progress` with the running total.
    public func seedSynthetic(count: Int, organizerIds: [String], city: SeedCity, seed: UInt64 = 42, batch: Int = 5_000,
                              progress: @Sendable (Int) -> Void) async throws {
        precondition(!organizerIds.isEmpty)
        var random = SeededRandom(seed: seed)
        var done = 0
        let now = Date()
        while done < count {
            let size = min(batch, count - done)
            var records: [EventRecord] = []
            records.reserveCapacity(size)
            for _ in 0..<size {
                records.append(Self.syntheticEvent(organizerId: organizerIds.randomElement(using: &random)!, city: city, venue: nil, now: now, random: &random))
            }
            let chunk = records
            try await service.database.transaction { tx in try await service.store.insertBatch(chunk, in: tx) }
            done += size
            progress(done)
        }
        // A bulk load leaves PostgreSQL's planner statistics and visibility map stale until
        // autovacuum comes round, minutes later and in the middle of whatever runs next.
        if service.database.engine == .postgres {
            try await service.database.autocommit { sql in
                for table in ["events", "event_tags"] { try await sql.raw("VACUUM (ANALYZE) \(ident: table)").run() }
            }
        }
    }

    public struct DemoSummary: Sendable {
        public let venues: Int
        public let events: Int
        public let attendances: Int
        /// True when the demo accounts already had venues: nothing was added.
        public var alreadySeeded = false
    }

    /// Venues, `events` events around `city` organised by `users`, and activity on them. Runs
    /// once: when the demo accounts already own venues, it adds nothing.
    public func seedDemo(users: [AuthenticatedUser], city: SeedCity, events count: Int = 300) async throws -> DemoSummary {
        let existing = try await service.database.read { sql in try await service.store.venueCount(createdBy: users.map(\.id), on: sql) }
        guard existing == 0 else { return DemoSummary(venues: existing, events: 0, attendances: 0, alreadySeeded: true) }
        var random = SeededRandom(seed: 7)
        var venues: [VenueView] = []
        for (index, place) in SeedVocabulary.places.enumerated() {
            let input = VenueInput(name: "\(place) \(["Hall", "Studio", "Garden", "Loft"][index % 4])", address: "Rua \(place) \(10 + index)", city: city.name,
                                   country: nil, latitude: city.latitude + Double.random(in: -0.04...0.04, using: &random),
                                   longitude: city.longitude + Double.random(in: -0.05...0.05, using: &random), capacity: 40 + index * 20,
                                   amenities: ["wifi", "accessible", "bar"].shuffled(using: &random).dropLast(index % 3).map { $0 })
            venues.append(try await service.createVenue(input, by: users[index % users.count]))
        }
        let now = Date()
        var records: [EventRecord] = []
        for index in 0..<count {
            let venue = index % 3 == 0 ? nil : venues.randomElement(using: &random)
            var record = Self.syntheticEvent(organizerId: users[index % users.count].id, city: city, venue: venue, now: now, random: &random,
                                             horizonDays: 60)
            if index % 4 == 0 { record.capacity = Int.random(in: 3...12, using: &random) }
            records.append(record)
        }
        let all = records
        try await service.database.transaction { tx in
            try await service.store.insertBatch(all, in: tx)
            for record in all {
                try await service.publisher.publish(EventCreated(record), key: record.id, in: tx)
            }
        }
        var attendances = 0
        for record in records.prefix(120) {
            for user in users.shuffled(using: &random).prefix(Int.random(in: 1...6, using: &random)) where user.id != record.organizerId {
                _ = try await service.attend(eventId: record.id, wants: Bool.random(using: &random) ? .going : .interested, user: user)
                attendances += 1
                if Bool.random(using: &random) { _ = try await service.setLike(eventId: record.id, liked: true, user: user) }
            }
            if Int.random(in: 0..<4, using: &random) == 0 {
                _ = try await service.comment(eventId: record.id, body: ["Can't wait!", "Is there parking nearby?", "Bringing a friend.", "See you there"]
                    .randomElement(using: &random)!, user: users.randomElement(using: &random)!)
            }
        }
        return DemoSummary(venues: venues.count, events: records.count, attendances: attendances)
    }

    static func syntheticEvent(organizerId: String, city: SeedCity, venue: VenueView?, now: Date, random: inout SeededRandom,
                               horizonDays: Double = 365) -> EventRecord {
        let theme = SeedVocabulary.themes.randomElement(using: &random)!
        let noun = theme.nouns.randomElement(using: &random)!
        let place = SeedVocabulary.places.randomElement(using: &random)!
        let title = "\(SeedVocabulary.adjectives.randomElement(using: &random)!) \(noun) in \(place)"
        // Uniform over a disc of ~25 km: the square root keeps the density even.
        let distance = 25 * sqrt(Double.random(in: 0...1, using: &random)) / 111.2
        let angle = Double.random(in: 0..<(2 * .pi), using: &random)
        let latitude = venue?.latitude ?? city.latitude + distance * sin(angle)
        let longitude = venue?.longitude ?? city.longitude + distance * cos(angle) / cos(city.latitude * .pi / 180)
        let start = now.addingTimeInterval(Double(Int.random(in: 1...Int(horizonDays * 24), using: &random)) * 3600)
        let tags = Array(theme.tags.shuffled(using: &random).prefix(Int.random(in: 1...3, using: &random)))
        let id = UUIDv7.string()
        return EventRecord(
            id: id, organizerId: organizerId, title: title, summary: "\(noun) with neighbours in \(place), \(city.name).",
            description: "Join us for a \(noun.lowercased()) in \(place). Everyone is welcome; bring friends. Tags: \(tags.joined(separator: ", ")).",
            categoryId: theme.subcategories.randomElement(using: &random), tags: tags, venueId: venue?.id,
            address: venue?.address ?? "\(place), \(city.name)", latitude: latitude, longitude: longitude, startsAt: start,
            endsAt: start.addingTimeInterval(Double(Int.random(in: 1...4, using: &random)) * 3600), timeZone: city.timeZone, kind: .physical,
            meetingURL: nil, meetingProvider: nil, capacity: nil, goingCount: 0, interestedCount: 0, waitlistCount: 0, likeCount: 0,
            visibility: .public, status: .published, createdAt: now, updatedAt: now, cancelledAt: nil)
    }
}

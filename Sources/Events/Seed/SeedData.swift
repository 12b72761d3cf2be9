import Foundation

/// A reproducible random source for seeding (SplitMix64): the same seed gives the same data,
/// so benchmark runs compare like with like.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Cities seeding can centre on.
public struct SeedCity: Sendable {
    public let name: String
    public let latitude: Double
    public let longitude: Double
    public let timeZone: String

    public static let all: [String: SeedCity] = [
        "lisbon": SeedCity(name: "Lisbon", latitude: 38.7223, longitude: -9.1393, timeZone: "Europe/Lisbon"),
        "porto": SeedCity(name: "Porto", latitude: 41.1579, longitude: -8.6291, timeZone: "Europe/Lisbon"),
        "london": SeedCity(name: "London", latitude: 51.5074, longitude: -0.1278, timeZone: "Europe/London"),
        "berlin": SeedCity(name: "Berlin", latitude: 52.5200, longitude: 13.4050, timeZone: "Europe/Berlin"),
        "new-york": SeedCity(name: "New York", latitude: 40.7128, longitude: -74.0060, timeZone: "America/New_York"),
    ]
}

/// Words events are made of, per top-level category: titles read like real listings and
/// full-text search has something to rank.
enum SeedVocabulary {
    static let themes: [(category: String, subcategories: [String], nouns: [String], tags: [String])] = [
        ("music", ["music-concerts", "music-dj", "music-jam"], ["Jazz Night", "Fado Evening", "Indie Concert", "Vinyl DJ Set", "Open Jam", "Choir Rehearsal"],
         ["jazz", "fado", "indie", "vinyl", "live", "acoustic"]),
        ("sports", ["sports-running", "sports-football", "sports-yoga"], ["Morning Run", "Five-a-side Football", "Sunset Yoga", "Trail Run", "Padel Mixer"],
         ["running", "football", "yoga", "fitness", "outdoor"]),
        ("tech", ["tech-meetups", "tech-hackathons", "tech-talks"], ["Swift Meetup", "AI Talk", "Hackathon", "Startup Pitch Night", "Rust Workshop"],
         ["swift", "ai", "startups", "coding", "rust"]),
        ("arts", ["arts-exhibitions", "arts-theatre", "arts-film"], ["Gallery Opening", "Improv Theatre", "Film Club", "Street Art Walk", "Photo Walk"],
         ["art", "theatre", "film", "photography", "gallery"]),
        ("food", ["food-tastings", "food-cooking"], ["Wine Tasting", "Pastel de Nata Class", "Street Food Crawl", "Vegan Supper Club"],
         ["wine", "cooking", "vegan", "streetfood"]),
        ("outdoors", ["outdoors-hiking", "outdoors-cycling"], ["Coastal Hike", "Bike Tour", "Kayak Trip", "Birdwatching Walk"],
         ["hiking", "cycling", "nature", "kayak"]),
        ("community", ["community-volunteering", "community-language"], ["Beach Cleanup", "Language Exchange", "Neighbourhood Picnic"],
         ["volunteering", "languages", "community", "picnic"]),
        ("learning", ["learning-workshops", "learning-books"], ["Book Club", "Pottery Workshop", "Portuguese for Beginners", "History Talk"],
         ["books", "pottery", "learning", "history"]),
    ]
    static let adjectives = ["Sunset", "Friday", "Weekend", "Rooftop", "Riverside", "Community", "Late", "Early", "Cosy", "Big", "Summer", "Winter"]
    static let places = ["Alfama", "Baixa", "Belém", "Chiado", "Graça", "Lapa", "Marvila", "Parque das Nações", "Príncipe Real", "Santos", "Cais do Sodré", "Campo de Ourique"]
}

@testable import FlowKit
import Foundation
import Testing

/// The streaming encoder must give the same JSON document as Foundation's `JSONEncoder` with
/// `.iso8601` dates (the encoding the API had before): same keys, values, nulls and nesting.
@Suite("Streaming JSON encoder")
struct StreamingJSONEncoderTests {
    enum Kind: String, Codable { case physical, virtual }

    struct Inner: Codable, Equatable {
        var name: String
        var scores: [Double]
        var when: Date?
    }

    struct Empty: Codable {}

    /// Writes through nested, unkeyed and super encoders by hand, as custom `encode(to:)` do.
    struct Handwritten: Encodable {
        enum Keys: String, CodingKey { case point, list, base, after }
        func encode(to encoder: any Encoder) throws {
            var object = encoder.container(keyedBy: Keys.self)
            var point = object.nestedContainer(keyedBy: Keys.self, forKey: .point)
            try point.encode(1.5, forKey: .base)
            try point.encodeNil(forKey: .after)
            var list = object.nestedUnkeyedContainer(forKey: .list)
            try list.encode(1)
            var inner = list.nestedUnkeyedContainer()
            try inner.encode("x")
            try list.encode(true)
            try Inner(name: "super", scores: [], when: nil).encode(to: object.superEncoder(forKey: .base))
            // Asking again for the same container continues the open object.
            var again = encoder.container(keyedBy: Keys.self)
            try again.encode("last", forKey: .after)
        }
    }

    struct Everything: Encodable {
        var text = "plain"
        var escapes = "quote \" backslash \\ slash / newline \n tab \t return \r bell \u{7} nul \u{0} é ☃ 🎉"
        var empty = ""
        var integers: [Int] = [0, 7, -7, Int.max, Int.min]
        var unsigned: [UInt64] = [0, UInt64.max]
        var small: [Int8] = [Int8.min, Int8.max]
        var doubles: [Double] = [0, -0.0, 0.1, -2.5, 1e-7, 1e20, 3, 123_456_789.125, Double.leastNonzeroMagnitude, Double.greatestFiniteMagnitude]
        var float: Float = 0.25
        var flags = [true, false]
        var missing: String? = nil
        @ExplicitNull var explicitNull: String? = nil
        @ExplicitNull var explicitValue: Inner? = Inner(name: "n", scores: [1], when: Date(timeIntervalSince1970: 0))
        var kind = Kind.virtual
        var dates = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 1_764_613_800.999), Date(timeIntervalSince1970: -1.5),
            Date(timeIntervalSince1970: 951_782_400), Date(timeIntervalSince1970: -2_208_988_800), Date(timeIntervalSince1970: 4_102_444_799),
        ]
        var url = URL(string: "https://example.com/a?b=c&d=e")!
        var data = Data([0, 1, 2, 250, 255])
        var decimal = Decimal(string: "12.75")!
        var nested = [[Inner(name: "a", scores: [1, 2.5], when: nil)], []]
        var dictionary = ["b": 2, "a": 1]
        var emptyObject = Empty()
        var handwritten = Handwritten()
        var json: JSONValue = ["k": [1, "two", nil, true]]
    }

    private func foundation(_ value: some Encodable) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return try JSONDecoder().decode(JSONValue.self, from: encoder.encode(value))
    }

    private func streaming(_ value: some Encodable) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(StreamingJSONEncoder().encode(value)))
    }

    struct ExactNumbers: Decodable, Equatable {
        var integers: [Int]
        var unsigned: [UInt64]
        var small: [Int8]
        var doubles: [Double]
    }

    @Test("gives the same document as JSONEncoder for every kind of value")
    func sameDocument() throws {
        let ours = try streaming(Everything())
        #expect(ours == (try foundation(Everything())))
        // Spot checks that would hide inside a failed document comparison.
        guard case .object(let object) = ours else { Issue.record("not an object: \(ours)"); return }
        #expect(object["escapes"] == .string(Everything().escapes))
        #expect(object["dates"] == .array([
            "1970-01-01T00:00:00Z", "2025-12-01T18:30:00Z", "1969-12-31T23:59:58Z",
            "2000-02-29T00:00:00Z", "1900-01-01T00:00:00Z", "2099-12-31T23:59:59Z",
        ]))
        #expect(object["explicitNull"] == .null)
        #expect(object["missing"] == nil)
        #expect(object["handwritten"] == [
            "point": ["base": 1.5, "after": nil], "list": [1, ["x"], true],
            "base": ["name": "super", "scores": []], "after": "last",
        ])
        // JSONValue keeps numbers as Double: read the integers back exactly as well.
        let exact = try JSONDecoder().decode(ExactNumbers.self, from: Data(StreamingJSONEncoder().encode(Everything())))
        let everything = Everything()
        #expect(exact == ExactNumbers(integers: everything.integers, unsigned: everything.unsigned, small: everything.small,
                                      doubles: everything.doubles))
    }

    @Test("top-level fragments, empty containers and pages")
    func fragmentsAndPages() throws {
        #expect(try streaming("x") == .string("x"))
        #expect(try streaming(42) == .number(42))
        #expect(try streaming([Int]()) == .array([]))
        #expect(String(decoding: try StreamingJSONEncoder().encode(Empty()), as: UTF8.self) == "{}")
        #expect(String(decoding: try StreamingJSONEncoder().encode([[Int]]([[], [1]])), as: UTF8.self) == "[[],[1]]")
        let page = Page(items: [Inner(name: "a", scores: [], when: Date(timeIntervalSince1970: 60))], nextCursor: nil)
        #expect(String(decoding: try StreamingJSONEncoder().encode(page), as: UTF8.self)
            == #"{"items":[{"name":"a","scores":[],"when":"1970-01-01T00:01:00Z"}],"nextCursor":null}"#)
    }

    /// A type whose `encode(to:)` writes its fields through `JSONObjectWriter`.
    struct Written: Encodable {
        var text = "a \"quoted\" line\n"
        var noText: String? = nil
        var number = 42
        var noNumber: Int? = nil
        var real = -2.5
        var noReal: Double? = nil
        var flag = true
        var when = Date(timeIntervalSince1970: 1_764_613_800.5)
        var noWhen: Date? = nil
        var tags = ["x", "y \\ z", ""]
        var noTags: [String] = []
        var kind = Kind.virtual
        var inner: Inner? = Inner(name: "i", scores: [0.5], when: nil)
        var noInner: Inner? = nil
        var nestedWritten: [NestedWritten] = [NestedWritten(value: nil), NestedWritten(value: 1)]

        func encode(to encoder: any Encoder) throws {
            var object = JSONObjectWriter(encoder)
            try object.field("text", text)
            try object.field("noText", noText)
            try object.field("number", number)
            try object.field("noNumber", noNumber)
            try object.field("real", real)
            try object.field("noReal", noReal)
            try object.field("flag", flag)
            try object.field("when", when)
            try object.field("noWhen", noWhen)
            try object.field("tags", tags)
            try object.field("noTags", noTags)
            try object.field("kind", kind)
            try object.field("inner", inner)
            try object.field("noInner", noInner)
            try object.field("nestedWritten", nestedWritten)
        }
    }

    struct NestedWritten: Encodable {
        var value: Int?
        func encode(to encoder: any Encoder) throws {
            var object = JSONObjectWriter(encoder)
            try object.field("value", value)
            try object.field("after", "last")
        }
    }

    @Test("JSONObjectWriter writes the same document under both encoders, nulls included")
    func objectWriter() throws {
        let ours = try streaming(Written())
        #expect(ours == (try foundation(Written())))
        #expect(ours == [
            "text": "a \"quoted\" line\n", "noText": nil, "number": 42, "noNumber": nil, "real": -2.5, "noReal": nil,
            "flag": true, "when": "2025-12-01T18:30:00Z", "noWhen": nil, "tags": ["x", "y \\ z", ""], "noTags": [],
            "kind": "virtual", "inner": ["name": "i", "scores": [0.5]], "noInner": nil,
            "nestedWritten": [["value": nil, "after": "last"], ["value": 1, "after": "last"]],
        ])
        // Inside a page, after a nested object: the object closes where it should.
        let page = Page(items: [NestedWritten(value: 2)], nextCursor: "c")
        #expect(String(decoding: try StreamingJSONEncoder().encode(page), as: UTF8.self)
            == #"{"items":[{"value":2,"after":"last"}],"nextCursor":"c"}"#)
        var infinite = Written()
        infinite.real = .infinity
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode(infinite) }
    }

    @Test("refuses numbers JSON cannot carry, like JSONEncoder")
    func nonFinite() {
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode(["x": Double.infinity]) }
    }
}

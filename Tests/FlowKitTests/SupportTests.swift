@testable import FlowKit
import Foundation
import Logging
import Synchronization
import Testing

@Suite("Platform helpers")
struct SupportTests {
    @Test("UUIDv7: version and variant bits, time order, embedded time")
    func uuidV7() throws {
        let earlier = Date(timeIntervalSince1970: 1_700_000_000)
        let later = earlier.addingTimeInterval(0.002)
        let a = UUIDv7.make(at: earlier)
        let b = UUIDv7.make(at: later)
        #expect(a.uuid.6 >> 4 == 7)
        #expect(a.uuid.8 >> 6 == 0b10)
        #expect(a.uuidString.lowercased() < b.uuidString.lowercased())
        let embedded = try #require(UUIDv7.timestamp(of: a))
        #expect(abs(embedded.timeIntervalSince(earlier)) < 0.001)
        let text = UUIDv7.string()
        #expect(text == text.lowercased())
        // Ids made in one millisecond differ in their random bits (74 of them).
        let sameMillisecond = Set((0..<1_000).map { _ in UUIDv7.make(at: earlier) })
        #expect(sameMillisecond.count == 1_000)
    }

    @Test("RandomBytes fills every byte it is asked for")
    func randomBytes() {
        let draws = (0..<64).map { _ in RandomBytes.make(count: 300) }
        #expect(draws.allSatisfy { $0.count == 300 })
        #expect(Set(draws).count == 64)
        // Each position is non-zero in some draw: no byte left unfilled.
        #expect((0..<300).allSatisfy { index in draws.contains { $0[index] != 0 } })
    }

    @Test("log lines are single-line JSON objects carrying metadata")
    func jsonLogLines() throws {
        let lines = Mutex<[String]>([])
        var handler = JSONLogHandler(label: "test", level: .info, sink: LogSink { line in lines.withLock { $0.append(line) } })
        handler[metadataKey: "request_id"] = "r-1"
        handler[metadataKey: "hb.request.id"] = "r-1"
        var logger = Logger(label: "test", factory: { _ in handler })
        logger[metadataKey: "trace_id"] = "t-1"
        logger.info("hello \"world\"\nsecond line", metadata: ["count": .stringConvertible(3), "tags": ["a", "b"]])
        logger.debug("dropped below the level")

        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().contains("\n") == false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["msg"] as? String == "hello \"world\"\nsecond line")
        #expect(object["level"] as? String == "info")
        #expect(object["request_id"] as? String == "r-1")
        #expect(object["hb.request.id"] == nil)
        #expect(object["trace_id"] as? String == "t-1")
        #expect(object["count"] as? String == "3")
        #expect(object["tags"] as? [String] == ["a", "b"])
        #expect((object["ts"] as? String)?.hasSuffix("Z") == true)
    }

    @Test("ExplicitNull writes absent optionals as null and reads missing keys as nil")
    func explicitNull() throws {
        struct Sample: Codable, Equatable {
            let id: String
            @ExplicitNull var note: String?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(Sample(id: "a", note: nil)), as: UTF8.self) == #"{"id":"a","note":null}"#)
        #expect(String(decoding: try encoder.encode(Sample(id: "a", note: "x")), as: UTF8.self) == #"{"id":"a","note":"x"}"#)
        #expect(try JSONDecoder().decode(Sample.self, from: Data(#"{"id":"a"}"#.utf8)) == Sample(id: "a", note: nil))
        #expect(try JSONDecoder().decode(Sample.self, from: Data(#"{"id":"a","note":null}"#.utf8)) == Sample(id: "a", note: nil))
    }

    @Test("string lists read back what FlowJSON.text wrote, and agree with JSONDecoder on anything else")
    func stringLists() throws {
        let lists: [[String]] = [
            [], [""], ["", ""], ["jazz"], ["jazz", "live music", "lisbon"], ["a,b", "\",\"", "back\\slash", "tab\t", "nul\u{0}"],
            ["é", "☃", "🎉 party", "中文"], ["[", "]", ",", "\"\""],
        ]
        for list in lists {
            #expect(FlowJSON.strings(try FlowJSON.text(list)) == list)
        }
        // Whatever the fast path accepts, it reads as JSONDecoder does; what it declines, the decoder answers.
        let texts = [
            "[]", "[\"\"]", "[\"a\",\"b\"]", "[\"a\", \"b\"]", " [\"a\"]", "[\"a\"", "[", "]", "", "[\"]", "[\"a\"b\"]",
            "[\"a\",]", "[\"a\",\"]", "[\"a\"\"b\"]", "[\"a\"],", "[1]", "[\"a\",1]", "[null]", "[\"\u{1}\"]", "[\"x\\u0041\"]",
            "[\"a\",\"\",\"b\"]", "{\"a\":1}", "[\"é\",\"☃\"]",
        ]
        for text in texts {
            let decoded = try? JSONDecoder().decode([String].self, from: Data(text.utf8))
            #expect(FlowJSON.strings(text) == decoded, "\(text)")
            if let plain = FlowJSON.plainStrings(text) { #expect(plain == decoded, "\(text)") }
        }
        #expect(FlowJSON.plainStrings("[\"a\",\"b\"]") == ["a", "b"])
        #expect(FlowJSON.plainStrings("[\"a\", \"b\"]") == nil)
    }

    @Test("base64url: URL-safe alphabet, no padding, round trips, refuses what is not base64")
    func base64URL() throws {
        #expect(Base64URL.encode(Data([0xFB, 0xFF, 0xBF])) == "-_-_")
        #expect(Base64URL.encode(Data("a".utf8)) == "YQ")
        #expect(Base64URL.encode(Data()) == "")
        for length in 0...40 {
            let data = Data((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 251) })
            let text = Base64URL.encode(data)
            #expect(!text.contains(where: { "+/=".contains($0) }))
            #expect(text == data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: ""))
            #expect(Base64URL.decode(text) == data)
        }
        #expect(Base64URL.decode("YQ==") == Data("a".utf8))
        #expect(Base64URL.decode("+/+/") == Data([0xFB, 0xFF, 0xBF]))
        #expect(Base64URL.decode("Y") == nil)
        #expect(Base64URL.decode("Y!Q") == nil)
        #expect(Base64URL.decode("é") == nil)
    }

    @Test("web URLs: http(s) with a host, at most 2048 code points (the documented maxLength)")
    func webURLLength() {
        let base = "https://example.com/"
        #expect(WebURL.isValid(base + String(repeating: "a", count: 2048 - base.count)))
        #expect(!WebURL.isValid(base + String(repeating: "a", count: 2049 - base.count)))
        // 1,100 characters but 2,200 code points: a URL Foundation reads, refused by its length.
        let accented = base + String(repeating: "e\u{0301}", count: 1100)
        #expect(URL(string: accented) != nil && accented.count <= 2048)
        #expect(!WebURL.isValid(accented))
        #expect(!WebURL.isValid("javascript:alert(1)") && !WebURL.isValid("/relative"))
    }

    @Test("RFC 3339 parsing accepts offsets and fractions")
    func rfc3339() throws {
        let utc = try #require(RFC3339.parse("2026-05-01T18:30:00Z"))
        let offset = try #require(RFC3339.parse("2026-05-01T20:30:00+02:00"))
        let fraction = try #require(RFC3339.parse("2026-05-01T18:30:00.250Z"))
        #expect(utc == offset)
        #expect(fraction.timeIntervalSince(utc) == 0.25)
        #expect(RFC3339.parse("May 1st") == nil)
    }

    @Test("request ids from clients are kept only when short and plain")
    func requestIds() {
        #expect(RequestIdentityMiddleware.acceptableRequestId("abc-123_x.y:z") == "abc-123_x.y:z")
        #expect(RequestIdentityMiddleware.acceptableRequestId("") == nil)
        #expect(RequestIdentityMiddleware.acceptableRequestId("has space") == nil)
        #expect(RequestIdentityMiddleware.acceptableRequestId(String(repeating: "a", count: 129)) == nil)
        #expect(RequestIdentityMiddleware.acceptableRequestId("line\nbreak") == nil)
    }

    @Test("trace ids come from a valid traceparent or are made fresh")
    func traceIds() {
        let given = RequestIdentityMiddleware.traceId(from: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(given == "4bf92f3577b34da6a3ce929d0e0e4736")
        let fresh = RequestIdentityMiddleware.traceId(from: "garbage")
        #expect(fresh.count == 32 && fresh != given)
    }
}

@Suite("Result column lookup")
struct ColumnPositionsTests {
    @Test("a repeated name means the engine's column: SQLite the first, PostgreSQL the last")
    func repeatedNames() {
        let names = ["id", "title", "id", "proximity"]
        let sqlite = ColumnPositions(names: names, repeated: .firstWins)
        let postgres = ColumnPositions(names: names, repeated: .lastWins)
        #expect(sqlite.position(of: "id") == 0)
        #expect(postgres.position(of: "id") == 2)
        // After a read of the losing position's neighbour, the guess must not hand out the loser.
        #expect(sqlite.position(of: "title") == 1)
        #expect(sqlite.position(of: "id") == 0)
        #expect(postgres.position(of: "title") == 1)
        #expect(postgres.position(of: "id") == 2)
    }

    @Test("reads in any order find every column; unknown names find none")
    func anyOrder() {
        let names = (0..<30).map { "column_\($0)" }
        let columns = ColumnPositions(names: names, repeated: .firstWins)
        for index in [0, 0, 1, 2, 29, 3, 3, 4, 17, 16, 18] {
            #expect(columns.position(of: names[index]) == index)
        }
        #expect(columns.position(of: "missing") == nil)
        #expect(columns.position(of: "column_5") == 5)
    }
}

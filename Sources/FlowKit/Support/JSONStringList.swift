import Foundation

extension FlowJSON {
    /// A list kept as JSON text in a column (tags, amenities, interests), the reading side of
    /// ``text(_:)``; nil when `json` is not an array of strings.
    public static func strings(_ json: String) -> [String]? {
        if let plain = plainStrings(json) { return plain }
        return try? listDecoder.decode([String].self, from: Data(json.utf8))
    }

    /// One decoder for every call: making a `JSONDecoder` per row showed in list profiles.
    private static let listDecoder = JSONDecoder()

    /// The common case without the JSON decoder (which was 4% of the machine's CPU on nearby
    /// search, for three tags per event): `["a","b"]` exactly as ``text(_:)`` writes it, with no
    /// escapes. Without a backslash no element can hold a quote, so every `"` is structural and
    /// the elements are what lies between the `","` separators. Anything else (escapes, spaces,
    /// other values) returns nil and goes to the decoder.
    static func plainStrings(_ json: String) -> [String]? {
        var json = json
        return json.withUTF8 { utf8 -> [String]? in
            let count = utf8.count
            guard count >= 2, utf8[0] == UInt8(ascii: "["), utf8[count - 1] == UInt8(ascii: "]") else { return nil }
            if count == 2 { return [] }
            // Raw control characters are invalid JSON; the decoder gives the answer for those.
            guard count >= 4, utf8[1] == UInt8(ascii: "\""), utf8[count - 2] == UInt8(ascii: "\""),
                  !utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 < 0x20 }) else { return nil }
            let closingQuote = count - 2
            var strings: [String] = []
            var start = 2
            var index = 2
            while index < closingQuote {
                if utf8[index] == UInt8(ascii: "\"") {
                    guard index + 2 < closingQuote, utf8[index + 1] == UInt8(ascii: ","), utf8[index + 2] == UInt8(ascii: "\"") else { return nil }
                    strings.append(String(decoding: UnsafeBufferPointer(rebasing: utf8[start..<index]), as: UTF8.self))
                    index += 3
                    start = index
                } else {
                    index += 1
                }
            }
            strings.append(String(decoding: UnsafeBufferPointer(rebasing: utf8[start..<closingQuote]), as: UTF8.self))
            return strings
        }
    }
}

import Foundation

/// Encodes `Encodable` values straight into JSON bytes as the value's `encode(to:)` walks it.
///
/// Why not Foundation's `JSONEncoder`: it first builds a tree of boxed values, then serialises
/// the tree, and formats each `Date` through a format style. On a page of 20 events that was
/// most of a list request's CPU (profile in issue #5's notes). This writer appends each key and
/// value to one byte array as it comes, so the cost is roughly the size of the output.
///
/// The output is the same JSON document `JSONEncoder` with `.iso8601` dates gives (tests compare
/// them value for value): dates as `2026-12-01T18:30:00Z` (whole seconds, UTC), `Data` as
/// base64, `URL` as its absolute string, non-finite numbers refused. Differences in bytes only:
/// `/` is not escaped and keys keep the order the type encodes them in.
public struct StreamingJSONEncoder: Sendable {
    public init() {}

    public func encode(_ value: some Encodable) throws -> [UInt8] {
        let sink = JSONSink()
        try sink.encodeValue(value, slotDepth: 0)
        sink.closeAll()
        return sink.bytes
    }
}

/// The growing output and the containers still open in it. Containers close lazily: a write at
/// depth `d` first closes every container deeper than `d`, which is exactly when a nested value
/// is finished (`encode(to:)` implementations finish a nested container before moving on).
final class JSONSink {
    // One encoding runs on one thread: skip the runtime exclusivity check on every append.
    @exclusivity(unchecked) var bytes: [UInt8] = []

    private struct OpenContainer {
        let closer: UInt8
        /// Where the container's value slot began: asking the same encoder twice for a container
        /// gives back the open one instead of opening a second.
        let slotStart: Int
        var count = 0
    }

    @exclusivity(unchecked) private var open: [OpenContainer] = []

    init() {
        bytes.reserveCapacity(2048)
    }

    /// Opens a container for the value slot that began at `slotStart` at `slotDepth`, or finds it.
    func openContainer(_ opener: UInt8, closer: UInt8, slotDepth: Int, slotStart: Int) -> Int {
        if open.count > slotDepth, open[slotDepth].slotStart == slotStart {
            close(above: slotDepth)
            return slotDepth
        }
        close(above: slotDepth - 1)
        bytes.append(opener)
        open.append(OpenContainer(closer: closer, slotStart: slotStart))
        return open.count - 1
    }

    /// Starts the next element of the container at `depth`: closes deeper ones, writes a comma.
    func beginElement(at depth: Int) {
        close(above: depth)
        if open[depth].count > 0 { bytes.append(UInt8(ascii: ",")) }
        open[depth].count += 1
    }

    func close(above depth: Int) {
        while open.count > depth + 1 {
            bytes.append(open.removeLast().closer)
        }
    }

    func closeAll() { close(above: -1) }

    // MARK: Values

    /// Writes `value` into a slot whose key (or comma) is already written.
    func encodeValue<T: Encodable>(_ value: T, slotDepth: Int) throws {
        // Metadata comparisons, not dynamic casts: this runs for every nested value.
        if T.self == Date.self {
            writeDate(value as! Date)
        } else if T.self == URL.self {
            writeString((value as! URL).absoluteString)
        } else if T.self == Data.self {
            writeString((value as! Data).base64EncodedString())
        } else if T.self == Decimal.self {
            writeASCII((value as! Decimal).description)
        } else {
            let start = bytes.count
            try value.encode(to: slot(at: slotDepth))
            close(above: slotDepth - 1)
            // A value that wrote nothing at all is an empty object, as with JSONEncoder.
            if bytes.count == start { writeASCII("{}") }
        }
    }

    func writeASCII(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    func writeNull() { writeASCII("null") }

    func writeBool(_ value: Bool) { writeASCII(value ? "true" : "false") }

    func writeInteger(_ value: some BinaryInteger) {
        if value == 0 { bytes.append(UInt8(ascii: "0")); return }
        var magnitude = value.magnitude
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        let start = bytes.count
        while magnitude > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10))
            magnitude /= 10
        }
        bytes[start...].reverse()
    }

    func writeFloatingPoint<F: BinaryFloatingPoint & LosslessStringConvertible>(_ value: F, codingPath: [any CodingKey]) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) is not a JSON number"))
        }
        // Shortest text that reads back as the same number; integral values without ".0".
        if value == value.rounded(.towardZero), abs(value) < 1e15 {
            writeInteger(Int64(value))
        } else {
            writeASCII(value.description)
        }
    }

    func writeString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            // Copy runs that need no escaping in one go; most strings are a single run.
            var runStart = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                appendEscaped(byte)
                runStart = index + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private func appendEscaped(_ byte: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
        case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "n"))
        case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "r"))
        case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "t"))
        default:
            bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                      Self.hexDigits[Int(byte >> 4)], Self.hexDigits[Int(byte & 0xF)]])
        }
    }

    /// `yyyy-MM-ddTHH:mm:ssZ` in UTC, fractions dropped: what `JSONEncoder`'s `.iso8601` writes.
    /// Built on the stack and appended once (byte-by-byte appends were a tenth of a page's encoding).
    func writeDate(_ date: Date) {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let (days, secondOfDay) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let (civilDays, clock) = secondOfDay < 0 ? (days - 1, secondOfDay + 86_400) : (days, secondOfDay)
        let (year, month, day) = Self.civilDate(daysSinceEpoch: civilDays)
        var text: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &text) { raw in
            let out = raw.bindMemory(to: UInt8.self)
            /// The last `width` digits of `value`, zero-padded (years outside 0...9999 are cut, as before).
            func digits(_ value: Int64, at offset: Int, width: Int) {
                var rest = max(value, 0)
                for index in (offset..<offset + width).reversed() {
                    out[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
            }
            out[0] = UInt8(ascii: "\"")
            digits(year, at: 1, width: 4)
            out[5] = UInt8(ascii: "-")
            digits(month, at: 6, width: 2)
            out[8] = UInt8(ascii: "-")
            digits(day, at: 9, width: 2)
            out[11] = UInt8(ascii: "T")
            digits(clock / 3600, at: 12, width: 2)
            out[14] = UInt8(ascii: ":")
            digits(clock / 60 % 60, at: 15, width: 2)
            out[17] = UInt8(ascii: ":")
            digits(clock % 60, at: 18, width: 2)
            out[20] = UInt8(ascii: "Z")
            out[21] = UInt8(ascii: "\"")
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: out[0..<22]))
        }
    }

    /// Proleptic Gregorian year, month and day of a day count from 1970-01-01 (the well-known
    /// era-based conversion: 400-year eras of 146,097 days starting on 1 March).
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension JSONSink {
    /// An encoder for the value slot starting here, whose key or comma is already written.
    func slot(at depth: Int) -> SlotEncoder {
        SlotEncoder(sink: self, slotDepth: depth, slotStart: bytes.count)
    }
}

/// The `Encoder` handed to a value's `encode(to:)`: one value slot of the output.
struct SlotEncoder: Encoder {
    let sink: JSONSink
    let slotDepth: Int
    let slotStart: Int
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy _: Key.Type) -> KeyedEncodingContainer<Key> {
        let depth = sink.openContainer(UInt8(ascii: "{"), closer: UInt8(ascii: "}"), slotDepth: slotDepth, slotStart: slotStart)
        return KeyedEncodingContainer(ObjectContainer<Key>(sink: sink, depth: depth))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let depth = sink.openContainer(UInt8(ascii: "["), closer: UInt8(ascii: "]"), slotDepth: slotDepth, slotStart: slotStart)
        return ArrayContainer(sink: sink, depth: depth)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        ValueContainer(sink: sink, slotDepth: slotDepth)
    }
}

private struct ObjectContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: JSONSink
    let depth: Int
    var codingPath: [any CodingKey] { [] }

    private func key(_ key: Key) { name(key.stringValue) }

    private func name(_ name: String) {
        sink.beginElement(at: depth)
        sink.writeString(name)
        sink.bytes.append(UInt8(ascii: ":"))
    }

    mutating func encodeNil(forKey key: Key) throws { self.key(key); sink.writeNull() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { self.key(key); sink.writeBool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { self.key(key); sink.writeString(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { self.key(key); try sink.writeFloatingPoint(value, codingPath: [key]) }
    mutating func encode(_ value: Float, forKey key: Key) throws { self.key(key); try sink.writeFloatingPoint(value, codingPath: [key]) }
    mutating func encode(_ value: Int, forKey key: Key) throws { self.key(key); sink.writeInteger(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { self.key(key); sink.writeInteger(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { self.key(key); sink.writeInteger(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { self.key(key); sink.writeInteger(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { self.key(key); sink.writeInteger(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { self.key(key); sink.writeInteger(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { self.key(key); sink.writeInteger(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { self.key(key); sink.writeInteger(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { self.key(key); sink.writeInteger(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { self.key(key); sink.writeInteger(value) }

    mutating func encode(_ value: some Encodable, forKey key: Key) throws {
        self.key(key)
        try sink.encodeValue(value, slotDepth: depth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        self.key(key)
        return sink.slot(at: depth + 1).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        self.key(key)
        return sink.slot(at: depth + 1).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        name("super")
        return sink.slot(at: depth + 1)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        self.key(key)
        return sink.slot(at: depth + 1)
    }
}

private struct ArrayContainer: UnkeyedEncodingContainer, ValueWriting {
    let sink: JSONSink
    let depth: Int
    private(set) var count = 0
    var codingPath: [any CodingKey] { [] }

    init(sink: JSONSink, depth: Int) {
        self.sink = sink
        self.depth = depth
    }

    /// Writes the comma before the element; nested values live one level deeper.
    mutating func startValue() -> Int {
        sink.beginElement(at: depth)
        count += 1
        return depth + 1
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        sink.slot(at: startValue()).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        sink.slot(at: startValue()).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        sink.slot(at: startValue())
    }
}

private struct ValueContainer: SingleValueEncodingContainer, ValueWriting {
    let sink: JSONSink
    let slotDepth: Int
    var codingPath: [any CodingKey] { [] }

    /// A single value fills its slot; anything deeper left open by an earlier write is done.
    func startValue() -> Int {
        sink.close(above: slotDepth - 1)
        return slotDepth
    }
}

/// The value writes that unkeyed and single-value containers share; each container only says
/// how a value starts (a comma first, or nothing) and at which depth nested values go.
private protocol ValueWriting {
    var sink: JSONSink { get }
    mutating func startValue() -> Int
}

extension ValueWriting {
    mutating func encodeNil() throws { _ = startValue(); sink.writeNull() }
    mutating func encode(_ value: Bool) throws { _ = startValue(); sink.writeBool(value) }
    mutating func encode(_ value: String) throws { _ = startValue(); sink.writeString(value) }
    mutating func encode(_ value: Double) throws { _ = startValue(); try sink.writeFloatingPoint(value, codingPath: []) }
    mutating func encode(_ value: Float) throws { _ = startValue(); try sink.writeFloatingPoint(value, codingPath: []) }
    mutating func encode(_ value: Int) throws { _ = startValue(); sink.writeInteger(value) }
    mutating func encode(_ value: Int8) throws { _ = startValue(); sink.writeInteger(value) }
    mutating func encode(_ value: Int16) throws { _ = startValue(); sink.writeInteger(value) }
    mutating func encode(_ value: Int32) throws { _ = startValue(); sink.writeInteger(value) }
    mutating func encode(_ value: Int64) throws { _ = startValue(); sink.writeInteger(value) }
    mutating func encode(_ value: UInt) throws { _ = startValue(); sink.writeInteger(value) }
    mutating func encode(_ value: UInt8) throws { _ = startValue(); sink.writeInteger(value) }
    mutating func encode(_ value: UInt16) throws { _ = startValue(); sink.writeInteger(value) }
    mutating func encode(_ value: UInt32) throws { _ = startValue(); sink.writeInteger(value) }
    mutating func encode(_ value: UInt64) throws { _ = startValue(); sink.writeInteger(value) }

    mutating func encode(_ value: some Encodable) throws {
        let depth = startValue()
        try sink.encodeValue(value, slotDepth: depth)
    }
}

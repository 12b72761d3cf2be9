import Foundation

/// Writes an object field by field, for the `encode(to:)` of response types sent many times
/// per request (an event in a page of 20). Under ``StreamingJSONEncoder`` each field goes
/// straight into the output bytes; under any other encoder (Foundation's `JSONEncoder`) the
/// same calls fill a keyed container, so there is still one encoding per type.
///
/// Why: a synthesized `encode(to:)` sends every field through `Codable`'s generic containers
/// (a container box, witness calls, metadata lookups), and `@ExplicitNull` adds a single-value
/// container per optional. That was ~23 µs per event, 13% of the machine's CPU on nearby
/// search (issue #5's notes); writing the fields directly is a fraction of it.
///
/// A `nil` optional is written as `null`, never left out: responses carry every documented
/// field. Names are written as they are, so they must be plain ASCII without `"` or `\`.
///
///     func encode(to encoder: any Encoder) throws {
///         var object = JSONObjectWriter(encoder)
///         try object.field("id", id)
///         try object.field("summary", summary)  // String? → "summary":null when nil
///     }
public struct JSONObjectWriter {
    private let sink: JSONSink?
    private let depth: Int
    private var keyed: KeyedEncodingContainer<FieldName>?

    public init(_ encoder: any Encoder) {
        if let slot = encoder as? SlotEncoder {
            sink = slot.sink
            depth = slot.sink.openContainer(UInt8(ascii: "{"), closer: UInt8(ascii: "}"), slotDepth: slot.slotDepth, slotStart: slot.slotStart)
            keyed = nil
        } else {
            sink = nil
            depth = 0
            keyed = encoder.container(keyedBy: FieldName.self)
        }
    }

    public mutating func field(_ name: StaticString, _ value: String?) throws {
        try write(name, value) { sink, text in sink.writeString(text) }
    }

    public mutating func field(_ name: StaticString, _ value: Int?) throws {
        try write(name, value) { sink, number in sink.writeInteger(number) }
    }

    public mutating func field(_ name: StaticString, _ value: Double?) throws {
        try write(name, value) { sink, number in try sink.writeFloatingPoint(number, codingPath: [FieldName(name)]) }
    }

    public mutating func field(_ name: StaticString, _ value: Bool) throws {
        try write(name, value) { sink, flag in sink.writeBool(flag) }
    }

    public mutating func field(_ name: StaticString, _ value: Date?) throws {
        try write(name, value) { sink, date in sink.writeDate(date) }
    }

    public mutating func field(_ name: StaticString, _ value: [String]) throws {
        try write(name, value) { sink, strings in
            sink.bytes.append(UInt8(ascii: "["))
            for (index, text) in strings.enumerated() {
                if index > 0 { sink.bytes.append(UInt8(ascii: ",")) }
                sink.writeString(text)
            }
            sink.bytes.append(UInt8(ascii: "]"))
        }
    }

    /// Any other value (an enum, a nested type) through its own `encode(to:)`.
    public mutating func field<Value: Encodable>(_ name: StaticString, _ value: Value?) throws {
        let depth = depth
        try write(name, value) { sink, value in try sink.encodeValue(value, slotDepth: depth + 1) }
    }

    private mutating func write<Value: Encodable>(_ name: StaticString, _ value: Value?, direct: (JSONSink, Value) throws -> Void) throws {
        guard let sink else {
            if let value {
                try keyed!.encode(value, forKey: FieldName(name))
            } else {
                try keyed!.encodeNil(forKey: FieldName(name))
            }
            return
        }
        sink.beginElement(at: depth)
        sink.bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { sink.bytes.append(contentsOf: $0) }
        sink.bytes.append(UInt8(ascii: "\""))
        sink.bytes.append(UInt8(ascii: ":"))
        if let value {
            try direct(sink, value)
        } else {
            sink.writeNull()
        }
    }
}

/// A field name as a coding key, for the keyed-container side of ``JSONObjectWriter``.
struct FieldName: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }

    init(_ name: StaticString) { stringValue = name.description }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// An optional property that encodes as `null` when absent instead of being left out, so API
/// responses always carry every documented field (Swift's synthesized `Codable` omits nil
/// optionals). Decoding accepts both a missing key and `null`.
///
///     struct SessionView: Codable { @ExplicitNull var userAgent: String? }
@propertyWrapper
public struct ExplicitNull<Value: Codable & Sendable>: Codable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue {
            try container.encode(wrappedValue)
        } else {
            try container.encodeNil()
        }
    }
}

extension ExplicitNull: Equatable where Value: Equatable {}

extension KeyedDecodingContainer {
    /// A missing key decodes as nil rather than failing.
    public func decode<Value>(_: ExplicitNull<Value>.Type, forKey key: Key) throws -> ExplicitNull<Value> {
        try decodeIfPresent(ExplicitNull<Value>.self, forKey: key) ?? ExplicitNull(wrappedValue: nil)
    }
}

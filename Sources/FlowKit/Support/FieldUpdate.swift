/// One field of a partial update body: left out (keep the stored value), `null` (clear it), or a
/// new value. Swift's synthesized `Decodable` cannot tell a missing key from `null`; declaring
/// the property as `FieldUpdate<T>` can.
///
///     struct ProfileUpdate: Decodable { let bio: FieldUpdate<String> }
public enum FieldUpdate<Value: Decodable & Sendable>: Decodable, Sendable {
    case keep
    case clear
    case set(Value)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        self = container.decodeNil() ? .clear : .set(try container.decode(Value.self))
    }

    /// The value after applying this update to `current`.
    public func applied(to current: Value?) -> Value? {
        switch self {
        case .keep: current
        case .clear: nil
        case .set(let value): value
        }
    }

    /// The new value if one was given.
    public var newValue: Value? {
        if case .set(let value) = self { return value }
        return nil
    }

    public var isKeep: Bool {
        if case .keep = self { return true }
        return false
    }
}

extension FieldUpdate: Equatable where Value: Equatable {}

extension KeyedDecodingContainer {
    /// A missing key is `.keep`; `null` is `.clear`.
    public func decode<Value>(_: FieldUpdate<Value>.Type, forKey key: Key) throws -> FieldUpdate<Value> {
        guard contains(key) else { return .keep }
        return try decodeNil(forKey: key) ? .clear : .set(try decode(Value.self, forKey: key))
    }
}

import Hummingbird

/// Any `Encodable` value as a JSON response body, for service results that should not know
/// about Hummingbird's `ResponseEncodable`.
public struct Encoded<Value: Encodable & Sendable>: ResponseEncodable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
    public func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

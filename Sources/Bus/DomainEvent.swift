import FlowKit
import Foundation

/// A fact a domain publishes on the bus. Each type has a dotted name (`event.created`) and a
/// schema version; its payload is the Codable value itself.
///
/// Changing a payload incompatibly means a new version: consumers decode a version they know
/// (``EventEnvelope/decode(_:)`` refuses others, and the delivery ends in dead letters where it
/// is visible) instead of misreading fields.
public protocol DomainEvent: Codable, Sendable {
    static var type: String { get }
    static var version: Int { get }
    /// Problems that make this payload invalid (empty ids, impossible values); publishing an
    /// invalid event fails before anything is written. Empty means valid. Every event type
    /// states its own rules (there is no default), since consumers trust what they receive.
    func validate() -> [FieldProblem]
}

extension DomainEvent {
    /// "must not be empty" for each named value that is empty: the ids a payload cannot do without.
    public static func emptyFields(_ values: KeyValuePairs<String, String>) -> [FieldProblem] {
        values.filter { $0.value.isEmpty }.map { FieldProblem(field: $0.key, problem: "must not be empty") }
    }

    /// "must be one of …" unless `value` is the raw value of a case of `Value`.
    public static func oneOf<Value: RawRepresentable & CaseIterable>(_ value: String, _: Value.Type, field: String) -> [FieldProblem]
    where Value.RawValue == String {
        Value(rawValue: value) != nil ? [] : [FieldProblem(field: field, problem: "must be one of \(Value.allCases.map(\.rawValue).joined(separator: ", "))")]
    }
}

/// A published event as stored and delivered: the payload plus who, what, when and why.
public struct EventEnvelope: Sendable, Codable, Equatable {
    /// UUIDv7; handlers use it to make their work idempotent (delivery is at least once).
    public let id: String
    public let type: String
    public let version: Int
    /// Ordering key: groups that ask for ordering handle events with the same key one at a
    /// time, in publish order. Usually the id of the entity the event is about.
    @ExplicitNull public var key: String?
    public let occurredAt: Date
    /// The domain that published it.
    public let producer: String
    /// The request that caused it (its `X-Request-Id`), when there was one.
    @ExplicitNull public var correlationId: String?
    @ExplicitNull public var traceId: String?
    /// The payload as JSON text.
    public let payload: String

    public init(id: String, type: String, version: Int, key: String?, occurredAt: Date, producer: String,
                correlationId: String?, traceId: String?, payload: String) {
        self.id = id
        self.type = type
        self.version = version
        self.key = key
        self.occurredAt = occurredAt
        self.producer = producer
        self.correlationId = correlationId
        self.traceId = traceId
        self.payload = payload
    }

    /// Decodes the payload as `E`, checking the type and version match.
    public func decode<E: DomainEvent>(_: E.Type) throws -> E {
        try decode(E.self, type: E.type, version: E.version)
    }

    /// Decodes the payload as `P`, a consumer's own reading of an event type another domain
    /// publishes (domains share events by name and version, not by code), checking the type
    /// and version match.
    public func decode<P: Decodable>(_: P.Type, type expectedType: String, version expectedVersion: Int) throws -> P {
        guard type == expectedType else {
            throw BusError.wrongEventType(expected: expectedType, actual: type)
        }
        guard version == expectedVersion else {
            throw BusError.unsupportedVersion(type: type, version: version, supported: expectedVersion)
        }
        return try JSONDecoder.bus.decode(P.self, from: Data(payload.utf8))
    }
}

public enum BusError: Error, CustomStringConvertible, Equatable {
    case unregisteredEventType(String)
    case invalidPayload(type: String, problems: [FieldProblem])
    case wrongEventType(expected: String, actual: String)
    case unsupportedVersion(type: String, version: Int, supported: Int)
    case duplicateGroup(String)
    case payloadTooLarge(type: String, bytes: Int)

    public var description: String {
        switch self {
        case .unregisteredEventType(let type):
            "event type \(type) is not registered with the bus (register it with EventBus.register(_:))"
        case .invalidPayload(let type, let problems):
            "invalid \(type) payload: " + problems.map { "\($0.field) \($0.problem)" }.joined(separator: "; ")
        case .wrongEventType(let expected, let actual):
            "expected a \(expected) event, got \(actual)"
        case .unsupportedVersion(let type, let version, let supported):
            "\(type) version \(version) is not supported by this consumer (it reads version \(supported))"
        case .duplicateGroup(let name):
            "consumer group \(name) is registered twice"
        case .payloadTooLarge(let type, let bytes):
            "\(type) payload is \(bytes) bytes; events carry references, not documents (limit 64 KiB)"
        }
    }
}

extension JSONEncoder {
    /// Payload encoding: sorted keys (stable text, comparable in tests and logs), RFC 3339 dates.
    static let bus: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date))
        }
        return encoder
    }()
}

extension JSONDecoder {
    static let bus: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 date-time: \(text)")
            }
            return date
        }
        return decoder
    }()
}

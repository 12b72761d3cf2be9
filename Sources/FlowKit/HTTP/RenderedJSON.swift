import Foundation
import Hummingbird

/// The one JSON encoding of API responses: every route's body goes through it, directly
/// (``FlowRequestContext/responseEncoder``) or rendered ahead of time (``RenderedJSON``), so
/// a cached body is byte for byte what the route would have encoded.
public enum FlowJSON {
    public static let encoder = StreamingJSONEncoder()

    /// `value` as JSON text, for JSON kept in a text column (tags, interests, the groups of a bus
    /// publish). Same encoder as responses; its dates are whole seconds, so store dates as columns.
    public static func text(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A 200 response carrying `body` as JSON.
    static func response(_ body: ByteBuffer) -> Response {
        var headers = HTTPFields()
        headers.reserveCapacity(4)
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }
}

extension StreamingJSONEncoder: ResponseEncoder {
    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response {
        FlowJSON.response(ByteBuffer(bytes: try encode(value)))
    }
}

/// A JSON response body encoded once and sent as it is, for bodies worth keeping (caches).
public struct RenderedJSON: ResponseGenerator, Sendable {
    public let body: ByteBuffer

    public init(body: ByteBuffer) { self.body = body }

    public init(_ value: some Encodable) throws {
        body = ByteBuffer(bytes: try FlowJSON.encoder.encode(value))
    }

    public func response(from request: Request, context: some RequestContext) -> Response {
        FlowJSON.response(body)
    }
}

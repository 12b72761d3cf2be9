import HTTPTypes
import Hummingbird
import Logging
import W3CTraceContext

/// Outermost middleware: gives the request its id, trace id, client address and body limit, and
/// puts the ids into the request's logger so every line logged while serving it carries them.
public struct RequestIdentityMiddleware: RouterMiddleware {
    public typealias Context = FlowRequestContext

    let bodyLimit: Int
    let trustProxy: Bool

    public init(bodyLimit: Int, trustProxy: Bool) {
        self.bodyLimit = bodyLimit
        self.trustProxy = trustProxy
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.requestId = Self.acceptableRequestId(request.headers[.xRequestId]) ?? UUIDv7.string()
        context.traceId = Self.traceId(from: request.headers[.traceparent])
        context.maxUploadSize = bodyLimit
        if trustProxy {
            context.clientAddress = request.headers[.xForwardedFor]
                .flatMap { $0.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) } } ?? context.peerAddress
            context.isSecure = request.headers[.xForwardedProto]?.lowercased() == "https"
        } else {
            context.clientAddress = context.peerAddress
        }
        // Hummingbird's own request id key is replaced by ours so there is one id per request.
        context.logger[metadataKey: "hb.request.id"] = .string(context.requestId)
        context.logger[metadataKey: "request_id"] = .string(context.requestId)
        context.logger[metadataKey: "trace_id"] = .string(context.traceId)

        let scope = RequestScope(requestId: context.requestId, traceId: context.traceId)
        var response = try await RequestScope.$current.withValue(scope) {
            try await next(request, context)
        }
        response.headers[.xRequestId] = context.requestId
        return response
    }

    /// Client-chosen ids are kept when they are short and plain (they end up in logs and headers).
    static func acceptableRequestId(_ value: String?) -> String? {
        guard let value, (1...128).contains(value.utf8.count),
              value.utf8.allSatisfy({ byte in
                  (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                      || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x3A
              })
        else { return nil }
        return value
    }

    static func traceId(from traceparent: String?) -> String {
        if let traceparent, let context = try? TraceContext(traceParentHeaderValue: traceparent) {
            return context.traceID.description
        }
        var bytes = TraceID.null.bytes
        withUnsafeMutableBytes(of: &bytes) { RandomBytes.fill($0) }
        return TraceID(bytes: bytes).description
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The request context of every Flow route. ``RequestIdentityMiddleware`` fills the identifiers
/// and limits before anything else runs; later issues add the authenticated identity here.
public struct FlowRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `X-Request-Id` from the client when it is usable, otherwise a fresh UUIDv7; echoed on the
    /// response, in every log line and in error bodies.
    public var requestId: String = ""
    /// W3C trace id (32 hex digits) from `traceparent`, or a fresh one.
    public var traceId: String = ""
    /// The client's address: the socket peer, or the first `X-Forwarded-For` hop behind a trusted proxy.
    public var clientAddress: String?
    /// True when the client reached us over TLS (directly or via a trusted proxy).
    public var isSecure = false
    /// The verified caller, set by ``AuthenticationMiddleware`` from a bearer token.
    public var user: AuthenticatedUser?
    /// True when the request carries the operator token (automation, not a person).
    public var isOperator = false
    /// Set from `FLOW_BODY_LIMIT` on every request; Hummingbird's body collection enforces it.
    public var maxUploadSize: Int = 1 << 20
    let peerAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress
    }

    public var requestDecoder: FlowJSONDecoder { FlowJSONDecoder() }
    public var responseEncoder: StreamingJSONEncoder { FlowJSON.encoder }
}

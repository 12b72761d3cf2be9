/// The identifiers of the request being served, for code far from the HTTP layer (the bus
/// stamps them on published events as correlation and trace ids). Set by
/// ``RequestIdentityMiddleware`` for the duration of each request.
public struct RequestScope: Sendable {
    public let requestId: String
    public let traceId: String

    public init(requestId: String, traceId: String) {
        self.requestId = requestId
        self.traceId = traceId
    }

    @TaskLocal public static var current: RequestScope?
}

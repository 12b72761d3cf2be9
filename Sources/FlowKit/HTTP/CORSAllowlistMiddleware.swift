import HTTPTypes
import Hummingbird

/// CORS for an explicit allowlist of origins (`FLOW_CORS_ORIGINS`). Requests from other origins
/// get no CORS headers, so browsers keep them from reading responses; their preflights get 403.
/// Same-origin requests (the web client served by `flow`) need no CORS and are untouched.
public struct CORSAllowlistMiddleware: RouterMiddleware {
    public typealias Context = FlowRequestContext

    let origins: Set<String>
    let allowsAnyOrigin: Bool

    static let allowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    static let allowedHeaders = "Authorization, Content-Type, Accept, X-Request-Id, If-None-Match, If-Match, traceparent"
    static let exposedHeaders = "X-Request-Id, ETag, Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy"

    public init(origins: [String]) {
        self.allowsAnyOrigin = origins.contains("*")
        self.origins = Set(origins.filter { $0 != "*" }.map { $0.lowercased() })
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else {
            return try await next(request, context)
        }
        let allowed = allowsAnyOrigin || origins.contains(origin.lowercased())
        let isPreflight = request.method == .options && request.headers[.accessControlRequestMethod] != nil

        if isPreflight {
            guard allowed else {
                let error = APIError(.forbidden, code: "cors_origin_not_allowed",
                                     message: "The origin \(origin) is not allowed to call this API (see FLOW_CORS_ORIGINS).")
                return ErrorResponse.render(error, requestId: context.requestId)
            }
            var headers = HTTPFields()
            headers[.accessControlAllowOrigin] = allowsAnyOrigin ? "*" : origin
            headers[.accessControlAllowMethods] = Self.allowedMethods
            headers[.accessControlAllowHeaders] = Self.allowedHeaders
            headers[.accessControlMaxAge] = "600"
            headers[.vary] = "Origin"
            return Response(status: .noContent, headers: headers)
        }

        // Errors are already rendered responses here (this runs outside ErrorMiddleware), so
        // browsers can read error bodies too.
        var response = try await next(request, context)
        if allowed {
            response.headers[.accessControlAllowOrigin] = allowsAnyOrigin ? "*" : origin
            response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
            response.headers[.vary] = "Origin"
        }
        return response
    }
}

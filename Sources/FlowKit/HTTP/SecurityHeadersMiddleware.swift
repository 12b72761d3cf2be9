import HTTPTypes
import Hummingbird

/// Browser hardening headers on every response, errors included. A route that needs a different
/// policy (the web client's CSP) sets its own header and it is kept.
public struct SecurityHeadersMiddleware: RouterMiddleware {
    public typealias Context = FlowRequestContext

    public static let contentSecurityPolicy =
        "default-src 'self'; base-uri 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'"
    /// One year; only sent when the request came over TLS, as browsers ignore it otherwise.
    public static let strictTransportSecurity = "max-age=31536000; includeSubDomains"

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        var headers = response.headers
        func setIfAbsent(_ name: HTTPField.Name, _ value: String) {
            if headers[name] == nil { headers[name] = value }
        }
        setIfAbsent(.contentSecurityPolicy, Self.contentSecurityPolicy)
        setIfAbsent(.xContentTypeOptions, "nosniff")
        setIfAbsent(.xFrameOptions, "DENY")
        setIfAbsent(.referrerPolicy, "no-referrer")
        setIfAbsent(.crossOriginOpenerPolicy, "same-origin")
        setIfAbsent(.crossOriginResourcePolicy, "same-origin")
        if context.isSecure {
            setIfAbsent(.strictTransportSecurity, Self.strictTransportSecurity)
        }
        response.headers = headers
        return response
    }
}

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

    /// Built once: a field made from a string is checked for illegal characters every time.
    private static let everyResponse: [HTTPField] = [
        HTTPField(name: .contentSecurityPolicy, value: contentSecurityPolicy),
        HTTPField(name: .xContentTypeOptions, value: "nosniff"),
        HTTPField(name: .xFrameOptions, value: "DENY"),
        HTTPField(name: .referrerPolicy, value: "no-referrer"),
        HTTPField(name: .crossOriginOpenerPolicy, value: "same-origin"),
        HTTPField(name: .crossOriginResourcePolicy, value: "same-origin"),
    ]
    private static let overTLS = HTTPField(name: .strictTransportSecurity, value: strictTransportSecurity)

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        var headers = response.headers
        for field in Self.everyResponse where headers[field.name] == nil {
            headers.append(field)
        }
        if context.isSecure, headers[.strictTransportSecurity] == nil {
            headers.append(Self.overTLS)
        }
        response.headers = headers
        return response
    }
}

import HTTPTypes
import Hummingbird

/// Cheap checks before any handler runs: a declared `Content-Length` over the limit is refused
/// before the body is read (bodies without a length are cut off at the same limit when read),
/// and NUL characters in the URL are refused (no text column stores them; PostgreSQL rejects
/// them outright).
public struct RequestGuardMiddleware: RouterMiddleware {
    public typealias Context = FlowRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > context.maxUploadSize {
            throw APIError.payloadTooLarge(limit: context.maxUploadSize)
        }
        if request.uri.description.range(of: "%00", options: .caseInsensitive) != nil {
            throw APIError.badRequest("The URL contains a NUL character (%00), which is not allowed.", code: "invalid_characters")
        }
        return try await next(request, context)
    }
}

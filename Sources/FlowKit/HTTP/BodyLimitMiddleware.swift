import HTTPTypes
import Hummingbird

/// Refuses a body whose declared `Content-Length` is over the limit before any handler runs.
/// Bodies without a length (chunked) are cut off at the same limit when they are read.
public struct BodyLimitMiddleware: RouterMiddleware {
    public typealias Context = FlowRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > context.maxUploadSize {
            throw APIError.payloadTooLarge(limit: context.maxUploadSize)
        }
        return try await next(request, context)
    }
}

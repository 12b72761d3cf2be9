import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// One log line per finished request: method, path, route template, status, duration and client.
/// The query string is left out on purpose: it may carry tokens (calendar feeds, resets).
public struct AccessLogMiddleware: RouterMiddleware {
    public typealias Context = FlowRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let microseconds = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        let status = response.status.code
        context.logger.log(
            level: status >= 500 ? .error : .info,
            "request",
            metadata: [
                "method": .string(request.method.rawValue),
                "path": .string(request.uri.path),
                "route": .string(context.endpointPath ?? "-"),
                "status": .stringConvertible(status),
                "duration_ms": .stringConvertible(Double(microseconds) / 1000),
                "client": .string(context.clientAddress ?? "-"),
            ])
        return response
    }
}

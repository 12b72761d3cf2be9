import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Turns every error thrown by a route or an inner middleware into the project's JSON error
/// response, so clients see one shape for every failure:
/// `{"error":{"code","message","details","requestId"}}`.
///
/// Errors that are not ``APIError`` are mapped: Hummingbird's HTTP errors by status (a 404 on a
/// path that exists with other methods becomes 405 with `Allow`), database errors to 409/503,
/// and anything else to a 500 whose cause is logged, never sent.
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = FlowRequestContext

    let routes: RouteTable

    public init(routes: RouteTable) {
        self.routes = routes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = translate(error, request: request)
            if apiError.status.code >= 500, error is APIError {
                // A deliberate answer (not ready, unavailable): worth a warning, not a stack of detail.
                context.logger.warning("request refused", metadata: ["code": "\(apiError.code)", "reason": "\(apiError.message)"])
            } else if apiError.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "code": "\(apiError.code)"])
            } else {
                context.logger.debug("request refused", metadata: ["code": "\(apiError.code)", "reason": "\(apiError.message)"])
            }
            return ErrorResponse.render(apiError, requestId: context.requestId)
        }
    }

    func translate(_ error: any Error, request: Request) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as DatabaseError:
            switch error.kind {
            case .uniqueViolation:
                return .conflict("This would duplicate an existing record.", code: "duplicate")
            case .foreignKeyViolation:
                return .validation(field: error.constraint ?? "(body)", "refers to something that does not exist")
            case .invalidValue:
                return .validation(field: error.constraint ?? "(body)", "holds a value that cannot be stored (invalid characters, too long or out of range)")
            case .conflict:
                return APIError(.serviceUnavailable, code: "write_conflict",
                                message: "The data was busy; retry the request.", headers: [.retryAfter: "1"])
            case .unavailable:
                return .serviceUnavailable("The database is unavailable; retry shortly.", retryAfterSeconds: 5)
            case .notNullViolation, .checkViolation, .other:
                return .internal
            }
        case let error as HTTPError:
            return translate(status: error.status, message: error.body, request: request)
        case let error as any HTTPResponseError:
            return translate(status: error.status, message: nil, request: request)
        case is CancellationError:
            return .serviceUnavailable("The request was cancelled while the server is shutting down.")
        default:
            return .internal
        }
    }

    private func translate(status: HTTPResponse.Status, message: String?, request: Request) -> APIError {
        switch status {
        case .notFound:
            let allowed = routes.methods(forPath: request.uri.path)
            if !allowed.isEmpty && !allowed.contains(request.method) {
                return .methodNotAllowed(request.method, allowed: allowed)
            }
            return .notFound("No route matches \(request.method.rawValue) \(request.uri.path).")
        case .contentTooLarge:
            return .payloadTooLarge(limit: 0)
        case .unsupportedMediaType:
            return .unsupportedMediaType(request.headers[.contentType])
        default:
            let code = status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "-", with: "_")
            return APIError(status, code: code.isEmpty ? "http_\(status.code)" : code,
                            message: message ?? status.reasonPhrase)
        }
    }
}

/// Renders an ``APIError`` as the JSON error response; the only place that writes that shape.
public enum ErrorResponse {
    struct Body: Encodable {
        struct Content: Encodable {
            let code: String
            let message: String
            let details: JSONValue
            let requestId: String
        }
        let error: Content
    }

    public static func render(_ error: APIError, requestId: String) -> Response {
        let body = Body(error: .init(code: error.code, message: error.message, details: error.details ?? [:], requestId: requestId))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data(#"{"error":{"code":"internal_error","message":"error rendering failed","details":{},"requestId":""}}"#.utf8)
        var headers = error.headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

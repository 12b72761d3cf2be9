import HTTPTypes
import Hummingbird

/// The one error type the HTTP layer renders. Every failure a client can see becomes
/// `{"error":{"code","message","details","requestId"}}` with the status below; services throw
/// these (or domain errors that convert to them) and ``ErrorMiddleware`` renders them.
///
/// `code` is a stable, machine-readable snake_case string clients may switch on; `message` is
/// for humans and may change; `details` carries structured context (field problems, limits).
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var details: JSONValue?
    /// Extra response headers, such as `Allow` for 405 or `Retry-After` for 429 and 503.
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, message: String, details: JSONValue? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
    }
}

/// One problem with one input field, reported in `details.fields` of a 422.
public struct FieldProblem: Sendable, Equatable {
    /// JSON path of the field, such as `venue.lat` or `tags[2]`.
    public var field: String
    public var problem: String

    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }
}

extension APIError {
    public static func badRequest(_ message: String, code: String = "bad_request", details: JSONValue? = nil) -> APIError {
        APIError(.badRequest, code: code, message: message, details: details)
    }

    public static func malformedJSON(_ message: String) -> APIError {
        APIError(.badRequest, code: "malformed_json", message: message)
    }

    public static func validation(_ problems: [FieldProblem], message: String? = nil) -> APIError {
        let fields = JSONValue.array(problems.map { ["field": .string($0.field), "problem": .string($0.problem)] })
        let summary = message ?? (problems.count == 1
            ? "\(problems[0].field): \(problems[0].problem)"
            : "\(problems.count) fields are invalid")
        return APIError(.unprocessableContent, code: "validation_failed", message: summary, details: ["fields": fields])
    }

    public static func validation(field: String, _ problem: String) -> APIError {
        validation([FieldProblem(field: field, problem: problem)])
    }

    public static func unauthorized(_ message: String = "Authentication is required.") -> APIError {
        APIError(.unauthorized, code: "unauthorized", message: message)
    }

    public static func forbidden(_ message: String = "You are not allowed to do this.") -> APIError {
        APIError(.forbidden, code: "forbidden", message: message)
    }

    public static func notFound(_ message: String = "The requested resource does not exist.") -> APIError {
        APIError(.notFound, code: "not_found", message: message)
    }

    public static func methodNotAllowed(_ method: HTTPRequest.Method, allowed: [HTTPRequest.Method]) -> APIError {
        let allowList = allowed.map(\.rawValue).sorted()
        var headers = HTTPFields()
        headers[.allow] = allowList.joined(separator: ", ")
        return APIError(
            .methodNotAllowed, code: "method_not_allowed",
            message: "\(method.rawValue) is not allowed here; allowed: \(allowList.joined(separator: ", ")).",
            details: ["allowed": .array(allowList.map { .string($0) })], headers: headers)
    }

    public static func conflict(_ message: String, code: String = "conflict", details: JSONValue? = nil) -> APIError {
        APIError(.conflict, code: code, message: message, details: details)
    }

    public static func payloadTooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "payload_too_large",
                 message: "The request body is larger than the limit of \(limit) bytes.",
                 details: ["limitBytes": .number(Double(limit))])
    }

    public static func unsupportedMediaType(_ received: String?, expected: String = "application/json") -> APIError {
        APIError(.unsupportedMediaType, code: "unsupported_media_type",
                 message: "The request body must be \(expected)" + (received.map { "; received \($0)." } ?? "; no Content-Type was given."),
                 details: ["expected": .string(expected)])
    }

    public static func serviceUnavailable(_ message: String, retryAfterSeconds: Int? = nil) -> APIError {
        var headers = HTTPFields()
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return APIError(.serviceUnavailable, code: "service_unavailable", message: message, headers: headers)
    }

    public static let `internal` = APIError(
        .internalServerError, code: "internal_error",
        message: "Something went wrong on our side. The request id identifies it in our logs.")
}

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Decodes JSON request bodies and turns every way they can be wrong into the right status:
/// 415 for another media type, 413 over the body limit, 400 for text that is not JSON, and 422
/// naming the field when the JSON does not fit the expected shape.
public struct FlowJSONDecoder: RequestDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        let contentType = request.headers[.contentType]
        guard let contentType, Self.isJSON(contentType) else {
            throw APIError.unsupportedMediaType(contentType)
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw APIError.payloadTooLarge(limit: context.maxUploadSize)
        }
        guard body.readableBytes > 0 else {
            throw APIError.malformedJSON("The request body is empty; a JSON document is required.")
        }
        let data = Data(buffer: body)
        if Self.containsEscapedNUL(data) {
            throw APIError.validation(field: "(body)", "text must not contain NUL characters (\\u0000)")
        }
        return try Self.decode(type, from: data)
    }

    /// Shared with anything else that decodes client JSON (Socket.IO payloads), so the same
    /// mistakes get the same answers everywhere.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected an RFC 3339 date-time such as 2026-05-01T18:30:00Z")
            }
            return date
        }
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw Self.apiError(for: error)
        }
    }

    /// JSON can smuggle NUL into strings as `\u0000`; no text column can store it.
    static func containsEscapedNUL(_ data: Data) -> Bool {
        let pattern = Array("\\u0000".utf8)
        guard data.count >= pattern.count else { return false }
        return data.withUnsafeBytes { bytes in
            var index = 0
            while index <= bytes.count - pattern.count {
                if bytes[index] == 0x5C, bytes[index + 1] == 0x75,
                   bytes[index + 2] == 0x30, bytes[index + 3] == 0x30, bytes[index + 4] == 0x30, bytes[index + 5] == 0x30 {
                    // An escaped backslash before it (`\\u0000`) is literal text, not NUL.
                    var backslashes = 0
                    var back = index - 1
                    while back >= 0, bytes[back] == 0x5C { backslashes += 1; back -= 1 }
                    if backslashes % 2 == 0 { return true }
                }
                index += 1
            }
            return false
        }
    }

    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first?
            .trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }

    static func apiError(for error: DecodingError) -> APIError {
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            let reason = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? context.debugDescription
            return .malformedJSON("The request body is not valid JSON: \(reason)")
        case .dataCorrupted(let context):
            return .validation(field: path(context.codingPath), context.debugDescription.isEmpty ? "has an invalid value" : context.debugDescription)
        case .keyNotFound(let key, let context):
            return .validation(field: path(context.codingPath + [key]), "is required")
        case .valueNotFound(_, let context):
            return .validation(field: path(context.codingPath), "must not be null")
        case .typeMismatch(let type, let context):
            return .validation(field: path(context.codingPath), "must be \(describe(type))")
        @unknown default:
            return .malformedJSON("The request body could not be read: \(error)")
        }
    }

    /// `venue.tags[2]` from a coding path.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var result = ""
        for key in codingPath {
            if let index = key.intValue {
                result += "[\(index)]"
            } else {
                result += result.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return result.isEmpty ? "(body)" : result
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type: "a whole number"
        case is Double.Type, is Float.Type: "a number"
        case is [Any].Type: "an array"
        default:
            String(describing: type).hasPrefix("Array") ? "an array" : (String(describing: type).hasPrefix("Dictionary") ? "an object" : "a \(type)")
        }
    }
}

@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Every failure has a status and the JSON error shape")
struct ErrorShapeTests {
    @Test("404 for an unknown path")
    func notFound() async throws {
        try await withTestServer { client, _ in
            try await client.execute(uri: "/api/v1/nothing-here", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.errorBody()["code"] as? String == "not_found")
            }
        }
    }

    @Test("405 with Allow for a known path and another method")
    func methodNotAllowed() async throws {
        try await withTestServer { client, _ in
            try await client.execute(uri: "/health", method: .delete) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, HEAD")
                let error = response.errorBody()
                #expect(error["code"] as? String == "method_not_allowed")
                #expect((error["details"] as? [String: Any])?["allowed"] as? [String] == ["GET", "HEAD"])
            }
            try await client.execute(uri: "/health", method: .head) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/test/items/42", method: .put) { response in
                #expect(response.status == .methodNotAllowed)
            }
            // A literal segment wins over a parameter, as in the router: not also DELETE /sessions/{id}.
            try await client.execute(uri: "/api/v1/auth/sessions/revoke-others", method: .get) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
            }
        }
    }

    @Test("413 when the declared length is over the limit, before the body is read")
    func payloadTooLargeDeclared() async throws {
        try await withTestServer(configure: { $0.bodyLimit = 64 }) { client, _ in
            let body = String(repeating: "x", count: 200)
            try await client.execute(
                uri: "/test/echo", method: .post,
                headers: [.contentType: "application/json", .contentLength: "200"], body: jsonBody(body)
            ) { response in
                #expect(response.status == .contentTooLarge)
                let error = response.errorBody()
                #expect(error["code"] as? String == "payload_too_large")
                #expect((error["details"] as? [String: Any])?["limitBytes"] as? Int == 64)
            }
        }
    }

    @Test("413 when a body without a declared length grows over the limit")
    func payloadTooLargeStreamed() async throws {
        try await withTestServer(configure: { $0.bodyLimit = 64 }) { client, _ in
            let body = #"{"name":""# + String(repeating: "x", count: 200) + #"","count":1}"#
            try await client.execute(uri: "/test/echo", method: .post, headers: [.contentType: "application/json"], body: jsonBody(body)) { response in
                #expect(response.status == .contentTooLarge)
                #expect(response.errorBody()["code"] as? String == "payload_too_large")
            }
        }
    }

    @Test("415 for a body that is not JSON, or has no type")
    func unsupportedMediaType() async throws {
        try await withTestServer { client, _ in
            try await client.execute(uri: "/test/echo", method: .post, headers: [.contentType: "text/plain"], body: jsonBody("name=x")) { response in
                #expect(response.status == .unsupportedMediaType)
                #expect(response.errorBody()["code"] as? String == "unsupported_media_type")
            }
            try await client.execute(uri: "/test/echo", method: .post, body: jsonBody(#"{"name":"x","count":1}"#)) { response in
                #expect(response.status == .unsupportedMediaType)
            }
            try await client.execute(uri: "/test/echo", method: .post, headers: [.contentType: "application/json; charset=utf-8"], body: jsonBody(#"{"name":"x","count":1}"#)) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("400 for malformed JSON and for an empty body")
    func malformedJSON() async throws {
        try await withTestServer { client, _ in
            for body in [#"{"name": "x", "count": "#, "not json at all", ""] {
                try await client.execute(uri: "/test/echo", method: .post, headers: [.contentType: "application/json"], body: jsonBody(body)) { response in
                    #expect(response.status == .badRequest, "body: \(body)")
                    #expect(response.errorBody()["code"] as? String == "malformed_json")
                }
            }
        }
    }

    @Test("422 names the field: missing, null, wrong type, invalid value, rule broken", arguments: [
        (#"{"name":"x"}"#, "count", "is required"),
        (#"{"name":null,"count":1}"#, "name", "must not be null"),
        (#"{"name":"x","count":"three"}"#, "count", "must be a whole number"),
        (#"{"name":"x","count":1,"tags":["a",7]}"#, "tags[1]", "must be a string"),
        (#"{"name":"x","count":1,"at":"yesterday"}"#, "at", "RFC 3339"),
        (#"{"name":"x","count":11}"#, "count", "between 1 and 10"),
    ])
    func validation(body: String, field: String, problem: String) async throws {
        try await withTestServer { client, _ in
            try await client.execute(uri: "/test/echo", method: .post, headers: [.contentType: "application/json"], body: jsonBody(body)) { response in
                #expect(response.status == .unprocessableContent)
                let error = response.errorBody()
                #expect(error["code"] as? String == "validation_failed")
                let fields = (error["details"] as? [String: Any])?["fields"] as? [[String: String]]
                #expect(fields?.first?["field"] == field)
                #expect(fields?.first?["problem"]?.contains(problem) == true, "problem was \(fields?.first?["problem"] ?? "-")")
            }
        }
    }

    @Test("NUL characters are refused in bodies (422) and URLs (400), but an escaped backslash is fine")
    func nulCharacters() async throws {
        try await withTestServer { client, _ in
            try await client.execute(uri: "/test/echo", method: .post, headers: [.contentType: "application/json"],
                                     body: jsonBody(#"{"name":"a\u0000b","count":1}"#)) { response in
                #expect(response.status == .unprocessableContent)
                #expect(response.errorBody()["code"] as? String == "validation_failed")
            }
            try await client.execute(uri: "/test/echo", method: .post, headers: [.contentType: "application/json"],
                                     body: jsonBody(#"{"name":"a\\u0000b","count":1}"#)) { response in
                #expect(response.status == .ok)
                #expect(response.json["name"] as? String == #"a\u0000b"#)
            }
            for uri in ["/test/items/x%00y", "/test/items/x?q=%%00", "/test/items/x?q=%0%00"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .badRequest, "\(uri)")
                    #expect(response.errorBody()["code"] as? String == "invalid_characters")
                }
            }
            // Near misses are not NULs.
            for uri in ["/test/items/x%0A0", "/test/items/x%2500", "/test/items/x%0"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status != .badRequest, "\(uri)")
                }
            }
        }
    }

    @Test("a valid body is decoded, dates in RFC 3339")
    func validBody() async throws {
        try await withTestServer { client, _ in
            try await client.execute(uri: "/test/echo", method: .post, headers: [.contentType: "application/json"],
                                     body: jsonBody(#"{"name":"x","count":3,"tags":["a"],"at":"2026-05-01T20:30:00+02:00"}"#)) { response in
                #expect(response.status == .ok)
                #expect(response.json["count"] as? Int == 3)
                #expect(response.json["at"] as? String == "2026-05-01T18:30:00Z")
            }
        }
    }

    @Test("500 hides the cause and keeps the shape")
    func internalError() async throws {
        try await withTestServer { client, _ in
            try await client.execute(uri: "/test/boom", method: .get) { response in
                #expect(response.status == .internalServerError)
                #expect(response.errorBody()["code"] as? String == "internal_error")
                #expect(!response.text.contains("must not reach clients"))
            }
        }
    }

    @Test("503 with Retry-After when the database is unavailable")
    func databaseUnavailable() async throws {
        try await withTestServer { client, _ in
            try await client.execute(uri: "/test/database-down", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "5")
                #expect(response.errorBody()["code"] as? String == "service_unavailable")
            }
        }
    }
}

@Suite("Browser-facing headers")
struct BrowserHeaderTests {
    @Test("CORS: allowlisted origins get headers and preflights; others get neither")
    func cors() async throws {
        try await withTestServer(configure: { $0.corsOrigins = ["https://app.example.com"] }) { client, _ in
            try await client.execute(uri: "/health", method: .get, headers: [.origin: "https://app.example.com"]) { response in
                #expect(response.headers[.accessControlAllowOrigin] == "https://app.example.com")
                #expect(response.headers[.vary] == "Origin")
                #expect(response.headers[.accessControlExposeHeaders]?.contains("X-Request-Id") == true)
            }
            try await client.execute(uri: "/nope", method: .get, headers: [.origin: "https://app.example.com"]) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.accessControlAllowOrigin] == "https://app.example.com")
            }
            try await client.execute(uri: "/test/echo", method: .options, headers: [
                .origin: "https://app.example.com", .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "content-type",
            ]) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.accessControlAllowMethods]?.contains("POST") == true)
                #expect(response.headers[.accessControlAllowHeaders]?.contains("Content-Type") == true)
            }
            try await client.execute(uri: "/health", method: .get, headers: [.origin: "https://evil.example"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
            try await client.execute(uri: "/test/echo", method: .options, headers: [.origin: "https://evil.example", .accessControlRequestMethod: "POST"]) { response in
                #expect(response.status == .forbidden)
                #expect(response.errorBody()["code"] as? String == "cors_origin_not_allowed")
            }
        }
    }

    @Test("HSTS only when a trusted proxy says the request came over TLS")
    func strictTransportSecurity() async throws {
        try await withTestServer(configure: { $0.trustProxy = true }) { client, _ in
            try await client.execute(uri: "/health", method: .get, headers: [.xForwardedProto: "https"]) { response in
                #expect(response.headers[.strictTransportSecurity] == SecurityHeadersMiddleware.strictTransportSecurity)
            }
            try await client.execute(uri: "/health", method: .get, headers: [.xForwardedProto: "http"]) { response in
                #expect(response.headers[.strictTransportSecurity] == nil)
            }
        }
        try await withTestServer { client, _ in
            try await client.execute(uri: "/health", method: .get, headers: [.xForwardedProto: "https"]) { response in
                #expect(response.headers[.strictTransportSecurity] == nil, "an untrusted X-Forwarded-Proto must be ignored")
            }
        }
    }
}

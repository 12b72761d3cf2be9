import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The operational endpoints every role serves: liveness, readiness, metrics and the API
/// description. They sit outside `/api/v1` because probes and scrapers are not API clients.
public struct PlatformRoutes: Sendable {
    let readiness: ReadinessCheck
    let document: OpenAPIDocument

    public init(readiness: ReadinessCheck, document: OpenAPIDocument) {
        self.readiness = readiness
        self.document = document
    }

    public func register(on api: DocumentedRouter<FlowRequestContext>) {
        api.document.addTag("platform", description: "Health, readiness, metrics and this document.")
        api.document.addSchema("Health", [
            "type": "object", "required": ["status"],
            "properties": ["status": ["type": "string", "enum": ["ok"]]],
        ])
        api.document.addSchema("Readiness", ReadinessReport.schema)

        api.get("/health", APIOperation(
            "getHealth", summary: "Liveness: the process answers.",
            description: "Never touches the database, so an orchestrator does not restart a healthy process during a database outage.",
            tags: ["platform"], responses: [.json(200, "The process is alive.", schema: ["$ref": "#/components/schemas/Health"])])
        ) { _, _ in
            Self.json(#"{"status":"ok"}"#)
        }

        api.get("/ready", APIOperation(
            "getReady", summary: "Readiness: the database answers and its schema is current.",
            description: "503 (with the failed checks in `details.checks`) while the database is unreachable or migrations are pending.",
            tags: ["platform"],
            responses: [
                .json(200, "Ready to serve.", schema: ["$ref": "#/components/schemas/Readiness"]),
                .error(503, "Not ready: the message and details say which check failed."),
            ])
        ) { _, _ in
            let report = await readiness.run()
            guard report.ready else {
                throw APIError(.serviceUnavailable, code: "not_ready", message: report.summary,
                               details: ["checks": report.checksJSON], headers: [.retryAfter: "5"])
            }
            return Self.json(report.encoded())
        }

        api.get("/metrics", APIOperation(
            "getMetrics", summary: "Prometheus metrics (text exposition format 0.0.4).",
            tags: ["platform"],
            responses: [.other(200, "Metrics in the Prometheus text format.", mediaType: "text/plain")])
        ) { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: FlowMetrics.exposition())))
        }

        api.get("/openapi.json", APIOperation(
            "getOpenAPI", summary: "This OpenAPI 3.1 document.", tags: ["platform"],
            responses: [.json(200, "The OpenAPI document.", schema: ["type": "object"])])
        ) { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: document.rendered())))
        }
    }

    static func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

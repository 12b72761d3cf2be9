import HTTPTypes
import Hummingbird

/// Registers a route and its OpenAPI description in one call, so the document always lists
/// every route. Domains receive one of these from FlowApp instead of the bare router.
public struct DocumentedRouter<Context: RequestContext> {
    public let router: Router<Context>
    public let document: OpenAPIDocument
    private let prefix: String

    public init(router: Router<Context>, document: OpenAPIDocument, prefix: String = "") {
        self.router = router
        self.document = document
        self.prefix = prefix
    }

    /// Routes under `path`, e.g. `api.group("/api/v1/events")`.
    public func group(_ path: String) -> DocumentedRouter {
        DocumentedRouter(router: router, document: document, prefix: prefix + path)
    }

    /// `path` uses `{name}` for parameters, the syntax of both Hummingbird and OpenAPI.
    public func on(
        _ method: HTTPRequest.Method, _ path: String, _ operation: APIOperation,
        use handler: @escaping @Sendable (Request, Context) async throws -> some ResponseGenerator
    ) {
        let fullPath = prefix + path
        router.on(RouterPath(fullPath), method: method, use: handler)
        document.add(operation, method: method, path: fullPath.isEmpty ? "/" : fullPath)
    }

    public func get(_ path: String, _ operation: APIOperation, use handler: @escaping @Sendable (Request, Context) async throws -> some ResponseGenerator) {
        on(.get, path, operation, use: handler)
    }

    public func post(_ path: String, _ operation: APIOperation, use handler: @escaping @Sendable (Request, Context) async throws -> some ResponseGenerator) {
        on(.post, path, operation, use: handler)
    }

    public func put(_ path: String, _ operation: APIOperation, use handler: @escaping @Sendable (Request, Context) async throws -> some ResponseGenerator) {
        on(.put, path, operation, use: handler)
    }

    public func patch(_ path: String, _ operation: APIOperation, use handler: @escaping @Sendable (Request, Context) async throws -> some ResponseGenerator) {
        on(.patch, path, operation, use: handler)
    }

    public func delete(_ path: String, _ operation: APIOperation, use handler: @escaping @Sendable (Request, Context) async throws -> some ResponseGenerator) {
        on(.delete, path, operation, use: handler)
    }
}

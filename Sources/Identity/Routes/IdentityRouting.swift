import FlowKit
import Hummingbird

/// What Identity's route files share.
enum IdentityRouting {
    /// The OpenAPI security requirement of routes that need a signed-in user.
    static let bearer: JSONValue = [["bearerAuth": []]]
}

extension IdentityService.Client {
    /// The client of an HTTP request: its address (behind a trusted proxy, the forwarded one) and user agent.
    init(_ request: Request, _ context: FlowRequestContext) {
        self.init(address: context.clientAddress, userAgent: request.headers[.userAgent])
    }
}

import FlowKit
import Hummingbird

extension IdentityService.Client {
    /// The client of an HTTP request: its address (behind a trusted proxy, the forwarded one) and user agent.
    init(_ request: Request, _ context: FlowRequestContext) {
        self.init(address: context.clientAddress, userAgent: request.headers[.userAgent])
    }
}

import HTTPTypes
import Hummingbird
import Synchronization

/// The registered routes, for answering 405 (with `Allow`) instead of 404 when a path exists
/// under other methods. Hummingbird's router answers 404 for both; it is filled once after all
/// routes are added (``load(from:)``), before the server starts.
public final class RouteTable: Sendable {
    private let routes = Mutex<[(path: RouterPath, method: HTTPRequest.Method)]>([])

    public init() {}

    /// - Parameter headForGet: the router answers HEAD for every GET route (Hummingbird's
    ///   `autoGenerateHeadEndpoints`, which `router.routes` does not list).
    public func load(from router: Router<some RequestContext>, headForGet: Bool) {
        var registered = router.routes.map { (path: $0.path, method: $0.method) }
        if headForGet {
            let explicitHeads = Set(registered.filter { $0.method == .head }.map(\.path.description))
            registered += registered.filter { $0.method == .get && !explicitHeads.contains($0.path.description) }
                .map { (path: $0.path, method: HTTPRequest.Method.head) }
        }
        routes.withLock { $0 = registered }
    }

    /// The methods the router serves for `path`. Like the router, a literal segment wins over a
    /// parameter (`/sessions/revoke-others` is not also `/sessions/{id}`), and a parameter with
    /// a fixed prefix or suffix wins over a bare one (`/events/1.ics` is `{id}.ics`, not `{id}`).
    public func methods(forPath path: String) -> [HTTPRequest.Method] {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        let matching = routes.withLock { routes in routes.filter { Self.matches($0.path, components) } }
        let specificity = { (template: RouterPath) in
            zip(template.components, components).reduce(0) { score, pair in
                let element = pair.0.description
                if element == String(pair.1) { return score + 2 }
                let partial = element.contains("{") && !(element.hasPrefix("{") && element.hasSuffix("}"))
                return score + (partial ? 1 : 0)
            }
        }
        let best = matching.map { specificity($0.path) }.max() ?? 0
        return matching.filter { specificity($0.path) == best }.map(\.method)
    }

    static func matches(_ template: RouterPath, _ components: [Substring]) -> Bool {
        let elements = template.components
        for (index, element) in elements.enumerated() {
            if element.description == "**" { return true }
            guard index < components.count, element ~= components[index] else { return false }
        }
        return elements.count == components.count
    }
}

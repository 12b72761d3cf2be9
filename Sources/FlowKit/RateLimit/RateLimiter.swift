import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// Fixed-window request counters kept in memory, keyed by whatever a route limits on (client
/// address, account). Each instance counts on its own: behind a load balancer with N instances
/// a client gets up to N times the limit, which still bounds password guessing per instance.
///
/// Memory is bounded: expired windows are swept when the table grows past ``maximumKeys``, and
/// if every window is still live the oldest are dropped (a dropped key starts a fresh window,
/// which errs towards letting a request through rather than refusing everyone).
public final class RateLimiter: Sendable {
    /// A limit: `limit` requests per `window`.
    public struct Policy: Sendable, Equatable {
        public let name: String
        public let limit: Int
        public let window: Duration

        public init(name: String, limit: Int, window: Duration) {
            precondition(limit > 0, "a rate limit allows at least one request")
            self.name = name
            self.limit = limit
            self.window = window
        }

        var windowSeconds: Double {
            Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        }
    }

    /// Where one key stands after a request was counted.
    public struct Decision: Sendable, Equatable {
        public let policy: Policy
        public let allowed: Bool
        public let remaining: Int
        /// Seconds until the window ends and the count starts again.
        public let resetSeconds: Int

        /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (IETF httpapi draft), and
        /// `Retry-After` when refused.
        public var headers: HTTPFields {
            var fields = HTTPFields()
            fields[.rateLimitLimit] = String(policy.limit)
            fields[.rateLimitRemaining] = String(remaining)
            fields[.rateLimitReset] = String(resetSeconds)
            if !allowed { fields[.retryAfter] = String(resetSeconds) }
            return fields
        }
    }

    private struct Window {
        var start: Double
        var count: Int
    }

    public let maximumKeys: Int
    private let windows = Mutex([String: Window]())
    private let clock: @Sendable () -> Double

    public init(maximumKeys: Int = 100_000, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSinceReferenceDate }) {
        self.maximumKeys = maximumKeys
        self.clock = clock
    }

    /// Counts one request for `key` under `policy`. A refused request is not counted, so a
    /// client that waits out the window gets the whole limit again.
    public func consume(_ key: String, policy: Policy) -> Decision {
        let now = clock()
        let window = policy.windowSeconds
        let slot = "\(policy.name)\u{1F}\(key)"
        return windows.withLock { table in
            if table.count >= maximumKeys, table[slot] == nil {
                Self.evict(&table, now: now, window: window, keep: maximumKeys * 3 / 4)
            }
            var current = table[slot] ?? Window(start: now, count: 0)
            if now - current.start >= window { current = Window(start: now, count: 0) }
            let reset = max(1, Int((current.start + window - now).rounded(.up)))
            guard current.count < policy.limit else {
                table[slot] = current
                return Decision(policy: policy, allowed: false, remaining: 0, resetSeconds: reset)
            }
            current.count += 1
            table[slot] = current
            return Decision(policy: policy, allowed: true, remaining: policy.limit - current.count, resetSeconds: reset)
        }
    }

    /// Counts the request under every (key, policy) pair and returns the tightest decision: a
    /// refusal if any refuses, else the one with the fewest requests left.
    public func consume(_ checks: [(key: String, policy: Policy)]) -> Decision? {
        let decisions = checks.map { consume($0.key, policy: $0.policy) }
        return decisions.first { !$0.allowed } ?? decisions.min { $0.remaining < $1.remaining }
    }

    /// How many keys are tracked (for tests and metrics).
    public var trackedKeys: Int { windows.withLock { $0.count } }

    private static func evict(_ table: inout [String: Window], now: Double, window: Double, keep: Int) {
        // Windows of other policies may be longer; a key idle for a full day is stale under any policy we use.
        table = table.filter { now - $0.value.start < max(window, 86_400) }
        guard table.count > keep else { return }
        let newest = table.sorted { $0.value.start > $1.value.start }.prefix(keep)
        table = Dictionary(uniqueKeysWithValues: newest.map { ($0.key, $0.value) })
    }
}

extension APIError {
    /// 429 with the limit, and when to retry, in headers and details.
    public static func rateLimited(_ decision: RateLimiter.Decision) -> APIError {
        APIError(.tooManyRequests, code: "rate_limited",
                 message: "Too many requests (\(decision.policy.limit) per \(decision.policy.window.components.seconds) s); retry in \(decision.resetSeconds) s.",
                 details: ["limit": .number(Double(decision.policy.limit)), "retryAfterSeconds": .number(Double(decision.resetSeconds)),
                           "policy": .string(decision.policy.name)],
                 headers: decision.headers)
    }
}

extension RateLimiter {
    /// Runs `body` when every check allows the request, and puts the tightest decision's
    /// `RateLimit-*` headers on its response, or on its error; 429 without running it otherwise.
    public func limited(
        _ checks: [(key: String, policy: Policy)], request: Request, context: FlowRequestContext,
        _ body: () async throws -> some ResponseGenerator
    ) async throws -> Response {
        guard let decision = consume(checks) else { return try await body().response(from: request, context: context) }
        guard decision.allowed else { throw APIError.rateLimited(decision) }
        do {
            var response = try await body().response(from: request, context: context)
            response.headers.append(contentsOf: decision.headers)
            return response
        } catch var error as APIError {
            error.headers.append(contentsOf: decision.headers)
            throw error
        }
    }
}

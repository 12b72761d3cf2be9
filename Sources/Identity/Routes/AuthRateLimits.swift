import FlowKit
import Hummingbird

/// The rate limits of the auth endpoints. Sign-in is limited per client address and per
/// account (the account key makes a botnet's guesses against one account count together).
/// Every policy answers 429 with `Retry-After` and carries `RateLimit-*` headers.
struct AuthRateLimits: Sendable {
    let limiter = RateLimiter()
    let loginPerClient: RateLimiter.Policy
    let loginPerAccount: RateLimiter.Policy
    let registerPerClient: RateLimiter.Policy
    let refreshPerClient = RateLimiter.Policy(name: "refresh", limit: 60, window: .seconds(60))
    let secondFactorPerClient = RateLimiter.Policy(name: "login-2fa", limit: 10, window: .seconds(60))
    let mailPerClient = RateLimiter.Policy(name: "mail", limit: 10, window: .seconds(3600))
    let mailPerAccount = RateLimiter.Policy(name: "mail-account", limit: 3, window: .seconds(3600))
    let tokenPerClient = RateLimiter.Policy(name: "token", limit: 20, window: .seconds(60))

    init(loginsPerMinute: Int, registrationsPerHour: Int) {
        registerPerClient = RateLimiter.Policy(name: "register", limit: registrationsPerHour, window: .seconds(3600))
        loginPerClient = RateLimiter.Policy(name: "login", limit: loginsPerMinute, window: .seconds(60))
        loginPerAccount = RateLimiter.Policy(name: "login-account", limit: loginsPerMinute, window: .seconds(60))
    }

    /// Runs `body` under `policies` keyed by the client address (and the account key when given).
    func limited(
        _ request: Request, _ context: FlowRequestContext, client policy: RateLimiter.Policy,
        account: (key: String, policy: RateLimiter.Policy)? = nil,
        _ body: () async throws -> some ResponseGenerator
    ) async throws -> Response {
        var checks: [(key: String, policy: RateLimiter.Policy)] = [(context.clientAddress ?? "unknown", policy)]
        if let account { checks.append((IdentityStore.key(account.key), account.policy)) }
        return try await limiter.limited(checks, request: request, context: context, body)
    }
}

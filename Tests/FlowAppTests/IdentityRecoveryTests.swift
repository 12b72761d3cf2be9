@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import SQLKit
import Testing

@Suite("Identity: email verification, password change and reset, rate limits")
struct IdentityRecoveryTests {
    @Test("registration mails a verification link; the token verifies once", arguments: TestEngine.allCases)
    func emailVerification(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let token = try #require(try await API.mailedToken(client, kind: "verify_email", token: ada.token))
            #expect(try await API.send(client, .post, "/api/v1/auth/verify-email", #"{"token":"\#(token)"}"#).status == .noContent)
            let me = try await API.send(client, .get, "/api/v1/auth/me", token: ada.token)
            #expect(me.json["emailVerified"] as? Bool == true)
            let again = try await API.send(client, .post, "/api/v1/auth/verify-email", #"{"token":"\#(token)"}"#)
            #expect(again.status == .badRequest && again.errorBody()["code"] as? String == "invalid_verification_token")
            let resend = try await API.send(client, .post, "/api/v1/auth/verify-email/resend", token: ada.token)
            #expect(resend.status == .conflict)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'user.email_verified'") == 1)
        }
    }

    @Test("a resent link replaces the first; another user cannot read my mail", arguments: TestEngine.allCases)
    func resendAndMailboxPrivacy(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let bob = try await API.register(client, "bob@example.com", "bob")
            let first = try #require(try await API.mailedToken(client, kind: "verify_email", token: ada.token))
            #expect(try await API.send(client, .post, "/api/v1/auth/verify-email/resend", token: ada.token).status == .accepted)
            let second = try #require(try await API.mailedToken(client, kind: "verify_email", token: ada.token))
            #expect(first != second)
            #expect(try await API.send(client, .post, "/api/v1/auth/verify-email", #"{"token":"\#(first)"}"#).status == .badRequest)
            #expect(try await API.send(client, .post, "/api/v1/auth/verify-email", #"{"token":"\#(second)"}"#).status == .noContent)
            let snooping = try await API.send(client, .get, "/api/v1/dev/mailbox?to=ada@example.com", token: bob.token)
            #expect(snooping.status == .forbidden)
            #expect(try await API.send(client, .get, "/api/v1/dev/mailbox").status == .unauthorized)
        }
    }

    @Test("password reset: 202 for anyone, single-use 10-minute token, every session signed out, lockout lifted", arguments: TestEngine.allCases)
    func passwordReset(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let unknown = try await API.send(client, .post, "/api/v1/auth/password-reset/request", #"{"email":"nobody@example.com"}"#)
            #expect(unknown.status == .accepted)
            let known = try await API.send(client, .post, "/api/v1/auth/password-reset/request", #"{"email":"ADA@example.com"}"#)
            #expect(known.status == .accepted && known.json["message"] as? String == unknown.json["message"] as? String)
            let token = try #require(try await API.mailedToken(client, kind: "password_reset", token: ada.token))

            // Lock the account first: the reset lifts it.
            for _ in 0..<5 { _ = try await IdentityRouteTests.login(client, "ada@example.com", "wrong password") }
            #expect(try await IdentityRouteTests.login(client, "ada@example.com").status.code == 423)

            let weak = try await API.send(client, .post, "/api/v1/auth/password-reset", #"{"token":"\#(token)","newPassword":"password"}"#)
            #expect(weak.status == .unprocessableContent)
            let reset = try await API.send(client, .post, "/api/v1/auth/password-reset", #"{"token":"\#(token)","newPassword":"a new long passphrase"}"#)
            #expect(reset.status == .noContent, "\(reset.text)")
            #expect(try await API.send(client, .get, "/api/v1/auth/me", token: ada.token).status == .unauthorized)
            #expect(try await IdentityRouteTests.login(client, "ada@example.com").status == .unauthorized)
            #expect(try await IdentityRouteTests.login(client, "ada@example.com", "a new long passphrase").status == .ok)
            let reused = try await API.send(client, .post, "/api/v1/auth/password-reset", #"{"token":"\#(token)","newPassword":"another passphrase"}"#)
            #expect(reused.status == .badRequest && reused.errorBody()["code"] as? String == "invalid_reset_token")

            // A token older than 10 minutes is refused.
            _ = try await API.send(client, .post, "/api/v1/auth/password-reset/request", #"{"email":"ada@example.com"}"#)
            let signedIn = try await IdentityRouteTests.login(client, "ada@example.com", "a new long passphrase")
            let stale = try #require(try await API.mailedToken(client, kind: "password_reset", token: signedIn.json["accessToken"] as! String))
            try await server.database.transaction { tx in
                try await tx.sql.raw("UPDATE account_tokens SET created_at = \(bind: Date().addingTimeInterval(-660)), expires_at = \(bind: Date().addingTimeInterval(-60)) WHERE purpose = 'reset_password' AND used_at IS NULL").run()
            }
            #expect(try await API.send(client, .post, "/api/v1/auth/password-reset", #"{"token":"\#(stale)","newPassword":"yet another passphrase"}"#).status == .badRequest)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'password.reset'") == 1)
        }
    }

    @Test("changing the password needs the current one and signs out the other sessions", arguments: TestEngine.allCases)
    func passwordChange(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let other = try #require(try await IdentityRouteTests.login(client, "ada@example.com").json["accessToken"] as? String)
            let wrong = try await API.send(client, .post, "/api/v1/auth/password", #"{"currentPassword":"nope nope","newPassword":"a new long passphrase"}"#, token: ada.token)
            #expect(wrong.status == .forbidden && wrong.errorBody()["code"] as? String == "wrong_password")
            let common = try await API.send(client, .post, "/api/v1/auth/password", #"{"currentPassword":"\#(API.password)","newPassword":"12345678"}"#, token: ada.token)
            #expect(common.status == .unprocessableContent)
            let changed = try await API.send(client, .post, "/api/v1/auth/password", #"{"currentPassword":"\#(API.password)","newPassword":"a new long passphrase"}"#, token: ada.token)
            #expect(changed.status == .noContent, "\(changed.text)")
            #expect(try await API.send(client, .get, "/api/v1/auth/me", token: ada.token).status == .ok)
            #expect(try await API.send(client, .get, "/api/v1/auth/me", token: other).status == .unauthorized)
            #expect(try await IdentityRouteTests.login(client, "ada@example.com", "a new long passphrase").status == .ok)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'password.changed'") == 1)
        }
    }

    @Test("sign-in is limited per client: 429 with Retry-After and RateLimit headers", arguments: TestEngine.allCases)
    func loginRateLimit(engine: TestEngine) async throws {
        try await withTestServer(engine, configure: { $0.loginsPerMinute = 5 }) { client, _ in
            _ = try await API.register(client, "ada@example.com", "ada")
            // Seven attempts at once from one client, one for another account: the limiter counts
            // them as they arrive (before any password is hashed), so the minute cannot run out
            // in between however slow bcrypt is on the machine.
            let responses = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for index in 0..<7 {
                    group.addTask { try await IdentityRouteTests.login(client, index == 6 ? "bob@example.com" : "ada@example.com", "wrong password") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let limited = responses.filter { $0.status == .tooManyRequests }
            let allowed = responses.filter { $0.status != .tooManyRequests }
            #expect(limited.count == 2 && allowed.count == 5, "\(responses.map(\.status))")
            #expect(allowed.allSatisfy { $0.status == .unauthorized || $0.status.code == 423 })
            #expect(allowed.compactMap { $0.headers[.rateLimitRemaining] }.sorted() == ["0", "1", "2", "3", "4"])
            #expect(responses.allSatisfy { $0.headers[.rateLimitLimit] == "5" })
            for response in limited {
                #expect(response.errorBody()["code"] as? String == "rate_limited")
                #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 > 0 && Int(response.headers[.retryAfter] ?? "") ?? 99 <= 60)
                #expect(response.headers[.rateLimitRemaining] == "0")
            }
        }
    }
}

@Suite("Rate limiter")
struct RateLimiterTests {
    final class Clock: @unchecked Sendable {
        var now = 1_000.0
    }

    @Test("a fixed window allows the limit, refuses without counting, and starts over when it ends")
    func window() {
        let clock = Clock()
        let limiter = RateLimiter(clock: { clock.now })
        let policy = RateLimiter.Policy(name: "t", limit: 3, window: .seconds(60))
        #expect((0..<3).map { _ in limiter.consume("a", policy: policy).allowed } == [true, true, true])
        let refused = limiter.consume("a", policy: policy)
        #expect(!refused.allowed && refused.remaining == 0 && refused.resetSeconds == 60)
        #expect(refused.headers[.retryAfter] == "60")
        #expect(limiter.consume("b", policy: policy).allowed, "keys are independent")
        clock.now += 59.5
        #expect(!limiter.consume("a", policy: policy).allowed)
        clock.now += 0.5
        let fresh = limiter.consume("a", policy: policy)
        #expect(fresh.allowed && fresh.remaining == 2)
    }

    @Test("the table stays bounded")
    func bounded() {
        let clock = Clock()
        let limiter = RateLimiter(maximumKeys: 100, clock: { clock.now })
        let policy = RateLimiter.Policy(name: "t", limit: 1, window: .seconds(60))
        for index in 0..<1_000 {
            _ = limiter.consume("client-\(index)", policy: policy)
            clock.now += 0.01
        }
        #expect(limiter.trackedKeys <= 100)
    }

    @Test("several checks: the tightest decision wins")
    func tightest() {
        let limiter = RateLimiter()
        let wide = RateLimiter.Policy(name: "wide", limit: 10, window: .seconds(60))
        let narrow = RateLimiter.Policy(name: "narrow", limit: 2, window: .seconds(60))
        let first = limiter.consume([("x", wide), ("x", narrow)])
        #expect(first?.policy == narrow && first?.remaining == 1)
        _ = limiter.consume([("x", wide), ("x", narrow)])
        #expect(limiter.consume([("x", wide), ("x", narrow)])?.allowed == false)
    }
}

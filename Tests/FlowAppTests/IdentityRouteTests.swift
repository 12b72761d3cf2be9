@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import Identity
import SQLKit
import Testing

@Suite("Identity: accounts, sign-in, tokens, sessions")
struct IdentityRouteTests {
    static let password = "correct horse battery"

    static func post(_ client: some TestClientProtocol, _ uri: String, _ body: String, token: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json", .userAgent: "flow-tests/1"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: jsonBody(body))
    }

    static func get(_ client: some TestClientProtocol, _ uri: String, token: String) async throws -> TestResponse {
        try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(token)"])
    }

    static func register(_ client: some TestClientProtocol, _ email: String, _ username: String) async throws -> [String: Any] {
        let response = try await post(client, "/api/v1/auth/register", #"{"email":"\#(email)","username":"\#(username)","password":"\#(password)"}"#)
        #expect(response.status == .created, "\(response.text)")
        return response.json
    }

    static func login(_ client: some TestClientProtocol, _ email: String, _ password: String = password) async throws -> TestResponse {
        try await post(client, "/api/v1/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#)
    }

    static func count(_ server: FlowServer, _ sql: String) async throws -> Int {
        try await server.database.read { db in try await db.raw("\(unsafeRaw: sql)").first()!.decode(column: "n", as: Int.self) }
    }

    @Test("register signs in; the access token carries the documented claims", arguments: TestEngine.allCases)
    func registerAndClaims(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let signedIn = try await Self.register(client, "Ada@Example.com", "ada")
            let token = try #require(signedIn["accessToken"] as? String)
            #expect(signedIn["tokenType"] as? String == "Bearer")
            #expect(signedIn["expiresIn"] as? Int == 900)
            #expect((signedIn["refreshToken"] as? String)?.count ?? 0 >= 40)
            let user = try #require(signedIn["user"] as? [String: Any])
            #expect(user["email"] as? String == "Ada@Example.com" && user["role"] as? String == "user")
            #expect(user["passwordHash"] == nil && !String(describing: signedIn).contains("$2b$"))

            let parts = token.split(separator: ".").map(String.init)
            let header = try Self.decodeSegment(parts[0])
            let claims = try Self.decodeSegment(parts[1])
            #expect((header["kid"] as? String)?.hasPrefix("hs256-") == true && header["alg"] as? String == "HS256")
            #expect(claims["sub"] as? String == user["id"] as? String)
            #expect(claims["email"] as? String == "Ada@Example.com" && claims["username"] as? String == "ada")
            #expect(claims["role"] as? String == "user" && claims["permissions"] as? [String] == ["create_event"])
            #expect(claims["sessionId"] as? String == signedIn["sessionId"] as? String)
            #expect(claims["iss"] as? String == "flow")
            #expect((claims["aud"] as? [String]) == ["flow-api"] || claims["aud"] as? String == "flow-api")
            let iat = try #require(claims["iat"] as? Double)
            let exp = try #require(claims["exp"] as? Double)
            #expect(exp - iat == 900)
            #expect(claims["jti"] is String)

            let me = try await Self.get(client, "/api/v1/auth/me", token: token)
            #expect(me.status == .ok && me.json["username"] as? String == "ada")
            #expect(try await Self.count(server, "SELECT COUNT(*) AS n FROM bus_events WHERE type = 'user.registered'") == 1)
            #expect(try await Self.count(server, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'user.registered'") == 1)
        }
    }

    @Test("registration refuses duplicates (case-insensitive) and bad input, naming the field", arguments: TestEngine.allCases)
    func registrationRules(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            _ = try await Self.register(client, "ada@example.com", "ada")
            let sameEmail = try await Self.post(client, "/api/v1/auth/register", #"{"email":"ADA@example.com","username":"other","password":"\#(Self.password)"}"#)
            #expect(sameEmail.status == .conflict && sameEmail.errorBody()["code"] as? String == "email_taken")
            let sameName = try await Self.post(client, "/api/v1/auth/register", #"{"email":"b@example.com","username":"ADA","password":"\#(Self.password)"}"#)
            #expect(sameName.status == .conflict && sameName.errorBody()["code"] as? String == "username_taken")
            for (body, field) in [
                (#"{"email":"not-an-email","username":"bob","password":"\#(Self.password)"}"#, "email"),
                // 137 characters but 262 code points: over the documented maxLength of 254.
                (#"{"email":"\#(String(repeating: "e\u{0301}", count: 125))@example.com","username":"bob","password":"\#(Self.password)"}"#, "email"),
                (#"{"email":"bob@example.com","username":"b","password":"\#(Self.password)"}"#, "username"),
                (#"{"email":"bob@example.com","username":"bob","password":"short"}"#, "password"),
                (#"{"email":"bob@example.com","username":"bob","password":"password123"}"#, "password"),
                (#"{"email":"bob@example.com","username":"bobbybobby","password":"bobbybobby"}"#, "password"),
            ] {
                let response = try await Self.post(client, "/api/v1/auth/register", body)
                #expect(response.status == .unprocessableContent, "\(body)")
                let fields = (response.errorBody()["details"] as? [String: Any])?["fields"] as? [[String: String]]
                #expect(fields?.contains { $0["field"] == field } == true, "\(body): \(response.text)")
            }
            // Four accented letters written as letter + combining accent are eight code points:
            // long enough by the documented minLength (and NIST's rule), though four characters.
            let accented = String(repeating: "e\u{0301}", count: 4)
            let eightCodePoints = try await Self.post(client, "/api/v1/auth/register", #"{"email":"eve@example.com","username":"eve","password":"\#(accented)"}"#)
            #expect(eightCodePoints.status == .created, "\(eightCodePoints.text)")
        }
    }

    @Test("a wrong password and an unknown account get the same answer", arguments: TestEngine.allCases)
    func loginFailuresLookAlike(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            _ = try await Self.register(client, "ada@example.com", "ada")
            let wrong = try await Self.login(client, "ada@example.com", "not the password")
            let unknown = try await Self.login(client, "nobody@example.com", "not the password")
            #expect(wrong.status == .unauthorized && unknown.status == .unauthorized)
            #expect(wrong.errorBody()["code"] as? String == "invalid_credentials")
            #expect(wrong.errorBody()["message"] as? String == unknown.errorBody()["message"] as? String)
            #expect(try await Self.login(client, "ADA@example.com").status == .ok)
        }
    }

    @Test("five failed logins lock the account for two hours; the lock ends by itself", arguments: TestEngine.allCases)
    func lockout(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            _ = try await Self.register(client, "ada@example.com", "ada")
            for _ in 1...4 {
                #expect(try await Self.login(client, "ada@example.com", "wrong password").status == .unauthorized)
            }
            let fifth = try await Self.login(client, "ada@example.com", "wrong password")
            #expect(fifth.status.code == 423)
            let lockedUntil = try #require(RFC3339.parse(((fifth.errorBody()["details"] as? [String: Any])?["lockedUntil"] as? String) ?? ""))
            #expect(abs(lockedUntil.timeIntervalSinceNow - 7200) < 60)
            #expect(Int(fifth.headers[.retryAfter] ?? "") ?? 0 > 7100)
            // Even the right password is refused while locked.
            #expect(try await Self.login(client, "ada@example.com").status.code == 423)
            #expect(try await Self.count(server, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'user.locked'") == 1)
            #expect(try await Self.count(server, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'login.failed'") == 5)
            #expect(try await Self.count(server, "SELECT COUNT(*) AS n FROM bus_events WHERE type = 'user.locked'") == 1)

            // Two hours later (moved back in the database), the right password works and resets the count.
            try await server.database.transaction { tx in
                try await tx.sql.raw("UPDATE users SET locked_until = \(bind: Date().addingTimeInterval(-1))").run()
            }
            #expect(try await Self.login(client, "ada@example.com").status == .ok)
            #expect(try await Self.login(client, "ada@example.com", "wrong password").status == .unauthorized)
        }
    }

    @Test("refresh rotates; presenting a used refresh token revokes the whole session", arguments: TestEngine.allCases)
    func refreshRotationAndReuse(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let first = try await Self.register(client, "ada@example.com", "ada")
            let firstRefresh = try #require(first["refreshToken"] as? String)

            let second = try await Self.post(client, "/api/v1/auth/refresh", #"{"refreshToken":"\#(firstRefresh)"}"#)
            #expect(second.status == .ok)
            let secondRefresh = try #require(second.json["refreshToken"] as? String)
            let secondAccess = try #require(second.json["accessToken"] as? String)
            #expect(secondRefresh != firstRefresh)
            #expect(second.json["sessionId"] as? String == first["sessionId"] as? String)
            #expect(try await Self.get(client, "/api/v1/auth/me", token: secondAccess).status == .ok)

            let replay = try await Self.post(client, "/api/v1/auth/refresh", #"{"refreshToken":"\#(firstRefresh)"}"#)
            #expect(replay.status == .unauthorized && replay.errorBody()["code"] as? String == "refresh_token_reused")
            // The family is gone: the newest refresh token and the live access token stop working.
            let afterReuse = try await Self.post(client, "/api/v1/auth/refresh", #"{"refreshToken":"\#(secondRefresh)"}"#)
            #expect(afterReuse.status == .unauthorized)
            let me = try await Self.get(client, "/api/v1/auth/me", token: secondAccess)
            #expect(me.status == .unauthorized && me.errorBody()["code"] as? String == "session_ended")

            let garbage = try await Self.post(client, "/api/v1/auth/refresh", #"{"refreshToken":"garbage"}"#)
            #expect(garbage.status == .unauthorized && garbage.errorBody()["code"] as? String == "invalid_refresh_token")
        }
    }

    @Test("two refreshes racing with one token: exactly one wins", arguments: TestEngine.allCases)
    func concurrentRefresh(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let signedIn = try await Self.register(client, "ada@example.com", "ada")
            let refresh = try #require(signedIn["refreshToken"] as? String)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await Self.post(client, "/api/v1/auth/refresh", #"{"refreshToken":"\#(refresh)"}"#).status.code }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 1, "\(statuses)")
        }
    }

    @Test("sign-out, sign-out everywhere, and revoking sessions end access at once", arguments: TestEngine.allCases)
    func sessions(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, _ in
            let laptop = try #require(try await Self.register(client, "ada@example.com", "ada")["accessToken"] as? String)
            let phone = try #require(try await Self.login(client, "ada@example.com").json["accessToken"] as? String)
            let tablet = try #require(try await Self.login(client, "ada@example.com").json["accessToken"] as? String)

            let list = try await Self.get(client, "/api/v1/auth/sessions", token: laptop)
            let items = try #require(list.json["items"] as? [[String: Any]])
            #expect(items.count == 3)
            #expect(items.filter { $0["current"] as? Bool == true }.count == 1)
            #expect(items.allSatisfy { $0["userAgent"] as? String == "flow-tests/1" })

            // Revoke the phone's session by id from the laptop.
            let phoneSession = try #require(items.first { item in item["current"] as? Bool == false }?["id"] as? String)
            let revoke = try await client.execute(uri: "/api/v1/auth/sessions/\(phoneSession)", method: .delete, headers: [.authorization: "Bearer \(laptop)"])
            #expect(revoke.status == .noContent)
            let again = try await client.execute(uri: "/api/v1/auth/sessions/\(phoneSession)", method: .delete, headers: [.authorization: "Bearer \(laptop)"])
            #expect(again.status == .notFound)
            var alive = 0
            for token in [phone, tablet] where try await Self.get(client, "/api/v1/auth/me", token: token).status == .ok { alive += 1 }
            #expect(alive == 1, "exactly one of phone and tablet was revoked")

            let others = try await Self.post(client, "/api/v1/auth/sessions/revoke-others", "{}", token: laptop)
            #expect(others.status == .ok && others.json["count"] as? Int == 1)
            #expect(try await Self.get(client, "/api/v1/auth/me", token: tablet).status == .unauthorized)
            #expect(try await Self.get(client, "/api/v1/auth/me", token: laptop).status == .ok)

            let logout = try await Self.post(client, "/api/v1/auth/logout", "{}", token: laptop)
            #expect(logout.status == .noContent)
            #expect(try await Self.get(client, "/api/v1/auth/me", token: laptop).status == .unauthorized)

            let a = try #require(try await Self.login(client, "ada@example.com").json["accessToken"] as? String)
            let b = try #require(try await Self.login(client, "ada@example.com").json["accessToken"] as? String)
            let everywhere = try await Self.post(client, "/api/v1/auth/logout-all", "{}", token: a)
            #expect(everywhere.json["count"] as? Int == 2)
            #expect(try await Self.get(client, "/api/v1/auth/me", token: b).status == .unauthorized)
        }
    }

    @Test("expired, forged and malformed tokens are refused", arguments: TestEngine.allCases)
    func badTokens(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let signedIn = try await Self.register(client, "ada@example.com", "ada")
            let token = try #require(signedIn["accessToken"] as? String)
            let module = try #require(server.modules.compactMap { $0 as? IdentityModule }.first)
            let account = Account(id: (signedIn["user"] as! [String: Any])["id"] as! String, email: "ada@example.com", username: "ada",
                                  passwordHash: "", role: .user, emailVerifiedAt: nil, failedLogins: 0, lockedUntil: nil, createdAt: Date())
            let stale = try await module.tokens.issue(for: account, sessionId: signedIn["sessionId"] as! String, now: Date().addingTimeInterval(-3600))
            let expired = try await Self.get(client, "/api/v1/auth/me", token: stale.token)
            #expect(expired.status == .unauthorized && expired.errorBody()["code"] as? String == "token_expired")

            let otherKeys = try await SigningKeys.make(secret: String(repeating: "x", count: 40), signingKeyFile: nil, previousKeyFiles: [])
            let other = AccessTokens(keys: otherKeys, issuer: "flow", audience: "flow-api")
            let forged = try await other.issue(for: account, sessionId: signedIn["sessionId"] as! String)
            #expect(try await Self.get(client, "/api/v1/auth/me", token: forged.token).status == .unauthorized)

            var tampered = token.split(separator: ".").map(String.init)
            // Change one character for sure (replacing every "a" changed nothing when the payload had none).
            tampered[1] = (tampered[1].first == "A" ? "B" : "A") + tampered[1].dropFirst()
            #expect(try await Self.get(client, "/api/v1/auth/me", token: tampered.joined(separator: ".")).status == .unauthorized)
            let basic = try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: [.authorization: "Basic abc"])
            #expect(basic.status == .unauthorized)
            let anonymous = try await client.execute(uri: "/api/v1/auth/me", method: .get)
            #expect(anonymous.status == .unauthorized)
        }
    }

    @Test("create-admin makes an admin (or promotes), with the role change in the audit trail", arguments: TestEngine.allCases)
    func createAdmin(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            _ = try await Self.register(client, "ada@example.com", "ada")
            let promoted = try await server.identity.createAdmin(email: "ada@example.com", username: "ada", password: Self.password)
            #expect(promoted.role == "admin")
            let signedIn = try await Self.login(client, "ada@example.com")
            let claims = try Self.decodeSegment(String((signedIn.json["accessToken"] as! String).split(separator: ".")[1]))
            #expect((claims["permissions"] as? [String])?.contains("operate") == true)
            #expect(try await Self.count(server, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'user.role_changed'") == 1)
        }
    }

    static func decodeSegment(_ segment: String) throws -> [String: Any] {
        let data = try #require(Base64URL.decode(segment))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

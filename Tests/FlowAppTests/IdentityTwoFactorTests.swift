@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
@testable import Identity
import SQLKit
import Testing

@Suite("Identity: two-factor sign-in")
struct IdentityTwoFactorTests {
    /// Enrols an authenticator for the token's owner; returns the raw secret and the backup codes.
    static func enrol(_ client: some TestClientProtocol, _ server: FlowServer, token: String) async throws -> (secret: String, backupCodes: [String], usedCode: String) {
        let setup = try await API.send(client, .post, "/api/v1/auth/2fa/setup", token: token)
        #expect(setup.status == .ok, "\(setup.text)")
        let uri = try #require(setup.json["otpauthUri"] as? String)
        #expect(uri.hasPrefix("otpauth://totp/flow:") && uri.contains("secret=\(setup.json["secret"] as? String ?? "?")") && uri.contains("issuer=flow"))
        let secret = try await server.database.read { sql in
            try await sql.raw("SELECT totp_pending_secret FROM users WHERE totp_pending_secret IS NOT NULL").first()!.decode(column: "totp_pending_secret", as: String.self)
        }
        let wrong = try await API.send(client, .post, "/api/v1/auth/2fa/confirm", #"{"code":"000000"}"#, token: token)
        #expect(wrong.status == .unprocessableContent || AuthenticatorCodes.code(secret: secret, at: Date()) == "000000")
        let usedCode = AuthenticatorCodes.code(secret: secret, at: Date())
        let confirm = try await API.send(client, .post, "/api/v1/auth/2fa/confirm", #"{"code":"\#(usedCode)"}"#, token: token)
        #expect(confirm.status == .ok, "\(confirm.text)")
        let codes = try #require(confirm.json["backupCodes"] as? [String])
        #expect(codes.count == 10 && Set(codes).count == 10)
        return (secret, codes, usedCode)
    }

    static func challenge(_ client: some TestClientProtocol, _ email: String) async throws -> String {
        let first = try await IdentityRouteTests.login(client, email)
        #expect(first.status == .ok && first.json["status"] as? String == "two_factor_required", "\(first.text)")
        #expect(first.json["accessToken"] == nil)
        return try #require(first.json["challengeToken"] as? String)
    }

    static func secondStep(_ client: some TestClientProtocol, _ challenge: String, _ code: String) async throws -> TestResponse {
        try await API.send(client, .post, "/api/v1/auth/login/2fa", #"{"challengeToken":"\#(challenge)","code":"\#(code)"}"#)
    }

    @Test("TOTP: enrol, sign in with a code, each code works once, backup codes work once", arguments: TestEngine.allCases)
    func totpAndBackupCodes(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let (secret, codes, usedCode) = try await Self.enrol(client, server, token: ada.token)
            #expect(try await API.send(client, .get, "/api/v1/auth/me", token: ada.token).json["twoFactorEnabled"] as? Bool == true)

            // The code that confirmed enrolment is spent; the next step's code works (one step of drift).
            let replay = try await Self.secondStep(client, try await Self.challenge(client, "ada@example.com"), usedCode)
            #expect(replay.status == .unauthorized && replay.errorBody()["code"] as? String == "invalid_second_factor")
            let challenge = try await Self.challenge(client, "ada@example.com")
            let next = AuthenticatorCodes.code(secret: secret, at: Date().addingTimeInterval(30))
            let signedIn = try await Self.secondStep(client, challenge, next)
            #expect(signedIn.status == .ok && signedIn.json["accessToken"] is String, "\(signedIn.text)")
            // The challenge is spent too.
            #expect(try await Self.secondStep(client, challenge, codes[0]).status == .unauthorized)
            #expect(try await Self.secondStep(client, try await Self.challenge(client, "ada@example.com"), next).status == .unauthorized)

            // Backup code, typed with other case and spacing; then it is used up.
            let backup = try await Self.secondStep(client, try await Self.challenge(client, "ada@example.com"), codes[1].uppercased().replacingOccurrences(of: "-", with: " "))
            #expect(backup.status == .ok, "\(backup.text)")
            #expect(try await Self.secondStep(client, try await Self.challenge(client, "ada@example.com"), codes[1]).status == .unauthorized)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM backup_codes WHERE used_at IS NOT NULL") == 1)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'two_factor.enabled'") == 1)
        }
    }

    @Test("five wrong codes use the challenge up", arguments: TestEngine.allCases)
    func challengeAttempts(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let (_, codes, _) = try await Self.enrol(client, server, token: ada.token)
            let challenge = try await Self.challenge(client, "ada@example.com")
            for _ in 0..<5 { #expect(try await Self.secondStep(client, challenge, "zzzz-zzzz-zzzz").status == .unauthorized) }
            let after = try await Self.secondStep(client, challenge, codes[0])
            #expect(after.status == .unauthorized && after.errorBody()["code"] as? String == "invalid_challenge")
        }
    }

    @Test("regenerating replaces the backup codes; disabling needs password and a code", arguments: TestEngine.allCases)
    func regenerateAndDisable(engine: TestEngine) async throws {
        try await withTestServer(engine) { client, server in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let (secret, oldCodes, _) = try await Self.enrol(client, server, token: ada.token)
            let regenerated = try await API.send(client, .post, "/api/v1/auth/2fa/backup-codes",
                                                 #"{"code":"\#(AuthenticatorCodes.code(secret: secret, at: Date().addingTimeInterval(30)))"}"#, token: ada.token)
            #expect(regenerated.status == .ok, "\(regenerated.text)")
            let newCodes = try #require(regenerated.json["backupCodes"] as? [String])
            #expect(try await Self.secondStep(client, try await Self.challenge(client, "ada@example.com"), oldCodes[0]).status == .unauthorized)

            let noPassword = try await API.send(client, .post, "/api/v1/auth/2fa/disable", #"{"password":"wrong wrong","code":"\#(newCodes[0])"}"#, token: ada.token)
            #expect(noPassword.status == .forbidden)
            let badCode = try await API.send(client, .post, "/api/v1/auth/2fa/disable", #"{"password":"\#(API.password)","code":"123"}"#, token: ada.token)
            #expect(badCode.status == .unprocessableContent)
            let disabled = try await API.send(client, .post, "/api/v1/auth/2fa/disable", #"{"password":"\#(API.password)","code":"\#(newCodes[0])"}"#, token: ada.token)
            #expect(disabled.status == .noContent, "\(disabled.text)")
            #expect(try await IdentityRouteTests.login(client, "ada@example.com").json["accessToken"] is String)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM backup_codes") == 0)
            #expect(try await API.count(server, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'two_factor.disabled'") == 1)
        }
    }
}

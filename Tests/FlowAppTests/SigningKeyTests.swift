@testable import FlowApp
import FlowKit
import FlowTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
@testable import Identity
import JWTKit
import Testing

@Suite("Identity: signing keys, JWKS and rotation")
struct SigningKeyTests {
    static func writeKey(_ pem: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("flow-key-\(UUID().uuidString).pem").path
        try pem.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let account = Account(id: "01900000-0000-7000-8000-000000000001", email: "ada@example.com", username: "ada", passwordHash: "",
                                 role: .user, emailVerifiedAt: nil, failedLogins: 0, lockedUntil: nil, createdAt: Date())

    @Test("an Ed25519 key file signs EdDSA tokens whose kid is listed in /.well-known/jwks.json", arguments: TestEngine.allCases)
    func eddsaKeyFile(engine: TestEngine) async throws {
        let key = try EdDSA.PrivateKey()
        let path = try Self.writeKey(key.pemRepresentation)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await withTestServer(engine, configure: { $0.signingKeyFile = path }) { client, _ in
            let ada = try await API.register(client, "ada@example.com", "ada")
            let header = try IdentityRouteTests.decodeSegment(String(ada.token.split(separator: ".")[0]))
            #expect(header["alg"] as? String == "EdDSA")
            let jwks = try await API.send(client, .get, "/.well-known/jwks.json")
            #expect(jwks.status == .ok && jwks.headers[.cacheControl]?.contains("max-age") == true)
            let keys = try #require(jwks.json["keys"] as? [[String: Any]])
            #expect(keys.count == 1)
            #expect(keys[0]["kid"] as? String == header["kid"] as? String)
            #expect(keys[0]["kty"] as? String == "OKP" && keys[0]["crv"] as? String == "Ed25519" && keys[0]["alg"] as? String == "EdDSA")
            #expect(keys[0]["x"] as? String == Base64URL.encode(key.publicKey.rawRepresentation))
            #expect(keys[0]["d"] == nil, "the private part is never published")
            #expect(try await API.send(client, .get, "/api/v1/auth/me", token: ada.token).status == .ok)
        }
    }

    @Test("rotation: tokens of a retired key (or the former HS256 secret) verify; unknown kids do not")
    func rotation() async throws {
        let old = try Self.writeKey(try EdDSA.PrivateKey().pemRepresentation)
        let new = try Self.writeKey(try EdDSA.PrivateKey().pemRepresentation)
        defer { for path in [old, new] { try? FileManager.default.removeItem(atPath: path) } }
        let secret = String(repeating: "s", count: 40)

        let before = AccessTokens(keys: try await SigningKeys.make(secret: secret, signingKeyFile: old, previousKeyFiles: []), issuer: "flow", audience: "flow-api")
        let hs256Only = AccessTokens(keys: try await SigningKeys.make(secret: secret, signingKeyFile: nil, previousKeyFiles: []), issuer: "flow", audience: "flow-api")
        let after = AccessTokens(keys: try await SigningKeys.make(secret: secret, signingKeyFile: new, previousKeyFiles: [old]), issuer: "flow", audience: "flow-api")
        let newOnly = AccessTokens(keys: try await SigningKeys.make(secret: nil, signingKeyFile: new, previousKeyFiles: []), issuer: "flow", audience: "flow-api")

        let oldToken = try await before.issue(for: Self.account, sessionId: "s1").token
        let hsToken = try await hs256Only.issue(for: Self.account, sessionId: "s1").token
        let newToken = try await after.issue(for: Self.account, sessionId: "s1").token
        #expect(SigningKeys.kid(of: oldToken) != SigningKeys.kid(of: newToken))
        #expect(try await after.verify(oldToken).sub.value == Self.account.id)
        #expect(try await after.verify(hsToken).sub.value == Self.account.id)
        #expect(try await after.verify(newToken).sub.value == Self.account.id)
        await #expect(throws: APIError.self) { try await newOnly.verify(oldToken) }
        await #expect(throws: APIError.self) { try await newOnly.verify(hsToken) }
        #expect((after.keys.jwks["keys"]?.arrayCount) == 2)
    }

    @Test("an unreadable or unusable key file stops the start, naming the setting")
    func badKeyFile() async throws {
        let junk = try Self.writeKey("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        defer { try? FileManager.default.removeItem(atPath: junk) }
        for (file, previous) in [(junk, [String]()), ("/nonexistent/key.pem", []), (nil, ["/nonexistent/old.pem"])] as [(String?, [String])] {
            await #expect(throws: ConfigError.self) {
                try await SigningKeys.make(secret: "x", signingKeyFile: file, previousKeyFiles: previous)
            }
        }
    }
}

extension JSONValue {
    var arrayCount: Int? {
        if case .array(let items) = self { return items.count }
        return nil
    }
}

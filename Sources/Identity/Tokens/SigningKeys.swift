import Crypto
import FlowKit
import Foundation
import JWTKit

/// The keys access tokens are signed and verified with.
///
/// - The signing key: an Ed25519 (EdDSA) or RSA (RS256) private key from a PEM file
///   (`FLOW_AUTH_SIGNING_KEY_FILE`), or else HS256 with the configured secret.
/// - Verification-only keys: retired PEM keys (`FLOW_AUTH_PREVIOUS_KEY_FILES`), and the HS256
///   secret when a key file signs, so tokens issued before a rotation verify until they expire.
///
/// Every key has a `kid`: the RFC 7638 thumbprint for public keys, a digest prefix of the
/// secret for HS256. Public keys are served at `/.well-known/jwks.json`.
struct SigningKeys: Sendable {
    let collection: JWTKeyCollection
    let signingKid: JWKIdentifier
    let signingAlgorithm: String
    let knownKids: Set<String>
    /// The JWK Set document: public keys only.
    let jwks: JSONValue

    static func make(secret: String?, signingKeyFile: String?, previousKeyFiles: [String]) async throws -> SigningKeys {
        let collection = JWTKeyCollection()
        var kids: Set<String> = []
        var published: [JSONValue] = []
        var signing: (kid: JWKIdentifier, algorithm: String)?

        if let path = signingKeyFile {
            let key = try PublicKeyMaterial.load(path: path, key: "auth.signingKeyFile", requirePrivate: true)
            await key.add(to: collection)
            kids.insert(key.kid.string)
            published.append(key.jwk)
            signing = (key.kid, key.algorithm)
        }
        for path in previousKeyFiles {
            let key = try PublicKeyMaterial.load(path: path, key: "auth.previousKeyFiles", requirePrivate: false)
            await key.addForVerification(to: collection)
            kids.insert(key.kid.string)
            published.append(key.jwk)
        }
        if let secret {
            let digest = SHA256.hash(data: Data(secret.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
            let kid = JWKIdentifier(string: "hs256-\(digest)")
            await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: kid)
            kids.insert(kid.string)
            if signing == nil { signing = (kid, "HS256") }
        }
        guard let signing else {
            throw ConfigError(key: "auth.jwtSecret", "or auth.signingKeyFile is needed to sign access tokens")
        }
        return SigningKeys(collection: collection, signingKid: signing.kid, signingAlgorithm: signing.algorithm, knownKids: kids,
                           jwks: ["keys": .array(published)])
    }

    /// The `kid` in a token's header, read without verifying anything (to refuse unknown keys
    /// before jwt-kit would fall back to its default key).
    static func kid(of token: String) -> String? {
        guard let header = token.split(separator: ".", maxSplits: 1).first,
              let data = Base64URL.decode(String(header)),
              let object = try? JSONDecoder().decode([String: JSONValue].self, from: data) else { return nil }
        return object["kid"]?.stringValue
    }
}

/// An EdDSA or RSA key read from a PEM file, with its JWK and thumbprint `kid`.
struct PublicKeyMaterial: Sendable {
    enum Material: Sendable {
        case edPrivate(EdDSA.PrivateKey)
        case edPublic(EdDSA.PublicKey)
        case rsaPrivate(JWTKit.Insecure.RSA.PrivateKey)
        case rsaPublic(JWTKit.Insecure.RSA.PublicKey)
    }

    let material: Material
    let kid: JWKIdentifier
    let algorithm: String
    let jwk: JSONValue

    static func load(path: String, key: String, requirePrivate: Bool) throws -> PublicKeyMaterial {
        guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(key: key, "cannot read the key file \(path)")
        }
        let material: Material
        if let ed = try? EdDSA.PrivateKey(pem: pem) {
            material = .edPrivate(ed)
        } else if let rsa = try? JWTKit.Insecure.RSA.PrivateKey(pem: pem) {
            material = .rsaPrivate(rsa)
        } else if !requirePrivate, let ed = try? EdDSA.PublicKey(pem: pem) {
            material = .edPublic(ed)
        } else if !requirePrivate, let rsa = try? JWTKit.Insecure.RSA.PublicKey(pem: pem) {
            material = .rsaPublic(rsa)
        } else {
            throw ConfigError(key: key, "\(path) is not a PEM \(requirePrivate ? "private" : "private or public") key of type Ed25519 or RSA (2048 bits or more)")
        }
        return try PublicKeyMaterial(material)
    }

    init(_ material: Material) throws {
        self.material = material
        // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
        let (canonical, members, algorithm): (String, [String: JSONValue], String)
        switch material {
        case .edPrivate(let key): (canonical, members, algorithm) = Self.okp(key.publicKey)
        case .edPublic(let key): (canonical, members, algorithm) = Self.okp(key)
        case .rsaPrivate(let key): (canonical, members, algorithm) = try Self.rsa(key.publicKey)
        case .rsaPublic(let key): (canonical, members, algorithm) = try Self.rsa(key)
        }
        let thumbprint = Base64URL.encode(Data(SHA256.hash(data: Data(canonical.utf8))))
        kid = JWKIdentifier(string: thumbprint)
        self.algorithm = algorithm
        jwk = .object(members.merging(["kid": .string(thumbprint), "use": "sig", "alg": .string(algorithm)]) { _, new in new })
    }

    private static func okp(_ key: EdDSA.PublicKey) -> (String, [String: JSONValue], String) {
        let x = Base64URL.encode(key.rawRepresentation)
        return (#"{"crv":"Ed25519","kty":"OKP","x":"\#(x)"}"#, ["kty": "OKP", "crv": "Ed25519", "x": .string(x)], "EdDSA")
    }

    private static func rsa(_ key: JWTKit.Insecure.RSA.PublicKey) throws -> (String, [String: JSONValue], String) {
        let (modulus, exponent) = try key.getKeyPrimitives()
        let n = Base64URL.encode(modulus)
        let e = Base64URL.encode(exponent)
        return (#"{"e":"\#(e)","kty":"RSA","n":"\#(n)"}"#, ["kty": "RSA", "n": .string(n), "e": .string(e)], "RS256")
    }

    func add(to collection: JWTKeyCollection) async {
        switch material {
        case .edPrivate(let key): await collection.add(eddsa: key, kid: kid)
        case .edPublic(let key): await collection.add(eddsa: key, kid: kid)
        case .rsaPrivate(let key): await collection.add(rsa: key, digestAlgorithm: .sha256, kid: kid)
        case .rsaPublic(let key): await collection.add(rsa: key, digestAlgorithm: .sha256, kid: kid)
        }
    }

    /// Retired keys verify only: a private key is reduced to its public half.
    func addForVerification(to collection: JWTKeyCollection) async {
        switch material {
        case .edPrivate(let key): await collection.add(eddsa: key.publicKey, kid: kid)
        case .rsaPrivate(let key): await collection.add(rsa: key.publicKey, digestAlgorithm: .sha256, kid: kid)
        case .edPublic, .rsaPublic: await add(to: collection)
        }
    }
}

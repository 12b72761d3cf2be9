import FlowKit
import Hummingbird

/// `GET /.well-known/jwks.json`: the public keys that verify access tokens (RFC 7517), so other
/// services verify Flow's tokens without sharing a secret. HS256 secrets are never listed;
/// with HS256 only, the set is empty.
struct KeySetRoute: Sendable {
    let keys: SigningKeys

    func register(on api: DocumentedRouter<FlowRequestContext>) {
        api.document.addTag("keys", description: "Public keys of access tokens.")
        api.get("/.well-known/jwks.json", APIOperation(
            "getJSONWebKeySet", summary: "Public keys that verify access tokens (JWK Set).",
            description: "Each key has `kid` (its RFC 7638 thumbprint), `alg` (EdDSA or RS256) and `use: sig`. Retired keys stay listed until removed from FLOW_AUTH_PREVIOUS_KEY_FILES.",
            tags: ["keys"],
            responses: [.json(200, "The key set.", schema: [
                "type": "object", "required": ["keys"],
                "properties": ["keys": ["type": "array", "items": ["type": "object", "required": ["kty", "kid"]]]],
            ])])
        ) { [keys] _, _ in
            var headers = HTTPFields()
            // Verifiers may cache the set briefly; a rotation publishes the new key before it signs.
            headers[.cacheControl] = "public, max-age=300"
            return EditedResponse(headers: headers, response: Encoded(keys.jwks))
        }
    }
}

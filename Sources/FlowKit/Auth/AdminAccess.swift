import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Who may call operator endpoints (bus dead letters and replay, …): a signed-in user whose
/// role grants ``permission``, or an automation holding the operator token
/// (`Authorization: Bearer <FLOW_ADMIN_TOKEN>`, recognised by ``AuthenticationMiddleware``).
///
/// Without a configured token, development makes a random one per run and logs it, and
/// production accepts only signed-in operators.
public struct AdminAccess: Sendable {
    /// The permission that opens operator endpoints to a signed-in user (the admin role has it).
    public static let permission = "operate"

    let key: SymmetricKey?

    public init(token: String?) {
        key = token.flatMap { $0.isEmpty ? nil : SymmetricKey(data: Data(SHA256.hash(data: Data($0.utf8)))) }
    }

    /// Whether `token` is the operator token. Compares digests in constant time.
    public func isOperatorToken(_ token: String) -> Bool {
        guard let key else { return false }
        let presented = SymmetricKey(data: Data(SHA256.hash(data: Data(token.utf8))))
        return key.withUnsafeBytes { expectedBytes in
            presented.withUnsafeBytes { presentedBytes in
                zip(expectedBytes, presentedBytes).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
            }
        }
    }

    /// Throws 401 without credentials and 403 for a user without ``permission``.
    public func authorize(_ context: FlowRequestContext) throws(APIError) {
        if context.isOperator { return }
        guard let user = context.user else {
            throw APIError(.unauthorized, code: "unauthorized",
                           message: "This endpoint needs an operator: sign in as an admin, or send the operator token (FLOW_ADMIN_TOKEN) as a bearer token.",
                           headers: [.wwwAuthenticate: #"Bearer realm="flow""#])
        }
        guard user.has(Self.permission) else {
            throw APIError.forbidden("Operator endpoints need the \(Self.permission) permission (the admin role).")
        }
    }

    /// The OpenAPI security requirement of admin operations: an admin's access token or the operator token.
    public static let openAPISecurity: JSONValue = [["adminToken": []]]
    public static let openAPIScheme: JSONValue = [
        "type": "http", "scheme": "bearer",
        "description": "An admin's access token, or the operator token (FLOW_ADMIN_TOKEN).",
    ]
}

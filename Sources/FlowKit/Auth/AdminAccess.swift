import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Who may call operator endpoints (bus dead letters and replay, …). Until accounts with roles
/// exist, access is an operator token: `Authorization: Bearer <FLOW_ADMIN_TOKEN>`.
///
/// Without a configured token, development makes a random one per run and logs it (so the
/// endpoints can be tried), and production disables the endpoints (403 saying how to enable them).
public struct AdminAccess: Sendable {
    enum Mode: Sendable {
        case token(SymmetricKey)
        case disabled
    }

    let mode: Mode

    public init(token: String?) {
        if let token, !token.isEmpty {
            mode = .token(SymmetricKey(data: Data(SHA256.hash(data: Data(token.utf8)))))
        } else {
            mode = .disabled
        }
    }

    public var isEnabled: Bool {
        if case .token = mode { true } else { false }
    }

    /// Throws 401 (missing or wrong token) or 403 (admin API disabled) unless the request
    /// carries the operator token. Compares digests in constant time.
    public func authorize(_ request: Request) throws(APIError) {
        guard case .token(let expected) = mode else {
            throw APIError(.forbidden, code: "admin_api_disabled",
                           message: "The admin API is disabled: set FLOW_ADMIN_TOKEN (or FLOW_ADMIN_TOKEN_FILE) to enable it.")
        }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw APIError(.unauthorized, code: "unauthorized", message: "This endpoint needs the operator token: Authorization: Bearer <token>.",
                           headers: [.wwwAuthenticate: #"Bearer realm="flow-admin""#])
        }
        let presented = SymmetricKey(data: Data(SHA256.hash(data: Data(header.dropFirst(7).utf8))))
        let matches = expected.withUnsafeBytes { expectedBytes in
            presented.withUnsafeBytes { presentedBytes in
                zip(expectedBytes, presentedBytes).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
            }
        }
        guard matches else {
            throw APIError(.unauthorized, code: "unauthorized", message: "The operator token is not valid.",
                           headers: [.wwwAuthenticate: #"Bearer realm="flow-admin", error="invalid_token""#])
        }
    }

    /// The OpenAPI security requirement of admin operations.
    public static let openAPISecurity: JSONValue = [["adminToken": []]]
    public static let openAPIScheme: JSONValue = [
        "type": "http", "scheme": "bearer",
        "description": "The operator token (FLOW_ADMIN_TOKEN).",
    ]
}

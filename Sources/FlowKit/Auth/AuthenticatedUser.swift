import HTTPTypes
import Hummingbird

/// The verified caller of a request, as every domain sees it. Identity issues the tokens and
/// implements ``Authenticator``; other domains only read this value (they never look at tokens
/// or the users table).
public struct AuthenticatedUser: Sendable, Equatable {
    public let id: String
    public let email: String
    public let username: String
    /// `user`, `moderator` or `admin`.
    public let role: String
    public let permissions: Set<String>
    /// The session the token belongs to; revoking it ends this access.
    public let sessionId: String

    public init(id: String, email: String, username: String, role: String, permissions: Set<String>, sessionId: String) {
        self.id = id
        self.email = email
        self.username = username
        self.role = role
        self.permissions = permissions
        self.sessionId = sessionId
    }

    public func has(_ permission: String) -> Bool {
        permissions.contains(permission)
    }
}

/// Turns a bearer token into the caller, or refuses it (401).
public protocol Authenticator: Sendable {
    func authenticate(bearer token: String) async throws -> AuthenticatedUser
}

extension FlowRequestContext {
    /// The caller, or 401 when the request carries no valid token.
    public func requireUser() throws(APIError) -> AuthenticatedUser {
        guard let user else { throw APIError.unauthorized() }
        return user
    }

    /// The caller if they hold `permission`; 401 without a token, 403 without the permission.
    public func require(permission: String) throws(APIError) -> AuthenticatedUser {
        let user = try requireUser()
        guard user.has(permission) else {
            throw APIError.forbidden("This needs the \(permission) permission.")
        }
        return user
    }
}

/// Verifies `Authorization: Bearer …` when present: the operator token marks the request as
/// an operator's, anything else must be a valid access token and puts the caller into the
/// context. A present but invalid token is refused (401) even on public routes: a client that
/// sends one expects to be someone, and silently serving it anonymously hides the problem.
public struct AuthenticationMiddleware: RouterMiddleware {
    public typealias Context = FlowRequestContext

    let authenticator: (any Authenticator)?
    let admin: AdminAccess

    public init(authenticator: (any Authenticator)?, admin: AdminAccess) {
        self.authenticator = authenticator
        self.admin = admin
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            return try await next(request, context)
        }
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw APIError(.unauthorized, code: "unauthorized", message: "Use Authorization: Bearer <access token>.",
                           headers: [.wwwAuthenticate: #"Bearer error="invalid_request""#])
        }
        let token = String(header.dropFirst(7))
        var context = context
        if admin.isOperatorToken(token) {
            context.isOperator = true
            context.logger[metadataKey: "operator"] = "true"
        } else if let authenticator {
            let user = try await authenticator.authenticate(bearer: token)
            context.user = user
            context.logger[metadataKey: "user_id"] = .string(user.id)
        } else {
            throw APIError(.unauthorized, code: "invalid_token", message: "The bearer token is not valid.")
        }
        return try await next(request, context)
    }
}

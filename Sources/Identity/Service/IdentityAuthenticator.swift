import FlowKit
import Foundation

/// Identity's side of authentication: a valid token of a live session.
struct IdentityAuthenticator: Authenticator {
    let tokens: AccessTokens
    let database: Database
    let store = IdentityStore()

    func authenticate(bearer token: String) async throws -> AuthenticatedUser {
        let claims = try await tokens.verify(token)
        // Revocation takes effect at once, not when the token expires.
        let session = try await database.read { sql in try await store.session(id: claims.sessionId, on: sql) }
        guard let session, session.revokedAt == nil, session.expiresAt > Date(), session.userId == claims.sub.value else {
            throw APIError(.unauthorized, code: "session_ended", message: "This session has ended; sign in again.",
                           headers: [.wwwAuthenticate: #"Bearer error="invalid_token", error_description="session ended""#])
        }
        return AuthenticatedUser(id: claims.sub.value, email: claims.email, username: claims.username, role: claims.role,
                                 permissions: Set(claims.permissions), sessionId: claims.sessionId)
    }
}

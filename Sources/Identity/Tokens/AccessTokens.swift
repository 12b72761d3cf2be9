import Crypto
import FlowKit
import Foundation
import JWTKit

/// Signs and verifies access tokens: JWTs valid 15 minutes, carrying the claims other domains
/// need (`sub`, `email`, `username`, `role`, `permissions`, `sessionId`) and `iss`/`aud`/`iat`/
/// `exp`/`jti`, signed with the current key of ``SigningKeys``.
struct AccessTokens: Sendable {
    static let lifetime: TimeInterval = 15 * 60

    let keys: SigningKeys
    let issuer: String
    let audience: String

    struct Claims: JWTPayload {
        let sub: SubjectClaim
        let email: String
        let username: String
        let role: String
        let permissions: [String]
        let sessionId: String
        let iss: IssuerClaim
        let aud: AudienceClaim
        let iat: IssuedAtClaim
        let exp: ExpirationClaim
        let jti: IDClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    struct Issued: Sendable {
        let token: String
        let expiresAt: Date
    }

    func issue(for account: Account, sessionId: String, now: Date = Date()) async throws -> Issued {
        let expiresAt = now.addingTimeInterval(Self.lifetime)
        let claims = Claims(
            sub: SubjectClaim(value: account.id), email: account.email, username: account.username, role: account.role.rawValue,
            permissions: account.role.permissions.sorted(), sessionId: sessionId, iss: IssuerClaim(value: issuer),
            aud: AudienceClaim(value: [audience]), iat: IssuedAtClaim(value: now), exp: ExpirationClaim(value: expiresAt),
            jti: IDClaim(value: UUIDv7.string(at: now)))
        return Issued(token: try await keys.collection.sign(claims, kid: keys.signingKid), expiresAt: expiresAt)
    }

    /// The claims of a valid token; signature, expiry, issuer and audience are checked.
    func verify(_ token: String) async throws(APIError) -> Claims {
        // jwt-kit verifies a token with an unknown kid against its default key; refuse it here.
        guard let kid = SigningKeys.kid(of: token), keys.knownKids.contains(kid) else { throw Self.invalid }
        let claims: Claims
        do {
            claims = try await keys.collection.verify(token, as: Claims.self)
        } catch let error as JWTError where error.errorType == .claimVerificationFailure {
            throw APIError(.unauthorized, code: "token_expired", message: "The access token has expired; refresh it.",
                           headers: [.wwwAuthenticate: #"Bearer error="invalid_token", error_description="expired""#])
        } catch {
            throw Self.invalid
        }
        guard claims.iss.value == issuer, claims.aud.value.contains(audience) else { throw Self.invalid }
        return claims
    }

    static let invalid = APIError(.unauthorized, code: "invalid_token", message: "The access token is not valid.",
                                  headers: [.wwwAuthenticate: #"Bearer error="invalid_token""#])
}

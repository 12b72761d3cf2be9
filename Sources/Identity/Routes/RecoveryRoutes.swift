import FlowKit
import Foundation
import Hummingbird

/// Email verification and password reset: `/api/v1/auth/verify-email…`, `/api/v1/auth/password-reset…`.
struct RecoveryRoutes: Sendable {
    let service: IdentityService
    let limits: AuthRateLimits

    struct TokenBody: Decodable { let token: String }
    struct ResetRequestBody: Decodable { let email: String }
    struct ResetBody: Decodable { let token: String; let newPassword: String }
    struct Accepted: ResponseEncodable { let message: String }

    func register(on api: DocumentedRouter<FlowRequestContext>) {
        let auth = api.group("/api/v1/auth")
        let tags = ["auth"]
        let tokenBody: JSONValue = ["type": "object", "required": ["token"], "properties": ["token": ["type": "string"]]]
        let accepted: JSONValue = ["type": "object", "required": ["message"], "properties": ["message": ["type": "string"]]]

        auth.post("/verify-email", APIOperation(
            "verifyEmail", summary: "Confirm an email address with the token from the verification mail.", tags: tags,
            requestBody: tokenBody,
            responses: [.noContent("The address is verified."), .error(400, "The token is invalid, used or expired."), .error(429, "Too many attempts.")])
        ) { request, context in
            let body = try await request.decode(as: TokenBody.self, context: context)
            return try await limits.limited(request, context, client: limits.tokenPerClient) {
                try await service.verifyEmail(token: body.token, client: IdentityService.Client(request, context))
                return Response(status: .noContent)
            }
        }

        auth.post("/verify-email/resend", APIOperation(
            "resendVerificationEmail", summary: "Mail a new verification link to the signed-in account (earlier links stop working).", tags: tags,
            responses: [.json(202, "Sent.", schema: accepted), .error(409, "Already verified."), .error(429, "Too many mails.")],
            security: APIOperation.bearerSecurity)
        ) { request, context in
            let user = try context.requireUser()
            return try await limits.limited(request, context, client: limits.mailPerClient, account: (user.email, limits.mailPerAccount)) {
                try await service.resendVerification(user)
                return EditedResponse(status: .accepted, response: Accepted(message: "A verification link is on its way to \(user.email)."))
            }
        }

        auth.post("/password-reset/request", APIOperation(
            "requestPasswordReset", summary: "Mail a password reset link (valid 10 minutes).",
            description: "Answers 202 whether or not the address has an account, so it does not reveal who has one.",
            tags: tags,
            requestBody: ["type": "object", "required": ["email"], "properties": ["email": ["type": "string"]]],
            responses: [.json(202, "If the address has an account, a link is on its way.", schema: accepted), .error(429, "Too many requests.")])
        ) { request, context in
            let body = try await request.decode(as: ResetRequestBody.self, context: context)
            return try await limits.limited(request, context, client: limits.mailPerClient, account: (body.email, limits.mailPerAccount)) {
                try await service.requestPasswordReset(email: body.email, client: IdentityService.Client(request, context))
                return EditedResponse(status: .accepted, response: Accepted(message: "If this address has an account, a reset link is on its way."))
            }
        }

        auth.post("/password-reset", APIOperation(
            "resetPassword", summary: "Set a new password with a reset token; every session is signed out.", tags: tags,
            requestBody: [
                "type": "object", "required": ["token", "newPassword"],
                "properties": ["token": ["type": "string"], "newPassword": ["type": "string", "minLength": 8]],
            ],
            responses: [.noContent("Changed; sign in with the new password."), .error(400, "The token is invalid, used or expired."),
                        .error(422, "The new password breaks a rule."), .error(429, "Too many attempts.")])
        ) { request, context in
            let body = try await request.decode(as: ResetBody.self, context: context)
            return try await limits.limited(request, context, client: limits.tokenPerClient) {
                try await service.resetPassword(token: body.token, newPassword: body.newPassword, client: IdentityService.Client(request, context))
                return Response(status: .noContent)
            }
        }
    }
}

import FlowKit
import Foundation
import Hummingbird

/// `/api/v1/auth/2fa/…` and the second step of sign-in.
struct TwoFactorRoutes: Sendable {
    let service: IdentityService
    let limits: AuthRateLimits

    struct CodeBody: Decodable { let code: String }
    struct DisableBody: Decodable { let password: String; let code: String }
    struct SecondStepBody: Decodable { let challengeToken: String; let code: String }

    func register(on api: DocumentedRouter<FlowRequestContext>) {
        let document = api.document
        document.addSchema("BackupCodes", [
            "type": "object", "required": ["backupCodes"],
            "properties": ["backupCodes": ["type": "array", "items": ["type": "string"], "minItems": 10, "maxItems": 10,
                                           "description": "Shown once. Each works once in place of an authenticator code."]],
        ])
        let auth = api.group("/api/v1/auth")
        let tags = ["auth"]
        let codeBody: JSONValue = [
            "type": "object", "required": ["code"],
            "properties": ["code": ["type": "string", "description": "The 6-digit code shown by the authenticator app."]],
        ]
        let backupCodes: JSONValue = ["$ref": "#/components/schemas/BackupCodes"]

        auth.post("/2fa/setup", APIOperation(
            "beginTwoFactorSetup", summary: "Start enrolling an authenticator app (TOTP).",
            description: "Returns an `otpauth://` URI (show it as a QR code) and the base32 secret. Two-factor sign-in turns on once a code from the app is confirmed.",
            tags: tags,
            responses: [.json(200, "The secret to enrol.", schema: [
                "type": "object", "required": ["otpauthUri", "secret"],
                "properties": ["otpauthUri": ["type": "string"], "secret": ["type": "string", "description": "Base32, for typing in by hand."]],
            ]), .error(409, "Two-factor sign-in is already on.")],
            security: APIOperation.bearerSecurity)
        ) { _, context in
            let user = try context.requireUser()
            return Encoded(try await service.beginTwoFactorSetup(user))
        }

        auth.post("/2fa/confirm", APIOperation(
            "confirmTwoFactor", summary: "Turn two-factor sign-in on with a first code from the app; returns 10 backup codes.", tags: tags,
            requestBody: codeBody,
            responses: [.json(200, "On. Keep the backup codes somewhere safe.", schema: backupCodes), .error(409, "No enrolment was started."),
                        .error(422, "The code is wrong.")],
            security: APIOperation.bearerSecurity)
        ) { request, context in
            let body = try await request.decode(as: CodeBody.self, context: context)
            let user = try context.requireUser()
            return Encoded(try await service.confirmTwoFactor(user, code: body.code, client: IdentityService.Client(request, context)))
        }

        auth.post("/2fa/disable", APIOperation(
            "disableTwoFactor", summary: "Turn two-factor sign-in off (password and a current or backup code).", tags: tags,
            requestBody: [
                "type": "object", "required": ["password", "code"],
                "properties": ["password": ["type": "string"], "code": ["type": "string", "description": "An authenticator code or an unused backup code."]],
            ],
            responses: [.noContent("Off."), .error(403, "The password is wrong."), .error(409, "Two-factor sign-in is not on."), .error(422, "The code is wrong."),
                        .error(429, "Too many attempts.")],
            security: APIOperation.bearerSecurity)
        ) { request, context in
            let body = try await request.decode(as: DisableBody.self, context: context)
            let user = try context.requireUser()
            return try await limits.limited(request, context, client: limits.loginPerClient, account: (user.email, limits.loginPerAccount)) {
                try await service.disableTwoFactor(user, password: body.password, code: body.code, client: IdentityService.Client(request, context))
                return Response(status: .noContent)
            }
        }

        auth.post("/2fa/backup-codes", APIOperation(
            "regenerateBackupCodes", summary: "Replace the backup codes (the old ones stop working); needs a current authenticator code.", tags: tags,
            requestBody: codeBody,
            responses: [.json(200, "The new codes.", schema: backupCodes), .error(409, "Two-factor sign-in is not on."), .error(422, "The code is wrong.")],
            security: APIOperation.bearerSecurity)
        ) { request, context in
            let body = try await request.decode(as: CodeBody.self, context: context)
            let user = try context.requireUser()
            return Encoded(try await service.regenerateBackupCodes(user, code: body.code, client: IdentityService.Client(request, context)))
        }

        auth.post("/login/2fa", APIOperation(
            "completeTwoFactorLogin", summary: "Second step of sign-in: the challenge token and an authenticator code or a backup code.",
            description: "Each code works once. Five wrong codes use the challenge up; sign in with the password again.",
            tags: tags,
            requestBody: [
                "type": "object", "required": ["challengeToken", "code"],
                "properties": ["challengeToken": ["type": "string"], "code": ["type": "string", "description": "An authenticator code or an unused backup code."]],
            ],
            responses: [.json(200, "Signed in.", schema: ["$ref": "#/components/schemas/SignedIn"]),
                        .error(401, "Wrong code, or the challenge is invalid or expired."), .error(429, "Too many attempts.")])
        ) { request, context in
            let body = try await request.decode(as: SecondStepBody.self, context: context)
            return try await limits.limited(request, context, client: limits.secondFactorPerClient) {
                Encoded(try await service.completeLogin(challenge: body.challengeToken, code: body.code, client: IdentityService.Client(request, context)))
            }
        }
    }
}

import FlowKit
import Foundation
import HTTPTypes
import Hummingbird

/// `/api/v1/auth/…`: registration, sign-in, token refresh, sign-out, sessions, password change.
struct AuthRoutes: Sendable {
    let service: IdentityService
    let limits: AuthRateLimits

    struct RegisterBody: Decodable { let email: String; let username: String; let password: String }
    struct LoginBody: Decodable { let email: String; let password: String }
    struct RefreshBody: Decodable { let refreshToken: String }
    struct PasswordChangeBody: Decodable { let currentPassword: String; let newPassword: String }
    struct CountBody: ResponseEncodable { let count: Int }
    struct SessionsBody: ResponseEncodable { let items: [SessionView] }


    func register(on api: DocumentedRouter<FlowRequestContext>) {
        let document = api.document
        document.addTag("auth", description: "Accounts, sign-in, tokens and sessions.")
        document.addSecurityScheme("bearerAuth", ["type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                                  "description": "An access token from sign-in or refresh (valid 15 minutes)."])
        document.addSchema("Account", AccountView.schema)
        document.addSchema("Session", SessionView.schema)
        document.addSchema("SecondFactorChallenge", [
            "type": "object", "required": ["status", "challengeToken", "expiresAt", "methods"],
            "properties": [
                "status": ["type": "string", "enum": ["two_factor_required"]],
                "challengeToken": ["type": "string", "description": "Send with a code to POST /api/v1/auth/login/2fa."],
                "expiresAt": ["type": "string", "format": "date-time"],
                "methods": ["type": "array", "items": ["type": "string", "enum": ["totp", "backup_code"]]],
            ],
        ])
        document.addSchema("SignedIn", [
            "type": "object",
            "required": ["accessToken", "tokenType", "expiresIn", "refreshToken", "refreshTokenExpiresAt", "sessionId", "user"],
            "properties": [
                "accessToken": ["type": "string", "description": "JWT for `Authorization: Bearer`."],
                "tokenType": ["type": "string", "enum": ["Bearer"]],
                "expiresIn": ["type": "integer", "description": "Seconds until the access token expires."],
                "refreshToken": ["type": "string", "description": "Single-use; trade it at /api/v1/auth/refresh for a new pair."],
                "refreshTokenExpiresAt": ["type": "string", "format": "date-time"],
                "sessionId": ["type": "string"],
                "user": ["$ref": "#/components/schemas/Account"],
            ],
        ])
        let auth = api.group("/api/v1/auth")
        let tags = ["auth"]
        let signedIn: JSONValue = ["$ref": "#/components/schemas/SignedIn"]

        auth.post("/register", APIOperation(
            "register", summary: "Create an account and sign in.", tags: tags,
            requestBody: [
                "type": "object", "required": ["email", "username", "password"],
                "properties": [
                    "email": ["type": "string", "format": "email", "maxLength": 254],
                    "username": ["type": "string", "minLength": 3, "maxLength": 30, "pattern": "^[A-Za-z0-9._-]+$"],
                    "password": ["type": "string", "minLength": 8, "description": "8 characters or more, at most 72 bytes, not a common password."],
                ],
            ],
            responses: [.json(201, "The account exists and is signed in.", schema: signedIn), .error(409, "The email or username is taken."),
                        .error(422, "A field breaks a rule."), .error(429, "Too many registrations from this address.")])
        ) { request, context in
            let body = try await request.decode(as: RegisterBody.self, context: context)
            return try await limits.limited(request, context, client: limits.registerPerClient) {
                let result = try await service.register(email: body.email, username: body.username, password: body.password,
                                                        client: IdentityService.Client(request, context))
                return EditedResponse(status: .created, response: Encoded(result))
            }
        }

        auth.post("/login", APIOperation(
            "login", summary: "Sign in with email and password.",
            description: """
                Five failed attempts in a row lock the account for two hours (423 with `details.lockedUntil` and Retry-After). \
                Unknown accounts and wrong passwords get the same 401. Attempts are limited per client address and per account \
                (`FLOW_AUTH_LOGINS_PER_MINUTE`, default 5; 429 with Retry-After). With two-factor sign-in on, a correct password \
                answers `status: two_factor_required` and a challenge token for `POST /api/v1/auth/login/2fa`.
                """,
            tags: tags,
            requestBody: ["type": "object", "required": ["email", "password"], "properties": ["email": ["type": "string"], "password": ["type": "string"]]],
            responses: [.json(200, "Signed in, or a second factor is needed.", schema: ["oneOf": [signedIn, ["$ref": "#/components/schemas/SecondFactorChallenge"]]]),
                        .error(401, "Wrong email or password."), .error(423, "The account is locked."), .error(429, "Too many attempts.")])
        ) { request, context in
            let body = try await request.decode(as: LoginBody.self, context: context)
            return try await limits.limited(request, context, client: limits.loginPerClient, account: (body.email, limits.loginPerAccount)) {
                switch try await service.login(email: body.email, password: body.password, client: IdentityService.Client(request, context)) {
                case .signedIn(let signedIn): return try Encoded(signedIn).response(from: request, context: context)
                case .secondFactorRequired(let challenge): return try Encoded(challenge).response(from: request, context: context)
                }
            }
        }

        auth.post("/refresh", APIOperation(
            "refreshTokens", summary: "Trade a refresh token for a new access and refresh token.",
            description: "Refresh tokens are single-use. Presenting one a second time revokes its whole session (401 `refresh_token_reused`).",
            tags: tags,
            requestBody: ["type": "object", "required": ["refreshToken"], "properties": ["refreshToken": ["type": "string"]]],
            responses: [.json(200, "A new pair.", schema: signedIn), .error(401, "Invalid, expired or reused refresh token."), .error(429, "Too many refreshes.")])
        ) { request, context in
            let body = try await request.decode(as: RefreshBody.self, context: context)
            return try await limits.limited(request, context, client: limits.refreshPerClient) {
                Encoded(try await service.refresh(token: body.refreshToken, client: IdentityService.Client(request, context)))
            }
        }

        auth.post("/logout", APIOperation(
            "logout", summary: "Sign out this session.", tags: tags, responses: [.noContent("Signed out.")], security: APIOperation.bearerSecurity)
        ) { request, context in
            let user = try context.requireUser()
            try await service.logout(user, client: IdentityService.Client(request, context))
            return Response(status: .noContent)
        }

        auth.post("/logout-all", APIOperation(
            "logoutEverywhere", summary: "Sign out every session of this account, this one included.", tags: tags,
            responses: [.json(200, "How many sessions ended.", schema: ["type": "object", "required": ["count"], "properties": ["count": ["type": "integer"]]])],
            security: APIOperation.bearerSecurity)
        ) { request, context in
            let user = try context.requireUser()
            return CountBody(count: try await service.logoutEverywhere(user, client: IdentityService.Client(request, context)))
        }

        auth.get("/me", APIOperation(
            "getCurrentAccount", summary: "The signed-in account.", tags: tags,
            responses: [.json(200, "The account.", schema: ["$ref": "#/components/schemas/Account"])], security: APIOperation.bearerSecurity)
        ) { _, context in
            let user = try context.requireUser()
            return Encoded(try await service.account(of: user))
        }

        auth.post("/password", APIOperation(
            "changePassword", summary: "Change the password; every other session is signed out.", tags: tags,
            requestBody: [
                "type": "object", "required": ["currentPassword", "newPassword"],
                "properties": ["currentPassword": ["type": "string"], "newPassword": ["type": "string", "minLength": 8]],
            ],
            responses: [.noContent("Changed."), .error(403, "The current password is wrong."), .error(422, "The new password breaks a rule."),
                        .error(429, "Too many attempts.")],
            security: APIOperation.bearerSecurity)
        ) { request, context in
            let body = try await request.decode(as: PasswordChangeBody.self, context: context)
            let user = try context.requireUser()
            return try await limits.limited(request, context, client: limits.loginPerClient, account: (user.email, limits.loginPerAccount)) {
                try await service.changePassword(user, current: body.currentPassword, new: body.newPassword, client: IdentityService.Client(request, context))
                return Response(status: .noContent)
            }
        }

        auth.get("/sessions", APIOperation(
            "listSessions", summary: "This account's active sessions (devices), newest first.", tags: tags,
            responses: [.json(200, "The sessions.", schema: [
                "type": "object", "required": ["items"],
                "properties": ["items": ["type": "array", "items": ["$ref": "#/components/schemas/Session"]]],
            ])], security: APIOperation.bearerSecurity)
        ) { _, context in
            let user = try context.requireUser()
            return SessionsBody(items: try await service.sessions(of: user))
        }

        auth.delete("/sessions/{id}", APIOperation(
            "revokeSession", summary: "Sign out one of this account's sessions.", tags: tags,
            parameters: [.path("id", "The session's id.")],
            responses: [.noContent("Signed out."), .error(404, "No such active session of yours.")], security: APIOperation.bearerSecurity)
        ) { request, context in
            let id = try context.parameters.require("id")
            let user = try context.requireUser()
            try await service.revokeSession(id, of: user, client: IdentityService.Client(request, context))
            return Response(status: .noContent)
        }

        auth.post("/sessions/revoke-others", APIOperation(
            "revokeOtherSessions", summary: "Sign out every other session of this account.", tags: tags,
            responses: [.json(200, "How many sessions ended.", schema: ["type": "object", "required": ["count"], "properties": ["count": ["type": "integer"]]])],
            security: APIOperation.bearerSecurity)
        ) { request, context in
            let user = try context.requireUser()
            return CountBody(count: try await service.revokeOtherSessions(user, client: IdentityService.Client(request, context)))
        }
    }
}

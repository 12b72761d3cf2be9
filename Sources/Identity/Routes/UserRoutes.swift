import FlowKit
import Foundation
import Hummingbird

/// Users, profiles, preferences and privacy rights: `/api/v1/users/…`, `/api/v1/profiles/…`,
/// `/api/v1/preferences`. `me` stands for the caller's id wherever an id goes.
struct UserRoutes: Sendable {
    let service: IdentityService

    struct DeleteBody: Decodable { let password: String; let code: String? }
    struct RoleBody: Decodable { let role: Role }

    func register(on api: DocumentedRouter<FlowRequestContext>) {
        let document = api.document
        document.addTag("users", description: "Profiles, preferences, privacy rights and roles.")
        document.addSchema("User", UserCard.schema)
        document.addSchema("Profile", ProfileView.schema)
        document.addSchema("Privacy", Privacy.schema)
        document.addSchema("Location", Location.schema)
        document.addSchema("Preferences", Preferences.schema)
        let users = api.group("/api/v1/users")
        let tags = ["users"]
        let id = APIOperation.Parameter.path("id", "The user's id, or `me`.")
        let profile: JSONValue = ["$ref": "#/components/schemas/Profile"]
        let preferences: JSONValue = ["$ref": "#/components/schemas/Preferences"]
        let nullableVisibility: JSONValue = ["type": ["string", "null"], "enum": .array(Visibility.allCases.map { .string($0.rawValue) } + [.null])]

        users.get("/{id}", APIOperation(
            "getUser", summary: "A user's public card.", tags: tags, parameters: [id],
            responses: [.json(200, "The user.", schema: ["$ref": "#/components/schemas/User"]), .error(404, "No such user.")])
        ) { _, context in
            let id = try Self.userId(context)
            return Encoded(try await service.userCard(id: id))
        }

        users.put("/{id}", APIOperation(
            "updateUser", summary: "Edit your profile: left-out fields keep their value, null clears one.",
            description: "Publishes `user.profile_updated` naming the changed fields. Staff with `manage_users` may edit anyone.",
            tags: tags, parameters: [id],
            requestBody: [
                "type": "object",
                "properties": [
                    "username": ["type": ["string", "null"], "minLength": 3, "maxLength": 30, "pattern": "^[A-Za-z0-9._-]+$", "description": "null keeps it."],
                    "displayName": ["type": ["string", "null"], "minLength": 1, "maxLength": 50],
                    "bio": ["type": ["string", "null"], "maxLength": 500],
                    "interests": ["type": ["array", "null"], "maxItems": 20, "items": ["type": "string", "minLength": 1, "maxLength": 40], "description": "null keeps them."],
                    "location": ["oneOf": [Location.inputSchema, ["type": "null"]]],
                    "avatarUrl": ["type": ["string", "null"], "format": "uri", "maxLength": 2048],
                    "privacy": ["type": ["object", "null"], "properties": ["email": nullableVisibility, "location": nullableVisibility, "attendedEvents": nullableVisibility]],
                ],
            ],
            responses: [.json(200, "The profile as you now see it.", schema: profile), .error(403, "Not your profile."), .error(404, "No such user."),
                        .error(409, "The username is taken."), .error(422, "A field breaks a rule.")],
            security: APIOperation.bearerSecurity)
        ) { request, context in
            let body = try await request.decode(as: IdentityService.ProfileUpdate.self, context: context)
            let id = try Self.userId(context)
            let user = try context.requireUser()
            let client = IdentityService.Client(request, context)
            return Encoded(try await service.updateProfile(id: id, body, by: user, client: client))
        }

        users.get("/{id}/export", APIOperation(
            "exportPersonalData", summary: "Download everything Flow's account service holds about you, as JSON.", tags: tags, parameters: [id],
            responses: [.json(200, "Your data.", schema: ["type": "object", "required": ["exportedAt", "account", "profile", "preferences", "sessions", "twoFactor", "auditLog"]]),
                        .error(403, "Only your own data.")],
            security: APIOperation.bearerSecurity)
        ) { _, context in
            let user = try Self.requireSelf(context)
            var headers = HTTPFields()
            headers[.contentDisposition] = #"attachment; filename="flow-data-\#(user.id).json""#
            headers[.cacheControl] = "no-store"
            return EditedResponse(headers: headers, response: Encoded(try await service.exportPersonalData(of: user)))
        }

        users.delete("/{id}", APIOperation(
            "deleteAccount", summary: "Delete your account: personal data is erased and every session ends.",
            description: "Needs the password, and a current authenticator or backup code when two-factor sign-in is on. Publishes `user.deleted`.",
            tags: tags, parameters: [id],
            requestBody: [
                "type": "object", "required": ["password"],
                "properties": ["password": ["type": "string"], "code": ["type": ["string", "null"], "description": "Needed when two-factor sign-in is on."]],
            ],
            responses: [.noContent("Deleted."), .error(403, "Wrong password, or not your account."), .error(422, "The 2FA code is missing or wrong.")],
            security: APIOperation.bearerSecurity)
        ) { request, context in
            let user = try Self.requireSelf(context)
            let body = try await request.decode(as: DeleteBody.self, context: context)
            try await service.deleteAccount(user, password: body.password, code: body.code, client: IdentityService.Client(request, context))
            return Response(status: .noContent)
        }

        users.put("/{id}/role", APIOperation(
            "changeRole", summary: "Give a user another role (needs `manage_roles`); their sessions end so new permissions apply at once.",
            tags: tags, parameters: [id],
            requestBody: ["type": "object", "required": ["role"], "properties": ["role": ["type": "string", "enum": ["user", "moderator", "admin"]]]],
            responses: [.json(200, "The account with its new role.", schema: ["$ref": "#/components/schemas/Account"]),
                        .error(403, "Needs manage_roles."), .error(404, "No such user."), .error(409, "Your own role.")],
            security: APIOperation.bearerSecurity)
        ) { request, context in
            try await changeRole(request, context)
        }

        api.get("/api/v1/profiles/{id}", APIOperation(
            "getProfile", summary: "A user's extended profile, as their privacy settings let you see it.",
            description: "Email, location and attended events follow the owner's privacy (`public`, `members` = signed-in users, `private`); hidden parts are null.",
            tags: tags, parameters: [id],
            responses: [.json(200, "The profile.", schema: profile), .error(404, "No such user.")])
        ) { _, context in
            let id = try Self.userId(context)
            return Encoded(try await service.profile(id: id, viewer: context.user))
        }

        api.get("/api/v1/preferences", APIOperation(
            "getPreferences", summary: "Your language, time zone, theme and notification switches.", tags: tags,
            responses: [.json(200, "The preferences.", schema: preferences)], security: APIOperation.bearerSecurity)
        ) { _, context in
            let user = try context.requireUser()
            return Encoded(try await service.preferences(of: user))
        }

        api.put("/api/v1/preferences", APIOperation(
            "updatePreferences", summary: "Change preferences; left-out fields and notification switches keep their value.", tags: tags,
            requestBody: Preferences.Update.schema,
            responses: [.json(200, "The preferences now.", schema: preferences), .error(422, "A field breaks a rule.")],
            security: APIOperation.bearerSecurity)
        ) { request, context in
            let body = try await request.decode(as: Preferences.Update.self, context: context)
            let user = try context.requireUser()
            return Encoded(try await service.updatePreferences(of: user, body))
        }
    }

    func changeRole(_ request: Request, _ context: FlowRequestContext) async throws -> Encoded<AccountView> {
        let user = try context.require(permission: Permission.manageRoles)
        let body = try await request.decode(as: RoleBody.self, context: context)
        let target = try Self.userId(context)
        let client = IdentityService.Client(request, context)
        let account = try await service.changeRole(of: target, to: body.role, by: user, client: client)
        return Encoded(account)
    }

    /// The `{id}` parameter, with `me` resolved to the caller.
    static func userId(_ context: FlowRequestContext) throws -> String {
        let id = try context.parameters.require("id")
        return id == "me" ? try context.requireUser().id : id
    }

    /// The caller, when `{id}` is theirs: exports and deletion are for one's own account only.
    static func requireSelf(_ context: FlowRequestContext) throws -> AuthenticatedUser {
        let user = try context.requireUser()
        guard try userId(context) == user.id else { throw APIError.forbidden("This is possible for your own account only.") }
        return user
    }
}

import Hummingbird

/// The platform's own tables (audit trail, development mailbox) as a module, migrated before
/// every domain, and the development mailbox's route.
public struct PlatformModule: FlowModule {
    public let name = "platform"
    let environment: FlowConfig.Environment
    let mailbox: DevMailbox
    let admin: AdminAccess

    public init(context: ModuleContext, mailbox: DevMailbox) {
        environment = context.config.environment
        self.mailbox = mailbox
        admin = context.admin
    }

    public var migrations: [Migration] { AuditTrail.migrations + DevMailbox.migrations }

    public func registerRoutes(on api: DocumentedRouter<FlowRequestContext>) {
        // Stored mail holds live verification and reset tokens: never served in production.
        guard environment == .development else { return }
        api.document.addTag("development", description: "Helpers that exist only with FLOW_ENV=development.")
        api.document.addSchema("MailboxMessage", DevMailbox.storedSchema)
        api.get("/api/v1/dev/mailbox", APIOperation(
            "listDevMailbox", summary: "Mail the server would have sent (development only).",
            description: "With no mail provider configured, outgoing mail is kept here. A signed-in user sees mail to their own address; an operator sees all, optionally filtered by `to`. Not registered in production.",
            tags: ["development"],
            parameters: [.query("to", "Only mail to this address (operators).")] + PageRequest.openAPIParameters,
            responses: [.json(200, "Newest first.", schema: Page<DevMailbox.Stored>.schema(of: ["$ref": "#/components/schemas/MailboxMessage"])),
                        .error(401, "Not signed in.")],
            security: [["bearerAuth": []], ["adminToken": []]])
        ) { [mailbox, admin] request, context in
            let page = try PageRequest(request: request)
            let requested = request.uri.queryParameters["to"].map(String.init)
            if context.isOperator || context.user.map({ $0.has(AdminAccess.permission) }) == true {
                try admin.authorize(context)
                return try await mailbox.messages(to: requested, page: page)
            }
            let user = try context.requireUser()
            if let requested, requested.lowercased() != user.email.lowercased() {
                throw APIError.forbidden("You can read only mail sent to your own address.")
            }
            return try await mailbox.messages(to: user.email, page: page)
        }
    }
}

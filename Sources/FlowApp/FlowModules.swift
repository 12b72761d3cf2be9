import Bus
import Events
import FlowKit
import Identity

/// Every domain of Flow, in migration order. Adding a domain means adding it here; this is the
/// only place that knows them all. The platform's tables come first, then the bus (the other
/// domains publish through it and register their consumer groups with it), then the domains.
public struct FlowModules: Sendable {
    public let all: [any FlowModule]
    public let bus: EventBus
    public let identity: IdentityService
    public let mailbox: DevMailbox
    public let events: EventService

    /// Throws ``ConfigError`` when a domain's settings cannot be used (an unreadable key file).
    public static func build(_ context: ModuleContext) async throws -> FlowModules {
        // No mail provider yet: mail is kept in the development mailbox (Notifications brings delivery).
        let mailbox = DevMailbox(database: context.database)
        let busModule = BusModule(context: context)
        let identity = try await IdentityModule.make(context: context, bus: busModule.bus, mailer: mailbox)
        let events = try EventsModule(context: context, bus: busModule.bus, privacy: identity.privacy, users: identity.directory)
        return FlowModules(all: [PlatformModule(context: context, mailbox: mailbox), busModule, identity, events], bus: busModule.bus,
                           identity: identity.service, mailbox: mailbox, events: events.service)
    }
}

import Bus
import FlowKit
import Identity

/// Every domain of Flow, in migration order. Adding a domain means adding it here; this is the
/// only place that knows them all. The platform's tables come first, then the bus (the other
/// domains publish through it and register their consumer groups with it), then the domains.
public struct FlowModules: Sendable {
    public let all: [any FlowModule]
    public let bus: EventBus
    public let identity: IdentityService

    public static func build(_ context: ModuleContext) async -> FlowModules {
        let busModule = BusModule(context: context)
        let identity = await IdentityModule.make(context: context, bus: busModule.bus)
        return FlowModules(all: [PlatformModule(), busModule, identity], bus: busModule.bus, identity: identity.service)
    }
}

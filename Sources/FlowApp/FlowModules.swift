import Bus
import FlowKit

/// Every domain of Flow, in migration order. Adding a domain means adding it here; this is the
/// only place that knows them all. The bus comes first: the other domains publish through it
/// and register their consumer groups with it.
public struct FlowModules: Sendable {
    public let all: [any FlowModule]
    public let bus: EventBus

    public static func build(_ context: ModuleContext) -> FlowModules {
        let busModule = BusModule(context: context)
        return FlowModules(all: [busModule], bus: busModule.bus)
    }
}

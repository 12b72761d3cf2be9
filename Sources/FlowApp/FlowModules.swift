import FlowKit

/// Every domain of Flow, in migration order. Adding a domain means adding it here; this is the
/// only place that knows them all.
public enum FlowModules {
    public static func all(_ context: ModuleContext) -> [any FlowModule] {
        []
    }
}

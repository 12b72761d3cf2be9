import Hummingbird
import Logging
import ServiceLifecycle

/// A domain as the app sees it: its tables (migrations), its routes and its background work.
/// FlowApp builds one per domain with ``ModuleContext`` and mounts them according to the roles
/// the process runs; a domain never reaches another's tables, only its public service API.
public protocol FlowModule: Sendable {
    /// Short lowercase name, also the migration domain (`identity`, `events`, …).
    var name: String { get }
    /// The domain's migrations; empty when it owns no tables.
    var migrations: [Migration] { get }
    /// Adds the domain's HTTP routes (run when the process has the `api` role).
    func registerRoutes(on api: DocumentedRouter<FlowRequestContext>)
    /// Long-running work (bus consumers, schedulers) for the `worker` role.
    var workerServices: [any Service] { get }
    /// The module that verifies bearer tokens (Identity) returns its authenticator here.
    var authenticator: (any Authenticator)? { get }
}

extension FlowModule {
    public var migrations: [Migration] { [] }
    public func registerRoutes(on api: DocumentedRouter<FlowRequestContext>) {}
    public var workerServices: [any Service] { [] }
    public var authenticator: (any Authenticator)? { nil }
}

/// What a module gets to build itself: the shared platform pieces.
public struct ModuleContext: Sendable {
    public let config: FlowConfig
    public let database: Database
    public let admin: AdminAccess
    /// Opens once the schema is current; background services wait for it before touching tables.
    public let schemaReady: Gate
    public let logger: Logger

    public init(config: FlowConfig, database: Database, admin: AdminAccess, schemaReady: Gate = Gate(open: true), logger: Logger) {
        self.config = config
        self.database = database
        self.admin = admin
        self.schemaReady = schemaReady
        self.logger = logger
    }
}

import FlowKit
import Logging
import ServiceLifecycle

/// The bus as a module: its tables, its admin routes and, in the worker role, its workers.
/// FlowApp creates it first and hands its ``EventBus`` to every other domain.
public struct BusModule: FlowModule {
    public let name = "bus"
    public let bus: EventBus
    let admin: AdminAccess
    let retention: Duration
    let schemaReady: Gate
    let logger: Logger

    public init(context: ModuleContext) {
        self.bus = EventBus(database: context.database, logger: context.logger)
        self.admin = context.admin
        self.retention = context.config.busRetention
        self.schemaReady = context.schemaReady
        self.logger = context.logger
    }

    public var migrations: [Migration] { BusMigrations.all }

    /// The bus's migrations, for tools that run the bus without the server (the probe).
    public static var migrationsForTools: [Migration] { BusMigrations.all }

    public func registerRoutes(on api: DocumentedRouter<FlowRequestContext>) {
        BusRoutes(bus: bus, admin: admin).register(on: api)
    }

    public var workerServices: [any Service] {
        [BusWorkerService(bus: bus, retention: retention, startAfter: schemaReady, logger: logger)]
    }
}

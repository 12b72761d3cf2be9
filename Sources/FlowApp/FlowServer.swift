import FlowKit
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// What `flow serve` runs: the HTTP application for the configured roles, with the database as
/// a service that closes after the server has drained.
public struct FlowServer: Sendable {
    /// Whether pending migrations are applied at start or only checked.
    public enum MigrationPolicy: Sendable {
        case apply
        /// Refuse to serve when the schema is not current (production without `--migrate`).
        case requireCurrent
    }

    public let config: FlowConfig
    public let database: Database
    public let application: Application<RouterResponder<FlowRequestContext>>
    /// The domains this server runs.
    public let modules: [any FlowModule]
    let logger: Logger

    /// Builds the application. Opens the database (creating a SQLite file if needed) but does
    /// not connect to PostgreSQL or migrate until it runs.
    /// - Parameter onServerRunning: called with the bound port once the server listens (tests use port 0).
    public static func build(
        config: FlowConfig, migrationPolicy: MigrationPolicy, logger: Logger,
        modules makeModules: @Sendable (ModuleContext) async throws -> [any FlowModule] = { try await FlowModules.build($0).all },
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> FlowServer {
        try config.checkProductionSecrets()
        FlowMetrics.bootstrap()
        let database = try await Database.open(config.database, options: config.databaseOptions, logger: logger)
        let schemaReady = Gate()
        let admin = adminAccess(config, logger: logger)
        let modules: [any FlowModule]
        do {
            modules = try await makeModules(ModuleContext(config: config, database: database, admin: admin, schemaReady: schemaReady, logger: logger))
        } catch {
            await database.close()
            throw error
        }
        let migrator = Migrator(database: database, sets: modules.migrationSets, logger: logger)
        let (router, _) = makeRouter(config: config, database: database, migrator: migrator, modules: modules, admin: admin)
        var services: [any Service] = [database]
        if config.roles.contains(.worker) {
            services += modules.flatMap(\.workerServices)
        }
        if config.roles.contains(.realtime) {
            logger.info("role realtime: no realtime gateway is built yet; only the platform endpoints are served for it")
        }

        var application = Application(
            router: router,
            // Idle keep-alive connections are closed after 75 s (longer than the usual 60 s of
            // load balancers, so they close first), which also bounds slow or stalled clients.
            server: .http1(configuration: .init(idleTimeout: .seconds(75))),
            configuration: ApplicationConfiguration(
                address: .hostname(config.host, port: config.port),
                serverName: "flow/\(FlowVersion.current)"),
            services: services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? config.port
                logger.info("listening", metadata: [
                    "host": "\(config.host)", "port": "\(port)", "database": "\(config.database)",
                    "roles": "\(config.roles.sorted().map(\.rawValue).joined(separator: ","))",
                    "env": "\(config.environment.rawValue)",
                ])
                await onServerRunning(port)
            },
            logger: logger)

        application.beforeServerStarts {
            switch migrationPolicy {
            case .apply:
                try await migrator.migrate()
            case .requireCurrent:
                do {
                    try await migrator.verifyCurrent()
                } catch let error as SchemaError {
                    throw SchemaError(problems: error.problems + ["refusing to serve: run `flow migrate` or start with `flow serve --migrate`"])
                }
            }
            schemaReady.open()
        }
        return FlowServer(config: config, database: database, application: application, modules: modules, logger: logger)
    }

    /// The operator token: configured, or in development a random one for this run (logged so
    /// a developer can use the admin API); production without one leaves the admin API to
    /// signed-in admins.
    static func adminAccess(_ config: FlowConfig, logger: Logger) -> AdminAccess {
        if let token = config.adminToken { return AdminAccess(token: token) }
        guard config.environment == .development else {
            logger.notice("no operator token (FLOW_ADMIN_TOKEN): the admin API is open to signed-in admins only")
            return AdminAccess(token: nil)
        }
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        logger.notice("development admin token for this run (set FLOW_ADMIN_TOKEN to choose one)", metadata: ["admin_token": "\(token)"])
        return AdminAccess(token: token)
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting, lets in-flight requests finish for
    /// up to `shutdown.grace` seconds, closes the database, and returns.
    public func run() async throws {
        var configuration = ServiceGroupConfiguration(
            services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = config.shutdownGrace
        configuration.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: configuration).run()
        logger.info("stopped")
    }

    /// The HTTP pipeline. Middleware order matters; from the outside in:
    /// identity (ids, limits) → access log → metrics → security headers → CORS → errors →
    /// request guard (body limit, NUL) → authentication → routes. Everything outside the error middleware sees rendered error responses.
    static func makeRouter(
        config: FlowConfig, database: Database, migrator: Migrator, modules: [any FlowModule], admin: AdminAccess
    ) -> (Router<FlowRequestContext>, OpenAPIDocument) {
        // HEAD is answered for every GET route (monitoring tools probe with it).
        let router = Router(context: FlowRequestContext.self, options: .autoGenerateHeadEndpoints)
        let routeTable = RouteTable()
        router.add(middleware: RequestIdentityMiddleware(bodyLimit: config.bodyLimit, trustProxy: config.trustProxy))
        router.add(middleware: AccessLogMiddleware())
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: CORSAllowlistMiddleware(origins: config.corsOrigins))
        router.add(middleware: ErrorMiddleware(routes: routeTable))
        router.add(middleware: RequestGuardMiddleware())
        router.add(middleware: AuthenticationMiddleware(authenticator: modules.lazy.compactMap(\.authenticator).first, admin: admin))

        let document = OpenAPIDocument(
            title: "Flow API", version: FlowVersion.current,
            summary: "Event discovery and social meet-ups: accounts, events, RSVPs, crews, chat and notifications.")
        let api = DocumentedRouter(router: router, document: document)
        PlatformRoutes(readiness: ReadinessCheck(database: database, migrator: migrator), document: document).register(on: api)
        if config.roles.contains(.api) {
            for module in modules {
                module.registerRoutes(on: api)
            }
        }

        routeTable.load(from: router, headForGet: true)
        return (router, document)
    }
}

extension [any FlowModule] {
    /// The migration sets of the modules that own tables, in module order.
    public var migrationSets: [MigrationSet] {
        compactMap { $0.migrations.isEmpty ? nil : MigrationSet(domain: $0.name, $0.migrations) }
    }
}

import Bus
import FlowKit

/// The Events domain: events, venues, categories, attendance and discovery.
public struct EventsModule: FlowModule {
    public let name = "events"
    public let service: EventService

    /// Throws when the bus already has a group of this module's (a second Events module in one process).
    public init(context: ModuleContext, bus: EventBus, privacy: any PrivacyPolicy, users: any UserDirectory) throws {
        for event in [EventCreated.self, EventUpdated.self, EventCancelled.self, AttendanceChanged.self, WaitlistPromoted.self, EventInvited.self] as [any DomainEvent.Type] {
            bus.register(event)
        }
        service = EventService(database: context.database, publisher: bus.publisher(producer: "events"), privacy: privacy, users: users,
                               publicURL: context.config.publicURL, viewCacheLifetime: context.config.eventCacheLifetime, logger: context.logger)
        try bus.register(service.accountErasureGroup())
    }

    public var migrations: [Migration] { EventsMigrations.all }

    public func registerRoutes(on api: DocumentedRouter<FlowRequestContext>) {
        EventRoutes(service: service).register(on: api)
        PlaceRoutes(service: service).register(on: api)
        SocialRoutes(service: service).register(on: api)
        TicketRoutes(service: service).register(on: api)
        CalendarRoutes(service: service).register(on: api)
        OccurrenceRoutes(service: service).register(on: api)
        InviteRoutes(service: service).register(on: api)
    }
}

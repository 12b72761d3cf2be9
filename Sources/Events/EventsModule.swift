import Bus
import FlowKit

/// The Events domain: events, venues, categories, attendance and discovery.
public struct EventsModule: FlowModule {
    public let name = "events"
    public let service: EventService

    public init(context: ModuleContext, bus: EventBus, privacy: any PrivacyPolicy, users: any UserDirectory) {
        for event in [EventCreated.self, EventUpdated.self, EventCancelled.self, AttendanceChanged.self, WaitlistPromoted.self, EventInvited.self] as [any DomainEvent.Type] {
            bus.register(event)
        }
        service = EventService(database: context.database, publisher: bus.publisher(producer: "events"), privacy: privacy, users: users,
                               publicURL: context.config.publicURL, viewCacheLifetime: context.config.eventCacheLifetime, logger: context.logger)
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

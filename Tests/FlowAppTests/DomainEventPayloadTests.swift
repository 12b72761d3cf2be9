import Bus
@testable import Events
import FlowKit
import Foundation
@testable import Identity
import Testing

/// The payload rules of the domains' events: publishing refuses an invalid one before anything
/// is written (``EventPublisher``), so consumers never see an event without the ids they key on.
@Suite("Domain event payloads")
struct DomainEventPayloadTests {
    private static func fields(_ event: some DomainEvent) -> [String] {
        event.validate().map(\.field)
    }

    @Test("payloads as the services publish them are valid")
    func validPayloads() {
        let valid: [any DomainEvent] = [
            EventCreated(eventId: "e1", organizerId: "u1", title: "Picnic", startsAt: Date(), status: "published", visibility: "public"),
            EventUpdated(eventId: "e1", fields: ["title"]),
            EventCancelled(eventId: "e1", attendees: 3, deleted: false),
            AttendanceChanged(eventId: "e1", userId: "u2", from: nil, to: "going"),
            AttendanceChanged(eventId: "e1", userId: "u2", from: "waitlisted", to: "going"),
            AttendanceChanged(eventId: "e1", userId: "u2", from: "going", to: nil),
            EventInvited(eventId: "e1", userId: "u2", invitedBy: "u1"),
            WaitlistPromoted(eventId: "e1", userId: "u2"),
            UserRegistered(userId: "u1", username: "ada"),
            UserLocked(userId: "u1", lockedUntil: Date()),
            UserProfileUpdated(userId: "u1", fields: ["bio"]),
            UserDeleted(userId: "u1"),
        ]
        for event in valid {
            #expect(event.validate().isEmpty, "\(type(of: event)): \(event.validate())")
        }
    }

    @Test("missing ids, unknown states and empty changes are named field by field")
    func invalidPayloads() {
        #expect(Self.fields(EventCreated(eventId: "", organizerId: "", title: "x", startsAt: Date(), status: "live", visibility: "public"))
            == ["eventId", "organizerId", "status"])
        #expect(EventCreated(eventId: "e", organizerId: "u", title: "x", startsAt: Date(), status: "draft", visibility: "secret").validate()
            .first?.problem.hasPrefix("must be one of") == true)
        #expect(Self.fields(EventUpdated(eventId: "e1", fields: [])) == ["fields"])
        #expect(Self.fields(EventCancelled(eventId: "e1", attendees: -1, deleted: false)) == ["attendees"])
        #expect(Self.fields(AttendanceChanged(eventId: "", userId: "u", from: "maybe", to: "going")) == ["eventId", "from"])
        #expect(Self.fields(AttendanceChanged(eventId: "e", userId: "u", from: "going", to: "going")) == ["to"])
        #expect(Self.fields(AttendanceChanged(eventId: "e", userId: "u", from: nil, to: nil)) == ["to"])
        #expect(Self.fields(EventInvited(eventId: "e", userId: "", invitedBy: "")) == ["userId", "invitedBy"])
        #expect(Self.fields(WaitlistPromoted(eventId: "e", userId: "")) == ["userId"])
        #expect(Self.fields(UserRegistered(userId: "", username: "")) == ["userId", "username"])
        #expect(Self.fields(UserLocked(userId: "", lockedUntil: Date())) == ["userId"])
        #expect(Self.fields(UserProfileUpdated(userId: "u", fields: [])) == ["fields"])
        #expect(Self.fields(UserDeleted(userId: "")) == ["userId"])
    }
}

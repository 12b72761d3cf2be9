import FlowKit
import Foundation
import SQLKit

extension IdentityStore {
    func profile(userId: String, on sql: any SQLDatabase) async throws -> ProfileRecord {
        guard let row = try await sql.raw("""
            SELECT display_name, bio, interests, city, latitude, longitude, avatar_url, email_visibility, location_visibility,
                   attended_events_visibility
            FROM profiles WHERE user_id = \(bind: userId)
            """).first() else { return .empty }
        let city = try row.decodeOptional(column: "city", as: String.self)
        let latitude = try row.decodeOptional(column: "latitude", as: Double.self)
        let longitude = try row.decodeOptional(column: "longitude", as: Double.self)
        let interests = try row.decode(column: "interests", as: String.self)
        return ProfileRecord(
            displayName: try row.decodeOptional(column: "display_name", as: String.self),
            bio: try row.decodeOptional(column: "bio", as: String.self),
            interests: FlowJSON.strings(interests) ?? [],
            location: city == nil && latitude == nil ? nil : Location(city: city, latitude: latitude, longitude: longitude),
            avatarUrl: try row.decodeOptional(column: "avatar_url", as: String.self),
            privacy: Privacy(
                email: Visibility(rawValue: try row.decode(column: "email_visibility", as: String.self)) ?? .private,
                location: Visibility(rawValue: try row.decode(column: "location_visibility", as: String.self)) ?? .private,
                attendedEvents: Visibility(rawValue: try row.decode(column: "attended_events_visibility", as: String.self)) ?? .private))
    }

    func saveProfile(userId: String, _ profile: ProfileRecord, now: Date, in tx: Transaction) async throws {
        let interests = try FlowJSON.text(profile.interests)
        try await tx.sql.raw("""
            INSERT INTO profiles (user_id, display_name, bio, interests, city, latitude, longitude, avatar_url, email_visibility,
                                  location_visibility, attended_events_visibility, updated_at)
            VALUES (\(bind: userId), \(bind: profile.displayName), \(bind: profile.bio), \(bind: interests), \(bind: profile.location?.city),
                    \(bind: profile.location?.latitude), \(bind: profile.location?.longitude), \(bind: profile.avatarUrl),
                    \(bind: profile.privacy.email.rawValue), \(bind: profile.privacy.location.rawValue),
                    \(bind: profile.privacy.attendedEvents.rawValue), \(bind: now))
            ON CONFLICT (user_id) DO UPDATE SET
                display_name = EXCLUDED.display_name, bio = EXCLUDED.bio, interests = EXCLUDED.interests, city = EXCLUDED.city,
                latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, avatar_url = EXCLUDED.avatar_url,
                email_visibility = EXCLUDED.email_visibility, location_visibility = EXCLUDED.location_visibility,
                attended_events_visibility = EXCLUDED.attended_events_visibility, updated_at = EXCLUDED.updated_at
            """).run()
    }

    func preferences(userId: String, on sql: any SQLDatabase) async throws -> Preferences {
        guard let row = try await sql.raw("SELECT language, time_zone, theme, notifications FROM preferences WHERE user_id = \(bind: userId)")
            .first() else { return .defaults }
        let stored = (try? JSONDecoder().decode([String: Bool].self, from: Data(try row.decode(column: "notifications", as: String.self).utf8))) ?? [:]
        return Preferences(
            language: try row.decode(column: "language", as: String.self), timeZone: try row.decode(column: "time_zone", as: String.self),
            theme: Preferences.Theme(rawValue: try row.decode(column: "theme", as: String.self)) ?? .system,
            // Kinds added after the row was written take their default.
            notifications: Preferences.notificationDefaults.merging(stored) { _, stored in stored })
    }

    func savePreferences(userId: String, _ preferences: Preferences, now: Date, in tx: Transaction) async throws {
        let notifications = String(decoding: try JSONEncoder.sortedKeys.encode(preferences.notifications), as: UTF8.self)
        try await tx.sql.raw("""
            INSERT INTO preferences (user_id, language, time_zone, theme, notifications, updated_at)
            VALUES (\(bind: userId), \(bind: preferences.language), \(bind: preferences.timeZone), \(bind: preferences.theme.rawValue),
                    \(bind: notifications), \(bind: now))
            ON CONFLICT (user_id) DO UPDATE SET language = EXCLUDED.language, time_zone = EXCLUDED.time_zone, theme = EXCLUDED.theme,
                notifications = EXCLUDED.notifications, updated_at = EXCLUDED.updated_at
            """).run()
    }
}

import Bus
import FlowKit
import Foundation
import Logging
import NIOPosix

/// The Identity domain: accounts, tokens and sessions; the authenticator every request uses.
public struct IdentityModule: FlowModule {
    public let name = "identity"
    public let service: IdentityService
    let tokens: AccessTokens
    let limits: AuthRateLimits

    /// Throws ``ConfigError`` when a configured key file is unreadable or not a usable key.
    public static func make(context: ModuleContext, bus: EventBus, mailer: any Mailer) async throws -> IdentityModule {
        for event in [UserRegistered.self, UserLocked.self, UserProfileUpdated.self, UserDeleted.self] as [any DomainEvent.Type] {
            bus.register(event)
        }
        let config = context.config
        var secret = config.jwtSecret
        if secret == nil, config.signingKeyFile == nil {
            // Production refuses to start without a key (FlowConfig.checkProductionSecrets).
            secret = SecretToken.make(bytes: 48)
            context.logger.notice("no FLOW_AUTH_JWT_SECRET or FLOW_AUTH_SIGNING_KEY_FILE: signing access tokens with a random secret for this run only")
        }
        let keys = try await SigningKeys.make(secret: secret, signingKeyFile: config.signingKeyFile, previousKeyFiles: config.previousKeyFiles)
        let tokens = AccessTokens(keys: keys, issuer: config.jwtIssuer, audience: config.jwtAudience)
        let service = IdentityService(
            database: context.database, passwords: Passwords(threadPool: .singleton), tokens: tokens,
            publisher: bus.publisher(producer: "identity"), mailer: mailer, publicURL: config.publicURL, logger: context.logger)
        return IdentityModule(service: service, tokens: tokens, limits: AuthRateLimits(loginsPerMinute: config.loginsPerMinute, registrationsPerHour: config.registrationsPerHour))
    }

    public var migrations: [Migration] { IdentityMigrations.all }

    /// What other domains ask about users' privacy.
    public var privacy: any PrivacyPolicy { IdentityPrivacyPolicy(database: service.database) }

    /// What other domains ask about which accounts exist.
    public var directory: any UserDirectory { IdentityUserDirectory(database: service.database) }

    public func registerRoutes(on api: DocumentedRouter<FlowRequestContext>) {
        AuthRoutes(service: service, limits: limits).register(on: api)
        TwoFactorRoutes(service: service, limits: limits).register(on: api)
        RecoveryRoutes(service: service, limits: limits).register(on: api)
        UserRoutes(service: service).register(on: api)
        KeySetRoute(keys: tokens.keys).register(on: api)
    }

    public var authenticator: (any Authenticator)? {
        IdentityAuthenticator(tokens: tokens, database: service.database)
    }
}

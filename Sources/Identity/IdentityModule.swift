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

    public static func make(context: ModuleContext, bus: EventBus) async -> IdentityModule {
        bus.register(UserRegistered.self)
        bus.register(UserLocked.self)
        let secret: String
        if let configured = context.config.jwtSecret {
            secret = configured
        } else {
            // Production refuses to start without a secret (FlowConfig.checkProductionSecrets).
            secret = SecretToken.make(bytes: 48)
            context.logger.notice("no FLOW_AUTH_JWT_SECRET: signing access tokens with a random secret for this run only")
        }
        let tokens = await AccessTokens.make(secret: secret, issuer: context.config.jwtIssuer, audience: context.config.jwtAudience)
        let service = IdentityService(
            database: context.database, passwords: Passwords(threadPool: .singleton), tokens: tokens,
            publisher: bus.publisher(producer: "identity"), logger: context.logger)
        return IdentityModule(service: service, tokens: tokens)
    }

    public var migrations: [Migration] { IdentityMigrations.all }

    public func registerRoutes(on api: DocumentedRouter<FlowRequestContext>) {
        IdentityRoutes(service: service).register(on: api)
    }

    public var authenticator: (any Authenticator)? {
        IdentityAuthenticator(tokens: tokens, database: service.database)
    }
}

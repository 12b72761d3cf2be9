import FlowKit
import Foundation

/// The mail Identity sends. Plain text, with the link and the bare token (for API clients).
enum IdentityMail {
    static func verification(to email: String, username: String, token: String, publicURL: String) -> MailMessage {
        MailMessage(to: email, subject: "Confirm your email address for Flow", text: """
            Hello \(username),

            Confirm that this is your address by opening:
            \(publicURL)/verify-email?token=\(token)

            The link works once, for 24 hours. Apps can send the token to POST /api/v1/auth/verify-email:
            \(token)

            If you did not create a Flow account, ignore this message.
            """, kind: "verify_email")
    }

    static func passwordReset(to email: String, username: String, token: String, publicURL: String) -> MailMessage {
        MailMessage(to: email, subject: "Reset your Flow password", text: """
            Hello \(username),

            Someone (hopefully you) asked to reset your password. Choose a new one at:
            \(publicURL)/reset-password?token=\(token)

            The link works once, for 10 minutes, and signs out every device. Apps can send the token
            to POST /api/v1/auth/password-reset:
            \(token)

            If you did not ask for this, ignore this message; your password stays as it is.
            """, kind: "password_reset")
    }
}

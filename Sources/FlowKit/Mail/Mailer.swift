import Foundation

/// One email: plain text, to one recipient. `kind` names the template (`verify_email`,
/// `password_reset`, …) so tests and operators can find a message without parsing it.
public struct MailMessage: Sendable, Codable, Equatable {
    public let to: String
    public let subject: String
    public let text: String
    public let kind: String

    public init(to: String, subject: String, text: String, kind: String) {
        self.to = to
        self.subject = subject
        self.text = text
        self.kind = kind
    }
}

/// Where outgoing mail goes. Domains depend on this interface only; the implementation is
/// chosen in `FlowApp`. Today that is ``DevMailbox`` (messages kept in the database and shown
/// by `flow mailbox` and `GET /api/v1/dev/mailbox`); a real provider comes with Notifications.
public protocol Mailer: Sendable {
    func send(_ message: MailMessage) async throws
}

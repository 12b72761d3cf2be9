import Foundation
import HummingbirdOTP

/// TOTP (RFC 6238: 6 digits, 30-second steps, HMAC-SHA1 — what authenticator apps default to).
/// A code is accepted for the current step and one step either side, for clock drift and the
/// time it takes to type; the caller records the matched step so each code works once.
enum AuthenticatorCodes {
    static let stepSeconds = 30
    static let acceptedDrift: Int64 = 1
    private static let base32Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    /// A fresh shared secret. HummingbirdOTP keys HMAC with the secret's UTF-8 bytes and puts
    /// their base32 in the otpauth URI, so 32 random base32 characters give a 160-bit key.
    static func makeSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<32).map { _ in base32Alphabet.randomElement(using: &generator)! })
    }

    /// The `otpauth://` URI authenticator apps scan as a QR code.
    static func enrolmentURI(secret: String, account: String, issuer: String) -> String {
        TOTP(secret: secret).createAuthenticatorURL(label: "\(issuer):\(account)", issuer: issuer)
    }

    /// The base32 secret, for typing into an app that cannot scan: the URI's `secret` parameter.
    static func manualEntryKey(fromURI uri: String) -> String? {
        URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value
    }

    static func step(at date: Date) -> Int64 {
        Int64(date.timeIntervalSince1970) / Int64(stepSeconds)
    }

    /// The code an authenticator app shows for `secret` at `date` (zero-padded, 6 digits).
    static func code(secret: String, at date: Date) -> String {
        let value = TOTP(secret: secret).compute(date: date)
        let digits = String(value)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// The step `code` belongs to, within the accepted drift of `now`, or nil when it matches none.
    static func matchingStep(of code: String, secret: String, now: Date) -> Int64? {
        let digits = code.filter { !$0.isWhitespace }
        guard digits.count == 6, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let value = Int(digits) else { return nil }
        let totp = TOTP(secret: secret)
        let current = step(at: now)
        for candidate in (current - acceptedDrift)...(current + acceptedDrift)
        where totp.compute(date: Date(timeIntervalSince1970: TimeInterval(candidate * Int64(stepSeconds)))) == value {
            return candidate
        }
        return nil
    }
}

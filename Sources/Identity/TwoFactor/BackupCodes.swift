import Crypto
import Foundation

/// Ten single-use recovery codes shown once when 2FA is turned on (or regenerated). Each has
/// 60 random bits (`xxxx-xxxx-xxxx`, base32), and only a SHA-256 salted with the user id is
/// stored: enough that a leaked table cannot be reversed in practical time, and cheap enough
/// to check all ten at login without bcrypt's cost.
enum BackupCodes {
    static let count = 10
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")

    static func make() -> [String] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in
            (0..<3).map { _ in String((0..<4).map { _ in alphabet.randomElement(using: &generator)! }) }.joined(separator: "-")
        }
    }

    /// Case, spaces and dashes do not matter when typing a code back.
    static func normalize(_ code: String) -> String {
        code.lowercased().filter { $0 != "-" && !$0.isWhitespace }
    }

    static func hash(_ code: String, userId: String) -> String {
        SHA256.hash(data: Data("\(userId):\(normalize(code))".utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

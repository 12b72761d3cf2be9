import Crypto
import Foundation

/// Opaque secrets handed to clients (refresh tokens, reset links, calendar feeds): 32 random
/// bytes, URL-safe. Only their SHA-256 is stored, so a database leak does not leak usable tokens.
public enum SecretToken {
    public static func make(bytes: Int = 32) -> String {
        Base64URL.encode(Data(RandomBytes.make(count: bytes)))
    }

    /// Hex SHA-256, the stored form of a token.
    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

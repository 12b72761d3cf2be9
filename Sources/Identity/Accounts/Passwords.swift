import FlowKit
import Foundation
import HummingbirdBcrypt
import NIOPosix

/// Password rules and hashing. bcrypt at cost 12 takes ~250 ms of CPU, so it runs on a thread
/// pool, never on an event loop or the cooperative pool, and other requests keep flowing.
struct Passwords: Sendable {
    static let cost: UInt8 = 12
    /// bcrypt reads at most 72 bytes; longer passwords would be silently truncated.
    static let maximumBytes = 72
    static let minimumLength = 8

    let threadPool: NIOThreadPool

    func hash(_ password: String) async throws -> String {
        try await threadPool.runIfActive { Bcrypt.hash(password, cost: Self.cost) }
    }

    func verify(_ password: String, hash: String) async throws -> Bool {
        try await threadPool.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Spends the same time as a real check, so unknown accounts and wrong passwords look alike.
    func verifyAgainstNothing(_ password: String) async throws {
        _ = try await verify(password, hash: Self.decoyHash)
    }

    /// A bcrypt hash of a random string, computed once at cost 12.
    static let decoyHash = Bcrypt.hash(SecretToken.make(), cost: cost)

    /// Problems with a new password, for a 422.
    static func problems(_ password: String, field: String = "password", email: String, username: String) -> [FieldProblem] {
        var problems: [FieldProblem] = []
        // Code points, as the documented minLength and NIST SP 800-63B count a password's length.
        if password.codePointCount < minimumLength {
            problems.append(FieldProblem(field: field, problem: "must be at least \(minimumLength) characters"))
        }
        if password.utf8.count > maximumBytes {
            problems.append(FieldProblem(field: field, problem: "must be at most \(maximumBytes) bytes"))
        }
        let lowered = password.lowercased()
        if commonPasswords.contains(lowered) {
            problems.append(FieldProblem(field: field, problem: "is one of the most common passwords; choose another"))
        }
        if lowered == email.lowercased() || lowered == username.lowercased() || lowered == email.lowercased().split(separator: "@").first.map(String.init) {
            problems.append(FieldProblem(field: field, problem: "must not be your email address or username"))
        }
        return problems
    }

    /// The most common passwords in published breach corpora (top of the lists), lowercased.
    static let commonPasswords: Set<String> = [
        "123456", "password", "12345678", "qwerty", "123456789", "12345", "1234", "111111", "1234567", "dragon",
        "123123", "baseball", "abc123", "football", "monkey", "letmein", "696969", "shadow", "master", "666666",
        "qwertyuiop", "123321", "mustang", "1234567890", "michael", "654321", "superman", "1qaz2wsx", "7777777",
        "121212", "000000", "qazwsx", "123qwe", "killer", "trustno1", "jordan", "jennifer", "zxcvbnm", "asdfgh",
        "hunter", "buster", "soccer", "harley", "batman", "andrew", "tigger", "sunshine", "iloveyou", "2000",
        "charlie", "robert", "thomas", "hockey", "ranger", "daniel", "starwars", "klaster", "112233", "george",
        "computer", "michelle", "jessica", "pepper", "1111", "zxcvbn", "555555", "11111111", "131313", "freedom",
        "777777", "pass", "maggie", "159753", "aaaaaa", "ginger", "princess", "joshua", "cheese", "amanda",
        "summer", "love", "ashley", "nicole", "chelsea", "biteme", "matthew", "access", "yankees", "987654321",
        "dallas", "austin", "thunder", "taylor", "matrix", "password1", "password123", "welcome", "welcome1",
        "admin", "admin123", "administrator", "passw0rd", "p@ssw0rd", "qwerty123", "qwerty1", "iloveyou1",
        "abcd1234", "12341234", "11223344", "1q2w3e4r", "1q2w3e4r5t", "q1w2e3r4", "zaq12wsx", "letmein1",
        "changeme", "secret", "default", "guest", "login", "flow", "flowflow", "test1234", "testtest",
    ]
}

import FlowKit
import Foundation

/// What makes an email address and a username acceptable.
enum AccountRules {
    static func emailProblems(_ email: String) -> [FieldProblem] {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        let valid = parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
            && email.codePointCount <= 254 && !email.contains(where: { $0.isWhitespace })
        return valid ? [] : [FieldProblem(field: "email", problem: "must be an email address like name@example.com")]
    }

    static func usernameProblems(_ username: String) -> [FieldProblem] {
        let allowed = username.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) }
        guard (3...30).contains(username.count), allowed, username.unicodeScalars.allSatisfy(\.isASCII) else {
            return [FieldProblem(field: "username", problem: "must be 3–30 characters: letters, digits, dot, underscore or hyphen")]
        }
        return []
    }
}

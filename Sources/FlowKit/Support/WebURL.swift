import Foundation

/// Rules for URLs users hand us (avatars, meeting links): http(s), a host, at most 2048 characters.
/// Anything else (`javascript:`, `data:`, relative paths) would be dangerous to render as a link.
public enum WebURL {
    public static let maximumLength = 2048

    public static func isValid(_ text: String) -> Bool {
        guard text.codePointCount <= maximumLength, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty else { return false }
        return true
    }
}

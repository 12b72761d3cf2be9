/// A configuration value that cannot be used. The message names the key both as the
/// environment variable and as the config-file path, so the operator knows what to fix.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let key: String
    public let problem: String

    public init(key: String, _ problem: String) {
        self.key = key
        self.problem = problem
    }

    public var environmentName: String { ConfigKeys.environmentName(for: key) }

    public var description: String {
        "invalid configuration \(environmentName) (config file key '\(key)'): \(problem)"
    }
}

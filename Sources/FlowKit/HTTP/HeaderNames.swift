import HTTPTypes

/// Header names Flow uses that HTTPTypes does not predefine.
extension HTTPField.Name {
    public static let xRequestId = Self("X-Request-Id")!
    public static let rateLimitLimit = Self("RateLimit-Limit")!
    public static let rateLimitRemaining = Self("RateLimit-Remaining")!
    public static let rateLimitReset = Self("RateLimit-Reset")!
    public static let traceparent = Self("traceparent")!
    public static let xForwardedFor = Self("X-Forwarded-For")!
    public static let xForwardedProto = Self("X-Forwarded-Proto")!
    public static let xFrameOptions = Self("X-Frame-Options")!
    public static let referrerPolicy = Self("Referrer-Policy")!
    public static let crossOriginOpenerPolicy = Self("Cross-Origin-Opener-Policy")!
    public static let crossOriginResourcePolicy = Self("Cross-Origin-Resource-Policy")!
}

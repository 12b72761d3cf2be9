import Foundation

/// Time-ordered identifiers (RFC 9562 §5.7): 48 bits of Unix milliseconds, version 7, then
/// random bits. IDs sort by creation time, which keeps B-tree inserts at the right edge of the
/// index and makes "newest first" pagination cheap on both engines.
public enum UUIDv7 {
    public static func make(at date: Date = Date()) -> UUID {
        let milliseconds = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var generator = SystemRandomNumberGenerator()
        let random1 = generator.next() as UInt64
        let random2 = generator.next() as UInt64
        return UUID(uuid: (
            UInt8(truncatingIfNeeded: milliseconds >> 40),
            UInt8(truncatingIfNeeded: milliseconds >> 32),
            UInt8(truncatingIfNeeded: milliseconds >> 24),
            UInt8(truncatingIfNeeded: milliseconds >> 16),
            UInt8(truncatingIfNeeded: milliseconds >> 8),
            UInt8(truncatingIfNeeded: milliseconds),
            0x70 | UInt8(truncatingIfNeeded: random1 & 0x0F),             // version 7
            UInt8(truncatingIfNeeded: random1 >> 8),
            0x80 | UInt8(truncatingIfNeeded: (random1 >> 16) & 0x3F),     // variant 10
            UInt8(truncatingIfNeeded: random1 >> 24),
            UInt8(truncatingIfNeeded: random2),
            UInt8(truncatingIfNeeded: random2 >> 8),
            UInt8(truncatingIfNeeded: random2 >> 16),
            UInt8(truncatingIfNeeded: random2 >> 24),
            UInt8(truncatingIfNeeded: random2 >> 32),
            UInt8(truncatingIfNeeded: random2 >> 40)
        ))
    }

    /// A new identifier as the lowercase string the API uses everywhere.
    public static func string(at date: Date = Date()) -> String {
        make(at: date).uuidString.lowercased()
    }

    /// The creation time encoded in a version 7 identifier, or nil for other versions.
    public static func timestamp(of id: UUID) -> Date? {
        let bytes = id.uuid
        guard bytes.6 >> 4 == 7 else { return nil }
        let milliseconds = [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5]
            .reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}

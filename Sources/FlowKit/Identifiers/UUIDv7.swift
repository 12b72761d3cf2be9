import Foundation

/// Time-ordered identifiers (RFC 9562 §5.7): 48 bits of Unix milliseconds, version 7, then
/// random bits. IDs sort by creation time, which keeps B-tree inserts at the right edge of the
/// index and makes "newest first" pagination cheap on both engines.
public enum UUIDv7 {
    public static func make(at date: Date = Date()) -> UUID {
        let milliseconds = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { bytes in
            RandomBytes.fill(UnsafeMutableRawBufferPointer(rebasing: bytes[6...]))
            for index in 0..<6 {
                bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (40 - 8 * UInt64(index)))
            }
        }
        bytes.6 = 0x70 | (bytes.6 & 0x0F)  // version 7
        bytes.8 = 0x80 | (bytes.8 & 0x3F)  // variant 10
        return UUID(uuid: bytes)
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

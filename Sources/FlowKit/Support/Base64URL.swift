import Foundation

/// Base64 with the URL-safe alphabet and no padding (RFC 4648 §5), as JWTs, JWKs and our
/// opaque tokens and cursors use it.
///
/// The alphabet is swapped byte by byte: `String.replacingOccurrences` goes through
/// CoreFoundation on Linux and, for one cursor per page, was 2% of the machine's CPU on nearby
/// search.
public enum Base64URL {
    public static func encode(_ data: Data) -> String {
        let base64 = data.base64EncodedData()
        var text: [UInt8] = []
        text.reserveCapacity(base64.count)
        for byte in base64 {
            switch byte {
            case UInt8(ascii: "+"): text.append(UInt8(ascii: "-"))
            case UInt8(ascii: "/"): text.append(UInt8(ascii: "_"))
            case UInt8(ascii: "="): continue
            default: text.append(byte)
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Also takes the standard alphabet and padding, as before.
    public static func decode(_ text: String) -> Data? {
        var base64 = text.utf8.map { byte in
            switch byte {
            case UInt8(ascii: "-"): UInt8(ascii: "+")
            case UInt8(ascii: "_"): UInt8(ascii: "/")
            default: byte
            }
        }
        while base64.count % 4 != 0 { base64.append(UInt8(ascii: "=")) }
        return Data(base64Encoded: Data(base64))
    }
}

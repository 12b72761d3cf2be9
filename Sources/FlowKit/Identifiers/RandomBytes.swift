#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes from the operating system's cryptographically secure generator, in one call.
///
/// `SystemRandomNumberGenerator` asks the kernel for 8 bytes at a time: a request id and a trace
/// id took four `getrandom` calls per request that way, and a 32-byte token thirty-two.
/// `arc4random_buf` (glibc 2.36 and later, Darwin) fills the whole buffer with one `getrandom`.
public enum RandomBytes {
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        arc4random_buf(base, buffer.count)
    }

    public static func make(count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }
}

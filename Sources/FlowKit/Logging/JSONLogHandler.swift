import Foundation
import Logging

/// Writes each log record as one JSON object on one line (standard output by default), so log
/// shippers can parse them without guessing at formats.
///
/// A record carries `ts` (RFC 3339, UTC, milliseconds), `level`, `logger`, `msg`, then the merged
/// metadata (handler, provider and call site, later wins) as top-level keys. Request handlers put
/// `request_id` and `trace_id` into their logger's metadata, so every line written while serving
/// a request names it.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    private let label: String
    private let sink: LogSink

    public init(label: String, level: Logger.Level, sink: LogSink = .standardOutput, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.sink = sink
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let callSite = event.metadata {
            merged.merge(callSite) { _, new in new }
        }
        if let error = event.error, merged["error"] == nil {
            merged["error"] = .string(String(describing: error))
        }

        var line = "{\"ts\":"
        JSONText.appendString(Self.timestamp(Date()), to: &line)
        line += ",\"level\":"
        JSONText.appendString(event.level.rawValue, to: &line)
        line += ",\"logger\":"
        JSONText.appendString(label, to: &line)
        line += ",\"msg\":"
        JSONText.appendString(event.message.description, to: &line)
        // Hummingbird stores the request id under its own key; Flow's middleware sets both to the
        // same value, so print it once.
        if merged["request_id"] != nil { merged["hb.request.id"] = nil }
        for key in merged.keys.sorted() where !Self.reservedKeys.contains(key) {
            line += ","
            JSONText.appendString(key, to: &line)
            line += ":"
            Self.append(merged[key]!, to: &line)
        }
        if event.level >= .warning {
            line += ",\"source\":"
            JSONText.appendString("\(event.source)/\((event.file as NSString).lastPathComponent):\(event.line)", to: &line)
        }
        line += "}\n"
        sink.write(line)
    }

    private static let reservedKeys: Set<String> = ["ts", "level", "logger", "msg"]

    private static func append(_ value: Logger.Metadata.Value, to out: inout String) {
        switch value {
        case .string(let string):
            JSONText.appendString(string, to: &out)
        case .stringConvertible(let convertible):
            JSONText.appendString(convertible.description, to: &out)
        case .array(let values):
            out += "["
            for (index, element) in values.enumerated() {
                if index > 0 { out += "," }
                append(element, to: &out)
            }
            out += "]"
        case .dictionary(let dictionary):
            out += "{"
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                JSONText.appendString(key, to: &out)
                out += ":"
                append(dictionary[key]!, to: &out)
            }
            out += "}"
        }
    }

    /// `2026-11-23T18:05:03.123Z`, formatted by hand: Foundation's ISO 8601 style is a
    /// noticeable share of a request's CPU when every request writes a log line.
    static func timestamp(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        let milliseconds = Int((interval - Double(seconds)) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(milliseconds), 3))Z"
    }
}

/// Where log lines go. Each line is written with a single `write(2)`-sized call so concurrent
/// writers never interleave inside a line.
public struct LogSink: Sendable {
    let write: @Sendable (String) -> Void

    public init(write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    /// Unbuffered writes to file descriptor 1: a line is never held back in a buffer, and a
    /// single `write(2)` per line keeps lines whole when written from several threads.
    public static let standardOutput = LogSink { line in
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }

    public func write(_ line: String) {
        write(line)
    }
}

/// Minimal JSON string escaping (RFC 8259 §7), shared by the log handler and anything else that
/// writes JSON text by hand on a hot path.
public enum JSONText {
    public static func appendString(_ string: String, to out: inout String) {
        out += "\""
        // Fast path: most log text needs no escaping and is appended in one piece.
        if !string.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out += string
            out += "\""
            return
        }
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

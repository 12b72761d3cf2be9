import PostgresNIO

/// Writes each bind's type into a statement's text: `$1` becomes `($1::int8)`.
///
/// postgres-nio prepares a named statement without parameter types, so PostgreSQL would infer
/// them from the text, and an inferred type can differ from the bind's encoding (`capacity = $1`
/// infers `integer` for an 8-byte `Int`; a bare `$1` infers `text`). With the casts written in,
/// PostgreSQL assigns each parameter exactly the type an unnamed statement declares for it, so a
/// prepared statement means what the unnamed one did.
enum PostgresTypedPlaceholders {
    /// `sql` with its placeholders typed, or nil when the text holds something this scan does not
    /// read with certainty (a dollar-quoted string, a block comment, a backslash in a string, a
    /// `$` inside an identifier), when a placeholder is out of range or unused, or when a bind's
    /// type has no name here; the statement then runs unnamed, as without the cache.
    /// `types[i]` is the type of `$(i + 1)`, nil for a NULL (left uncast, as an unnamed statement
    /// leaves its type unspecified).
    static func typed(_ sql: String, types: [PostgresDataType?]) -> String? {
        var names: [String?] = []
        names.reserveCapacity(types.count)
        for type in types {
            guard let type else { names.append(nil); continue }
            guard let name = sqlNames[type] else { return nil }
            names.append(name)
        }
        var output: [UInt8] = []
        output.reserveCapacity(sql.utf8.count + types.count * 12)
        var used = [Bool](repeating: false, count: types.count)
        let bytes = Array(sql.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                // A quoted string or identifier, up to its closing quote (a doubled quote is part of it).
                var end = index + 1
                while true {
                    guard end < bytes.count else { return nil }
                    if byte == UInt8(ascii: "'") && bytes[end] == UInt8(ascii: "\\") { return nil }
                    if bytes[end] == byte {
                        if end + 1 < bytes.count && bytes[end + 1] == byte { end += 2; continue }
                        break
                    }
                    end += 1
                }
                output.append(contentsOf: bytes[index...end])
                index = end + 1
            case UInt8(ascii: "-") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "-"):
                let end = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                output.append(contentsOf: bytes[index..<end])
                index = end
            case UInt8(ascii: "/") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "*"):
                return nil
            case UInt8(ascii: "$"):
                if index > 0 && isIdentifierByte(bytes[index - 1]) { return nil }
                var end = index + 1
                var number = 0
                while end < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[end]) {
                    number = number * 10 + Int(bytes[end] - UInt8(ascii: "0"))
                    guard number <= types.count else { return nil }
                    end += 1
                }
                guard number >= 1 else { return nil }
                used[number - 1] = true
                if let name = names[number - 1] {
                    output.append(UInt8(ascii: "("))
                    output.append(contentsOf: bytes[index..<end])
                    output.append(contentsOf: "::\(name))".utf8)
                } else {
                    output.append(contentsOf: bytes[index..<end])
                }
                index = end
            default:
                output.append(byte)
                index += 1
            }
        }
        guard used.allSatisfy({ $0 }) else { return nil }
        return String(decoding: output, as: UTF8.self)
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "_") || byte >= 0x80
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// The types Flow binds, by the name a cast uses.
    private static let sqlNames: [PostgresDataType: String] = [
        .bool: "boolean", .bytea: "bytea", .int2: "int2", .int4: "int4", .int8: "int8",
        .float4: "float4", .float8: "float8", .numeric: "numeric", .text: "text", .varchar: "varchar",
        .uuid: "uuid", .date: "date", .timestamp: "timestamp", .timestamptz: "timestamptz",
        .json: "json", .jsonb: "jsonb",
        .boolArray: "boolean[]", .int4Array: "int4[]", .int8Array: "int8[]", .float8Array: "float8[]",
        .textArray: "text[]", .uuidArray: "uuid[]",
    ]
}

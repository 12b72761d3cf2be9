import SQLKit

extension SQLRow {
    /// The value of `column`, or nil when it is NULL. Use it instead of
    /// `decode(column:as: T?.self)`: both drivers convert plain types directly but send an
    /// `Optional` through a generic `Decoder` detour, which showed up in profiles of list pages
    /// (a dozen nullable columns per event row). Inlinable, so callers get it specialized: an
    /// unspecialized `T?` costs a metadata lookup per call.
    @inlinable
    public func decodeOptional<T: Decodable>(column: String, as type: T.Type) throws -> T? {
        try decodeNil(column: column) ? nil : decode(column: column, as: type)
    }
}

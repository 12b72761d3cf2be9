extension String {
    /// The length JSON Schema's `minLength`/`maxLength` mean: Unicode code points, not the
    /// grapheme clusters `count` gives, so limits agree with the OpenAPI document.
    public var codePointCount: Int { unicodeScalars.count }
}

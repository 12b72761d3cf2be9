/// The one rule for coordinates users send: latitude within ±90, longitude within ±180, finite.
public enum CoordinateRules {
    /// Problems with whichever of the two is given; fields are `<prefix>.latitude` / `.longitude`
    /// (or bare names with an empty prefix).
    public static func problems(latitude: Double?, longitude: Double?, prefix: String) -> [FieldProblem] {
        var problems: [FieldProblem] = []
        let dot = prefix.isEmpty ? "" : prefix + "."
        if let latitude, !(latitude.isFinite && (-90...90).contains(latitude)) {
            problems.append(FieldProblem(field: dot + "latitude", problem: "must be between -90 and 90"))
        }
        if let longitude, !(longitude.isFinite && (-180...180).contains(longitude)) {
            problems.append(FieldProblem(field: dot + "longitude", problem: "must be between -180 and 180"))
        }
        return problems
    }
}

import Foundation

public struct Coordinate: Sendable, Equatable {
    public let latitude: Double
    public let longitude: Double
}

/// A latitude/longitude rectangle around a circle, for the spatial indexes.
struct BoundingBox: Sendable {
    let minLatitude: Double
    let maxLatitude: Double
    let minLongitude: Double
    let maxLongitude: Double

    /// The box enclosing a circle of `radiusKm` around `center`. Near the poles the longitude
    /// span grows to the whole circle; a box crossing the antimeridian is clamped at ±180
    /// (events just across it are missed, a known limit).
    init(around center: Coordinate, radiusKm: Double) {
        let latitudeSpan = radiusKm / Geo.kilometresPerDegree
        minLatitude = max(-90, center.latitude - latitudeSpan)
        maxLatitude = min(90, center.latitude + latitudeSpan)
        let scale = cos(center.latitude * .pi / 180)
        let longitudeSpan = scale < 0.01 ? 180 : min(180, latitudeSpan / scale)
        minLongitude = max(-180, center.longitude - longitudeSpan)
        maxLongitude = min(180, center.longitude + longitudeSpan)
    }
}

enum Geo {
    static let earthRadiusKm = 6371.0088
    static let kilometresPerDegree = earthRadiusKm * .pi / 180

    /// Great-circle distance (haversine).
    static func distanceKm(_ a: Coordinate, _ b: Coordinate) -> Double {
        let lat1 = a.latitude * .pi / 180, lat2 = b.latitude * .pi / 180
        let dLat = lat2 - lat1, dLng = (b.longitude - a.longitude) * .pi / 180
        let h = sin(dLat / 2) * sin(dLat / 2) + cos(lat1) * cos(lat2) * sin(dLng / 2) * sin(dLng / 2)
        return 2 * earthRadiusKm * asin(min(1, sqrt(h)))
    }
}

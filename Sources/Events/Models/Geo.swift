import Foundation

public struct Coordinate: Sendable, Equatable {
    public let latitude: Double
    public let longitude: Double
}

/// A latitude/longitude rectangle, for the spatial indexes.
struct BoundingBox: Sendable, Equatable {
    let minLatitude: Double
    let maxLatitude: Double
    let minLongitude: Double
    let maxLongitude: Double

    /// The rectangles enclosing a circle of `radiusKm` around `center`: one, or two when the
    /// circle crosses the antimeridian (one each side of ±180°). Near the poles the longitude
    /// span grows to the whole circle.
    static func covering(_ center: Coordinate, radiusKm: Double) -> [BoundingBox] {
        let latitudeSpan = radiusKm / Geo.kilometresPerDegree
        let minLatitude = max(-90, center.latitude - latitudeSpan)
        let maxLatitude = min(90, center.latitude + latitudeSpan)
        let scale = cos(center.latitude * .pi / 180)
        let longitudeSpan = scale < 0.01 ? 180 : min(180, latitudeSpan / scale)
        func box(_ west: Double, _ east: Double) -> BoundingBox {
            BoundingBox(minLatitude: minLatitude, maxLatitude: maxLatitude, minLongitude: west, maxLongitude: east)
        }
        let west = center.longitude - longitudeSpan, east = center.longitude + longitudeSpan
        if longitudeSpan >= 180 { return [box(-180, 180)] }
        if west < -180 { return [box(-180, east), box(west + 360, 180)] }
        if east > 180 { return [box(west, 180), box(-180, east - 360)] }
        return [box(west, east)]
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

    /// The straight-line distance through the unit sphere between two points `km` apart on the
    /// surface: what PostgreSQL's nearby index measures (``DiscoveryStore/unitVector(table:)``). It grows
    /// with the great-circle distance, so nearest by chord is nearest on the Earth.
    static func chord(km: Double) -> Double {
        2 * sin(min(km / earthRadiusKm, .pi) / 2)
    }
}

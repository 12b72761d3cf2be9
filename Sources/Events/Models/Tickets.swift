import FlowKit
import Foundation

/// A kind of ticket for an event: a price in minor units of an ISO 4217 currency, a quantity
/// and an optional sales window. Payment is out of scope: a reservation is the record.
public struct TicketTierView: Sendable, Codable, Equatable {
    public let id: String
    public let eventId: String
    public let name: String
    public let priceMinor: Int
    public let currency: String
    public let quantity: Int
    public let remaining: Int
    @ExplicitNull public var salesStart: Date?
    @ExplicitNull public var salesEnd: Date?
    /// True when now is inside the sales window and tickets remain.
    public let onSale: Bool

    static let schema: JSONValue = [
        "type": "object",
        "required": ["id", "eventId", "name", "priceMinor", "currency", "quantity", "remaining", "salesStart", "salesEnd", "onSale"],
        "properties": [
            "id": ["type": "string"], "eventId": ["type": "string"], "name": ["type": "string"],
            "priceMinor": ["type": "integer", "description": "Price in the currency's minor unit (cents)."],
            "currency": ["type": "string", "pattern": "^[A-Z]{3}$"], "quantity": ["type": "integer"], "remaining": ["type": "integer"],
            "salesStart": ["type": ["string", "null"], "format": "date-time"], "salesEnd": ["type": ["string", "null"], "format": "date-time"],
            "onSale": ["type": "boolean"],
        ],
    ]
}

public struct TicketTierInput: Decodable, Sendable {
    let name: String
    let priceMinor: Int
    let currency: String
    let quantity: Int
    let salesStart: Date?
    let salesEnd: Date?

    static let schema: JSONValue = [
        "type": "object", "required": ["name", "priceMinor", "currency", "quantity"],
        "properties": [
            "name": ["type": "string", "minLength": 1, "maxLength": 80],
            "priceMinor": ["type": "integer", "minimum": 0, "maximum": 100_000_000],
            "currency": ["type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217, e.g. EUR."],
            "quantity": ["type": "integer", "minimum": 1, "maximum": 1_000_000],
            "salesStart": ["type": ["string", "null"], "format": "date-time"], "salesEnd": ["type": ["string", "null"], "format": "date-time"],
        ],
    ]

    var problems: [FieldProblem] {
        var problems = Validate.text(name, field: "name", max: 80)
        if !(0...100_000_000).contains(priceMinor) { problems.append(FieldProblem(field: "priceMinor", problem: "must be 0–100000000 (minor units)")) }
        if !(currency.count == 3 && currency.allSatisfy { $0.isASCII && $0.isUppercase } && Locale.commonISOCurrencyCodes.contains(currency)) {
            problems.append(FieldProblem(field: "currency", problem: "must be an ISO 4217 code such as EUR"))
        }
        if !(1...1_000_000).contains(quantity) { problems.append(FieldProblem(field: "quantity", problem: "must be 1–1000000")) }
        if let salesStart, let salesEnd, salesEnd <= salesStart { problems.append(FieldProblem(field: "salesEnd", problem: "must be after salesStart")) }
        return problems
    }
}

public struct ReservationView: Sendable, Codable, Equatable {
    public let id: String
    public let tierId: String
    public let eventId: String
    public let quantity: Int
    public let status: String
    public let totalMinor: Int
    public let currency: String
    public let createdAt: Date

    static let schema: JSONValue = [
        "type": "object", "required": ["id", "tierId", "eventId", "quantity", "status", "totalMinor", "currency", "createdAt"],
        "properties": [
            "id": ["type": "string"], "tierId": ["type": "string"], "eventId": ["type": "string"], "quantity": ["type": "integer"],
            "status": ["type": "string", "enum": ["reserved", "cancelled"]], "totalMinor": ["type": "integer"],
            "currency": ["type": "string"], "createdAt": ["type": "string", "format": "date-time"],
        ],
    ]
}

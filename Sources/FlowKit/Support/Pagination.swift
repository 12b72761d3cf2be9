import Foundation
import Hummingbird

/// Cursor pagination, the one way lists page: `?limit=` (default 20, at most 100) and an opaque
/// `?cursor=` taken from the previous page's `nextCursor`. A cursor encodes the sort key of the
/// last item returned, so pages stay stable while rows are added.
public struct PageRequest: Sendable {
    public static let defaultLimit = 20
    public static let maximumLimit = 100

    public let limit: Int
    /// The sort-key values of the last item of the previous page, or nil for the first page.
    public let after: [String]?

    public init(limit: Int = PageRequest.defaultLimit, after: [String]? = nil) {
        self.limit = limit
        self.after = after
    }

    /// Reads `limit` and `cursor` from the query string; bad values are a 422 naming the parameter.
    public init(request: Request) throws(APIError) {
        let parameters = request.uri.queryParameters
        var limit = Self.defaultLimit
        if let raw = parameters["limit"] {
            guard let value = Int(String(raw)), (1...Self.maximumLimit).contains(value) else {
                throw APIError.validation(field: "limit", "must be a whole number from 1 to \(Self.maximumLimit)")
            }
            limit = value
        }
        var after: [String]?
        if let raw = parameters["cursor"], !raw.isEmpty {
            guard let decoded = Self.decode(cursor: String(raw)) else {
                throw APIError.validation(field: "cursor", "is not a cursor returned by this list")
            }
            after = decoded
        }
        self.init(limit: limit, after: after)
    }

    public static func encodeCursor(_ values: [String]) -> String {
        let data = (try? FlowJSON.encoder.encode(values)) ?? []
        return Base64URL.encode(Data(data))
    }

    public static func decode(cursor text: String) -> [String]? {
        guard let data = Base64URL.decode(text), let json = String(validating: data, as: UTF8.self) else { return nil }
        return FlowJSON.strings(json)
    }

    public static let openAPIParameters: [APIOperation.Parameter] = [
        .query("limit", "Items per page, 1–100 (default 20).", schema: ["type": "integer", "minimum": 1, "maximum": 100]),
        .query("cursor", "`nextCursor` of the previous page."),
    ]
}

/// One page of a list: the items and, when more follow, the cursor of the next page.
public struct Page<Item: Encodable & Sendable>: Encodable, Sendable, ResponseEncodable {
    public let items: [Item]
    /// Null on the last page (present, not absent).
    @ExplicitNull public var nextCursor: String?

    /// A page whose cursor was worked out by the caller (when rows are filtered after fetching).
    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    /// Builds the page from up to `limit + 1` fetched rows: the extra row only says more follow.
    public init(fetched: [Item], limit: Int, cursorOf: (Item) -> [String]) {
        let items = Array(fetched.prefix(limit))
        self.items = items
        self.nextCursor = fetched.count > limit ? items.last.map { PageRequest.encodeCursor(cursorOf($0)) } : nil
    }

    /// The OpenAPI schema of a page of `itemSchema`.
    public static func schema(of itemSchema: JSONValue) -> JSONValue {
        [
            "type": "object", "required": ["items", "nextCursor"],
            "properties": [
                "items": ["type": "array", "items": itemSchema],
                "nextCursor": ["type": ["string", "null"], "description": "Pass as `cursor` for the next page; null on the last page."],
            ],
        ]
    }
}

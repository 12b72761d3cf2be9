import FlowKit
import Foundation

/// Field rules shared by Events' inputs.
enum Validate {
    static func text(_ value: String, field: String, max: Int) -> [FieldProblem] {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty || value.codePointCount > max ? [FieldProblem(field: field, problem: "must be 1–\(max) characters")] : []
    }

    static func optionalText(_ value: String?, field: String, max: Int) -> [FieldProblem] {
        guard let value else { return [] }
        return value.codePointCount > max ? [FieldProblem(field: field, problem: "must be at most \(max) characters")] : []
    }


    /// Tags are lowercase words: trimmed, lowercased, deduplicated; at most 10 of 1–30 characters.
    static func tags(_ raw: [String], problems: inout [FieldProblem]) -> [String] {
        var seen = Set<String>()
        let tags = raw.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { seen.insert($0).inserted }
        if tags.count > 10 { problems.append(FieldProblem(field: "tags", problem: "at most 10")) }
        for (index, tag) in tags.enumerated() where tag.isEmpty || tag.codePointCount > 30 || tag.contains(",") {
            problems.append(FieldProblem(field: "tags[\(index)]", problem: "must be 1–30 characters without commas"))
        }
        return tags
    }
}

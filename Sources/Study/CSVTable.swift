import Checkpoints
import Foundation

/// A small CSV table (header + rows, comma-separated, no quoting: the study's files hold
/// numbers and plain names only).
public struct CSVTable: Sendable {
    /// The column names.
    public var columns: [String]
    /// The rows, by column name.
    public var rows: [[String: String]]

    /// Parses CSV text, its lines split by ``/Checkpoints/TextFile/lines(of:)`` (so `\r\n` ends a line as `\n`
    /// does); blank lines are skipped. `path` names the file in errors.
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` for an empty file, an empty or repeated
    ///   column name, or a row whose field count differs from the header's (naming the line).
    public static func parse(_ text: String, path: String) throws -> CSVTable {
        let lines = TextFile.lines(of: text).lines.enumerated().map { ($0 + 1, $1.trimmingCharacters(in: .whitespaces)) }.filter { !$0.1.isEmpty }
        guard let (_, head) = lines.first else { throw StudyError.corruptFile(path: path, reason: "is empty (no CSV header)") }
        let columns = head.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if let k = columns.firstIndex(of: "") {
            throw StudyError.corruptFile(path: path, reason: "column \(k + 1) of the header has an empty name")
        }
        var seen = Set<String>()
        for name in columns where !seen.insert(name).inserted {
            throw StudyError.corruptFile(path: path, reason: "the header names the column '\(name)' twice")
        }
        var rows: [[String: String]] = []
        for (number, line) in lines.dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == columns.count else {
                throw StudyError.corruptFile(path: path, reason: "line \(number) has \(fields.count) fields, the header has \(columns.count)")
            }
            rows.append(Dictionary(uniqueKeysWithValues: zip(columns, fields)))
        }
        return CSVTable(columns: columns, rows: rows)
    }

    /// Reads a CSV file (``/Checkpoints/TextFile/read(_:maximumBytes:)``).
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` if it is missing, cannot be read (naming
    ///   why: a directory, FIFO or device, not UTF-8, …) or is malformed.
    public static func read(_ url: URL) throws -> CSVTable {
        guard let table = try readIfPresent(url) else { throw StudyError.corruptFile(path: url.path, reason: "does not exist") }
        return table
    }

    /// Reads a CSV file, or `nil` if nothing is at its path.
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` if it exists but cannot be read or is malformed.
    public static func readIfPresent(_ url: URL) throws -> CSVTable? {
        do { return try TextFile.readIfPresent(url).map { try parse($0, path: url.path) } } catch let error as TextFileError {
            throw StudyError.corruptFile(path: error.path, reason: error.problem)
        }
    }

    /// The CSV text (header and rows, missing fields empty).
    public var text: String {
        ([columns.joined(separator: ",")] + rows.map { r in columns.map { r[$0] ?? "" }.joined(separator: ",") }).joined(separator: "\n") + "\n"
    }

    /// A column's values as numbers ("nan" and unparsable fields become NaN).
    public func numbers(_ column: String) -> [Double] { rows.map { Double($0[column] ?? "") ?? .nan } }

    /// Replaces the rows of one run in a CSV file (creating it), atomically: the rows for which
    /// `belongs` holds go, `newRows` are appended.
    ///
    /// A file of an earlier version may lack columns added since: its rows get `added[column]`
    /// there, or "nan" (a study's files before the `seed` column get the seed of its one run per
    /// configuration).
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` for a malformed existing file or one with columns not in `columns`; I/O errors.
    static func replaceRows(in url: URL, columns: [String], added: [String: String] = [:], where belongs: ([String: String]) -> Bool,
                            with newRows: [[String: String]]) throws {
        var table = try readIfPresent(url) ?? CSVTable(columns: columns, rows: [])
        guard Set(table.columns).isSubset(of: columns) else {
            throw StudyError.corruptFile(path: url.path, reason: "has other columns than expected (\(columns.joined(separator: ",")))")
        }
        if table.columns != columns {
            let missing = columns.filter { !table.columns.contains($0) }
            table = CSVTable(columns: columns, rows: table.rows.map { r in r.merging(missing.map { ($0, added[$0] ?? "nan") }) { old, _ in old } })
        }
        table.rows.removeAll(where: belongs)
        table.rows += newRows
        try AtomicFile.write(table.text, to: url)
    }
}

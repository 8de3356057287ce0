/// The pieces of an HTML report page: a head with the report style, escaped text, Markdown
/// code spans, tables and a grid of figures. Every function returns HTML text.
public enum HTML {
    /// The start of a page up to and including `<body>`: UTF-8, the title (escaped) and the report style.
    public static func pageStart(title: String) -> String {
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>\(escape(title))</title>\n"
            + "<style>body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee;margin:4px}.grid{display:flex;flex-wrap:wrap}</style></head><body>\n"
    }

    /// The end of a page.
    public static let pageEnd = "</body></html>\n"

    /// `s` with `&`, `<` and `>` escaped.
    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Markdown `code` spans as `<code>` elements (on already escaped text).
    public static func codeSpans(_ s: String) -> String {
        let parts = s.split(separator: "`", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return s }
        return parts.enumerated().map { $0.offset % 2 == 1 && $0.offset < parts.count - 1 ? "<code>\($0.element)</code>" : String($0.element) }.joined()
    }

    /// A table with a header row; cells are escaped.
    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        "<table><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n" + rows.map { "<tr>" + $0.map { "<td>\(escape($0))</td>" }.joined() + "</tr>" }.joined(separator: "\n") + "</table>\n"
    }
}

/// Markdown pieces of a report.
public enum Markdown {
    /// A pipe table with a header row (cells as given).
    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        "| " + header.joined(separator: " | ") + " |\n|" + header.map { _ in "---" }.joined(separator: "|") + "|\n" + rows.map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n") + "\n"
    }
}

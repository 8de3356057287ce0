/// The pieces of an HTML report page: a head with the report style, escaped text, Markdown
/// code spans, tables and a grid of figures. Every function returns HTML text.
///
/// The page is responsive: a viewport for phones; figures (inline SVG that scales with its box)
/// in a grid of as many columns of at least ``figureMinimumWidth`` px as fit (3 at 1300 px, 1 at
/// 400 px); each table scrolls horizontally inside its own box instead of being cut off.
public enum HTML {
    /// The narrowest column of the figure grid, in CSS px. A figure drawn ``SVGPlot/defaultWidth``
    /// wide is shown at no less than 75 % of it on a 400 px screen, so its 15 px text stays ≥ 11 px.
    public static let figureMinimumWidth = 380

    /// The report style (one place for every page: the study's and a run's report).
    static let style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;line-height:1.45;max-width:1400px;margin:0 auto;padding:0 12px 2em;color:#222}
        h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em}
        .table-wrap{overflow-x:auto;max-width:100%;margin:1em 0}
        table{border-collapse:collapse;font-size:0.92em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;white-space:nowrap}td:first-child,th:first-child{text-align:left}
        .figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,\(figureMinimumWidth)px),1fr));gap:16px;margin:1em 0}
        figure{margin:0;min-width:0;border:1px solid #e4e4e4;border-radius:4px;padding:6px;background:#fff}
        figure svg,figure img{display:block;width:100%;height:auto}
        figcaption{font-size:0.9em;color:#333;margin-top:4px}
        .note{background:#f6f8fa;border-left:4px solid #8aa;padding:6px 10px}
        code{font-size:0.92em;overflow-wrap:anywhere}
        """

    /// The start of a page up to and including `<body>`: UTF-8, the viewport, the title (escaped) and the report style.
    public static func pageStart(title: String) -> String {
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            + "<title>\(escape(title))</title>\n<style>\n\(style)\n</style></head><body>\n"
    }

    /// The end of a page.
    public static let pageEnd = "</body></html>\n"

    /// `s` with `&`, `<`, `>`, `"` and `'` escaped as character references, so that it is safe as
    /// text and inside an attribute value quoted either way (HTML and SVG, which is XML).
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// `s` escaped, with sub/superscripts (``ScriptText``: `λ_max`, `S_ε^max`) as `<sub>`/`<sup>`.
    public static func rich(_ s: String) -> String {
        ScriptText.segments(s).map { piece, position in
            switch position {
            case .normal: escape(piece)
            case .sub: "<sub>\(escape(piece))</sub>"
            case .sup: "<sup>\(escape(piece))</sup>"
            }
        }.joined()
    }

    /// Markdown `code` spans as `<code>` elements (on already escaped text).
    public static func codeSpans(_ s: String) -> String {
        let parts = s.split(separator: "`", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return s }
        return parts.enumerated().map { $0.offset % 2 == 1 && $0.offset < parts.count - 1 ? "<code>\($0.element)</code>" : String($0.element) }.joined()
    }

    /// A paragraph of text with Markdown code spans (their text kept as is) and sub/superscripts
    /// elsewhere (``rich(_:)``).
    public static func paragraph(_ text: String, class name: String? = nil) -> String {
        "<p\(name.map { " class=\"\($0)\"" } ?? "")>\(inline(text))</p>\n"
    }

    /// Text with Markdown code spans as `<code>` (their text kept as is) and sub/superscripts
    /// elsewhere (``rich(_:)``): the body of a paragraph, caption or table cell.
    public static func inline(_ text: String) -> String {
        let parts = text.split(separator: "`", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3 else { return rich(text) }
        return parts.enumerated().map { $0.offset % 2 == 1 && $0.offset < parts.count - 1 ? "<code>\(escape($0.element))</code>" : rich($0.element) }.joined()
    }

    /// A table with a header row, in a box that scrolls horizontally; cells are escaped, with
    /// code spans and sub/superscripts (``inline(_:)``).
    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        "<div class=\"table-wrap\"><table><tr>" + header.map { "<th>\(inline($0))</th>" }.joined() + "</tr>\n"
            + rows.map { "<tr>" + $0.map { "<td>\(inline($0))</td>" }.joined() + "</tr>" }.joined(separator: "\n") + "</table></div>\n"
    }

    /// One figure of the grid: the SVG inline (so it scales with the column) and its caption.
    /// `name` is its file name (`data-figure`, and the anchor `fig-NAME` without the extension).
    public static func figure(name: String, svg: String, caption: String) -> String {
        let id = "fig-" + (name.hasSuffix(".svg") ? String(name.dropLast(4)) : name)
        return "<figure id=\"\(escape(id))\" data-figure=\"\(escape(name))\">\n\(svg)<figcaption>\(inline(caption))</figcaption></figure>\n"
    }

    /// A grid of figures (``figure(name:svg:caption:)``'s output).
    public static func figureGrid(_ figures: [String]) -> String {
        figures.isEmpty ? "" : "<div class=\"figures\">\n" + figures.joined() + "</div>\n"
    }
}

/// Markdown pieces of a report.
public enum Markdown {
    /// A pipe table with a header row (cells as given).
    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        "| " + header.joined(separator: " | ") + " |\n|" + header.map { _ in "---" }.joined(separator: "|") + "|\n" + rows.map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n") + "\n"
    }
}

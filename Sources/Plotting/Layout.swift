import Foundation

/// Text with sub- and superscripts written as in the project's labels: `λ_max`, `S_ε^max`,
/// `2/η_c`, `E_{B}`. A script applies where its base is a single letter (the character before `_`
/// or `^` is a letter and the one before that is not a letter or digit) or closes a script
/// (`S_ε^max`), and always in the braced form (`H_{B}`); it runs to `{…}`'s end or over the
/// following letters and digits. Identifiers
/// such as `train_loss` or `lambda_max` (multi-letter bases) stay as they are.
public enum ScriptText {
    /// Where a piece of text sits.
    public enum Position: Sendable, Equatable {
        /// On the baseline.
        case normal
        /// A subscript (`_`).
        case sub
        /// A superscript (`^`).
        case sup
    }

    /// The pieces of `text` in order (empty pieces left out).
    public static func segments(_ text: String) -> [(text: String, position: Position)] {
        let chars = Array(text)
        var out: [(String, Position)] = []
        var current = "", k = 0
        var lastWasScript = false
        func isWordChar(_ c: Character) -> Bool { c.isLetter || (c.isASCII && c.isNumber) }
        while k < chars.count {
            let c = chars[k]
            if (c == "_" || c == "^"), k + 1 < chars.count {
                let before = k >= 1 ? chars[k - 1] : " "
                let beforeBefore = k >= 2 ? chars[k - 2] : " "
                let singleLetterBase = before.isLetter && !isWordChar(beforeBefore) && !current.isEmpty
                if singleLetterBase || (lastWasScript && current.isEmpty) || chars[k + 1] == "{" {
                    var script = "", j = k + 1
                    if chars[j] == "{" {
                        j += 1
                        while j < chars.count, chars[j] != "}" { script.append(chars[j]); j += 1 }
                        j += 1
                    } else {
                        while j < chars.count, isWordChar(chars[j]) { script.append(chars[j]); j += 1 }
                    }
                    if !script.isEmpty {
                        if !current.isEmpty { out.append((current, .normal)); current = "" }
                        out.append((script, c == "_" ? .sub : .sup))
                        k = j
                        lastWasScript = true
                        continue
                    }
                }
            }
            current.append(c)
            lastWasScript = false
            k += 1
        }
        if !current.isEmpty { out.append((current, .normal)) }
        return out
    }

    /// The text as it reads without markup: `S_ε^max` → `Sεmax` (for sizing).
    static func plain(_ text: String) -> String { segments(text).map(\.text).joined() }
}

extension SVGPlot {
    /// The dash pattern of a line. One convention holds in every figure (``lineStyleConvention``):
    /// solid for the training split or the measured quantity, dashed for the validation split,
    /// dotted for the test split, dash-dot for a reference line (a stability limit, 2/η, y = x).
    public enum LineStyle: String, Sendable, CaseIterable {
        /// Training split, or the measured quantity.
        case solid
        /// Validation split (or a model beside the data, e.g. a Taylor polynomial).
        case dashed
        /// Test split.
        case dotted
        /// A reference line.
        case dashDot

        /// The SVG `stroke-dasharray` attribute (with its leading space), empty for solid lines.
        var attribute: String {
            switch self {
            case .solid: ""
            case .dashed: " stroke-dasharray=\"7 4\""
            case .dotted: " stroke-dasharray=\"1.5 3\" stroke-linecap=\"round\""
            case .dashDot: " stroke-dasharray=\"9 3 2 3\""
            }
        }
    }

    /// The line-style convention of every figure, as the report states it.
    public static let lineStyleConvention = "Line styles in every figure: solid = training split (or the measured quantity), dashed = validation split, dotted = test split, dash-dot = a reference line (stability limit, 2/η, y = x)."

    /// One legend entry: a swatch (a line in `style`, or a ring) and its label.
    public struct LegendEntry: Sendable {
        /// The label (sub/superscripts as ``ScriptText``).
        public let name: String
        /// An SVG colour.
        public let color: String
        /// The swatch's line style.
        public let style: LineStyle
        /// Whether the swatch is a ring (points flagged by a ring-only series).
        public let ring: Bool
        /// An entry labelled `name`.
        public init(name: String, color: String, style: LineStyle = .solid, ring: Bool = false) {
            self.name = name; self.color = color; self.style = style; self.ring = ring
        }
    }

    /// The type sizes and the default figure width, in SVG units: a figure shown at 75 % of its
    /// width (a 400 px phone) still has text of at least 11 px.
    static let fontSize = 15.0, titleSize = 16.0, scriptScale = 0.8
    /// The default width of every figure (the report's grid shows 2–3 per row at 1300 px).
    public static let defaultWidth = 480.0
    /// Average advance of a character at ``fontSize`` (for sizing legends and wrapping titles).
    static let charWidth = 8.0

    /// A `<text>` element with `text` (escaped; sub/superscripts as `<tspan>`s shifted with `dy`).
    static func text(_ text: String, x: Double, y: Double, anchor: String? = nil, size: Double? = nil, extra: String = "") -> String {
        var s = "<text x=\"\(f2(x))\" y=\"\(f2(y))\""
        if let anchor { s += " text-anchor=\"\(anchor)\"" }
        if let size { s += " font-size=\"\(f2(size))\"" }
        return s + extra + ">" + rich(text, size: size ?? fontSize) + "</text>"
    }

    /// `text` escaped, with sub/superscripts as `<tspan>`s (baseline restored after each).
    static func rich(_ text: String, size: Double) -> String {
        var out = "", offset = 0.0
        for (piece, position) in ScriptText.segments(text) {
            let target: Double = position == .sub ? 0.3 * size : (position == .sup ? -0.4 * size : 0)
            let dy = target - offset
            offset = target
            if position == .normal {
                out += dy == 0 ? escape(piece) : "<tspan dy=\"\(f2(dy))\">\(escape(piece))</tspan>"
            } else {
                out += "<tspan dy=\"\(f2(dy))\" font-size=\"\(f2(size * scriptScale))\">\(escape(piece))</tspan>"
            }
        }
        // A closing empty tspan is not needed: the baseline of the next <text> is absolute.
        return out
    }

    static func f2(_ v: Double) -> String { String(format: "%.2f", v) }

    /// `text` broken into lines of at most `maxChars` characters at spaces (a longer word stays whole).
    static func wrap(_ text: String, maxChars: Int) -> [String] {
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            let candidate = line.isEmpty ? word : line + " " + word
            if ScriptText.plain(candidate).count > maxChars, !line.isEmpty { lines.append(line); line = word } else { line = candidate }
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }

    /// The SVG start tag (with a `viewBox`, so the figure scales in a page), a white background and
    /// the title wrapped to the width, centred at `centre`.
    /// - Returns: the text and the height the title takes.
    static func header(width: Double, height: Double, title: String, centre: Double) -> (String, Double) {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"\(Int(fontSize))\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        let lines = titleLines(title, width: width)
        for (k, line) in lines.enumerated() {
            s += text(line, x: centre, y: 20 + Double(k) * (titleSize + 4), anchor: "middle", size: titleSize, extra: " font-weight=\"bold\"") + "\n"
        }
        return (s, titleHeight(lines.count))
    }

    static func titleLines(_ title: String, width: Double) -> [String] {
        wrap(title, maxChars: max(20, Int((width - 16) / (charWidth * titleSize / fontSize))))
    }

    static func titleHeight(_ lines: Int) -> Double { 14 + Double(lines) * (titleSize + 4) }

    /// The height of a legend of `entries` below a plot of `width`.
    static func legendHeight(_ entries: [LegendEntry], width: Double) -> Double {
        entries.isEmpty ? 0 : Double(legendLayout(entries, width: width).rows) * 20 + 6
    }

    static func legendLayout(_ entries: [LegendEntry], width: Double) -> (columns: Int, columnWidth: Double, rows: Int, maxChars: Int) {
        let available = width - 16
        let longest = Double(entries.map { ScriptText.plain($0.name).count }.max() ?? 0)
        let entryWidth = min(available, 40 + charWidth * longest)
        let columns = max(1, min(entries.count, Int(available / entryWidth)))
        let maxChars = Int((available - 40) / charWidth)
        // A name longer than one line takes as many rows as its wrapped lines.
        let rowsPerEntry = entries.map { wrap($0.name, maxChars: maxChars).count }
        var rows = 0
        for start in stride(from: 0, to: entries.count, by: columns) {
            rows += rowsPerEntry[start..<min(start + columns, entries.count)].max() ?? 1
        }
        return (columns, available / Double(columns), rows, maxChars)
    }

    /// The legend of `entries` in rows of columns from y = `top` (a `<g data-legend>`).
    static func drawLegend(_ entries: [LegendEntry], top: Double, width: Double) -> String {
        guard !entries.isEmpty else { return "" }
        let layout = legendLayout(entries, width: width)
        var s = "<g data-legend=\"1\">\n"
        var y = top + 12
        for start in stride(from: 0, to: entries.count, by: layout.columns) {
            var rowLines = 1
            for (c, e) in entries[start..<min(start + layout.columns, entries.count)].enumerated() {
                let x = 8 + Double(c) * layout.columnWidth
                if e.ring {
                    s += "<circle cx=\"\(f2(x + 14))\" cy=\"\(f2(y))\" r=\"6\" fill=\"none\" stroke=\"\(e.color)\" stroke-width=\"1.5\"/>"
                } else {
                    s += "<line x1=\"\(f2(x))\" y1=\"\(f2(y))\" x2=\"\(f2(x + 30))\" y2=\"\(f2(y))\" stroke=\"\(e.color)\" stroke-width=\"2.5\"\(e.style.attribute)/>"
                }
                let lines = wrap(e.name, maxChars: layout.maxChars)
                for (k, line) in lines.enumerated() { s += text(line, x: x + 38, y: y + 5 + Double(k) * 20) }
                rowLines = max(rowLines, lines.count)
                s += "\n"
            }
            y += Double(rowLines) * 20
        }
        return s + "</g>\n"
    }
}

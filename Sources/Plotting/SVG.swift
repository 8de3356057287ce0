import Foundation

/// Minimal SVG figures for probes and reports: line plots and filled-contour maps with a colour
/// bar, with axis labels, ticks and legends. Pure text; no dependencies.
public enum SVGPlot {
    /// One line series.
    public struct Series: Sendable {
        /// The legend label (sub/superscripts as ``ScriptText``).
        public let name: String
        /// Abscissae.
        public let x: [Double]
        /// Ordinates (same count as `x`; non-finite points are skipped).
        public let y: [Double]
        /// An SVG colour, e.g. "#1f77b4".
        public let color: String
        /// The line's style (``LineStyle``); a reference series is always drawn dash-dot.
        public let style: LineStyle
        /// Whether the line is dashed.
        public var dashed: Bool { style == .dashed }
        /// Whether only ring markers are drawn (no line), e.g. to flag some points of another series.
        public let ringsOnly: Bool
        /// A shaded band around the line (e.g. the range over seeds), or `nil`.
        public let band: Band?
        /// Whether the series is a reference line (e.g. a stability limit): it widens the y axis by
        /// at most one decade (log axis) or the other series' span (linear axis) beyond the other
        /// series, and is drawn only where it lies inside the axes (a gap where it leaves them).
        public let reference: Bool
        /// A series named `name` through the points (x[i], y[i]), in `style` (default: dashed when
        /// `dashed`, else solid).
        public init(name: String, x: [Double], y: [Double], color: String, dashed: Bool = false, style: LineStyle? = nil, ringsOnly: Bool = false,
                    band: Band? = nil, reference: Bool = false) {
            self.name = name; self.x = x; self.y = y; self.color = color; self.style = reference ? .dashDot : (style ?? (dashed ? .dashed : .solid))
            self.ringsOnly = ringsOnly; self.band = band; self.reference = reference
        }

        /// Its legend entry.
        public var legendEntry: LegendEntry { LegendEntry(name: name, color: color, style: style, ring: ringsOnly) }
    }

    /// A band from `lower[i]` to `upper[i]` at the series' x[i], filled in the series' colour
    /// (opacity ``opacity``) under the lines. Points where either bound is not finite (or not
    /// positive on a log axis) split it into pieces.
    public struct Band: Sendable {
        /// The bounds, one per point of the series.
        public let lower: [Double], upper: [Double]
        /// The fill opacity of every band.
        public static let opacity = 0.18
        /// A band between `lower` and `upper`.
        public init(lower: [Double], upper: [Double]) { self.lower = lower; self.upper = upper }
    }

    static func escape(_ s: String) -> String { HTML.escape(s) }

    /// Up to `count` + 1 round ticks (1-2-5 steps) in [lo, hi], for any finite range: a range too
    /// narrow for two distinct ticks in floating point gets its two ends.
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = hi / Double(count) - lo / Double(count)
        let mag = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        guard step > 0, step.isFinite else { return [lo, hi] }
        let slack = 1e-9
        let first = Foundation.ceil(lo / step - slack), last = Foundation.floor(hi / step + slack)
        guard last >= first, last - first <= Double(2 * count + 2) else { return [lo, hi] }
        var out: [Double] = []
        for k in 0...Int(last - first) {
            let t = (first + Double(k)) * step
            if t >= lo - slack * step, t <= hi + slack * step, t != out.last { out.append(t) }
        }
        return out.count >= 2 ? out : [lo, hi]
    }

    /// Where `v` lies in [lo, hi] as a fraction (0 at lo, 1 at hi), computed in halves so that a
    /// range as wide as ±Double.greatestFiniteMagnitude does not overflow.
    static func fraction(_ v: Double, _ lo: Double, _ hi: Double) -> Double {
        (v / 2 - lo / 2) / (hi / 2 - lo / 2)
    }

    /// The axis range for data in [lo, hi]: the data's own, or, when it is empty or narrower than
    /// 10⁻¹² of its magnitude (values a few ulps apart), ±5% (at least ±0.5) around its centre.
    static func axisRange(_ lo: Double, _ hi: Double) -> (Double, Double) {
        if hi / 2 - lo / 2 > max(abs(lo), abs(hi)) * 0.5e-12 { return (lo, hi) }
        let c = lo / 2 + hi / 2, h = max(0.5, abs(c) * 0.05)
        return (c - h, c + h)
    }

    /// The SVG header, white background, the title (wrapped) centred over the plot area and the plot frame.
    static func frame(width: Double, height: Double, title: String, left: Double, top: Double, pw: Double, ph: Double) -> String {
        let (s, _) = header(width: width, height: height, title: title, centre: left + pw / 2)
        return s + "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
    }

    /// The top of the plot area under `title` wrapped to `width`.
    static func plotTop(title: String, width: Double) -> Double { titleHeight(titleLines(title, width: width).count) + 6 }

    /// The axis labels: x centred under the plot at `y`, y rotated at the left edge.
    static func axisLabels(xLabel: String, yLabel: String, left: Double, top: Double, pw: Double, ph: Double, xLabelY: Double) -> String {
        text(xLabel, x: left + pw / 2, y: xLabelY, anchor: "middle") + "\n"
            + text(yLabel, x: 0, y: 0, anchor: "middle", extra: " transform=\"translate(16 \(f2(top + ph / 2))) rotate(-90)\"") + "\n"
    }

    /// Tick positions (in log₁₀ units) for a log axis spanning [lo, hi] (log₁₀ values): whole
    /// decades when at least two fit, else 1-2-5 steps, else the linear ticks of the values.
    static func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let first = Int(Foundation.ceil(lo)), last = Int(Foundation.floor(hi))
        let decades = first <= last ? (first...last).map(Double.init) : []
        if decades.count >= 2 {
            let stride = max(1, decades.count / 6)
            return decades.enumerated().filter { $0.offset % stride == 0 }.map(\.element)
        }
        var out: [Double] = []
        for k in Int(Foundation.floor(lo))...Int(Foundation.ceil(hi)) {
            for m in [1.0, 2, 5] {
                let t = Foundation.log10(m) + Double(k)
                if t >= lo - 1e-12, t <= hi + 1e-12 { out.append(t) }
            }
        }
        if out.count >= 2 { return out }
        return ticks(Foundation.pow(10, lo), Foundation.pow(10, hi)).filter { $0 > 0 }.map { Foundation.log10($0) }
    }

    /// The label of a log-axis tick at log₁₀ value `t`.
    static func logLabel(_ t: Double) -> String {
        let v = Foundation.pow(10, t)
        if abs(t - t.rounded()) < 1e-9, abs(t) >= 3 { return "1e\(Int(t.rounded()))" }
        return label(v)
    }

    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e4 || a < 1e-3 { return String(format: "%.2g", v) }
        return String(format: "%g", (v * 1e6).rounded() / 1e6)
    }

    /// A line plot. `logY` plots log₁₀ of positive values (non-positive points are skipped);
    /// `markers` draws a dot at every point (useful for few points); `integerX` keeps only whole-number
    /// x ticks (epochs). Bands (``Band``, `<polygon data-band="NAME">`) are drawn first, then the
    /// lines; a reference series (``Series/reference``) is a `<g data-series="NAME">` of the
    /// pieces inside the axes. The legend (`legend`, default: one entry per series; none for a
    /// single series without one) goes below the plot, in as many columns as fit the width.
    public static func linePlot(title: String, xLabel: String, yLabel: String, series: [Series], logY: Bool = false,
                                markers: Bool = false, integerX: Bool = false, legend: [LegendEntry]? = nil,
                                width: Double = defaultWidth, height: Double = 340) -> String {
        let entries = legend ?? (series.count > 1 ? series.map(\.legendEntry) : [])
        let left = 74.0, right = 18.0, top = plotTop(title: title, width: width)
        let ph = height - 100, pw = width - left - right
        let legendTop = top + ph + 50
        let totalHeight = legendTop + legendHeight(entries, width: width) + 4
        func ty(_ v: Double) -> Double? { v.isFinite ? (logY ? (v > 0 ? Foundation.log10(v) : nil) : v) : nil }
        // Reference lines widen the data's axes by a bounded margin (or set them when there is nothing else).
        let ranged = series.contains { !$0.reference } ? series.filter { !$0.reference } : series
        let xs = ranged.flatMap(\.x).filter(\.isFinite)
        var ys = ranged.flatMap { $0.y.compactMap(ty) + ($0.band.map { $0.lower.compactMap(ty) + $0.upper.compactMap(ty) } ?? []) }
        if let lo = ys.min(), let hi = ys.max(), ranged.count < series.count {
            let margin = logY ? 1 : hi - lo
            ys += series.filter(\.reference).flatMap { $0.y.compactMap(ty) }.filter { $0 >= lo - margin && $0 <= hi + margin }
        }
        let (x0, x1) = axisRange(xs.min() ?? 0, xs.max() ?? 1)
        var (y0, y1) = axisRange(ys.min() ?? 0, ys.max() ?? 1)
        let pad = 0.05 * y1 - 0.05 * y0; y0 -= pad; y1 += pad
        func px(_ x: Double) -> Double { left + fraction(x, x0, x1) * pw }
        func py(_ y: Double) -> Double { top + (1 - fraction(y, y0, y1)) * ph }
        var s = frame(width: width, height: totalHeight, title: title, left: left, top: top, pw: pw, ph: ph)
        let xTicks = ticks(x0, x1)
        var shownX = integerX ? xTicks.filter { $0 == $0.rounded() } : xTicks
        if integerX, x1 - x0 < 5, abs(x0) < 0x1p52, abs(x1) < 0x1p52 {
            shownX += stride(from: Int(Foundation.ceil(x0)), through: Int(Foundation.floor(x1)), by: 1).map(Double.init).filter { !xTicks.contains($0) }
        }
        for t in shownX {
            s += "<line x1=\"\(px(t))\" y1=\"\(top + ph)\" x2=\"\(px(t))\" y2=\"\(top + ph + 5)\" stroke=\"#333\"/>"
            s += "<text x=\"\(px(t))\" y=\"\(top + ph + 20)\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        for t in logY ? logTicks(y0, y1) : ticks(y0, y1) {
            s += "<line x1=\"\(left - 5)\" y1=\"\(py(t))\" x2=\"\(left)\" y2=\"\(py(t))\" stroke=\"#333\"/>"
            s += "<text x=\"\(left - 8)\" y=\"\(py(t) + 5)\" text-anchor=\"end\">\(logY ? logLabel(t) : label(t))</text>\n"
        }
        s += axisLabels(xLabel: xLabel, yLabel: yLabel + (logY ? " (log scale)" : ""), left: left, top: top, pw: pw, ph: ph, xLabelY: top + ph + 40)
        func point(_ x: Double, _ y: Double) -> String { String(format: "%.2f,%.2f", px(x), py(min(max(y, y0), y1))) }
        for ser in series {
            guard let band = ser.band else { continue }
            // Each run of points with both bounds drawable is one polygon: the upper bound forwards, the lower backwards.
            var piece: [(Double, Double, Double)] = []
            func flush() {
                if piece.count >= 2 {
                    let outline = piece.map { point($0.0, $0.2) } + piece.reversed().map { point($0.0, $0.1) }
                    s += "<polygon data-band=\"\(escape(ser.name))\" fill=\"\(ser.color)\" fill-opacity=\"\(Band.opacity)\" stroke=\"none\" points=\"\(outline.joined(separator: " "))\"/>\n"
                }
                piece = []
            }
            for k in ser.x.indices {
                if ser.x[k].isFinite, k < band.lower.count, k < band.upper.count, let lo = ty(band.lower[k]), let hi = ty(band.upper[k]) {
                    piece.append((ser.x[k], lo, hi))
                } else {
                    flush()
                }
            }
            flush()
        }
        for ser in series {
            let pts = zip(ser.x, ser.y).compactMap { x, y -> String? in
                guard x.isFinite, let yy = ty(y) else { return nil }
                return point(x, yy)
            }
            if ser.ringsOnly {
                s += "<g data-series=\"\(escape(ser.name))\">" + pts.map { p -> String in
                    let xy = p.split(separator: ",")
                    return "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"7\" fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"1.5\"/>"
                }.joined() + "</g>\n"
                continue
            }
            let dash = ser.style.attribute
            if ser.reference {
                // Pieces of consecutive points inside the axes.
                var pieces: [[String]] = [[]]
                for (x, y) in zip(ser.x, ser.y) {
                    if x.isFinite, x >= x0, x <= x1, let yy = ty(y), yy >= y0, yy <= y1 { pieces[pieces.count - 1].append(point(x, yy)) } else if !pieces[pieces.count - 1].isEmpty { pieces.append([]) }
                }
                s += "<g data-style=\"\(ser.style.rawValue)\" data-series=\"\(escape(ser.name))\">" + pieces.filter { !$0.isEmpty }.map {
                    "<polyline fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"1.5\"\(dash) points=\"\($0.joined(separator: " "))\"/>"
                }.joined() + "</g>\n"
                continue
            }
            s += "<polyline data-series=\"\(escape(ser.name))\" data-style=\"\(ser.style.rawValue)\" fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"2\"\(dash) points=\"\(pts.joined(separator: " "))\"/>\n"
            if markers {
                for p in pts {
                    let xy = p.split(separator: ",")
                    s += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"3\" fill=\"\(ser.style == .solid ? ser.color : "white")\" stroke=\"\(ser.color)\"/>"
                }
                s += "\n"
            }
        }
        s += drawLegend(entries, top: legendTop, width: width)
        return s + "</svg>\n"
    }

    /// A marked point of a contour map (e.g. θ at α = β = 0).
    public struct Marker: Sendable {
        /// Its label (drawn beside it and its `data-marker` attribute).
        public let label: String
        /// Coordinates in the map's units.
        public let x: Double, y: Double
        /// A marker labelled `label` at (x, y).
        public init(label: String, x: Double, y: Double) { self.label = label; self.x = x; self.y = y }
    }

    /// A path drawn on a contour map: points in order, joined by a line, each a small circle
    /// (`<circle data-point="K" data-x="…" data-y="…">`, the first open, the last filled), e.g. a
    /// training trajectory projected on the slice's plane.
    public struct Path: Sendable {
        /// The legend label.
        public let label: String
        /// The points' coordinates in the map's units (same count).
        public let x: [Double], y: [Double]
        /// A path labelled `label` through (x[k], y[k]).
        public init(label: String, x: [Double], y: [Double]) { self.label = label; self.x = x; self.y = y }
    }

    /// The contour levels (isolines) for values in [lo, hi] (log₁₀ values when `log`): round values
    /// strictly inside the range (1-2-5 steps or decades, as the axes' ticks).
    public static func isolineLevels(_ lo: Double, _ hi: Double, log: Bool) -> [Double] {
        guard hi > lo else { return [] }
        // A level within rounding of an end is that end, not an isoline.
        let slack = 1e-9 * (hi - lo)
        return (log ? logTicks(lo, hi) : ticks(lo, hi)).filter { $0 > lo + slack && $0 < hi - slack }
    }

    /// The segments where the bilinear interpolant of the grid crosses `level` (marching squares;
    /// saddles resolved by the cell's mean), in fractional grid indices (i, j). Cells with a
    /// non-finite corner have none.
    static func isolineSegments(_ z: [[Double]], level: Double) -> [((Double, Double), (Double, Double))] {
        let nx = z.count, ny = z.first?.count ?? 0
        guard nx >= 2, ny >= 2 else { return [] }
        var out: [((Double, Double), (Double, Double))] = []
        for i in 0..<(nx - 1) {
            for j in 0..<(ny - 1) {
                // Corners counter-clockwise from (i, j).
                let corners = [(Double(i), Double(j), z[i][j]), (Double(i + 1), Double(j), z[i + 1][j]),
                               (Double(i + 1), Double(j + 1), z[i + 1][j + 1]), (Double(i), Double(j + 1), z[i][j + 1])]
                guard corners.allSatisfy({ $0.2.isFinite }) else { continue }
                var crossings: [(Double, Double)] = []
                for e in 0..<4 {
                    let p = corners[e], q = corners[(e + 1) % 4]
                    if (p.2 < level) != (q.2 < level) {
                        let t = (level - p.2) / (q.2 - p.2)
                        crossings.append((p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1)))
                    }
                }
                if crossings.count == 2 {
                    out.append((crossings[0], crossings[1]))
                } else if crossings.count == 4 {
                    let centre = corners.map(\.2).reduce(0, +) / 4
                    // The first corner's side: join the crossings around it when the centre is on the other side.
                    if (centre < level) == (corners[0].2 < level) {
                        out.append((crossings[0], crossings[1])); out.append((crossings[2], crossings[3]))
                    } else {
                        out.append((crossings[0], crossings[3])); out.append((crossings[1], crossings[2]))
                    }
                }
            }
        }
        return out
    }

    /// A filled-contour map of `z[i][j]` over (x[i], y[j]) with `levels` colour bands, isolines
    /// and a colour bar: each grid cell is filled with the colour of its band. With `logZ` the
    /// bands are even in log₁₀ z (non-positive values count as missing) and the colour bar is
    /// labelled in z. Missing and non-finite values are drawn light grey (`data-missing` counts them).
    ///
    /// - Parameters:
    ///   - zRange: the colour scale's ends in z's units (default: the finite values' minimum and
    ///     maximum); give several maps the same range to compare them by eye. Values outside it
    ///     take the end colours. Recorded as `data-zmin`/`data-zmax` on the grid group.
    ///   - isolines: z values of the isolines (default: ``isolineLevels(_:_:log:)`` of the colour
    ///     range): each a `<path data-isoline="VALUE">` (white), its value marked on the colour bar.
    ///   - marker: a labelled point (`<g data-marker="LABEL">`), e.g. θ at (0, 0); drawn when inside.
    ///   - path: a path drawn over the map (``Path``; `<g data-path="LABEL">`), clipped to the plot.
    public static func contourMap(title: String, xLabel: String, yLabel: String, zLabel: String,
                                  x: [Double], y: [Double], z: [[Double]], levels: Int = 14, logZ: Bool = false,
                                  zRange: (Double, Double)? = nil, isolines: [Double]? = nil, marker: Marker? = nil, path: Path? = nil,
                                  width: Double = defaultWidth) -> String {
        let left = 70.0, right = 104.0, top = plotTop(title: title, width: width)
        let pw = width - left - right, ph = pw
        let entries = path.map { [LegendEntry(name: $0.label, color: "#e41a1c")] } ?? []
        let legendTop = top + ph + 50
        let height = legendTop + legendHeight(entries, width: width) + 4
        func toZ(_ v: Double) -> Double { logZ ? (v > 0 && v.isFinite ? Foundation.log10(v) : Double.nan) : v }
        let z = z.map { $0.map(toZ) }
        let finite = z.flatMap { $0 }.filter(\.isFinite)
        let missing = z.flatMap { $0 }.count - finite.count
        var zmin = finite.min() ?? 0, zmax = finite.max() ?? 1
        if let zRange, toZ(zRange.0).isFinite, toZ(zRange.1).isFinite, toZ(zRange.1) >= toZ(zRange.0) { (zmin, zmax) = (toZ(zRange.0), toZ(zRange.1)) }
        func band(_ v: Double) -> Int? {
            guard v.isFinite else { return nil }
            return zmax > zmin ? min(levels - 1, max(0, Int(fraction(v, zmin, zmax) * Double(levels)))) : 0
        }
        func color(_ b: Int) -> String {
            // Viridis-like ramp from dark blue to yellow.
            let t = Double(b) / Double(max(levels - 1, 1))
            let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
            let p = t * Double(stops.count - 1), i = min(Int(p), stops.count - 2), f = p - Double(i)
            let c = (0..<3).map { k -> Int in
                let a = [stops[i].0, stops[i].1, stops[i].2][k], b = [stops[i + 1].0, stops[i + 1].1, stops[i + 1].2][k]
                return Int(a + (b - a) * f)
            }
            return String(format: "#%02x%02x%02x", c[0], c[1], c[2])
        }
        func zText(_ v: Double) -> String { String(format: "%.3g", logZ ? Foundation.pow(10, v) : v) }
        var s = frame(width: width, height: height, title: title, left: left, top: top, pw: pw, ph: ph)
        let nx = x.count, ny = y.count
        let cw = pw / Double(max(nx, 1)), chh = ph / Double(max(ny, 1))
        // Grid point (i, j) is the centre of its cell; fractional indices map linearly.
        func pxi(_ i: Double) -> Double { left + (i + 0.5) * cw }
        func pyj(_ j: Double) -> Double { top + ph - (j + 0.5) * chh }
        let x0 = x.first ?? 0, x1 = x.last ?? 1, y0 = y.first ?? 0, y1 = y.last ?? 1
        func index(_ v: Double, _ lo: Double, _ hi: Double, _ n: Int) -> Double { hi > lo ? fraction(v, lo, hi) * Double(n - 1) : 0 }
        func px(_ v: Double) -> Double { pxi(index(v, x0, x1, nx)) }
        func py(_ v: Double) -> Double { pyj(index(v, y0, y1, ny)) }
        s += "<g data-series=\"grid\" data-missing=\"\(missing)\" data-zmin=\"\(zText(zmin))\" data-zmax=\"\(zText(zmax))\">\n"
        for i in 0..<nx { for j in 0..<ny {
            let fill = band(z[i][j]).map(color) ?? "#dddddd"
            s += String(format: "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%@\"/>", left + Double(i) * cw, top + Double(ny - 1 - j) * chh, cw + 0.5, chh + 0.5, fill as NSString)
        } ; s += "\n" }
        s += "</g>\n"
        // Isolines at fixed levels, then the path and the marker, clipped to the plot area (a nested viewport).
        let lines = (isolines.map { $0.map(toZ).filter(\.isFinite) } ?? isolineLevels(zmin, zmax, log: logZ)).filter { $0 >= zmin && $0 <= zmax }
        s += "<svg x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" viewBox=\"\(left) \(top) \(pw) \(ph)\" overflow=\"hidden\">\n"
        for level in lines {
            let d = isolineSegments(z, level: level).map { a, b in "M\(f2(pxi(a.0))) \(f2(pyj(a.1)))L\(f2(pxi(b.0))) \(f2(pyj(b.1)))" }.joined()
            s += "<path data-isoline=\"\(zText(level))\" fill=\"none\" stroke=\"white\" stroke-opacity=\"0.85\" stroke-width=\"1.2\" d=\"\(d)\"/>\n"
        }
        if let path, !path.x.isEmpty {
            let pts = zip(path.x, path.y).map { (px($0), py($1)) }
            s += "<g data-path=\"\(escape(path.label))\">"
            s += "<polyline fill=\"none\" stroke=\"#e41a1c\" stroke-width=\"2\" points=\"\(pts.map { "\(f2($0.0)),\(f2($0.1))" }.joined(separator: " "))\"/>"
            for (k, p) in pts.enumerated() {
                let fill = k == pts.count - 1 ? "#e41a1c" : "white"
                s += "<circle data-point=\"\(k)\" data-x=\"\(path.x[k])\" data-y=\"\(path.y[k])\" cx=\"\(f2(p.0))\" cy=\"\(f2(p.1))\" r=\"3.5\" fill=\"\(fill)\" stroke=\"#e41a1c\" stroke-width=\"1.5\"/>"
            }
            s += "</g>\n"
        }
        if let marker, marker.x >= min(x0, x1), marker.x <= max(x0, x1), marker.y >= min(y0, y1), marker.y <= max(y0, y1) {
            let mx = px(marker.x), my = py(marker.y)
            let cross = "M\(f2(mx - 6)) \(f2(my - 6))L\(f2(mx + 6)) \(f2(my + 6))M\(f2(mx - 6)) \(f2(my + 6))L\(f2(mx + 6)) \(f2(my - 6))"
            s += "<g data-marker=\"\(escape(marker.label))\"><path d=\"\(cross)\" stroke=\"white\" stroke-width=\"4.5\"/><path d=\"\(cross)\" stroke=\"black\" stroke-width=\"2\"/>"
            s += text(marker.label, x: mx + 8, y: my - 8, extra: " font-weight=\"bold\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\"") + "</g>\n"
        }
        s += "</svg>\n<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
        for t in ticks(x0, x1) where x1 > x0 {
            s += "<text x=\"\(f2(px(t)))\" y=\"\(top + ph + 20)\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        for t in ticks(y0, y1) where y1 > y0 {
            s += "<text x=\"\(left - 8)\" y=\"\(f2(py(t) + 5))\" text-anchor=\"end\">\(label(t))</text>\n"
        }
        s += axisLabels(xLabel: xLabel, yLabel: yLabel, left: left, top: top, pw: pw, ph: ph, xLabelY: top + ph + 40)
        // Colour bar: the bands, the isoline levels as white ticks, labels at the ends and the levels.
        let bx = left + pw + 12, bh = ph / Double(levels)
        for b in 0..<levels {
            s += String(format: "<rect x=\"%.2f\" y=\"%.2f\" width=\"16\" height=\"%.2f\" fill=\"%@\"/>", bx, top + Double(levels - 1 - b) * bh, bh + 0.5, color(b) as NSString)
        }
        s += "\n<rect x=\"\(bx)\" y=\"\(top)\" width=\"16\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
        func barY(_ v: Double) -> Double { zmax > zmin ? top + ph * (1 - fraction(v, zmin, zmax)) : top + ph / 2 }
        var labelled: [Double] = []
        for v in [zmin, zmax] + (lines.count <= 6 ? lines : stride(from: 0, to: lines.count, by: 2).map { lines[$0] }) {
            let yv = barY(v)
            guard !labelled.contains(where: { abs($0 - yv) < 18 }) else { continue }
            labelled.append(yv)
            s += text(zText(v), x: bx + 20, y: yv + 5) + "\n"
        }
        for v in lines { s += "<line x1=\"\(bx)\" y1=\"\(f2(barY(v)))\" x2=\"\(bx + 16)\" y2=\"\(f2(barY(v)))\" stroke=\"white\" stroke-width=\"1.5\"/>" }
        s += "\n" + text(zLabel, x: 0, y: 0, anchor: "middle", extra: " transform=\"translate(\(f2(width - 8)) \(f2(top + ph / 2))) rotate(-90)\"") + "\n"
        s += drawLegend(entries, top: legendTop, width: width)
        return s + "</svg>\n"
    }

    /// One labelled point of a scatter plot.
    public struct Point: Sendable {
        /// The label drawn beside the point (and its `data-series` attribute).
        public let label: String
        /// Coordinates.
        public let x: Double, y: Double
        /// An SVG colour.
        public let color: String
        /// A point labelled `label` at (x, y).
        public init(label: String, x: Double, y: Double, color: String) {
            self.label = label; self.x = x; self.y = y; self.color = color
        }
    }

    /// A scatter plot of labelled points. `logX` plots log₁₀ x (non-positive x are skipped);
    /// non-finite points are skipped; a dashed line marks y = 0 when it is in range.
    public static func scatterPlot(title: String, xLabel: String, yLabel: String, points: [Point], logX: Bool = false,
                                   width: Double = defaultWidth, height: Double = 340) -> String {
        let left = 74.0, right = 18.0, top = plotTop(title: title, width: width)
        let pw = width - left - right, ph = height - 100
        let height = top + ph + 50
        func tx(_ v: Double) -> Double? { logX ? (v > 0 && v.isFinite ? Foundation.log10(v) : nil) : (v.isFinite ? v : nil) }
        let shown = points.compactMap { p -> (Point, Double)? in tx(p.x).flatMap { x in p.y.isFinite ? (p, x) : nil } }
        var (x0, x1) = axisRange(shown.map(\.1).min() ?? 0, shown.map(\.1).max() ?? 1)
        var (y0, y1) = axisRange(min(shown.map(\.0.y).min() ?? 0, 0), shown.map(\.0.y).max() ?? 1)
        let xpad = 0.12 * x1 - 0.12 * x0, ypad = 0.1 * y1 - 0.1 * y0
        x0 -= xpad; x1 += xpad; y0 -= ypad; y1 += ypad
        func px(_ x: Double) -> Double { left + fraction(x, x0, x1) * pw }
        func py(_ y: Double) -> Double { top + (1 - fraction(y, y0, y1)) * ph }
        var s = frame(width: width, height: height, title: title, left: left, top: top, pw: pw, ph: ph)
        for t in logX ? logTicks(x0, x1) : ticks(x0, x1) {
            s += "<line x1=\"\(px(t))\" y1=\"\(top + ph)\" x2=\"\(px(t))\" y2=\"\(top + ph + 5)\" stroke=\"#333\"/>"
            s += "<text x=\"\(px(t))\" y=\"\(top + ph + 20)\" text-anchor=\"middle\">\(logX ? logLabel(t) : label(t))</text>\n"
        }
        for t in ticks(y0, y1) {
            s += "<line x1=\"\(left - 5)\" y1=\"\(py(t))\" x2=\"\(left)\" y2=\"\(py(t))\" stroke=\"#333\"/>"
            s += "<text x=\"\(left - 8)\" y=\"\(py(t) + 4)\" text-anchor=\"end\">\(label(t))</text>\n"
        }
        if y0 < 0, y1 > 0 {
            s += "<line x1=\"\(left)\" y1=\"\(py(0))\" x2=\"\(left + pw)\" y2=\"\(py(0))\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n"
        }
        s += axisLabels(xLabel: xLabel + (logX ? " (log scale)" : ""), yLabel: yLabel, left: left, top: top, pw: pw, ph: ph, xLabelY: top + ph + 40)
        // Labels go above-right, above-left, below-right or below-left of their point: the first
        // place that stays inside the plot and overlaps no label placed before (7 px per character).
        var placed: [(x0: Double, y0: Double, x1: Double, y1: Double)] = []
        for (p, x) in shown {
            let cx = px(x), cy = py(p.y), w = charWidth * Double(p.label.count)
            s += "<g data-series=\"\(escape(p.label))\"><circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"6\" fill=\"\(p.color)\"/>"
            let candidates: [(Double, Double, Bool)] = [(cx + 9, cy - 8, false), (cx - 9, cy - 8, true), (cx + 9, cy + 20, false), (cx - 9, cy + 20, true)]
            func box(_ c: (Double, Double, Bool)) -> (x0: Double, y0: Double, x1: Double, y1: Double) {
                c.2 ? (c.0 - w, c.1 - 14, c.0, c.1 + 3) : (c.0, c.1 - 14, c.0 + w, c.1 + 3)
            }
            let fits = candidates.first { c in
                let b = box(c)
                return b.x0 >= left && b.x1 <= left + pw && b.y0 >= top && b.y1 <= top + ph
                    && !placed.contains { $0.x0 < b.x1 && b.x0 < $0.x1 && $0.y0 < b.y1 && b.y0 < $0.y1 }
            } ?? (cx > left + 0.65 * pw ? candidates[1] : candidates[0])
            placed.append(box(fits))
            s += "<text x=\"\(fits.0)\" y=\"\(fits.1)\"\(fits.2 ? " text-anchor=\"end\"" : "")>\(escape(p.label))</text></g>\n"
        }
        return s + "</svg>\n"
    }
}

extension SVGPlot {
    /// One series of an ``errorBarPlot(title:xLabel:yLabel:series:logX:logY:identityLine:width:height:)``:
    /// points (x[i], y[i]) with a vertical bar from lower[i] to upper[i] each (e.g. the seed mean
    /// and the range over seeds), joined by a line in x order.
    public struct ErrorBarSeries: Sendable {
        /// The legend label (and the `data-series` attribute of its group).
        public let name: String
        /// The points; `lower`/`upper` are the bar's ends (same count; a non-finite end, or one
        /// not positive on a log axis, leaves that bar out; the point stays).
        public let x: [Double], y: [Double], lower: [Double], upper: [Double]
        /// An SVG colour.
        public let color: String
        /// A series named `name` through (x[i], y[i]) with bars [lower[i], upper[i]].
        public init(name: String, x: [Double], y: [Double], lower: [Double], upper: [Double], color: String) {
            self.name = name; self.x = x; self.y = y; self.lower = lower; self.upper = upper; self.color = color
        }
    }

    /// Points with error bars, one colour per series, with a legend in a right margin. `logX` /
    /// `logY` plot log₁₀ of the values (points whose coordinate is not positive are skipped);
    /// non-finite points are skipped. With `identityLine` (its legend label) the two axes get the
    /// same range and the line y = x is drawn across it (black, dashed; `data-reference`).
    /// Each series is one `<g data-series="NAME">`: its line, its markers (`<circle>`) and its
    /// bars (`<line data-bar="1">`).
    public static func errorBarPlot(title: String, xLabel: String, yLabel: String, series: [ErrorBarSeries], logX: Bool = false, logY: Bool = false,
                                    identityLine: String? = nil, width: Double = defaultWidth, height: Double = 340) -> String {
        let entries = series.map { LegendEntry(name: $0.name, color: $0.color) } + (identityLine.map { [LegendEntry(name: $0, color: "#000", style: .dashDot)] } ?? [])
        let left = 74.0, right = 18.0, top = plotTop(title: title, width: width)
        let pw = width - left - right, ph = height - 100
        let legendTop = top + ph + 50
        let height = legendTop + legendHeight(entries, width: width) + 4
        func tx(_ v: Double) -> Double? { v.isFinite ? (logX ? (v > 0 ? Foundation.log10(v) : nil) : v) : nil }
        func ty(_ v: Double) -> Double? { v.isFinite ? (logY ? (v > 0 ? Foundation.log10(v) : nil) : v) : nil }
        // The drawable points of each series, in x order: (x, y, bar ends or nil).
        let drawn: [[(x: Double, y: Double, bar: (Double, Double)?)]] = series.map { s in
            s.x.indices.compactMap { k -> (x: Double, y: Double, bar: (Double, Double)?)? in
                guard let x = tx(s.x[k]), let y = ty(s.y[k]) else { return nil }
                let bar = k < s.lower.count && k < s.upper.count ? ty(s.lower[k]).flatMap { lo in ty(s.upper[k]).map { (lo, $0) } } : nil
                return (x, y, bar)
            }.sorted { $0.x < $1.x }
        }
        let xs = drawn.flatMap { $0.map(\.x) }
        let ys = drawn.flatMap { $0.flatMap { p in [p.y] + (p.bar.map { [$0.0, $0.1] } ?? []) } }
        var (x0, x1) = axisRange(xs.min() ?? 0, xs.max() ?? 1)
        var (y0, y1) = axisRange(ys.min() ?? 0, ys.max() ?? 1)
        if identityLine != nil, logX == logY {
            (x0, x1) = axisRange(min(x0, y0), max(x1, y1)); (y0, y1) = (x0, x1)
        }
        let xpad = 0.05 * x1 - 0.05 * x0, ypad = 0.05 * y1 - 0.05 * y0
        x0 -= xpad; x1 += xpad; y0 -= ypad; y1 += ypad
        func px(_ x: Double) -> Double { left + fraction(x, x0, x1) * pw }
        func py(_ y: Double) -> Double { top + (1 - fraction(y, y0, y1)) * ph }
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        var s = frame(width: width, height: height, title: title, left: left, top: top, pw: pw, ph: ph)
        for t in logX ? logTicks(x0, x1) : ticks(x0, x1) {
            s += "<line x1=\"\(f(px(t)))\" y1=\"\(top + ph)\" x2=\"\(f(px(t)))\" y2=\"\(top + ph + 5)\" stroke=\"#333\"/>"
            s += "<text x=\"\(f(px(t)))\" y=\"\(top + ph + 20)\" text-anchor=\"middle\">\(logX ? logLabel(t) : label(t))</text>\n"
        }
        for t in logY ? logTicks(y0, y1) : ticks(y0, y1) {
            s += "<line x1=\"\(left - 5)\" y1=\"\(f(py(t)))\" x2=\"\(left)\" y2=\"\(f(py(t)))\" stroke=\"#333\"/>"
            s += "<text x=\"\(left - 8)\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(logY ? logLabel(t) : label(t))</text>\n"
        }
        s += axisLabels(xLabel: xLabel + (logX ? " (log scale)" : ""), yLabel: yLabel + (logY ? " (log scale)" : ""), left: left, top: top, pw: pw, ph: ph, xLabelY: top + ph + 40)
        if let identityLine {
            // y = x from where it enters the plot to where it leaves it.
            let a = max(x0, y0), b = min(x1, y1)
            if a < b {
                s += "<g data-reference=\"\(escape(identityLine))\"><line x1=\"\(f(px(a)))\" y1=\"\(f(py(a)))\" x2=\"\(f(px(b)))\" y2=\"\(f(py(b)))\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/></g>\n"
            }
        }
        for (k, ser) in series.enumerated() {
            let pts = drawn[k]
            s += "<g data-series=\"\(escape(ser.name))\">"
            if pts.count >= 2 {
                s += "<polyline fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"1.5\" points=\"\(pts.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " "))\"/>"
            }
            for p in pts {
                if let (lo, hi) = p.bar {
                    let x = f(px(p.x))
                    s += "<line data-bar=\"1\" x1=\"\(x)\" y1=\"\(f(py(lo)))\" x2=\"\(x)\" y2=\"\(f(py(hi)))\" stroke=\"\(ser.color)\" stroke-width=\"1.5\"/>"
                    for end in [lo, hi] {
                        s += "<line x1=\"\(f(px(p.x) - 4))\" y1=\"\(f(py(end)))\" x2=\"\(f(px(p.x) + 4))\" y2=\"\(f(py(end)))\" stroke=\"\(ser.color)\" stroke-width=\"1.5\"/>"
                    }
                }
                s += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3.5\" fill=\"\(ser.color)\"/>"
            }
            s += "</g>\n"
        }
        return s + drawLegend(entries, top: legendTop, width: width) + "</svg>\n"
    }
}

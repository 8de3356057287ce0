import Foundation

/// Minimal SVG figures for probes and reports: line plots and filled-contour maps with a colour
/// bar, with axis labels, ticks and legends. Pure text; no dependencies.
public enum SVGPlot {
    /// One line series.
    public struct Series: Sendable {
        /// The legend label.
        public let name: String
        /// Abscissae.
        public let x: [Double]
        /// Ordinates (same count as `x`; non-finite points are skipped).
        public let y: [Double]
        /// An SVG colour, e.g. "#1f77b4".
        public let color: String
        /// Whether the line is dashed.
        public let dashed: Bool
        /// Whether only ring markers are drawn (no line), e.g. to flag some points of another series.
        public let ringsOnly: Bool
        /// A shaded band around the line (e.g. the range over seeds), or `nil`.
        public let band: Band?
        /// Whether the series is a reference line (e.g. a stability limit): it widens the y axis by
        /// at most one decade (log axis) or the other series' span (linear axis) beyond the other
        /// series, and is drawn only where it lies inside the axes (a gap where it leaves them).
        public let reference: Bool
        /// A series named `name` through the points (x[i], y[i]).
        public init(name: String, x: [Double], y: [Double], color: String, dashed: Bool = false, ringsOnly: Bool = false,
                    band: Band? = nil, reference: Bool = false) {
            self.name = name; self.x = x; self.y = y; self.color = color; self.dashed = dashed; self.ringsOnly = ringsOnly
            self.band = band; self.reference = reference
        }
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

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

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

    /// The SVG header, white background, title centred over the plot area and the plot frame.
    static func frame(width: Double, height: Double, title: String, left: Double, top: Double, pw: Double, ph: Double) -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(left + pw / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        return s + "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
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
    /// pieces inside the axes.
    public static func linePlot(title: String, xLabel: String, yLabel: String, series: [Series], logY: Bool = false,
                                markers: Bool = false, integerX: Bool = false, width: Double = 640, height: Double = 420) -> String {
        // The legend goes in a right margin sized to the longest name, so it never covers data.
        let legendWidth = series.count > 1 ? 60 + 7 * Double(series.map(\.name.count).max() ?? 0) : 0
        let width = width + legendWidth
        let left = 78.0, right = 20.0 + legendWidth, top = 40.0, bottom = 56.0
        let pw = width - left - right, ph = height - top - bottom
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
        var s = frame(width: width, height: height, title: title, left: left, top: top, pw: pw, ph: ph)
        let xTicks = ticks(x0, x1)
        var shownX = integerX ? xTicks.filter { $0 == $0.rounded() } : xTicks
        if integerX, x1 - x0 < 5, abs(x0) < 0x1p52, abs(x1) < 0x1p52 {
            shownX += stride(from: Int(Foundation.ceil(x0)), through: Int(Foundation.floor(x1)), by: 1).map(Double.init).filter { !xTicks.contains($0) }
        }
        for t in shownX {
            s += "<line x1=\"\(px(t))\" y1=\"\(top + ph)\" x2=\"\(px(t))\" y2=\"\(top + ph + 5)\" stroke=\"#333\"/>"
            s += "<text x=\"\(px(t))\" y=\"\(top + ph + 18)\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        for t in logY ? logTicks(y0, y1) : ticks(y0, y1) {
            s += "<line x1=\"\(left - 5)\" y1=\"\(py(t))\" x2=\"\(left)\" y2=\"\(py(t))\" stroke=\"#333\"/>"
            s += "<text x=\"\(left - 8)\" y=\"\(py(t) + 4)\" text-anchor=\"end\">\(logY ? logLabel(t) : label(t))</text>\n"
        }
        s += "<text x=\"\(left + pw / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(16 \(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel + (logY ? " (log scale)" : "")))</text>\n"
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
        for (k, ser) in series.enumerated() {
            let pts = zip(ser.x, ser.y).compactMap { x, y -> String? in
                guard x.isFinite, let yy = ty(y) else { return nil }
                return point(x, yy)
            }
            let ly = top + 14 + Double(k) * 18
            let lx = series.count > 1 ? left + pw + 14 : left + 12
            if ser.ringsOnly {
                s += "<g data-series=\"\(escape(ser.name))\">" + pts.map { p -> String in
                    let xy = p.split(separator: ",")
                    return "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"7\" fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"1.5\"/>"
                }.joined() + "</g>\n"
                s += "<circle cx=\"\(lx + 12)\" cy=\"\(ly)\" r=\"6\" fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"1.5\"/>"
                s += "<text x=\"\(lx + 30)\" y=\"\(ly + 4)\">\(escape(ser.name))</text>\n"
                continue
            }
            let dash = ser.dashed ? " stroke-dasharray=\"6 4\"" : ""
            if ser.reference {
                // Pieces of consecutive points inside the axes.
                var pieces: [[String]] = [[]]
                for (x, y) in zip(ser.x, ser.y) {
                    if x.isFinite, x >= x0, x <= x1, let yy = ty(y), yy >= y0, yy <= y1 { pieces[pieces.count - 1].append(point(x, yy)) } else if !pieces[pieces.count - 1].isEmpty { pieces.append([]) }
                }
                s += "<g data-series=\"\(escape(ser.name))\">" + pieces.filter { !$0.isEmpty }.map {
                    "<polyline fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"1.5\"\(dash) points=\"\($0.joined(separator: " "))\"/>"
                }.joined() + "</g>\n"
                s += "<line x1=\"\(lx)\" y1=\"\(ly)\" x2=\"\(lx + 24)\" y2=\"\(ly)\" stroke=\"\(ser.color)\" stroke-width=\"1.5\"\(dash)/>"
                s += "<text x=\"\(lx + 30)\" y=\"\(ly + 4)\">\(escape(ser.name))</text>\n"
                continue
            }
            s += "<polyline data-series=\"\(escape(ser.name))\" fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"2\"\(dash) points=\"\(pts.joined(separator: " "))\"/>\n"
            if markers {
                for p in pts {
                    let xy = p.split(separator: ",")
                    s += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"3\" fill=\"\(ser.dashed ? "white" : ser.color)\" stroke=\"\(ser.color)\"/>"
                }
                s += "\n"
            }
            s += "<line x1=\"\(lx)\" y1=\"\(ly)\" x2=\"\(lx + 24)\" y2=\"\(ly)\" stroke=\"\(ser.color)\" stroke-width=\"2\"\(dash)/>"
            s += "<text x=\"\(lx + 30)\" y=\"\(ly + 4)\">\(escape(ser.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// A filled-contour map of `z[i][j]` over (x[i], y[j]) with `levels` colour bands and a colour bar:
    /// each grid cell is filled with the colour of its band. With `logZ` the bands are even in
    /// log₁₀ z (non-positive values count as missing) and the colour bar is labelled in z.
    /// Missing and non-finite values are drawn light grey (`data-missing` counts them).
    public static func contourMap(title: String, xLabel: String, yLabel: String, zLabel: String,
                                  x: [Double], y: [Double], z: [[Double]], levels: Int = 14, logZ: Bool = false,
                                  width: Double = 640, height: Double = 520) -> String {
        let left = 70.0, right = 130.0, top = 40.0, bottom = 56.0
        let pw = width - left - right, ph = height - top - bottom
        let z = logZ ? z.map { $0.map { $0 > 0 && $0.isFinite ? Foundation.log10($0) : Double.nan } } : z
        let finite = z.flatMap { $0 }.filter(\.isFinite)
        let missing = z.flatMap { $0 }.count - finite.count
        let zmin = finite.min() ?? 0, zmax = finite.max() ?? 1
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
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\((left + pw / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        let nx = x.count, ny = y.count
        let cw = pw / Double(max(nx, 1)), chh = ph / Double(max(ny, 1))
        s += "<g data-series=\"grid\" data-missing=\"\(missing)\">\n"
        for i in 0..<nx { for j in 0..<ny {
            let fill = band(z[i][j]).map(color) ?? "#dddddd"
            s += String(format: "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%@\"/>", left + Double(i) * cw, top + Double(ny - 1 - j) * chh, cw + 0.5, chh + 0.5, fill as NSString)
        } ; s += "\n" }
        s += "</g>\n<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
        let x0 = x.first ?? 0, x1 = x.last ?? 1, y0 = y.first ?? 0, y1 = y.last ?? 1
        for t in ticks(x0, x1) where x1 > x0 {
            let px = left + fraction(t, x0, x1) * pw
            s += "<text x=\"\(px)\" y=\"\(top + ph + 18)\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        for t in ticks(y0, y1) where y1 > y0 {
            let py = top + (1 - fraction(t, y0, y1)) * ph
            s += "<text x=\"\(left - 8)\" y=\"\(py + 4)\" text-anchor=\"end\">\(label(t))</text>\n"
        }
        s += "<text x=\"\(left + pw / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(16 \(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        // Colour bar.
        let bx = left + pw + 24, bh = ph / Double(levels)
        for b in 0..<levels {
            s += String(format: "<rect x=\"%.2f\" y=\"%.2f\" width=\"18\" height=\"%.2f\" fill=\"%@\"/>", bx, top + Double(levels - 1 - b) * bh, bh + 0.5, color(b) as NSString)
        }
        s += "\n<rect x=\"\(bx)\" y=\"\(top)\" width=\"18\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
        for k in 0...4 {
            let v = zmin * (1 - Double(k) / 4) + zmax * Double(k) / 4
            s += "<text x=\"\(bx + 24)\" y=\"\(top + ph * (1 - Double(k) / 4) + 4)\">\(String(format: "%.3g", logZ ? Foundation.pow(10, v) : v))</text>\n"
        }
        s += "<text transform=\"translate(\(width - 10) \(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(zLabel))</text>\n"
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
                                   width: Double = 640, height: Double = 420) -> String {
        let left = 78.0, right = 20.0, top = 40.0, bottom = 56.0
        let pw = width - left - right, ph = height - top - bottom
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
            s += "<text x=\"\(px(t))\" y=\"\(top + ph + 18)\" text-anchor=\"middle\">\(logX ? logLabel(t) : label(t))</text>\n"
        }
        for t in ticks(y0, y1) {
            s += "<line x1=\"\(left - 5)\" y1=\"\(py(t))\" x2=\"\(left)\" y2=\"\(py(t))\" stroke=\"#333\"/>"
            s += "<text x=\"\(left - 8)\" y=\"\(py(t) + 4)\" text-anchor=\"end\">\(label(t))</text>\n"
        }
        if y0 < 0, y1 > 0 {
            s += "<line x1=\"\(left)\" y1=\"\(py(0))\" x2=\"\(left + pw)\" y2=\"\(py(0))\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n"
        }
        s += "<text x=\"\(left + pw / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escape(xLabel + (logX ? " (log scale)" : "")))</text>\n"
        s += "<text transform=\"translate(16 \(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        // Labels go above-right, above-left, below-right or below-left of their point: the first
        // place that stays inside the plot and overlaps no label placed before (7 px per character).
        var placed: [(x0: Double, y0: Double, x1: Double, y1: Double)] = []
        for (p, x) in shown {
            let cx = px(x), cy = py(p.y), w = 7 * Double(p.label.count)
            s += "<g data-series=\"\(escape(p.label))\"><circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"6\" fill=\"\(p.color)\"/>"
            let candidates: [(Double, Double, Bool)] = [(cx + 9, cy - 8, false), (cx - 9, cy - 8, true), (cx + 9, cy + 20, false), (cx - 9, cy + 20, true)]
            func box(_ c: (Double, Double, Bool)) -> (x0: Double, y0: Double, x1: Double, y1: Double) {
                c.2 ? (c.0 - w, c.1 - 12, c.0, c.1 + 2) : (c.0, c.1 - 12, c.0 + w, c.1 + 2)
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
                                    identityLine: String? = nil, width: Double = 640, height: Double = 420) -> String {
        let names = series.map(\.name) + (identityLine.map { [$0] } ?? [])
        let legendWidth = 60 + 7 * Double(names.map(\.count).max() ?? 0)
        let width = width + legendWidth
        let left = 78.0, right = 20.0 + legendWidth, top = 40.0, bottom = 56.0
        let pw = width - left - right, ph = height - top - bottom
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
            s += "<text x=\"\(f(px(t)))\" y=\"\(top + ph + 18)\" text-anchor=\"middle\">\(logX ? logLabel(t) : label(t))</text>\n"
        }
        for t in logY ? logTicks(y0, y1) : ticks(y0, y1) {
            s += "<line x1=\"\(left - 5)\" y1=\"\(f(py(t)))\" x2=\"\(left)\" y2=\"\(f(py(t)))\" stroke=\"#333\"/>"
            s += "<text x=\"\(left - 8)\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(logY ? logLabel(t) : label(t))</text>\n"
        }
        s += "<text x=\"\(left + pw / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escape(xLabel + (logX ? " (log scale)" : "")))</text>\n"
        s += "<text transform=\"translate(16 \(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel + (logY ? " (log scale)" : "")))</text>\n"
        let lx = left + pw + 14
        if let identityLine {
            // y = x from where it enters the plot to where it leaves it.
            let a = max(x0, y0), b = min(x1, y1)
            if a < b {
                s += "<g data-reference=\"\(escape(identityLine))\"><line x1=\"\(f(px(a)))\" y1=\"\(f(py(a)))\" x2=\"\(f(px(b)))\" y2=\"\(f(py(b)))\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/></g>\n"
            }
            let ly = top + 14 + Double(series.count) * 18
            s += "<line x1=\"\(lx)\" y1=\"\(ly)\" x2=\"\(lx + 24)\" y2=\"\(ly)\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>"
            s += "<text x=\"\(lx + 30)\" y=\"\(ly + 4)\">\(escape(identityLine))</text>\n"
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
            let ly = top + 14 + Double(k) * 18
            s += "<line x1=\"\(lx)\" y1=\"\(ly)\" x2=\"\(lx + 24)\" y2=\"\(ly)\" stroke=\"\(ser.color)\" stroke-width=\"2\"/><circle cx=\"\(lx + 12)\" cy=\"\(ly)\" r=\"3.5\" fill=\"\(ser.color)\"/>"
            s += "<text x=\"\(lx + 30)\" y=\"\(ly + 4)\">\(escape(ser.name))</text>\n"
        }
        return s + "</svg>\n"
    }
}

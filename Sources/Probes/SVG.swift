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
        /// A series named `name` through the points (x[i], y[i]).
        public init(name: String, x: [Double], y: [Double], color: String, dashed: Bool = false) {
            self.name = name; self.x = x; self.y = y; self.color = color; self.dashed = dashed
        }
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(count)
        let mag = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var t = Foundation.ceil(lo / step) * step
        var out: [Double] = []
        while t <= hi + 1e-12 * step { out.append(t); t += step }
        return out
    }

    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e4 || a < 1e-3 { return String(format: "%.2g", v) }
        return String(format: "%g", (v * 1e6).rounded() / 1e6)
    }

    /// A line plot. `logY` plots log₁₀ of positive values (non-positive points are skipped).
    public static func linePlot(title: String, xLabel: String, yLabel: String, series: [Series], logY: Bool = false,
                                width: Double = 640, height: Double = 420) -> String {
        let left = 78.0, right = 20.0, top = 40.0, bottom = 56.0
        let pw = width - left - right, ph = height - top - bottom
        func ty(_ v: Double) -> Double? { logY ? (v > 0 ? Foundation.log10(v) : nil) : (v.isFinite ? v : nil) }
        let xs = series.flatMap(\.x).filter(\.isFinite)
        let ys = series.flatMap { $0.y.compactMap(ty) }
        var x0 = xs.min() ?? 0, x1 = xs.max() ?? 1, y0 = ys.min() ?? 0, y1 = ys.max() ?? 1
        if x1 <= x0 { x1 = x0 + 1 }
        if y1 <= y0 { y0 -= 0.5; y1 += 0.5 }
        let pad = 0.05 * (y1 - y0); y0 -= pad; y1 += pad
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * ph }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(width / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
        for t in ticks(x0, x1) {
            s += "<line x1=\"\(px(t))\" y1=\"\(top + ph)\" x2=\"\(px(t))\" y2=\"\(top + ph + 5)\" stroke=\"#333\"/>"
            s += "<text x=\"\(px(t))\" y=\"\(top + ph + 18)\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        for t in ticks(y0, y1) {
            s += "<line x1=\"\(left - 5)\" y1=\"\(py(t))\" x2=\"\(left)\" y2=\"\(py(t))\" stroke=\"#333\"/>"
            s += "<text x=\"\(left - 8)\" y=\"\(py(t) + 4)\" text-anchor=\"end\">\(logY ? "1e" + label(t) : label(t))</text>\n"
        }
        s += "<text x=\"\(left + pw / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(16 \(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel + (logY ? " (log scale)" : "")))</text>\n"
        for (k, ser) in series.enumerated() {
            let pts = zip(ser.x, ser.y).compactMap { x, y -> String? in
                guard x.isFinite, let yy = ty(y) else { return nil }
                return String(format: "%.2f,%.2f", px(x), py(min(max(yy, y0), y1)))
            }
            s += "<polyline data-series=\"\(escape(ser.name))\" fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"2\"\(ser.dashed ? " stroke-dasharray=\"6 4\"" : "") points=\"\(pts.joined(separator: " "))\"/>\n"
            let ly = top + 14 + Double(k) * 18
            s += "<line x1=\"\(left + 12)\" y1=\"\(ly)\" x2=\"\(left + 36)\" y2=\"\(ly)\" stroke=\"\(ser.color)\" stroke-width=\"2\"\(ser.dashed ? " stroke-dasharray=\"6 4\"" : "")/>"
            s += "<text x=\"\(left + 42)\" y=\"\(ly + 4)\">\(escape(ser.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// A filled-contour map of `z[i][j]` over (x[i], y[j]) with `levels` colour bands and a colour bar.
    public static func contourMap(title: String, xLabel: String, yLabel: String, zLabel: String,
                                  x: [Double], y: [Double], z: [[Double]], levels: Int = 14,
                                  width: Double = 640, height: Double = 520) -> String {
        let left = 70.0, right = 130.0, top = 40.0, bottom = 56.0
        let pw = width - left - right, ph = height - top - bottom
        let finite = z.flatMap { $0 }.filter(\.isFinite)
        let zmin = finite.min() ?? 0, zmax = max(finite.max() ?? 1, (finite.min() ?? 0) + 1e-300)
        func band(_ v: Double) -> Int { v.isFinite ? min(levels - 1, max(0, Int((v - zmin) / (zmax - zmin) * Double(levels)))) : levels - 1 }
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
        s += "<g data-series=\"grid\">\n"
        for i in 0..<nx { for j in 0..<ny {
            s += String(format: "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%@\"/>", left + Double(i) * cw, top + Double(ny - 1 - j) * chh, cw + 0.5, chh + 0.5, color(band(z[i][j])) as NSString)
        } ; s += "\n" }
        s += "</g>\n<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
        let x0 = x.first ?? 0, x1 = x.last ?? 1, y0 = y.first ?? 0, y1 = y.last ?? 1
        for t in ticks(x0, x1) where x1 > x0 {
            let px = left + (t - x0) / (x1 - x0) * pw
            s += "<text x=\"\(px)\" y=\"\(top + ph + 18)\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        for t in ticks(y0, y1) where y1 > y0 {
            let py = top + (1 - (t - y0) / (y1 - y0)) * ph
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
            let v = zmin + (zmax - zmin) * Double(k) / 4
            s += "<text x=\"\(bx + 24)\" y=\"\(top + ph * (1 - Double(k) / 4) + 4)\">\(String(format: "%.3g", v))</text>\n"
        }
        s += "<text transform=\"translate(\(width - 10) \(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(zLabel))</text>\n"
        return s + "</svg>\n"
    }
}

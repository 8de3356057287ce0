import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Plotting

final class SeriesCollector: NSObject, XMLParserDelegate {
    var series: [String] = []
    var elements = 0
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        elements += 1
        if let s = attributes["data-series"] { series.append(s) }
    }
}

func parseSVG(_ text: String) -> (ok: Bool, collector: SeriesCollector) {
    let parser = XMLParser(data: Data(text.utf8))
    let c = SeriesCollector()
    parser.delegate = c
    return (parser.parse(), c)
}

@Suite struct SVGTests {
    @Test func linePlotIsWellFormedXMLWithItsSeries() {
        let svg = SVGPlot.linePlot(title: "a <b> & c", xLabel: "x", yLabel: "y",
                                   series: [.init(name: "loss", x: [0, 1, 2], y: [3, 1, 2], color: "#000"),
                                            .init(name: "Taylor", x: [0, 1, 2], y: [3, 1.1, 2.5], color: "#f00", dashed: true)], logY: true)
        let (ok, c) = parseSVG(svg)
        #expect(ok)
        #expect(c.series == ["loss", "Taylor"])
        #expect(svg.contains("a &lt;b&gt; &amp; c"))
    }

    @Test func contourMapHasOneCellPerGridPointAndAColourBar() {
        let z = (0..<4).map { i in (0..<3).map { j in Double(i * i + j) } }
        let svg = SVGPlot.contourMap(title: "slice", xLabel: "α", yLabel: "β", zLabel: "loss", x: [0, 1, 2, 3], y: [0, 1, 2], z: z, levels: 6)
        let (ok, c) = parseSVG(svg)
        #expect(ok)
        #expect(c.series == ["grid"])
        #expect(svg.components(separatedBy: "<rect").count - 1 >= 12 + 6)
    }
}

/// The `points` attribute values of every element `name` carrying `attribute` (in document order).
func points(in svg: String, element name: String, attribute: String) -> [[(Double, Double)]] {
    svg.components(separatedBy: "<\(name) ").dropFirst().filter { $0.contains(attribute) }.map { tail in
        let text = tail.components(separatedBy: "points=\"")[1].components(separatedBy: "\"")[0]
        return text.split(separator: " ").map { p in
            let xy = p.split(separator: ",").map { Double($0)! }
            return (xy[0], xy[1])
        }
    }
}

@Suite struct SVGBandTests {
    @Test func aBandEnclosesItsLineAndSplitsWhereABoundIsMissing() {
        let x: [Double] = [1, 2, 3, 4, 5], y: [Double] = [2, 3, 4, 5, 6]
        let lower = [1.5, 2.5, .nan, 4, 5.5], upper = [2.5, 3.5, 4.5, 6, 7]
        let svg = SVGPlot.linePlot(title: "t", xLabel: "epoch", yLabel: "v",
                                   series: [.init(name: "a", x: x, y: y, color: "#123456", band: SVGPlot.Band(lower: lower, upper: upper))])
        let (ok, c) = parseSVG(svg)
        #expect(ok && c.series == ["a"])
        // Two pieces: epochs 1–2 and 4–5 (epoch 3 has no lower bound); each the upper bound forwards, the lower backwards.
        let bands = points(in: svg, element: "polygon", attribute: "data-band=\"a\"")
        #expect(bands.map(\.count) == [4, 4])
        let line = points(in: svg, element: "polyline", attribute: "data-series=\"a\"")[0]
        #expect(line.count == 5)
        for (band, indices) in zip(bands, [[0, 1], [3, 4]]) {
            for (k, i) in indices.enumerated() {
                let top = band[k], bottom = band[band.count - 1 - k]
                #expect(top.0 == line[i].0 && bottom.0 == line[i].0)
                // SVG y grows downwards: the upper bound is above the line, the lower below.
                #expect(top.1 < line[i].1 && bottom.1 > line[i].1, "epoch \(x[i])")
            }
        }
        // The band is drawn under the line, in the series' colour, translucent.
        #expect(svg.range(of: "<polygon")!.lowerBound < svg.range(of: "<polyline")!.lowerBound)
        #expect(svg.contains("fill=\"#123456\" fill-opacity=\"\(SVGPlot.Band.opacity)\""))
        // The axes include the band: its highest value, 7, is inside the plot.
        let y7 = SVGPlot.linePlot(title: "t", xLabel: "epoch", yLabel: "v", series: [.init(name: "a", x: x, y: [2, 3, 4, 5, 7], color: "#000")])
        #expect(points(in: y7, element: "polyline", attribute: "data-series")[0][4].1 == bands[1][1].1)
        // On a log axis a non-positive bound splits the band too.
        let log = SVGPlot.linePlot(title: "t", xLabel: "epoch", yLabel: "v", series: [.init(name: "a", x: x, y: y, color: "#000",
                                   band: SVGPlot.Band(lower: [1, 1, 0, 1, 1], upper: upper))], logY: true)
        #expect(points(in: log, element: "polygon", attribute: "data-band").map(\.count) == [4, 4])
    }

    @Test func aReferenceLineWidensTheAxesABoundedMarginAndIsDrawnOnlyInsideThem() {
        let x: [Double] = [0, 1, 2, 3, 4, 5]
        let data = SVGPlot.Series(name: "λ", x: x, y: [1, 2, 1.5, 1.8, 1.2, 1.4], color: "#000")
        // Within the data's span (1) of its range [1, 2]: 1.1, 1.5, 2.5, 2.6; far above: 1000 and inf.
        let limit = SVGPlot.Series(name: "limit", x: x, y: [1.1, 1.5, 1000, 2.5, 2.6, .infinity], color: "#f00", dashed: true, reference: true)
        let alone = SVGPlot.linePlot(title: "t", xLabel: "x", yLabel: "y", series: [data])
        let both = SVGPlot.linePlot(title: "t", xLabel: "x", yLabel: "y", series: [data, limit])
        let (ok, c) = parseSVG(both)
        #expect(ok && c.series == ["λ", "limit"])
        // The axis now reaches 2.6: the data's top (y = 2 at x = 1) sits lower on the page.
        let top = { (svg: String) in points(in: svg, element: "polyline", attribute: "data-series=\"λ\"").first![1].1 }
        #expect(top(both) > top(alone))
        // The limit leaves the axes at x = 2 and for good at x = 5: two pieces, x 0–1 and x 3–4.
        let group = both.components(separatedBy: "data-series=\"limit\">")[1].components(separatedBy: "</g>")[0]
        #expect(group.components(separatedBy: "<polyline").count - 1 == 2 && group.contains("stroke-dasharray"))
        // On a log axis the margin is one decade: 2.6 widens it, 1000 (more than a decade above 2) does not.
        let log = SVGPlot.linePlot(title: "t", xLabel: "x", yLabel: "y", series: [data, limit], logY: true)
        let near = SVGPlot.linePlot(title: "t", xLabel: "x", yLabel: "y", series: [data, SVGPlot.Series(name: "limit", x: x, y: [1.1, 1.5, .nan, 2.5, 2.6, .nan], color: "#f00", reference: true)], logY: true)
        #expect(top(log) == top(near) && top(log) > top(SVGPlot.linePlot(title: "t", xLabel: "x", yLabel: "y", series: [data], logY: true)))
    }

    @Test func errorBarPlotDrawsEachSeriesWithItsBarsAndTheIdentityLineThroughEqualPoints() {
        // Series "a": three drawable points (the one at y = 0 is off a log axis), two with bars
        // (a bar with a non-positive end is left out); series "b" lies on y = x.
        let a = SVGPlot.ErrorBarSeries(name: "B = 64", x: [1, 10, 100, 1000], y: [2, 20, 0, 30], lower: [1, 10, 1, -1], upper: [3, 30, 1, 40], color: "#1f77b4")
        let b = SVGPlot.ErrorBarSeries(name: "B = 256", x: [5, 50], y: [5, 50], lower: [.nan, 40], upper: [.nan, 60], color: "#ff7f0e")
        let svg = SVGPlot.errorBarPlot(title: "λ <max>", xLabel: "x", yLabel: "y", series: [a, b], logX: true, logY: true, identityLine: "y = x")
        final class Shapes: NSObject, XMLParserDelegate {
            var group = "", circles: [String: [(Double, Double)]] = [:], bars: [String: Int] = [:], identity: [Double] = []
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes a: [String: String] = [:]) {
                if name == "g" { group = a["data-series"] ?? a["data-reference"].map { "ref:" + $0 } ?? "" }
                func d(_ k: String) -> Double { Double(a[k] ?? "") ?? .nan }
                if name == "circle", !group.isEmpty { circles[group, default: []].append((d("cx"), d("cy"))) }
                if name == "line", a["data-bar"] != nil { bars[group, default: 0] += 1 }
                if name == "line", group == "ref:y = x" { identity = [d("x1"), d("y1"), d("x2"), d("y2")] }
            }
            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) { if name == "g" { group = "" } }
        }
        let parser = XMLParser(data: Data(svg.utf8))
        let shapes = Shapes()
        parser.delegate = shapes
        #expect(parser.parse())
        #expect(shapes.circles["B = 64"]?.count == 3 && shapes.circles["B = 256"]?.count == 2)
        #expect(shapes.bars["B = 64"] == 2 && shapes.bars["B = 256"] == 1)
        #expect(svg.contains("λ &lt;max&gt;"))
        // Points with y = x lie on the drawn identity line (collinear to the rounding of 0.01 px).
        #expect(shapes.identity.count == 4)
        if shapes.identity.count == 4, let points = shapes.circles["B = 256"] {
            let (x1, y1, x2, y2) = (shapes.identity[0], shapes.identity[1], shapes.identity[2], shapes.identity[3])
            for (cx, cy) in points {
                let cross = (x2 - x1) * (cy - y1) - (y2 - y1) * (cx - x1)
                #expect(abs(cross) / ((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1)).squareRoot() < 0.05, "(\(cx), \(cy)) is off the line y = x")
            }
        }
    }
}

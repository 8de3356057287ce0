import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Plotting

/// The attributes of every element `name` of an SVG (in document order).
func elements(_ name: String, in svg: String) -> [[String: String]] {
    final class Collector: NSObject, XMLParserDelegate {
        let name: String
        var found: [[String: String]] = []
        init(_ name: String) { self.name = name }
        func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if element == name { found.append(attributes) }
        }
    }
    let parser = XMLParser(data: Data(svg.utf8))
    let c = Collector(name)
    parser.delegate = c
    #expect(parser.parse(), "not well-formed XML")
    return c.found
}

@Suite struct ScriptTextTests {
    @Test func singleLetterBasesTakeScriptsAndIdentifiersStayWhole() {
        func shape(_ s: String) -> [String] {
            ScriptText.segments(s).map { "\($0.position == .sub ? "_" : ($0.position == .sup ? "^" : ""))\($0.text)" }
        }
        #expect(shape("S_ε^max") == ["S", "_ε", "^max"])
        #expect(shape("λ_max·η₀/2") == ["λ", "_max", "·η₀/2"])
        #expect(shape("½ε²λ_max") == ["½ε²λ", "_max"])
        #expect(shape("E_{B}[g_{B}ᵀH_{B}]") == ["E", "_B", "[g", "_B", "ᵀH", "_B", "]"])
        #expect(shape("train_loss and lambda_max") == ["train_loss and lambda_max"])
        #expect(HTML.rich("S_ε^max < 1") == "S<sub>ε</sub><sup>max</sup> &lt; 1")
    }

    @Test func svgScriptsAreShiftedTspansThatReturnToTheBaseline() {
        let svg = SVGPlot.linePlot(title: "S_ε^max per epoch", xLabel: "epoch", yLabel: "y", series: [.init(name: "a", x: [0, 1], y: [1, 2], color: "#000")])
        let title = svg.components(separatedBy: "\n").first { $0.contains("per epoch") }!
        #expect(title.contains(">ε</tspan>") && title.contains(">max</tspan>"))
        // The shifts of the sub- and superscript and the return to the baseline add up to zero.
        let shifts = title.components(separatedBy: "dy=\"").dropFirst().map { Double($0.prefix { $0 != "\"" })! }
        #expect(shifts.count == 3 && abs(shifts.reduce(0, +)) < 1e-9 && shifts[0] > 0 && shifts[1] < 0)
    }
}

@Suite struct PageTests {
    @Test func thePageHasAViewportAGridOfFiguresAndTablesInScrollingBoxes() {
        let start = HTML.pageStart(title: "t")
        #expect(start.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
        #expect(start.contains("grid-template-columns:repeat(auto-fill,minmax(min(100%,\(HTML.figureMinimumWidth)px),1fr))"))
        #expect(start.contains(".table-wrap{overflow-x:auto"))
        #expect(HTML.table(["λ_max"], [["1"]]).hasPrefix("<div class=\"table-wrap\"><table><tr><th>λ<sub>max</sub></th>"))
        let figure = HTML.figure(name: "loss.svg", svg: "<svg></svg>\n", caption: "See `train_loss`: λ_max")
        #expect(figure.contains("data-figure=\"loss.svg\"") && figure.contains("<code>train_loss</code>: λ<sub>max</sub>"))
        // 15 px text of a figure of the default width at the grid's narrowest column stays ≥ 11 px.
        #expect(SVGPlot.fontSize * Double(HTML.figureMinimumWidth - 14) / SVGPlot.defaultWidth >= 11)
    }

    @Test func namesWithQuotesAndMarkupStayInsideTheirAttributes() {
        // Each of the five characters by its character reference (XML 1.0 §4.6; HTML's named and numeric references).
        #expect(HTML.escape(#"a&b<c>d"e'f"#) == "a&amp;b&lt;c&gt;d&quot;e&#39;f")
        #expect(HTML.escape("λ_max ≥ 2/η") == "λ_max ≥ 2/η")
        // A figure name, a series name and a marker label with both quotes and markup read back
        // unchanged from well-formed XML, in the attribute they belong to.
        let name = #"run "a" 'b' <c> & d.svg"#, label = #"θ "final" <x> 'y'"#
        let figure = HTML.figure(name: name, svg: "<svg></svg>\n", caption: "c")
        let attributes = elements("figure", in: figure)
        #expect(attributes.count == 1 && attributes[0]["data-figure"] == name && attributes[0]["id"] == "fig-" + String(name.dropLast(4)))
        let svg = SVGPlot.contourMap(title: "t", xLabel: "x", yLabel: "y", zLabel: "z", x: [0, 1], y: [0, 1], z: [[1, 2], [3, 4]],
                                     marker: .init(label: label, x: 0, y: 0))
        #expect(elements("g", in: svg).compactMap { $0["data-marker"] } == [label])
        let line = SVGPlot.linePlot(title: "t", xLabel: "x", yLabel: "y", series: [.init(name: label, x: [0, 1], y: [1, 2], color: "#000")])
        #expect(elements("polyline", in: line).compactMap { $0["data-series"] } == [label])
    }

    @Test func everyFigureScalesWithItsViewBox() {
        let plots = [SVGPlot.linePlot(title: "t", xLabel: "x", yLabel: "y", series: [.init(name: "a", x: [0, 1], y: [1, 2], color: "#000")]),
                     SVGPlot.scatterPlot(title: "t", xLabel: "x", yLabel: "y", points: [.init(label: "p", x: 1, y: 2, color: "#000")]),
                     SVGPlot.contourMap(title: "t", xLabel: "x", yLabel: "y", zLabel: "z", x: [0, 1], y: [0, 1], z: [[1, 2], [3, 4]])]
        for svg in plots {
            let root = elements("svg", in: svg)[0]
            #expect(root["viewBox"] == "0 0 \(root["width"]!) \(root["height"]!)")
        }
    }
}

@Suite struct LineStyleTests {
    @Test func oneStylePerSplitAndReferenceLinesAreDashDot() {
        let x: [Double] = [1, 2, 3]
        let svg = SVGPlot.linePlot(title: "t", xLabel: "x", yLabel: "y", series: [
            .init(name: "train", x: x, y: [3, 2, 1], color: "#000"),
            .init(name: "validation", x: x, y: [3, 2.5, 2], color: "#000", style: .dashed),
            .init(name: "test", x: x, y: [3, 2.6, 2.1], color: "#000", style: .dotted),
            .init(name: "limit", x: x, y: [2, 2, 2], color: "#000", dashed: true, reference: true),
        ])
        let styles = Dictionary(uniqueKeysWithValues: (elements("polyline", in: svg) + elements("g", in: svg)).compactMap { a in
            a["data-series"].map { ($0, a["data-style"] ?? "") }
        })
        #expect(styles == ["train": "solid", "validation": "dashed", "test": "dotted", "limit": "dashDot"])
        // Each style has its own dash pattern, and the legend shows the same pattern as the line.
        let patterns = SVGPlot.LineStyle.allCases.map(\.attribute)
        #expect(Set(patterns).count == SVGPlot.LineStyle.allCases.count)
        let legendLines = elements("line", in: "<g>" + svg.components(separatedBy: "<g data-legend=\"1\">")[1].components(separatedBy: "</g>")[0] + "</g>")
        #expect(legendLines.map { $0["stroke-dasharray"] ?? "" } == ["", "7 4", "1.5 3", "9 3 2 3"])
    }
}

@Suite struct ContourMapTests {
    @Test func isolinesOfAPlaneLieOnTheLevelLine() {
        // z = i + 2j is bilinear, so marching squares' linear interpolation is exact on it.
        let z = (0..<6).map { i in (0..<5).map { j in Double(i) + 2 * Double(j) } }
        for level in [0.5, 3.25, 7.9, 11.5] {
            let segments = SVGPlot.isolineSegments(z, level: level)
            #expect(!segments.isEmpty, "level \(level)")
            for (a, b) in segments {
                #expect(abs(a.0 + 2 * a.1 - level) < 1e-12 && abs(b.0 + 2 * b.1 - level) < 1e-12, "level \(level): \(a), \(b)")
            }
        }
        // A cell with a non-finite corner has none; a level outside the values has none.
        #expect(SVGPlot.isolineSegments([[.nan, 1], [2, 3]], level: 1.5).isEmpty)
        #expect(SVGPlot.isolineSegments(z, level: 100).isEmpty)
    }

    @Test func aGivenColourRangeIsUsedAndStatedAndTheMarkerAndPathAreDrawnAtTheirCoordinates() {
        let axis: [Double] = [-1, -0.5, 0, 0.5, 1]
        let z = axis.map { a in axis.map { b in 1 + a * a + b * b } }
        let path = SVGPlot.Path(label: "trajectory", x: [-1, 0, 0.5], y: [1, 0, -0.5])
        let svg = SVGPlot.contourMap(title: "t", xLabel: "α", yLabel: "β", zLabel: "loss", x: axis, y: axis, z: z, logZ: true,
                                     zRange: (0.5, 8), marker: .init(label: "θ", x: 0, y: 0), path: path)
        let grid = elements("g", in: svg).first { $0["data-series"] == "grid" }!
        #expect(grid["data-zmin"] == "0.5" && grid["data-zmax"] == "8")
        // Isolines at round levels inside the range: 1, 2, 5 (log scale).
        #expect(elements("path", in: svg).compactMap { $0["data-isoline"] } == ["1", "2", "5"])
        // The cells: grid point (i, j) is a cell's centre, so α = 0 (i = 2) is the middle of the plot.
        let cells = elements("rect", in: svg).filter { $0["fill"] != "none" && $0["width"] != "100%" }
        let first = cells[0], cellWidth = Double(first["width"]!)! - 0.5
        let x0 = Double(first["x"]!)!, yTop = Double(cells[4]["y"]!)!, cellHeight = Double(first["height"]!)! - 0.5
        func cx(_ a: Double) -> Double { x0 + ((a + 1) / 0.5 + 0.5) * cellWidth }
        func cy(_ b: Double) -> Double { yTop + (4 - (b + 1) / 0.5 + 0.5) * cellHeight }
        let circles = elements("circle", in: svg).filter { $0["data-point"] != nil }
        #expect(circles.count == 3)
        for (k, c) in circles.enumerated() {
            #expect(Double(c["data-x"]!) == path.x[k] && Double(c["data-y"]!) == path.y[k])
            #expect(abs(Double(c["cx"]!)! - cx(path.x[k])) < 0.05 && abs(Double(c["cy"]!)! - cy(path.y[k])) < 0.05, "point \(k)")
        }
        #expect(elements("g", in: svg).contains { $0["data-marker"] == "θ" })
    }
}

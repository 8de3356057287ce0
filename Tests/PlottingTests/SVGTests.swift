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

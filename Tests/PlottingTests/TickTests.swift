import Foundation
import Testing
@testable import Plotting

/// Tick generation and plots for ranges that are degenerate or huge in floating point.
@Suite struct TickTests {
    @Test func ticksOfOrdinaryRangesAreRoundNumbers() {
        let t = SVGPlot.ticks(0, 1)
        #expect(t.count == 6)
        for (a, b) in zip(t, [0, 0.2, 0.4, 0.6, 0.8, 1]) { #expect(abs(a - b) < 1e-15) }
        #expect(SVGPlot.ticks(-3, 7).map { $0 } == [-2, 0, 2, 4, 6])
    }

    @Test func ticksTerminateWhenTheStepIsBelowHalfAnUlp() {
        // Before: t += step never advanced t, and the loop grew without bound.
        for lo in [1.0, 1e16, -1e16, 1e300] {
            let hi = lo.nextUp
            let t = SVGPlot.ticks(lo, hi)
            #expect(t.count >= 2 && t.count <= 11, "\(lo): \(t)")
            #expect(t.allSatisfy { $0 >= lo.nextDown && $0 <= hi.nextUp }, "\(lo): \(t)")
        }
    }

    @Test func ticksOfTheWidestRangeAreFinite() {
        let t = SVGPlot.ticks(-1e308, 1e308)
        #expect(!t.isEmpty && t.count <= 11)
        #expect(t.allSatisfy { $0.isFinite })
        #expect(t.contains(0))
        #expect(t.allSatisfy { $0 >= -1e308 && $0 <= 1e308 })
    }

    @Test func plotsOfValuesOneUlpApartAreDrawn() {
        let y = [1.0, Double(1).nextUp, 1.0, Double(1).nextUp]
        let svg = SVGPlot.linePlot(title: "flat", xLabel: "x", yLabel: "y", series: [.init(name: "loss", x: [1e16, Double(1e16).nextUp, 1e16, Double(1e16).nextUp], y: y, color: "#000")])
        #expect(parseSVG(svg).ok)
        #expect(!svg.lowercased().contains("nan") && !svg.contains("inf"))
        let map = SVGPlot.contourMap(title: "m", xLabel: "α", yLabel: "β", zLabel: "loss", x: [1, Double(1).nextUp], y: [1e16, Double(1e16).nextUp],
                                     z: [[1, Double(1).nextUp], [Double(1).nextUp, 1]])
        #expect(parseSVG(map).ok)
        #expect(!map.lowercased().contains("nan"))
        let wide = SVGPlot.linePlot(title: "wide", xLabel: "α", yLabel: "y", series: [.init(name: "a", x: [-1e308, 0, 1e308], y: [1, 2, 3], color: "#000")])
        #expect(!wide.lowercased().contains("nan") && !wide.contains("inf"))
    }
}

import Foundation
import Testing
@testable import Probes

/// Grids for ranges that are degenerate or huge in floating point (the figures' ticks: PlottingTests).
@Suite struct DegenerateRangeTests {
    @Test func gridsTooNarrowForDistinctPointsAreAClearError() throws {
        do {
            _ = try grid(from: 1, to: 1.0000000000000002, count: 25)
            Issue.record("25 points between adjacent doubles were accepted")
        } catch { #expect("\(error)".contains("too narrow for 25 distinct points"), "\(error)") }
        #expect(throws: (any Error).self) { try grid(from: 1e16, to: 10000000000000002, count: 3) }
        #expect(try grid(from: 1, to: 1.0000000000000002, count: 2) == [1, 1.0000000000000002])
        #expect(throws: (any Error).self) { try grid(from: 2, to: 2, count: 2) }
    }

    @Test func theWidestRangeGivesFiniteEvenlySpacedPoints() throws {
        // Before: HI − LO overflowed to inf and every α was ±inf or NaN.
        let g = try grid(from: -1e308, to: 1e308, count: 5)
        let expected = [-1e308, -5e307, 0, 5e307, 1e308]
        for (a, b) in zip(g, expected) { #expect(abs(a - b) <= 1e-15 * 1e308, "\(a) vs \(b)") }
        #expect(g.first == -1e308 && g.last == 1e308)
    }
}

import Foundation
import Testing
import Study
import Tensors

/// The report's statistics against hand-computed values and textbook examples.
@Suite struct StatisticsTests {
    func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-14) -> Bool { abs(a - b) <= tolerance * max(1, abs(b)) }

    @Test func meanSampleStandardDeviationAndRange() {
        // The textbook set 2, 4, 4, 4, 5, 5, 7, 9: mean 5, Σ(x − 5)² = 32, so the sample
        // standard deviation is √(32/7) (the population one is 2).
        let s = Statistics.summary([2, 4, 4, 4, 5, 5, 7, 9])
        #expect(s.count == 8 && s.nonFinite == 0 && s.mean == 5 && s.minimum == 2 && s.maximum == 9)
        #expect(close(s.standardDeviation, (32.0 / 7).squareRoot()), "\(s.standardDeviation)")
        // Values that are not finite are counted apart and change nothing else.
        let t = Statistics.summary([9, .nan, 2, 4, .infinity, 4, 4, 5, 5, 7, -.infinity])
        #expect(t.count == 8 && t.nonFinite == 3 && t.mean == 5 && t.standardDeviation == s.standardDeviation && t.minimum == 2 && t.maximum == 9)
        // Two values x, y: mean (x + y)/2, sd |x − y|/√2.
        let two = Statistics.summary([15.2, 14.4])
        #expect(close(two.mean, 14.8) && close(two.standardDeviation, 0.8 / 2.0.squareRoot(), 1e-13))
        // One value has no sample standard deviation; none has no mean.
        let one = Statistics.summary([3.5])
        #expect(one.count == 1 && one.mean == 3.5 && one.standardDeviation.isNaN && one.minimum == 3.5 && one.maximum == 3.5)
        let none = Statistics.summary([.nan])
        #expect(none.count == 0 && none.nonFinite == 1 && none.mean.isNaN && none.minimum.isNaN)
        #expect(Statistics.summary([]).count == 0)
    }

    @Test func tiesGetTheMeanOfTheirRanks() {
        #expect(Statistics.averageRanks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4])
        #expect(Statistics.averageRanks([3, 1, 3, 2, 3]) == [4, 1, 4, 2, 4])
        #expect(Statistics.averageRanks([5, 5, 5]) == [2, 2, 2])
        #expect(Statistics.averageRanks([-1, 7]) == [1, 2] && Statistics.averageRanks([]) == [])
    }

    @Test func spearmanOfTextbookExamples() {
        // Wikipedia, "Spearman's rank correlation coefficient", Example: IQ against hours of TV
        // per week, no ties: Σd² = 194, ρ = 1 − 6·194/(10·99) = −29/165.
        let iq: [Double] = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110], tv: [Double] = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17]
        #expect(close(Statistics.spearman(iq, tv), -29.0 / 165), "\(Statistics.spearman(iq, tv))")
        #expect(close(Statistics.spearman(tv, iq), -29.0 / 165))
        // With a tie, by hand: ranks x 1, 2.5, 2.5, 4 and y 1, 3, 2, 4; Σdxdy = 4.5,
        // Σdx² = 4.5, Σdy² = 5, so ρ = 4.5/√(4.5·5) = 3/√10.
        #expect(close(Statistics.spearman([1, 2, 2, 3], [1, 3, 2, 4]), 3 / 10.0.squareRoot()))
        // Any increasing relation is 1, any decreasing −1; a constant side has none.
        let x: [Double] = [0.3, 1, 2, 5, 9]
        #expect(Statistics.spearman(x, x.map { $0 * $0 * $0 }) == 1 && Statistics.spearman(x, x.map { -exp($0) }) == -1)
        #expect(Statistics.spearman(x, [2, 2, 2, 2, 2]).isNaN && Statistics.spearman([1], [2]).isNaN)
        // A pair with a value that is not finite is left out.
        #expect(Statistics.spearman(iq + [.nan, 90], tv + [3, .infinity]) == Statistics.spearman(iq, tv))
    }

    @Test func quantilesInterpolateBetweenOrderStatistics() {
        // Hyndman & Fan definition 7: position (n − 1)p; for 1, 2, 3, 4 and p = 0.25 that is 0.75 → 1.75.
        #expect(Statistics.quantile(sorted: [1, 2, 3, 4], 0.25) == 1.75)
        #expect(Statistics.quantile(sorted: [1, 2, 3, 4], 0.5) == 2.5)
        #expect(Statistics.quantile(sorted: [1, 2, 3, 4], 0) == 1 && Statistics.quantile(sorted: [1, 2, 3, 4], 1) == 4)
        #expect(Statistics.quantile(sorted: [7], 0.975) == 7 && Statistics.quantile(sorted: [], 0.5).isNaN)
    }

    @Test func theBootstrapIntervalIsSeededAndHoldsItsEstimate() throws {
        let seed: UInt64 = 2026
        // 20 pairs with a positive but noisy relation (seeded).
        var rng = SplitMix64(seed: seed)
        let x = (0..<20).map { Double($0) }
        let y = x.map { $0 + 8 * (rng.nextUnitDouble() - 0.5) * 2 }
        let rho = Statistics.spearman(x, y)
        let a = try #require(Statistics.spearmanBootstrap(x, y, resamples: 2000, seed: 7))
        let b = try #require(Statistics.spearmanBootstrap(x, y, resamples: 2000, seed: 7))
        #expect(a == b, "seed \(seed)")
        #expect(a.lower <= rho && rho <= a.upper, "seed \(seed): ρ \(rho) outside [\(a.lower), \(a.upper)]")
        #expect(a.lower > 0 && a.upper <= 1 && a.lower < a.upper, "seed \(seed): \(a)")
        #expect(a.resamples == 2000)
        // A wider level gives a wider interval from the same resamples.
        let wide = try #require(Statistics.spearmanBootstrap(x, y, resamples: 2000, level: 0.99, seed: 7))
        #expect(wide.lower <= a.lower && wide.upper >= a.upper)
        // Another seed draws other resamples.
        #expect(Statistics.spearmanBootstrap(x, y, resamples: 2000, seed: 8) != a)
        // An increasing relation has ρ = 1 in every resample with two distinct x; resamples of
        // one pair drawn n times have no ρ and are left out.
        let mono = try #require(Statistics.spearmanBootstrap([1, 2, 3, 4], [1, 8, 27, 64], resamples: 500, seed: 1))
        #expect(mono.lower == 1 && mono.upper == 1 && mono.resamples < 500 && mono.resamples > 400, "\(mono)")
        // Fewer than three finite pairs: no interval.
        #expect(Statistics.spearmanBootstrap([1, 2, .nan], [3, 4, 5]) == nil)
    }
}

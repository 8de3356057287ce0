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

    @Test func theIncompleteBetaMatchesItsClosedForms() {
        // DLMF 8.17: I_x(a, 1) = xᵃ, I_x(1, b) = 1 − (1 − x)ᵇ, I_x(½, ½) = (2/π) arcsin √x
        // = (2/π) arctan √(x/(1 − x)) (the latter accurate near x = 1 too), and
        // I_x(a, b) + I_{1−x}(b, a) = 1.
        for x in [1e-6, 0.01, 0.2, 0.5, 0.73, 0.99, 1 - 1e-9] {
            for a in [0.5, 1, 2.5, 7] {
                #expect(close(Statistics.regularizedIncompleteBeta(x, a: a, b: 1), Foundation.pow(x, a), 1e-12), "x \(x), a \(a)")
                #expect(close(Statistics.regularizedIncompleteBeta(x, a: 1, b: a), 1 - Foundation.pow(1 - x, a), 1e-12), "x \(x), b \(a)")
                #expect(close(Statistics.regularizedIncompleteBeta(x, a: a, b: 3.5) + Statistics.regularizedIncompleteBeta(1 - x, a: 3.5, b: a), 1, 1e-12))
            }
            #expect(close(Statistics.regularizedIncompleteBeta(x, a: 0.5, b: 0.5), 2 / Double.pi * Foundation.atan((x / (1 - x)).squareRoot()), 1e-12), "x \(x)")
        }
        #expect(Statistics.regularizedIncompleteBeta(0, a: 2, b: 3) == 0 && Statistics.regularizedIncompleteBeta(1, a: 2, b: 3) == 1)
        #expect(Statistics.regularizedIncompleteBeta(1.5, a: 2, b: 3).isNaN && Statistics.regularizedIncompleteBeta(0.5, a: 0, b: 3).isNaN)
        #expect(Statistics.regularizedIncompleteBeta(.nan, a: 2, b: 3).isNaN)
    }

    @Test func studentsTwoSidedPMatchesTablesAndClosedForms() {
        // Tables: t = 2, ν = 2 → 0.18350 (= 1 − 2/√6); the 97.5% quantiles t(4) = 2.776445,
        // t(1) = 12.7062, t(∞) = z = 1.959964 → p = 0.05.
        #expect(abs(Statistics.studentTTwoSidedP(2, degreesOfFreedom: 2) - 0.18350) < 5e-6)
        #expect(abs(Statistics.studentTTwoSidedP(2.776445, degreesOfFreedom: 4) - 0.05) < 1e-6)
        #expect(abs(Statistics.studentTTwoSidedP(12.7062, degreesOfFreedom: 1) - 0.05) < 1e-5)
        #expect(abs(Statistics.studentTTwoSidedP(1.959964, degreesOfFreedom: .infinity) - 0.05) < 1e-6)
        #expect(abs(Statistics.studentTTwoSidedP(1.959964, degreesOfFreedom: 1e6) - 0.05) < 1e-6)
        #expect(abs(Statistics.studentTTwoSidedP(-1.959964, degreesOfFreedom: 1e9) - 0.05) < 1e-6)
        // Closed forms of the two-sided p: ν = 1 (Cauchy) 1 − (2/π) atan|t|; ν = 2: 1 − |t|/√(t² + 2);
        // ν = 4: 1 − (3/4)·u·(1 − t²/(12(1 + t²/4))) with u = |t|/√(1 + t²/4).
        for t in [0.0, 0.1, 0.5, 1, 2, 3.3, 10, 100, -2.5] {
            let a = abs(t), u = a / (1 + t * t / 4).squareRoot()
            #expect(close(Statistics.studentTTwoSidedP(t, degreesOfFreedom: 1), 1 - 2 / Double.pi * Foundation.atan(a), 1e-12), "t \(t)")
            #expect(close(Statistics.studentTTwoSidedP(t, degreesOfFreedom: 2), 1 - a / (t * t + 2).squareRoot(), 1e-10), "t \(t)")
            let p4 = 1 - 0.75 * u * (1 - t * t / (12 * (1 + t * t / 4)))
            #expect(abs(Statistics.studentTTwoSidedP(t, degreesOfFreedom: 4) - p4) <= 1e-12 * max(p4, 1e-3), "t \(t)")
            #expect(close(Statistics.studentTTwoSidedP(t, degreesOfFreedom: .infinity), Foundation.erfc(a / 2.0.squareRoot()), 1e-15))
        }
        // Far tails keep their relative accuracy: ν = 2, t = 10⁴: 1 − t/√(t² + 2) = 1/t² − 3/(2t⁴) + ….
        #expect(close(Statistics.studentTTwoSidedP(1e4, degreesOfFreedom: 2), 1e-8 - 1.5e-16, 1e-9))
        #expect(Statistics.studentTTwoSidedP(.infinity, degreesOfFreedom: 3) == 0)
        #expect(Statistics.studentTTwoSidedP(.nan, degreesOfFreedom: 3).isNaN && Statistics.studentTTwoSidedP(1, degreesOfFreedom: 0).isNaN)
    }

    @Test func theNormalQuantileInvertsTheNormalDistribution() {
        #expect(abs(Statistics.normalQuantile(0.975) - 1.959964) < 5e-7)
        #expect(abs(Statistics.normalQuantile(0.995) - 2.575829) < 5e-7)
        #expect(Statistics.normalQuantile(0.5) == 0)
        #expect(Statistics.normalQuantile(0) == -.infinity && Statistics.normalQuantile(1) == .infinity && Statistics.normalQuantile(1.1).isNaN)
        // Φ(Φ⁻¹(p)) = p with Φ(x) = erfc(−x/√2)/2 (Foundation's erfc, independent of the code under
        // test), in both tails and every region of the approximation.
        for p in [1e-300, 1e-100, 1e-20, 1e-5, 0.001, 0.02, 0.02425, 0.03, 0.1, 0.3, 0.49] {
            let x = Statistics.normalQuantile(p)
            #expect(close(0.5 * Foundation.erfc(-x / 2.0.squareRoot()), p, 1e-13), "p \(p): \(x)")
            // The upper half by symmetry: Φ⁻¹(r) = −Φ⁻¹(1 − r) (1 − r exact for r ≥ ½).
            let r = 1 - p
            #expect(Statistics.normalQuantile(r) == -Statistics.normalQuantile(1 - r), "p \(p)")
        }
    }

    @Test func theNormalEquivalentZKeepsThePValue() {
        // t at the 97.5% quantile of its ν maps to z = 1.959964 whatever ν (t(1) = 12.7062, t(2) = 4.302653, t(4) = 2.776445).
        for (t, nu) in [(12.7062, 1.0), (4.302653, 2), (2.776445, 4), (1.959964, .infinity)] {
            #expect(abs(Statistics.normalEquivalentZ(t: t, degreesOfFreedom: nu) - 1.959964) < 1e-5, "t \(t), ν \(nu)")
            #expect(abs(Statistics.normalEquivalentZ(t: -t, degreesOfFreedom: nu) + 1.959964) < 1e-5, "t \(t), ν \(nu)")
        }
        // With ν = ∞ it is t itself; far beyond any noise it is capped, not infinite.
        #expect(abs(Statistics.normalEquivalentZ(t: 0.7, degreesOfFreedom: .infinity) - 0.7) < 1e-12)
        #expect(Statistics.normalEquivalentZ(t: 0, degreesOfFreedom: 3) == 0)
        let capped = Statistics.normalEquivalentZ(t: 1e200, degreesOfFreedom: 50)
        #expect(capped.isFinite && capped > 37 && capped < 38, "\(capped)")
    }

    @Test func welchSatterthwaiteDegreesOfFreedom() {
        // Two equal variances with ν each: (2v)²/(2v²/ν) = 2ν; one term alone keeps its ν.
        #expect(close(Statistics.satterthwaiteDegreesOfFreedom([(0.3, 2), (0.3, 2)]), 4))
        #expect(close(Statistics.satterthwaiteDegreesOfFreedom([(0.3, 2), (0, 1)]), 2))
        // By hand: v = 1 (ν 1) and 4 (ν 3): 25/(1 + 16/3) = 75/19.
        #expect(close(Statistics.satterthwaiteDegreesOfFreedom([(1, 1), (4, 3)]), 75.0 / 19))
        #expect(Statistics.satterthwaiteDegreesOfFreedom([(0, 2), (0, 2)]).isNaN && Statistics.satterthwaiteDegreesOfFreedom([(1, 0)]).isNaN)
    }
}

import Foundation
import Tensors
import Testing

/// Sample mean and (population) variance, in Double.
func meanAndVariance(_ xs: [Double]) -> (mean: Double, variance: Double) {
    let mean = xs.reduce(0, +) / Double(xs.count)
    let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count)
    return (mean, variance)
}

@Suite("Random tensors")
struct RandomTests {
    static let seeds: [UInt64] = [1, 42, 20_240_601]

    @Test("randomNormal: mean ≈ 0 and variance ≈ 1 within 4 standard errors", arguments: seeds)
    func normalMoments(seed: UInt64) {
        let n = 200_000
        var rng = SplitMix64(seed: seed)
        let t = Tensor<Double>.randomNormal([400, 500], using: &rng)
        #expect(t.shape == [400, 500])
        let (mean, variance) = meanAndVariance(t.scalars)
        // SE(mean) = σ/√n; SE(sample variance) = σ²·√(2/n) for a normal.
        #expect(Swift.abs(mean) < 4 / Double(n).squareRoot(), "seed \(seed): mean \(mean)")
        #expect(Swift.abs(variance - 1) < 4 * (2 / Double(n)).squareRoot(), "seed \(seed): variance \(variance)")
        #expect(t.scalars.allSatisfy { $0.isFinite }, "seed \(seed)")
        // Symmetric: about half the samples are positive (SE 0.5/√n).
        let positive = Double(t.scalars.filter { $0 > 0 }.count) / Double(n)
        #expect(Swift.abs(positive - 0.5) < 4 * 0.5 / Double(n).squareRoot(), "seed \(seed): fraction positive \(positive)")
        // Fourth moment of N(0,1) is 3; its sample estimate has SE √(96/n).
        let m4 = t.scalars.reduce(0) { $0 + $1 * $1 * $1 * $1 } / Double(n)
        #expect(Swift.abs(m4 - 3) < 4 * (96 / Double(n)).squareRoot(), "seed \(seed): fourth moment \(m4)")

        var rngF = SplitMix64(seed: seed)
        let f = Tensor<Float>.randomNormal([n], using: &rngF)
        let (meanF, varianceF) = meanAndVariance(f.scalars.map { Double($0) })
        #expect(Swift.abs(meanF) < 4 / Double(n).squareRoot(), "seed \(seed): Float mean \(meanF)")
        #expect(Swift.abs(varianceF - 1) < 4 * (2 / Double(n)).squareRoot(), "seed \(seed): Float variance \(varianceF)")
    }

    @Test("randomUniform: inside [-b, b], mean ≈ 0, variance ≈ b²/3", arguments: seeds, [0.5, 3.0])
    func uniformMoments(seed: UInt64, bound: Double) {
        let n = 200_000
        var rng = SplitMix64(seed: seed)
        let t = Tensor<Double>.randomUniform([n], bound: bound, using: &rng)
        #expect(t.scalars.allSatisfy { $0 >= -bound && $0 < bound }, "seed \(seed): outside [-\(bound), \(bound))")
        let (mean, variance) = meanAndVariance(t.scalars)
        // Var X = b²/3; SE(mean) = b/√(3n); Var(X²) = b⁴/5 − b⁴/9 = 4b⁴/45.
        #expect(Swift.abs(mean) < 4 * bound / (3 * Double(n)).squareRoot(), "seed \(seed): mean \(mean)")
        let expectedVariance = bound * bound / 3
        #expect(Swift.abs(variance - expectedVariance) < 4 * bound * bound * (4 / 45 / Double(n)).squareRoot(),
                "seed \(seed): variance \(variance), expected \(expectedVariance)")
        // Both tails are reached: some samples within 1% of each end.
        #expect(t.scalars.contains { $0 > 0.99 * bound } && t.scalars.contains { $0 < -0.99 * bound }, "seed \(seed)")

        var rngF = SplitMix64(seed: seed)
        let f = Tensor<Float>.randomUniform([1000, 200], bound: bound, using: &rngF)
        // Rounding to Float may reach the upper bound itself.
        #expect(f.scalars.allSatisfy { Double($0) >= -bound && Double($0) <= bound }, "seed \(seed): Float outside bounds")
        let (_, varianceF) = meanAndVariance(f.scalars.map { Double($0) })
        #expect(Swift.abs(varianceF - expectedVariance) < 4 * bound * bound * (4 / 45 / Double(n)).squareRoot(),
                "seed \(seed): Float variance \(varianceF)")
    }

    /// Seeds whose first SplitMix64 draw u satisfies u ≥ 1 − 2⁻²⁶ (found by an exhaustive C search over
    /// seeds 0..<2³¹ with the reference SplitMix64 constants): (2u − 1)·b rounds to b in Float.
    static let seedsWithUNearOne: [UInt64] = [63_433_462, 123_162_318, 124_219_583]

    @Test("randomUniform<Float> stays inside the documented half-open [-b, b)",
          arguments: seedsWithUNearOne, [1.0, 3.0])
    func uniformFloatUpperBoundExcluded(seed: UInt64, bound: Double) {
        var rng = SplitMix64(seed: seed)
        // The first draw, reproduced independently: u = (next >> 11)·2⁻⁵³.
        var probe = SplitMix64(seed: seed)
        let u = Double(probe.next() >> 11) / 9_007_199_254_740_992.0
        #expect(u >= 1 - 0x1p-26, "seed \(seed): precondition of this test, u = \(u)")
        let x = Tensor<Float>.randomUniform([1], bound: bound, using: &rng).scalar
        // The Double sample is strictly below b ...
        var rngD = SplitMix64(seed: seed)
        let xd = Tensor<Double>.randomUniform([1], bound: bound, using: &rngD).scalar
        #expect(xd < bound, "seed \(seed), bound \(bound): Double sample \(xd)")
        // ... and so must the Float one be (the doc comment promises [-bound, bound)).
        #expect(Double(x) < bound, "seed \(seed), bound \(bound): Float sample \(x) equals the excluded upper bound")
    }

    @Test("randomRademacher: only ±1, balanced", arguments: seeds)
    func rademacher(seed: UInt64) {
        let n = 100_000
        var rng = SplitMix64(seed: seed)
        let t = Tensor<Float>.randomRademacher([n], using: &rng)
        #expect(t.scalars.allSatisfy { $0 == 1 || $0 == -1 }, "seed \(seed)")
        let mean = t.sumAsDouble() / Double(n)
        #expect(Swift.abs(mean) < 4 / Double(n).squareRoot(), "seed \(seed): mean \(mean)")
        var rngD = SplitMix64(seed: seed)
        let d = Tensor<Double>.randomRademacher([10, 10], using: &rngD)
        #expect(d.scalars.allSatisfy { $0 == 1 || $0 == -1 }, "seed \(seed)")
        #expect(d.scalars.contains(1) && d.scalars.contains(-1), "seed \(seed)")
    }

    @Test("the same seed gives the same tensor; different seeds differ", arguments: seeds)
    func reproducibility(seed: UInt64) {
        func draw(_ s: UInt64) -> (Tensor<Double>, Tensor<Float>, Tensor<Double>) {
            var g = SplitMix64(seed: s)
            let a = Tensor<Double>.randomNormal([7, 9], using: &g)
            let b = Tensor<Float>.randomUniform([50], bound: 2, using: &g)
            let c = Tensor<Double>.randomRademacher([64], using: &g)
            return (a, b, c)
        }
        let first = draw(seed), again = draw(seed), other = draw(seed &+ 1)
        #expect(first.0 == again.0 && first.1 == again.1 && first.2 == again.2, "seed \(seed)")
        #expect(first.0 != other.0, "seed \(seed) vs \(seed &+ 1): normal tensors equal")
        #expect(first.1 != other.1, "seed \(seed) vs \(seed &+ 1): uniform tensors equal")
        #expect(first.2 != other.2, "seed \(seed) vs \(seed &+ 1): Rademacher tensors equal")
        // Successive draws from one generator differ.
        var g = SplitMix64(seed: seed)
        let x = Tensor<Double>.randomNormal([20], using: &g), y = Tensor<Double>.randomNormal([20], using: &g)
        #expect(x != y, "seed \(seed)")
    }
}

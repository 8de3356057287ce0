import Foundation
import Tensors

/// The statistics of the study's and the sweep's reports, in one place: a quantity over seeds
/// (mean, sample standard deviation, range), the rank correlation of two quantities over runs
/// with a bootstrap interval, and the distributions that calibrate a difference of seed means
/// (Student's t with Welch–Satterthwaite degrees of freedom, the normal quantile).
public enum Statistics {
    /// A quantity over the runs of one configuration (its seeds).
    public struct Summary: Sendable, Equatable {
        /// The finite values summarized (n).
        public var count: Int
        /// Values left out because they are not finite (nan, ±inf).
        public var nonFinite: Int
        /// The mean of the finite values; nan when there are none.
        public var mean: Double
        /// The sample standard deviation √(Σ(x − x̄)²/(n − 1)); nan for n < 2.
        public var standardDeviation: Double
        /// The smallest and largest finite value; nan when there are none.
        public var minimum: Double, maximum: Double
    }

    /// The summary of `values`: n, mean, sample standard deviation (n − 1 in the denominator,
    /// two passes), minimum and maximum of the finite values; the others are counted in
    /// ``Summary/nonFinite``.
    public static func summary(_ values: [Double]) -> Summary {
        let finite = values.filter(\.isFinite)
        let n = finite.count
        guard n > 0 else { return Summary(count: 0, nonFinite: values.count, mean: .nan, standardDeviation: .nan, minimum: .nan, maximum: .nan) }
        let mean = finite.reduce(0, +) / Double(n)
        let sd = n < 2 ? Double.nan : (finite.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)).squareRoot()
        return Summary(count: n, nonFinite: values.count - n, mean: mean, standardDeviation: sd, minimum: finite.min()!, maximum: finite.max()!)
    }

    /// The ranks of `values` from 1 (smallest), tied values getting the mean of the ranks they
    /// span (fractional ranking): [10, 20, 20, 30] → [1, 2.5, 2.5, 4]. Values must be finite.
    public static func averageRanks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = Array(repeating: 0.0, count: values.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, values[order[j + 1]] == values[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1   // positions i…j hold ranks i+1…j+1
            for k in i...j { ranks[order[k]] = rank }
            i = j + 1
        }
        return ranks
    }

    /// Pearson's correlation coefficient of two equally long lists; nan when there are fewer
    /// than two pairs or either list is constant.
    static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = x.count
        guard n >= 2, y.count == n else { return .nan }
        let mx = x.reduce(0, +) / Double(n), my = y.reduce(0, +) / Double(n)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for k in 0..<n {
            let dx = x[k] - mx, dy = y[k] - my
            sxy += dx * dy; sxx += dx * dx; syy += dy * dy
        }
        guard sxx > 0, syy > 0 else { return .nan }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Spearman's rank correlation ρ of the pairs (x[i], y[i]): Pearson's correlation of their
    /// average ranks (``averageRanks(_:)``), so ties are handled exactly (Spearman 1904; the
    /// formula 1 − 6Σd²/(n(n² − 1)) is the tie-free special case). Pairs with a value that is not
    /// finite are left out. nan when fewer than two pairs remain or either side is constant.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double {
        let pairs = zip(x, y).filter { $0.0.isFinite && $0.1.isFinite }
        return pearson(averageRanks(pairs.map(\.0)), averageRanks(pairs.map(\.1)))
    }

    /// A bootstrap interval.
    public struct Interval: Sendable, Equatable {
        /// The interval's ends.
        public var lower: Double, upper: Double
        /// Resamples whose statistic was defined (the others, e.g. all drawn pairs tied, are left out).
        public var resamples: Int
    }

    /// The `p`-quantile (0 ≤ p ≤ 1) of sorted values, interpolating linearly between order
    /// statistics at position (n − 1)p (Hyndman & Fan 1996, definition 7; R's default).
    public static func quantile(sorted values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let h = Double(values.count - 1) * min(max(p, 0), 1)
        let lo = Int(h.rounded(.down)), hi = min(lo + 1, values.count - 1)
        return values[lo] + (h - Double(lo)) * (values[hi] - values[lo])
    }

    /// The percentile bootstrap interval of Spearman's ρ (Efron & Tibshirani 1993, §13.3): draw
    /// `resamples` samples of the n pairs with replacement (``/Tensors/SplitMix64`` seeded with `seed`, so
    /// the interval is the same on every run), compute ρ of each, and take the (1 − level)/2
    /// and (1 + level)/2 quantiles (``quantile(sorted:_:)``) of the defined ones. Pairs with a
    /// value that is not finite are left out first.
    /// - Returns: `nil` when fewer than three pairs remain or no resample has a defined ρ.
    public static func spearmanBootstrap(_ x: [Double], _ y: [Double], resamples: Int = 2000, level: Double = 0.95, seed: UInt64 = 0) -> Interval? {
        let pairs = zip(x, y).filter { $0.0.isFinite && $0.1.isFinite }
        let n = pairs.count
        guard n >= 3, resamples > 0, level > 0, level < 1 else { return nil }
        var rng = SplitMix64(seed: seed)
        var values: [Double] = []
        values.reserveCapacity(resamples)
        for _ in 0..<resamples {
            let draw = (0..<n).map { _ in pairs[rng.next(below: n)] }
            let rho = spearman(draw.map(\.0), draw.map(\.1))
            if rho.isFinite { values.append(rho) }
        }
        guard !values.isEmpty else { return nil }
        values.sort()
        return Interval(lower: quantile(sorted: values, (1 - level) / 2), upper: quantile(sorted: values, (1 + level) / 2), resamples: values.count)
    }

    // MARK: Distributions

    /// The regularized incomplete beta function I_x(a, b) = B(x; a, b)/B(a, b) for 0 ≤ x ≤ 1,
    /// a, b > 0 (DLMF 8.17.1); nan for other arguments.
    ///
    /// The continued fraction DLMF 8.17.22, evaluated by the modified Lentz method (Press et al.,
    /// *Numerical Recipes*, 3rd ed., §5.2 and §6.4 `betacf`), converges fast for
    /// x < (a + 1)/(a + b + 2); above that I_x(a, b) = 1 − I_{1−x}(b, a) (DLMF 8.17.4).
    public static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        incompleteBeta(x, oneMinusX: 1 - x, a: a, b: b)
    }

    /// ``regularizedIncompleteBeta(_:a:b:)`` with 1 − x given separately (exact where x is close to 1).
    static func incompleteBeta(_ x: Double, oneMinusX y: Double, a: Double, b: Double) -> Double {
        guard x >= 0, y >= 0, x <= 1, y <= 1, a > 0, b > 0, a.isFinite, b.isFinite else { return .nan }
        if x == 0 { return 0 }
        if y == 0 { return 1 }
        // x^a (1−x)^b / B(a, b), in logarithms.
        let front = Foundation.exp(Foundation.lgamma(a + b) - Foundation.lgamma(a) - Foundation.lgamma(b) + a * Foundation.log(x) + b * Foundation.log(y))
        if x < (a + 1) / (a + b + 2) { return front * betaContinuedFraction(x, a: a, b: b) / a }
        return 1 - front * betaContinuedFraction(y, a: b, b: a) / b
    }

    /// The continued fraction of I_x(a, b) (DLMF 8.17.22: 1/(1+ d₁/(1+ d₂/(1+ …))) with
    /// d₂ₘ₊₁ = −(a+m)(a+b+m)x/((a+2m)(a+2m+1)), d₂ₘ = m(b−m)x/((a+2m−1)(a+2m))), by the modified
    /// Lentz method; it needs O(√max(a, b)) terms.
    static func betaContinuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300, epsilon = 1e-16
        let maxTerms = 10_000 + Int(min(1e7, 10 * max(a, b).squareRoot()))
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...maxTerms {
            let m = Double(m)
            for coefficient in [m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)), -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))] {
                d = 1 + coefficient * d
                if abs(d) < tiny { d = tiny }
                c = 1 + coefficient / c
                if abs(c) < tiny { c = tiny }
                d = 1 / d
                h *= d * c
            }
            if abs(d * c - 1) <= epsilon { break }
        }
        return h
    }

    /// The two-sided p-value of Student's t: P(|T| ≥ |t|) for T with ν > 0 degrees of freedom
    /// (ν need not be an integer; ν = +∞ is the standard normal, erfc(|t|/√2)). It is
    /// I_{ν/(ν+t²)}(ν/2, 1/2) (Abramowitz & Stegun 26.7.1 with 26.5.27;
    /// ``regularizedIncompleteBeta(_:a:b:)``). nan for t nan or ν ≤ 0 or nan.
    public static func studentTTwoSidedP(_ t: Double, degreesOfFreedom nu: Double) -> Double {
        guard !t.isNaN, nu > 0 else { return .nan }
        if !t.isFinite { return 0 }
        if nu == .infinity { return Foundation.erfc(abs(t) / 2.0.squareRoot()) }
        let t2 = t * t   // may overflow to +∞: then x = 0 and p = 0
        return incompleteBeta(nu / (nu + t2), oneMinusX: 1 / (1 + nu / t2), a: nu / 2, b: 0.5)
    }

    /// The standard normal quantile Φ⁻¹(p) for 0 < p < 1 (−∞ at 0, +∞ at 1, nan outside):
    /// Acklam's rational approximation (P. J. Acklam, "An algorithm for computing the inverse
    /// normal cumulative distribution function", 2003; relative error below 1.15·10⁻⁹) refined by
    /// one Halley step on Φ(x) − p with Φ(x) = erfc(−x/√2)/2, which brings it to about machine
    /// precision. Evaluated for p ≤ ½ (Φ⁻¹(p) = −Φ⁻¹(1 − p)), where erfc keeps its relative accuracy.
    public static func normalQuantile(_ p: Double) -> Double {
        guard p >= 0, p <= 1 else { return .nan }
        if p == 0 { return -.infinity }
        if p == 1 { return .infinity }
        if p > 0.5 { return -normalQuantile(1 - p) }
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        func horner(_ k: [Double], _ v: Double) -> Double { k.reduce(0) { $0 * v + $1 } }
        var x: Double
        if p < 0.02425 {
            let q = (-2 * Foundation.log(p)).squareRoot()
            x = horner(c, q) / (horner(d, q) * q + 1)
        } else {
            let q = p - 0.5, r = q * q
            x = horner(a, r) * q / (horner(b, r) * r + 1)
        }
        // Halley: e = Φ(x) − p, u = e/φ(x), x ← x − u/(1 + x·u/2).
        let e = 0.5 * Foundation.erfc(-x / 2.0.squareRoot()) - p
        let u = e * (2 * Double.pi).squareRoot() * Foundation.exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }

    /// The normal-equivalent z of a Student t statistic: the z whose two-sided normal p-value is
    /// t's (``studentTTwoSidedP(_:degreesOfFreedom:)``), z = Φ⁻¹(1 − p/2), with t's sign, so that
    /// statistics with different degrees of freedom can be pooled (e.g. in an RMS) on one scale.
    /// Computed as −Φ⁻¹(p/2) (1 − p/2 would round to 1 for small p). Where p underflows (|t| far
    /// beyond any seed noise) it is capped at Φ⁻¹ of the smallest normal double, about 37.5.
    public static func normalEquivalentZ(t: Double, degreesOfFreedom nu: Double) -> Double {
        let p = studentTTwoSidedP(t, degreesOfFreedom: nu)
        guard !p.isNaN else { return .nan }
        let z = -normalQuantile(max(p / 2, Double.leastNormalMagnitude))
        return t < 0 ? -z : z
    }

    /// The Welch–Satterthwaite degrees of freedom of a sum of independent variance estimates vᵢ
    /// with νᵢ degrees of freedom each: (Σvᵢ)² / Σ(vᵢ²/νᵢ) (Satterthwaite 1946; Welch 1947).
    /// Terms with vᵢ = 0 contribute nothing; nan when every vᵢ is 0 or some νᵢ ≤ 0 has vᵢ > 0.
    public static func satterthwaiteDegreesOfFreedom(_ terms: [(variance: Double, degreesOfFreedom: Double)]) -> Double {
        let total = terms.reduce(0) { $0 + $1.variance }
        var denominator = 0.0
        for term in terms where term.variance != 0 {
            guard term.degreesOfFreedom > 0 else { return .nan }
            denominator += term.variance * term.variance / term.degreesOfFreedom
        }
        return denominator > 0 ? total * total / denominator : .nan
    }
}

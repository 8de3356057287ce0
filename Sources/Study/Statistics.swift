import Tensors

/// The statistics of the study's report, in one place: a quantity over seeds (mean, sample
/// standard deviation, range) and the rank correlation of two quantities over runs with a
/// bootstrap interval.
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
    /// `resamples` samples of the n pairs with replacement (``SplitMix64`` seeded with `seed`, so
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
}

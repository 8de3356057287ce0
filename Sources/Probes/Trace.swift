import Autodiff
import Foundation
import Tensors

/// Hutchinson's trace estimator (Hutchinson 1989): `tr H ≈ (1/m) Σ_i z_iᵀ H z_i` with seeded
/// Rademacher probes z_i. Returns the estimate and its standard error `s/√m` (s the sample
/// standard deviation of the m products).
/// - Throws: ``/Autodiff/AutodiffError`` for `probes < 2` or the errors of the HVP.
public func hutchinsonTrace<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, probes: Int = 100, seed: UInt64 = 0) throws -> (trace: Double, standardError: Double) {
    try hutchinsonTrace(of: try HessianOperator(of: f, at: θ), probes: probes, seed: seed)
}

/// Hutchinson's trace estimator on any symmetric operator; see ``hutchinsonTrace(of:at:probes:seed:)``.
public func hutchinsonTrace<A: SymmetricOperator>(of op: A, probes: Int = 100, seed: UInt64 = 0) throws -> (trace: Double, standardError: Double) {
    guard probes >= 2 else { throw AutodiffError.invalidArgument("Hutchinson: need at least 2 probes for a standard error, got \(probes)") }
    var rng = SplitMix64(seed: seed)
    var samples: [Double] = []
    try forEachProductBlock(of: op, count: probes, next: { Tensor<A.Scalar>.randomRademacher([op.dimension], using: &rng) }) { z, az in
        samples += zip(az, z).map { $0.dot($1) }
    }
    return meanAndStandardError(samples)
}

/// Applies `op` to `count` vectors made by `next` (in order), in blocks of at most
/// ``ProbeLimits/vectorsPerBlock(dimension:scalarBytes:)`` vectors, and hands each block and its
/// products to `body`: the memory of one block however many vectors, and the same results
/// whatever the block size (each product is computed on its own).
/// - Throws: the operator's and `body`'s errors.
func forEachProductBlock<A: SymmetricOperator>(of op: A, count: Int, next: () throws -> Tensor<A.Scalar>,
                                               _ body: ([Tensor<A.Scalar>], [Tensor<A.Scalar>]) throws -> Void) throws {
    let size = ProbeLimits.vectorsPerBlock(dimension: op.dimension, scalarBytes: MemoryLayout<A.Scalar>.size)
    var done = 0
    while done < count {
        let n = min(size, count - done)
        let vectors = try (0..<n).map { _ in try next() }
        try body(vectors, try op.apply(block: vectors))
        done += n
    }
}

/// ‖A‖²_F = tr(A²) by E‖Az‖² over seeded Rademacher z (Hutchinson on A², one product per probe),
/// with its standard error. √ of it is the Frobenius norm; tr(A²)/tr(A)² measures how spread
/// the spectrum is.
/// - Throws: ``/Autodiff/AutodiffError`` for `probes < 2` or product errors.
public func frobeniusNormSquared<A: SymmetricOperator>(of op: A, probes: Int = 100, seed: UInt64 = 0) throws -> (value: Double, standardError: Double) {
    guard probes >= 2 else { throw AutodiffError.invalidArgument("Frobenius estimator: need at least 2 probes, got \(probes)") }
    var rng = SplitMix64(seed: seed)
    var samples: [Double] = []
    try forEachProductBlock(of: op, count: probes, next: { Tensor<A.Scalar>.randomRademacher([op.dimension], using: &rng) }) { _, az in
        samples += az.map { $0.dot($0) }
    }
    return meanAndStandardError(samples)
}

/// The diagonal of A by Hutchinson's diagonal estimator (Bekas, Kokiopoulou & Saad 2007):
/// diag(A) ≈ (1/m) Σ z ⊙ Az over seeded Rademacher z, with the standard error of each entry.
/// - Throws: ``/Autodiff/AutodiffError`` for `probes < 2` or product errors.
public func hutchinsonDiagonal<A: SymmetricOperator>(of op: A, probes: Int = 100, seed: UInt64 = 0) throws -> (diagonal: [Double], standardError: [Double]) {
    guard probes >= 2 else { throw AutodiffError.invalidArgument("Hutchinson diagonal: need at least 2 probes, got \(probes)") }
    var rng = SplitMix64(seed: seed)
    let d = op.dimension
    var sum = [Double](repeating: 0, count: d), sumSq = [Double](repeating: 0, count: d)
    for _ in 0..<probes {
        let z = Tensor<A.Scalar>.randomRademacher([d], using: &rng)
        let az = try op.apply(z)
        for i in 0..<d { let s = Double(z.scalars[i]) * Double(az.scalars[i]); sum[i] += s; sumSq[i] += s * s }
    }
    let m = Double(probes)
    let mean = sum.map { $0 / m }
    let se = (0..<d).map { i in (max(sumSq[i] / m - mean[i] * mean[i], 0) * m / (m - 1) / m).squareRoot() }
    return (mean, se)
}

/// The mean of samples and its standard error s/√m (s the sample standard deviation).
func meanAndStandardError(_ samples: [Double]) -> (Double, Double) {
    let m = Double(samples.count)
    let mean = samples.reduce(0, +) / m
    let variance = samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (m - 1)
    return (mean, (variance / m).squareRoot())
}

/// Hutch++ trace estimate (Meyer, Musco, Musco & Woodruff 2021) with `probes` HVPs in total
/// (a third for the sketch S, a third for Q = orth(H S), a third for Hutchinson on the
/// complement): tr(H) ≈ tr(Qᵀ H Q) + tr((I − QQᵀ) H (I − QQᵀ)) estimated with Rademacher probes.
/// Returns the estimate and the standard error of its Hutchinson part.
/// - Throws: ``/Autodiff/AutodiffError`` for `probes < 6` or HVP errors.
public func hutchPlusPlusTrace<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, probes: Int = 60, seed: UInt64 = 0) throws -> (trace: Double, standardError: Double) {
    try hutchPlusPlusTrace(of: try HessianOperator(of: f, at: θ), probes: probes, seed: seed)
}

/// Hutch++ on any symmetric operator; see ``hutchPlusPlusTrace(of:at:probes:seed:)``.
public func hutchPlusPlusTrace<A: SymmetricOperator>(of op: A, probes: Int = 60, seed: UInt64 = 0) throws -> (trace: Double, standardError: Double) {
    guard probes >= ProbeLimits.hutchPlusPlusProbes.lowerBound else {
        throw AutodiffError.invalidArgument("Hutch++: need at least \(ProbeLimits.hutchPlusPlusProbes.lowerBound) probes, got \(probes)")
    }
    let d = op.dimension, k = probes / 3, m = probes - 2 * k
    var rng = SplitMix64(seed: seed)
    // Q: orthonormal basis of A S (modified Gram–Schmidt, twice).
    // Q (k vectors, the estimator's own memory) grows as the sketch's products arrive in blocks.
    var q: [Tensor<A.Scalar>] = []
    try forEachProductBlock(of: op, count: k, next: { Tensor<A.Scalar>.randomRademacher([d], using: &rng) }) { _, sketch in
        for var y in sketch {
            for _ in 0..<2 { for b in q { y.addScaled(b, A.Scalar(-y.dot(b))) } }
            let n = y.norm()
            if n > 1e-12 { q.append(y.affine(scale: A.Scalar(1 / n), shift: 0)) }
        }
    }
    var top = 0.0, next = 0
    try forEachProductBlock(of: op, count: q.count, next: { defer { next += 1 }; return q[next] }) { qs, aq in
        top += zip(aq, qs).reduce(0.0) { $0 + $1.0.dot($1.1) }
    }
    var samples: [Double] = []
    try forEachProductBlock(of: op, count: m, next: {
        var z = Tensor<A.Scalar>.randomRademacher([d], using: &rng)
        for b in q { z.addScaled(b, A.Scalar(-z.dot(b))) }
        return z
    }) { zs, az in samples += zip(az, zs).map { $0.dot($1) } }
    let mean = samples.reduce(0, +) / Double(m)
    let se = m > 1 ? (samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(m - 1) / Double(m)).squareRoot() : .nan
    return (top + mean, se)
}

/// The traces of diagonal blocks of A from one set of Hutchinson products: tr A_bb = E[z_bᵀ (Az)_b]
/// over seeded Rademacher z (the same probes as ``hutchinsonTrace(of:probes:seed:)``), with the
/// standard error of each; `probes` products in all, however many blocks.
/// - Parameter blocks: each block's coordinates, as ranges of 0..<d.
/// - Throws: ``/Autodiff/AutodiffError`` for `probes < 2`, ranges outside 0..<d, or product errors.
public func blockTraces<A: SymmetricOperator>(of op: A, blocks: [[Range<Int>]], probes: Int, seed: UInt64 = 0) throws -> [(trace: Double, standardError: Double)] {
    guard probes >= 2 else { throw AutodiffError.invalidArgument("block traces: need at least 2 probes for a standard error, got \(probes)") }
    guard blocks.allSatisfy({ $0.allSatisfy { $0.lowerBound >= 0 && $0.upperBound <= op.dimension } }) else {
        throw AutodiffError.invalidArgument("block traces: a block lies outside 0..<\(op.dimension)")
    }
    var rng = SplitMix64(seed: seed)
    var samples = [[Double]](repeating: [], count: blocks.count)
    try forEachProductBlock(of: op, count: probes, next: { Tensor<A.Scalar>.randomRademacher([op.dimension], using: &rng) }) { zs, azs in
        for (b, ranges) in blocks.enumerated() {
            samples[b] += zip(zs, azs).map { z, h in
                ranges.reduce(0.0) { acc, r in acc + r.reduce(0.0) { $0 + Double(z.scalars[$1]) * Double(h.scalars[$1]) } }
            }
        }
    }
    return samples.map(meanAndStandardError)
}

/// The trace of the curvature by Hutchinson's estimator, as a probe, with its standard error.
public struct TraceProbe: Probe {
    public static let name = "trace"
    /// Rademacher probes (at least 2, for a standard error).
    public var probes = 30
    /// Seed of the probes (the same at every point).
    public var seed: UInt64 = 2

    public init() {}
    /// The probe with these settings.
    public init(probes: Int, seed: UInt64) { self.probes = probes; self.seed = seed }

    public struct Result: ProbeResult {
        /// The trace estimate and its standard error.
        public var trace = Double.nan, standardError = Double.nan
        public init() {}
        public static var fields: [ProbeField<Result>] { [.init("trace", \.trace), .init("trace_stderr", \.standardError)] }
    }

    public func validate() throws { try check("probes", probes, in: ProbeLimits.traceProbes) }

    public func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> Result {
        let (t, se) = try hutchinsonTrace(of: try context.curvature(), probes: probes, seed: seed)
        var out = Result()
        out.trace = t; out.standardError = se
        return out
    }
}

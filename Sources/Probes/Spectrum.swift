import Autodiff
import Foundation
import Tensors

/// A spectral density estimate on a grid (see ``spectralDensity(of:at:probes:steps:gridPoints:bandwidth:seed:)``).
public struct SpectralDensity: Sendable {
    /// The grid of eigenvalues t (ascending).
    public let grid: [Double]
    /// The smoothed density φ(t) on the grid (integrates to ≈ 1 over a grid that covers the nodes).
    public let density: [Double]
    /// Quadrature nodes of all probes (Ritz values).
    public let nodes: [Double]
    /// Their weights divided by the number of probes (they sum to 1).
    public let weights: [Double]
    /// The Gaussian kernel's standard deviation σ.
    public let bandwidth: Double
    /// Σ weight·node: an estimate of tr(H)/d, the mean eigenvalue.
    public var mean: Double { zip(nodes, weights).reduce(0) { $0 + $1.0 * $1.1 } }
}

/// The spectral density of the Hessian by stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017;
/// Ghorbani, Krishnan & Xiao 2019; PyHessian's `density`): for each of `probes` seeded Rademacher
/// start vectors, `steps` Lanczos steps give Ritz values θ_j and Gauss weights τ_j; the density
/// is φ(t) = (1/n_v) Σ_v Σ_j τ_j N(t; θ_j, σ²), evaluated on `gridPoints` points spanning
/// [min θ − 5σ, max θ + 5σ].
///
/// - Parameters:
///   - bandwidth: σ; default 1 % of the spread of the nodes (at least 1e-12).
/// - Throws: ``/Autodiff/AutodiffError`` for probes < 1, steps < 2, steps > d, gridPoints < 2, σ ≤ 0, or HVP errors.
public func spectralDensity<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, probes: Int = 4, steps: Int = 60,
                                          gridPoints: Int = 512, bandwidth: Double? = nil, seed: UInt64 = 0) throws -> SpectralDensity {
    try spectralDensity(of: try HessianOperator(of: f, at: θ), probes: probes, steps: steps, gridPoints: gridPoints,
                        bandwidth: bandwidth, seed: seed)
}

/// SLQ on any symmetric operator; see ``spectralDensity(of:at:probes:steps:gridPoints:bandwidth:seed:)``.
public func spectralDensity<A: SymmetricOperator>(of op: A, probes: Int = 4, steps: Int = 60,
                                                  gridPoints: Int = 512, bandwidth: Double? = nil, seed: UInt64 = 0) throws -> SpectralDensity {
    let d = op.dimension
    guard probes >= 1 else { throw AutodiffError.invalidArgument("SLQ: probes must be at least 1, got \(probes)") }
    guard steps >= 2, steps <= d else { throw AutodiffError.invalidArgument("SLQ: steps must be in 2...\(d), got \(steps)") }
    guard gridPoints >= 2 else { throw AutodiffError.invalidArgument("SLQ: the grid needs at least 2 points, got \(gridPoints)") }
    if let bandwidth, !(bandwidth > 0 && bandwidth.isFinite) { throw AutodiffError.invalidArgument("SLQ: bandwidth must be positive, got \(bandwidth)") }
    var rng = SplitMix64(seed: seed)
    // The runs go in lockstep, each holding its basis until it ends.
    let size = ProbeLimits.lockstepRuns(steps: steps, dimension: d, scalarBytes: MemoryLayout<A.Scalar>.size)
    var runs: [LanczosResult<A.Scalar>] = []
    for first in stride(from: 0, to: probes, by: size) {
        let starts = (first..<min(first + size, probes)).map { p in
            LanczosStart(initialVector: Tensor<A.Scalar>.randomRademacher([d], using: &rng), seed: seed &+ UInt64(p))
        }
        runs += try lanczos(of: op, starts: starts, count: 1, steps: steps).map(\.quadrature)
    }
    return try spectralDensity(from: runs, gridPoints: gridPoints, bandwidth: bandwidth)
}

/// The SLQ density from Lanczos runs already made (one per probe), e.g. a run that also gave the
/// top eigenvalues: each run started from a Rademacher (or other isotropic) vector contributes
/// its Ritz values θ_j with Gauss weights τ_j / (number of runs); smoothing as in
/// ``spectralDensity(of:at:probes:steps:gridPoints:bandwidth:seed:)``. A run from a non-random
/// start vector (e.g. a warm start) would bias the density.
/// - Throws: ``/Autodiff/AutodiffError`` for no runs, gridPoints < 2 or σ ≤ 0.
public func spectralDensity<E: TensorScalar>(from runs: [LanczosResult<E>], gridPoints: Int = 512, bandwidth: Double? = nil) throws -> SpectralDensity {
    guard !runs.isEmpty else { throw AutodiffError.invalidArgument("SLQ: no Lanczos runs") }
    guard gridPoints >= 2 else { throw AutodiffError.invalidArgument("SLQ: the grid needs at least 2 points, got \(gridPoints)") }
    if let bandwidth, !(bandwidth > 0 && bandwidth.isFinite) { throw AutodiffError.invalidArgument("SLQ: bandwidth must be positive, got \(bandwidth)") }
    var nodes: [Double] = [], weights: [Double] = []
    for r in runs {
        nodes += r.ritzValues
        weights += r.quadratureWeights.map { $0 / Double(runs.count) }
    }
    let lo = nodes.min()!, hi = nodes.max()!
    let sigma = bandwidth ?? max(0.01 * (hi - lo), 1e-12)
    let a = lo - 5 * sigma, b = hi + 5 * sigma
    let grid = (0..<gridPoints).map { a + (b - a) * Double($0) / Double(gridPoints - 1) }
    let norm = 1 / (sigma * (2 * Double.pi).squareRoot())
    let density = grid.map { t in
        zip(nodes, weights).reduce(0.0) { acc, nw in
            let u = (t - nw.0) / sigma
            return acc + nw.1 * norm * Foundation.exp(-0.5 * u * u)
        }
    }
    return SpectralDensity(grid: grid, density: density, nodes: nodes, weights: weights, bandwidth: sigma)
}

/// Effective ranks of a spectrum {λ_i} (absolute values are used, so negative curvature counts).
///
/// - `entropy`: exp(−Σ p_i log p_i) with p_i = |λ_i| / Σ_j |λ_j| (Roy & Vetterli 2007): the number
///   of equally large eigenvalues that would have the same entropy.
/// - `traceRatio`: Σ |λ_i| / max |λ_i| (the "stable rank" of the Hessian).
///
/// The study's eqs. 9–10 are not available to us; these are the two standard definitions, named
/// so that the study's choice can be matched (see Notes/probes.md).
public struct EffectiveRank: Sendable, Equatable {
    /// exp(−Σ p log p) with p_i = |λ_i| / Σ|λ|.
    public let entropy: Double
    /// Σ|λ_i| / max|λ_i|.
    public let traceRatio: Double

    /// From an exact spectrum (e.g. ``hessianSpectrum(of:at:limit:)``). A zero spectrum gives 0.
    public init(spectrum: [Double]) {
        self.init(nodes: spectrum, weights: [Double](repeating: 1, count: spectrum.count))
    }

    /// From weighted nodes: node θ_j stands for `weights[j]` eigenvalues. With SLQ, pass the nodes
    /// and d·weights: the estimate inherits SLQ's bias — eigenvalues are smoothed into a few Ritz
    /// values per probe, so many small eigenvalues are merged and the entropy rank is biased low
    /// when the spectrum has a long tail of tiny values, high when a few nodes carry the bulk.
    public init(nodes: [Double], weights: [Double]) {
        let mass = zip(nodes, weights).reduce(0.0) { $0 + abs($1.0) * $1.1 }
        let peak = nodes.map(abs).max() ?? 0
        guard mass > 0, peak > 0 else { entropy = 0; traceRatio = 0; return }
        var h = 0.0
        for (t, w) in zip(nodes, weights) where t != 0 && w > 0 {
            let p = abs(t) / mass
            h -= w * p * Foundation.log(p)
        }
        entropy = Foundation.exp(h)
        traceRatio = mass / peak
    }
}

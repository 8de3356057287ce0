import Autodiff
import Tensors

/// How many directions of a curvature spectrum {λ_i} matter, by three counts beside the effective
/// ranks of ``EffectiveRank``:
///
/// - ``effectiveDimension``: N_eff(z) = Σ_i λ_i / (λ_i + z) (MacKay 1992, "Bayesian
///   interpolation", the number of well-determined parameters γ with z the prior precision;
///   Maddox, Benton & Wilson 2020, "Rethinking parameter counting in deep models: effective
///   dimensionality revisited"). Each eigenvalue counts λ/(λ + z) ∈ [0, 1): about 1 when
///   λ ≫ z, about 0 when λ ≪ z. It is defined for positive semi-definite curvature; a Hessian
///   away from a minimum has negative eigenvalues, whose term would be negative and has a pole at
///   λ = −z, so each λ_i enters as max(λ_i, 0): negative curvature counts as none.
/// - ``participationRatio``: (Σ_i |λ_i|)² / Σ_i λ_i², with absolute values as in ``EffectiveRank``
///   (so the signed sum cannot cancel): k for k eigenvalues of equal magnitude and zeros elsewhere,
///   otherwise between 1 and the number of eigenvalues.
/// - ``countAboveFraction``: #{i : λ_i ≥ f · λ_max} for the largest eigenvalue λ_max; the
///   outliers above the bulk. Signed: negative eigenvalues never count, and the count is 0 when
///   λ_max ≤ 0.
///
/// A zero (or empty) spectrum gives 0 for every count, as ``EffectiveRank`` does.
///
/// From a stochastic Lanczos quadrature (``init(density:dimension:regularization:fraction:)``) node
/// θ_j stands for d·τ_j eigenvalues, and each sum Σ_i g(λ_i) becomes Σ_j d·τ_j g(θ_j), SLQ's
/// estimate of tr g(H) (Ubaru, Chen & Saad 2017). These are estimates: with steps ≥ 2, Σλ² is
/// exact per probe (Gauss quadrature integrates degree-2 polynomials exactly, so it is
/// Hutchinson's estimate of tr H²), but |λ|, max(λ, 0)/(max(λ, 0) + z) and the threshold count
/// are not polynomials and are approximated by the nodes; λ_max is the largest Ritz value (a lower
/// bound that converges first); and the weight of a resolved isolated eigenvalue with unit
/// eigenvector q is d·(zᵀq)²/‖z‖² = (zᵀq)² for a Rademacher z: 1 on average over probes, exactly 1
/// when q is a coordinate vector, about as spread as a χ²₁ for one probe when q is spread over
/// many coordinates.
public struct SpectralRanks: Sendable, Equatable {
    /// z > 0, in the units of the eigenvalues: an eigenvalue equal to z counts one half in N_eff.
    public let regularization: Double
    /// N_eff(z) = Σ_i max(λ_i, 0) / (max(λ_i, 0) + z).
    public let effectiveDimension: Double
    /// (Σ|λ_i|)² / Σλ_i²; 0 for a zero spectrum.
    public let participationRatio: Double
    /// f in (0, 1].
    public let fraction: Double
    /// The largest eigenvalue (the largest node from SLQ); 0 for an empty spectrum.
    public let lambdaMax: Double
    /// #{i : λ_i ≥ f·λ_max}, 0 when λ_max ≤ 0; from SLQ, Σ d·τ_j over the nodes θ_j ≥ f·λ_max,
    /// a real number.
    public let countAboveFraction: Double
    /// The entropy rank and the trace ratio of the same spectrum.
    public let effectiveRank: EffectiveRank

    /// From an exact spectrum (e.g. ``hessianSpectrum(of:at:limit:)`` or
    /// ``SymmetricOperator/spectrum(limit:)``), any order.
    ///
    /// - Parameters:
    ///   - regularization: z > 0. The default 1 says a direction is determined when its curvature
    ///     is above 1 loss unit per squared parameter unit; N_eff depends on the scale of H (a loss
    ///     summed over n examples has n times the eigenvalues of the mean), so pass the z that
    ///     matches the loss — in MacKay's reading the prior precision, α/n for a mean loss over n
    ///     examples and a N(0, α⁻¹I) prior — and compare N_eff only at one z.
    ///   - fraction: f in (0, 1]; the default 1 % counts every eigenvalue within two orders of
    ///     magnitude of λ_max.
    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` for z ≤ 0 or non-finite, f outside (0, 1],
    ///   or a non-finite eigenvalue.
    public init(spectrum: [Double], regularization: Double = 1, fraction: Double = 0.01) throws {
        try self.init(nodes: spectrum, weights: [Double](repeating: 1, count: spectrum.count),
                      regularization: regularization, fraction: fraction)
    }

    /// From an SLQ density (``spectralDensity(of:probes:steps:gridPoints:bandwidth:seed:)``) of an
    /// operator of dimension d: node θ_j stands for d·τ_j eigenvalues (the weights τ_j sum to 1).
    /// The smoothing bandwidth plays no part. See the type's notes on what these estimates are.
    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` for d < 1, and as
    ///   ``init(spectrum:regularization:fraction:)``.
    public init(density: SpectralDensity, dimension: Int, regularization: Double = 1, fraction: Double = 0.01) throws {
        guard dimension >= 1 else { throw AutodiffError.invalidArgument("spectral ranks: the dimension must be at least 1, got \(dimension)") }
        try self.init(nodes: density.nodes, weights: density.weights.map { $0 * Double(dimension) },
                      regularization: regularization, fraction: fraction)
    }

    /// From weighted nodes: node θ_j stands for `weights[j]` eigenvalues (as
    /// ``EffectiveRank/init(nodes:weights:)``).
    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` for different counts of nodes and weights,
    ///   a non-finite node, a negative or non-finite weight, and as
    ///   ``init(spectrum:regularization:fraction:)``.
    public init(nodes: [Double], weights: [Double], regularization z: Double = 1, fraction f: Double = 0.01) throws {
        guard z > 0, z.isFinite else { throw AutodiffError.invalidArgument("spectral ranks: the regularization z must be positive and finite, got \(z)") }
        guard f > 0, f <= 1 else { throw AutodiffError.invalidArgument("spectral ranks: the fraction of λ_max must be in (0, 1], got \(f)") }
        guard nodes.count == weights.count else {
            throw AutodiffError.invalidArgument("spectral ranks: \(nodes.count) nodes but \(weights.count) weights")
        }
        if let bad = nodes.first(where: { !$0.isFinite }) { throw AutodiffError.invalidArgument("spectral ranks: an eigenvalue is \(bad)") }
        if let bad = weights.first(where: { !($0 >= 0 && $0.isFinite) }) {
            throw AutodiffError.invalidArgument("spectral ranks: weights must be non-negative and finite, got \(bad)")
        }
        var dimension = 0.0, absolute = 0.0, squares = 0.0
        for (λ, m) in zip(nodes, weights) {
            let positive = max(λ, 0)
            dimension += m * positive / (positive + z)
            absolute += m * abs(λ)
            squares += m * λ * λ
        }
        let top = nodes.max() ?? 0
        regularization = z
        fraction = f
        effectiveDimension = dimension
        participationRatio = squares > 0 ? absolute * absolute / squares : 0
        lambdaMax = top
        countAboveFraction = top > 0 ? zip(nodes, weights).filter { $0.0 >= f * top }.reduce(0) { $0 + $1.1 } : 0
        effectiveRank = EffectiveRank(nodes: nodes, weights: weights)
    }
}

/// The SLQ spectral density of the curvature (``spectralDensity(of:probes:steps:gridPoints:bandwidth:seed:)``)
/// and the ranks from it (``SpectralRanks``), as a probe.
public struct SpectralRanksProbe: Probe {
    public static let name = "spectral_ranks"
    /// SLQ probe vectors and Lanczos steps per probe (capped at d).
    public var slqProbes = ProbeDefaults.slqProbes, slqSteps = ProbeDefaults.slqSteps
    /// z of N_eff(z), and the fraction of λ_max above which eigenvalues are counted.
    public var regularization = 1.0, fraction = 0.01
    /// Seed of the SLQ probe vectors.
    public var seed: UInt64 = 4

    public init() {}

    public struct Result: ProbeResult {
        /// The SLQ trace, the spectral entropy's effective rank, the trace ratio tr/λ_max and the participation ratio.
        public var slqTrace = Double.nan, entropy = Double.nan, traceRatio = Double.nan, participationRatio = Double.nan
        /// The effective dimensionality Σ λ/(λ + z), and the number of eigenvalues above ``fraction``·λ_max.
        public var effectiveDimension = Double.nan, countAboveFraction = Double.nan
        public init() {}
        public static var fields: [ProbeField<Result>] {
            [.init("slq_trace", \.slqTrace), .init("effective_rank_entropy", \.entropy), .init("effective_rank_trace_ratio", \.traceRatio),
             .init("participation_ratio", \.participationRatio), .init("effective_dimension", \.effectiveDimension),
             .init("count_above_fraction", \.countAboveFraction)]
        }
    }

    public func validate() throws {
        try check("slqProbes", slqProbes, in: ProbeLimits.slqProbes)
        try check("slqSteps", slqSteps, in: ProbeLimits.slqSteps)
        try checkPositive("regularization", regularization)
        guard fraction > 0, fraction <= 1 else { throw invalid("fraction", "must be in (0, 1], got \(fraction)") }
    }

    public func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> Result {
        let op = try context.curvature()
        let density = try spectralDensity(of: op, probes: slqProbes, steps: min(slqSteps, op.dimension), seed: seed)
        let ranks = try SpectralRanks(density: density, dimension: op.dimension, regularization: regularization, fraction: fraction)
        var out = Result()
        out.slqTrace = density.mean * Double(op.dimension)
        out.entropy = ranks.effectiveRank.entropy; out.traceRatio = ranks.effectiveRank.traceRatio
        out.participationRatio = ranks.participationRatio; out.effectiveDimension = ranks.effectiveDimension
        out.countAboveFraction = ranks.countAboveFraction
        return out
    }
}

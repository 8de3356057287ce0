import Autodiff
import Tensors

/// Which end of the spectrum `lanczos(of:at:count:target:steps:tolerance:seed:)` returns.
public enum SpectrumEnd: String, Sendable, CaseIterable {
    /// The k largest eigenvalues (λ_max first).
    case largestAlgebraic
    /// The k smallest eigenvalues (λ_min first; negative curvature).
    case smallestAlgebraic
    /// The k eigenvalues of largest |λ|.
    case largestMagnitude
}

/// One Ritz pair from Lanczos.
public struct RitzPair<E: TensorScalar>: Sendable {
    /// The Ritz value θ (an eigenvalue estimate of H).
    public let value: Double
    /// The unit Ritz vector y = Q s (length d).
    public let vector: Tensor<E>
    /// The residual ‖H y − θ y‖₂, from the Lanczos relation β_m·|s_m| (exact in exact arithmetic;
    /// full reorthogonalization keeps it close in floating point).
    public let residualNorm: Double
    /// Whether `residualNorm ≤ tolerance · max(|θ|, ‖T‖ · 1e-12)`.
    public let converged: Bool
}

/// The result of `lanczos(of:at:count:target:steps:tolerance:seed:)`.
public struct LanczosResult<E: TensorScalar>: Sendable {
    /// The requested Ritz pairs, ordered by `target` (largest first, smallest first, or largest |θ| first).
    public let pairs: [RitzPair<E>]
    /// Lanczos steps (HVPs) performed.
    public let steps: Int
    /// All Ritz values of the final tridiagonal matrix (ascending): the nodes of the Gauss
    /// quadrature used by stochastic Lanczos quadrature.
    public let ritzValues: [Double]
    /// The quadrature weights τ_j = (e₁ᵀ s_j)² of ``ritzValues`` (they sum to 1).
    public let quadratureWeights: [Double]

    /// The run without its Ritz vectors: what SLQ needs (``spectralDensity(from:gridPoints:bandwidth:)``),
    /// so that many probes' runs cost no parameter-sized memory.
    public var quadrature: LanczosResult { LanczosResult(pairs: [], steps: steps, ritzValues: ritzValues, quadratureWeights: quadratureWeights) }
}

/// Extreme eigenpairs of the Hessian H(θ) of `f` by the Lanczos iteration with full
/// reorthogonalization (Lanczos 1950; Golub & Van Loan, *Matrix Computations*, §10.1;
/// as in PyHessian and curvlinops), using forward-over-reverse HVPs (Pearlmutter 1994).
///
/// Builds an orthonormal Krylov basis Q = [q₁ … q_m] from a seeded random unit q₁ with
/// `H q_j = β_{j−1} q_{j−1} + α_j q_j + β_j q_{j+1}`, reorthogonalizing every new vector
/// against all previous ones (twice), then diagonalizes the tridiagonal T_m = tridiag(β, α, β)
/// with LAPACK `dstev`. Stops early when β_j vanishes (an invariant subspace: the Ritz values
/// are then exact eigenvalues).
///
/// Single-vector Lanczos finds each **distinct** eigenvalue once: a repeated eigenvalue's
/// eigenspace contributes one direction to the Krylov space, so multiplicities are not
/// resolved (use ``hessianSpectrum(of:at:limit:)`` for small models).
///
/// - Parameters:
///   - θ: the point (length d = `f.layout.parameterCount`).
///   - count: k ≥ 1 eigenpairs, k ≤ d.
///   - target: which end of the spectrum (λ_min by `.smallestAlgebraic`).
///   - steps: Krylov dimension m, k ≤ m ≤ d (default min(d, max(2k + 20, 40))). Memory: m vectors of length d.
///   - tolerance: relative residual for ``RitzPair/converged``.
///   - initialVector: the start vector q₁ (normalized here); default a seeded Gaussian.
///   - stopWhenConverged: stop before `steps` once the k Ritz pairs have converged (checked after
///     every step); then ``LanczosResult/steps`` says how many products were used. A converged
///     pair is an eigenpair to the tolerance, but the requested end of the spectrum only if the
///     Krylov space has found it: from a start vector nearly orthogonal to the top eigenvector
///     (component 1e-8) the first Ritz pair can converge to an interior eigenvalue, as power
///     iteration can. Start from a vector with weight on the wanted end (a previous estimate).
/// - Throws: ``/Autodiff/AutodiffError`` for wrong lengths, k < 1, k > d, m outside k...d, or a non-finite HVP;
///   ``/Tensors/LAPACK/Failure`` if the tridiagonal eigensolver fails.
public func lanczos<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, count k: Int, target: SpectrumEnd = .largestAlgebraic,
                                  steps: Int? = nil, tolerance: Double = 1e-6, seed: UInt64 = 0,
                                  initialVector: Tensor<O.Scalar>? = nil, stopWhenConverged: Bool = false) throws -> LanczosResult<O.Scalar> {
    try lanczos(of: try HessianOperator(of: f, at: θ), count: k, target: target, steps: steps, tolerance: tolerance,
                seed: seed, initialVector: initialVector, stopWhenConverged: stopWhenConverged)
}

/// Lanczos on any symmetric operator (the Hessian, the Gauss–Newton matrix, a layer's block, a
/// plain matrix); see ``lanczos(of:at:count:target:steps:tolerance:seed:initialVector:stopWhenConverged:)``.
public func lanczos<A: SymmetricOperator>(of op: A, count k: Int, target: SpectrumEnd = .largestAlgebraic,
                                          steps: Int? = nil, tolerance: Double = 1e-6, seed: UInt64 = 0,
                                          initialVector: Tensor<A.Scalar>? = nil, stopWhenConverged: Bool = false) throws -> LanczosResult<A.Scalar> {
    let d = op.dimension
    let m = try lanczosSteps(count: k, dimension: d, steps: steps, tolerance: tolerance)

    var run = LanczosRun<A.Scalar>(start: try unitStartVector(initialVector, dimension: d, seed: seed, probe: "Lanczos"))
    while !run.finished { try run.advance(product: try op.apply(run.q), steps: m, count: k, target: target, tolerance: tolerance, stopWhenConverged: stopWhenConverged) }
    return try run.result(count: k, target: target, tolerance: tolerance)
}

/// One Lanczos run's start: the vector q₁ (normalized here; `nil`: a seeded Gaussian from
/// `seed`) and the end of the spectrum its pairs are ordered by.
public struct LanczosStart<E: TensorScalar> {
    /// q₁ (length d, normalized by the run), or `nil` for a seeded Gaussian.
    public var initialVector: Tensor<E>?
    /// The seed of the Gaussian start when ``initialVector`` is `nil`.
    public var seed: UInt64
    /// The end of the spectrum the run's pairs are ordered by (and, with `stopWhenConverged`, tested at).
    public var target: SpectrumEnd
    /// A start from `initialVector` (or a Gaussian from `seed`), its pairs ordered by `target`.
    public init(initialVector: Tensor<E>? = nil, seed: UInt64 = 0, target: SpectrumEnd = .largestAlgebraic) {
        self.initialVector = initialVector; self.seed = seed; self.target = target
    }
}

/// Several Lanczos runs on one operator in lockstep: step j of every run still going is one
/// block product (``SymmetricOperator/apply(block:)``), so n runs of m steps make m block
/// products of n vectors: one pass over the chunks per step for a chunked operator, but still n·m
/// Hessian-vector products (``ProbeLimits/tangentsPerPass`` vectors per replay). Each run is
/// ``lanczos(of:count:target:steps:tolerance:seed:initialVector:stopWhenConverged:)`` from its
/// start, to round-off (the block product equals the single ones to round-off); a run that stops
/// early (an invariant subspace, or converged) leaves the block.
/// - Throws: as ``lanczos(of:count:target:steps:tolerance:seed:initialVector:stopWhenConverged:)``.
public func lanczos<A: SymmetricOperator>(of op: A, starts: [LanczosStart<A.Scalar>], count k: Int, steps: Int? = nil,
                                          tolerance: Double = 1e-6, stopWhenConverged: Bool = false) throws -> [LanczosResult<A.Scalar>] {
    let d = op.dimension
    let m = try lanczosSteps(count: k, dimension: d, steps: steps, tolerance: tolerance)
    var runs = try starts.map { LanczosRun<A.Scalar>(start: try unitStartVector($0.initialVector, dimension: d, seed: $0.seed, probe: "Lanczos")) }
    while case let going = runs.indices.filter({ !runs[$0].finished }), !going.isEmpty {
        let products = try op.apply(block: going.map { runs[$0].q })
        for (i, w) in zip(going, products) {
            try runs[i].advance(product: w, steps: m, count: k, target: starts[i].target, tolerance: tolerance, stopWhenConverged: stopWhenConverged)
        }
    }
    return try zip(runs, starts).map { try $0.result(count: k, target: $1.target, tolerance: tolerance) }
}

/// The state of one Lanczos run between products (full reorthogonalization): the basis, the
/// tridiagonal T's entries, and the next vector to multiply.
struct LanczosRun<E: TensorScalar> {
    /// The vector whose product the next step needs.
    var q: Tensor<E>
    var basis: [Tensor<E>] = []
    var alpha: [Double] = [], beta: [Double] = []
    var lastBeta = 0.0
    /// Whether the run has taken its last step.
    var finished = false

    init(start: Tensor<E>) { q = start }

    /// One step from `w` = A q: α, reorthogonalization, β and the next q; finished after `steps`
    /// steps, at an invariant subspace or, with `stopWhenConverged`, once the `count` pairs at
    /// `target` have converged.
    mutating func advance(product: Tensor<E>, steps m: Int, count k: Int, target: SpectrumEnd, tolerance: Double, stopWhenConverged: Bool) throws {
        let j = alpha.count
        basis.append(q)
        var w = product
        guard w.norm().isFinite else { throw AutodiffError.invalidArgument("Lanczos: the operator product is not finite at step \(j + 1)") }
        let a = w.dot(q)
        alpha.append(a)
        // Full reorthogonalization (twice is enough: Parlett's "twice is enough").
        for _ in 0..<2 {
            for b in basis { w.addScaled(b, E(-w.dot(b))) }
        }
        let bnorm = w.norm()
        lastBeta = bnorm
        let scale = max(alpha.map(abs).max() ?? 0, beta.max() ?? 0, 1e-300)
        if j == m - 1 || bnorm <= 1e-10 * scale { finished = true; return }
        if stopWhenConverged, alpha.count >= k,
           try ritzPairsConverged(alpha: alpha, beta: beta, nextBeta: bnorm, count: k, target: target, tolerance: tolerance) { finished = true; return }
        beta.append(bnorm)
        q = w.affine(scale: E(1 / bnorm), shift: 0)
    }

    /// The Ritz pairs at `target`, all Ritz values and the quadrature weights.
    func result(count k: Int, target: SpectrumEnd, tolerance: Double) throws -> LanczosResult<E> {
        let steps = alpha.count, d = q.count
        let (values, vectors) = try LAPACK.tridiagonalEigen(diagonal: alpha, offDiagonal: Array(beta.prefix(steps - 1)))
        let tNorm = max(values.map(abs).max() ?? 0, 1e-300)
        let pairs: [RitzPair<E>] = ritzOrder(values, target).prefix(min(k, steps)).map { i in
            let s = (0..<steps).map { vectors.scalars[i * steps + $0] }
            var y = Tensor<E>.zeros([d])
            for (c, b) in zip(s, basis) { y.addScaled(b, E(c)) }
            let residual = abs(lastBeta * s[steps - 1])
            return RitzPair(value: values[i], vector: y, residualNorm: residual,
                            converged: ritzConverged(residual: residual, value: values[i], spread: tNorm, tolerance: tolerance))
        }
        let weights = (0..<steps).map { i in vectors.scalars[i * steps] * vectors.scalars[i * steps] }
        return LanczosResult(pairs: pairs, steps: steps, ritzValues: values, quadratureWeights: weights)
    }
}

/// Indices of the Ritz values, the requested end of the spectrum first.
func ritzOrder(_ values: [Double], _ target: SpectrumEnd) -> [Int] {
    let order = Array(values.indices)
    switch target {
    case .largestAlgebraic: return order.sorted { values[$0] > values[$1] }
    case .smallestAlgebraic: return order.sorted { values[$0] < values[$1] }
    case .largestMagnitude: return order.sorted { abs(values[$0]) > abs(values[$1]) }
    }
}

/// A Ritz pair's convergence: residual ≤ tolerance·|θ|, with |θ| floored at 1e-12 of the
/// largest |Ritz value| so that a zero eigenvalue can converge.
func ritzConverged(residual: Double, value: Double, spread: Double, tolerance: Double) -> Bool {
    residual <= tolerance * max(abs(value), spread * 1e-12)
}

/// Whether the `count` target Ritz pairs of the tridiagonal T_j (diagonal `alpha`, off-diagonal
/// `beta`) have converged, their residuals ‖A y − θ y‖ being |β_j s_j| with β_j = `nextBeta`
/// (Parlett, *The Symmetric Eigenvalue Problem*, §13.1): the test `stopWhenConverged` applies
/// after each step, at the cost of one tridiagonal eigensolve of size j.
func ritzPairsConverged(alpha: [Double], beta: [Double], nextBeta: Double, count k: Int, target: SpectrumEnd, tolerance: Double) throws -> Bool {
    let j = alpha.count
    let (values, vectors) = try LAPACK.tridiagonalEigen(diagonal: alpha, offDiagonal: Array(beta.prefix(j - 1)))
    let spread = max(values.map(abs).max() ?? 0, 1e-300)
    return ritzOrder(values, target).prefix(k).allSatisfy { i in
        ritzConverged(residual: abs(nextBeta * vectors.scalars[i * j + j - 1]), value: values[i], spread: spread, tolerance: tolerance)
    }
}

/// All eigenvalues (ascending) of the dense Hessian of a small model: d HVPs, then LAPACK
/// `dsyevd`. The Hessian is symmetrized as (H + Hᵀ)/2 against round-off.
/// - Throws: ``/Autodiff/AutodiffError/tooLarge(parameters:limit:)`` above `limit` parameters (raise it to
///   allow d² memory and d HVPs), and the errors of the HVP and of ``/Tensors/LAPACK``.
public func hessianSpectrum<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, limit: Int = 4096) throws -> [Double] {
    try HessianOperator(of: f, at: θ).spectrum(limit: limit)
}

/// The number of Lanczos steps m for k eigenpairs of a d×d operator: `steps`, else
/// min(d, max(2k + 20, 40)).
/// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` unless 1 ≤ k ≤ m ≤ d and the tolerance is positive and finite.
func lanczosSteps(count k: Int, dimension d: Int, steps: Int?, tolerance: Double) throws -> Int {
    guard k >= 1 else { throw AutodiffError.invalidArgument("Lanczos: the number of eigenpairs must be at least 1, got \(k)") }
    guard k <= d else { throw AutodiffError.invalidArgument("Lanczos: asked for \(k) eigenpairs of a \(d)×\(d) Hessian") }
    let m = steps ?? min(d, max(2 * k + 20, 40))
    guard m >= k, m <= d else { throw AutodiffError.invalidArgument("Lanczos: steps must be in \(k)...\(d), got \(m)") }
    guard tolerance > 0, tolerance.isFinite else { throw AutodiffError.invalidArgument("Lanczos: tolerance must be positive, got \(tolerance)") }
    return m
}

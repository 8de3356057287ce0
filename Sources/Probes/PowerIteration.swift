import Autodiff
import Tensors

/// Why power iteration stopped.
public enum PowerIterationStatus: String, Sendable {
    /// The residual ‖Av − λv‖ fell to `tolerance·|λ|`: λ is an eigenvalue to that accuracy.
    case converged
    /// The iterations ran out with the residual still above `tolerance·|λ|` (slow convergence:
    /// |λ₂|/|λ₁| near 1; use more iterations or Lanczos).
    case maxIterations
    /// `Av = 0`: the iterate lies in the null space, which says nothing about the dominant eigenvalue.
    case zeroQuotient
    /// ‖Av‖ settled while the residual stayed of the size of ‖Av‖: the iterate alternates between
    /// the eigenvectors of a dominant pair ±λ (magnitude ``PowerIterationResult/dominantMagnitude``),
    /// and the Rayleigh quotient estimates neither. Use Lanczos.
    case plusMinusPair
    /// The residual stopped falling: for ``PowerIterationResult/stagnationWindow`` iterations the
    /// relative residual ‖Av − λv‖/‖Av‖ never fell 1 % below its smallest earlier value (round-off
    /// reached, or a rotation between close eigenvectors that makes no progress). A residual that
    /// still falls, however slowly (|λ₂/λ₁| = 0.92 loses 8 % per iteration), is `maxIterations`.
    case stagnated
}

/// The result of power iteration.
public struct PowerIterationResult<E: TensorScalar>: Sendable {
    /// The Rayleigh quotient `vᵀAv` of the final unit vector: the estimate of the eigenvalue of
    /// largest magnitude, with its sign. Trust it only where ``converged``.
    public let eigenvalue: Double
    /// The final unit vector v (length d), usable to warm-start the next call.
    public let eigenvector: Tensor<E>
    /// Operator products performed.
    public let iterations: Int
    /// `‖Av − λv‖₂` for the final v and λ.
    public let residualNorm: Double
    /// ‖Av‖ for the final unit v: the dominant |λ| when the iterate has converged or alternates.
    public let dominantMagnitude: Double
    /// Why the iteration stopped.
    public let status: PowerIterationStatus
    /// Whether `residualNorm ≤ tolerance·|eigenvalue|` (``status`` is `.converged`).
    public var converged: Bool { status == .converged }
    /// The Rayleigh quotient after each iteration.
    public let history: [Double]
    /// Iterations without progress after which ``PowerIterationStatus/stagnated`` ends the run.
    public static var stagnationWindow: Int { 20 }
}

/// The dominant eigenvalue of a symmetric operator by power iteration (the study's λ_max probe,
/// as in PyHessian), with a convergence test that cannot call a wrong value converged.
///
/// Starting from a seeded random unit vector (or `initialVector`), repeats `w = A v`,
/// `λ = vᵀw` (Rayleigh quotient), `v ← w/‖w‖`, and stops when the residual
/// `‖w − λv‖ ≤ tolerance·|λ|` (not when λ merely changes little: for diag(5, 4.95) from
/// (1, 1)/√2 the quotient moves by < 0.1 % per step long before it is near 5), when `Av = 0`,
/// when a dominant ±λ pair makes the iterate alternate, when the residual stagnates, or after
/// `maxIterations` products; ``PowerIterationResult/status`` says which.
///
/// Power iteration converges to the eigenvalue of **largest magnitude**; when that is negative
/// it returns the negative value (use Lanczos for λ_max then).
///
/// - Parameters:
///   - maxIterations: at least 1.
///   - tolerance: relative residual, > 0.
///   - initialVector: a warm start (e.g. the previous epoch's eigenvector); normalized here.
/// - Throws: ``/Autodiff/AutodiffError`` for wrong lengths, a zero initial vector, invalid options or a
///   non-finite product.
public func powerIteration<A: SymmetricOperator>(of a: A, maxIterations: Int = 100, tolerance: Double = ProbeDefaults.powerTolerance, seed: UInt64 = 0,
                                                 initialVector: Tensor<A.Scalar>? = nil) throws -> PowerIterationResult<A.Scalar> {
    guard maxIterations >= 1 else { throw AutodiffError.invalidArgument("maxIterations must be at least 1, got \(maxIterations)") }
    guard tolerance > 0, tolerance.isFinite else { throw AutodiffError.invalidArgument("tolerance must be positive, got \(tolerance)") }
    var v = try unitStartVector(initialVector, dimension: a.dimension, seed: seed, probe: "power iteration")
    var history: [Double] = []
    // The relative residual ‖w − λv‖/‖w‖ (the sine of the angle between v and Av) measures
    // progress; the absolute one can grow while v improves, as λ grows from a random start.
    var bestRelative = Double.infinity, lastProgress = 0
    var lambda = 0.0, residual = Double.infinity, magnitude = 0.0, previousMagnitude = -1.0
    var oneBack: Tensor<A.Scalar>? = nil, twoBack: Tensor<A.Scalar>? = nil
    var status = PowerIterationStatus.maxIterations
    for k in 1...maxIterations {
        let w = try a.apply(v)
        lambda = w.dot(v)
        var r = w
        r.addScaled(v, A.Scalar(-lambda))
        residual = r.norm()
        magnitude = w.norm()
        history.append(lambda)
        guard magnitude.isFinite, lambda.isFinite else {
            throw AutodiffError.invalidArgument("power iteration: the product is not finite at iteration \(k)")
        }
        if magnitude == 0 { status = .zeroQuotient; break }
        if lambda != 0 && residual <= tolerance * abs(lambda) { status = .converged; break }
        // A ±λ pair: ‖Av‖ has settled, the iterate repeats every second step (v_k ≈ ±v_{k−2}),
        // and it is far from any eigenvector (residual ≥ ‖Av‖/2).
        if k >= 4, let older = twoBack, abs(magnitude - previousMagnitude) <= tolerance * magnitude, residual >= 0.5 * magnitude {
            var d = v
            d.addScaled(older, A.Scalar(v.dot(older) >= 0 ? -1 : 1))
            if d.norm() <= tolerance.squareRoot() { status = .plusMinusPair; break }
        }
        let relative = residual / magnitude
        if relative < 0.99 * bestRelative { bestRelative = relative; lastProgress = k }
        if k - lastProgress >= PowerIterationResult<A.Scalar>.stagnationWindow { status = .stagnated; break }
        previousMagnitude = magnitude
        twoBack = oneBack; oneBack = v
        if k < maxIterations { v = w.affine(scale: A.Scalar(1 / magnitude), shift: 0) }
    }
    return PowerIterationResult(eigenvalue: lambda, eigenvector: v, iterations: history.count, residualNorm: residual,
                                dominantMagnitude: magnitude, status: status, history: history)
}

/// Power iteration on the Hessian `H(θ)` of `f` (Hessian-vector products by forward-over-reverse,
/// Pearlmutter 1994): ``powerIteration(of:maxIterations:tolerance:seed:initialVector:)`` on
/// ``HessianOperator``.
/// - Throws: as the operator form, and for θ of the wrong length.
public func powerIteration<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, maxIterations: Int = 100,
                                         tolerance: Double = ProbeDefaults.powerTolerance, seed: UInt64 = 0,
                                         initialVector: Tensor<O.Scalar>? = nil) throws -> PowerIterationResult<O.Scalar> {
    try powerIteration(of: try HessianOperator(of: f, at: θ), maxIterations: maxIterations, tolerance: tolerance,
                       seed: seed, initialVector: initialVector)
}

/// The unit start vector of an iterative eigensolver: `initial` normalized, or a seeded Gaussian.
/// - Throws: ``AutodiffError`` if `initial` has the wrong length, is zero or is not finite.
func unitStartVector<E: TensorScalar>(_ initial: Tensor<E>?, dimension: Int, seed: UInt64, probe: String) throws -> Tensor<E> {
    if let initial {
        guard initial.count == dimension else { throw AutodiffError.lengthMismatch(what: "the initial vector", expected: dimension, actual: initial.count) }
        let n = initial.norm()
        guard n > 0, n.isFinite else { throw AutodiffError.invalidArgument("\(probe): the initial vector is zero or not finite") }
        return initial.normalized()
    }
    var rng = SplitMix64(seed: seed)
    return Tensor<E>.randomNormal([dimension], using: &rng).normalized()
}

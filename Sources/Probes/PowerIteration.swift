import Autodiff
import Tensors

/// The result of ``powerIteration(of:at:maxIterations:tolerance:seed:initialVector:)``.
public struct PowerIterationResult<E: TensorScalar>: Sendable {
    /// The Rayleigh quotient `vᵀHv` of the final unit vector: the estimate of the
    /// eigenvalue of largest magnitude, with its sign.
    public let eigenvalue: Double
    /// The final unit vector v (length d), usable to warm-start the next call.
    public let eigenvector: Tensor<E>
    /// HVPs performed.
    public let iterations: Int
    /// `‖Hv − λv‖₂` for the final v and λ (in the loss's units per unit parameter).
    public let residualNorm: Double
    /// Whether the relative change of the Rayleigh quotient fell below the tolerance.
    public let converged: Bool
    /// The Rayleigh quotient after each iteration.
    public let history: [Double]
}

/// The dominant eigenvalue of the Hessian `H(θ)` of `f` by power iteration on
/// Hessian-vector products (forward-over-reverse, Pearlmutter 1994; the study's
/// λ_max probe, as in PyHessian).
///
/// Starting from a seeded random unit vector (or `initialVector`), repeats
/// `w = H v`, `λ = vᵀw` (Rayleigh quotient), `v ← w/‖w‖`, and stops when
/// `|λ_k − λ_{k−1}| ≤ tolerance·|λ_k|` or after `maxIterations` HVPs.
///
/// Power iteration converges to the eigenvalue of **largest magnitude**. When that
/// eigenvalue is negative (strong negative curvature), the function returns that
/// negative value, not the largest algebraic eigenvalue; use Lanczos for λ_max in
/// that case. Convergence is slow when |λ₂|/|λ₁| is near 1; check ``PowerIterationResult/converged``
/// and ``PowerIterationResult/residualNorm``.
///
/// - Parameters:
///   - θ: the point, length d = `f.layout.parameterCount`.
///   - maxIterations: at least 1.
///   - tolerance: relative change of the Rayleigh quotient, > 0.
///   - initialVector: a warm start (e.g. the previous epoch's eigenvector); normalized here.
/// - Throws: ``AutodiffError`` for wrong lengths, a zero initial vector, or invalid options.
public func powerIteration<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, maxIterations: Int = 100,
                                         tolerance: Double = 1e-3, seed: UInt64 = 0,
                                         initialVector: Tensor<O.Scalar>? = nil) throws -> PowerIterationResult<O.Scalar> {
    guard maxIterations >= 1 else { throw AutodiffError.invalidArgument("maxIterations must be at least 1, got \(maxIterations)") }
    guard tolerance > 0, tolerance.isFinite else { throw AutodiffError.invalidArgument("tolerance must be positive, got \(tolerance)") }
    try f.layout.validate(θ)
    var v = try unitStartVector(initialVector, layout: f.layout, seed: seed, probe: "power iteration")
    var history: [Double] = []
    var lambda = 0.0, residual = Double.infinity, converged = false
    for k in 1...maxIterations {
        let w = try hessianVectorProduct(of: f, at: θ, along: v)
        let newLambda = w.dot(v)
        var r = w
        r.addScaled(v, O.Scalar(-newLambda))
        residual = r.norm()
        history.append(newLambda)
        let wn = w.norm()
        let change = abs(newLambda - lambda)
        lambda = newLambda
        if !wn.isFinite || !newLambda.isFinite {
            throw AutodiffError.invalidArgument("power iteration: the Hessian-vector product is not finite at iteration \(k)")
        }
        if wn == 0 { converged = true; break }
        if k > 1 && change <= tolerance * abs(newLambda) { converged = true; break }
        if k < maxIterations { v = w.affine(scale: O.Scalar(1 / wn), shift: 0) }
    }
    return PowerIterationResult(eigenvalue: lambda, eigenvector: v, iterations: history.count,
                                residualNorm: residual, converged: converged, history: history)
}

/// The unit start vector of an iterative eigensolver: `initial` normalized, or a seeded Gaussian.
/// - Throws: ``AutodiffError`` if `initial` has the wrong length, is zero or is not finite.
func unitStartVector<E: TensorScalar>(_ initial: Tensor<E>?, layout: ParameterLayout, seed: UInt64, probe: String) throws -> Tensor<E> {
    if let initial {
        try layout.validate(initial, as: "the initial vector")
        let n = initial.norm()
        guard n > 0, n.isFinite else { throw AutodiffError.invalidArgument("\(probe): the initial vector is zero or not finite") }
        return initial.normalized()
    }
    var rng = SplitMix64(seed: seed)
    return Tensor<E>.randomNormal([layout.parameterCount], using: &rng).normalized()
}

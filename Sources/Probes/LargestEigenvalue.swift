import Autodiff
import Tensors

/// λ_max of a symmetric operator: its **largest algebraic** eigenvalue, max over unit v of vᵀAv
/// (the source paper's eq. 8), whichever solver finished (``largestEigenvalue(of:powerIterations:lanczosSteps:tolerance:seed:initialVector:)``).
public struct LargestEigenvalue<E: TensorScalar>: Sendable {
    /// Which solver gave ``value``.
    public enum Method: String, Sendable {
        /// Power iteration converged to a positive eigenvalue: the eigenvalue of largest magnitude
        /// is positive, so it is also the largest algebraic one.
        case powerIteration = "power"
        /// Lanczos (largest algebraic Ritz value) after power iteration did not settle the question:
        /// it did not converge, converged to a negative eigenvalue, or met the null space.
        case lanczos
    }

    /// The λ_max estimate.
    public let value: Double
    /// ‖Av − λv‖₂ for the returned unit vector v and λ = ``value``.
    public let residualNorm: Double
    /// Whether `residualNorm ≤ tolerance·|λ|` (for Lanczos, its Ritz convergence rule).
    public let converged: Bool
    /// The unit vector v of length d (the warm start of the next estimate).
    public let vector: Tensor<E>
    /// Operator products: power iterations plus Lanczos steps.
    public let products: Int
    /// Which method gave the estimate.
    public let method: Method
    /// Why the power iteration stopped.
    public let powerStatus: PowerIterationStatus
    /// The most negative eigenvalue seen, when its magnitude is at least ``value``: the eigenvalue
    /// power iteration converged to, or the smallest Lanczos Ritz value (Ritz values interlace, so
    /// an eigenvalue at or below it exists). `nil` when none was seen; its absence does not prove
    /// that no such eigenvalue exists.
    public let dominantNegative: Double?
}

/// λ_max, the largest algebraic eigenvalue of `op`, with a residual that says how far to trust it.
///
/// Power iteration (``powerIteration(of:maxIterations:tolerance:seed:initialVector:)``) finds the
/// eigenvalue of largest *magnitude*. When it converges to a positive value that value is λ_max;
/// otherwise (not converged, a negative dominant eigenvalue, a ±λ pair, the null space) up to
/// `lanczosSteps` Lanczos steps target the largest algebraic Ritz value, stopping once it
/// converges. They start from power iteration's last vector, which spans a close λ₂ or a ±λ pair;
/// after convergence to a negative eigenvalue u, from the warm start (else a seeded Gaussian) with
/// u projected out, since the Krylov space of an eigenvector is that vector alone. So
/// diag(−6, 4, 1) gives 4 whatever the iteration budget, with −6 as ``LargestEigenvalue/dominantNegative``.
///
/// - Parameters:
///   - powerIterations: the power-iteration budget, ≥ 1.
///   - lanczosSteps: the most Lanczos steps after it (capped at d), ≥ 1.
///   - tolerance: relative residual for convergence, > 0.
///   - initialVector: a warm start (e.g. the previous epoch's ``LargestEigenvalue/vector``).
/// - Throws: ``/Autodiff/AutodiffError`` for invalid options, wrong lengths or a non-finite product;
///   ``/Tensors/LAPACK/Failure`` if the tridiagonal eigensolver fails.
public func largestEigenvalue<A: SymmetricOperator>(of op: A, powerIterations: Int = 10, lanczosSteps: Int = 10, tolerance: Double = ProbeDefaults.powerTolerance,
                                                    seed: UInt64 = 0, initialVector: Tensor<A.Scalar>? = nil) throws -> LargestEigenvalue<A.Scalar> {
    guard lanczosSteps >= 1 else { throw AutodiffError.invalidArgument("λ_max: lanczosSteps must be at least 1, got \(lanczosSteps)") }
    let power = try powerIteration(of: op, maxIterations: powerIterations, tolerance: tolerance, seed: seed, initialVector: initialVector)
    if power.converged && power.eigenvalue > 0 {
        return LargestEigenvalue(value: power.eigenvalue, residualNorm: power.residualNorm, converged: true, vector: power.eigenvector,
                                 products: power.iterations, method: .powerIteration, powerStatus: power.status, dominantNegative: nil)
    }
    var start = power.eigenvector
    if power.status == .converged || power.status == .zeroQuotient {
        // v is (close to) an eigenvector: start elsewhere, with v projected out.
        start = try unitStartVector(initialVector, dimension: op.dimension, seed: seed &+ 1, probe: "λ_max")
        start.addScaled(power.eigenvector, A.Scalar(-start.dot(power.eigenvector)))
        if !(start.norm() > 1e-8) {
            var rng = SplitMix64(seed: seed &+ 1)
            start = Tensor<A.Scalar>.randomNormal([op.dimension], using: &rng)
            start.addScaled(power.eigenvector, A.Scalar(-start.dot(power.eigenvector)))
        }
        if op.dimension == 1 {
            // v spans the space: its eigenvalue is the only one.
            return LargestEigenvalue(value: power.eigenvalue, residualNorm: power.residualNorm, converged: power.converged || power.status == .zeroQuotient,
                                     vector: power.eigenvector, products: power.iterations, method: .powerIteration, powerStatus: power.status,
                                     dominantNegative: nil)
        }
    }
    let lz = try lanczos(of: op, count: 1, target: .largestAlgebraic, steps: min(lanczosSteps, op.dimension), tolerance: tolerance,
                         initialVector: start, stopWhenConverged: true)
    let top = lz.pairs[0]
    var negative: Double? = nil
    if power.converged && power.eigenvalue < 0 { negative = power.eigenvalue }
    if let smallest = lz.ritzValues.first, smallest < (negative ?? 0) { negative = smallest }
    // Ties count (±λ pairs): compared to within the tolerance.
    if let n = negative, -n < top.value - tolerance * abs(top.value) { negative = nil }
    return LargestEigenvalue(value: top.value, residualNorm: top.residualNorm, converged: top.converged, vector: top.vector,
                             products: power.iterations + lz.steps, method: .lanczos, powerStatus: power.status, dominantNegative: negative)
}

/// λ_max as a probe: ``largestEigenvalue(of:powerIterations:lanczosSteps:tolerance:seed:initialVector:)``
/// on the context's curvature, warm-started from the previous pass's eigenvector; it leaves λ_max
/// in the context for ½ε²λ_max.
public struct LambdaMaxProbe: Probe {
    public static let name = "lambda_max"
    /// Power iterations before Lanczos takes over.
    public var powerIterations = 10
    /// The most Lanczos steps after them.
    public var lanczosSteps = 10
    /// Convergence: ‖Hv − λv‖ ≤ tolerance·|λ|.
    public var tolerance = ProbeDefaults.powerTolerance

    public init() {}
    /// The probe with these settings.
    public init(powerIterations: Int, lanczosSteps: Int = 10, tolerance: Double) {
        self.powerIterations = powerIterations; self.lanczosSteps = lanczosSteps; self.tolerance = tolerance
    }

    public struct Result: ProbeResult {
        /// λ_max, the operator products, the residual ‖Hv − λv‖, whether it converged, and a negative eigenvalue at least as large in magnitude when one was seen (else nan).
        public var lambdaMax = Double.nan, products = 0, residual = Double.nan, converged = false, negative = Double.nan
        public init() {}
        public static var fields: [ProbeField<Result>] {
            [.init("lambda_max", \.lambdaMax), .init("lambda_iterations", \.products), .init("lambda_residual", \.residual),
             .init("lambda_converged", \.converged), .init("lambda_negative", \.negative)]
        }
    }

    public func validate() throws {
        try check("powerIterations", powerIterations, in: ProbeLimits.powerIterations)
        try check("lanczosSteps", lanczosSteps, in: ProbeLimits.lanczosSteps)
        try checkPositive("tolerance", tolerance)
    }

    public func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> Result {
        let r = try largestEigenvalue(of: try context.curvature(), powerIterations: powerIterations, lanczosSteps: lanczosSteps,
                                      tolerance: tolerance, seed: context.seed, initialVector: context.warmStarts[Self.name])
        context.warmStarts[Self.name] = r.vector
        context.lambdaMax = r.value
        var out = Result()
        out.lambdaMax = r.value; out.products = r.products; out.residual = r.residualNorm; out.converged = r.converged
        out.negative = r.dominantNegative ?? .nan
        return out
    }
}

extension ProbeContext {
    /// The λ_max eigenvector of this pass, for the probes that measure along it: the vector of a
    /// λ_max probe that ran earlier in the pass (``lambdaMax`` is set), else `probe`'s, run now
    /// (warm-started from the context's vector, e.g. the previous epoch's). A vector kept from an
    /// earlier pass is a start, never the answer.
    /// - Throws: λ_max's errors.
    public mutating func lambdaMaxVector(running probe: LambdaMaxProbe = LambdaMaxProbe()) throws -> Tensor<E> {
        if lambdaMax != nil, let u = warmStarts[LambdaMaxProbe.name] { return u }
        _ = try probe.measure(&self)
        guard let u = warmStarts[LambdaMaxProbe.name] else { throw AutodiffError.invalidArgument("λ_max left no eigenvector") }
        return u
    }
}

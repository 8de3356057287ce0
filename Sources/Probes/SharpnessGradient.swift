import Autodiff
import Tensors

/// The gradient of the sharpness at θ as a probe: ∇λ_max = ∇³L(θ)[u, u, ·] for the λ_max
/// eigenvector u, from one reverse pass over a second-order jet along u
/// (``LossFunction/gradientOfCurvature(at:along:)``, which also gives ∇L and Hu), its alignment
/// with the gradient, and the sharpness after one gradient step θ' = θ − η∇L, predicted to first
/// order (λ − η⟨∇L, ∇λ⟩) and measured (λ_max at θ', warm-started from u). ⟨∇L, ∇λ⟩ < 0 is
/// progressive sharpening under gradient descent; Damian, Nichani & Lee, "Self-Stabilization"
/// (ICLR 2023, arXiv:2209.15594), build their account of the edge of stability on it.
///
/// u is the λ_max probe's vector when a λ_max probe ran earlier in the pass (``ProbeContext/lambdaMax``
/// is set), else this probe runs ``LambdaMaxProbe`` with its own settings first (warm-started
/// from the context's vector, if any). λ is uᵀHu from the same pass, and the relative residual
/// ‖Hu − λu‖/|λ| is measured there with the loss's Hessian. ∇λ is the gradient of an eigenvalue
/// only for a converged eigenpair with a simple eigenvalue: with a large residual (the
/// `_converged` flag is 0), a near-tie with the next eigenvalue, or an eigenvector of another
/// curvature (`landscape probe --operator ggn`: the residual shows it), it is the gradient of the
/// Rayleigh quotient at fixed u only. The measured λ is the largest eigenvalue at θ'; where the
/// top two eigenvalues cross within the step it belongs to another eigenvector, and the
/// prediction does not apply.
///
/// The step is a full gradient step on the context's loss (the probe set), not an SGD step on a
/// mini-batch.
public struct SharpnessGradientProbe: Probe {
    public static let name = "sharpness_gradient"
    /// η of the predicted step: 0 takes the context's learning rate (``ProbeContext/learningRate``:
    /// the run's current rate after an epoch of training, `landscape probe --learning-rate`), and
    /// where the context has none (or 0), 1/λ (half the gradient-descent stability limit 2/λ, so the step
    /// has the size the curvature allows; no step where λ ≤ 0: the step's fields are nan).
    public var learningRate = 0.0
    /// Power iterations of each λ_max estimate (at θ when none ran before, and at θ').
    public var powerIterations = LambdaMaxProbe().powerIterations
    /// The most Lanczos steps after them.
    public var lanczosSteps = LambdaMaxProbe().lanczosSteps
    /// Convergence of the λ_max estimates, ‖Hv − λv‖ ≤ tolerance·|λ|; also the residual below which
    /// the eigenpair at θ counts as converged.
    public var tolerance = LambdaMaxProbe().tolerance

    public init() {}
    /// The probe with these settings (the others at their defaults).
    public init(learningRate: Double, powerIterations: Int = LambdaMaxProbe().powerIterations,
                lanczosSteps: Int = LambdaMaxProbe().lanczosSteps, tolerance: Double = LambdaMaxProbe().tolerance) {
        self.learningRate = learningRate; self.powerIterations = powerIterations; self.lanczosSteps = lanczosSteps; self.tolerance = tolerance
    }

    public struct Result: ProbeResult {
        /// uᵀHu at θ, the eigenvalue ∇λ belongs to.
        public var lambda = Double.nan
        /// ‖Hu − λu‖/|λ| at θ.
        public var residual = Double.nan
        /// Whether ``residual`` ≤ the tolerance (∇λ is an eigenvalue's gradient only then).
        public var converged = false
        /// ‖∇λ‖.
        public var norm = Double.nan
        /// ⟨∇L, ∇λ⟩.
        public var inner = Double.nan
        /// cos(∇L, ∇λ) (nan where either vanishes).
        public var cosine = Double.nan
        /// η of the step.
        public var step = Double.nan
        /// λ − η⟨∇L, ∇λ⟩.
        public var predicted = Double.nan
        /// λ_max at θ − η∇L.
        public var measured = Double.nan
        /// Its relative residual ‖Hv − λv‖/|λ| at θ − η∇L.
        public var measuredResidual = Double.nan
        /// Whether the λ_max estimate at θ − η∇L converged (its residual ≤ the tolerance).
        public var measuredConverged = false
        public init() {}
        public static var fields: [ProbeField<Result>] {
            [.init("sharpness_gradient_lambda", \.lambda), .init("sharpness_gradient_residual", \.residual),
             .init("sharpness_gradient_converged", \.converged), .init("sharpness_gradient_norm", \.norm),
             .init("sharpness_gradient_inner", \.inner), .init("sharpness_gradient_cosine", \.cosine),
             .init("sharpness_gradient_step", \.step), .init("sharpness_gradient_predicted", \.predicted),
             .init("sharpness_gradient_measured", \.measured), .init("sharpness_gradient_measured_residual", \.measuredResidual),
             .init("sharpness_gradient_measured_converged", \.measuredConverged)]
        }
    }

    var lambdaMaxProbe: LambdaMaxProbe { LambdaMaxProbe(powerIterations: powerIterations, lanczosSteps: lanczosSteps, tolerance: tolerance) }

    public func validate() throws {
        guard learningRate >= 0, learningRate.isFinite else {
            throw invalid("learningRate", "must be 0 (the context's learning rate) or positive and finite, got \(learningRate)")
        }
        do { try lambdaMaxProbe.validate() } catch let e as ProbeSettingError { throw invalid(e.setting, e.problem) }
    }

    public func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> Result {
        let u = try context.lambdaMaxVector(running: lambdaMaxProbe)
        let f = context.loss, θ = context.point
        let c = try f.gradientOfCurvature(at: θ, along: u)
        var out = Result()
        let uu = u.dot(u)
        let λ = u.dot(c.hvp) / uu
        var r = c.hvp
        r.addScaled(u, E(-λ))
        out.lambda = λ
        out.residual = λ == 0 ? .nan : r.norm() / (uu.squareRoot() * abs(λ))
        out.converged = out.residual <= tolerance
        // ∇λ for the unit vector: ∇³L[u, u, ·] scales with ‖u‖².
        let gradλ = c.curvatureGradient
        out.norm = gradλ.norm() / uu
        out.inner = c.gradient.dot(gradλ) / uu
        out.cosine = out.inner / (c.gradient.norm() * out.norm)
        // A context rate of 0 (the end of a schedule that decays to 0) has no step to predict: 1/λ instead.
        let η = learningRate > 0 ? learningRate : (context.learningRate.flatMap { $0 > 0 ? $0 : nil } ?? 1 / λ)
        out.step = η
        guard η > 0, η.isFinite else { return out }   // 1/λ for λ ≤ 0: no step to predict
        out.predicted = λ - η * out.inner
        var θ1 = θ
        θ1.addScaled(c.gradient, E(-η))
        // A step that leaves the region where the loss is finite has no λ_max to measure: nan.
        guard θ1.dot(θ1).isFinite, try f.value(at: θ1).isFinite else { return out }
        let after = try largestEigenvalue(of: try f.hessian(at: θ1), powerIterations: powerIterations, lanczosSteps: lanczosSteps,
                                          tolerance: tolerance, seed: context.seed, initialVector: u)
        out.measured = after.value
        out.measuredResidual = after.residualNorm / abs(after.value)
        out.measuredConverged = after.converged
        return out
    }
}

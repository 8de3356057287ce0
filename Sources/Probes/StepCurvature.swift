import Autodiff
import Tensors

/// The loss along an update step Δθ (an optimizer's actual update, momentum and weight decay
/// included) to second order: on the ray θ + αΔθ the quadratic model is
/// q(α) = L + α·gᵀΔθ + ½α²·ΔθᵀHΔθ, from one forward jet pass of order 2 (c₀ = L, c₁ = gᵀΔθ,
/// 2c₂ = ΔθᵀHΔθ; ``stepCurvature(of:at:step:learningRate:)``). L is the loss the step's
/// gradient came from (the batch's data loss): weight decay moves Δθ but is not part of L, so κ
/// is the data loss's curvature along the step (the decay's own λ_wd would add to it).
///
/// - ``directionalCurvature`` κ = ΔθᵀHΔθ/‖Δθ‖², the curvature along the step;
/// - ``criticalStep`` α_c, where q returns to L: −2gᵀΔθ/(ΔθᵀHΔθ) when gᵀΔθ < 0 and ΔθᵀHΔθ > 0;
///   +∞ when gᵀΔθ < 0 and ΔθᵀHΔθ ≤ 0 (q decreases along the whole ray); nan when gᵀΔθ ≥ 0
///   (the step does not descend) or a value is not finite;
/// - ``criticalLearningRate`` η_c = α_c·η and ``criticalSharpness`` 2/η_c (0 for η_c = +∞).
///
/// For plain SGD (Δθ = −ηg) the critical sharpness equals κ = gᵀHg/‖g‖², the curvature along the
/// gradient; gradient descent is stable on a quadratic while the curvature stays below 2/η
/// (Cohen et al., "Gradient descent on neural networks typically occurs at the edge of
/// stability", ICLR 2021), and heavy-ball momentum μ moves the limit to 2(1+μ)/η.
public struct StepCurvature: Sendable, Equatable {
    /// L(θ), gᵀΔθ, ΔθᵀHΔθ, ‖Δθ‖² and the step's learning rate η.
    public var loss: Double, slope: Double, curvature: Double, stepNormSquared: Double, learningRate: Double

    /// From the Taylor coefficients c₀, c₁, c₂ of α ↦ L(θ + αΔθ), ‖Δθ‖² and η.
    /// - Precondition: at least three coefficients.
    public init(coefficients c: [Double], stepNormSquared: Double, learningRate: Double) {
        precondition(c.count >= 3, "StepCurvature: needs c₀, c₁, c₂, got \(c.count) coefficients")
        loss = c[0]; slope = c[1]; curvature = 2 * c[2]; self.stepNormSquared = stepNormSquared; self.learningRate = learningRate
    }

    /// κ = ΔθᵀHΔθ/‖Δθ‖² (nan for a zero step).
    public var directionalCurvature: Double { stepNormSquared > 0 ? curvature / stepNormSquared : .nan }

    /// α_c: where the quadratic model along the step returns to L (see the type's description).
    public var criticalStep: Double {
        guard slope.isFinite, curvature.isFinite, slope < 0 else { return .nan }
        return curvature > 0 ? -2 * slope / curvature : .infinity
    }

    /// η_c = α_c·η.
    public var criticalLearningRate: Double { criticalStep * learningRate }

    /// 2/η_c (0 when η_c = +∞, nan when η_c is nan or 0).
    public var criticalSharpness: Double {
        let η = criticalLearningRate
        return η.isNaN || η == 0 ? .nan : 2 / η
    }
}

/// The curvature along an update step: one forward Taylor pass of order 2 of `f` at θ along Δθ
/// (``LossFunction/taylorCoefficients(at:along:order:)``; the batch is a constant, θ's jet has
/// no c₂ term). See ``StepCurvature``.
/// - Parameters:
///   - θ: the point before the step (length d); `step`: Δθ (length d); `learningRate`: the step's η.
/// - Throws: ``/Autodiff/AutodiffError`` for vectors that do not fit the layout or a loss without a Taylor route.
public func stepCurvature<E: TensorScalar>(of f: LossFunction<E>, at θ: Tensor<E>, step Δθ: Tensor<E>, learningRate: Double) throws -> StepCurvature {
    let c = try f.taylorCoefficients(at: θ, along: Δθ, order: 2)
    return StepCurvature(coefficients: c, stepNormSquared: Δθ.dot(Δθ), learningRate: learningRate)
}

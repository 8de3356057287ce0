import Foundation
import Tensors

/// Errors of optimizer configuration.
public enum OptimizerError: Error, CustomStringConvertible, Equatable {
    /// A hyper-parameter is out of range.
    case invalidHyperparameter(String)
    /// The state and parameters have different lengths.
    case lengthMismatch(expected: Int, actual: Int)

    public var description: String {
        switch self {
        case let .invalidHyperparameter(m): return m
        case let .lengthMismatch(e, a): return "optimizer: vector of length \(a), expected \(e)"
        }
    }
}

/// A learning-rate schedule as a function of the step index `t` in `0..<totalSteps`.
public enum LearningRateSchedule: Sendable, Equatable, CustomStringConvertible {
    /// `η_t = η₀`.
    case constant
    /// `η_t = η₀ · γ^⌊t / stepSize⌋` (PyTorch's StepLR, counted in steps).
    case step(stepSize: Int, gamma: Double)
    /// `η_t = η₀ · ½(1 + cos(π t / T))`, reaching 0 at t = T = totalSteps
    /// (Loshchilov & Hutter 2017, without restarts; PyTorch's CosineAnnealingLR with η_min = 0).
    case cosine
    /// `η_t = min(1, (t + 1)/W) · η_t'`: linear warm-up over the first W steps on top of another
    /// schedule η_t', which keeps its own course over all `totalSteps` steps (W ≤ 0: η_t').
    /// Goyal et al. 2017, "Accurate, Large Minibatch SGD", §2.2 (gradual warm-up): the rate
    /// rises by η'/W per step, from η'/W at t = 0 to the schedule's own rate at t = W − 1.
    indirect case warmup(steps: Int, then: LearningRateSchedule)

    /// The learning rate at step `t` of `totalSteps`, for base rate `base`.
    public func rate(base: Double, step t: Int, totalSteps: Int) -> Double {
        switch self {
        case .constant: return base
        case let .step(stepSize, gamma): return base * Foundation.pow(gamma, Double(t / max(stepSize, 1)))
        case .cosine:
            guard totalSteps > 0 else { return base }
            let x = min(Double(t) / Double(totalSteps), 1)
            return base * 0.5 * (1 + Foundation.cos(Double.pi * x))
        case let .warmup(w, then):
            let rate = then.rate(base: base, step: t, totalSteps: totalSteps)
            return w > 0 && t + 1 < w ? rate * (Double(t + 1) / Double(w)) : rate
        }
    }

    public var description: String {
        switch self {
        case .constant: return "constant"
        case let .step(s, g): return "step(\(s),\(g))"
        case .cosine: return "cosine"
        case let .warmup(w, then): return "warmup(\(w))+\(then)"
        }
    }
}

/// The largest η·h for which ``SGD``'s steps converge on a quadratic of curvature h > 0
/// (f(x) = h/2·x²): 2(1 + μ) for heavy ball (Polyak 1964), 2(1 + μ)/(1 + 2μ) for Nesterov's form,
/// 2 without momentum (each step multiplies x by 1 − ηh). Above it the steps grow geometrically.
/// Weight decay λ adds λ to every curvature, so η·λ above the limit diverges whatever the loss.
///
/// The steps on f are the linear map (x, b) ↦ (x', b') with characteristic polynomial
/// z² − Tz + D: heavy ball T = 1 + μ − ηh, D = μ; Nesterov T = 1 + μ − ηh(1 + μ), D = μ(1 − ηh).
/// Both roots lie inside the unit circle iff |D| < 1 and 1 ± T + D > 0 (Jury's criterion);
/// 1 − T + D = ηh > 0, and 1 + T + D > 0 is the bound.
public func sgdStabilityLimit(momentum μ: Double, nesterov: Bool) -> Double {
    nesterov ? 2 * (1 + μ) / (1 + 2 * μ) : 2 * (1 + μ)
}

/// Stochastic gradient descent with heavy-ball momentum and L2 weight decay on a
/// flat parameter vector, in PyTorch's formulation (Polyak 1964; Sutskever et al. 2013):
///
///     g ← ∇L·min(1, c/‖∇L‖) + λ·θ;   b ← μ·b + g;   θ ← θ − η_t·(Nesterov ? g + μ·b : b)
///
/// with `b = 0` before the first step; the gradient is clipped to the global L2 norm c only when
/// ``gradientClipNorm`` is set (PyTorch's `clip_grad_norm_` before `step`).
public struct SGD<E: TensorScalar>: Sendable {
    /// Base learning rate η₀ (> 0).
    public let learningRate: Double
    /// Momentum μ in [0, 1).
    public let momentum: Double
    /// Weight decay λ ≥ 0.
    public let weightDecay: Double
    /// Nesterov momentum.
    public let nesterov: Bool
    /// The global L2 norm c each gradient is clipped to, or `nil` (no clipping).
    public let gradientClipNorm: Double?
    /// The schedule of η over ``totalSteps``.
    public let schedule: LearningRateSchedule
    /// The number of steps the schedule spans.
    public let totalSteps: Int
    /// The momentum buffer b (length d), zeros before the first step.
    public var velocity: Tensor<E>
    /// Steps taken.
    public var step: Int

    /// - Throws: ``OptimizerError/invalidHyperparameter(_:)`` for η₀ ≤ 0, μ ∉ [0, 1), λ < 0, c ≤ 0, or non-finite values.
    public init(parameterCount: Int, learningRate: Double, momentum: Double = 0, weightDecay: Double = 0,
                nesterov: Bool = false, gradientClipNorm: Double? = nil, schedule: LearningRateSchedule = .constant, totalSteps: Int = 0) throws {
        guard learningRate > 0, learningRate.isFinite else { throw OptimizerError.invalidHyperparameter("learning rate must be positive and finite, got \(learningRate)") }
        guard momentum >= 0, momentum < 1 else { throw OptimizerError.invalidHyperparameter("momentum must be in [0, 1), got \(momentum)") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw OptimizerError.invalidHyperparameter("weight decay must be ≥ 0, got \(weightDecay)") }
        if let c = gradientClipNorm, !(c > 0 && c.isFinite) { throw OptimizerError.invalidHyperparameter("gradient clip norm must be positive and finite, got \(c)") }
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.gradientClipNorm = gradientClipNorm
        self.schedule = schedule
        self.totalSteps = totalSteps
        self.velocity = Tensor.zeros([parameterCount])
        self.step = 0
    }

    /// The learning rate the next step will use.
    public var currentLearningRate: Double { schedule.rate(base: learningRate, step: step, totalSteps: totalSteps) }

    /// Applies one update to θ in place.
    /// - Throws: ``OptimizerError/lengthMismatch(expected:actual:)`` if θ or the gradient has the wrong length.
    public mutating func update(_ θ: inout Tensor<E>, gradient: Tensor<E>) throws {
        guard θ.count == velocity.count else { throw OptimizerError.lengthMismatch(expected: velocity.count, actual: θ.count) }
        guard gradient.count == velocity.count else { throw OptimizerError.lengthMismatch(expected: velocity.count, actual: gradient.count) }
        let lr = E(currentLearningRate), mu = E(momentum), wd = E(weightDecay)
        let n = θ.count
        // Every loop is a BLAS call or a TensorScalar kernel, so the update runs at full speed
        // even when called from unspecialized generic code.
        var g = gradient
        if let c = gradientClipNorm {                                     // g ← ∇L·min(1, c/‖∇L‖)
            let norm = g.norm()
            if norm > c { g = g.affine(scale: E(c / norm), shift: 0) }
        }
        if weightDecay != 0 { g.addScaled(θ, wd) }                       // g ← g + λθ
        // b ← μb into a new buffer, not in place: with input and output the same array the kernel's
        // loop ran unvectorized (its alias check fails; 5 instructions per element, 5 % of an MLP step).
        var b = velocity.affine(scale: mu, shift: 0)                     // b ← μb
        b.withUnsafeMutablePointer { bp in g.withUnsafePointer { gp in E.axpy(n, 1, gp, bp) } }   // b ← μb + g
        velocity = b
        if nesterov {
            θ.addScaled(g, -lr)                                           // θ ← θ − η(g + μb)
            θ.addScaled(velocity, -lr * mu)
        } else {
            θ.addScaled(velocity, -lr)                                    // θ ← θ − ηb
        }
        step += 1
    }
}

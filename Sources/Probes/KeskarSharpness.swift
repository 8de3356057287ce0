import Autodiff
import Tensors

/// Keskar et al.'s sharpness of an objective at θ; see
/// `keskarSharpness(of:at:epsilon:steps:stepSize:seed:)`.
public struct KeskarSharpness<Scalar: TensorScalar>: Sendable {
    /// ε, the box's half-width relative to |θ_i| + 1.
    public let epsilon: Double
    /// f(θ).
    public let value: Double
    /// The largest f(θ + δ) − f(θ) the ascent found over the box (≥ 0, loss units). A lower bound
    /// on the maximum: the ascent is local.
    public let increase: Double
    /// φ = 100 · ``increase`` / (1 + f(θ)), Keskar et al.'s eq. (3), in percent.
    public let sharpness: Double
    /// Gradient evaluations made: the `steps` asked for, or fewer when δ stopped moving.
    public let steps: Int
    /// The δ that gave ``increase`` (length d), with |δ_i| ≤ ε(|θ_i| + 1).
    public let delta: Tensor<Scalar>
}

/// The sharpness of Keskar, Mudigere, Nocedal, Smelyanskiy & Tang 2017 ("On Large-Batch Training
/// for Deep Learning: Generalization Gap and Sharp Minima", ICLR; metric 2, eq. (3)) over the
/// full parameter space (their A = I):
///
///     C_ε = {δ : |δ_i| ≤ ε(|θ_i| + 1) for every i},
///     φ   = 100 · (max_{δ∈C_ε} f(θ + δ) − f(θ)) / (1 + f(θ)).
///
/// The box's half-widths grow with |θ_i| so that large weights get proportionally large
/// perturbations; the + 1 keeps a box around zero weights. Their tables use ε = 10⁻³ and 5·10⁻⁴.
///
/// Keskar et al. solve the maximization with L-BFGS-B; here it is projected sign-gradient ascent
/// from δ = 0, the steepest ascent for the box's scaled ∞-norm:
/// δ ← clamp(δ + η · w ⊙ sign ∇f(θ + δ), −w, w) with w_i = ε(|θ_i| + 1) and η = `stepSize`,
/// keeping the best point evaluated. A coordinate whose partial derivative is exactly zero does not
/// move; when the whole gradient is zero (e.g. at θ = a minimum) the step takes a seeded
/// Rademacher sign vector instead. From δ = 0 a coordinate whose gradient keeps its sign reaches
/// its box side after ⌈1/η⌉ steps (4 with the default η = 1/4), which leaves the rest of the
/// default 20 for coordinates that turn; the ascent stops once a step leaves δ unchanged.
///
/// - Parameters:
///   - θ: length d = `f.layout.parameterCount`.
///   - epsilon: ε > 0.
///   - steps: at most this many gradient evaluations, and one value evaluation of the last δ
///     when all are used.
///   - stepSize: η, the step as a fraction of each half-width.
/// - Returns: the increase and φ in the objective's precision (evaluate in Float64 for small ε),
///   with δ (length d).
/// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` for ε ≤ 0 or non-finite, steps < 1, η ≤ 0 or
///   non-finite, 1 + f(θ) ≤ 0 or non-finite (φ is meant for a loss f ≥ 0), or a non-finite loss
///   or gradient on the way; ``/Autodiff/AutodiffError/lengthMismatch(what:expected:actual:)`` when θ does
///   not fit the layout.
public func keskarSharpness<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, epsilon: Double, steps: Int = 20,
                                          stepSize: Double = 0.25, seed: UInt64 = 0) throws -> KeskarSharpness<O.Scalar> {
    try keskarSharpness(of: LossFunction(f), at: θ, epsilon: epsilon, steps: steps, stepSize: stepSize, seed: seed)
}

/// ``keskarSharpness(of:at:epsilon:steps:stepSize:seed:)`` of any loss function.
public func keskarSharpness<E: TensorScalar>(of f: LossFunction<E>, at θ: Tensor<E>, epsilon: Double, steps: Int = 20,
                                             stepSize: Double = 0.25, seed: UInt64 = 0) throws -> KeskarSharpness<E> {
    let what = "Keskar sharpness"
    try checkAscent(epsilon: epsilon, steps: steps, stepSize: stepSize, what)
    try f.layout.validate(θ)
    let l0 = try f.value(at: θ)
    guard (1 + l0).isFinite, 1 + l0 > 0 else {
        throw AutodiffError.invalidArgument("\(what): φ divides by 1 + f(θ), which must be positive and finite (f a loss ≥ 0); f(θ) = \(l0)")
    }
    let width = Tensor.abs(θ).shifted(by: 1).scaled(by: epsilon)
    let lower = -width
    let found = try projectedAscent(of: f, at: θ, baseline: l0, steps: steps, seed: seed, what) { delta, g, rng in
        let direction = g.isIdenticallyZero ? Tensor<E>.randomRademacher([θ.count], using: &rng) : Tensor.sign(g)
        delta = Tensor.min(Tensor.max(delta + (width * direction).scaled(by: stepSize), lower), width)
    }
    return KeskarSharpness(epsilon: epsilon, value: l0, increase: found.increase, sharpness: 100 * found.increase / (1 + l0),
                           steps: found.steps, delta: found.delta)
}

/// Keskar et al.'s box sharpness as a probe (`keskarSharpness(of:at:epsilon:steps:stepSize:seed:)`).
public struct KeskarProbe: Probe {
    public static let name = "keskar"
    /// The box half-width ε: |δ_i| ≤ ε(|θ_i| + 1).
    public var epsilon = 1e-3
    /// Gradient evaluations of the ascent.
    public var steps = 20
    /// Seed of the sign vector used where the gradient vanishes.
    public var seed: UInt64 = 0
    /// The precision of the loss evaluations; `float64` evaluates a Float32 context's loss in Float64.
    public var precision: Precision = .float64

    public init() {}

    public struct Result: ProbeResult {
        /// The largest loss increase found, Keskar's sharpness, and the ascent steps taken.
        public var increase = Double.nan, sharpness = Double.nan, steps = 0
        public init() {}
        public static var fields: [ProbeField<Result>] {
            [.init("keskar_increase", \.increase), .init("keskar_sharpness", \.sharpness), .init("keskar_steps", \.steps)]
        }
    }

    public func validate() throws {
        try checkPositive("epsilon", epsilon)
        try checkRepresentable("epsilon", epsilon, in: precision)
        try check("steps", steps, in: ProbeLimits.ascentSteps)
    }

    public func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> Result {
        var out = Result()
        if precision == .float64 {
            let (f, θ) = try context.inFloat64()
            let k = try keskarSharpness(of: f, at: θ, epsilon: epsilon, steps: steps, seed: seed)
            out.increase = k.increase; out.sharpness = k.sharpness; out.steps = k.steps
        } else {
            let k = try keskarSharpness(of: context.loss, at: context.point, epsilon: epsilon, steps: steps, seed: seed)
            out.increase = k.increase; out.sharpness = k.sharpness; out.steps = k.steps
        }
        return out
    }
}

import Autodiff
import Foundation
import Tensors

/// Filter normalization of a direction (Li, Xu, Taylor, Studer & Goldstein 2018, "Visualizing
/// the loss landscape of neural nets", §4): every filter of `direction` — a row of a linear
/// weight `[out, in]` or an output channel `[C, kH, kW]` of a convolution weight, i.e. each slice
/// along the first axis of a layout entry of rank ≥ 2 — is rescaled to the norm of the same
/// filter of θ. Biases (rank-1 entries) are set to zero, as in the paper's treatment of biases
/// and batch-norm parameters. A zero filter of the direction stays zero.
/// - Throws: ``/Autodiff/AutodiffError/lengthMismatch(what:expected:actual:)`` for wrong lengths.
public func filterNormalized<E: TensorScalar>(_ direction: Tensor<E>, like θ: Tensor<E>, layout: ParameterLayout) throws -> Tensor<E> {
    try layout.validate(θ)
    try layout.validate(direction, as: "the direction")
    var out = direction.scalars
    let p = θ.scalars
    for e in layout.entries {
        if e.shape.count < 2 {
            for i in e.range { out[i] = 0 }
            continue
        }
        let filters = e.shape[0], size = e.count / max(filters, 1)
        for f in 0..<filters {
            let r = (e.offset + f * size)..<(e.offset + (f + 1) * size)
            var dn = 0.0, tn = 0.0
            for i in r { dn += Double(out[i]) * Double(out[i]); tn += Double(p[i]) * Double(p[i]) }
            let scale = dn > 0 ? (tn / dn).squareRoot() : 0
            for i in r { out[i] = E(Double(out[i]) * scale) }
        }
    }
    return Tensor(shape: direction.shape, scalars: out)
}

/// How random directions are drawn for sharpness and slices.
public enum DirectionKind: String, Codable, Sendable, CaseIterable {
    /// Gaussian, normalized to unit Euclidean norm in parameter space.
    case unit
    /// Gaussian, then filter-normalized (``filterNormalized(_:like:layout:)``); not unit norm.
    case filterNormalized
}

/// Random-direction sharpness (the study's §5.3; Keskar et al. 2017 use the worst case):
/// for m seeded directions u_i, the loss increases ΔL_i = L(θ + ε u_i) − L(θ), and
/// S_ε^max = max_i ΔL_i, S_ε^mean = mean_i ΔL_i. ``quadraticPrediction`` is ½ε²·λ_max (the
/// study's eq. 13) when `lambdaMax` is given: the increase along the top eigenvector of a
/// quadratic model.
public struct RandomSharpness: Sendable {
    /// The radius ε (parameter-space units).
    public let epsilon: Double
    /// S_ε^max = max_i ΔL_i (loss units).
    public let maximum: Double
    /// S_ε^mean = mean_i ΔL_i (loss units).
    public let mean: Double
    /// Every ΔL_i.
    public let increases: [Double]
    /// ½ε²λ_max (the study’s eq. 13) when λ_max was given.
    public let quadraticPrediction: Double?
}

/// Evaluates ``RandomSharpness`` with `directions` seeded directions of the given kind, in the
/// objective's precision (use a Float64 objective to keep small ε above round-off).
/// - Throws: ``/Autodiff/AutodiffError`` for ε ≤ 0 or non-finite, directions < 1, wrong lengths.
public func randomSharpness<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, epsilon: Double, directions: Int = 20,
                                          kind: DirectionKind = .unit, lambdaMax: Double? = nil, seed: UInt64 = 0) throws -> RandomSharpness {
    try randomSharpness(of: LossFunction(f), at: θ, epsilon: epsilon, directions: directions, kind: kind, lambdaMax: lambdaMax, seed: seed)
}

/// ``randomSharpness(of:at:epsilon:directions:kind:lambdaMax:seed:)`` of any loss function.
public func randomSharpness<E: TensorScalar>(of f: LossFunction<E>, at θ: Tensor<E>, epsilon: Double, directions: Int = 20,
                                             kind: DirectionKind = .unit, lambdaMax: Double? = nil, seed: UInt64 = 0) throws -> RandomSharpness {
    try checkRadius(epsilon, "sharpness")
    guard directions >= 1 else { throw AutodiffError.invalidArgument("sharpness: need at least one direction, got \(directions)") }
    let l0 = try f.value(at: θ)
    var sequence = SharpnessDirections(kind: kind, seed: seed, like: θ, layout: f.layout)
    var increases: [Double] = []
    for _ in 0..<directions {
        let u = try sequence.next()
        var moved = θ
        moved.addScaled(u, E(epsilon))
        increases.append(try f.value(at: moved) - l0)
    }
    return RandomSharpness(epsilon: epsilon, maximum: increases.max()!, mean: increases.reduce(0, +) / Double(directions),
                           increases: increases, quadraticPrediction: lambdaMax.map { 0.5 * epsilon * epsilon * $0 })
}

/// The seeded random directions of `randomSharpness(of:at:epsilon:directions:kind:lambdaMax:seed:)`,
/// in order: the i-th direction depends on the seed and kind only, so a probe that takes the first
/// m of them (``ValidityRadiusProbe``) measures along directions of S_ε.
public struct SharpnessDirections<E: TensorScalar> {
    let kind: DirectionKind, θ: Tensor<E>, layout: ParameterLayout
    var rng: SplitMix64

    /// Directions of `kind` shaped like θ, drawn from `seed` (filter normalization uses `layout`).
    public init(kind: DirectionKind, seed: UInt64, like θ: Tensor<E>, layout: ParameterLayout) {
        self.kind = kind; self.θ = θ; self.layout = layout; rng = SplitMix64(seed: seed)
    }

    /// The next direction (length d): Gaussian, then unit or filter-normalized.
    /// - Throws: ``/Autodiff/AutodiffError`` for θ that does not fit the layout.
    public mutating func next() throws -> Tensor<E> {
        let u = Tensor<E>.randomNormal([θ.count], using: &rng)
        return kind == .unit ? u.normalized() : try filterNormalized(u, like: θ, layout: layout)
    }
}

/// Worst-case sharpness max_{‖δ‖₂ ≤ ε} L(θ + δ) − L(θ) by projected (normalized) gradient ascent
/// (Keskar et al. 2017 use L-BFGS-B on a box, see `keskarSharpness(of:at:epsilon:steps:stepSize:seed:)`;
/// here the Euclidean ball): δ ← Π_ε(δ + η·ε·∇L(θ+δ)/‖∇L(θ+δ)‖),
/// starting from δ = 0 (a seeded random point of the sphere when the gradient vanishes).
/// Returns the best increase found and its δ (length d).
/// - Throws: ``/Autodiff/AutodiffError`` for ε ≤ 0, steps < 1, step size ≤ 0, wrong lengths, a non-finite
///   loss or gradient on the way.
public func worstCaseSharpness<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, epsilon: Double, steps: Int = 20,
                                             stepSize: Double = 0.5, seed: UInt64 = 0) throws -> (increase: Double, delta: Tensor<O.Scalar>) {
    try worstCaseSharpness(of: LossFunction(f), at: θ, epsilon: epsilon, steps: steps, stepSize: stepSize, seed: seed)
}

/// ``worstCaseSharpness(of:at:epsilon:steps:stepSize:seed:)`` of any loss function.
public func worstCaseSharpness<E: TensorScalar>(of f: LossFunction<E>, at θ: Tensor<E>, epsilon: Double, steps: Int = 20,
                                                stepSize: Double = 0.5, seed: UInt64 = 0) throws -> (increase: Double, delta: Tensor<E>) {
    try checkAscent(epsilon: epsilon, steps: steps, stepSize: stepSize, "sharpness")
    let l0 = try f.value(at: θ)
    let best = try projectedAscent(of: f, at: θ, baseline: l0, steps: steps, seed: seed, "sharpness") { delta, g, rng in
        let gn = g.norm()
        if gn > 0 { delta.addScaled(g, E(stepSize * epsilon / gn)) } else { delta.addScaled(Tensor<E>.randomNormal([θ.count], using: &rng).normalized(), E(epsilon)) }
        let dn = delta.norm()
        if dn > epsilon { delta = delta.affine(scale: E(epsilon / dn), shift: 0) }
    }
    return (best.increase, best.delta)
}

/// Checks a perturbation radius ε (positive and finite); `what` names the probe in the message.
func checkRadius(_ epsilon: Double, _ what: String) throws {
    guard epsilon > 0, epsilon.isFinite else { throw AutodiffError.invalidArgument("\(what): ε must be positive and finite, got \(epsilon)") }
}

/// Checks the arguments of a projected ascent: the radius, steps ≥ 1 and a positive finite step size.
func checkAscent(epsilon: Double, steps: Int, stepSize: Double, _ what: String) throws {
    try checkRadius(epsilon, what)
    guard steps >= 1 else { throw AutodiffError.invalidArgument("\(what): steps must be at least 1, got \(steps)") }
    guard stepSize > 0, stepSize.isFinite else { throw AutodiffError.invalidArgument("\(what): step size must be positive and finite, got \(stepSize)") }
}

/// The ascent loop of the worst-case probes: up to `steps` times, evaluate L and ∇L at θ + δ,
/// keep the best increase L(θ + δ) − `baseline`, then let `step` move δ along the gradient and
/// project it back onto its set; the last δ is evaluated too. Starts at δ = 0, so the increase is
/// ≥ 0. `step` may draw from the generator only when the gradient is zero, so a step under a
/// nonzero gradient that leaves δ unchanged would repeat forever: the loop stops there. `steps`
/// in the result counts the gradient evaluations.
/// - Throws: ``AutodiffError/invalidArgument(_:)`` for a non-finite baseline, loss or gradient.
func projectedAscent<E: TensorScalar>(of f: LossFunction<E>, at θ: Tensor<E>, baseline l0: Double, steps: Int, seed: UInt64, _ what: String,
                                      step: (inout Tensor<E>, Tensor<E>, inout SplitMix64) -> Void) throws
    -> (increase: Double, delta: Tensor<E>, steps: Int) {
    guard l0.isFinite else { throw AutodiffError.invalidArgument("\(what): the loss at θ is \(l0)") }
    var delta = Tensor<E>.zeros([θ.count])
    var best = (increase: 0.0, delta: delta)
    var rng = SplitMix64(seed: seed)
    for k in 1...steps {
        var point = θ
        point.addScaled(delta, 1)
        let (l, g) = try f.valueWithGradient(at: point)
        let gn = g.norm()
        guard l.isFinite, gn.isFinite else {
            throw AutodiffError.invalidArgument("\(what): the loss or its gradient at θ + δ is not finite after \(k - 1) steps (loss \(l))")
        }
        if l - l0 > best.increase { best = (l - l0, delta) }
        let previous = delta
        step(&delta, g, &rng)
        if gn > 0 && delta == previous { return (best.increase, best.delta, k) }
    }
    var point = θ
    point.addScaled(delta, 1)
    let last = try f.value(at: point)
    guard last.isFinite else { throw AutodiffError.invalidArgument("\(what): the loss at θ + δ is \(last) after \(steps) steps") }
    if last - l0 > best.increase { best = (last - l0, delta) }
    return (best.increase, best.delta, steps)
}

/// The floating-point precision of a probe's loss evaluations.
public enum Precision: String, CaseIterable, Codable, Sendable {
    /// IEEE single or double precision.
    case float32, float64

    /// The precision of `E` (`Float` or `Double`).
    public init<E: TensorScalar>(of _: E.Type) { self = E.self == Float.self ? .float32 : .float64 }

    /// The one check that a setting keeps its meaning in the precision that computes with it: a
    /// nonzero value must not round to 0, a finite one must not overflow. (Non-finite values are
    /// left to the setting's own range check.)
    /// - Parameters:
    ///   - value: the setting's value, as given (a Float64).
    ///   - user: who computes with it in this precision ("training", "the probe").
    /// - Returns: the problem for an error that names the setting ("is 1e-300, which rounds to 0
    ///   in Float32 (…), the precision training computes in"), or `nil`.
    public func roundingProblem(_ value: Double, user: String) -> String? {
        guard self == .float32, value.isFinite else { return nil }
        let rounded = Float(value)
        let what: String
        if value != 0 && rounded == 0 {
            what = "rounds to 0 in Float32 (the smallest positive Float32 is \(Float.leastNonzeroMagnitude))"
        } else if !rounded.isFinite {
            what = "overflows to \(rounded) in Float32 (the largest Float32 is \(Float.greatestFiniteMagnitude))"
        } else {
            return nil
        }
        return "is \(value), which \(what), the precision \(user) computes in"
    }
}

/// Random-direction sharpness as a probe (`randomSharpness(of:at:epsilon:directions:kind:lambdaMax:seed:)`),
/// with ½ε²λ_max when a λ_max probe ran before it in the same pass.
public struct SharpnessProbe: Probe {
    public static let name = "sharpness"
    /// ε (parameter-space units).
    public var epsilon = 0.05
    /// Random directions.
    public var directions = 20
    /// Seed of the directions (the same at every point, so that points are compared on equal terms).
    public var seed: UInt64 = 1
    /// Unit or filter-normalized directions.
    public var kind: DirectionKind = .unit
    /// The precision of the loss evaluations; `float64` evaluates a Float32 context's loss in Float64.
    public var precision: Precision = .float32

    public init() {}
    /// The probe with these settings.
    public init(epsilon: Double, directions: Int, seed: UInt64, kind: DirectionKind = .unit, precision: Precision = .float32) {
        self.epsilon = epsilon; self.directions = directions; self.seed = seed; self.kind = kind; self.precision = precision
    }

    public struct Result: ProbeResult {
        /// S_ε^mean and S_ε^max over the directions, and the quadratic prediction ½ε²λ_max (nan without λ_max).
        public var mean = Double.nan, maximum = Double.nan, quadraticPrediction = Double.nan
        public init() {}
        public static var fields: [ProbeField<Result>] {
            [.init("sharpness_mean", \.mean), .init("sharpness_max", \.maximum), .init("quadratic_prediction", \.quadraticPrediction)]
        }
    }

    public func validate() throws {
        try checkPositive("epsilon", epsilon)
        try checkRepresentable("epsilon", epsilon, in: precision)
        try check("directions", directions, in: ProbeLimits.sharpnessDirections)
    }

    public func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> Result {
        let s: RandomSharpness
        if precision == .float64 {
            let (f, θ) = try context.inFloat64()
            s = try randomSharpness(of: f, at: θ, epsilon: epsilon, directions: directions, kind: kind, lambdaMax: context.lambdaMax, seed: seed)
        } else {
            s = try randomSharpness(of: context.loss, at: context.point, epsilon: epsilon, directions: directions, kind: kind,
                                    lambdaMax: context.lambdaMax, seed: seed)
        }
        var out = Result()
        out.mean = s.mean; out.maximum = s.maximum; out.quadraticPrediction = s.quadraticPrediction ?? .nan
        return out
    }
}

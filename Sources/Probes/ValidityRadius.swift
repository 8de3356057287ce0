import Autodiff
import Foundation
import Tensors

/// How far a local model of the loss along one direction holds, from one Taylor-mode pass
/// (``validityRadii(of:at:along:order:tolerance:)``).
public struct ValidityRadii: Sendable {
    /// The routing (activation pattern, pooling argmaxes) of t = 0 holds for t in
    /// (−backward, forward) (``/Autodiff/SmoothnessRadius``), in units of t.
    public let smooth: SmoothnessRadius
    /// The quadratic-model radius from the jet, the smaller of ±v
    /// (``/Autodiff/quadraticModelRadii(coefficients:tolerance:)``).
    public let quadratic: Double
    /// The true relative error of the quadratic model at ``quadratic`` on the side that gives it:
    /// |ΔL − c₂r²| / |ΔL| with ΔL = L(θ ± rv) − L(θ) ∓ r·gᵀv; nan where the radius is 0 or infinite.
    public let trueError: Double
    /// Whether the smooth interval ends before the quadratic radius: the jet is not the loss
    /// there, so the true error (not the jet's 10 % point) says how far the quadratic model holds.
    public var smoothBinds: Bool { smooth.radius < quadratic }
}

/// The smooth interval and the quadratic-model radius of `t ↦ f(θ + t·v)`, with the true loss at
/// that radius as a check: one ``LossFunction/smoothnessRadius(at:along:order:)`` pass (the jet
/// and the routing distances), then one loss evaluation.
/// - Throws: ``/Autodiff/AutodiffError`` for wrong lengths, order < 2, tolerance outside (0, 1), a loss
///   without the route.
public func validityRadii<E: TensorScalar>(of f: LossFunction<E>, at θ: Tensor<E>, along v: Tensor<E>, order: Int = 6,
                                           tolerance: Double = 0.1) throws -> ValidityRadii {
    guard order >= 2 else { throw AutodiffError.invalidArgument("validity radius: the order must be ≥ 2 (the quadratic model needs c₂), got \(order)") }
    let smooth = try f.smoothnessRadius(at: θ, along: v, order: order)
    let c = smooth.coefficients
    let sides = try quadraticModelRadii(coefficients: c, tolerance: tolerance)
    let forward = sides.forward <= sides.backward
    let r = forward ? sides.forward : sides.backward
    var error = Double.nan
    if r > 0, r.isFinite {
        let sign = forward ? 1.0 : -1.0
        var moved = θ
        moved.addScaled(v, E(sign * r))
        let change = try f.value(at: moved) - c[0] - sign * r * c[1]
        error = abs(change - c[2] * r * r) / abs(change)
    }
    return ValidityRadii(smooth: smooth, quadratic: r, trueError: error)
}

/// The validity radii as a probe: along the λ_max eigenvector of the pass
/// (``ProbeContext/lambdaMaxVector(running:)``) and along the first `directions` random directions of ``SharpnessProbe`` (the same
/// seed rule: ``SharpnessDirections``), with the sharpness radius ε in units of the smooth radius:
/// where ε exceeds it, S_ε and ½ε²λ_max must disagree.
public struct ValidityRadiusProbe: Probe {
    public static let name = "validity_radius"
    /// The jet's order K (above the network's depth the smooth radius is exact).
    public var order = 6
    /// The quadratic model's relative tolerance.
    public var tolerance = 0.1
    /// The first this many of sharpness's directions.
    public var directions = 5
    /// Sharpness's seed, kind and ε (the defaults of ``SharpnessProbe``).
    public var seed: UInt64 = SharpnessProbe().seed
    /// Sharpness's direction kind.
    public var kind: DirectionKind = SharpnessProbe().kind
    /// Sharpness's ε.
    public var epsilon = SharpnessProbe().epsilon
    /// The precision of the jets and loss evaluations.
    public var precision: Precision = .float64

    public init() {}

    public struct Result: ProbeResult {
        /// Along the top eigenvector: the smooth radii forward and backward, the quadratic model's radius and its error there.
        public var lambdaForward = Double.nan, lambdaBackward = Double.nan, lambdaQuadratic = Double.nan, lambdaError = Double.nan
        /// Whether the smooth radius along the eigenvector is exact, and whether it binds before the quadratic radius.
        public var lambdaExact = false, lambdaSmoothBinds = false
        /// Along the random directions: the smallest and the median smooth radius.
        public var randomSmoothMin = Double.nan, randomSmoothMedian = Double.nan
        /// Along the random directions: the smallest and the median quadratic-model radius.
        public var randomQuadraticMin = Double.nan, randomQuadraticMedian = Double.nan
        /// ε over the eigenvector's and over the random directions' smallest smooth radius (above 1: sharpness looks past the smooth region).
        public var epsilonOverLambdaSmooth = Double.nan, epsilonOverRandomSmooth = Double.nan
        public init() {}
        public static var fields: [ProbeField<Result>] {
            [.init("validity_lambda_forward", \.lambdaForward), .init("validity_lambda_backward", \.lambdaBackward),
             .init("validity_lambda_quadratic", \.lambdaQuadratic), .init("validity_lambda_quadratic_error", \.lambdaError),
             .init("validity_lambda_exact", \.lambdaExact), .init("validity_lambda_smooth_binds", \.lambdaSmoothBinds),
             .init("validity_random_smooth_min", \.randomSmoothMin), .init("validity_random_smooth_median", \.randomSmoothMedian),
             .init("validity_random_quadratic_min", \.randomQuadraticMin), .init("validity_random_quadratic_median", \.randomQuadraticMedian),
             .init("validity_epsilon_over_lambda_smooth", \.epsilonOverLambdaSmooth),
             .init("validity_epsilon_over_random_smooth", \.epsilonOverRandomSmooth)]
        }
    }

    public func validate() throws {
        try check("order", order, in: 2...12)
        guard tolerance > 0, tolerance < 1 else { throw invalid("tolerance", "must be in (0, 1), got \(tolerance)") }
        try check("directions", directions, in: ProbeLimits.sharpnessDirections)
        try checkPositive("epsilon", epsilon)
    }

    public func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> Result {
        let u = try context.lambdaMaxVector()
        if precision == .float64 {
            let (f, θ) = try context.inFloat64()
            return try measure(f, θ, Tensor<Double>(converting: u))
        }
        return try measure(context.loss, context.point, u)
    }

    func measure<E: TensorScalar>(_ f: LossFunction<E>, _ θ: Tensor<E>, _ u: Tensor<E>) throws -> Result {
        var out = Result()
        let top = try validityRadii(of: f, at: θ, along: u, order: order, tolerance: tolerance)
        out.lambdaForward = top.smooth.forward; out.lambdaBackward = top.smooth.backward
        out.lambdaQuadratic = top.quadratic; out.lambdaError = top.trueError
        out.lambdaExact = top.smooth.isExact; out.lambdaSmoothBinds = top.smoothBinds
        out.epsilonOverLambdaSmooth = epsilon / top.smooth.radius
        var sequence = SharpnessDirections(kind: kind, seed: seed, like: θ, layout: f.layout)
        var smooth: [Double] = [], quadratic: [Double] = []
        for _ in 0..<directions {
            let r = try validityRadii(of: f, at: θ, along: try sequence.next(), order: order, tolerance: tolerance)
            smooth.append(r.smooth.radius); quadratic.append(r.quadratic)
        }
        out.randomSmoothMin = smooth.min()!; out.randomSmoothMedian = median(smooth)
        out.randomQuadraticMin = quadratic.min()!; out.randomQuadraticMedian = median(quadratic)
        out.epsilonOverRandomSmooth = epsilon / out.randomSmoothMedian
        return out
    }

    func median(_ x: [Double]) -> Double {
        let s = x.sorted(), n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }
}

import Tensors

/// A value that is a polynomial in the parameter t of a line θ + t·v: its coefficients of t⁰,
/// t¹, … as plain tensors (the derivative parts of nested levels dropped). A `Dual` is the line's
/// first-order polynomial (primal + t·tangent), a `Jet` its Taylor polynomial to its order.
public protocol LinePolynomial: TensorAlgebra {
    /// `lineCoefficients[k]` is the coefficient of t^k; `nil` an exact zero; index 0 present.
    var lineCoefficients: [Tensor<Scalar>?] { get }
    /// The highest power of t through which the value is known (`Int.max`: every power — the
    /// value is this polynomial); the terms of ``lineCoefficients`` above it are not zeros but
    /// unknown.
    var lineKnownOrder: Int { get }
}

extension Dual: LinePolynomial where V: TensorAlgebra {
    @inlinable public var lineCoefficients: [Tensor<Scalar>?] { [primal.primalTensor, tangent?.primalTensor] }
    /// A dual knows the line's value to first order.
    @inlinable public var lineKnownOrder: Int { 1 }
}

extension Jet: LinePolynomial where V: TensorAlgebra {
    @inlinable public var lineCoefficients: [Tensor<Scalar>?] { (0...order).map { term($0)?.primalTensor } }
    @inlinable public var lineKnownOrder: Int { knownOrder }
}

/// Where the routing of a computation along a line first changes: shared by every ``Watched``
/// value of one evaluation, it keeps the smallest forward and backward distance at which a
/// routing value (a ReLU pre-activation, a `select` condition, a kink of an elementwise
/// function, a `max` tie, a max-pool window's argmax) changes its branch. Single-threaded.
public final class SwitchRecorder {
    /// The nearest switches so far, in units of t (`.infinity`: none). Both `.nan` once a
    /// routing value had a non-finite coefficient (its routing is unknown); no search runs after.
    public private(set) var distances = SwitchDistances()
    /// The highest power of t with a nonzero coefficient in any routing value seen.
    public private(set) var routingDegree = 0
    /// The smallest ``LinePolynomial/lineKnownOrder`` of the routing values seen (`Int.max`: none
    /// seen, or all known whole).
    public private(set) var routingKnownOrder = Int.max
    /// The routing operations seen.
    public private(set) var routingOperations = 0

    public init() {}

    /// Whether the distances are unknown (a non-finite routing value was seen).
    @usableFromInline
    var isUnknown: Bool { distances.forward.isNaN || distances.backward.isNaN }

    @usableFromInline
    func update(_ d: SwitchDistances) {
        distances = d.forward.isNaN || d.backward.isNaN ? SwitchDistances(forward: .nan, backward: .nan) : d
    }

    @usableFromInline
    func note<S: TensorScalar>(_ coefficients: [Tensor<S>?], knownOrder: Int) {
        routingOperations += 1
        routingKnownOrder = min(routingKnownOrder, knownOrder)
        if let d = coefficients.lastIndex(where: { $0 != nil && !$0!.isIdenticallyZero }) { routingDegree = max(routingDegree, d) }
    }

    /// Records routing values Σ_k c_k t^k, known through t^knownOrder, switching where they
    /// cross `offset`.
    @inlinable
    func record<S: TensorScalar>(_ coefficients: [Tensor<S>?], knownOrder: Int, offset: Double = 0, side: SwitchingSide) {
        note(coefficients, knownOrder: knownOrder)
        guard !isUnknown else { return }
        update(Tensor.switchDistances(coefficients: coefficients, offset: offset, side: side, within: distances))
    }

    /// Records the 2×2 max-pool windows of `[N, C, H, W]` routing values known through t^knownOrder.
    @inlinable
    func recordMaxPool<S: TensorScalar>(_ coefficients: [Tensor<S>?], knownOrder: Int) {
        note(coefficients, knownOrder: knownOrder)
        guard !isUnknown else { return }
        update(Tensor.maxPoolSwitchDistances(coefficients: coefficients, within: distances))
    }
}

/// A number system that evaluates a function along a line in the number system `V` (a `Jet`,
/// or a `Dual` for the first-order line) and records, at every routing decision, how far along
/// the line the decision stays the same (``SwitchRecorder``): ReLU's mask
/// (`masked(wherePositive:)` and every elementwise function with ``ElementwiseFunction/kinks``,
/// with its ``ElementwiseFunction/switchingSide``), `select` (abs, sign, max and min route
/// through the rule table: kinks and ``BinaryElementwiseFunction/differenceKinks``) and the 2×2
/// max-pool argmax. Every other operation is `V`'s, so every model written over the algebra runs
/// in it unchanged.
///
/// With `V = Jet<Tensor>` of order K every routing value is known as its Taylor polynomial in t;
/// in a network of linear maps, convolutions, ReLU and max-pooling the pre-activations of layer
/// l are polynomials of degree l in t while the pattern holds (each layer's weights are linear
/// in t), so for K above the depth the recorded distances are exact: until the first switch the
/// polynomials are the values, and the first switch is the smallest root over them. Rows of
/// `maxColumns` (a ``TensorFunction``) are not watched.
public struct Watched<V: LinePolynomial> {
    /// The wrapped value.
    public var value: V
    /// The recorder of the evaluation; `nil` for constants.
    public let recorder: SwitchRecorder?

    /// Wraps `value`, reporting its switching points to `recorder`.
    @inlinable
    public init(_ value: V, recorder: SwitchRecorder? = nil) { self.value = value; self.recorder = recorder }

    @inlinable
    static func watched(_ value: V, _ a: Watched, _ b: Watched) -> Watched { Watched(value, recorder: a.recorder ?? b.recorder) }
}

extension Watched: DerivativeCarrier {
    public typealias Value = V
    @inlinable public init(constantValue: V) { self.init(constantValue) }
    @inlinable public var primalValue: V { value }
    @inlinable public var isIdenticallyZero: Bool { value.isIdenticallyZero }
    @inlinable public func mappingPrimal(_ f: (V) -> V) -> Watched { Watched(f(value), recorder: recorder) }
    @inlinable public func linear(_ f: @escaping (V) -> V, adjoint: @escaping (V) -> V) -> Watched { Watched(f(value), recorder: recorder) }
    @inlinable public static func linear(_ a: Watched, _ b: Watched, _ both: @escaping (V, V) -> V,
                                         left: @escaping (V) -> V, right: @escaping (V) -> V,
                                         adjointLeft: @escaping (V) -> V, adjointRight: @escaping (V) -> V) -> Watched {
        watched(both(a.value, b.value), a, b)
    }
    @inlinable public static func bilinear(_ a: Watched, _ b: Watched, _ f: @escaping (V, V) -> V,
                                           adjointLeft: @escaping (V, V) -> V, adjointRight: @escaping (V, V) -> V) -> Watched {
        watched(f(a.value, b.value), a, b)
    }
    /// Records a switch at each of `f`'s kinks.
    @inlinable public static func applying<F: ElementwiseFunction>(_ f: F, to x: Watched) -> Watched {
        if let r = x.recorder {
            let kinks = f.kinks
            if !kinks.isEmpty {
                let c = x.value.lineCoefficients
                for kink in kinks { r.record(c, knownOrder: x.value.lineKnownOrder, offset: kink, side: f.switchingSide) }
            }
        }
        return Watched(V.applying(f, to: x.value), recorder: x.recorder)
    }
    /// Records a switch where `a − b` crosses each of `f`'s difference kinks (a tie of `max`).
    @inlinable public static func applying<F: BinaryElementwiseFunction>(_ f: F, _ a: Watched, _ b: Watched) -> Watched {
        if let r = a.recorder ?? b.recorder {
            let kinks = f.differenceKinks
            if !kinks.isEmpty {
                let d = a.value - b.value, c = d.lineCoefficients
                for kink in kinks { r.record(c, knownOrder: d.lineKnownOrder, offset: kink, side: .neither) }
            }
        }
        return watched(V.applying(f, a.value, b.value), a, b)
    }
    /// ReLU's mask: switches where the mask crosses 0 (at 0 the mask is off: below).
    @inlinable public func masked(wherePositive mask: Watched) -> Watched {
        mask.recorder?.record(mask.value.lineCoefficients, knownOrder: mask.value.lineKnownOrder, side: .below)
        return Watched(value.masked(wherePositive: mask.value), recorder: recorder ?? mask.recorder)
    }
    /// Switches where the condition crosses 0 (at 0 it picks `b`: below).
    @inlinable public static func select(_ condition: Watched, _ a: Watched, _ b: Watched) -> Watched {
        condition.recorder?.record(condition.value.lineCoefficients, knownOrder: condition.value.lineKnownOrder, side: .below)
        return Watched(V.select(condition.value, a.value, b.value), recorder: condition.recorder ?? a.recorder ?? b.recorder)
    }
}

extension Watched: TensorAlgebra {
    public typealias Scalar = V.Scalar
    @inlinable public static func applying<Op: TensorFunction>(_ op: Op, to x: Watched) -> Watched {
        Watched(V.applying(op, to: x.value), recorder: x.recorder)
    }
}

extension Watched: ConvolutionAlgebra where V: ConvolutionAlgebra {
    /// Switches where a window's argmax changes (``/Tensors/Tensor/maxPoolSwitchDistances(coefficients:within:)``).
    @inlinable public func gatherMaxPool2x2(argmaxOf x: Watched) -> Watched {
        x.recorder?.recordMaxPool(x.value.lineCoefficients, knownOrder: x.value.lineKnownOrder)
        return Watched(value.gatherMaxPool2x2(argmaxOf: x.value), recorder: recorder ?? x.recorder)
    }
    @inlinable public func scatterMaxPool2x2(argmaxOf x: Watched) -> Watched {
        x.recorder?.recordMaxPool(x.value.lineCoefficients, knownOrder: x.value.lineKnownOrder)
        return Watched(value.scatterMaxPool2x2(argmaxOf: x.value), recorder: recorder ?? x.recorder)
    }
}

/// The smooth region of `t ↦ f(θ + t·v)` around t = 0 and its Taylor coefficients there, from
/// one pass (``smoothnessRadius(of:at:along:order:)``).
public struct SmoothnessRadius: Sendable {
    /// The routing of the evaluation (every activation pattern and pooling argmax) is that of
    /// t = 0 for t in (−backward, forward): there f is analytic in t, and where its routing
    /// values are polynomials (``isExact``) its Taylor series there is the function. In units of
    /// t (of ‖v‖ for a unit v: parameter-space distance). `.infinity` where nothing switches.
    public let forward: Double
    /// The distance to the first switch for t < 0 (as a positive number; `.infinity` if none).
    public let backward: Double
    /// c₀…c_K of `t ↦ f(θ + t·v)` (normalized, c_k = f⁽ᵏ⁾(0)/k!), in Float64.
    public let coefficients: [Double]
    /// The highest power of t in any routing value (``SwitchRecorder/routingDegree``).
    public let routingDegree: Int
    /// The smallest order through which every routing value is known
    /// (``SwitchRecorder/routingKnownOrder``; `Int.max`: none seen, or all known whole).
    public let routingKnownOrder: Int
    /// The routing operations seen.
    public let routingOperations: Int
    /// Whether every routing value's Taylor polynomial is known through an order above the
    /// highest power seen in any (routingDegree < routingKnownOrder: the values are those
    /// polynomials, as in ReLU/max-pool networks of depth below K), so that the distances are the
    /// exact first roots (to rounding); otherwise they are those of the routing values' known
    /// Taylor polynomials. A jet truncated below K (a power t^1.5 upstream) is not exact, whatever
    /// its coefficients; a routing value whose known top coefficient is 0 by chance is taken as
    /// polynomial (a jet of order K cannot tell).
    public var isExact: Bool { routingDegree < routingKnownOrder }
    /// min(forward, backward).
    public var radius: Double { min(forward, backward) }

    /// A radius as a function given by closures knows it (e.g. a loss without routing: infinite).
    @inlinable
    public init(forward: Double, backward: Double, coefficients: [Double], routingDegree: Int = 0,
                routingKnownOrder: Int = .max, routingOperations: Int = 0) {
        self.forward = forward; self.backward = backward; self.coefficients = coefficients
        self.routingDegree = routingDegree; self.routingKnownOrder = routingKnownOrder; self.routingOperations = routingOperations
    }
}

/// The distance along `v` from θ to the nearest change of `f`'s routing — an activation pattern
/// (ReLU, `select`, kinks of abs/max/min) or a max-pool argmax — forward and backward, with the
/// Taylor coefficients of `t ↦ f(θ + t·v)` to `order`, from one forward pass on
/// `Watched<Jet<Tensor>>`. Inside (−backward, forward) the network is an analytic function of t.
///
/// Conventions: a routing value exactly at its switching point takes the branch its primal rule
/// gives (ReLU'(0) = 0: a pre-activation exactly 0 with ż > 0 switches at t = 0⁺, distance 0;
/// with ż < 0 it does not switch forward); a max-pool tie goes to the first maximum in scan
/// order; touches (roots of even multiplicity) do not count (``/Tensors/PolynomialRoots/firstSwitch(_:side:below:)``).
/// v = 0 gives infinite distances.
/// - Parameters:
///   - θ, v: length d (`f.layout.parameterCount`).
///   - order: K ≥ 1; above the depth of a ReLU/max-pool network (its routing values are
///     polynomials of degree ≤ depth) the distances are exact (``SmoothnessRadius/isExact``).
/// - Throws: ``AutodiffError`` for wrong lengths, K < 1, a non-scalar output, a jet known to
///   fewer orders than K, or ``AutodiffError/invalidArgument(_:)`` when a routing value's Taylor
///   coefficient along the line is nan or ±∞ (θ or v not finite, or an overflow): its routing, and
///   so the radius, is unknown — never reported as an infinite radius.
@inlinable
public func smoothnessRadius<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, along v: Tensor<O.Scalar>, order: Int = 6) throws -> SmoothnessRadius {
    guard order >= 1 else { throw AutodiffError.invalidArgument("smoothness radius: the order must be ≥ 1, got \(order)") }
    let blocks = try f.layout.split(θ)
    let dirs = try f.layout.split(v, as: "the direction")
    let recorder = SwitchRecorder()
    let y: Watched<Jet<Tensor<O.Scalar>>> = f(zip(blocks, dirs).map { Watched(Jet(point: $0, direction: $1, order: order), recorder: recorder) })
    try f.checkScalar(y.shape)
    guard y.value.knownOrder >= order else { throw AutodiffError.noTaylorExpansion(knownOrder: y.value.knownOrder, requested: order) }
    guard !recorder.isUnknown else {
        throw AutodiffError.invalidArgument("smoothness radius: non-finite routing values along the line (a Taylor coefficient of a ReLU pre-activation, select condition, kink argument or max-pool input is nan or ±∞ at order \(order)); the distance to the nearest routing change is unknown")
    }
    return SmoothnessRadius(forward: recorder.distances.forward, backward: recorder.distances.backward,
                            coefficients: (0...order).map { Double(y.value.coefficient($0).scalars[0]) },
                            routingDegree: recorder.routingDegree, routingKnownOrder: recorder.routingKnownOrder,
                            routingOperations: recorder.routingOperations)
}

/// The step ε > 0 at which the quadratic model c₂ε² = ½ε²vᵀHv of `L(θ + εv) − L(θ) − εgᵀv` stops
/// predicting the order-K series Σ_{k≥2} c_k ε^k within `tolerance`: the smallest ε > 0 with
/// |Σ_{k≥3} c_k ε^k| = tolerance·|Σ_{k≥2} c_k ε^k|.
///
/// Closed form: dividing by ε², r(ε) = Σ_{k≥3} c_k ε^{k−2} meets tolerance·|c₂ + r| where
/// (1 − τ)·r − τc₂ = 0 or (1 + τ)·r + τc₂ = 0, two polynomials of degree K − 2 whose smallest
/// positive sign change (``/Tensors/PolynomialRoots/signChanges(_:below:firstOnly:)``) is the answer (the
/// ratio starts at 0 when c₂ ≠ 0 and is continuous until it reaches τ). c₂ = 0 with a nonzero
/// higher term gives 0; no term beyond c₂ gives `.infinity`. For −v pass c_k·(−1)^k
/// (``quadraticModelRadii(coefficients:tolerance:)``).
/// - Parameters:
///   - coefficients: c₀…c_K (normalized; ``taylorCoefficients(of:at:along:order:)->[O.Scalar]``).
///   - tolerance: τ in (0, 1).
/// - Throws: ``AutodiffError/invalidArgument(_:)`` for τ outside (0, 1), fewer than 3 or non-finite coefficients.
public func quadraticModelRadius(coefficients c: [Double], tolerance τ: Double = 0.1) throws -> Double {
    guard τ > 0, τ < 1 else { throw AutodiffError.invalidArgument("quadratic-model radius: the tolerance must be in (0, 1), got \(τ)") }
    guard c.count >= 3, c.allSatisfy(\.isFinite) else {
        throw AutodiffError.invalidArgument("quadratic-model radius: need finite Taylor coefficients c₀…c_K with K ≥ 2, got \(c)")
    }
    let higher = Array(c[3...])
    if higher.allSatisfy({ $0 == 0 }) { return .infinity }
    if c[2] == 0 { return 0 }
    let p1 = [-τ * c[2]] + higher.map { (1 - τ) * $0 }
    let p2 = [τ * c[2]] + higher.map { (1 + τ) * $0 }
    let r1 = PolynomialRoots.signChanges(p1, below: .infinity, firstOnly: true).first ?? .infinity
    let r2 = PolynomialRoots.signChanges(p2, below: .infinity, firstOnly: true).first ?? .infinity
    return min(r1, r2)
}

/// ``quadraticModelRadius(coefficients:tolerance:)`` along v (forward) and −v (backward).
/// - Throws: as ``quadraticModelRadius(coefficients:tolerance:)``.
public func quadraticModelRadii(coefficients c: [Double], tolerance: Double = 0.1) throws -> SwitchDistances {
    SwitchDistances(forward: try quadraticModelRadius(coefficients: c, tolerance: tolerance),
                    backward: try quadraticModelRadius(coefficients: c.enumerated().map { $0 % 2 == 1 ? -$1 : $1 }, tolerance: tolerance))
}

import Foundation
import Tensors

// The rule table. Each elementwise function is declared once: its primal kernel (a
// `ScalarFunction` in Sources/Tensors/ScalarFunctions.swift) and here its derivative, written in
// the algebra's own operations. `Dual` makes the tangent f'(x)·ẋ from it, `Tracked` the pullback
// f'(x)·ḡ (a diagonal derivative is its own transpose), `Jet` the Taylor coefficients through the
// ODE y' = f'(x)·x' (as `jax.experimental.jet`'s `def_deriv`), and nested number systems
// differentiate the derivative itself. A hand-written Taylor rule (`taylor(_:)`) is kept only
// where it is much cheaper than the ODE (exp, log, sqrt, pow, sin, cos, tanh, sigmoid, ReLU).
// `RuleTable` lists the entries; the test `RuleTableTests` walks every one of them in every
// number system.

/// An elementwise function with its derivative: one entry of the rule table.
///
/// Conform a type to add a function to every number system at once: give the primal for `Float`
/// and `Double` (``/Tensors/ScalarFunction``) and ``derivative(at:value:)``; then `V.applying(f, to: x)`
/// evaluates it in `Float`, `Double`, `Tensor`, `Dual`, `Tracked` and `Jet` and their nestings.
/// Example (the whole declaration of `erf`):
///
/// ```swift
/// extension Erf: ElementwiseFunction {
///     func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V {
///         V.exp(-(x * x)).scaled(by: 2 / Double.pi.squareRoot())   // erf'(x) = 2/√π·e^{−x²}
///     }
/// }
/// ```
public protocol ElementwiseFunction: ScalarFunction {
    /// `f'(x)`, written in the algebra's operations so that nested number systems differentiate
    /// it again; `y = f(x)` is passed for rules that reuse it (tan' = 1 + tan²).
    func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V
    /// The tangent (and cotangent) map `t ↦ f'(x)·t`. The default is
    /// ``ArithmeticAlgebra/strongZeroProduct(_:_:)`` of `t` and ``derivative(at:value:)``.
    func tangent<V: ScalarAlgebra>(_ t: V, at x: V, value y: V) -> V
    /// A faster Taylor rule than the generic ODE, or `nil` (the default) to use the ODE.
    func taylor<V: ScalarAlgebra>(_ x: Jet<V>) -> Jet<V>?
    /// A dedicated tensor kernel, or `nil` (the default) for the generic elementwise loop.
    func tensorKernel<S: TensorScalar>(_ x: Tensor<S>) -> Tensor<S>?
    /// Points that are not smooth (kinks, jumps): finite-difference checks keep their steps off
    /// them, and at them the function's documented convention holds. Default: none.
    var kinks: [Double] { get }
    /// Which side of its kinks the function's value and derivatives at a kink belong to (ReLU:
    /// below, ReLU'(0) = 0), or neither (abs'(0) = 0 agrees with no side): where a value along a
    /// line sits exactly at a kink, the line's Taylor series is that side's (``Watched``).
    /// Default: neither.
    var switchingSide: SwitchingSide { get }
    /// Where the function and its derivatives are finite and real, for tests. Default: all reals.
    var domain: ClosedRange<Double> { get }
}

extension ElementwiseFunction {
    @inlinable public func tangent<V: ScalarAlgebra>(_ t: V, at x: V, value y: V) -> V {
        V.strongZeroProduct(t, derivative(at: x, value: y))
    }
    @inlinable public func taylor<V: ScalarAlgebra>(_ x: Jet<V>) -> Jet<V>? { nil }
    @inlinable public func tensorKernel<S: TensorScalar>(_ x: Tensor<S>) -> Tensor<S>? { nil }
    public var kinks: [Double] { [] }
    public var switchingSide: SwitchingSide { .neither }
    public var domain: ClosedRange<Double> { -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude }
}

/// A binary elementwise function with its two partial derivatives: an entry of the rule table.
public protocol BinaryElementwiseFunction: BinaryScalarFunction {
    /// `(∂f/∂a, ∂f/∂b)` at `(a, b)`, written in the algebra's operations; `y = f(a, b)`.
    func partials<V: ScalarAlgebra>(_ a: V, _ b: V, value y: V) -> (V, V)
    /// A faster Taylor rule than the generic ODE, or `nil` (the default).
    func taylor<V: ScalarAlgebra>(_ a: Jet<V>, _ b: Jet<V>) -> Jet<V>?
    /// A dedicated tensor kernel, or `nil` (the default) for the generic elementwise loop.
    func tensorKernel<S: TensorScalar>(_ a: Tensor<S>, _ b: Tensor<S>) -> Tensor<S>?
    /// The values of `a − b` where the function is not smooth (`max`, `min`: 0, where a tie
    /// splits the derivative, a branch of its own). Default: none.
    var differenceKinks: [Double] { get }
}

extension BinaryElementwiseFunction {
    public var differenceKinks: [Double] { [] }
    @inlinable public func taylor<V: ScalarAlgebra>(_ a: Jet<V>, _ b: Jet<V>) -> Jet<V>? { nil }
    @inlinable public func tensorKernel<S: TensorScalar>(_ a: Tensor<S>, _ b: Tensor<S>) -> Tensor<S>? { nil }
}

/// A tensor operation declared by its primal, JVP and VJP: the rule-table entry for operations
/// that are not elementwise (log-softmax, row maxima, the Euclidean norm) and the public way to
/// add one's own primitive with a custom derivative.
///
/// `jvp` and `vjp` are written in the algebra's operations (so that nested number systems
/// differentiate them) and must be each other's transposes: ⟨vjp(g), t⟩ = ⟨g, jvp(t)⟩. Jets
/// integrate y' = jvp(x, x') unless ``taylor(_:)`` gives a faster rule.
public protocol TensorFunction: Sendable {
    /// The primal on plain tensors.
    func value<S: TensorScalar>(_ x: Tensor<S>) -> Tensor<S>
    /// The directional derivative along `t` at `x` (`y` = the value at `x`).
    func jvp<V: TensorAlgebra>(at x: V, value y: V, tangent t: V) -> V
    /// The cotangent of `x` for the cotangent `g` of `y`.
    func vjp<V: TensorAlgebra>(at x: V, value y: V, cotangent g: V) -> V
    /// A faster Taylor rule, or `nil` (the default).
    func taylor<V: TensorAlgebra>(_ x: Jet<V>) -> Jet<V>?
}

extension TensorFunction {
    @inlinable public func taylor<V: TensorAlgebra>(_ x: Jet<V>) -> Jet<V>? { nil }
}

// MARK: - The elementwise entries

extension Exp: ElementwiseFunction {
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { y }
    /// y' = y·x'.
    @inlinable public func taylor<V: ScalarAlgebra>(_ x: Jet<V>) -> Jet<V>? { Jet.ode(x, y0: V.exp(x.primal)) { m, y in y[m] } }
}

extension Log: ElementwiseFunction {
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { x.onesLike() / x }
    @inlinable public func taylor<V: ScalarAlgebra>(_ x: Jet<V>) -> Jet<V>? { Jet.logarithm(x) }
    public var domain: ClosedRange<Double> { Double.leastNormalMagnitude...Double.greatestFiniteMagnitude }
}

extension Log1p: ElementwiseFunction {
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { x.onesLike() / x.shifted(by: 1) }
    public var domain: ClosedRange<Double> { (-1 + 1e-9)...Double.greatestFiniteMagnitude }
}

extension Expm1: ElementwiseFunction {
    /// eˣ, not y + 1: at x = −30, y + 1 keeps 3 digits of e⁻³⁰.
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { V.exp(x) }
}

extension Sqrt: ElementwiseFunction {
    /// 1/(2√x): infinite at 0 (IEEE 754).
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { (y.onesLike() / y).scaled(by: 0.5) }
    @inlinable public func taylor<V: ScalarAlgebra>(_ x: Jet<V>) -> Jet<V>? { Jet.squareRoot(x) }
    public var domain: ClosedRange<Double> { Double.leastNormalMagnitude...Double.greatestFiniteMagnitude }
}

extension Tanh: ElementwiseFunction {
    /// sech²x, as 1 − tanh²x for |x| < 1 and as 4σ(2x)σ(−2x) beyond: at |x| = 30 the first form
    /// is 0 while sech² = 3.5e−26, and near 0 the second loses the derivatives of sech² (its
    /// σ(−2x) − σ(2x) cancels), so each form is used where it keeps every digit.
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V {
        let twice = x.scaled(by: 2)
        return V.select(V.abs(x).shifted(by: -1), (V.sigmoid(twice) * V.sigmoid(-twice)).scaled(by: 4), (-(y * y)).shifted(by: 1))
    }
    /// y' = (1 − y²)·x' (the coefficients of order ≥ 1 need no cancellation-free form).
    @inlinable public func taylor<V: ScalarAlgebra>(_ x: Jet<V>) -> Jet<V>? {
        guard x.order >= 1 else { return nil }
        let u0 = derivative(at: x.primal, value: V.tanh(x.primal))
        return Jet.ode(x, y0: V.tanh(x.primal)) { m, y in m == 0 ? u0 : Jet.convolution(y, y, m).map { -$0 } }
    }
}

extension Sigmoid: ElementwiseFunction {
    /// σ'(x) = sech²(x/2)/4, through tanh's derivative: σ(1 − σ) would be 0 at x = 60 (1 − σ rounds
    /// to 0, while σ' = 8.8e−27), and σ(x)σ(−x) loses the derivatives of σ' near 0.
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V {
        let half = x.scaled(by: 0.5)
        return Tanh().derivative(at: half, value: V.tanh(half)).scaled(by: 0.25)
    }
    /// σ(x) = (1 + tanh(x/2))/2 on the higher coefficients: the recurrence y' = (y − y²)·x' cancels
    /// near 0 (σ'' = −x/8 at x = 1e−300 comes out 0).
    @inlinable public func taylor<V: ScalarAlgebra>(_ x: Jet<V>) -> Jet<V>? {
        var y = Jet.tanh(x.scaled(by: 0.5)).scaled(by: 0.5)
        y.terms[0] = V.sigmoid(x.primal)
        return y
    }
}

extension Sin: ElementwiseFunction {
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { V.cos(x) }
    @inlinable public func taylor<V: ScalarAlgebra>(_ x: Jet<V>) -> Jet<V>? { Jet.sinCos(x).0 }
}

extension Cos: ElementwiseFunction {
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { -V.sin(x) }
    @inlinable public func taylor<V: ScalarAlgebra>(_ x: Jet<V>) -> Jet<V>? { Jet.sinCos(x).1 }
}

extension Tan: ElementwiseFunction {
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { (y * y).shifted(by: 1) }
    public var domain: ClosedRange<Double> { -1.5...1.5 }
}

extension Erf: ElementwiseFunction {
    /// erf'(x) = 2/√π · e^{−x²}.
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V {
        V.exp(-(x * x)).scaled(by: 2 / Double.pi.squareRoot())
    }
}

extension Erfc: ElementwiseFunction {
    /// erfc'(x) = −2/√π · e^{−x²}.
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V {
        V.exp(-(x * x)).scaled(by: -2 / Double.pi.squareRoot())
    }
}

extension GELU: ElementwiseFunction {
    /// GELU'(x) = Φ(x) + x·φ(x), with Φ(x) = erfc(−x/√2)/2 (no cancellation in the left tail, so
    /// GELU'(−30) keeps its digits) and φ(x) = e^{−x²/2}/√(2π); at ±large x, φ's exponential is an
    /// exact 0 and the chain rule's strong zero keeps x·φ(x) and its derivatives 0, not 0·∞.
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V {
        let cdf = V.erfc(x.scaled(by: -(0.5).squareRoot())).scaled(by: 0.5)
        let density = V.exp((x * x).scaled(by: -0.5)).scaled(by: 1 / (2 * Double.pi).squareRoot())
        return cdf + x * density
    }
}

extension Abs: ElementwiseFunction {
    /// sign(x), so abs'(0) = 0 (the minimal-norm subgradient).
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { V.sign(x) }
    public var kinks: [Double] { [0] }
}

extension Sign: ElementwiseFunction {
    /// 0 everywhere, the jump at 0 included (sign(0) = 0).
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { x.zerosLike() }
    @inlinable public func tangent<V: ScalarAlgebra>(_ t: V, at x: V, value y: V) -> V { t.zerosLike() }
    public var kinks: [Double] { [0] }
}

extension ReLU: ElementwiseFunction {
    /// 1 where x > 0, else 0 (ReLU'(0) = 0).
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { x.onesLike().masked(wherePositive: x) }
    /// The tangent masked by the primal (a bit-mask kernel; no multiply).
    @inlinable public func tangent<V: ScalarAlgebra>(_ t: V, at x: V, value y: V) -> V { t.masked(wherePositive: x) }
    /// Every coefficient masked by c₀ > 0.
    @inlinable public func taylor<V: ScalarAlgebra>(_ x: Jet<V>) -> Jet<V>? {
        let p = x.primal
        var j = x.mapLinear { $0.masked(wherePositive: p) }
        j.terms[0] = V.applying(self, to: p)
        return j
    }
    @inlinable public func tensorKernel<S: TensorScalar>(_ x: Tensor<S>) -> Tensor<S>? { x.reluKernel() }
    public var kinks: [Double] { [0] }
    public var switchingSide: SwitchingSide { .below }
}

extension Power: ElementwiseFunction {
    /// r·x^(r−1), with the exponents 0 and 1 treated exactly (derivative 0 and 1): x^r with an
    /// integer r ≥ 0 is smooth at 0, so d²/dx² x¹ = 0 and d⁴/dx⁴ x³ = 0 there (not 0·∞).
    @inlinable public func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V {
        if exponent == 0 { return x.zerosLike() }
        if exponent == 1 { return x.onesLike() }
        return V.pow(x, exponent - 1).scaled(by: exponent)
    }
    @inlinable public func taylor<V: ScalarAlgebra>(_ x: Jet<V>) -> Jet<V>? { Jet.power(x, exponent) }
    public var domain: ClosedRange<Double> {
        exponent.rounded() == exponent ? -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
                                       : Double.leastNormalMagnitude...Double.greatestFiniteMagnitude
    }
}

extension Quotient: BinaryElementwiseFunction {
    @inlinable public func partials<V: ScalarAlgebra>(_ a: V, _ b: V, value y: V) -> (V, V) {
        let inverse = b.onesLike() / b
        return (inverse, -(y * inverse))
    }
    @inlinable public func taylor<V: ScalarAlgebra>(_ a: Jet<V>, _ b: Jet<V>) -> Jet<V>? { Jet.quotient(a, b) }
    @inlinable public func tensorKernel<S: TensorScalar>(_ a: Tensor<S>, _ b: Tensor<S>) -> Tensor<S>? { a.zip(b, .divide) }
}

extension PowerOf: BinaryElementwiseFunction {
    /// (b·a^(b−1), log(a)·a^b); the first is 0 for b = 0 and the second where a^b = 0 (a = 0,
    /// b > 0), not 0·∞.
    @inlinable public func partials<V: ScalarAlgebra>(_ a: V, _ b: V, value y: V) -> (V, V) {
        (V.strongZeroProduct(b, V.pow(a, b.shifted(by: -1))), V.select(V.abs(y), V.log(a) * y, y.zerosLike()))
    }
    /// exp(b·log a): the recurrences of exp and log, O(K²) (for a₀ > 0).
    @inlinable public func taylor<V: ScalarAlgebra>(_ a: Jet<V>, _ b: Jet<V>) -> Jet<V>? {
        var y = Jet.exp(b * Jet.log(a))
        y.terms[0] = V.applying(self, a.primal, b.primal)
        return y
    }
}

extension Maximum: BinaryElementwiseFunction {
    /// Ties (a = b) split the derivative equally, ½ to each operand, in every mode; the same
    /// rule as ``TensorAlgebra/maxColumns()``.
    @inlinable public func partials<V: ScalarAlgebra>(_ a: V, _ b: V, value y: V) -> (V, V) { tieWeights(a, b) }
    public var differenceKinks: [Double] { [0] }
}

extension Minimum: BinaryElementwiseFunction {
    /// Ties split the derivative equally, as for ``Maximum``.
    @inlinable public func partials<V: ScalarAlgebra>(_ a: V, _ b: V, value y: V) -> (V, V) { tieWeights(b, a) }
    public var differenceKinks: [Double] { [0] }
}

/// (w, 1 − w) with w = 1 where a > b, ½ where a = b, 0 where a < b (constants).
@inlinable
func tieWeights<V: ScalarAlgebra>(_ a: V, _ b: V) -> (V, V) {
    let one = a.onesLike(), zero = a.zerosLike(), half = one.scaled(by: 0.5)
    let w = V.select(a - b, one, V.select(b - a, zero, half))
    return (w, V.select(a - b, zero, V.select(b - a, one, half)))
}

// MARK: - The tensor entries

/// Row-wise log-softmax of `[N, C]` logits.
public struct LogSoftmax: TensorFunction {
    @inlinable public init() {}
    @inlinable public func value<S: TensorScalar>(_ x: Tensor<S>) -> Tensor<S> { x.logSoftmaxRows() }
    /// ẏ = ż − rowsum(softmax(z) ⊙ ż).
    @inlinable public func jvp<V: TensorAlgebra>(at x: V, value y: V, tangent t: V) -> V {
        t - (V.exp(y) * t).sumColumns().broadcastColumns(y.shape[1])
    }
    /// z̄ = ȳ − softmax(z) ⊙ rowsum(ȳ).
    @inlinable public func vjp<V: TensorAlgebra>(at x: V, value y: V, cotangent g: V) -> V {
        g - V.exp(y) * g.sumColumns().broadcastColumns(y.shape[1])
    }
}

/// The largest element of each row, `[N, C] → [N]`. Ties split the derivative equally among the
/// maximal elements (the rule of ``/Tensors/Maximum``), in forward and reverse mode alike.
public struct MaxColumns: TensorFunction {
    @inlinable public init() {}
    @inlinable public func value<S: TensorScalar>(_ x: Tensor<S>) -> Tensor<S> { x.maxColumnsKernel() }
    /// 1/(number of maxima) at each maximum of its row, else 0 (a constant).
    @inlinable func weights<V: TensorAlgebra>(_ x: V, _ y: V) -> V {
        let c = x.shape[1]
        let hit = V.select(y.broadcastColumns(c) - x, x.zerosLike(), x.onesLike())
        return hit / hit.sumColumns().broadcastColumns(c)
    }
    @inlinable public func jvp<V: TensorAlgebra>(at x: V, value y: V, tangent t: V) -> V { (weights(x, y) * t).sumColumns() }
    @inlinable public func vjp<V: TensorAlgebra>(at x: V, value y: V, cotangent g: V) -> V {
        weights(x, y) * g.broadcastColumns(x.shape[1])
    }
}

/// The Euclidean norm ‖x‖ of all elements, a rank-0 value; its derivative at the origin is the
/// subgradient 0.
public struct EuclideanNorm: TensorFunction {
    @inlinable public init() {}
    /// Scaled by the largest magnitude, so ‖x‖ neither overflows nor underflows in the squares.
    public func value<S: TensorScalar>(_ x: Tensor<S>) -> Tensor<S> {
        if x.scalars.contains(where: { $0.isNaN }) { return Tensor(S.nan) }
        let big = x.scalars.reduce(0.0) { Swift.max($0, Double($1.magnitude)) }
        guard big > 0, big.isFinite else { return Tensor(S(big)) }
        let s = x.scalars.reduce(0.0) { let r = Double($1) / big; return $0 + r * r }
        return Tensor(S(big * s.squareRoot()))
    }
    /// Σ (x/‖x‖)·t: dividing first keeps huge and tiny x from overflowing or underflowing.
    @inlinable public func jvp<V: TensorAlgebra>(at x: V, value y: V, tangent t: V) -> V {
        V.select(y, (x / y.broadcast(to: x.shape) * t).sum().reshaped(y.shape), y.zerosLike())
    }
    @inlinable public func vjp<V: TensorAlgebra>(at x: V, value y: V, cotangent g: V) -> V {
        x * V.select(y, g / y, y.zerosLike()).broadcast(to: x.shape)
    }
}

// MARK: - The named operations, one line each

extension ElementaryFunctions {
    /// `e^x`.
    @inlinable public static func exp(_ x: Self) -> Self { applying(Exp(), to: x) }
    /// Natural logarithm (IEEE 754: `log 0 = -inf`, `log(x < 0) = nan`).
    @inlinable public static func log(_ x: Self) -> Self { applying(Log(), to: x) }
    /// `log(1 + x)`, accurate for tiny `x`.
    @inlinable public static func log1p(_ x: Self) -> Self { applying(Log1p(), to: x) }
    /// `e^x − 1`, accurate for tiny `x`.
    @inlinable public static func expm1(_ x: Self) -> Self { applying(Expm1(), to: x) }
    /// Square root (IEEE 754: `sqrt(x < 0) = nan`; the derivative at 0 is `+inf`).
    @inlinable public static func sqrt(_ x: Self) -> Self { applying(Sqrt(), to: x) }
    /// Hyperbolic tangent.
    @inlinable public static func tanh(_ x: Self) -> Self { applying(Tanh(), to: x) }
    /// Sine (radians).
    @inlinable public static func sin(_ x: Self) -> Self { applying(Sin(), to: x) }
    /// Cosine (radians).
    @inlinable public static func cos(_ x: Self) -> Self { applying(Cos(), to: x) }
    /// Tangent (radians).
    @inlinable public static func tan(_ x: Self) -> Self { applying(Tan(), to: x) }
    /// The error function.
    @inlinable public static func erf(_ x: Self) -> Self { applying(Erf(), to: x) }
    /// The complementary error function `1 − erf(x)`, accurate where erf(x) is near 1.
    @inlinable public static func erfc(_ x: Self) -> Self { applying(Erfc(), to: x) }
    /// Logistic sigmoid `1/(1+e^{-x})`, without overflow for large `|x|`.
    @inlinable public static func sigmoid(_ x: Self) -> Self { applying(Sigmoid(), to: x) }
    /// `|x|`; abs'(0) = 0.
    @inlinable public static func abs(_ x: Self) -> Self { applying(Abs(), to: x) }
    /// −1, 0 or 1 (sign(0) = 0); its derivative is 0 everywhere.
    @inlinable public static func sign(_ x: Self) -> Self { applying(Sign(), to: x) }
    /// `x^exponent` for a constant real exponent (IEEE `pow`: nan for negative `x` and a
    /// non-integer exponent). Integer exponents are smooth at 0 in every number system.
    @inlinable public static func pow(_ x: Self, _ exponent: Double) -> Self { applying(Power(exponent), to: x) }
    /// `x^y` with a variable exponent, for x > 0 (and x = 0 with y > 0, once differentiable there
    /// for y ≥ 1; higher derivatives at x = 0 are nan). For an integer exponent use
    /// ``pow(_:_:)-(Self,Double)``, which is smooth at 0.
    @inlinable public static func pow(_ x: Self, _ y: Self) -> Self { applying(PowerOf(), x, y) }
    /// The larger of `a` and `b` elementwise; at ties each operand gets half the derivative.
    @inlinable public static func max(_ a: Self, _ b: Self) -> Self { applying(Maximum(), a, b) }
    /// The smaller of `a` and `b` elementwise; at ties each operand gets half the derivative.
    @inlinable public static func min(_ a: Self, _ b: Self) -> Self { applying(Minimum(), a, b) }
    /// `max(x, 0)`; ReLU'(0) = 0.
    @inlinable public func relu() -> Self { Self.applying(ReLU(), to: self) }
    /// GELU, the exact form `x·Φ(x) = x/2·(1 + erf(x/√2))` (Hendrycks & Gimpel 2016); GELU(−∞) = −0.
    @inlinable public static func gelu(_ x: Self) -> Self { applying(GELU(), to: x) }
    /// GELU, the exact form `x·Φ(x)`; the instance spelling of ``gelu(_:)``.
    @inlinable public func gelu() -> Self { Self.gelu(self) }
}

extension TensorAlgebra {
    /// Row-wise log-softmax of `[N, C]` logits, computed as (z − max) − log Σ exp(z − max).
    @inlinable public func logSoftmax() -> Self { Self.applying(LogSoftmax(), to: self) }
    /// The largest element of each row, `[N, C] → [N]`; ties share the derivative equally.
    @inlinable public func maxColumns() -> Self { Self.applying(MaxColumns(), to: self) }
    /// The Euclidean norm of all elements (rank 0); its derivative at the origin is 0.
    @inlinable public func euclideanNorm() -> Self { Self.applying(EuclideanNorm(), to: self) }
}

/// The entries of the rule table, for tests and documentation (a user's own rule works without
/// being listed here).
public enum RuleTable {
    /// Every built-in elementwise function, with the exponents of `pow` that the tests walk.
    public static let elementwise: [any ElementwiseFunction] = [
        Exp(), Log(), Log1p(), Expm1(), Sqrt(), Tanh(), Sigmoid(), Sin(), Cos(), Tan(), Erf(), Erfc(), GELU(), Abs(), Sign(), ReLU(),
        Power(0), Power(1), Power(2), Power(3), Power(-2), Power(0.5), Power(1.5), Power(-1.7),
    ]
    /// Every built-in binary elementwise function.
    public static let binary: [any BinaryElementwiseFunction] = [Quotient(), PowerOf(), Maximum(), Minimum()]
    /// Every built-in tensor function.
    public static let tensor: [any TensorFunction] = [LogSoftmax(), MaxColumns(), EuclideanNorm()]
}

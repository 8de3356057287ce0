import Foundation

/// An elementwise function's primal on `Float` and `Double`: the kernel of one entry of the
/// rule table (`Autodiff` adds its derivative by conforming the same type to
/// `ElementwiseFunction`). `Tensor.map(_:)` runs it in one loop per tensor.
public protocol ScalarFunction: Sendable {
    /// f(x) in Float.
    func callAsFunction(_ x: Float) -> Float
    /// f(x) in Double.
    func callAsFunction(_ x: Double) -> Double
}

/// A binary elementwise function's primal on `Float` and `Double`.
public protocol BinaryScalarFunction: Sendable {
    /// f(a, b) in Float.
    func callAsFunction(_ a: Float, _ b: Float) -> Float
    /// f(a, b) in Double.
    func callAsFunction(_ a: Double, _ b: Double) -> Double
}

// MARK: - The primal kernels of the built-in rules (derivatives: Sources/Autodiff/Rules.swift)

/// `e^x`.
public struct Exp: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { Foundation.exp(x) }
    @inlinable public func callAsFunction(_ x: Double) -> Double { Foundation.exp(x) }
}

/// Natural logarithm (IEEE 754: `log 0 = -inf`, `log(x < 0) = nan`).
public struct Log: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { Foundation.log(x) }
    @inlinable public func callAsFunction(_ x: Double) -> Double { Foundation.log(x) }
}

/// `log(1 + x)`, accurate for tiny `x`.
public struct Log1p: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { Foundation.log1p(x) }
    @inlinable public func callAsFunction(_ x: Double) -> Double { Foundation.log1p(x) }
}

/// `e^x − 1`, accurate for tiny `x`.
public struct Expm1: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { Foundation.expm1(x) }
    @inlinable public func callAsFunction(_ x: Double) -> Double { Foundation.expm1(x) }
}

/// Square root (IEEE 754: `sqrt(x < 0) = nan`).
public struct Sqrt: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { x.squareRoot() }
    @inlinable public func callAsFunction(_ x: Double) -> Double { x.squareRoot() }
}

/// Hyperbolic tangent.
public struct Tanh: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { Foundation.tanh(x) }
    @inlinable public func callAsFunction(_ x: Double) -> Double { Foundation.tanh(x) }
}

/// Sine (radians).
public struct Sin: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { Foundation.sin(x) }
    @inlinable public func callAsFunction(_ x: Double) -> Double { Foundation.sin(x) }
}

/// Cosine (radians).
public struct Cos: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { Foundation.cos(x) }
    @inlinable public func callAsFunction(_ x: Double) -> Double { Foundation.cos(x) }
}

/// Tangent (radians).
public struct Tan: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { Foundation.tan(x) }
    @inlinable public func callAsFunction(_ x: Double) -> Double { Foundation.tan(x) }
}

/// The error function `erf(x) = 2/√π ∫₀ˣ e^{−s²} ds`.
public struct Erf: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { Foundation.erf(x) }
    @inlinable public func callAsFunction(_ x: Double) -> Double { Foundation.erf(x) }
}

/// The complementary error function `erfc(x) = 1 − erf(x)`, accurate where `erf(x)` is near 1
/// (erfc(10) = 2.1e−45, while 1 − erf(10) rounds to 0).
public struct Erfc: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { Foundation.erfc(x) }
    @inlinable public func callAsFunction(_ x: Double) -> Double { Foundation.erfc(x) }
}

/// GELU, the exact (erf) form: `x·Φ(x) = x/2·(1 + erf(x/√2))` with Φ the standard normal CDF
/// (Hendrycks & Gimpel 2016, "Gaussian Error Linear Units", eq. 1; PyTorch's
/// `gelu(approximate='none')`). Computed as `x/2·erfc(−x/√2)`, the same function, so that the
/// left tail keeps its digits (gelu(−10) = −7.6e−23, not 0 from 1 + erf cancelling) and
/// underflows to −0 (gelu(−40), gelu(−∞) = −0, not −∞·0 = nan).
public struct GELU: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float {
        let c = Foundation.erfc(-x * Float(0.5.squareRoot()))
        return c == 0 ? -0.0 : 0.5 * x * c
    }
    @inlinable public func callAsFunction(_ x: Double) -> Double {
        let c = Foundation.erfc(-x * 0.5.squareRoot())
        return c == 0 ? -0.0 : 0.5 * x * c
    }
}

/// The logistic sigmoid `1/(1 + e^{−x})`, evaluated so that no `exp` overflows.
public struct Sigmoid: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
        let e = Foundation.exp(x)
        return e / (1 + e)
    }
    @inlinable public func callAsFunction(_ x: Double) -> Double {
        if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
        let e = Foundation.exp(x)
        return e / (1 + e)
    }
}

/// `|x|`.
public struct Abs: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { x.magnitude }
    @inlinable public func callAsFunction(_ x: Double) -> Double { x.magnitude }
}

/// The sign: −1, 0 or 1, with sign(0) = sign(−0) = 0 and sign(nan) = nan.
public struct Sign: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : (x == 0 ? 0 : .nan)) }
    @inlinable public func callAsFunction(_ x: Double) -> Double { x > 0 ? 1 : (x < 0 ? -1 : (x == 0 ? 0 : .nan)) }
}

/// `max(x, 0)`; nan stays nan, so an overflow upstream (∞ − ∞ in a GEMM) is not turned into 0.
public struct ReLU: ScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ x: Float) -> Float { x <= 0 ? 0 : x }
    @inlinable public func callAsFunction(_ x: Double) -> Double { x <= 0 ? 0 : x }
}

/// `x^exponent` for a constant real exponent (IEEE `pow`: nan for negative `x` and a
/// non-integer exponent).
public struct Power: ScalarFunction {
    /// A constant: derivatives are taken in x only.
    public let exponent: Double
    /// `x^exponent`.
    @inlinable public init(_ exponent: Double) { self.exponent = exponent }
    @inlinable public func callAsFunction(_ x: Float) -> Float { Foundation.pow(x, Float(exponent)) }
    @inlinable public func callAsFunction(_ x: Double) -> Double { Foundation.pow(x, exponent) }
}

/// `a / b` (IEEE 754).
public struct Quotient: BinaryScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b }
    @inlinable public func callAsFunction(_ a: Double, _ b: Double) -> Double { a / b }
}

/// `a^b` with a variable exponent (IEEE `pow`).
public struct PowerOf: BinaryScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ a: Float, _ b: Float) -> Float { Foundation.pow(a, b) }
    @inlinable public func callAsFunction(_ a: Double, _ b: Double) -> Double { Foundation.pow(a, b) }
}

/// The larger of `a` and `b`; nan if either is nan.
public struct Maximum: BinaryScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ a: Float, _ b: Float) -> Float { a.isNaN || b.isNaN ? .nan : (a >= b ? a : b) }
    @inlinable public func callAsFunction(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : (a >= b ? a : b) }
}

/// The smaller of `a` and `b`; nan if either is nan.
public struct Minimum: BinaryScalarFunction {
    @inlinable public init() {}
    @inlinable public func callAsFunction(_ a: Float, _ b: Float) -> Float { a.isNaN || b.isNaN ? .nan : (a <= b ? a : b) }
    @inlinable public func callAsFunction(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : (a <= b ? a : b) }
}

import Foundation
import Tensors

/// The elementwise operations shared by scalars and tensors: the "scalar part" of
/// the algebra that layers are written against (DESIGN.md, "One algebra, several
/// number systems").
///
/// `Float`, `Double` and `Tensor` conform directly; `Dual<V>` and `Tracked<V>`
/// conform whenever `V` does, so number systems nest (`Dual<Dual<Double>>`,
/// `Tracked<Dual<Tensor<Double>>>`). For tensors, binary operations require equal
/// shapes (a precondition that names both shapes); use
/// ``TensorAlgebra/addingRowBroadcast(_:)`` for biases.
///
/// Non-smooth convention: ``relu()`` has derivative 0 at 0.
public protocol ScalarAlgebra {
    /// Elementwise sum.
    static func + (lhs: Self, rhs: Self) -> Self
    /// Elementwise difference.
    static func - (lhs: Self, rhs: Self) -> Self
    /// Elementwise product.
    static func * (lhs: Self, rhs: Self) -> Self
    /// Elementwise quotient (IEEE 754 for division by zero).
    static func / (lhs: Self, rhs: Self) -> Self
    /// Elementwise negation.
    static prefix func - (operand: Self) -> Self
    /// `factor · self`, with `factor` a constant (no derivative flows into it).
    func scaled(by factor: Double) -> Self
    /// `self + offset`, with `offset` a constant.
    func shifted(by offset: Double) -> Self
    /// `e^x`.
    static func exp(_ x: Self) -> Self
    /// Natural logarithm (IEEE 754: `log 0 = -inf`, `log(x<0) = nan`).
    static func log(_ x: Self) -> Self
    /// Square root (IEEE 754: `sqrt(x<0) = nan`; the derivative at 0 is `+inf`).
    static func sqrt(_ x: Self) -> Self
    /// Hyperbolic tangent.
    static func tanh(_ x: Self) -> Self
    /// Sine (radians).
    static func sin(_ x: Self) -> Self
    /// Cosine (radians).
    static func cos(_ x: Self) -> Self
    /// Logistic sigmoid `1/(1+e^{-x})`, without overflow for large `|x|`.
    static func sigmoid(_ x: Self) -> Self
    /// `x^exponent` for a constant real exponent (IEEE `pow`: nan for negative `x` and a
    /// non-integer exponent).
    static func pow(_ x: Self, _ exponent: Double) -> Self
    /// `max(x, 0)`; ReLU'(0) = 0.
    func relu() -> Self
    /// `self` where `mask > 0`, else 0. Linear in `self`; `mask` is read for its primal
    /// value only (no derivative flows into it). This is the ReLU pullback and JVP.
    func masked(wherePositive mask: Self) -> Self
    /// A value of the same shape filled with 0, carrying no derivative.
    func zerosLike() -> Self
    /// A value of the same shape filled with 1, carrying no derivative.
    func onesLike() -> Self
}

/// The tensor operations a model needs, refining ``ScalarAlgebra``.
///
/// Conformers: `Tensor<Float>`, `Tensor<Double>`, and `Dual<V>`, `Tracked<V>` for
/// any conforming `V`. Shapes are checked by preconditions whose messages name
/// the operation and the shapes. Every operation's derivative (JVP in `Dual`,
/// pullback in `Tracked`) is written in these same operations, which is what
/// makes forward-over-reverse work without special cases (Pearlmutter 1994).
public protocol TensorAlgebra: ScalarAlgebra {
    /// The element type at the bottom of the nesting (`Float` or `Double`).
    associatedtype Scalar: TensorScalar
    /// Lifts a plain tensor as a constant: no tangent, not on any tape.
    init(constant: Tensor<Scalar>)
    /// The plain values, with all derivative parts dropped.
    var primalTensor: Tensor<Scalar> { get }
    /// The shape of the value.
    var shape: [Int] { get }
    /// Matrix product `op(a)·op(b)` of rank-2 values (`op` = transpose where flagged).
    static func matmul(_ a: Self, _ b: Self, transposeA: Bool, transposeB: Bool) -> Self
    /// `self[i, j] + bias[j]` for `self: [N, C]`, `bias: [C]`.
    func addingRowBroadcast(_ bias: Self) -> Self
    /// `[C] → [rows, C]`, repeating the vector (adjoint of ``sumRows()``).
    func broadcastRows(_ rows: Int) -> Self
    /// `[N, C] → [C]`, summing over rows.
    func sumRows() -> Self
    /// `[N] → [N, cols]`, repeating each element (adjoint of ``sumColumns()``).
    func broadcastColumns(_ cols: Int) -> Self
    /// `[N, C] → [N]`, summing each row.
    func sumColumns() -> Self
    /// The sum of all elements, as a rank-0 value.
    func sum() -> Self
    /// A rank-0 (or one-element) value repeated to `shape` (adjoint of ``sum()``).
    func broadcast(to shape: [Int]) -> Self
    /// The same elements viewed with another shape of equal element count.
    func reshaped(_ shape: [Int]) -> Self
    /// Row-wise log-softmax of `[N, C]` logits, stable for large logits.
    func logSoftmax() -> Self
    /// `self[i, index[i]]` for `self: [N, C]` → `[N]`.
    func gatherColumns(_ index: [Int]) -> Self
    /// `[N] → [N, width]` with `self[i]` at column `index[i]` and zeros elsewhere.
    func scatterColumns(_ index: [Int], width: Int) -> Self
    /// 2-D cross-correlation: `x` `[N, C, H, W]`, `w` `[O, C, kH, kW]` → `[N, O, Ho, Wo]`
    /// (zero padding, stride; im2col + GEMM). Bilinear in `x` and `w`.
    static func conv2d(_ x: Self, _ w: Self, stride: Int, padding: Int) -> Self
    /// ∂/∂x of `⟨g, conv2d(x, w)⟩`: shape `inputShape`. Bilinear in `g` and `w`.
    static func conv2dBackwardInput(_ g: Self, _ w: Self, inputShape: [Int], stride: Int, padding: Int) -> Self
    /// ∂/∂w of `⟨g, conv2d(x, w)⟩`: shape `filterShape`. Bilinear in `x` and `g`.
    static func conv2dBackwardFilter(_ x: Self, _ g: Self, filterShape: [Int], stride: Int, padding: Int) -> Self
    /// `self[n, c, …] + bias[c]` for `self` `[N, C, …]`, `bias` `[C]`.
    func addingChannelBias(_ bias: Self) -> Self
    /// `[N, C, …] → [C]`, summing all but the channel axis.
    func sumChannels() -> Self
    /// `[C] → shape` (`[N, C, …]`), repeating each channel's value (adjoint of ``sumChannels()``).
    func broadcastChannels(to shape: [Int]) -> Self
    /// 2×2 stride-2 max-pool routing: `self` taken at each window's argmax of `x`'s primal
    /// (first maximum in scan order). Linear in `self`; no derivative flows into `x`.
    func gatherMaxPool2x2(argmaxOf x: Self) -> Self
    /// The adjoint of ``gatherMaxPool2x2(argmaxOf:)``: values placed at each window's argmax of `x`.
    func scatterMaxPool2x2(argmaxOf x: Self) -> Self
}

extension TensorAlgebra {
    /// Matrix product without transposes.
    @inlinable public static func matmul(_ a: Self, _ b: Self) -> Self { matmul(a, b, transposeA: false, transposeB: false) }
    /// The mean of all elements, as a rank-0 value.
    @inlinable public func mean() -> Self { sum().scaled(by: 1 / Double(shape.reduce(1, *))) }
    /// Row-wise softmax of `[N, C]` logits: `exp(logSoftmax)`.
    @inlinable public func softmax() -> Self { Self.exp(logSoftmax()) }
    /// 2×2, stride-2 max-pool `[N, C, H, W] → [N, C, H/2, W/2]`. The derivative is routed to the
    /// first maximum of each window in scan order (row-major).
    @inlinable public func maxPool2x2() -> Self { gatherMaxPool2x2(argmaxOf: self) }
    /// Flattens all but the first axis: `[N, …] → [N, ∏…]`.
    @inlinable public func flattened() -> Self { let s = shape; return reshaped([s[0], s.dropFirst().reduce(1, *)]) }
}

// MARK: - Plain scalars

extension Double: ScalarAlgebra {
    /// `scaled` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func scaled(by factor: Double) -> Double { self * factor }
    /// `shifted` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func shifted(by offset: Double) -> Double { self + offset }
    /// `exp` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    /// `log` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func log(_ x: Double) -> Double { Foundation.log(x) }
    /// `sqrt` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func sqrt(_ x: Double) -> Double { x.squareRoot() }
    /// `tanh` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    /// `sin` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func sin(_ x: Double) -> Double { Foundation.sin(x) }
    /// `cos` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func cos(_ x: Double) -> Double { Foundation.cos(x) }
    /// `sigmoid` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x)) }
    /// `pow` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func pow(_ x: Double, _ exponent: Double) -> Double { Foundation.pow(x, exponent) }
    /// `relu` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func relu() -> Double { self > 0 ? self : 0 }
    /// `masked` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func masked(wherePositive mask: Double) -> Double { mask > 0 ? self : 0 }
    /// `zerosLike` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func zerosLike() -> Double { 0 }
    /// `onesLike` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func onesLike() -> Double { 1 }
}

extension Float: ScalarAlgebra {
    /// `scaled` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func scaled(by factor: Double) -> Float { self * Float(factor) }
    /// `shifted` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func shifted(by offset: Double) -> Float { self + Float(offset) }
    /// `exp` on plain `Float` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    /// `log` on plain `Float` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func log(_ x: Float) -> Float { Foundation.log(x) }
    /// `sqrt` on plain `Float` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func sqrt(_ x: Float) -> Float { x.squareRoot() }
    /// `tanh` on plain `Float` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func tanh(_ x: Float) -> Float { Foundation.tanh(x) }
    /// `sin` on plain `Float` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func sin(_ x: Float) -> Float { Foundation.sin(x) }
    /// `cos` on plain `Float` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func cos(_ x: Float) -> Float { Foundation.cos(x) }
    /// `sigmoid` on plain `Float` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func sigmoid(_ x: Float) -> Float { x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x)) }
    /// `pow` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func pow(_ x: Float, _ exponent: Double) -> Float { Foundation.pow(x, Float(exponent)) }
    /// `relu` on plain `Float` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func relu() -> Float { self > 0 ? self : 0 }
    /// `masked` on plain `Float` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func masked(wherePositive mask: Float) -> Float { mask > 0 ? self : 0 }
    /// `zerosLike` on plain `Float` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func zerosLike() -> Float { 0 }
    /// `onesLike` on plain `Float` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func onesLike() -> Float { 1 }
}

// MARK: - Plain tensors

extension Tensor: ScalarAlgebra {
    /// `scaled` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func scaled(by factor: Double) -> Tensor { affine(scale: Element(factor), shift: 0) }
    /// `shifted` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func shifted(by offset: Double) -> Tensor { affine(scale: 1, shift: Element(offset)) }
    /// `exp` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func exp(_ x: Tensor) -> Tensor { x.map(.exp) }
    /// `log` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func log(_ x: Tensor) -> Tensor { x.map(.log) }
    /// `sqrt` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func sqrt(_ x: Tensor) -> Tensor { x.map(.sqrt) }
    /// `tanh` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func tanh(_ x: Tensor) -> Tensor { x.map(.tanh) }
    /// `sin` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func sin(_ x: Tensor) -> Tensor { x.map(.sin) }
    /// `cos` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func cos(_ x: Tensor) -> Tensor { x.map(.cos) }
    /// `sigmoid` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func sigmoid(_ x: Tensor) -> Tensor { x.map(.sigmoid) }
    /// `pow` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public static func pow(_ x: Tensor, _ exponent: Double) -> Tensor { x.pow(Element(exponent)) }
    /// `relu` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func relu() -> Tensor { map(.relu) }
    /// `zerosLike` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func zerosLike() -> Tensor { Tensor(repeating: 0, shape: shape) }
    /// `onesLike` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func onesLike() -> Tensor { Tensor(repeating: 1, shape: shape) }
}

extension Tensor: TensorAlgebra {
    /// The element type of θ and of the batch.
    public typealias Scalar = Element
    /// `init` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public init(constant: Tensor<Element>) { self = constant }
    /// `primalTensor` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public var primalTensor: Tensor<Element> { self }
    /// `sum` on plain `Double` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func sum() -> Tensor { Tensor(Element(sumAsDouble())) }
    /// `broadcast` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func broadcast(to shape: [Int]) -> Tensor {
        precondition(count == 1, "broadcast(to:): expected a one-element tensor, got \(self.shape)")
        return Tensor(repeating: scalars[0], shape: shape)
    }
    /// `logSoftmax` on plain `Tensor` values (no derivative): the protocol requirement of ``ScalarAlgebra``/``TensorAlgebra`` of that name.
    @inlinable public func logSoftmax() -> Tensor { logSoftmaxRows() }
}

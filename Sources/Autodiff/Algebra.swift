import Foundation
import Tensors

// The algebra that layers are written against, in layers (as swift-numerics layers
// AlgebraicField / ElementaryFunctions / RealFunctions):
//
//   ArithmeticAlgebra → ElementaryFunctions → ActivationFunctions (= ScalarAlgebra)
//     → TensorAlgebra → ConvolutionAlgebra
//
// Plain values (`Float`, `Double`, `Tensor`) implement each layer with kernels. The number
// systems that carry derivatives (`Dual`, `Tracked`, `Jet`) implement a handful of primitives
// (``DerivativeCarrier``) and get every operation from one declaration each: the elementwise
// functions from the rule table (`Rules.swift`), the linear and bilinear operations from
// `Carrier.swift`.

/// Arithmetic: `+ − × ÷` (elementwise for tensors; equal shapes, a precondition naming both),
/// negation, and constant scaling and shifting (the constant takes no derivative).
public protocol ArithmeticAlgebra {
    /// Elementwise `lhs + rhs`, no broadcasting; derivative parts add.
    static func + (lhs: Self, rhs: Self) -> Self
    /// Elementwise `lhs − rhs`, no broadcasting; derivative parts subtract.
    static func - (lhs: Self, rhs: Self) -> Self
    /// The product (elementwise for tensors).
    static func * (lhs: Self, rhs: Self) -> Self
    /// IEEE 754 for division by zero.
    static func / (lhs: Self, rhs: Self) -> Self
    /// Elementwise `−operand`; derivative parts are negated too.
    static prefix func - (operand: Self) -> Self
    /// `factor · self`, with `factor` a constant.
    func scaled(by factor: Double) -> Self
    /// `self + offset`, with `offset` a constant.
    func shifted(by offset: Double) -> Self
    /// A value of the same shape filled with 0, carrying no derivative.
    func zerosLike() -> Self
    /// A value of the same shape filled with 1, carrying no derivative.
    func onesLike() -> Self
    /// Whether every element, primal and derivative parts alike, is exactly zero. Jets use it to
    /// find leading zero coefficients (removable singularities, powers at 0).
    var isIdenticallyZero: Bool { get }
    /// `t · d` elementwise, except that where `t` or `d` is exactly 0 the result is 0 whatever the
    /// other is. This is the chain-rule product of a (co)tangent `t` and a local derivative `d`: a
    /// branch that receives no sensitivity passes none on, even through an infinite derivative
    /// (√x at 0 behind a `select`), and a locally flat function passes none on even from an
    /// overflowed tangent (erf'' at 1e308), instead of 0·∞ = nan.
    static func strongZeroProduct(_ t: Self, _ d: Self) -> Self
}

/// Elementwise functions. Each one is an entry of the rule table: a type conforming to
/// ``ElementwiseFunction`` (primal kernel + derivative) or ``BinaryElementwiseFunction``,
/// applied through these two requirements. The named functions (`exp`, `tan`, `erf`, …) are
/// declared once each in `Rules.swift`; a user's own function is applied the same way
/// (`V.applying(MyFunction(), to: x)`).
public protocol ElementaryFunctions: ArithmeticAlgebra {
    /// `f(x)` elementwise, with `f`'s derivative in number systems that carry one.
    static func applying<F: ElementwiseFunction>(_ f: F, to x: Self) -> Self
    /// `f(a, b)` elementwise, with `f`'s partial derivatives.
    static func applying<F: BinaryElementwiseFunction>(_ f: F, _ a: Self, _ b: Self) -> Self
}

/// Piecewise operations that route values by the sign of a primal. No derivative flows into
/// the condition. ReLU, abs, sign, max and min are built on these (`Rules.swift`).
public protocol ActivationFunctions: ElementaryFunctions {
    /// `self` where `mask > 0`, else 0. Linear in `self`; `mask` is read for its primal value only.
    /// This is the ReLU pullback and JVP (ReLU'(0) = 0).
    func masked(wherePositive mask: Self) -> Self
    /// `a` where `condition > 0`, else `b` (a nan condition picks `b`); `condition` is read for
    /// its primal only. The derivative through the branch not taken is exactly zero in forward
    /// and reverse mode: `select(x, sqrt(x), 0)` at x = 0 has derivative 0, not nan. For a
    /// condition such as `x > c`, pass `x.shifted(by: -c)`.
    static func select(_ condition: Self, _ a: Self, _ b: Self) -> Self
}

/// Everything elementwise: arithmetic, elementary functions and activations. `Float`, `Double`
/// and `Tensor` conform, and `Dual<V>`, `Tracked<V>`, `Jet<V>` whenever `V` does, so number
/// systems nest (`Dual<Dual<Double>>`, `Tracked<Dual<Tensor<Double>>>`).
public typealias ScalarAlgebra = ActivationFunctions

/// The tensor operations a model needs beyond the elementwise ones.
///
/// Conformers: `Tensor<Float>`, `Tensor<Double>`, and `Dual<V>`, `Tracked<V>`, `Jet<V>` for any
/// conforming `V`. Shapes are checked by preconditions whose messages name the operation and
/// the shapes. Every derivative is written in these same operations, which is what makes
/// forward-over-reverse work without special cases (Pearlmutter 1994).
public protocol TensorAlgebra: ScalarAlgebra {
    /// The element type at the bottom of the nesting (`Float` or `Double`).
    associatedtype Scalar: TensorScalar
    /// Lifts a plain tensor as a constant: no tangent, not on any tape.
    init(constant: Tensor<Scalar>)
    /// The plain values, with all derivative parts dropped.
    var primalTensor: Tensor<Scalar> { get }
    /// The shape of the value (of its primal, for a number system that carries derivatives).
    var shape: [Int] { get }
    /// Matrix product `op(a)·op(b)` of rank-2 values (`op` = transpose where flagged).
    static func matmul(_ a: Self, _ b: Self, transposeA: Bool, transposeB: Bool) -> Self
    /// The forward-mode rule of ``TensorAlgebra/matmul(_:_:transposeA:transposeB:)``: `op(ȧ)·op(b) + op(a)·op(ḃ)`,
    /// a `nil` tangent an exact zero (both `nil`: `nil`), in one call so that an implementation can
    /// accumulate the two products into one result (`Tensor`: the second GEMM with β = 1, as
    /// ``ConvolutionAlgebra/conv2dTangent(_:_:_:_:stride:padding:)``). The default makes the two
    /// products and adds them.
    static func matmulTangent(_ a: Self, _ ȧ: Self?, _ b: Self, _ ḃ: Self?, transposeA: Bool, transposeB: Bool) -> Self?
    /// Batched matrix product of rank-3 values: `op(a[i])·op(b[i])` for each `i` (`a` `[B, M, K]`,
    /// `b` `[B, K, N]` → `[B, M, N]`; `op` = the transpose of each slice where flagged). Bilinear;
    /// its partial adjoints are batched products with other flags.
    static func batchedMatmul(_ a: Self, _ b: Self, transposeA: Bool, transposeB: Bool) -> Self
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
    /// The axes permuted, `result.shape[i] == shape[axes[i]]` (NumPy's `transpose(axes)`), rank ≤ 6.
    /// Linear; its adjoint is the permutation by the inverse axes.
    func permuted(_ axes: [Int]) -> Self
    /// `self[i, index[i]]` for `self: [N, C]` → `[N]`.
    func gatherColumns(_ index: [Int]) -> Self
    /// `[N] → [N, width]` with `self[i]` at column `index[i]` and zeros elsewhere.
    func scatterColumns(_ index: [Int], width: Int) -> Self
    /// `op(x)` for a tensor function of the rule table (``TensorFunction``: primal + JVP + VJP),
    /// e.g. ``logSoftmax()``, ``maxColumns()``, ``euclideanNorm()`` or a user's own.
    static func applying<Op: TensorFunction>(_ op: Op, to x: Self) -> Self
}

/// The convolution operations, required by the CNN only: a number system that runs MLPs need
/// not implement them.
///
/// The three convolutions are each bilinear and each one's partial adjoints are the other two
/// (⟨g, conv(x, w)⟩ = ⟨convBackwardInput(g, w), x⟩ = ⟨convBackwardFilter(x, g), w⟩), so the set
/// is closed under differentiation.
public protocol ConvolutionAlgebra: TensorAlgebra {
    /// 2-D cross-correlation: `x` `[N, C, H, W]`, `w` `[O, C, kH, kW]` → `[N, O, Ho, Wo]`
    /// (zero padding, stride; im2col + GEMM). Bilinear in `x` and `w`.
    static func conv2d(_ x: Self, _ w: Self, stride: Int, padding: Int) -> Self
    /// ∂/∂x of `⟨g, conv2d(x, w)⟩`: shape `inputShape`. Bilinear in `g` and `w`.
    static func conv2dBackwardInput(_ g: Self, _ w: Self, inputShape: [Int], stride: Int, padding: Int) -> Self
    /// ∂/∂w of `⟨g, conv2d(x, w)⟩`: shape `filterShape`. Bilinear in `x` and `g`.
    static func conv2dBackwardFilter(_ x: Self, _ g: Self, filterShape: [Int], stride: Int, padding: Int) -> Self
    /// The forward-mode rules of the three bilinear convolutions — `f(ȧ, b) + f(a, ḃ)`, `nil` an
    /// exact zero — in one call, so an implementation can share work between the two terms
    /// (`Tensor` unfolds each tile once and accumulates both GEMMs into one result). The defaults
    /// make the two calls.
    static func conv2dTangent(_ x: Self, _ ẋ: Self?, _ w: Self, _ ẇ: Self?, stride: Int, padding: Int) -> Self?
    /// The forward-mode rule of `conv2dBackwardInput`: f(ȧ, b) + f(a, ḃ), with `nil` tangents exact zeros.
    static func conv2dBackwardInputTangent(_ g: Self, _ ġ: Self?, _ w: Self, _ ẇ: Self?, inputShape: [Int], stride: Int, padding: Int) -> Self?
    /// The forward-mode rule of `conv2dBackwardFilter`: f(ȧ, b) + f(a, ḃ), with `nil` tangents exact zeros.
    static func conv2dBackwardFilterTangent(_ x: Self, _ ẋ: Self?, _ g: Self, _ ġ: Self?, filterShape: [Int], stride: Int, padding: Int) -> Self?
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
    @inlinable public static func matmulTangent(_ a: Self, _ ȧ: Self?, _ b: Self, _ ḃ: Self?, transposeA: Bool, transposeB: Bool) -> Self? {
        bilinearTangentRule { matmul($0, $1, transposeA: transposeA, transposeB: transposeB) }(a, ȧ, b, ḃ)
    }
    /// Matrix product without transposes.
    @inlinable public static func matmul(_ a: Self, _ b: Self) -> Self { matmul(a, b, transposeA: false, transposeB: false) }
    /// Batched matrix product without transposes: `[B, M, K]·[B, K, N] → [B, M, N]`.
    @inlinable public static func batchedMatmul(_ a: Self, _ b: Self) -> Self { batchedMatmul(a, b, transposeA: false, transposeB: false) }
    /// The mean of all elements, as a rank-0 value.
    @inlinable public func mean() -> Self { sum().scaled(by: 1 / Double(shape.reduce(1, *))) }
    /// Row-wise softmax of `[N, C]` logits: `exp(logSoftmax)`.
    @inlinable public func softmax() -> Self { Self.exp(logSoftmax()) }
    /// Flattens all but the first axis: `[N, …] → [N, ∏…]`.
    @inlinable public func flattened() -> Self { let s = shape; return reshaped([s[0], s.dropFirst().reduce(1, *)]) }
}

extension ConvolutionAlgebra {
    @inlinable public static func conv2dTangent(_ x: Self, _ ẋ: Self?, _ w: Self, _ ẇ: Self?, stride: Int, padding: Int) -> Self? {
        bilinearTangentRule { conv2d($0, $1, stride: stride, padding: padding) }(x, ẋ, w, ẇ)
    }
    @inlinable public static func conv2dBackwardInputTangent(_ g: Self, _ ġ: Self?, _ w: Self, _ ẇ: Self?,
                                                             inputShape: [Int], stride: Int, padding: Int) -> Self? {
        bilinearTangentRule { conv2dBackwardInput($0, $1, inputShape: inputShape, stride: stride, padding: padding) }(g, ġ, w, ẇ)
    }
    @inlinable public static func conv2dBackwardFilterTangent(_ x: Self, _ ẋ: Self?, _ g: Self, _ ġ: Self?,
                                                              filterShape: [Int], stride: Int, padding: Int) -> Self? {
        bilinearTangentRule { conv2dBackwardFilter($0, $1, filterShape: filterShape, stride: stride, padding: padding) }(x, ẋ, g, ġ)
    }
    /// 2×2, stride-2 max-pool `[N, C, H, W] → [N, C, H/2, W/2]`. The derivative is routed to the
    /// first maximum of each window in scan order (row-major).
    @inlinable public func maxPool2x2() -> Self { gatherMaxPool2x2(argmaxOf: self) }
}

// MARK: - Plain scalars

/// `Float` and `Double` conform once, through their ``TensorScalar`` kernels: a constant factor or
/// offset is rounded to the type.
extension ActivationFunctions where Self: TensorScalar {
    @inlinable public func scaled(by factor: Double) -> Self { self * Self(factor) }
    @inlinable public func shifted(by offset: Double) -> Self { self + Self(offset) }
    @inlinable public func zerosLike() -> Self { 0 }
    @inlinable public func onesLike() -> Self { 1 }
    @inlinable public var isIdenticallyZero: Bool { self == 0 }
    @inlinable public static func strongZeroProduct(_ t: Self, _ d: Self) -> Self { t == 0 || d == 0 ? 0 : t * d }
    @inlinable public static func applying<F: ElementwiseFunction>(_ f: F, to x: Self) -> Self { evaluate(f, x) }
    @inlinable public static func applying<F: BinaryElementwiseFunction>(_ f: F, _ a: Self, _ b: Self) -> Self { evaluate(f, a, b) }
    @inlinable public func masked(wherePositive mask: Self) -> Self { mask > 0 ? self : 0 }
    @inlinable public static func select(_ condition: Self, _ a: Self, _ b: Self) -> Self { condition > 0 ? a : b }
}

extension Double: ActivationFunctions {}
extension Float: ActivationFunctions {}

// MARK: - Plain tensors

extension Tensor: ActivationFunctions {
    /// `factor · self`, with the factor rounded to `Element`.
    @inlinable public func scaled(by factor: Double) -> Tensor { affine(scale: Element(factor), shift: 0) }
    /// `self + offset`, with the offset rounded to `Element`.
    @inlinable public func shifted(by offset: Double) -> Tensor { affine(scale: 1, shift: Element(offset)) }
    @inlinable public func zerosLike() -> Tensor { Tensor(repeating: 0, shape: shape) }
    @inlinable public func onesLike() -> Tensor { Tensor(repeating: 1, shape: shape) }
    @inlinable public var isIdenticallyZero: Bool { withUnsafePointer { p in (0..<count).allSatisfy { p[$0] == 0 } } }
    @inlinable public static func strongZeroProduct(_ t: Tensor, _ d: Tensor) -> Tensor { Tensor.strongZeroProductKernel(t, d) }
    @inlinable public static func applying<F: ElementwiseFunction>(_ f: F, to x: Tensor) -> Tensor { f.tensorKernel(x) ?? x.map(f) }
    @inlinable public static func applying<F: BinaryElementwiseFunction>(_ f: F, _ a: Tensor, _ b: Tensor) -> Tensor {
        f.tensorKernel(a, b) ?? a.zip(b, f)
    }
    @inlinable public static func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor { selectKernel(condition, a, b) }
}

extension Tensor: TensorAlgebra {
    /// The element type of θ and of the batch.
    public typealias Scalar = Element
    @inlinable public init(constant: Tensor<Element>) { self = constant }
    @inlinable public var primalTensor: Tensor<Element> { self }
    @inlinable public func sum() -> Tensor { Tensor(Element(sumAsDouble())) }
    @inlinable public func broadcast(to shape: [Int]) -> Tensor {
        precondition(count == 1, "broadcast(to:): expected a one-element tensor, got \(self.shape)")
        return Tensor(repeating: scalars[0], shape: shape)
    }
    @inlinable public static func applying<Op: TensorFunction>(_ op: Op, to x: Tensor) -> Tensor { op.value(x) }
    /// `op(ȧ)·op(b)` into a fresh result, then `op(a)·op(ḃ)` accumulated into it (GEMM with β = 1):
    /// no second result, no addition pass. Equal to the sum of the two products to round-off
    /// (the second product's partial sums are added to the first's inside the GEMM).
    @inlinable public static func matmulTangent(_ a: Tensor, _ ȧ: Tensor?, _ b: Tensor, _ ḃ: Tensor?,
                                                transposeA: Bool, transposeB: Bool) -> Tensor? {
        guard let ȧ, let ḃ else {
            if let ȧ { return matmul(ȧ, b, transposeA: transposeA, transposeB: transposeB) }
            if let ḃ { return matmul(a, ḃ, transposeA: transposeA, transposeB: transposeB) }
            return nil
        }
        precondition(ȧ.shape == a.shape && ḃ.shape == b.shape,
                     "matmulTangent: tangents \(ȧ.shape), \(ḃ.shape) do not match \(a.shape), \(b.shape)")
        var result = matmul(ȧ, b, transposeA: transposeA, transposeB: transposeB)
        let m = result.shape[0], n = result.shape[1], k = transposeA ? a.shape[0] : a.shape[1]
        guard k > 0 else { return result }
        result.withUnsafeMutablePointer { c in
            a.withUnsafePointer { ap in ḃ.withUnsafePointer { bp in
                Element.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                             a: ap, lda: a.shape[1], b: bp, ldb: ḃ.shape[1], beta: 1, c: c, ldc: n)
            } }
        }
        return result
    }
}

extension Tensor: ConvolutionAlgebra {}

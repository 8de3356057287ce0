import Tensors

/// A dual number `primal + tangent·ε` with `ε² = 0`: forward-mode differentiation (JVP).
///
/// `Dual<V>` conforms to ``ScalarAlgebra`` when `V` does and to ``TensorAlgebra`` and
/// ``ConvolutionAlgebra`` when `V` does, so it wraps scalars (`Dual<Double>`), tensors
/// (`Dual<Tensor<Float>>`), other duals (`Dual<Dual<Double>>`, the hyper-dual of
/// forward-over-forward) and taped values. Its rules are the JVPs of the rule table
/// (`Rules.swift`, `Carrier.swift`), written once for it, ``Linearized`` and ``LinearizedSlots`` (``TangentCarrier``).
///
/// A `nil` tangent means an exact zero and costs nothing: constants (input batches, labels) are
/// lifted with a `nil` tangent, and products with them skip the tangent GEMM entirely.
///
/// **Perturbation confusion.** Each nesting level is its own type, so perturbations of
/// different levels cannot be confused (Siskind & Pearlmutter 2005): d/dx [x · d/dy (x + y)] = 1
/// by construction. What the types cannot catch is a `Dual` *of the same type* that escapes
/// one ``derivative(of:at:)`` call (stored in a variable) and is used inside another: its
/// tangent is then read as the second call's perturbation. Do not let duals escape the closure
/// that receives them; lift outer values with `Dual(primal:)` instead.
public struct Dual<V: ScalarAlgebra> {
    public var primal: V
    /// The directional derivative; `nil` is an exact zero.
    public var tangent: V?

    /// Creates a dual number; omit `tangent` for a constant.
    @inlinable
    public init(primal: V, tangent: V? = nil) {
        self.primal = primal
        self.tangent = tangent
    }
}

extension Dual: SingleTangentCarrier {
    public typealias Value = V
    @inlinable public init(constantValue: V) { self.init(primal: constantValue) }
    @inlinable public func result(primal: () -> V, tangent: (V, V?) -> V?) -> Dual {
        let y = primal()
        return Dual(primal: y, tangent: tangent(y, self.tangent))
    }
    @inlinable public static func result(_ a: Dual, _ b: Dual, primal: () -> V, tangent: (V, V?, V?) -> V?) -> Dual {
        let y = primal()
        return Dual(primal: y, tangent: tangent(y, a.tangent, b.tangent))
    }
}

extension Dual: TensorAlgebra where V: TensorAlgebra {
    public typealias Scalar = V.Scalar
}

extension Dual: ConvolutionAlgebra where V: ConvolutionAlgebra {}

extension Dual: CustomStringConvertible {
    public var description: String { "Dual(\(primal), tangent: \(tangent.map { "\($0)" } ?? "0"))" }
}

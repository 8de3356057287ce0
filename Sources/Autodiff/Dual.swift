import Tensors

/// A dual number `primal + tangent·ε` with `ε² = 0`: forward-mode differentiation (JVP).
///
/// `Dual<V>` conforms to ``ScalarAlgebra`` when `V` does and to ``TensorAlgebra`` and
/// ``ConvolutionAlgebra`` when `V` does, so it wraps scalars (`Dual<Double>`), tensors
/// (`Dual<Tensor<Float>>`), other duals (`Dual<Dual<Double>>`, the hyper-dual of
/// forward-over-forward) and taped values. Its rules are the JVPs of the rule table
/// (`Rules.swift`, `Carrier.swift`).
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

    /// The tangent, materializing zeros for a `nil` tangent.
    @inlinable
    public var tangentOrZero: V { tangent ?? primal.zerosLike() }

    @inlinable
    static func sum(_ a: V?, _ b: V?) -> V? { sumOfPresent(a, b) }
}

extension Dual: DerivativeCarrier {
    public typealias Value = V
    @inlinable public init(constantValue: V) { self.init(primal: constantValue) }
    @inlinable public var primalValue: V { primal }
    @inlinable public var isIdenticallyZero: Bool { primal.isIdenticallyZero && (tangent?.isIdenticallyZero ?? true) }
    @inlinable public func mappingPrimal(_ f: (V) -> V) -> Dual { Dual(primal: f(primal), tangent: tangent) }
    @inlinable public func linear(_ f: @escaping (V) -> V, adjoint: @escaping (V) -> V) -> Dual {
        Dual(primal: f(primal), tangent: tangent.map(f))
    }
    @inlinable public static func linear(_ a: Dual, _ b: Dual, _ both: @escaping (V, V) -> V,
                                         left: @escaping (V) -> V, right: @escaping (V) -> V,
                                         adjointLeft: @escaping (V) -> V, adjointRight: @escaping (V) -> V) -> Dual {
        let t = sumOfLinearMaps(a.tangent, b.tangent, both: both, left: left, right: right)
        return Dual(primal: both(a.primal, b.primal), tangent: t)
    }
    /// (f(a, b))' = f(a', b) + f(a, b'); a constant operand skips its product.
    @inlinable public static func bilinear(_ a: Dual, _ b: Dual, _ f: @escaping (V, V) -> V,
                                           adjointLeft: @escaping (V, V) -> V, adjointRight: @escaping (V, V) -> V) -> Dual {
        bilinear(a, b, f, tangent: bilinearTangentRule(f), adjointLeft: adjointLeft, adjointRight: adjointRight)
    }
    @inlinable public static func bilinear(_ a: Dual, _ b: Dual, _ f: @escaping (V, V) -> V,
                                           tangent: @escaping (V, V?, V, V?) -> V?,
                                           adjointLeft: @escaping (V, V) -> V, adjointRight: @escaping (V, V) -> V) -> Dual {
        Dual(primal: f(a.primal, b.primal), tangent: tangent(a.primal, a.tangent, b.primal, b.tangent))
    }
    /// ẏ = f'(x)·ẋ.
    @inlinable public static func applying<F: ElementwiseFunction>(_ f: F, to x: Dual) -> Dual {
        let y = V.applying(f, to: x.primal)
        return Dual(primal: y, tangent: x.tangent.map { f.tangent($0, at: x.primal, value: y) })
    }
    /// ẏ = ∂f/∂a·ȧ + ∂f/∂b·ḃ.
    @inlinable public static func applying<F: BinaryElementwiseFunction>(_ f: F, _ a: Dual, _ b: Dual) -> Dual {
        let y = V.applying(f, a.primal, b.primal)
        guard a.tangent != nil || b.tangent != nil else { return Dual(primal: y) }
        let (da, db) = f.partials(a.primal, b.primal, value: y)
        return Dual(primal: y, tangent: sum(a.tangent.map { V.strongZeroProduct($0, da) }, b.tangent.map { V.strongZeroProduct($0, db) }))
    }
}

extension Dual: TensorAlgebra where V: TensorAlgebra {
    public typealias Scalar = V.Scalar
    @inlinable public static func applying<Op: TensorFunction>(_ op: Op, to x: Dual) -> Dual {
        let y = V.applying(op, to: x.primal)
        return Dual(primal: y, tangent: x.tangent.map {
            let t = op.jvp(at: x.primal, value: y, tangent: $0)
            precondition(t.shape == y.shape, "\(Op.self).jvp returned shape \(t.shape) for a value of shape \(y.shape)")
            return t
        })
    }
}

extension Dual: ConvolutionAlgebra where V: ConvolutionAlgebra {}

extension Dual: CustomStringConvertible {
    public var description: String { "Dual(\(primal), tangent: \(tangent.map { "\($0)" } ?? "0"))" }
}

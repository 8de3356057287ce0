import Tensors

/// A Wengert list (tape) for reverse-mode differentiation of values of type `V`.
///
/// Each recorded operation stores the indices of its (at most two) taped inputs and
/// a pullback closure written in `V`'s own ``ScalarAlgebra``/``TensorAlgebra``
/// operations. Running ``cotangents(of:seed:)`` with `V = Dual<Tensor<…>>` therefore
/// differentiates the reverse pass forward: the cotangents' tangents are
/// Hessian-vector products (Pearlmutter 1994, "Fast exact multiplication by the Hessian").
///
/// A tape is single-threaded and is meant to live for one evaluation: create one,
/// make ``variable(_:)``s, evaluate, pull back, discard.
public final class Tape<V: ScalarAlgebra> {
    @usableFromInline
    struct Node {
        @usableFromInline let lhs: Int
        @usableFromInline let rhs: Int
        @usableFromInline let pullback: ((V) -> (V?, V?))?
        @inlinable init(lhs: Int, rhs: Int, pullback: ((V) -> (V?, V?))?) {
            self.lhs = lhs; self.rhs = rhs; self.pullback = pullback
        }
    }

    @usableFromInline var nodes: [Node] = []

    /// An empty tape.
    public init() {}

    /// The number of recorded nodes (variables and operations).
    public var count: Int { nodes.count }

    /// Records an independent variable with value `value`.
    @inlinable
    public func variable(_ value: V) -> Tracked<V> {
        nodes.append(Node(lhs: -1, rhs: -1, pullback: nil))
        return Tracked(value: value, tape: self, index: nodes.count - 1)
    }

    @inlinable
    func record(_ value: V, lhs: Int, rhs: Int, pullback: @escaping (V) -> (V?, V?)) -> Tracked<V> {
        nodes.append(Node(lhs: lhs, rhs: rhs, pullback: pullback))
        return Tracked(value: value, tape: self, index: nodes.count - 1)
    }

    /// Runs the reverse pass from `output` with cotangent `seed` and returns the
    /// cotangent of every node (`nil` where no path leads from the node to `output`).
    /// Cotangents of intermediate nodes are released as soon as they are consumed;
    /// those of variables are kept.
    /// - Precondition: `output` was recorded on this tape.
    @inlinable
    public func cotangents(of output: Tracked<V>, seed: V) -> [V?] {
        precondition(output.tape === self, "Tape.cotangents: the output was not recorded on this tape")
        var adjoint = [V?](repeating: nil, count: nodes.count)
        adjoint[output.index] = seed
        var i = output.index
        while i >= 0 {
            let node = nodes[i]
            if let pullback = node.pullback, let g = adjoint[i] {
                adjoint[i] = nil
                let (ga, gb) = pullback(g)
                if node.lhs >= 0, let ga {
                    adjoint[node.lhs] = adjoint[node.lhs].map { $0 + ga } ?? ga
                }
                if node.rhs >= 0, let gb {
                    adjoint[node.rhs] = adjoint[node.rhs].map { $0 + gb } ?? gb
                }
            }
            i -= 1
        }
        return adjoint
    }
}

/// A value recorded on a ``Tape``: reverse-mode differentiation (VJP).
///
/// `Tracked<V>` conforms to ``ScalarAlgebra``/``TensorAlgebra``/``ConvolutionAlgebra`` whenever
/// `V` does; its pullbacks are the adjoints of the rule table (`Rules.swift`, `Carrier.swift`).
/// A constant (``init(untracked:)`` or ``TensorAlgebra/init(constant:)``) has no tape, records
/// nothing and costs nothing in the reverse pass. `Tracked<Dual<Tensor<Double>>>` is
/// forward-over-reverse: gradient and Hessian-vector product in one pass.
public struct Tracked<V: ScalarAlgebra> {
    /// The value (the primal of reverse mode).
    public let value: V
    /// The tape this value is recorded on; `nil` for a constant.
    public let tape: Tape<V>?
    /// The node index on ``tape``; `-1` for a constant.
    public let index: Int

    @inlinable
    init(value: V, tape: Tape<V>?, index: Int) {
        self.value = value
        self.tape = tape
        self.index = index
    }

    /// A constant: not recorded on any tape, so no cotangent flows into it.
    @inlinable
    public init(untracked value: V) { self.init(value: value, tape: nil, index: -1) }

    /// Whether this value is recorded on a tape.
    @inlinable public var isTracked: Bool { tape != nil }

    @inlinable
    static func unary(_ x: Tracked, _ value: V, _ pullback: @escaping (V) -> V) -> Tracked {
        guard let tape = x.tape else { return Tracked(untracked: value) }
        return tape.record(value, lhs: x.index, rhs: -1) { g in (pullback(g), nil) }
    }

    @inlinable
    static func binary(_ a: Tracked, _ b: Tracked, _ value: V,
                       _ pullbackA: @escaping (V) -> V, _ pullbackB: @escaping (V) -> V) -> Tracked {
        switch (a.tape, b.tape) {
        case (nil, nil):
            return Tracked(untracked: value)
        case let (ta?, nil):
            return ta.record(value, lhs: a.index, rhs: -1) { g in (pullbackA(g), nil) }
        case let (nil, tb?):
            return tb.record(value, lhs: -1, rhs: b.index) { g in (nil, pullbackB(g)) }
        case let (ta?, tb?):
            precondition(ta === tb, "Tracked: operands are recorded on different tapes")
            return ta.record(value, lhs: a.index, rhs: b.index) { g in (pullbackA(g), pullbackB(g)) }
        }
    }
}

extension Tracked: DerivativeCarrier {
    public typealias Value = V
    @inlinable public init(constantValue: V) { self.init(untracked: constantValue) }
    @inlinable public var primalValue: V { value }
    @inlinable public var isIdenticallyZero: Bool { value.isIdenticallyZero }
    @inlinable public func mappingPrimal(_ f: (V) -> V) -> Tracked { Tracked.unary(self, f(value)) { $0 } }
    @inlinable public func linear(_ f: @escaping (V) -> V, adjoint: @escaping (V) -> V) -> Tracked {
        Tracked.unary(self, f(value), adjoint)
    }
    @inlinable public static func linear(_ a: Tracked, _ b: Tracked, _ both: @escaping (V, V) -> V,
                                         left: @escaping (V) -> V, right: @escaping (V) -> V,
                                         adjointLeft: @escaping (V) -> V, adjointRight: @escaping (V) -> V) -> Tracked {
        binary(a, b, both(a.value, b.value), adjointLeft, adjointRight)
    }
    @inlinable public static func bilinear(_ a: Tracked, _ b: Tracked, _ f: @escaping (V, V) -> V,
                                           adjointLeft: @escaping (V, V) -> V, adjointRight: @escaping (V, V) -> V) -> Tracked {
        let av = a.value, bv = b.value
        return binary(a, b, f(av, bv), { adjointLeft($0, bv) }, { adjointRight(av, $0) })
    }
    /// x̄ = f'(x)·ȳ: a diagonal derivative is its own transpose.
    @inlinable public static func applying<F: ElementwiseFunction>(_ f: F, to x: Tracked) -> Tracked {
        let xv = x.value, y = V.applying(f, to: xv)
        return unary(x, y) { f.tangent($0, at: xv, value: y) }
    }
    @inlinable public static func applying<F: BinaryElementwiseFunction>(_ f: F, _ a: Tracked, _ b: Tracked) -> Tracked {
        let av = a.value, bv = b.value, y = V.applying(f, av, bv)
        guard a.isTracked || b.isTracked else { return Tracked(untracked: y) }
        let (da, db) = f.partials(av, bv, value: y)
        return binary(a, b, y, { V.strongZeroProduct($0, da) }, { V.strongZeroProduct($0, db) })
    }
}

extension Tracked: TensorAlgebra where V: TensorAlgebra {
    public typealias Scalar = V.Scalar
    @inlinable public static func applying<Op: TensorFunction>(_ op: Op, to x: Tracked) -> Tracked {
        let xv = x.value, y = V.applying(op, to: xv)
        return unary(x, y) {
            let g = op.vjp(at: xv, value: y, cotangent: $0)
            precondition(g.shape == xv.shape, "\(Op.self).vjp returned shape \(g.shape) for an input of shape \(xv.shape)")
            return g
        }
    }
}

extension Tracked: ConvolutionAlgebra where V: ConvolutionAlgebra {}

extension Tracked: CustomStringConvertible {
    public var description: String { "Tracked(\(value)\(tape == nil ? ", constant" : ", node \(index)"))" }
}

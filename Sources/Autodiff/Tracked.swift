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
/// `Tracked<V>` conforms to ``ScalarAlgebra``/``TensorAlgebra`` whenever `V` does.
/// A constant (``init(untracked:)`` or ``TensorAlgebra/init(constant:)``) has no
/// tape and costs nothing in the reverse pass. `Tracked<Dual<Tensor<Double>>>` is
/// forward-over-reverse: gradient and Hessian-vector product in one pass.
public struct Tracked<V: ScalarAlgebra> {
    /// The value.
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

extension Tracked: ScalarAlgebra {
    /// `+` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public static func + (a: Tracked, b: Tracked) -> Tracked { binary(a, b, a.value + b.value, { $0 }, { $0 }) }
    /// `-` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public static func - (a: Tracked, b: Tracked) -> Tracked { binary(a, b, a.value - b.value, { $0 }, { -$0 }) }
    /// `*` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public static func * (a: Tracked, b: Tracked) -> Tracked {
        let av = a.value, bv = b.value
        return binary(a, b, av * bv, { $0 * bv }, { av * $0 })
    }
    /// `/` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public static func / (a: Tracked, b: Tracked) -> Tracked {
        let bv = b.value, q = a.value / b.value
        return binary(a, b, q, { $0 / bv }, { -($0 * q / bv) })
    }
    /// `negation` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public static prefix func - (a: Tracked) -> Tracked { unary(a, -a.value) { -$0 } }
    /// `scaled` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func scaled(by factor: Double) -> Tracked { Tracked.unary(self, value.scaled(by: factor)) { $0.scaled(by: factor) } }
    /// `shifted` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func shifted(by offset: Double) -> Tracked { Tracked.unary(self, value.shifted(by: offset)) { $0 } }
    /// `exp` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public static func exp(_ x: Tracked) -> Tracked { let y = V.exp(x.value); return unary(x, y) { $0 * y } }
    /// `log` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public static func log(_ x: Tracked) -> Tracked { let xv = x.value; return unary(x, V.log(xv)) { $0 / xv } }
    /// `sqrt` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public static func sqrt(_ x: Tracked) -> Tracked { let y = V.sqrt(x.value); return unary(x, y) { ($0 / y).scaled(by: 0.5) } }
    /// `tanh` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public static func tanh(_ x: Tracked) -> Tracked {
        let y = V.tanh(x.value)
        return unary(x, y) { $0 * (-(y * y)).shifted(by: 1) }
    }
    /// `sin` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public static func sin(_ x: Tracked) -> Tracked { let xv = x.value; return unary(x, V.sin(xv)) { $0 * V.cos(xv) } }
    /// `cos` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public static func cos(_ x: Tracked) -> Tracked { let xv = x.value; return unary(x, V.cos(xv)) { -($0 * V.sin(xv)) } }
    /// `sigmoid` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public static func sigmoid(_ x: Tracked) -> Tracked { let y = V.sigmoid(x.value); return unary(x, y) { $0 * (y - y * y) } }
    /// Pullback of x^r: ȳ·r·x^(r−1).
    @inlinable public static func pow(_ x: Tracked, _ exponent: Double) -> Tracked {
        let xv = x.value
        return unary(x, V.pow(xv, exponent)) { $0 * V.pow(xv, exponent - 1).scaled(by: exponent) }
    }
    /// ReLU'(0) = 0.
    @inlinable public func relu() -> Tracked { let xv = value; return Tracked.unary(self, xv.relu()) { $0.masked(wherePositive: xv) } }
    /// `masked` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func masked(wherePositive mask: Tracked) -> Tracked {
        let m = mask.value
        return Tracked.unary(self, value.masked(wherePositive: m)) { $0.masked(wherePositive: m) }
    }
    /// `zerosLike` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func zerosLike() -> Tracked { Tracked(untracked: value.zerosLike()) }
    /// `onesLike` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func onesLike() -> Tracked { Tracked(untracked: value.onesLike()) }
}

extension Tracked: TensorAlgebra where V: TensorAlgebra {
    /// The element type at the bottom of the nesting.
    public typealias Scalar = V.Scalar
    /// `init` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public init(constant: Tensor<V.Scalar>) { self.init(untracked: V(constant: constant)) }
    /// `primalTensor` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public var primalTensor: Tensor<V.Scalar> { value.primalTensor }
    /// `shape` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public var shape: [Int] { value.shape }

    /// Pullback of C = op(A)·op(B): Ā = C̄·op(B)ᵀ, B̄ = op(A)ᵀ·C̄, each arranged so no transpose is copied.
    @inlinable public static func matmul(_ a: Tracked, _ b: Tracked, transposeA: Bool, transposeB: Bool) -> Tracked {
        let av = a.value, bv = b.value
        let c = V.matmul(av, bv, transposeA: transposeA, transposeB: transposeB)
        return binary(a, b, c, { g in
            switch (transposeA, transposeB) {
            case (false, false): return V.matmul(g, bv, transposeA: false, transposeB: true)
            case (false, true): return V.matmul(g, bv, transposeA: false, transposeB: false)
            case (true, false): return V.matmul(bv, g, transposeA: false, transposeB: true)
            case (true, true): return V.matmul(bv, g, transposeA: true, transposeB: true)
            }
        }, { g in
            switch (transposeA, transposeB) {
            case (false, false): return V.matmul(av, g, transposeA: true, transposeB: false)
            case (false, true): return V.matmul(g, av, transposeA: true, transposeB: false)
            case (true, false): return V.matmul(av, g, transposeA: false, transposeB: false)
            case (true, true): return V.matmul(g, av, transposeA: true, transposeB: true)
            }
        })
    }
    /// `addingRowBroadcast` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func addingRowBroadcast(_ bias: Tracked) -> Tracked {
        Tracked.binary(self, bias, value.addingRowBroadcast(bias.value), { $0 }, { $0.sumRows() })
    }
    /// `broadcastRows` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func broadcastRows(_ rows: Int) -> Tracked { Tracked.unary(self, value.broadcastRows(rows)) { $0.sumRows() } }
    /// `sumRows` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func sumRows() -> Tracked { let n = value.shape[0]; return Tracked.unary(self, value.sumRows()) { $0.broadcastRows(n) } }
    /// `broadcastColumns` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func broadcastColumns(_ cols: Int) -> Tracked { Tracked.unary(self, value.broadcastColumns(cols)) { $0.sumColumns() } }
    /// `sumColumns` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func sumColumns() -> Tracked { let c = value.shape[1]; return Tracked.unary(self, value.sumColumns()) { $0.broadcastColumns(c) } }
    /// `sum` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func sum() -> Tracked { let s = value.shape; return Tracked.unary(self, value.sum()) { $0.broadcast(to: s) } }
    /// `broadcast` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func broadcast(to shape: [Int]) -> Tracked {
        let s = value.shape
        return Tracked.unary(self, value.broadcast(to: shape)) { $0.sum().reshaped(s) }
    }
    /// `reshaped` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func reshaped(_ shape: [Int]) -> Tracked { let s = value.shape; return Tracked.unary(self, value.reshaped(shape)) { $0.reshaped(s) } }
    /// Pullback of log-softmax: z̄ = ȳ − softmax(z) ⊙ rowsum(ȳ).
    @inlinable public func logSoftmax() -> Tracked {
        let y = value.logSoftmax()
        return Tracked.unary(self, y) { g in g - V.exp(y) * g.sumColumns().broadcastColumns(y.shape[1]) }
    }
    /// `gatherColumns` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func gatherColumns(_ index: [Int]) -> Tracked {
        let c = value.shape[1]
        return Tracked.unary(self, value.gatherColumns(index)) { $0.scatterColumns(index, width: c) }
    }
    /// `scatterColumns` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func scatterColumns(_ index: [Int], width: Int) -> Tracked {
        Tracked.unary(self, value.scatterColumns(index, width: width)) { $0.gatherColumns(index) }
    }
}

extension Tracked where V: TensorAlgebra {
    /// Pullback of y = x ⋆ w: x̄ = conv2dBackwardInput(ȳ, w), w̄ = conv2dBackwardFilter(x, ȳ).
    @inlinable public static func conv2d(_ x: Tracked, _ w: Tracked, stride: Int, padding: Int) -> Tracked {
        let xv = x.value, wv = w.value
        return binary(x, w, V.conv2d(xv, wv, stride: stride, padding: padding),
                      { V.conv2dBackwardInput($0, wv, inputShape: xv.shape, stride: stride, padding: padding) },
                      { V.conv2dBackwardFilter(xv, $0, filterShape: wv.shape, stride: stride, padding: padding) })
    }
    /// Pullback of y = B_in(g, w): ḡ = conv2d(ȳ, w), w̄ = conv2dBackwardFilter(ȳ, g).
    @inlinable public static func conv2dBackwardInput(_ g: Tracked, _ w: Tracked, inputShape: [Int], stride: Int, padding: Int) -> Tracked {
        let gv = g.value, wv = w.value
        return binary(g, w, V.conv2dBackwardInput(gv, wv, inputShape: inputShape, stride: stride, padding: padding),
                      { V.conv2d($0, wv, stride: stride, padding: padding) },
                      { V.conv2dBackwardFilter($0, gv, filterShape: wv.shape, stride: stride, padding: padding) })
    }
    /// Pullback of y = B_filter(x, g): x̄ = conv2dBackwardInput(g, ȳ), ḡ = conv2d(x, ȳ).
    @inlinable public static func conv2dBackwardFilter(_ x: Tracked, _ g: Tracked, filterShape: [Int], stride: Int, padding: Int) -> Tracked {
        let xv = x.value, gv = g.value
        return binary(x, g, V.conv2dBackwardFilter(xv, gv, filterShape: filterShape, stride: stride, padding: padding),
                      { V.conv2dBackwardInput(gv, $0, inputShape: xv.shape, stride: stride, padding: padding) },
                      { V.conv2d(xv, $0, stride: stride, padding: padding) })
    }
    /// `addingChannelBias` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func addingChannelBias(_ bias: Tracked) -> Tracked {
        Tracked.binary(self, bias, value.addingChannelBias(bias.value), { $0 }, { $0.sumChannels() })
    }
    /// `sumChannels` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func sumChannels() -> Tracked { let s = value.shape; return Tracked.unary(self, value.sumChannels()) { $0.broadcastChannels(to: s) } }
    /// `broadcastChannels` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func broadcastChannels(to shape: [Int]) -> Tracked {
        Tracked.unary(self, value.broadcastChannels(to: shape)) { $0.sumChannels() }
    }
    /// `gatherMaxPool2x2` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func gatherMaxPool2x2(argmaxOf x: Tracked) -> Tracked {
        let xv = x.value
        return Tracked.unary(self, value.gatherMaxPool2x2(argmaxOf: xv)) { $0.scatterMaxPool2x2(argmaxOf: xv) }
    }
    /// `scatterMaxPool2x2` on the tape: records the value with a pullback written in `V`’s own operations (constants record nothing).
    @inlinable public func scatterMaxPool2x2(argmaxOf x: Tracked) -> Tracked {
        let xv = x.value
        return Tracked.unary(self, value.scatterMaxPool2x2(argmaxOf: xv)) { $0.gatherMaxPool2x2(argmaxOf: xv) }
    }
}

extension Tracked: CustomStringConvertible {
    /// A one-line, human-readable description (for logs and error output).
    public var description: String { "Tracked(\(value)\(tape == nil ? ", constant" : ", node \(index)"))" }
}

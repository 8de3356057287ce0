import Tensors

/// The primal values of one evaluation, in the order its operations ran: recorded once, then
/// read back on every replay, so that a replay computes tangents only. Single-threaded; one
/// replay at a time.
public final class PrimalRecord<V> {
    @usableFromInline var values: [V] = []
    @usableFromInline var cursor = 0
    @usableFromInline var replaying = false

    public init() {}

    /// The number of recorded values.
    public var count: Int { values.count }

    /// The next primal: computed and recorded, or, on a replay, read back.
    @inlinable
    func next(_ compute: () -> V) -> V {
        guard replaying else { let v = compute(); values.append(v); return v }
        precondition(cursor < values.count, "PrimalRecord: the replay ran more operations than the recording (\(values.count)): the function must evaluate the same operations every time")
        defer { cursor += 1 }
        return values[cursor]
    }

    /// Starts a replay from the first recorded value.
    @inlinable
    func rewind() { cursor = 0; replaying = true }

    /// Whether a replay read every recorded value (it ran the same operations).
    @inlinable
    var replayIsComplete: Bool { cursor == values.count }
}

/// A dual number whose primal parts are computed once and replayed: the linearization of a
/// function at a point (as JAX's `linearize`). Its rules are `Dual`'s (``TangentCarrier``), except
/// that each operation takes its primal result from a ``PrimalRecord`` when one is replaying, so that a
/// forward-over-reverse pass on `Tracked<Linearized<V>>` computes the tangents only: no GEMM whose
/// result feeds only the primal or the primal gradient runs again. Values derived from no
/// recorded variable (constants) carry no record and are computed as usual.
public struct Linearized<V: ScalarAlgebra> {
    public var primal: V
    /// The tangent; `nil` is an exact zero.
    public var tangent: V?
    @usableFromInline let record: PrimalRecord<V>?

    /// A value on `record` (a variable) or, without one, a constant.
    @inlinable
    public init(primal: V, tangent: V? = nil, record: PrimalRecord<V>? = nil) {
        self.primal = primal; self.tangent = tangent; self.record = record
    }

    /// The result of an operation: its primal read back from `record` on a replay (else computed,
    /// and recorded), then its tangent.
    @inlinable
    init(on record: PrimalRecord<V>?, primal: () -> V, tangent: (V) -> V?) {
        let y = record?.next(primal) ?? primal()
        self.init(primal: y, tangent: tangent(y), record: record)
    }
}

extension Linearized: TangentCarrier {
    public typealias Value = V
    @inlinable public init(constantValue: V) { self.init(primal: constantValue) }
    @inlinable public func result(primal: () -> V, tangent: (V) -> V?) -> Linearized {
        Linearized(on: record, primal: primal, tangent: tangent)
    }
    @inlinable public static func result(_ a: Linearized, _ b: Linearized, primal: () -> V, tangent: (V) -> V?) -> Linearized {
        Linearized(on: a.record ?? b.record, primal: primal, tangent: tangent)
    }
}

extension Linearized: TensorAlgebra where V: TensorAlgebra {
    public typealias Scalar = V.Scalar
}

extension Linearized: ConvolutionAlgebra where V: ConvolutionAlgebra {}

/// The Hessian of an objective linearized at θ: building it runs the forward and reverse pass
/// once (giving the value and the gradient) and records every primal intermediate; each
/// ``apply(_:)`` replays that pass on `Tracked<Linearized<Tensor>>` and computes only the
/// tangents — the forward tangent, then the reverse tangent. Equal to
/// `hessianVectorProduct(of:at:along:)` to round-off. Memory: every intermediate of one
/// forward and reverse pass. Not for concurrent use (one replay at a time).
public final class LinearizedHessian<O: Objective> {
    /// The objective f.
    public let objective: O
    /// θ, where the pass was recorded.
    public let point: Tensor<O.Scalar>
    /// f(θ) and ∇f(θ), from the recording pass.
    public let value: O.Scalar
    /// ∇f(θ) (length d).
    public let gradient: Tensor<O.Scalar>
    @usableFromInline let record: PrimalRecord<Tensor<O.Scalar>>

    /// - Throws: ``AutodiffError`` for a θ of the wrong length or a non-scalar objective.
    public init(of f: O, at θ: Tensor<O.Scalar>) throws {
        let record = PrimalRecord<Tensor<O.Scalar>>()
        let (y, g) = try Self.pass(f, θ, directions: nil, record: record)
        objective = f; point = θ; value = y.scalars[0]; gradient = g.primal
        self.record = record
    }

    /// H(θ)·v. - Throws: ``AutodiffError`` for a v of the wrong length.
    public func apply(_ v: Tensor<O.Scalar>) throws -> Tensor<O.Scalar> {
        record.rewind()
        let (_, g) = try Self.pass(objective, point, directions: try objective.layout.split(v, as: "the direction"), record: record)
        precondition(record.replayIsComplete, "LinearizedHessian: the replay ran fewer operations than the recording")
        return g.tangent
    }

    /// One forward-over-reverse pass: the value, and the flat gradient with its tangent.
    static func pass(_ f: O, _ θ: Tensor<O.Scalar>, directions: [Tensor<O.Scalar>]?, record: PrimalRecord<Tensor<O.Scalar>>) throws
        -> (Tensor<O.Scalar>, (primal: Tensor<O.Scalar>, tangent: Tensor<O.Scalar>)) {
        let blocks = try f.layout.split(θ)
        let tape = Tape<Linearized<Tensor<O.Scalar>>>()
        let vars = blocks.indices.map { i in tape.variable(Linearized(primal: blocks[i], tangent: directions?[i], record: record)) }
        let y = f(vars)
        try f.checkScalar(y.shape)
        guard y.tape === tape else { return (y.value.primal, (Tensor.zeros([θ.count]), Tensor.zeros([θ.count]))) }
        let adj = tape.cotangents(of: y, seed: Linearized(primal: y.value.primal.onesLike()))
        let cot = zip(vars, blocks).map { adj[$0.index] ?? Linearized(primal: $1.zerosLike()) }
        return (y.value.primal, (f.layout.flatten(cot.map(\.primal)), f.layout.flatten(cot.map(\.tangentOrZero))))
    }
}

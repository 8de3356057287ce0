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

extension Linearized: SingleTangentCarrier {
    public typealias Value = V
    @inlinable public init(constantValue: V) { self.init(primal: constantValue) }
    @inlinable public func result(primal: () -> V, tangent: (V, V?) -> V?) -> Linearized {
        Linearized(on: record, primal: primal, tangent: { tangent($0, self.tangent) })
    }
    @inlinable public static func result(_ a: Linearized, _ b: Linearized, primal: () -> V, tangent: (V, V?, V?) -> V?) -> Linearized {
        Linearized(on: a.record ?? b.record, primal: primal, tangent: { tangent($0, a.tangent, b.tangent) })
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
    /// θ split into the layout's blocks once, for every replay.
    let blocks: [Tensor<O.Scalar>]

    /// - Throws: ``AutodiffError`` for a θ of the wrong length or a non-scalar objective.
    public init(of f: O, at θ: Tensor<O.Scalar>) throws {
        let record = PrimalRecord<Tensor<O.Scalar>>()
        let blocks = try f.layout.split(θ)
        let (y, cot) = try Self.pass(f, blocks) { i in Linearized(primal: blocks[i], record: record) }
        objective = f; point = θ; value = y.scalars[0]; gradient = f.layout.flatten(cot.map(\.primal))
        self.record = record; self.blocks = blocks
    }

    /// H(θ)·v. - Throws: ``AutodiffError`` for a v of the wrong length.
    public func apply(_ v: Tensor<O.Scalar>) throws -> Tensor<O.Scalar> {
        let directions = try objective.layout.split(v, as: "the direction")
        record.rewind()
        let (_, cot) = try Self.pass(objective, blocks) { i in Linearized(primal: blocks[i], tangent: directions[i], record: record) }
        precondition(record.replayIsComplete, "LinearizedHessian: the replay ran fewer operations than the recording")
        return objective.layout.flatten(cot.map(\.tangentOrZero))
    }

    /// [H(θ)·v₁, …, H(θ)·v_k] in one replay on `Tracked<LinearizedSlots<Tensor>>`: the k forward and
    /// reverse tangents ride on one pass (one tape, one read of the record), each equal to
    /// ``apply(_:)`` of its vector to round-off (the same operations per slot). Memory: k times
    /// the tangent intermediates of one product (`HessianOperator` splits blocks by
    /// `ProbeLimits.tangentsPerPass`).
    /// - Throws: ``AutodiffError`` for a vector of the wrong length.
    public func apply(block vectors: [Tensor<O.Scalar>]) throws -> [Tensor<O.Scalar>] {
        guard !vectors.isEmpty else { return [] }
        let directions = try vectors.map { try objective.layout.split($0, as: "the direction") }
        record.rewind()
        let (_, cot) = try Self.pass(objective, blocks) { i in
            LinearizedSlots(primal: blocks[i], tangents: directions.map { $0[i] }, record: record)
        }
        precondition(record.replayIsComplete, "LinearizedHessian: the replay ran fewer operations than the recording")
        return vectors.indices.map { j in
            objective.layout.flatten(zip(cot, blocks).map { c, b in c.tangent(slot: j) ?? b.zerosLike() })
        }
    }

    /// One reverse pass of `f` at the parameter blocks on a carrier `C` (variable `i` from
    /// `variable(i)`): the value and the cotangent of every block (a constant zero where no path
    /// leads from it to the value).
    static func pass<C: TangentCarrier & ConvolutionAlgebra>(_ f: O, _ blocks: [Tensor<O.Scalar>], variable: (Int) -> C) throws
        -> (Tensor<O.Scalar>, [C]) where C.Value == Tensor<O.Scalar>, C.Scalar == O.Scalar {
        let tape = Tape<C>()
        let vars = blocks.indices.map { tape.variable(variable($0)) }
        let y = f(vars)
        try f.checkScalar(y.shape)
        let zeros = blocks.map { C(constantValue: $0.zerosLike()) }
        guard y.tape === tape else { return (y.value.primal, zeros) }
        let adj = tape.cotangents(of: y, seed: C(constantValue: y.value.primal.onesLike()))
        return (y.value.primal, vars.indices.map { adj[vars[$0].index] ?? zeros[$0] })
    }
}

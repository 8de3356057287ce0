import Tensors

/// A ``Linearized`` number with k tangent slots sharing one primal: k directional derivatives in
/// one pass, as ForwardDiff.jl's chunk mode (Revels, Lubin & Papamarkou 2016, §3) on JAX's
/// `linearize`. Its rules are `Dual`'s, written once per slot (``TangentCarrier``): each operation
/// takes its primal from the ``PrimalRecord`` when one is replaying (else computes and records it)
/// and then computes the tangent of every slot from that primal — so the primal and every
/// slot-independent part of a rule (the partials of a binary elementwise function) are computed
/// once for all k slots, and a record made by a `Linearized` pass replays here unchanged.
///
/// `Tracked<LinearizedSlots<Tensor>>` is the k-vector form of the linearized Hessian
/// (``LinearizedHessian/apply(block:)``). A constant (no record, ``tangents`` empty) is an exact
/// zero in every slot; otherwise every non-constant value of one pass has the same slot count.
public struct LinearizedSlots<V: ScalarAlgebra> {
    /// The primal part, shared by the slots.
    public var primal: V
    /// The tangent of each slot (`nil` an exact zero); empty for a constant.
    public var tangents: [V?]
    @usableFromInline let record: PrimalRecord<V>?

    /// A value on `record` with the given tangents (a variable) or, without either, a constant.
    @inlinable
    public init(primal: V, tangents: [V?] = [], record: PrimalRecord<V>? = nil) {
        self.primal = primal; self.tangents = tangents; self.record = record
    }

    /// The tangent of slot `j` (`nil` an exact zero; every slot of a constant is `nil`).
    @inlinable
    public func tangent(slot j: Int) -> V? { j < tangents.count ? tangents[j] : nil }

    /// The result of an operation: its primal read back from `record` on a replay (else computed,
    /// and recorded), then the tangent of each of `slots` slots from it.
    @inlinable
    init(on record: PrimalRecord<V>?, primal: () -> V, slots: Int, tangent: (V, Int) -> V?) {
        let y = record?.next(primal) ?? primal()
        var ts: [V?] = []
        ts.reserveCapacity(slots)
        for j in 0..<slots { ts.append(tangent(y, j)) }
        self.init(primal: y, tangents: ts, record: record)
    }
}

extension LinearizedSlots: TangentCarrier {
    public typealias Value = V
    @inlinable public init(constantValue: V) { self.init(primal: constantValue) }
    @inlinable public func result(primal: () -> V, tangent: (V, V?) -> V?) -> LinearizedSlots {
        LinearizedSlots(on: record, primal: primal, slots: tangents.count) { y, j in tangent(y, tangents[j]) }
    }
    @inlinable public static func result(_ a: LinearizedSlots, _ b: LinearizedSlots, primal: () -> V, tangent: (V, V?, V?) -> V?) -> LinearizedSlots {
        precondition(a.tangents.isEmpty || b.tangents.isEmpty || a.tangents.count == b.tangents.count,
                     "LinearizedSlots: operands with \(a.tangents.count) and \(b.tangents.count) tangent slots")
        return LinearizedSlots(on: a.record ?? b.record, primal: primal, slots: Swift.max(a.tangents.count, b.tangents.count)) { y, j in
            tangent(y, a.tangent(slot: j), b.tangent(slot: j))
        }
    }
    @inlinable public var isIdenticallyZero: Bool {
        primal.isIdenticallyZero && tangents.allSatisfy { $0?.isIdenticallyZero ?? true }
    }
}

extension LinearizedSlots: TensorAlgebra where V: TensorAlgebra {
    public typealias Scalar = V.Scalar
}

extension LinearizedSlots: ConvolutionAlgebra where V: ConvolutionAlgebra {}

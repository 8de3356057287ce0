import Tensors

/// The primitives of a number system that carries derivatives (`Dual`, `Tracked`, `Jet`).
///
/// A carrier implements four ways of combining values — a constant shift of the primal, a
/// linear map, a sum of linear maps of two operands, a bilinear map — and the three `applying`
/// entries of the rule table. Every operation of the algebra is then declared once, below, by
/// its linear map and adjoint or its bilinear map and partial adjoints; each carrier skips exact
/// zeros (`nil` tangents, untaped constants, missing coefficients) inside its primitives, in one
/// place.
public protocol DerivativeCarrier: ScalarAlgebra {
    /// The number system one level down (`V` of `Dual<V>`).
    associatedtype Value: ScalarAlgebra
    /// A constant: no derivative parts.
    init(constantValue: Value)
    /// The value one level down, derivative parts dropped.
    var primalValue: Value { get }
    /// `f(primal)` with the derivative parts unchanged (`f` a constant shift).
    func mappingPrimal(_ f: (Value) -> Value) -> Self
    /// A linear map `f` applied to the primal and every derivative part; `adjoint` is its transpose.
    func linear(_ f: @escaping (Value) -> Value, adjoint: @escaping (Value) -> Value) -> Self
    /// `both(a, b) = left(a) + right(b)` with `left`, `right` linear (`both` is their fused form);
    /// the adjoints give the operands' cotangents.
    static func linear(_ a: Self, _ b: Self, _ both: @escaping (Value, Value) -> Value,
                       left: @escaping (Value) -> Value, right: @escaping (Value) -> Value,
                       adjointLeft: @escaping (Value) -> Value, adjointRight: @escaping (Value) -> Value) -> Self
    /// A bilinear map `f(a, b)`; `adjointLeft(ḡ, b)` and `adjointRight(a, ḡ)` are the cotangents of `a` and `b`.
    static func bilinear(_ a: Self, _ b: Self, _ f: @escaping (Value, Value) -> Value,
                         adjointLeft: @escaping (Value, Value) -> Value, adjointRight: @escaping (Value, Value) -> Value) -> Self
    /// ``bilinear(_:_:_:adjointLeft:adjointRight:)`` with a fused forward-mode rule:
    /// `tangent(a, ȧ, b, ḃ) = f(ȧ, b) + f(a, ḃ)` (`nil` parts exact zeros). Carriers that push
    /// tangents (``TangentCarrier``s: `Dual`, `Linearized`) use it; the default ignores it.
    static func bilinear(_ a: Self, _ b: Self, _ f: @escaping (Value, Value) -> Value,
                         tangent: @escaping (Value, Value?, Value, Value?) -> Value?,
                         adjointLeft: @escaping (Value, Value) -> Value, adjointRight: @escaping (Value, Value) -> Value) -> Self
}

extension DerivativeCarrier {
    @inlinable public static func bilinear(_ a: Self, _ b: Self, _ f: @escaping (Value, Value) -> Value,
                                           tangent: @escaping (Value, Value?, Value, Value?) -> Value?,
                                           adjointLeft: @escaping (Value, Value) -> Value, adjointRight: @escaping (Value, Value) -> Value) -> Self {
        bilinear(a, b, f, adjointLeft: adjointLeft, adjointRight: adjointRight)
    }
}

/// A carrier that pushes tangents forward with its primal (`Dual`, `Linearized`, and
/// `LinearizedSlots` with k tangents): every rule of the carrier is written once, here, as the map
/// from an operation's primal result and its operands' tangents *in one slot* to the result's
/// tangent in that slot. The conformers differ in where the primal comes from (a `Linearized`
/// replays its primals) and in how many slots they hold (one, or k sharing the primal). A rule
/// maps exact zeros (`nil`) to exact zeros, so a constant operand costs nothing in any slot.
public protocol TangentCarrier: DerivativeCarrier {
    /// The primal part.
    var primal: Value { get }
    /// The result of an operation on `self`: its primal `y` from `primal`, then, in each tangent
    /// slot, the result's tangent `tangent(y, ẋ)` from the operand's tangent `ẋ` in that slot
    /// (`nil` an exact zero).
    func result(primal: () -> Value, tangent: (_ y: Value, _ ẋ: Value?) -> Value?) -> Self
    /// The result of an operation on `a` and `b`: `tangent(y, ȧ, ḃ)` in each slot.
    static func result(_ a: Self, _ b: Self, primal: () -> Value, tangent: (_ y: Value, _ ȧ: Value?, _ ḃ: Value?) -> Value?) -> Self
}

/// A ``TangentCarrier`` with one tangent slot (`Dual`, `Linearized`).
public protocol SingleTangentCarrier: TangentCarrier {
    /// The tangent; `nil` is an exact zero.
    var tangent: Value? { get }
}

extension SingleTangentCarrier {
    /// The tangent, materializing zeros for a `nil` tangent.
    @inlinable public var tangentOrZero: Value { tangent ?? primal.zerosLike() }
    @inlinable public var isIdenticallyZero: Bool { primal.isIdenticallyZero && (tangent?.isIdenticallyZero ?? true) }
}

extension TangentCarrier {
    @inlinable public var primalValue: Value { primal }
    @inlinable public func mappingPrimal(_ f: (Value) -> Value) -> Self { result(primal: { f(primal) }, tangent: { _, t in t }) }
    @inlinable public func linear(_ f: @escaping (Value) -> Value, adjoint: @escaping (Value) -> Value) -> Self {
        result(primal: { f(primal) }, tangent: { _, t in t.map(f) })
    }
    @inlinable public static func linear(_ a: Self, _ b: Self, _ both: @escaping (Value, Value) -> Value,
                                         left: @escaping (Value) -> Value, right: @escaping (Value) -> Value,
                                         adjointLeft: @escaping (Value) -> Value, adjointRight: @escaping (Value) -> Value) -> Self {
        result(a, b, primal: { both(a.primal, b.primal) },
               tangent: { _, ta, tb in sumOfLinearMaps(ta, tb, both: both, left: left, right: right) })
    }
    /// (f(a, b))' = f(a', b) + f(a, b'); a constant operand skips its product.
    @inlinable public static func bilinear(_ a: Self, _ b: Self, _ f: @escaping (Value, Value) -> Value,
                                           adjointLeft: @escaping (Value, Value) -> Value, adjointRight: @escaping (Value, Value) -> Value) -> Self {
        bilinear(a, b, f, tangent: bilinearTangentRule(f), adjointLeft: adjointLeft, adjointRight: adjointRight)
    }
    @inlinable public static func bilinear(_ a: Self, _ b: Self, _ f: @escaping (Value, Value) -> Value,
                                           tangent: @escaping (Value, Value?, Value, Value?) -> Value?,
                                           adjointLeft: @escaping (Value, Value) -> Value, adjointRight: @escaping (Value, Value) -> Value) -> Self {
        result(a, b, primal: { f(a.primal, b.primal) }, tangent: { _, ta, tb in tangent(a.primal, ta, b.primal, tb) })
    }
    /// ẏ = f'(x)·ẋ.
    @inlinable public static func applying<F: ElementwiseFunction>(_ f: F, to x: Self) -> Self {
        x.result(primal: { Value.applying(f, to: x.primal) }, tangent: { y, t in t.map { f.tangent($0, at: x.primal, value: y) } })
    }
    /// ẏ = ∂f/∂a·ȧ + ∂f/∂b·ḃ; the partials are computed once for all slots.
    @inlinable public static func applying<F: BinaryElementwiseFunction>(_ f: F, _ a: Self, _ b: Self) -> Self {
        var partials: (Value, Value)?
        return result(a, b, primal: { Value.applying(f, a.primal, b.primal) }, tangent: { y, ta, tb in
            guard ta != nil || tb != nil else { return nil }
            let (da, db) = partials ?? f.partials(a.primal, b.primal, value: y)
            partials = (da, db)
            return sumOfPresent(ta.map { Value.strongZeroProduct($0, da) }, tb.map { Value.strongZeroProduct($0, db) })
        })
    }
}

extension TangentCarrier where Value: TensorAlgebra {
    /// ẏ = the rule's JVP at x.
    @inlinable public static func applying<Op: TensorFunction>(_ op: Op, to x: Self) -> Self {
        x.result(primal: { Value.applying(op, to: x.primal) }, tangent: { y, t in
            t.map {
                let t = op.jvp(at: x.primal, value: y, tangent: $0)
                precondition(t.shape == y.shape, "\(Op.self).jvp returned shape \(t.shape) for a value of shape \(y.shape)")
                return t
            }
        })
    }
}

/// The forward-mode rule of a bilinear map `f`, term by term: `(a, ȧ, b, ḃ) ↦ f(ȧ, b) + f(a, ḃ)`,
/// a `nil` tangent skipping its product (both `nil`: `nil`). What `bilinear` uses when the value
/// type has no fused form.
@inlinable
func bilinearTangentRule<V: ArithmeticAlgebra>(_ f: @escaping (V, V) -> V) -> (V, V?, V, V?) -> V? {
    { a, ȧ, b, ḃ in sumOfPresent(ȧ.map { f($0, b) }, ḃ.map { f(a, $0) }) }
}

/// `a + b` where `nil` is an exact zero (`nil + nil = nil`): how every carrier adds derivative
/// parts without materializing zeros.
@inlinable
func sumOfPresent<V: ArithmeticAlgebra>(_ a: V?, _ b: V?) -> V? {
    switch (a, b) {
    case let (x?, y?): return x + y
    case let (x?, nil): return x
    case let (nil, y?): return y
    case (nil, nil): return nil
    }
}

/// The derivative part of `left(a) + right(b)` from the operands' parts, where `nil` is an exact
/// zero: `both` when both are present (the fused form), one map when one is, `nil` otherwise.
@inlinable
func sumOfLinearMaps<V>(_ a: V?, _ b: V?, both: (V, V) -> V, left: (V) -> V, right: (V) -> V) -> V? {
    switch (a, b) {
    case let (x?, y?): return both(x, y)
    case let (x?, nil): return left(x)
    case let (nil, y?): return right(y)
    case (nil, nil): return nil
    }
}

// MARK: - Arithmetic and routing, declared once

extension DerivativeCarrier {
    @inlinable public static func + (a: Self, b: Self) -> Self {
        linear(a, b, +, left: { $0 }, right: { $0 }, adjointLeft: { $0 }, adjointRight: { $0 })
    }
    @inlinable public static func - (a: Self, b: Self) -> Self {
        linear(a, b, -, left: { $0 }, right: { -$0 }, adjointLeft: { $0 }, adjointRight: { -$0 })
    }
    @inlinable public static prefix func - (a: Self) -> Self { a.linear({ -$0 }, adjoint: { -$0 }) }
    /// Bilinear: (ab)' = a'b + ab'. The adjoints are strong-zero products, so an exactly zero
    /// factor passes no cotangent even from an infinite one: ∇√(x·x) at 0 is 0 in reverse mode as
    /// in forward mode (not ∞·0).
    @inlinable public static func * (a: Self, b: Self) -> Self {
        bilinear(a, b, *, adjointLeft: { g, b in Value.strongZeroProduct(g, b) }, adjointRight: { a, g in Value.strongZeroProduct(g, a) })
    }
    @inlinable public static func / (a: Self, b: Self) -> Self { applying(Quotient(), a, b) }
    @inlinable public func scaled(by factor: Double) -> Self {
        linear({ $0.scaled(by: factor) }, adjoint: { $0.scaled(by: factor) })
    }
    @inlinable public func shifted(by offset: Double) -> Self { mappingPrimal { $0.shifted(by: offset) } }
    @inlinable public func zerosLike() -> Self { Self(constantValue: primalValue.zerosLike()) }
    @inlinable public func onesLike() -> Self { Self(constantValue: primalValue.onesLike()) }
    /// Bilinear with the strong zero at every level.
    @inlinable public static func strongZeroProduct(_ t: Self, _ d: Self) -> Self {
        bilinear(t, d, Value.strongZeroProduct, adjointLeft: { g, d in Value.strongZeroProduct(g, d) },
                 adjointRight: { t, g in Value.strongZeroProduct(g, t) })
    }
    @inlinable public func masked(wherePositive mask: Self) -> Self {
        let m = mask.primalValue
        return linear({ $0.masked(wherePositive: m) }, adjoint: { $0.masked(wherePositive: m) })
    }
    /// Linear in `a` and `b` for a fixed condition: the branch not taken gets an exact zero.
    @inlinable public static func select(_ condition: Self, _ a: Self, _ b: Self) -> Self {
        let c = condition.primalValue
        return linear(a, b, { Value.select(c, $0, $1) },
                      left: { Value.select(c, $0, $0.zerosLike()) }, right: { Value.select(c, $0.zerosLike(), $0) },
                      adjointLeft: { Value.select(c, $0, $0.zerosLike()) }, adjointRight: { Value.select(c, $0.zerosLike(), $0) })
    }
}

// MARK: - Tensor operations, declared once

extension DerivativeCarrier where Value: TensorAlgebra {
    @inlinable public init(constant: Tensor<Value.Scalar>) { self.init(constantValue: Value(constant: constant)) }
    @inlinable public var primalTensor: Tensor<Value.Scalar> { primalValue.primalTensor }
    @inlinable public var shape: [Int] { primalValue.shape }

    /// Bilinear; the adjoints C̄·op(B)ᵀ and op(A)ᵀ·C̄ are arranged so no transpose is copied.
    @inlinable public static func matmul(_ a: Self, _ b: Self, transposeA: Bool, transposeB: Bool) -> Self {
        bilinear(a, b, { Value.matmul($0, $1, transposeA: transposeA, transposeB: transposeB) },
                 tangent: { Value.matmulTangent($0, $1, $2, $3, transposeA: transposeA, transposeB: transposeB) }, adjointLeft: { g, b in
            switch (transposeA, transposeB) {
            case (false, false): return Value.matmul(g, b, transposeA: false, transposeB: true)
            case (false, true): return Value.matmul(g, b, transposeA: false, transposeB: false)
            case (true, false): return Value.matmul(b, g, transposeA: false, transposeB: true)
            case (true, true): return Value.matmul(b, g, transposeA: true, transposeB: true)
            }
        }, adjointRight: { a, g in
            switch (transposeA, transposeB) {
            case (false, false): return Value.matmul(a, g, transposeA: true, transposeB: false)
            case (false, true): return Value.matmul(g, a, transposeA: true, transposeB: false)
            case (true, false): return Value.matmul(a, g, transposeA: false, transposeB: false)
            case (true, true): return Value.matmul(g, a, transposeA: true, transposeB: true)
            }
        })
    }
    /// Bilinear; the adjoints are `matmul`'s, slice by slice: batched products with the flags
    /// arranged so no transpose is copied.
    @inlinable public static func batchedMatmul(_ a: Self, _ b: Self, transposeA: Bool, transposeB: Bool) -> Self {
        bilinear(a, b, { Value.batchedMatmul($0, $1, transposeA: transposeA, transposeB: transposeB) }, adjointLeft: { g, b in
            switch (transposeA, transposeB) {
            case (false, false): return Value.batchedMatmul(g, b, transposeA: false, transposeB: true)
            case (false, true): return Value.batchedMatmul(g, b, transposeA: false, transposeB: false)
            case (true, false): return Value.batchedMatmul(b, g, transposeA: false, transposeB: true)
            case (true, true): return Value.batchedMatmul(b, g, transposeA: true, transposeB: true)
            }
        }, adjointRight: { a, g in
            switch (transposeA, transposeB) {
            case (false, false): return Value.batchedMatmul(a, g, transposeA: true, transposeB: false)
            case (false, true): return Value.batchedMatmul(g, a, transposeA: true, transposeB: false)
            case (true, false): return Value.batchedMatmul(a, g, transposeA: false, transposeB: false)
            case (true, true): return Value.batchedMatmul(g, a, transposeA: true, transposeB: true)
            }
        })
    }
    @inlinable public func addingRowBroadcast(_ bias: Self) -> Self {
        let rows = shape[0]
        return Self.linear(self, bias, { $0.addingRowBroadcast($1) }, left: { $0 }, right: { $0.broadcastRows(rows) },
                           adjointLeft: { $0 }, adjointRight: { $0.sumRows() })
    }
    @inlinable public func broadcastRows(_ rows: Int) -> Self { linear({ $0.broadcastRows(rows) }, adjoint: { $0.sumRows() }) }
    @inlinable public func sumRows() -> Self { let n = shape[0]; return linear({ $0.sumRows() }, adjoint: { $0.broadcastRows(n) }) }
    @inlinable public func broadcastColumns(_ cols: Int) -> Self { linear({ $0.broadcastColumns(cols) }, adjoint: { $0.sumColumns() }) }
    @inlinable public func sumColumns() -> Self { let c = shape[1]; return linear({ $0.sumColumns() }, adjoint: { $0.broadcastColumns(c) }) }
    @inlinable public func sum() -> Self { let s = shape; return linear({ $0.sum() }, adjoint: { $0.broadcast(to: s) }) }
    @inlinable public func broadcast(to shape: [Int]) -> Self {
        let s = self.shape
        return linear({ $0.broadcast(to: shape) }, adjoint: { $0.sum().reshaped(s) })
    }
    @inlinable public func reshaped(_ shape: [Int]) -> Self { let s = self.shape; return linear({ $0.reshaped(shape) }, adjoint: { $0.reshaped(s) }) }
    /// Adjoint: the permutation by the inverse axes.
    @inlinable public func permuted(_ axes: [Int]) -> Self {
        var inverse = [Int](repeating: 0, count: axes.count)
        for (i, a) in axes.enumerated() where a >= 0 && a < axes.count { inverse[a] = i }
        return linear({ $0.permuted(axes) }, adjoint: { $0.permuted(inverse) })
    }
    @inlinable public func gatherColumns(_ index: [Int]) -> Self {
        let c = shape[1]
        return linear({ $0.gatherColumns(index) }, adjoint: { $0.scatterColumns(index, width: c) })
    }
    @inlinable public func scatterColumns(_ index: [Int], width: Int) -> Self {
        linear({ $0.scatterColumns(index, width: width) }, adjoint: { $0.gatherColumns(index) })
    }
}

extension DerivativeCarrier where Value: ConvolutionAlgebra {
    /// x̄ = conv2dBackwardInput(ȳ, w), w̄ = conv2dBackwardFilter(x, ȳ).
    @inlinable public static func conv2d(_ x: Self, _ w: Self, stride: Int, padding: Int) -> Self {
        let xs = x.shape, ws = w.shape
        return bilinear(x, w, { Value.conv2d($0, $1, stride: stride, padding: padding) },
                        tangent: { Value.conv2dTangent($0, $1, $2, $3, stride: stride, padding: padding) },
                        adjointLeft: { g, w in Value.conv2dBackwardInput(g, w, inputShape: xs, stride: stride, padding: padding) },
                        adjointRight: { x, g in Value.conv2dBackwardFilter(x, g, filterShape: ws, stride: stride, padding: padding) })
    }
    /// ḡ = conv2d(ȳ, w), w̄ = conv2dBackwardFilter(ȳ, g).
    @inlinable public static func conv2dBackwardInput(_ g: Self, _ w: Self, inputShape: [Int], stride: Int, padding: Int) -> Self {
        let ws = w.shape
        return bilinear(g, w, { Value.conv2dBackwardInput($0, $1, inputShape: inputShape, stride: stride, padding: padding) },
                        tangent: { Value.conv2dBackwardInputTangent($0, $1, $2, $3, inputShape: inputShape, stride: stride, padding: padding) },
                        adjointLeft: { y, w in Value.conv2d(y, w, stride: stride, padding: padding) },
                        adjointRight: { g, y in Value.conv2dBackwardFilter(y, g, filterShape: ws, stride: stride, padding: padding) })
    }
    /// x̄ = conv2dBackwardInput(g, ȳ), ḡ = conv2d(x, ȳ).
    @inlinable public static func conv2dBackwardFilter(_ x: Self, _ g: Self, filterShape: [Int], stride: Int, padding: Int) -> Self {
        let xs = x.shape
        return bilinear(x, g, { Value.conv2dBackwardFilter($0, $1, filterShape: filterShape, stride: stride, padding: padding) },
                        tangent: { Value.conv2dBackwardFilterTangent($0, $1, $2, $3, filterShape: filterShape, stride: stride, padding: padding) },
                        adjointLeft: { y, g in Value.conv2dBackwardInput(g, y, inputShape: xs, stride: stride, padding: padding) },
                        adjointRight: { x, y in Value.conv2d(x, y, stride: stride, padding: padding) })
    }
    @inlinable public func addingChannelBias(_ bias: Self) -> Self {
        let s = shape
        return Self.linear(self, bias, { $0.addingChannelBias($1) }, left: { $0 }, right: { $0.broadcastChannels(to: s) },
                           adjointLeft: { $0 }, adjointRight: { $0.sumChannels() })
    }
    @inlinable public func sumChannels() -> Self { let s = shape; return linear({ $0.sumChannels() }, adjoint: { $0.broadcastChannels(to: s) }) }
    @inlinable public func broadcastChannels(to shape: [Int]) -> Self {
        linear({ $0.broadcastChannels(to: shape) }, adjoint: { $0.sumChannels() })
    }
    @inlinable public func gatherMaxPool2x2(argmaxOf x: Self) -> Self {
        let m = x.primalValue
        return linear({ $0.gatherMaxPool2x2(argmaxOf: m) }, adjoint: { $0.scatterMaxPool2x2(argmaxOf: m) })
    }
    @inlinable public func scatterMaxPool2x2(argmaxOf x: Self) -> Self {
        let m = x.primalValue
        return linear({ $0.scatterMaxPool2x2(argmaxOf: m) }, adjoint: { $0.gatherMaxPool2x2(argmaxOf: m) })
    }
}

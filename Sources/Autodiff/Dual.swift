import Tensors

/// A dual number `primal + tangent·ε` with `ε² = 0`: forward-mode differentiation (JVP).
///
/// `Dual<V>` conforms to ``ScalarAlgebra`` when `V` does and to ``TensorAlgebra``
/// when `V` does, so it wraps scalars (`Dual<Double>`), tensors
/// (`Dual<Tensor<Float>>`), other duals (`Dual<Dual<Double>>`, the hyper-dual of
/// forward-over-forward) and taped values. Each nesting level is its own type, so
/// perturbations of different levels cannot be confused (Siskind & Pearlmutter 2005):
/// d/dx [x · d/dy (x + y)] = 1 by construction.
///
/// A `nil` tangent means an exact zero and costs nothing: constants (input batches,
/// labels) are lifted with a `nil` tangent, and products with them skip the tangent
/// GEMM entirely.
public struct Dual<V: ScalarAlgebra> {
    /// The value.
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
    static func sum(_ a: V?, _ b: V?) -> V? {
        switch (a, b) {
        case let (x?, y?): return x + y
        case let (x?, nil): return x
        case let (nil, y?): return y
        case (nil, nil): return nil
        }
    }
}

extension Dual: ScalarAlgebra {
    /// JVP of `+`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public static func + (a: Dual, b: Dual) -> Dual { Dual(primal: a.primal + b.primal, tangent: sum(a.tangent, b.tangent)) }
    /// JVP of `-`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public static func - (a: Dual, b: Dual) -> Dual {
        Dual(primal: a.primal - b.primal, tangent: sum(a.tangent, b.tangent.map { -$0 }))
    }
    /// Product rule: (a·b)' = a'·b + a·b'.
    @inlinable public static func * (a: Dual, b: Dual) -> Dual {
        Dual(primal: a.primal * b.primal, tangent: sum(a.tangent.map { $0 * b.primal }, b.tangent.map { a.primal * $0 }))
    }
    /// Quotient rule: (a/b)' = (a' − (a/b)·b') / b.
    @inlinable public static func / (a: Dual, b: Dual) -> Dual {
        let q = a.primal / b.primal
        return Dual(primal: q, tangent: sum(a.tangent, b.tangent.map { -(q * $0) }).map { $0 / b.primal })
    }
    /// JVP of `negation`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public static prefix func - (a: Dual) -> Dual { Dual(primal: -a.primal, tangent: a.tangent.map { -$0 }) }
    /// JVP of `scaled`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func scaled(by factor: Double) -> Dual { Dual(primal: primal.scaled(by: factor), tangent: tangent?.scaled(by: factor)) }
    /// JVP of `shifted`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func shifted(by offset: Double) -> Dual { Dual(primal: primal.shifted(by: offset), tangent: tangent) }
    /// exp' = exp.
    @inlinable public static func exp(_ x: Dual) -> Dual { let y = V.exp(x.primal); return Dual(primal: y, tangent: x.tangent.map { $0 * y }) }
    /// log'(x) = 1/x.
    @inlinable public static func log(_ x: Dual) -> Dual { Dual(primal: V.log(x.primal), tangent: x.tangent.map { $0 / x.primal }) }
    /// sqrt'(x) = 1/(2·sqrt x); infinite at 0 (IEEE 754).
    @inlinable public static func sqrt(_ x: Dual) -> Dual {
        let y = V.sqrt(x.primal)
        return Dual(primal: y, tangent: x.tangent.map { ($0 / y).scaled(by: 0.5) })
    }
    /// tanh' = 1 − tanh².
    @inlinable public static func tanh(_ x: Dual) -> Dual {
        let y = V.tanh(x.primal)
        return Dual(primal: y, tangent: x.tangent.map { $0 * (-(y * y)).shifted(by: 1) })
    }
    /// sin' = cos.
    @inlinable public static func sin(_ x: Dual) -> Dual { Dual(primal: V.sin(x.primal), tangent: x.tangent.map { $0 * V.cos(x.primal) }) }
    /// cos' = −sin.
    @inlinable public static func cos(_ x: Dual) -> Dual { Dual(primal: V.cos(x.primal), tangent: x.tangent.map { -($0 * V.sin(x.primal)) }) }
    /// σ' = σ(1 − σ).
    @inlinable public static func sigmoid(_ x: Dual) -> Dual {
        let y = V.sigmoid(x.primal)
        return Dual(primal: y, tangent: x.tangent.map { $0 * (y - y * y) })
    }
    /// (x^r)' = r·x^(r−1)·x'.
    @inlinable public static func pow(_ x: Dual, _ exponent: Double) -> Dual {
        Dual(primal: V.pow(x.primal, exponent), tangent: x.tangent.map { $0 * V.pow(x.primal, exponent - 1).scaled(by: exponent) })
    }
    /// ReLU with ReLU'(0) = 0: the tangent is masked by the primal.
    @inlinable public func relu() -> Dual { Dual(primal: primal.relu(), tangent: tangent?.masked(wherePositive: primal)) }
    /// JVP of `masked`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func masked(wherePositive mask: Dual) -> Dual {
        Dual(primal: primal.masked(wherePositive: mask.primal), tangent: tangent?.masked(wherePositive: mask.primal))
    }
    /// JVP of `zerosLike`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func zerosLike() -> Dual { Dual(primal: primal.zerosLike()) }
    /// JVP of `onesLike`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func onesLike() -> Dual { Dual(primal: primal.onesLike()) }
}

extension Dual: TensorAlgebra where V: TensorAlgebra {
    /// The element type at the bottom of the nesting.
    public typealias Scalar = V.Scalar
    /// JVP of `init`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public init(constant: Tensor<V.Scalar>) { self.init(primal: V(constant: constant)) }
    /// JVP of `primalTensor`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public var primalTensor: Tensor<V.Scalar> { primal.primalTensor }
    /// JVP of `shape`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public var shape: [Int] { primal.shape }
    /// Bilinear: (A·B)' = A'·B + A·B'; a constant factor skips its GEMM.
    @inlinable public static func matmul(_ a: Dual, _ b: Dual, transposeA: Bool, transposeB: Bool) -> Dual {
        Dual(primal: V.matmul(a.primal, b.primal, transposeA: transposeA, transposeB: transposeB),
             tangent: sum(a.tangent.map { V.matmul($0, b.primal, transposeA: transposeA, transposeB: transposeB) },
                          b.tangent.map { V.matmul(a.primal, $0, transposeA: transposeA, transposeB: transposeB) }))
    }
    /// JVP of `addingRowBroadcast`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func addingRowBroadcast(_ bias: Dual) -> Dual {
        let rows = primal.shape[0]
        let t: V?
        switch (tangent, bias.tangent) {
        case let (x?, b?): t = x.addingRowBroadcast(b)
        case let (x?, nil): t = x
        case let (nil, b?): t = b.broadcastRows(rows)
        case (nil, nil): t = nil
        }
        return Dual(primal: primal.addingRowBroadcast(bias.primal), tangent: t)
    }
    /// JVP of `broadcastRows`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func broadcastRows(_ rows: Int) -> Dual { Dual(primal: primal.broadcastRows(rows), tangent: tangent?.broadcastRows(rows)) }
    /// JVP of `sumRows`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func sumRows() -> Dual { Dual(primal: primal.sumRows(), tangent: tangent?.sumRows()) }
    /// JVP of `broadcastColumns`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func broadcastColumns(_ cols: Int) -> Dual { Dual(primal: primal.broadcastColumns(cols), tangent: tangent?.broadcastColumns(cols)) }
    /// JVP of `sumColumns`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func sumColumns() -> Dual { Dual(primal: primal.sumColumns(), tangent: tangent?.sumColumns()) }
    /// JVP of `sum`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func sum() -> Dual { Dual(primal: primal.sum(), tangent: tangent?.sum()) }
    /// JVP of `broadcast`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func broadcast(to shape: [Int]) -> Dual { Dual(primal: primal.broadcast(to: shape), tangent: tangent?.broadcast(to: shape)) }
    /// JVP of `reshaped`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func reshaped(_ shape: [Int]) -> Dual { Dual(primal: primal.reshaped(shape), tangent: tangent?.reshaped(shape)) }
    /// JVP of log-softmax: ẏ = ż − rowsum(softmax(z) ⊙ ż).
    @inlinable public func logSoftmax() -> Dual {
        let y = primal.logSoftmax()
        return Dual(primal: y, tangent: tangent.map { t in
            t - (V.exp(y) * t).sumColumns().broadcastColumns(y.shape[1])
        })
    }
    /// JVP of `gatherColumns`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func gatherColumns(_ index: [Int]) -> Dual { Dual(primal: primal.gatherColumns(index), tangent: tangent?.gatherColumns(index)) }
    /// JVP of `scatterColumns`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func scatterColumns(_ index: [Int], width: Int) -> Dual {
        Dual(primal: primal.scatterColumns(index, width: width), tangent: tangent?.scatterColumns(index, width: width))
    }
}

extension Dual where V: TensorAlgebra {
    /// Bilinear conv2d: (x ⋆ w)' = ẋ ⋆ w + x ⋆ ẇ.
    @inlinable public static func conv2d(_ x: Dual, _ w: Dual, stride: Int, padding: Int) -> Dual {
        Dual(primal: V.conv2d(x.primal, w.primal, stride: stride, padding: padding),
             tangent: sum(x.tangent.map { V.conv2d($0, w.primal, stride: stride, padding: padding) },
                          w.tangent.map { V.conv2d(x.primal, $0, stride: stride, padding: padding) }))
    }
    /// JVP of `conv2dBackwardInput`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public static func conv2dBackwardInput(_ g: Dual, _ w: Dual, inputShape: [Int], stride: Int, padding: Int) -> Dual {
        Dual(primal: V.conv2dBackwardInput(g.primal, w.primal, inputShape: inputShape, stride: stride, padding: padding),
             tangent: sum(g.tangent.map { V.conv2dBackwardInput($0, w.primal, inputShape: inputShape, stride: stride, padding: padding) },
                          w.tangent.map { V.conv2dBackwardInput(g.primal, $0, inputShape: inputShape, stride: stride, padding: padding) }))
    }
    /// JVP of `conv2dBackwardFilter`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public static func conv2dBackwardFilter(_ x: Dual, _ g: Dual, filterShape: [Int], stride: Int, padding: Int) -> Dual {
        Dual(primal: V.conv2dBackwardFilter(x.primal, g.primal, filterShape: filterShape, stride: stride, padding: padding),
             tangent: sum(x.tangent.map { V.conv2dBackwardFilter($0, g.primal, filterShape: filterShape, stride: stride, padding: padding) },
                          g.tangent.map { V.conv2dBackwardFilter(x.primal, $0, filterShape: filterShape, stride: stride, padding: padding) }))
    }
    /// JVP of `addingChannelBias`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func addingChannelBias(_ bias: Dual) -> Dual {
        let s = primal.shape
        let t: V?
        switch (tangent, bias.tangent) {
        case let (x?, b?): t = x.addingChannelBias(b)
        case let (x?, nil): t = x
        case let (nil, b?): t = b.broadcastChannels(to: s)
        case (nil, nil): t = nil
        }
        return Dual(primal: primal.addingChannelBias(bias.primal), tangent: t)
    }
    /// JVP of `sumChannels`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func sumChannels() -> Dual { Dual(primal: primal.sumChannels(), tangent: tangent?.sumChannels()) }
    /// JVP of `broadcastChannels`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func broadcastChannels(to shape: [Int]) -> Dual {
        Dual(primal: primal.broadcastChannels(to: shape), tangent: tangent?.broadcastChannels(to: shape))
    }
    /// JVP of `gatherMaxPool2x2`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func gatherMaxPool2x2(argmaxOf x: Dual) -> Dual {
        Dual(primal: primal.gatherMaxPool2x2(argmaxOf: x.primal), tangent: tangent?.gatherMaxPool2x2(argmaxOf: x.primal))
    }
    /// JVP of `scatterMaxPool2x2`: the operation on the primal, its linearization on the tangent (a `nil` tangent stays `nil`).
    @inlinable public func scatterMaxPool2x2(argmaxOf x: Dual) -> Dual {
        Dual(primal: primal.scatterMaxPool2x2(argmaxOf: x.primal), tangent: tangent?.scatterMaxPool2x2(argmaxOf: x.primal))
    }
}

extension Dual: CustomStringConvertible {
    /// A one-line, human-readable description (for logs and error output).
    public var description: String { "Dual(\(primal), tangent: \(tangent.map { "\($0)" } ?? "0"))" }
}

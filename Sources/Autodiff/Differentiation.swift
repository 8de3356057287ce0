import Tensors

// MARK: - Scalar functions of one variable

/// `f'(x)` by forward mode: one evaluation of `f` on `Dual<T>` with tangent 1.
///
/// `T` may itself be a number system (`Dual<Double>`, `Tracked<Double>`), which nests
/// derivatives without perturbation confusion.
@inlinable
public func derivative<T: ScalarAlgebra>(of f: (Dual<T>) -> Dual<T>, at x: T) -> T {
    f(Dual(primal: x, tangent: x.onesLike())).tangentOrZero
}

/// `(f(x), f'(x))` by forward mode.
@inlinable
public func valueWithDerivative<T: ScalarAlgebra>(of f: (Dual<T>) -> Dual<T>, at x: T) -> (value: T, derivative: T) {
    let y = f(Dual(primal: x, tangent: x.onesLike()))
    return (y.primal, y.tangentOrZero)
}

/// `f''(x)` by forward-over-forward: `f` evaluated once on the hyper-dual
/// `Dual<Dual<T>>` with both tangents 1 (exact, no truncation error).
@inlinable
public func secondDerivative<T: ScalarAlgebra>(of f: (Dual<Dual<T>>) -> Dual<Dual<T>>, at x: T) -> T {
    let one = x.onesLike()
    let y = f(Dual(primal: Dual(primal: x, tangent: one), tangent: Dual(primal: one)))
    return y.tangent?.tangent ?? x.zerosLike()
}

// MARK: - Scalar functions of several variables

/// `(f(x), ∇f(x))` by reverse mode on a ``Tape``. `x` has length n; the gradient too.
@inlinable
public func valueWithGradient<T: ScalarAlgebra>(of f: ([Tracked<T>]) -> Tracked<T>, at x: [T]) -> (value: T, gradient: [T]) {
    let tape = Tape<T>()
    let vars = x.map { tape.variable($0) }
    let y = f(vars)
    guard y.tape === tape else { return (y.value, x.map { $0.zerosLike() }) }
    let adj = tape.cotangents(of: y, seed: y.value.onesLike())
    return (y.value, zip(vars, x).map { adj[$0.index] ?? $1.zerosLike() })
}

/// `∇f(x)` by reverse mode.
@inlinable
public func gradient<T: ScalarAlgebra>(of f: ([Tracked<T>]) -> Tracked<T>, at x: [T]) -> [T] {
    valueWithGradient(of: f, at: x).gradient
}

/// Jacobian-vector product `(f(x), ∇f(x)·v)` by forward mode.
/// - Precondition: `x.count == v.count`.
@inlinable
public func jvp<T: ScalarAlgebra>(of f: ([Dual<T>]) -> Dual<T>, at x: [T], along v: [T]) -> (value: T, derivative: T) {
    precondition(x.count == v.count, "jvp: point has \(x.count) components, direction \(v.count)")
    let y = f(zip(x, v).map { Dual(primal: $0, tangent: $1) })
    return (y.primal, y.tangentOrZero)
}

/// Hessian-vector product `∇²f(x)·v` by forward-over-reverse (Pearlmutter 1994):
/// the reverse pass runs in `Dual` arithmetic and the gradient's tangent is `H v`.
/// - Precondition: `x.count == v.count`.
@inlinable
public func hessianVectorProduct<T: ScalarAlgebra>(of f: ([Tracked<Dual<T>>]) -> Tracked<Dual<T>>, at x: [T], along v: [T]) -> [T] {
    precondition(x.count == v.count, "hessianVectorProduct: point has \(x.count) components, direction \(v.count)")
    let tape = Tape<Dual<T>>()
    let vars = zip(x, v).map { tape.variable(Dual(primal: $0, tangent: $1)) }
    let y = f(vars)
    guard y.tape === tape else { return x.map { $0.zerosLike() } }
    let adj = tape.cotangents(of: y, seed: y.value.onesLike())
    return zip(vars, x).map { adj[$0.index]?.tangent ?? $1.zerosLike() }
}

/// The dense Hessian `∇²f(x)` (n×n, row i = ∂²f/∂x_i∂x_·) from n HVPs with basis vectors.
@inlinable
public func hessian<T: ScalarAlgebra>(of f: ([Tracked<Dual<T>>]) -> Tracked<Dual<T>>, at x: [T]) -> [[T]] {
    (0..<x.count).map { j in
        let e = x.indices.map { $0 == j ? x[$0].onesLike() : x[$0].zerosLike() }
        return hessianVectorProduct(of: f, at: x, along: e)
    }
}

/// `uᵀ ∇²f(x) v` by forward-over-forward: one evaluation on `Dual<Dual<T>>` with the
/// inner tangent `u` and the outer tangent `v` (the mixed second derivative of
/// `f(x + s·u + t·v)` at s = t = 0).
/// - Precondition: equal lengths.
@inlinable
public func bilinearHessian<T: ScalarAlgebra>(of f: ([Dual<Dual<T>>]) -> Dual<Dual<T>>, at x: [T], _ u: [T], _ v: [T]) -> T {
    precondition(x.count == u.count && x.count == v.count, "bilinearHessian: lengths \(x.count), \(u.count), \(v.count) differ")
    let args = (0..<x.count).map { Dual(primal: Dual(primal: x[$0], tangent: u[$0]), tangent: Dual(primal: v[$0])) }
    return f(args).tangent?.tangent ?? x[0].zerosLike()
}

// MARK: - Objectives over a flat parameter vector

extension Objective {
    @usableFromInline
    func checkScalar(_ shape: [Int]) throws {
        guard shape.reduce(1, *) == 1 else { throw AutodiffError.nonScalarOutput(shape: shape) }
    }
}

/// `f(θ)` evaluated on plain tensors.
/// - Throws: ``AutodiffError`` if θ has the wrong length or `f` is not scalar.
@inlinable
public func value<O: Objective>(of f: O, at θ: Tensor<O.Scalar>) throws -> O.Scalar {
    let y: Tensor<O.Scalar> = f(try f.layout.split(θ))
    try f.checkScalar(y.shape)
    return y.scalars[0]
}

/// `(f(θ), ∇f(θ))` by reverse mode. θ and the gradient have length d = `f.layout.parameterCount`.
/// - Throws: ``AutodiffError`` if θ has the wrong length or `f` is not scalar.
@inlinable
public func valueWithGradient<O: Objective>(of f: O, at θ: Tensor<O.Scalar>) throws -> (value: O.Scalar, gradient: Tensor<O.Scalar>) {
    let blocks = try f.layout.split(θ)
    let tape = Tape<Tensor<O.Scalar>>()
    let vars = blocks.map { tape.variable($0) }
    let y = f(vars)
    try f.checkScalar(y.shape)
    guard y.tape === tape else { return (y.value.scalars[0], Tensor.zeros([θ.count])) }
    let adj = tape.cotangents(of: y, seed: y.value.onesLike())
    return (y.value.scalars[0], f.layout.flatten(zip(vars, blocks).map { adj[$0.index] ?? $1.zerosLike() }))
}

/// `∇f(θ)` by reverse mode (length d).
@inlinable
public func gradient<O: Objective>(of f: O, at θ: Tensor<O.Scalar>) throws -> Tensor<O.Scalar> {
    try valueWithGradient(of: f, at: θ).gradient
}

/// `(f(θ), ∇f(θ)ᵀv)` by forward mode (a JVP with `Dual<Tensor>`).
/// - Throws: ``AutodiffError`` if θ or v has the wrong length or `f` is not scalar.
@inlinable
public func jvp<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, along v: Tensor<O.Scalar>) throws -> (value: O.Scalar, derivative: O.Scalar) {
    let blocks = try f.layout.split(θ)
    let dirs = try f.layout.split(v, as: "the direction")
    let y: Dual<Tensor<O.Scalar>> = f(zip(blocks, dirs).map { Dual(primal: $0, tangent: $1) })
    try f.checkScalar(y.shape)
    return (y.primal.scalars[0], y.tangent?.scalars[0] ?? 0)
}

/// Value, gradient and Hessian-vector product `H(θ)·v` in one forward-over-reverse
/// pass (Pearlmutter 1994): θ enters the tape as `Dual(θ, v)`, the reverse pass runs
/// in dual arithmetic, and the cotangent of θ is `Dual(∇f, H v)`. Costs about 2–3
/// gradient evaluations. All vectors have length d.
/// - Throws: ``AutodiffError`` if θ or v has the wrong length or `f` is not scalar.
@inlinable
public func valueGradientAndHVP<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, along v: Tensor<O.Scalar>) throws
    -> (value: O.Scalar, gradient: Tensor<O.Scalar>, hvp: Tensor<O.Scalar>) {
    let blocks = try f.layout.split(θ)
    let dirs = try f.layout.split(v, as: "the direction")
    let tape = Tape<Dual<Tensor<O.Scalar>>>()
    let vars = zip(blocks, dirs).map { tape.variable(Dual(primal: $0, tangent: $1)) }
    let y = f(vars)
    try f.checkScalar(y.shape)
    guard y.tape === tape else { return (y.value.primal.scalars[0], Tensor.zeros([θ.count]), Tensor.zeros([θ.count])) }
    let adj = tape.cotangents(of: y, seed: Dual(primal: y.value.primal.onesLike()))
    let cot = zip(vars, blocks).map { adj[$0.index] ?? Dual(primal: $1.zerosLike()) }
    return (y.value.primal.scalars[0],
            f.layout.flatten(cot.map(\.primal)),
            f.layout.flatten(cot.map(\.tangentOrZero)))
}

/// Hessian-vector product `H(θ)·v` by forward-over-reverse (Pearlmutter 1994). Length d.
/// - Throws: ``AutodiffError`` if θ or v has the wrong length or `f` is not scalar.
@inlinable
public func hessianVectorProduct<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, along v: Tensor<O.Scalar>) throws -> Tensor<O.Scalar> {
    try valueGradientAndHVP(of: f, at: θ, along: v).hvp
}

/// `uᵀ H(θ) v` by forward-over-forward (`Dual<Dual<Tensor>>`, inner tangent u, outer v).
/// - Throws: ``AutodiffError`` if a vector has the wrong length or `f` is not scalar.
@inlinable
public func bilinearHessian<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, _ u: Tensor<O.Scalar>, _ v: Tensor<O.Scalar>) throws -> O.Scalar {
    let blocks = try f.layout.split(θ)
    let us = try f.layout.split(u, as: "the direction u")
    let vs = try f.layout.split(v, as: "the direction v")
    let args = (0..<blocks.count).map { Dual(primal: Dual(primal: blocks[$0], tangent: us[$0]), tangent: Dual(primal: vs[$0])) }
    let y: Dual<Dual<Tensor<O.Scalar>>> = f(args)
    try f.checkScalar(y.shape)
    return y.tangent?.tangent?.scalars[0] ?? 0
}

/// The dense Hessian (shape [d, d]) from d HVPs with basis vectors; column j is `H e_j`.
/// For small models only: the cost is d HVPs and d² values.
/// - Throws: ``AutodiffError/tooLarge(parameters:limit:)`` when d > `limit`, or the errors of `hessianVectorProduct(of:at:along:)`.
public func hessian<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, limit: Int = 4096) throws -> Tensor<O.Scalar> {
    let d = f.layout.parameterCount
    try f.layout.validate(θ)
    guard d <= limit else { throw AutodiffError.tooLarge(parameters: d, limit: limit) }
    var h = [O.Scalar](repeating: 0, count: d * d)
    for j in 0..<d {
        var e = [O.Scalar](repeating: 0, count: d)
        e[j] = 1
        let col = try hessianVectorProduct(of: f, at: θ, along: Tensor(e))
        for i in 0..<d { h[i * d + j] = col.scalars[i] }
    }
    return Tensor(shape: [d, d], scalars: h)
}

// MARK: - Taylor mode

/// Runs `evaluate(K)` (a jet computation at order K) at `order`, and again at higher orders while
/// a removable singularity leaves the result known to fewer orders (each division by a series
/// starting at tᵐ costs m orders); throws when more orders do not help (no expansion exists).
@inlinable
func jetWithRecoveredOrders<V>(order: Int, _ evaluate: (Int) throws -> Jet<V>) throws -> Jet<V> {
    guard order >= 0 else { throw AutodiffError.invalidArgument("Taylor order must be ≥ 0, got \(order)") }
    var y = try evaluate(order)
    var working = order
    while y.knownOrder < order && working < 4 * order + 8 {
        working += order - y.order
        let next = try evaluate(working)
        if next.knownOrder <= y.knownOrder { break }
        y = next
    }
    guard y.knownOrder >= order else { throw AutodiffError.noTaylorExpansion(knownOrder: y.order, requested: order) }
    return y
}

/// The normalized Taylor coefficients `c_k = (1/k!) dᵏ/dtᵏ f(x + t·v)` at t = 0, k = 0…order,
/// in one forward pass on ``Jet`` (Griewank & Walther 2008, ch. 13); more passes at higher orders
/// where a removable singularity (e.g. (eᵗ − 1)/t at t = 0) costs orders.
/// - Throws: ``AutodiffError/invalidArgument(_:)`` for a negative order;
///   ``AutodiffError/noTaylorExpansion(knownOrder:requested:)`` where the expansion stops
///   (t^1.5 at 0 is known through order 1 only).
@inlinable
public func taylorCoefficients<T: ScalarAlgebra>(of f: (Jet<T>) -> Jet<T>, at x: T, along v: T, order: Int) throws -> [T] {
    let y = try jetWithRecoveredOrders(order: order) { f(Jet(point: x, direction: v, order: $0)) }
    return (0...order).map { y.coefficient($0) }
}

/// The normalized Taylor coefficients of `t ↦ f(x + t·v)` for a function of several variables.
/// - Throws: ``AutodiffError`` for a negative order, `x.count != v.count`, or no expansion.
@inlinable
public func taylorCoefficients<T: ScalarAlgebra>(of f: ([Jet<T>]) -> Jet<T>, at x: [T], along v: [T], order: Int) throws -> [T] {
    guard x.count == v.count else { throw AutodiffError.lengthMismatch(what: "the direction", expected: x.count, actual: v.count) }
    let y = try jetWithRecoveredOrders(order: order) { K in f(zip(x, v).map { Jet(point: $0, direction: $1, order: K) }) }
    return (0...order).map { y.coefficient($0) }
}

/// The normalized Taylor coefficients of `t ↦ L(θ + t·v)` for an objective (e.g. a model's loss
/// on a batch), k = 0…order: c₀ = L(θ), c₁ = ∇Lᵀv, 2·c₂ = vᵀHv, 6·c₃ = ∇³L[v, v, v].
/// One forward pass on `Jet<Tensor>`; the batch is a constant.
/// - Throws: ``AutodiffError`` for a negative order, wrong lengths, a non-scalar output, or no
///   expansion.
@inlinable
public func taylorCoefficients<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, along v: Tensor<O.Scalar>, order: Int) throws -> [O.Scalar] {
    guard order >= 0 else { throw AutodiffError.invalidArgument("Taylor order must be ≥ 0, got \(order)") }
    let blocks = try f.layout.split(θ)
    let dirs = try f.layout.split(v, as: "the direction")
    let y: Jet<Tensor<O.Scalar>> = try jetWithRecoveredOrders(order: order) { K in
        let y: Jet<Tensor<O.Scalar>> = f(zip(blocks, dirs).map { Jet(point: $0, direction: $1, order: K) })
        try f.checkScalar(y.shape)
        return y
    }
    return (0...order).map { y.coefficient($0).scalars[0] }
}

/// The directional derivatives `dᵏ/dtᵏ L(θ + t·v)` at t = 0, k = 0…order (k!·c_k).
/// - Throws: as `taylorCoefficients(of:at:along:order:)`.
@inlinable
public func directionalDerivatives<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, along v: Tensor<O.Scalar>, order: Int) throws -> [Double] {
    try taylorCoefficients(of: f, at: θ, along: v, order: order).enumerated().map { k, c in
        // k!·c_k one factor at a time: k! alone overflows at k = 171.
        var d = Double(c)
        if k > 1 { for i in 2...k { d *= Double(i) } }
        return d
    }
}

import Tensors

/// The result of comparing a derivative with central finite differences.
///
/// The relative error of a computed vector `a` against a reference `b` over the
/// checked components is `max_i |a_i − b_i| / max(max_i |a_i|, max_i |b_i|)`: a
/// componentwise error measured on the scale of the whole vector, so components
/// near zero do not make it meaningless. 0 when both vectors are zero.
public struct DerivativeCheck: Sendable, CustomStringConvertible {
    /// The relative error defined above.
    public let worstRelativeError: Double
    /// The component (index into θ) where `|a_i − b_i|` is largest.
    public let worstIndex: Int
    /// How many components were compared.
    public let componentsChecked: Int
    /// The finite-difference step h.
    public let step: Double

    /// Whether ``worstRelativeError`` is at most `tolerance`.
    public func passes(tolerance: Double) -> Bool { worstRelativeError <= tolerance }

    public var description: String {
        "worst relative error \(worstRelativeError) at index \(worstIndex) over \(componentsChecked) components (h = \(step))"
    }

    static func compare(_ a: [Double], _ b: [Double], indices: [Int], step: Double) -> DerivativeCheck {
        var worst = 0.0, worstAt = indices.first ?? 0, scale = 0.0
        for (k, i) in indices.enumerated() {
            let d = abs(a[k] - b[k])
            if d > worst || d.isNaN { worst = d; worstAt = i }
            scale = max(scale, abs(a[k]), abs(b[k]))
        }
        let rel = worst == 0 ? 0 : (scale > 0 ? worst / scale : .infinity)
        return DerivativeCheck(worstRelativeError: rel.isNaN ? .infinity : rel, worstIndex: worstAt, componentsChecked: indices.count, step: step)
    }
}

/// Checks the reverse-mode gradient of `f` against central finite differences
/// `(f(θ + h e_i) − f(θ − h e_i)) / 2h` (error O(h²)), like PyTorch's `gradcheck`
/// and JAX's `check_grads`.
///
/// - Parameters:
///   - θ: the point (length d).
///   - step: h, in units of θ. Default 1e-6 balances truncation (h²) and round-off (ε/h) in Double.
///   - components: how many coordinates to check, chosen at random without replacement
///     (seeded by `seed`); `nil` checks all d (2d evaluations of f).
/// - Throws: ``AutodiffError`` for a wrong length, a non-scalar output, or `step <= 0`.
public func checkGradient<O: Objective>(of f: O, at θ: Tensor<Double>, step: Double = 1e-6,
                                        components: Int? = nil, seed: UInt64 = 0) throws -> DerivativeCheck where O.Scalar == Double {
    try f.layout.validate(θ)
    return try checkGradient(value: { try value(of: f, at: $0) }, gradient: { try gradient(of: f, at: $0) }, at: θ, step: step,
                             components: components, seed: seed)
}

/// ``checkGradient(of:at:step:components:seed:)`` of a function given by its value and gradient
/// (length d), e.g. a mean loss evaluated over chunks of data.
/// - Throws: ``AutodiffError`` for `step <= 0`; the functions' errors.
public func checkGradient(value: (Tensor<Double>) throws -> Double, gradient: (Tensor<Double>) throws -> Tensor<Double>, at θ: Tensor<Double>,
                          step: Double = 1e-6, components: Int? = nil, seed: UInt64 = 0) throws -> DerivativeCheck {
    guard step > 0, step.isFinite else { throw AutodiffError.invalidArgument("finite-difference step must be positive and finite, got \(step)") }
    let g = try gradient(θ)
    let indices = sampleIndices(count: θ.count, take: components, seed: seed)
    var fd = [Double]()
    for i in indices {
        var plus = θ.scalars, minus = θ.scalars
        plus[i] += step
        minus[i] -= step
        let fp = try value(Tensor(plus)), fm = try value(Tensor(minus))
        fd.append((fp - fm) / (2 * step))
    }
    return DerivativeCheck.compare(indices.map { g.scalars[$0] }, fd, indices: indices, step: step)
}

/// Checks the forward-over-reverse HVP `H(θ)·v` against central differences of the
/// reverse-mode gradient, `(∇f(θ + h v) − ∇f(θ − h v)) / 2h`, over all d components
/// (like PyTorch's `gradgradcheck`).
///
/// - Parameters:
///   - v: the direction (length d); `nil` draws a seeded standard normal direction.
///   - step: h, scaled by `1/‖v‖` so the perturbation has norm `step`. Default 1e-5.
/// - Throws: ``AutodiffError`` for a wrong length, a non-scalar output, a zero `v`, or `step <= 0`.
public func checkHessianVectorProduct<O: Objective>(of f: O, at θ: Tensor<Double>, along v: Tensor<Double>? = nil,
                                                    step: Double = 1e-5, seed: UInt64 = 0) throws -> DerivativeCheck where O.Scalar == Double {
    try f.layout.validate(θ)
    if let v { try f.layout.validate(v, as: "the direction") }
    return try checkHessianVectorProduct(hvp: { try hessianVectorProduct(of: f, at: θ, along: $0) }, gradient: { try gradient(of: f, at: $0) },
                                         at: θ, along: v, step: step, seed: seed)
}

/// ``checkHessianVectorProduct(of:at:along:step:seed:)`` of a function given by its gradient and
/// its HVP at θ (e.g. a mean loss and its Hessian over chunks of data).
/// - Throws: ``AutodiffError`` for a zero `v` or `step <= 0`; the functions' errors.
public func checkHessianVectorProduct(hvp: (Tensor<Double>) throws -> Tensor<Double>, gradient: (Tensor<Double>) throws -> Tensor<Double>,
                                      at θ: Tensor<Double>, along v: Tensor<Double>? = nil, step: Double = 1e-5, seed: UInt64 = 0) throws -> DerivativeCheck {
    guard step > 0, step.isFinite else { throw AutodiffError.invalidArgument("finite-difference step must be positive and finite, got \(step)") }
    var rng = SplitMix64(seed: seed)
    let dir = v ?? Tensor.randomNormal([θ.count], using: &rng)
    guard dir.count == θ.count else { throw AutodiffError.lengthMismatch(what: "the direction", expected: θ.count, actual: dir.count) }
    let n = dir.norm()
    guard n > 0 else { throw AutodiffError.invalidArgument("the direction v is zero") }
    let h = step / n
    let hv = try hvp(dir)
    var plus = θ, minus = θ
    plus.addScaled(dir, h)
    minus.addScaled(dir, -h)
    let gp = try gradient(plus), gm = try gradient(minus)
    let fd = zip(gp.scalars, gm.scalars).map { ($0 - $1) / (2 * h) }
    return DerivativeCheck.compare(hv.scalars, fd, indices: Array(0..<θ.count), step: h)
}

func sampleIndices(count: Int, take: Int?, seed: UInt64) -> [Int] {
    guard let take, take < count else { return Array(0..<count) }
    var rng = SplitMix64(seed: seed)
    var pool = Array(0..<count)
    for k in 0..<max(take, 0) {
        let j = k + rng.next(below: count - k)
        pool.swapAt(k, j)
    }
    return Array(pool.prefix(max(take, 0))).sorted()
}

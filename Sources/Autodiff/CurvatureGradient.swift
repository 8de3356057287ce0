import Tensors

/// What ``gradientOfCurvature(of:at:along:)`` returns; every vector has length d.
public struct CurvatureGradient<E: TensorScalar> {
    /// f(θ).
    public let value: E
    /// ∇f(θ).
    public let gradient: Tensor<E>
    /// H(θ)·u.
    public let hvp: Tensor<E>
    /// ∇_θ (uᵀH(θ)u) with u held fixed: ∇³f(θ)[u, u, ·].
    public let curvatureGradient: Tensor<E>

    /// The four results (e.g. summed over data chunks, or a closed form for a `LossFunction`).
    public init(value: E, gradient: Tensor<E>, hvp: Tensor<E>, curvatureGradient: Tensor<E>) {
        self.value = value; self.gradient = gradient; self.hvp = hvp; self.curvatureGradient = curvatureGradient
    }
}

/// The gradient of the curvature along `u`, ∇_θ (uᵀ H(θ) u) = ∇³f(θ)[u, u, ·] with u held fixed,
/// with the value, the gradient and H(θ)u, in one reverse pass over a second-order jet.
///
/// θ enters the tape as the jets `Jet(point: θ_i, direction: u_i, order: 2)`
/// (`Tracked<Jet<Tensor>>`); the loss is evaluated and pulled back with the constant jet 1 as
/// seed. The pullbacks then run in Taylor arithmetic, so the cotangent of θ is the jet of
/// t ↦ ∇f(θ + t·u): its coefficients are ∇f, H·u and ½∇³f[u, u, ·], and
/// ``CurvatureGradient/curvatureGradient`` is twice the last (reverse over Taylor: the adjoint of a
/// Taylor expansion, Griewank & Walther, *Evaluating Derivatives*, 2nd ed., ch. 13, higher-order
/// gradients). Nothing is a finite difference.
///
/// **Gradient of an eigenvalue.** For a unit eigenvector u of H(θ) with a *simple* eigenvalue λ,
/// dλ = uᵀ dH u (Magnus & Neudecker, *Matrix Differential Calculus*, 3rd ed., ch. 8, the
/// differential of a simple eigenvalue of a symmetric matrix),
/// so ∇λ(θ) = ∇³f(θ)[u, u, ·], this function's ``CurvatureGradient/curvatureGradient``. For an
/// approximate eigenvector (residual ‖Hu − λu‖ not small against the gap to the next eigenvalue)
/// or a repeated eigenvalue it is the gradient of the Rayleigh quotient at fixed u only, not of
/// an eigenvalue. Damian, Nichani & Lee, "Self-Stabilization: The Implicit Bias of Gradient
/// Descent at the Edge of Stability" (ICLR 2023, arXiv:2209.15594), use ∇λ_max = ∇³L[u, u] and its inner product
/// with ∇L, the rate at which a gradient step changes the sharpness (progressive sharpening
/// where ⟨∇L, ∇λ⟩ < 0).
///
/// Cost: every forward value carries three coefficients (θ's jets have no c₂, which saves one
/// product per layer) and every pullback a Cauchy product of order 2 (Notes/jets.md, "Gradient of the sharpness").
///
/// - Parameters:
///   - θ, u: length d = `f.layout.parameterCount`. u need not be a unit vector (the result is
///     then ∇³f[u, u, ·] for that u).
/// - Throws: ``AutodiffError`` if θ or u has the wrong length, `f` is not scalar, or the
///   expansion stops before order 2 (`noTaylorExpansion`).
@inlinable
public func gradientOfCurvature<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, along u: Tensor<O.Scalar>) throws -> CurvatureGradient<O.Scalar> {
    let blocks = try f.layout.split(θ)
    let dirs = try f.layout.split(u, as: "the direction")
    let tape = Tape<Jet<Tensor<O.Scalar>>>()
    let vars = zip(blocks, dirs).map { tape.variable(Jet(point: $0, direction: $1, order: 2)) }
    let y = f(vars)
    try f.checkScalar(y.shape)
    guard y.tape === tape else {
        let zero = Tensor<O.Scalar>.zeros([θ.count])
        return CurvatureGradient(value: y.value.primal.scalars[0], gradient: zero, hvp: zero, curvatureGradient: zero)
    }
    let adj = tape.cotangents(of: y, seed: Jet(constant: y.value.primal.onesLike()))
    let cot = zip(vars, blocks).map { adj[$0.index] ?? Jet(constant: $1.zerosLike()) }
    if let known = cot.map(\.knownOrder).min(), known < 2 { throw AutodiffError.noTaylorExpansion(knownOrder: known, requested: 2) }
    return CurvatureGradient(value: y.value.primal.scalars[0],
                             gradient: f.layout.flatten(cot.map { $0.coefficient(0) }),
                             hvp: f.layout.flatten(cot.map { $0.coefficient(1) }),
                             curvatureGradient: f.layout.flatten(cot.map { $0.coefficient(2).scaled(by: 2) }))
}

import Autodiff
import Tensors

/// A scalar loss of θ as the value probes see it (sharpness, slices, batch sharpness): its value
/// and gradient at any point, where it has one its Taylor coefficients along a direction (Taylor
/// mode, `Notes/jets.md`), and the layout of θ. An ``/Autodiff/Objective`` is one (``init(_:)``, with every
/// route); so is a mean over data chunks or any other function a caller can evaluate and
/// differentiate.
public struct LossFunction<E: TensorScalar> {
    /// The layout of θ.
    public let layout: ParameterLayout
    let valueAt: (Tensor<E>) throws -> Double
    let gradientAt: (Tensor<E>) throws -> (Double, Tensor<E>)
    let taylorAt: ((Tensor<E>, Tensor<E>, Int) throws -> [Double])?
    let curvatureGradientAt: ((Tensor<E>, Tensor<E>) throws -> CurvatureGradient<E>)?
    let hessianAt: ((Tensor<E>) throws -> AnySymmetricOperator<E>)?
    let smoothnessAt: ((Tensor<E>, Tensor<E>, Int) throws -> SmoothnessRadius)?

    /// The objective's value (``/Autodiff/value(of:at:)``), gradient (reverse mode), Taylor coefficients
    /// (``/Autodiff/taylorCoefficients(of:at:along:order:)->[O.Scalar]``, one forward pass on `Jet<Tensor>`), gradient of
    /// the curvature (``/Autodiff/gradientOfCurvature(of:at:along:)``, one reverse pass on
    /// `Tracked<Jet<Tensor>>`) and Hessian at any point (``HessianOperator``).
    public init<O: Objective>(_ f: O) where O.Scalar == E {
        layout = f.layout
        valueAt = { Double(try Autodiff.value(of: f, at: $0)) }
        gradientAt = { θ in
            let (v, g) = try Autodiff.valueWithGradient(of: f, at: θ)
            return (Double(v), g)
        }
        taylorAt = { θ, v, order in try Autodiff.taylorCoefficients(of: f, at: θ, along: v, order: order).map { Double($0) } }
        curvatureGradientAt = { θ, u in try Autodiff.gradientOfCurvature(of: f, at: θ, along: u) }
        hessianAt = { θ in AnySymmetricOperator(try HessianOperator(of: f, at: θ)) }
        smoothnessAt = { θ, v, order in try Autodiff.smoothnessRadius(of: f, at: θ, along: v, order: order) }
    }

    /// A loss given by its value and its value with gradient (length d), and optionally its
    /// Taylor coefficients: `taylorCoefficients(θ, v, K)` returns c₀…c_K of t ↦ f(θ + t·v)
    /// (normalized, c_k = f⁽ᵏ⁾/k!), as ``taylorCoefficients(at:along:order:)`` documents. Without
    /// them, the loss has no Taylor-mode route (``hasTaylorCoefficients`` is false). Likewise
    /// `gradientOfCurvature(θ, u)` (``gradientOfCurvature(at:along:)``), `hessian(θ)`, the
    /// Hessian at θ as an operator (``hessian(at:)``), and `smoothnessRadius(θ, v, K)`
    /// (``smoothnessRadius(at:along:order:)``).
    public init(layout: ParameterLayout, value: @escaping (Tensor<E>) throws -> Double,
                valueWithGradient: @escaping (Tensor<E>) throws -> (Double, Tensor<E>),
                taylorCoefficients: ((Tensor<E>, Tensor<E>, Int) throws -> [Double])? = nil,
                gradientOfCurvature: ((Tensor<E>, Tensor<E>) throws -> CurvatureGradient<E>)? = nil,
                hessian: ((Tensor<E>) throws -> AnySymmetricOperator<E>)? = nil,
                smoothnessRadius: ((Tensor<E>, Tensor<E>, Int) throws -> SmoothnessRadius)? = nil) {
        self.layout = layout; valueAt = value; gradientAt = valueWithGradient; taylorAt = taylorCoefficients
        curvatureGradientAt = gradientOfCurvature; hessianAt = hessian; smoothnessAt = smoothnessRadius
    }

    /// f(θ).
    /// - Throws: ``/Autodiff/AutodiffError`` for θ that does not fit the layout; the function's errors.
    public func value(at θ: Tensor<E>) throws -> Double {
        try layout.validate(θ)
        return try valueAt(θ)
    }

    /// f(θ) and ∇f(θ) (length d).
    /// - Throws: ``/Autodiff/AutodiffError`` for θ that does not fit the layout; the function's errors.
    public func valueWithGradient(at θ: Tensor<E>) throws -> (Double, Tensor<E>) {
        try layout.validate(θ)
        return try gradientAt(θ)
    }

    /// Whether the loss has a Taylor-mode route (``taylorCoefficients(at:along:order:)``): every
    /// loss built from an ``/Autodiff/Objective`` has one; one built from closures has one when it was given.
    public var hasTaylorCoefficients: Bool { taylorAt != nil }

    /// The normalized Taylor coefficients c₀…c_order of t ↦ f(θ + t·v) at t = 0 (c₀ = f(θ),
    /// c₁ = ∇fᵀv, 2c₂ = vᵀ∇²f v; ``/Autodiff/taylorCoefficients(of:at:along:order:)->[O.Scalar]``), in Float64.
    /// - Parameters:
    ///   - θ, v: length d.
    ///   - order: K ≥ 0.
    /// - Throws: ``/Autodiff/AutodiffError`` for θ or v that does not fit the layout, a negative order, no
    ///   expansion, or a loss without a Taylor-mode route (``hasTaylorCoefficients``).
    public func taylorCoefficients(at θ: Tensor<E>, along v: Tensor<E>, order: Int) throws -> [Double] {
        guard let taylorAt else {
            throw AutodiffError.invalidArgument("this loss function has no Taylor-mode (jet) route: it was built from value and gradient closures alone; build it from an Objective (LossFunction(_:)) or give it taylorCoefficients")
        }
        try layout.validate(θ)
        try layout.validate(v, as: "the direction")
        return try taylorAt(θ, v, order)
    }

    /// Whether the loss has the route of ``gradientOfCurvature(at:along:)`` (every loss built from
    /// an ``/Autodiff/Objective``; one built from closures when it was given).
    public var hasCurvatureGradient: Bool { curvatureGradientAt != nil }

    /// f(θ), ∇f(θ), H(θ)u and ∇_θ(uᵀH(θ)u) = ∇³f(θ)[u, u, ·] at fixed u, from one reverse pass over
    /// a second-order jet (``/Autodiff/gradientOfCurvature(of:at:along:)``, which says when the last is the
    /// gradient of an eigenvalue).
    /// - Parameters:
    ///   - θ, u: length d.
    /// - Throws: ``/Autodiff/AutodiffError`` for θ or u that does not fit the layout, no expansion, or a
    ///   loss without this route (``hasCurvatureGradient``).
    public func gradientOfCurvature(at θ: Tensor<E>, along u: Tensor<E>) throws -> CurvatureGradient<E> {
        guard let curvatureGradientAt else {
            throw AutodiffError.invalidArgument("this loss function has no gradient-of-curvature (reverse-over-jet) route: it was built from closures without one; build it from an Objective (LossFunction(_:)) or give it gradientOfCurvature")
        }
        try layout.validate(θ)
        try layout.validate(u, as: "the direction")
        return try curvatureGradientAt(θ, u)
    }

    /// The Hessian of the loss at θ as an operator (for a point other than a probe context's own,
    /// whose curvature the context holds).
    /// - Throws: ``/Autodiff/AutodiffError`` for θ that does not fit the layout or a loss without this route;
    ///   the operator's errors.
    public func hessian(at θ: Tensor<E>) throws -> AnySymmetricOperator<E> {
        guard let hessianAt else {
            throw AutodiffError.invalidArgument("this loss function has no Hessian route: it was built from closures without one; build it from an Objective (LossFunction(_:)) or give it hessian")
        }
        try layout.validate(θ)
        return try hessianAt(θ)
    }

    /// The distances along ±v to the nearest change of the loss's routing (activation patterns,
    /// pooling argmaxes) and its Taylor coefficients to `order`, from one pass
    /// (``/Autodiff/smoothnessRadius(of:at:along:order:)``).
    /// - Throws: ``/Autodiff/AutodiffError`` for θ or v that does not fit the layout, an order < 1, or a loss
    ///   built from closures without this route.
    public func smoothnessRadius(at θ: Tensor<E>, along v: Tensor<E>, order: Int) throws -> SmoothnessRadius {
        guard let smoothnessAt else {
            throw AutodiffError.invalidArgument("this loss function has no smoothness-radius route: it was built from closures without one; build it from an Objective (LossFunction(_:)) or give it smoothnessRadius")
        }
        try layout.validate(θ)
        try layout.validate(v, as: "the direction")
        return try smoothnessAt(θ, v, order)
    }
}

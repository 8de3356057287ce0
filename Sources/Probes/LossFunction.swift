import Autodiff
import Tensors

/// A scalar loss of θ as the value probes see it (sharpness, slices): its value and gradient at
/// any point and the layout of θ. An ``Objective`` is one (``init(_:)``); so is a mean over data
/// chunks or any other function a caller can evaluate and differentiate.
public struct LossFunction<E: TensorScalar> {
    public let layout: ParameterLayout
    let valueAt: (Tensor<E>) throws -> Double
    let gradientAt: (Tensor<E>) throws -> (Double, Tensor<E>)

    /// The objective's value (``value(of:at:)``) and gradient (reverse mode).
    public init<O: Objective>(_ f: O) where O.Scalar == E {
        layout = f.layout
        valueAt = { Double(try Autodiff.value(of: f, at: $0)) }
        gradientAt = { θ in
            let (v, g) = try Autodiff.valueWithGradient(of: f, at: θ)
            return (Double(v), g)
        }
    }

    /// A loss given by its value and its value with gradient (length d).
    public init(layout: ParameterLayout, value: @escaping (Tensor<E>) throws -> Double,
                valueWithGradient: @escaping (Tensor<E>) throws -> (Double, Tensor<E>)) {
        self.layout = layout; valueAt = value; gradientAt = valueWithGradient
    }

    /// f(θ).
    /// - Throws: ``AutodiffError`` for θ that does not fit the layout; the function's errors.
    public func value(at θ: Tensor<E>) throws -> Double {
        try layout.validate(θ)
        return try valueAt(θ)
    }

    /// f(θ) and ∇f(θ) (length d).
    /// - Throws: ``AutodiffError`` for θ that does not fit the layout; the function's errors.
    public func valueWithGradient(at θ: Tensor<E>) throws -> (Double, Tensor<E>) {
        try layout.validate(θ)
        return try gradientAt(θ)
    }
}

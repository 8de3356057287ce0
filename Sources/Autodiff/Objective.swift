import Tensors

/// A scalar function of a model's parameters (typically a loss on a fixed batch),
/// written once over any ``TensorAlgebra`` so that it can be evaluated plainly,
/// with tangents (JVP), on a tape (gradient) or both (HVP).
///
/// The parameters arrive as one value per ``ParameterLayout`` entry, shaped as the
/// entry. The result must have one element (rank 0 preferred).
public protocol Objective {
    /// The element type of the parameter vector.
    associatedtype Scalar: TensorScalar
    /// The layout of θ.
    var layout: ParameterLayout { get }
    /// Evaluates the function in the algebra `A`.
    func callAsFunction<A: ConvolutionAlgebra>(_ parameters: [A]) -> A where A.Scalar == Scalar
}

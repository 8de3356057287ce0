import Tensors

/// A scalar function of a model's parameters (typically a loss on a fixed batch) that can be
/// evaluated plainly, with tangents (JVP), on a tape (gradient) or both (HVP).
///
/// The parameters arrive as one value per ``ParameterLayout`` entry, shaped as the entry. The
/// result must have one element (rank 0 preferred).
///
/// The requirement is what the derivative API needs: evaluation in every number system it
/// builds (`Tensor`, `Dual`, `Tracked`, `Jet`, `Linearized` and their nestings), all of which
/// are ``ConvolutionAlgebra``s. An objective written over ``TensorAlgebra`` satisfies it as well,
/// and declares that it needs no convolutions by conforming to ``TensorObjective``.
public protocol Objective {
    /// The element type of the parameter vector.
    associatedtype Scalar: TensorScalar
    /// The layout of θ.
    var layout: ParameterLayout { get }
    /// Evaluates the function in the algebra `A`.
    func callAsFunction<A: ConvolutionAlgebra>(_ parameters: [A]) -> A where A.Scalar == Scalar
}

/// An ``Objective`` that needs only the tensor operations, so that it also runs in a number
/// system without convolutions (an MLP's loss; a user's tensor type that has no `conv2d`).
public protocol TensorObjective: Objective {
    /// Evaluates the function in the algebra `A`.
    func callAsFunction<A: TensorAlgebra>(_ parameters: [A]) -> A where A.Scalar == Scalar
}

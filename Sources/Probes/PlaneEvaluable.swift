import Autodiff
import Tensors

/// An objective that evaluates a whole 2-D slice grid faster than one independent forward pass
/// per point, by sharing the work that is linear in the parameters.
public protocol PlaneEvaluable: Objective {
    /// `losses[i][j] = L(θ + alphas[i]·u + betas[j]·v)`.
    func lossesOnPlane(_ θ: Tensor<Scalar>, u: Tensor<Scalar>, v: Tensor<Scalar>, alphas: [Double], betas: [Double]) throws -> [[Double]]
}

import Autodiff
import Tensors

/// A fully connected layer `y = x Wᵀ + b` (PyTorch's `nn.Linear` convention).
///
/// Shapes: input `[N, in]`, weight `[out, in]`, bias `[out]`, output `[N, out]`.
/// The product is one GEMM with a transpose flag, no copy.
public struct Linear: Sendable, Equatable {
    /// Input features.
    public let inputSize: Int
    /// Output features.
    public let outputSize: Int

    /// A layer mapping `inputSize` features to `outputSize`.
    public init(_ inputSize: Int, _ outputSize: Int) {
        precondition(inputSize > 0 && outputSize > 0, "Linear: sizes must be positive, got \(inputSize)→\(outputSize)")
        self.inputSize = inputSize
        self.outputSize = outputSize
    }

    /// The parameter shapes: weight `[out, in]`, bias `[out]`.
    public var parameterShapes: [[Int]] { [[outputSize, inputSize], [outputSize]] }

    /// `x Wᵀ + b` in any algebra.
    /// - Precondition: `x` is `[N, inputSize]`, `weight` `[outputSize, inputSize]`, `bias` `[outputSize]`.
    @inlinable
    public func callAsFunction<A: TensorAlgebra>(_ x: A, weight: A, bias: A) -> A {
        A.matmul(x, weight, transposeA: false, transposeB: true).addingRowBroadcast(bias)
    }

    /// PyTorch's default initialization of `nn.Linear`: weight and bias each uniform
    /// in ±1/√fan_in (kaiming_uniform with a = √5 gives bound √(1/fan_in)).
    public func initialParameters<E: TensorScalar, G: RandomNumberGenerator>(_: E.Type, using rng: inout G) -> [Tensor<E>] {
        let bound = 1 / Double(inputSize).squareRoot()
        return [Tensor.randomUniform([outputSize, inputSize], bound: bound, using: &rng),
                Tensor.randomUniform([outputSize], bound: bound, using: &rng)]
    }
}

/// Mean softmax cross-entropy of `[N, C]` logits against integer labels:
/// `−(1/N) Σ_i log softmax(z_i)[y_i]`, the mean of ``perSampleCrossEntropy(logits:labels:)``.
/// Returns a rank-0 value.
/// - Precondition: `labels.count == N`, each label in `0..<C`.
@inlinable
public func softmaxCrossEntropy<A: TensorAlgebra>(logits: A, labels: [Int]) -> A {
    let n = logits.shape[0]
    return perSampleCrossEntropy(logits: logits, labels: labels).sum().scaled(by: 1 / Double(n))
}

/// The softmax cross-entropy of each row of `[N, C]` logits against its integer label:
/// `ℓ_i = −log softmax(z_i)[y_i]`, shape `[N]`, with a max-shifted log-sum-exp so that it is
/// finite for logits like `[1000, 0, −1000]`.
/// - Precondition: `labels.count == N`, each label in `0..<C`.
@inlinable
public func perSampleCrossEntropy<A: TensorAlgebra>(logits: A, labels: [Int]) -> A {
    logits.logSoftmax().gatherColumns(labels).scaled(by: -1)
}

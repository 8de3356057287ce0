import Autodiff
import Tensors

/// The multilayer perceptron of the study: Linear(784→256) → ReLU → Linear(256→256) →
/// ReLU → Linear(256→10); 269,322 parameters for the default sizes.
public struct MLP: TensorModel {
    /// The model name used by the CLI and in checkpoints: "mlp".
    public var name: String { "mlp" }
    /// The layer widths, input first (default `[784, 256, 256, 10]`).
    public let sizes: [Int]
    /// The linear layers.
    public let layers: [Linear]
    /// The layout of θ (PyTorch names: "fc1.weight" [out, in], "fc1.bias" [out], …).
    public let layout: ParameterLayout
    /// Each layer's weight and bias positions in the layout, found by name.
    @usableFromInline let slots: [(weight: Int, bias: Int)]

    /// An MLP with the given widths (at least input and output).
    /// - Precondition: at least two positive sizes.
    public init(sizes: [Int] = [784, 256, 256, 10]) {
        precondition(sizes.count >= 2 && sizes.allSatisfy { $0 > 0 }, "MLP: need at least two positive sizes, got \(sizes)")
        self.sizes = sizes
        self.layers = zip(sizes, sizes.dropFirst()).map { Linear($0, $1) }
        var items: [(name: String, shape: [Int])] = []
        for (i, l) in layers.enumerated() {
            items.append((name: "fc\(i + 1).weight", shape: l.parameterShapes[0]))
            items.append((name: "fc\(i + 1).bias", shape: l.parameterShapes[1]))
        }
        self.layout = ParameterLayout(items)
        let layout = self.layout
        self.slots = layers.indices.map { (layout.index(of: "fc\($0 + 1).weight"), layout.index(of: "fc\($0 + 1).bias")) }
    }

    /// The input width (784 for MNIST).
    public var inputSize: Int { sizes[0] }
    /// The output width (the number of classes).
    public var classCount: Int { sizes[sizes.count - 1] }

    /// Logits `[N, classCount]` for flattened inputs `[N, inputSize]`; parameters one value per layout entry.
    @inlinable
    public func logits<A: TensorAlgebra>(_ parameters: [A], input: A) -> A {
        var h = input
        for (i, layer) in layers.enumerated() {
            h = layer(h, weight: parameters[slots[i].weight], bias: parameters[slots[i].bias])
            if i < layers.count - 1 { h = h.relu() }
        }
        return h
    }

    /// A flat θ with PyTorch’s default initialization (uniform ±1/√fan_in for weights and biases), reproducible from `seed` (SplitMix64).
    public func initialParameters<E: TensorScalar>(_: E.Type, seed: UInt64) -> Tensor<E> {
        var rng = SplitMix64(seed: seed)
        return layout.flatten(layers.flatMap { $0.initialParameters(E.self, using: &rng) })
    }
}

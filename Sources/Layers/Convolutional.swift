import Autodiff
import Tensors

/// A 2-D convolution layer `y = x ⋆ W + b` (PyTorch's `nn.Conv2d` convention).
///
/// Shapes: input `[N, C, H, W]`, weight `[O, C, k, k]`, bias `[O]`, output `[N, O, Ho, Wo]`
/// with `Ho = ⌊(H + 2p − k)/s⌋ + 1`. Computed by im2col and one GEMM.
public struct Conv2D: Sendable, Equatable {
    /// C (input channels), O (output channels), k (square kernel side), stride s ≥ 1 and zero padding p ≥ 0.
    public let inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int, padding: Int

    /// - Precondition: positive channel counts and kernel, stride ≥ 1, padding ≥ 0.
    public init(_ inputChannels: Int, _ outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0) {
        precondition(inputChannels > 0 && outputChannels > 0 && kernelSize > 0 && stride > 0 && padding >= 0,
                     "Conv2D: invalid configuration \(inputChannels)→\(outputChannels), kernel \(kernelSize), stride \(stride), padding \(padding)")
        self.inputChannels = inputChannels; self.outputChannels = outputChannels
        self.kernelSize = kernelSize; self.stride = stride; self.padding = padding
    }

    /// Weight `[O, C, k, k]` and bias `[O]`.
    public var parameterShapes: [[Int]] { [[outputChannels, inputChannels, kernelSize, kernelSize], [outputChannels]] }

    /// The output shape for an input shape.
    /// - Throws: ``/Tensors/ConvolutionError`` (rank, channel mismatch, kernel larger than the padded input).
    public func outputShape(for input: [Int]) throws -> [Int] {
        try ConvolutionGeometry.checked(input: input, filter: parameterShapes[0], stride: stride, padding: padding).outputShape
    }

    /// `x ⋆ W + b` in any algebra.
    @inlinable
    public func callAsFunction<A: ConvolutionAlgebra>(_ x: A, weight: A, bias: A) -> A {
        A.conv2d(x, weight, stride: stride, padding: padding).addingChannelBias(bias)
    }

    /// PyTorch's default initialization: weight and bias uniform in ±1/√fan_in, fan_in = C·k·k.
    public func initialParameters<E: TensorScalar, G: RandomNumberGenerator>(_: E.Type, using rng: inout G) -> [Tensor<E>] {
        let bound = 1 / Double(inputChannels * kernelSize * kernelSize).squareRoot()
        return [Tensor.randomUniform(parameterShapes[0], bound: bound, using: &rng),
                Tensor.randomUniform(parameterShapes[1], bound: bound, using: &rng)]
    }
}

/// The convolutional network of the study: conv(1→16, 5×5, pad 2) → ReLU → max-pool 2 →
/// conv(16→32, 5×5, pad 2) → ReLU → max-pool 2 → flatten (1568) → linear(1568→128) → ReLU →
/// linear(128→10); 215,370 parameters with the defaults. Inputs are `[N, C·H·W]` rows
/// (e.g. flattened 28×28 images), reshaped to `[N, C, H, W]`.
public struct CNN: Model {
    /// The model name used by the CLI and in checkpoints: "cnn".
    public var name: String { "cnn" }
    /// The input image: C channels of H × W pixels.
    public let inputChannels: Int, height: Int, width: Int
    /// The conv → ReLU → max-pool stages, in order.
    public let convolutions: [Conv2D]
    /// The fully connected layers after flattening: hidden (flattened → hidden size) and output (→ classes).
    public let hidden: Linear, output: Linear
    /// The layout of θ (PyTorch names, e.g. "conv1.weight" [O, C, k, k], "fc1.bias" [out]).
    public let layout: ParameterLayout
    /// Channels × height × width entering the first fully connected layer.
    public let flattenedSize: Int

    /// A CNN of `channels.count` conv → ReLU → max-pool stages, then two linear layers.
    /// - Throws: ``/Tensors/ConvolutionError`` when a stage does not fit its input (kernel larger than the
    ///   padded input, odd size before a pooling), or ``ModelError`` for empty or non-positive sizes.
    public init(inputChannels: Int = 1, height: Int = 28, width: Int = 28, channels: [Int] = [16, 32],
                kernelSize: Int = 5, padding: Int = 2, hiddenSize: Int = 128, classCount: Int = 10) throws {
        guard inputChannels > 0, height > 0, width > 0, !channels.isEmpty, channels.allSatisfy({ $0 > 0 }),
              kernelSize > 0, padding >= 0, hiddenSize > 0, classCount > 0 else {
            throw ModelError.inputShape(model: "cnn", expected: "positive sizes", actual: [inputChannels, height, width] + channels + [kernelSize, hiddenSize, classCount])
        }
        var shape = [1, inputChannels, height, width]
        var convs: [Conv2D] = []
        var c = inputChannels
        for o in channels {
            let conv = Conv2D(c, o, kernelSize: kernelSize, stride: 1, padding: padding)
            shape = try conv.outputShape(for: shape)
            try Tensor<Float>.checkMaxPool2x2(shape)
            shape = [shape[0], shape[1], shape[2] / 2, shape[3] / 2]
            convs.append(conv)
            c = o
        }
        self.inputChannels = inputChannels; self.height = height; self.width = width
        self.convolutions = convs
        self.flattenedSize = shape[1] * shape[2] * shape[3]
        self.hidden = Linear(flattenedSize, hiddenSize)
        self.output = Linear(hiddenSize, classCount)
        var items: [(name: String, shape: [Int])] = []
        for (i, conv) in convs.enumerated() {
            items.append((name: "conv\(i + 1).weight", shape: conv.parameterShapes[0]))
            items.append((name: "conv\(i + 1).bias", shape: conv.parameterShapes[1]))
        }
        items += [(name: "fc1.weight", shape: hidden.parameterShapes[0]), (name: "fc1.bias", shape: hidden.parameterShapes[1]),
                  (name: "fc2.weight", shape: output.parameterShapes[0]), (name: "fc2.bias", shape: output.parameterShapes[1])]
        self.layout = ParameterLayout(items)
        let layout = self.layout
        self.slots = (convs.indices.map { "conv\($0 + 1)" } + ["fc1", "fc2"]).map { (layout.index(of: "\($0).weight"), layout.index(of: "\($0).bias")) }
    }

    /// Each layer's weight and bias positions in the layout, found by name: the convolutions, then the two linear layers.
    @usableFromInline let slots: [(weight: Int, bias: Int)]

    /// C·H·W, the length of one flattened input row.
    public var inputSize: Int { inputChannels * height * width }
    /// The number of classes (logits per sample).
    public var classCount: Int { output.outputSize }

    /// Logits `[N, classCount]` for flattened inputs `[N, inputSize]`; parameters one value per layout entry.
    @inlinable
    public func logits<A: ConvolutionAlgebra>(_ parameters: [A], input: A) -> A {
        var h = input.reshaped([input.shape[0], inputChannels, height, width])
        for (i, conv) in convolutions.enumerated() {
            h = conv(h, weight: parameters[slots[i].weight], bias: parameters[slots[i].bias]).relu().maxPool2x2()
        }
        let k = convolutions.count
        h = hidden(h.flattened(), weight: parameters[slots[k].weight], bias: parameters[slots[k].bias]).relu()
        return output(h, weight: parameters[slots[k + 1].weight], bias: parameters[slots[k + 1].bias])
    }

    /// A flat θ with PyTorch’s default initialization (uniform ±1/√fan_in for weights and biases), reproducible from `seed` (SplitMix64).
    public func initialParameters<E: TensorScalar>(_: E.Type, seed: UInt64) -> Tensor<E> {
        var rng = SplitMix64(seed: seed)
        var blocks: [Tensor<E>] = []
        for conv in convolutions { blocks += conv.initialParameters(E.self, using: &rng) }
        blocks += hidden.initialParameters(E.self, using: &rng)
        blocks += output.initialParameters(E.self, using: &rng)
        return layout.flatten(blocks)
    }
}

import Autodiff
import Probes
import Tensors

/// Errors of models and their inputs.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// The input batch has the wrong shape for the model.
    case inputShape(model: String, expected: String, actual: [Int])
    /// The labels do not match the batch or are out of range.
    case labels(String)
    /// An unknown model name.
    case unknownModel(String, known: [String])
    /// A model specification that is not valid: the message names the part (text, JSON path or
    /// layer with its shapes).
    case specification(String)
    /// Eval-mode BatchNorm layers without statistics (``SpecModel/withPopulationStatistics(at:input:chunk:)``).
    case missingStatistics(model: String, layers: [String])
    /// A per-sample quantity asked of a model whose loss couples the samples (``Model/couplesSamples``).
    case couplesSamples(model: String, operation: String)
    /// A train-mode BatchNorm layer that would see one value per feature or channel (a batch of
    /// one row; for `[N, C, H, W]`, N·H·W = 1): its batch variance is zero. PyTorch refuses the
    /// same ("Expected more than 1 value per channel when training").
    case batchTooSmall(model: String, layer: String, rows: Int)

    public var description: String {
        switch self {
        case let .inputShape(model, expected, actual): return "\(model): input must have shape \(expected), got \(actual)"
        case let .labels(message): return message
        case let .unknownModel(name, known): return "unknown model '\(name)'; known models: \(known.joined(separator: ", "))"
        case let .specification(message): return message
        case let .missingStatistics(model, layers):
            return "\(model): BatchNorm layers \(layers.joined(separator: ", ")) have no eval-mode statistics (compute them at θ with withPopulationStatistics, or use train mode)"
        case let .couplesSamples(model, operation):
            return "\(model): \(operation) is not defined while BatchNorm uses batch statistics (train mode couples the samples of a batch); use eval mode"
        case let .batchTooSmall(model, layer, rows):
            return "\(model): BatchNorm layer \(layer) in train mode needs more than 1 value per channel, a batch of \(rows) row\(rows == 1 ? "" : "s") gives 1 (use a larger batch or eval mode)"
        }
    }
}

/// A classifier written once over the algebra protocols, with its parameters in one flat vector
/// laid out by ``layout``.
///
/// ``logits(_:input:)`` runs in every ``/Autodiff/ConvolutionAlgebra``, which covers every number system
/// of the package; a model whose layers need only ``/Autodiff/TensorAlgebra`` (the MLP) conforms to
/// ``TensorModel``, and its ``ModelLoss`` is then a ``/Autodiff/TensorObjective``.
public protocol Model: Sendable {
    /// A short name ("mlp", "cnn").
    var name: String { get }
    /// The layout of θ (names as in PyTorch: "fc1.weight", …).
    var layout: ParameterLayout { get }
    /// The number of input features per sample (784 for MNIST).
    var inputSize: Int { get }
    /// The number of classes.
    var classCount: Int { get }
    /// Logits `[N, classCount]` for inputs `[N, inputSize]`, parameters one value per layout entry.
    func logits<A: ConvolutionAlgebra>(_ parameters: [A], input: A) -> A
    /// A freshly initialized flat θ (PyTorch default initialization), reproducible from `seed`.
    func initialParameters<E: TensorScalar>(_: E.Type, seed: UInt64) -> Tensor<E>
    /// Whether the loss couples the samples of a batch (BatchNorm in train mode): such a loss is
    /// not a mean over chunks, so ``ModelLoss`` does not chunk it and per-sample quantities are
    /// refused. Default `false`.
    var couplesSamples: Bool { get }
    /// The model as one SGD step (or micro-batch) sees it: BatchNorm with batch statistics,
    /// dropout masks drawn from `seed`. Default: `self`.
    func training(seed: UInt64) -> Self
    /// Parameter groups for per-module curvature, each a name and layout entry names, covering
    /// the layout once. Default: ``/Probes/layerBlocks(of:)`` of the layout.
    var modules: [(name: String, entries: [String])] { get }
    /// Throws when the model cannot compute logits as configured (eval-mode BatchNorm without
    /// statistics); ``validate(input:labels:)`` calls it. Default: nothing to check.
    func checkEvaluable() throws
    /// Throws when the model cannot compute logits for a batch of `rows` rows (train-mode
    /// BatchNorm with one value per channel, ``ModelError/batchTooSmall(model:layer:rows:)``);
    /// ``validate(input:labels:)`` and ``evaluate(_:input:labels:batchSize:)`` call it.
    /// Default: nothing to check.
    func checkBatch(rows: Int) throws
}

extension Model {
    /// `false`: each sample's loss is its own.
    public var couplesSamples: Bool { false }
    /// `self`: no BatchNorm, no dropout.
    public func training(seed: UInt64) -> Self { self }
    /// The layout's layers (``/Probes/layerBlocks(of:)``): "fc1.weight" and "fc1.bias" form "fc1".
    public var modules: [(name: String, entries: [String])] { layerBlocks(of: layout) }
    /// Nothing to check.
    public func checkEvaluable() throws {}
    /// Nothing to check.
    public func checkBatch(rows: Int) throws {}
}

/// A ``Model`` without convolutions: its logits run in any ``/Autodiff/TensorAlgebra``.
public protocol TensorModel: Model {
    /// Logits `[N, classCount]` for inputs `[N, inputSize]`, parameters one value per layout entry.
    func logits<A: TensorAlgebra>(_ parameters: [A], input: A) -> A
}

extension Model {
    /// Checks an input batch and its labels, and that the model can run (``checkEvaluable()``,
    /// ``checkBatch(rows:)`` for the whole batch).
    /// - Throws: ``ModelError`` naming the problem.
    public func validate<E>(input: Tensor<E>, labels: [Int]) throws {
        try checkEvaluable()
        guard input.rank == 2, input.shape[1] == inputSize else {
            throw ModelError.inputShape(model: name, expected: "[N, \(inputSize)]", actual: input.shape)
        }
        if input.shape[0] > 0 { try checkBatch(rows: input.shape[0]) }
        guard labels.count == input.shape[0] else {
            throw ModelError.labels("\(name): \(labels.count) labels for a batch of \(input.shape[0])")
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= classCount }) {
            throw ModelError.labels("\(name): label \(bad) outside 0..<\(classCount)")
        }
    }

    /// The mean cross-entropy loss on a batch as an ``/Autodiff/Objective`` over θ.
    /// - Throws: ``ModelError`` if the batch or labels do not fit the model.
    public func loss<E: TensorScalar>(on input: Tensor<E>, labels: [Int]) throws -> ModelLoss<Self, E> {
        try validate(input: input, labels: labels)
        return ModelLoss(model: self, input: input, labels: labels)
    }

    /// Mean loss and accuracy of θ on a data set, evaluated in chunks of `batchSize` rows
    /// with plain tensors. `input` is `[N, inputSize]`. A model that couples its samples
    /// (train-mode BatchNorm) normalizes each chunk with that chunk's statistics.
    /// - Throws: ``ModelError`` or ``/Autodiff/AutodiffError`` for wrong shapes or lengths.
    public func evaluate<E: TensorScalar>(_ θ: Tensor<E>, input: Tensor<E>, labels: [Int], batchSize: Int) throws -> (loss: Double, accuracy: Double) {
        try validate(input: input, labels: labels)
        let params = try layout.split(θ)
        let n = input.shape[0]
        guard n > 0 else { return (.nan, .nan) }
        // The last chunk is the smallest.
        if n % max(batchSize, 1) != 0 { try checkBatch(rows: n % max(batchSize, 1)) }
        var totalLoss = 0.0, correct = 0
        for r in RowChunks(rows: n, size: max(batchSize, 1)) {
            let y = Array(labels[r])
            let z: Tensor<E> = logits(params, input: input.rows(r))
            totalLoss += Double(softmaxCrossEntropy(logits: z, labels: y).scalar) * Double(r.count)
            correct += zip(z.argmaxRows(), y).filter { $0 == $1 }.count
        }
        return (totalLoss / Double(n), Double(correct) / Double(n))
    }
}

/// The mean softmax cross-entropy of a model on a fixed batch, as a function of θ.
public struct ModelLoss<M: Model, E: TensorScalar>: Objective {
    /// The element type of θ and of the batch.
    public typealias Scalar = E
    /// The architecture that θ parameterizes: θ has `model.layout.parameterCount` entries, in the
    /// layout's order.
    public let model: M
    /// The batch, `[N, inputSize]`; a constant (no tangent, not taped).
    public let input: Tensor<E>
    /// The labels, `N` values in `0..<classCount`.
    public let labels: [Int]
    /// Rows per chunk of the batch (0: all at once): the loss is Σ_i (n_i/N)·loss_i over
    /// ``/Autodiff/RowChunks``, the same function, computed so that a forward-only algebra (plain values,
    /// duals, jets) holds one chunk's activations at a time. A tape records every chunk.
    public var chunkRows = 0
    /// The model’s layout of θ.
    public var layout: ParameterLayout { model.layout }

    /// The mean softmax cross-entropy of the model on the batch, in the algebra `A` (a rank-0 value).
    @inlinable
    public func callAsFunction<A: ConvolutionAlgebra>(_ parameters: [A]) -> A where A.Scalar == E {
        mean(parameters) { model.logits($0, input: $1) }
    }

    /// Σ_i (n_i/N)·cross-entropy(`logits(parameters, rows_i)`) over the chunks of ``chunkRows``;
    /// one chunk for a model that couples its samples (``Model/couplesSamples``).
    @inlinable
    func mean<A: TensorAlgebra>(_ parameters: [A], logits: ([A], A) -> A) -> A where A.Scalar == E {
        guard chunkRows > 0, labels.count > chunkRows, !model.couplesSamples else {
            return softmaxCrossEntropy(logits: logits(parameters, A(constant: input)), labels: labels)
        }
        let chunks = RowChunks(rows: labels.count, size: chunkRows)
        var total: A? = nil
        for i in chunks.indices {
            let r = chunks[i]
            let part = softmaxCrossEntropy(logits: logits(parameters, A(constant: input.rows(r))), labels: Array(labels[r]))
                .scaled(by: chunks.weight(i))
            total = total.map { $0 + part } ?? part
        }
        return total!
    }
}

extension ModelLoss: TensorObjective where M: TensorModel {
    /// The mean softmax cross-entropy in any algebra with tensor operations (a rank-0 value).
    @inlinable
    public func callAsFunction<A: TensorAlgebra>(_ parameters: [A]) -> A where A.Scalar == E {
        mean(parameters) { model.logits($0, input: $1) }
    }

    /// The same loss in a ``/Autodiff/ConvolutionAlgebra``: without it, a call with one would be ambiguous
    /// between the two overloads above.
    @inlinable
    public func callAsFunction<A: ConvolutionAlgebra>(_ parameters: [A]) -> A where A.Scalar == E {
        mean(parameters) { model.logits($0, input: $1) }
    }
}

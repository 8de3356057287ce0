import Autodiff
import Tensors

/// Which statistics a BatchNorm layer normalizes with.
public enum NormalizationMode: String, Codable, CaseIterable, Sendable {
    /// The batch's own mean and variance: the loss couples the samples of a batch (``Model/couplesSamples``).
    case train
    /// Fixed statistics (``SpecModel/statistics``), constants in θ: each sample's loss is its own.
    case eval
}

/// The model a ``ModelSpec`` describes, ready to run: its layers compiled once into a plan of
/// steps (shapes checked, parameter slots resolved), interpreted by ``logits(_:input:)`` with
/// one switch per layer, in every ``/Autodiff/ConvolutionAlgebra``.
///
/// Parameter names follow PyTorch: each parameterized layer is numbered in order per kind —
/// `fc1`, `conv2`, `bn1` (BatchNorm), `ln2` (LayerNorm), `res1.proj` (a residual projection),
/// `patch` and `pos_embedding` (patch embedding), `block1.norm1`, `block1.attn.q` / `.k` / `.v` /
/// `.out`, `block1.norm2`, `block1.mlp.fc1` / `.fc2` (transformer blocks) — with `.weight` and
/// `.bias`; a residual block's projection comes after its body. The presets' names are
/// ``MLP``'s and ``CNN``'s.
public struct SpecModel: Model {
    /// The specification this model was built from.
    public let spec: ModelSpec
    /// Which statistics BatchNorm layers use (default `.eval`: ``statistics``).
    public var normalization: NormalizationMode = .eval
    /// Eval-mode BatchNorm statistics by layer name (`bn1`, …): per feature (`[F]`) or channel
    /// (`[C]`) mean and biased variance, constants in θ (``withPopulationStatistics(at:input:chunk:)``).
    public var statistics: [String: (mean: Tensor<Double>, variance: Tensor<Double>)] = [:] {
        didSet { evalConstants = batchNormLayers.map { statistics[$0].map(Self.constants) } }
    }
    /// Per BatchNorm layer in order (``BatchNormStep/index``): the eval-mode mean and
    /// √(variance + ε) from ``statistics``, computed once when they are set; `nil` when missing.
    @usableFromInline var evalConstants: [(mean: Tensor<Double>, std: Tensor<Double>)?]

    /// The mean and √(variance + ε) of eval-mode statistics.
    static func constants(_ s: (mean: Tensor<Double>, variance: Tensor<Double>)) -> (mean: Tensor<Double>, std: Tensor<Double>) {
        (mean: s.mean, std: Tensor.sqrt(s.variance.shifted(by: normalizationEpsilon)))
    }
    /// The seed of the dropout masks (``training(seed:)``); `nil`: dropout is the identity.
    public var dropoutSeed: UInt64? = nil
    /// The layout of θ.
    public let layout: ParameterLayout
    /// ∏ ``ModelSpec/input``: the width of an input row.
    public let inputSize: Int
    /// The width of the last layer's output.
    public let classCount: Int
    /// Parameter groups for per-module curvature: one per parameterized layer (`fc1`, `bn1`,
    /// `res1.proj`, `patch` with `pos_embedding`), a transformer block as `blockK.norm`
    /// (both norms), `blockK.attn` (q, k, v, out) and `blockK.mlp`.
    public let modules: [(name: String, entries: [String])]
    /// The names of the BatchNorm layers, in order.
    public let batchNormLayers: [String]
    /// Whether some layer is a BatchNorm.
    public var hasBatchNorm: Bool { !batchNormLayers.isEmpty }
    /// Whether some layer is a dropout with p > 0.
    public let hasDropout: Bool
    /// The spec's name.
    public var name: String { spec.name }

    /// The compiled layers.
    @usableFromInline let steps: [Step]
    /// ``ModelSpec/input``.
    @usableFromInline let inputShape: [Int]
    /// One initializer per layout entry.
    let initializers: [Initializer]

    /// Whether the loss couples the samples of a batch: BatchNorm in train mode.
    public var couplesSamples: Bool { hasBatchNorm && normalization == .train }

    /// The model one SGD step sees: BatchNorm with batch statistics, dropout masks drawn from
    /// `seed` (``dropoutMask(seed:row:layer:count:p:)``: each sample's mask depends on the seed,
    /// the sample and the layer only, so a loss in chunks of rows is the same function).
    public func training(seed: UInt64) -> SpecModel {
        var m = self
        if hasBatchNorm { m.normalization = .train }
        if hasDropout { m.dropoutSeed = seed }
        return m
    }

    /// - Throws: ``ModelError/missingStatistics(model:layers:)`` in eval mode when a BatchNorm
    ///   layer has no statistics (or ones of the wrong size).
    public func checkEvaluable() throws {
        guard normalization == .eval else { return }
        let missing = zip(batchNormLayers, batchNormWidths).filter { name, width in
            guard let s = statistics[name] else { return true }
            return s.mean.count != width || s.variance.count != width
        }.map(\.0)
        if !missing.isEmpty { throw ModelError.missingStatistics(model: name, layers: missing) }
    }

    /// - Throws: ``ModelError/batchTooSmall(model:layer:rows:)`` in train mode when a BatchNorm
    ///   layer would see one value per feature or channel (`rows` · H·W = 1).
    public func checkBatch(rows: Int) throws {
        guard normalization == .train else { return }
        if let (name, _) = zip(batchNormLayers, batchNormPositions).first(where: { $0.1 * rows <= 1 }) {
            throw ModelError.batchTooSmall(model: self.name, layer: name, rows: rows)
        }
    }

    /// Each BatchNorm layer's feature or channel count.
    let batchNormWidths: [Int]
    /// Each BatchNorm layer's positions per channel: H·W for images, 1 for features.
    let batchNormPositions: [Int]

    // MARK: The plan

    /// A weight and a bias, as positions in the layout.
    @usableFromInline struct Slot: Sendable {
        @usableFromInline let weight: Int, bias: Int
    }

    /// A residual block's projection: a linear map, or a 1×1 convolution of `stride`.
    @usableFromInline struct Projection: Sendable {
        @usableFromInline let slot: Slot
        @usableFromInline let convolutionStride: Int?
    }

    /// A BatchNorm layer: its statistics' name, affine parameters, and whether it is per channel of `[N, C, H, W]`.
    @usableFromInline struct BatchNormStep: Sendable {
        @usableFromInline let name: String
        /// Its position among the BatchNorm layers (``evalConstants``).
        @usableFromInline let index: Int
        @usableFromInline let slot: Slot
        @usableFromInline let perChannel: Bool
    }

    /// A transformer block's parameters.
    @usableFromInline struct TransformerStep: Sendable {
        @usableFromInline let heads: Int
        @usableFromInline let norm1: Slot, q: Slot, k: Slot, v: Slot, out: Slot, norm2: Slot, fc1: Slot, fc2: Slot
    }

    /// One layer of the plan.
    @usableFromInline enum Step: Sendable {
        case linear(Slot)
        case conv2d(Slot, stride: Int, padding: Int)
        case relu, tanh, gelu, maxPool, globalAvgPool, flatten, tokenMean
        case avgPool(kernel: Int)
        /// Saves the input of a residual block.
        case residualStart
        /// Adds the saved input (projected) to the body's output.
        case residualEnd(Projection?)
        /// Normalizes groups of `features` trailing elements.
        case layerNorm(Slot, features: Int)
        case batchNorm(BatchNormStep)
        case dropout(p: Double)
        case patchEmbed(Slot, position: Int, patch: Int)
        case transformerBlock(TransformerStep)
    }

    /// How a layout entry is initialized (PyTorch's defaults per layer; attention's q, k, v, out as
    /// separate Linear layers, not `nn.MultiheadAttention`'s Xavier-uniform and zero biases).
    enum Initializer {
        /// Uniform in ±bound (Linear and Conv2d weights and biases, bound 1/√fan_in).
        case uniform(Double)
        /// Every element equal (norm weights 1, biases 0).
        case constant(Double)
        /// Normal with mean 0 and this standard deviation (position embeddings, 0.02).
        case normal(Double)
    }

    /// The ε of BatchNorm and LayerNorm (PyTorch's default).
    public static let normalizationEpsilon = 1e-5

    /// Compiles the spec.
    /// - Throws: ``ModelError/specification(_:)`` naming the layer and the shapes.
    init(spec: ModelSpec) throws {
        var compiler = SpecCompiler(model: spec.name)
        guard !spec.input.isEmpty, spec.input.allSatisfy({ $0 > 0 }), spec.input.count == 1 || spec.input.count == 3,
              SpecCompiler.count(spec.input) != nil else {
            throw ModelError.specification("model \(spec.name): the input shape must be [F] or [C, H, W] with positive sizes, got \(spec.input)")
        }
        guard !spec.layers.isEmpty else { throw ModelError.specification("model \(spec.name): no layers") }
        let out = try compiler.compile(spec.layers, input: spec.input, path: "layers")
        guard out.count == 1 else {
            throw ModelError.specification("model \(spec.name): the last layer's output must be the logits [classes], got per-sample shape \(out) (add flatten and a linear layer)")
        }
        self.spec = spec
        self.steps = compiler.steps
        self.inputShape = spec.input
        self.inputSize = spec.input.reduce(1, *)
        self.classCount = out[0]
        self.layout = ParameterLayout(compiler.entries)
        self.initializers = compiler.initializers
        self.modules = compiler.modules
        self.batchNormLayers = compiler.batchNorms.map(\.name)
        self.batchNormWidths = compiler.batchNorms.map(\.width)
        self.batchNormPositions = compiler.batchNorms.map(\.positions)
        self.evalConstants = Array(repeating: nil, count: compiler.batchNorms.count)
        self.hasDropout = compiler.hasDropout
    }

    // MARK: Running

    /// Logits `[N, classCount]` for input rows `[N, inputSize]` (reshaped to `[N] + input`);
    /// parameters one value per layout entry.
    /// - Precondition: in eval mode every BatchNorm layer has ``statistics`` (``checkEvaluable()``,
    ///   which ``Model/validate(input:labels:)`` calls, says which are missing).
    @inlinable
    public func logits<A: ConvolutionAlgebra>(_ parameters: [A], input: A) -> A {
        forward(parameters, input: input, upTo: steps.count)
    }

    /// The activations entering step `end` (the logits for `end == steps.count`).
    @inlinable
    func forward<A: ConvolutionAlgebra>(_ parameters: [A], input: A, upTo end: Int) -> A {
        run(parameters, inputShape.count == 1 ? input : input.reshaped([input.shape[0]] + inputShape), steps: 0..<end,
            rows: dropoutSeed == nil ? [] : Self.rowKeys(input.primalTensor))
    }

    /// The activations after `steps` for `h` entering the first of them (outside a residual
    /// body); `rows`: the samples' keys for dropout masks (``rowKeys(_:)``).
    @inlinable
    func run<A: ConvolutionAlgebra>(_ parameters: [A], _ start: A, steps range: Range<Int>, rows: [UInt64]) -> A {
        var h = start
        var saved: [A] = []
        var dropoutLayer = 0
        for step in steps[range] {
            switch step {
            case let .linear(s):
                h = A.matmul(h, parameters[s.weight], transposeA: false, transposeB: true).addingRowBroadcast(parameters[s.bias])
            case let .conv2d(s, stride, padding):
                h = A.conv2d(h, parameters[s.weight], stride: stride, padding: padding).addingChannelBias(parameters[s.bias])
            case .relu:
                h = h.relu()
            case .tanh:
                h = A.tanh(h)
            case .gelu:
                h = h.gelu()
            case .maxPool:
                h = h.maxPool2x2()
            case let .avgPool(k):
                h = Self.averagePool(h, kernel: k)
            case .globalAvgPool:
                let s = h.shape
                h = h.reshaped([s[0] * s[1], s[2] * s[3]]).sumColumns().scaled(by: 1 / Double(s[2] * s[3])).reshaped([s[0], s[1]])
            case .flatten:
                h = h.flattened()
            case .tokenMean:
                h = Self.tokenMean(h)
            case .residualStart:
                saved.append(h)
            case let .residualEnd(projection):
                let x = saved.removeLast()
                h = (projection.map { Self.project(x, $0, parameters) } ?? x) + h
            case let .layerNorm(s, features):
                h = Self.layerNorm(h, features: features, weight: parameters[s.weight], bias: parameters[s.bias])
            case let .batchNorm(b):
                h = batchNorm(h, b, parameters)
            case let .dropout(p):
                if let seed = dropoutSeed, p > 0 {
                    h = Self.dropout(h, p: p, seed: seed, rows: rows, layer: dropoutLayer)
                }
                dropoutLayer += 1
            case let .patchEmbed(s, position, patch):
                h = Self.patchEmbed(h, s, position: parameters[position], patch: patch, parameters)
            case let .transformerBlock(t):
                h = Self.transformerBlock(h, t, parameters)
            }
        }
        return h
    }

    /// k×k stride-k average pool of `[N, C, H, W]`: each channel as an image `[N·C, 1, H, W]`
    /// convolved with the constant filter 1/k².
    @inlinable
    static func averagePool<A: ConvolutionAlgebra>(_ x: A, kernel k: Int) -> A {
        let s = x.shape
        let filter = A(constant: Tensor(repeating: A.Scalar(1 / Double(k * k)), shape: [1, 1, k, k]))
        let y = A.conv2d(x.reshaped([s[0] * s[1], 1, s[2], s[3]]), filter, stride: k, padding: 0)
        return y.reshaped([s[0], s[1], y.shape[2], y.shape[3]])
    }

    /// `[N, T, D] → [N, D]`, the mean over tokens.
    @inlinable
    static func tokenMean<A: ConvolutionAlgebra>(_ x: A) -> A {
        let s = x.shape
        return x.permuted([0, 2, 1]).reshaped([s[0] * s[2], s[1]]).sumColumns().scaled(by: 1 / Double(s[1])).reshaped([s[0], s[2]])
    }

    /// `[N, C, H, W] → [N, T, dim]`: the convolution of kernel = stride = patch, its positions as
    /// tokens (row-major), plus the position embedding `[T, dim]`.
    @inlinable
    static func patchEmbed<A: ConvolutionAlgebra>(_ x: A, _ s: Slot, position: A, patch: Int, _ parameters: [A]) -> A {
        let y = A.conv2d(x, parameters[s.weight], stride: patch, padding: 0).addingChannelBias(parameters[s.bias])
        let (n, dim, tokens) = (y.shape[0], y.shape[1], y.shape[2] * y.shape[3])
        return y.reshaped([n, dim, tokens]).permuted([0, 2, 1]).reshaped([n, tokens * dim])
            .addingRowBroadcast(position.reshaped([tokens * dim])).reshaped([n, tokens, dim])
    }

    /// A pre-norm transformer encoder block on `[N, T, D]`: x + MHSA(LN₁(x)), then
    /// x + FFN(LN₂(x)). Heads split D into H slices of D/H (`[N·H, T, D/H]`); attention
    /// softmax(q kᵀ/√(D/H)) v per head (Vaswani et al. 2017, eq. 1), the softmax over keys.
    @inlinable
    static func transformerBlock<A: ConvolutionAlgebra>(_ x: A, _ t: TransformerStep, _ parameters: [A]) -> A {
        let (n, tokens, d) = (x.shape[0], x.shape[1], x.shape[2])
        let rows = n * tokens, h = t.heads, dh = d / h
        func linear(_ a: A, _ s: Slot) -> A {
            A.matmul(a, parameters[s.weight], transposeA: false, transposeB: true).addingRowBroadcast(parameters[s.bias])
        }
        func norm(_ a: A, _ s: Slot) -> A { layerNorm(a, features: d, weight: parameters[s.weight], bias: parameters[s.bias]) }
        // [N·T, D] → [N·H, T, D/H] and back.
        func split(_ a: A) -> A { a.reshaped([n, tokens, h, dh]).permuted([0, 2, 1, 3]).reshaped([n * h, tokens, dh]) }
        func merge(_ a: A) -> A { a.reshaped([n, h, tokens, dh]).permuted([0, 2, 1, 3]).reshaped([rows, d]) }
        let x0 = x.reshaped([rows, d])
        let a = norm(x0, t.norm1)
        let q = split(linear(a, t.q)), k = split(linear(a, t.k)), v = split(linear(a, t.v))
        let scores = A.batchedMatmul(q, k, transposeA: false, transposeB: true).scaled(by: 1 / Double(dh).squareRoot())
        let weights = scores.reshaped([n * h * tokens, tokens]).softmax().reshaped([n * h, tokens, tokens])
        let x1 = x0 + linear(merge(A.batchedMatmul(weights, v, transposeA: false, transposeB: false)), t.out)
        let x2 = x1 + linear(linear(norm(x1, t.norm2), t.fc1).gelu(), t.fc2)
        return x2.reshaped([n, tokens, d])
    }

    /// A residual block's projection of its input.
    @inlinable
    static func project<A: ConvolutionAlgebra>(_ x: A, _ p: Projection, _ parameters: [A]) -> A {
        if let stride = p.convolutionStride {
            return A.conv2d(x, parameters[p.slot.weight], stride: stride, padding: 0).addingChannelBias(parameters[p.slot.bias])
        }
        return A.matmul(x, parameters[p.slot.weight], transposeA: false, transposeB: true).addingRowBroadcast(parameters[p.slot.bias])
    }

    /// Layer normalization of each group of `features` trailing elements, then `· weight + bias`
    /// elementwise (weight and bias have `features` elements).
    @inlinable
    static func layerNorm<A: ConvolutionAlgebra>(_ x: A, features f: Int, weight: A, bias: A) -> A {
        let shape = x.shape
        let rows = shape.reduce(1, *) / f
        let h = x.reshaped([rows, f])
        let mean = h.sumColumns().scaled(by: 1 / Double(f))
        let centered = h - mean.broadcastColumns(f)
        let variance = (centered * centered).sumColumns().scaled(by: 1 / Double(f))
        let normalized = centered / A.sqrt(variance.shifted(by: normalizationEpsilon)).broadcastColumns(f)
        return (normalized * weight.reshaped([f]).broadcastRows(rows)).addingRowBroadcast(bias.reshaped([f])).reshaped(shape)
    }

    /// Batch normalization with the batch's statistics (train mode) or ``statistics`` (eval mode).
    @inlinable
    func batchNorm<A: ConvolutionAlgebra>(_ x: A, _ b: BatchNormStep, _ parameters: [A]) -> A {
        let shape = x.shape
        let weight = parameters[b.slot.weight], bias = parameters[b.slot.bias]
        // Per feature of [N, F] over rows, or per channel of [N, C, H, W] over N, H, W.
        func spread(_ v: A) -> A { b.perChannel ? v.broadcastChannels(to: shape) : v.broadcastRows(shape[0]) }
        let mean: A, std: A
        switch normalization {
        case .train:
            let count = Double(shape.reduce(1, *) / shape[1])     // N, or N·H·W
            func average(_ v: A) -> A { (b.perChannel ? v.sumChannels() : v.sumRows()).scaled(by: 1 / count) }
            mean = average(x)
            let c = x - spread(mean)
            std = A.sqrt(average(c * c).shifted(by: Self.normalizationEpsilon))
            let y = c / spread(std) * spread(weight)
            return b.perChannel ? y.addingChannelBias(bias) : y.addingRowBroadcast(bias)
        case .eval:
            guard let s = evalConstants[b.index] else {
                preconditionFailure("\(ModelError.missingStatistics(model: name, layers: [b.name]))")
            }
            mean = A(constant: Tensor(converting: s.mean))
            std = A(constant: Tensor(converting: s.std))
            let y = (x - spread(mean)) / spread(std) * spread(weight)
            return b.perChannel ? y.addingChannelBias(bias) : y.addingRowBroadcast(bias)
        }
    }

    /// Inverted dropout: each element kept with probability 1 − p and scaled by 1/(1 − p), row
    /// i's mask ``dropoutMask(seed:row:layer:count:p:)`` of its key `rows[i]`.
    @inlinable
    static func dropout<A: ConvolutionAlgebra>(_ x: A, p: Double, seed: UInt64, rows: [UInt64], layer: Int) -> A {
        let n = x.shape[0]
        guard n > 0 else { return x }
        let count = x.shape.reduce(1, *) / n
        precondition(rows.count == n, "SpecModel.dropout: \(rows.count) row keys for a batch of \(n)")
        var mask: [A.Scalar] = []
        mask.reserveCapacity(n * count)
        for row in rows { appendDropoutMask(seed: seed, row: row, layer: layer, count: count, p: p, to: &mask) }
        return x * A(constant: Tensor(shape: x.shape, scalars: mask))
    }

    /// One sample's dropout mask: `count` values, 1/(1 − p) with probability 1 − p and 0
    /// otherwise, drawn in row-major order from SplitMix64 seeded by the training seed, the
    /// sample's key and the dropout layer's index (0, 1, … in order): the same sample gets the
    /// same mask in any batch or chunk.
    @inlinable
    public static func dropoutMask(seed: UInt64, row: UInt64, layer: Int, count: Int, p: Double) -> [Double] {
        var mask: [Double] = []
        mask.reserveCapacity(count)
        appendDropoutMask(seed: seed, row: row, layer: layer, count: count, p: p, to: &mask)
        return mask
    }

    /// ``dropoutMask(seed:row:layer:count:p:)`` appended to `mask` in the element type.
    @inlinable
    static func appendDropoutMask<E: TensorScalar>(seed: UInt64, row: UInt64, layer: Int, count: Int, p: Double, to mask: inout [E]) {
        var mix = SplitMix64(seed: seed)
        var rng = SplitMix64(seed: mix.next() ^ row ^ (UInt64(layer) &+ 1) &* 0x9E37_79B9_7F4A_7C15)
        let keep = E(1 / (1 - p))
        for _ in 0..<count { mask.append(rng.nextUnitInterval() >= p ? keep : 0) }
    }

    /// Each row's key for its dropout masks: an FNV-1a-style hash (Fowler–Noll–Vo: xor, then
    /// multiply by the 64-bit FNV prime) of the bit patterns of its values rounded to Float, so
    /// that a sample's key is the same in every batch and chunk, and in Float and Double.
    @inlinable
    public static func rowKeys<E: TensorScalar>(_ input: Tensor<E>) -> [UInt64] {
        let n = input.shape[0], width = input.count / max(n, 1)
        return input.withUnsafePointer { p in
            (0..<n).map { i in
                var h: UInt64 = 0xcbf2_9ce4_8422_2325
                for j in 0..<width { h = (h ^ UInt64(Float(p[i * width + j]).bitPattern)) &* 0x100_0000_01b3 }
                return h
            }
        }
    }

    // MARK: Initialization and statistics

    /// A flat θ with PyTorch's default initialization (``SpecModel`` lists them), drawn from one
    /// SplitMix64 stream in layout order: for the presets the θ of ``MLP`` and ``CNN``.
    public func initialParameters<E: TensorScalar>(_: E.Type, seed: UInt64) -> Tensor<E> {
        var rng = SplitMix64(seed: seed)
        let blocks: [Tensor<E>] = zip(layout.entries, initializers).map { entry, initializer in
            switch initializer {
            case let .uniform(bound): return Tensor.randomUniform(entry.shape, bound: bound, using: &rng)
            case let .constant(c): return Tensor(repeating: E(c), shape: entry.shape)
            case let .normal(std): return Tensor(converting: Tensor<Double>.randomNormal(entry.shape, using: &rng).scaled(by: std))
            }
        }
        return layout.flatten(blocks)
    }

    /// This model in eval mode with each BatchNorm layer's statistics the population mean and
    /// biased variance of its input over all rows of `input` at θ, layer by layer (layer k's with
    /// the layers before it already in eval mode): "precise BN" (Wu & Johnson 2021, §3), not an
    /// exponential running average. Plain tensors, `chunk` rows at a time (0: all), statistics
    /// accumulated in Double (Chan, Golub & LeVeque 1983). Without BatchNorm: `self` in eval mode.
    /// - Parameters: θ of the layout's length; `input` `[N, inputSize]`, N ≥ 1.
    /// - Throws: ``ModelError/inputShape(model:expected:actual:)``, ``/Autodiff/AutodiffError`` for a
    ///   wrong θ length, an empty input or a negative chunk.
    public func withPopulationStatistics<E: TensorScalar>(at θ: Tensor<E>, input: Tensor<E>, chunk: Int) throws -> SpecModel {
        var model = self
        model.normalization = .eval
        model.dropoutSeed = nil
        guard hasBatchNorm else { return model }
        guard input.rank == 2, input.shape[1] == inputSize else {
            throw ModelError.inputShape(model: name, expected: "[N, \(inputSize)]", actual: input.shape)
        }
        guard input.shape[0] > 0, chunk >= 0 else {
            throw AutodiffError.invalidArgument("BatchNorm statistics: need at least one row and a chunk ≥ 0, got \(input.shape[0]) rows, chunk \(chunk)")
        }
        let parameters = try layout.split(θ)
        model.statistics = [:]
        for (index, step) in steps.enumerated() {
            guard case let .batchNorm(b) = step else { continue }
            var count = 0.0, mean: [Double] = [], m2: [Double] = []
            for r in RowChunks(rows: input.shape[0], size: chunk) {
                let x = model.forward(parameters, input: input.rows(r), upTo: index)
                // Per channel: [n, C, H, W] → channel-major rows; per feature: [n, F].
                let s = x.shape, width = s[1]
                let inner = b.perChannel ? s[2] * s[3] : 1
                var chunkMean = [Double](repeating: 0, count: width), chunkM2 = [Double](repeating: 0, count: width)
                let n = Double(s[0] * inner)
                x.withUnsafePointer { p in
                    for c in 0..<width {
                        var sum = 0.0
                        for i in 0..<s[0] { for j in 0..<inner { sum += Double(p[(i * width + c) * inner + j]) } }
                        let μ = sum / n
                        var sq = 0.0
                        for i in 0..<s[0] { for j in 0..<inner { let d = Double(p[(i * width + c) * inner + j]) - μ; sq += d * d } }
                        chunkMean[c] = μ; chunkM2[c] = sq
                    }
                }
                if count == 0 { mean = chunkMean; m2 = chunkM2; count = n; continue }
                let total = count + n
                for c in 0..<width {
                    let δ = chunkMean[c] - mean[c]
                    mean[c] += δ * n / total
                    m2[c] += chunkM2[c] + δ * δ * count * n / total
                }
                count = total
            }
            model.statistics[b.name] = (mean: Tensor(mean), variance: Tensor(m2.map { $0 / count }))
        }
        return model
    }
}

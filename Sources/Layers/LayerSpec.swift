/// One layer of a ``ModelSpec``: what it computes on a batch whose per-sample shape is known
/// from the layers before it (``ModelSpec/make()`` checks each layer's input shape once).
///
/// Per-sample shapes: `[F]` (features), `[C, H, W]` (images), `[T, D]` (tokens). In JSON a layer
/// without settings is its kind as a string (`"relu"`), any other an object with its kind as
/// the one key (`{"linear": {"out": 10}}`,
/// `{"conv2d": {"out": 16, "kernel": 3, "stride": 2, "padding": 1}}`,
/// `{"residual": {"body": ["relu"], "projection": true}}`).
public indirect enum LayerSpec: Hashable, Sendable {
    /// `x Wᵀ + b` (PyTorch `nn.Linear`): `[F] → [out]`.
    case linear(out: Int)
    /// Cross-correlation `x ⋆ W + b` (PyTorch `nn.Conv2d`, square kernel, zero padding):
    /// `[C, H, W] → [out, Ho, Wo]`, `Ho = ⌊(H + 2·padding − kernel)/stride⌋ + 1`.
    case conv2d(out: Int, kernel: Int, stride: Int, padding: Int)
    /// max(x, 0), any shape.
    case relu
    /// tanh x, any shape.
    case tanh
    /// GELU, x·Φ(x) (Hendrycks & Gimpel 2016, the exact erf form), any shape.
    case gelu
    /// 2×2 stride-2 max-pool: `[C, H, W] → [C, H/2, W/2]` (H, W even).
    case maxPool
    /// k×k stride-k average pool: `[C, H, W] → [C, ⌊H/k⌋, ⌊W/k⌋]` (PyTorch `nn.AvgPool2d(k)`).
    case avgPool(kernel: Int)
    /// The mean over the spatial positions: `[C, H, W] → [C]`.
    case globalAvgPool
    /// `[…] → [∏…]`.
    case flatten
    /// `x + body(x)`, or `P x + body(x)` with a learned projection P (a 1×1 convolution of the
    /// stride that matches the spatial sizes for images, a linear map for features) when the
    /// shapes differ or `projection` is true (He et al. 2016, eq. 1 and 2). Tokens `[T, D]` have
    /// no projection: their body must keep the shape.
    case residual(body: [LayerSpec], projection: Bool)
    /// Layer normalization (Ba, Kiros & Hinton 2016) with an elementwise affine map, ε = 1e-5:
    /// over all per-sample axes (`[F]`, `[C, H, W]`; weight of that shape), or over D for each
    /// token of `[T, D]` (weight `[D]`, as `nn.LayerNorm(D)` in a transformer).
    case layerNorm
    /// Batch normalization (Ioffe & Szegedy 2015), ε = 1e-5, biased variance: per feature of `[F]`
    /// over the batch, or per channel of `[C, H, W]` over batch and positions. Train mode uses the
    /// batch's statistics (the samples are coupled), eval mode fixed ones (``SpecModel/statistics``).
    case batchNorm
    /// Inverted dropout with drop probability p ∈ [0, 1) (Srivastava et al. 2014): the identity
    /// except in a model from ``SpecModel/training(seed:)``.
    case dropout(p: Double)
    /// Patch embedding of a vision transformer (Dosovitskiy et al. 2021, eq. 1): a convolution of
    /// kernel = stride = patch to `dim` channels, the patches as tokens, plus a learned position
    /// embedding: `[C, H, W] → [T, dim]`, T = (H/patch)·(W/patch).
    case patchEmbed(patch: Int, dim: Int)
    /// A pre-norm transformer encoder block (Xiong et al. 2020): x + MHSA(LN(x)), then
    /// x + FFN(LN(x)) with FFN = Linear(D→mlp) → GELU → Linear(mlp→D); `[T, D] → [T, D]`, D
    /// divisible by `heads` (Vaswani et al. 2017, eq. 1 and 2 for the attention). The attention's
    /// q, k, v and out projections are four separate Linear layers (`blockK.attn.q`, …) with
    /// Linear's default initialization, uniform ±1/√D for weights and biases — not
    /// `nn.MultiheadAttention`'s Xavier-uniform in-projection and zero biases.
    case transformerBlock(heads: Int, mlp: Int)
    /// The mean over tokens: `[T, D] → [D]`.
    case tokenMean

    /// The layer kinds: the one list of names (JSON keys, the layer registry of the tests).
    public enum Kind: String, CaseIterable, Sendable {
        /// The kind of ``LayerSpec/linear(out:)``.
        case linear
        /// The kind of ``LayerSpec/conv2d(out:kernel:stride:padding:)``.
        case conv2d
        /// The kind of ``LayerSpec/relu``.
        case relu
        /// The kind of ``LayerSpec/tanh``.
        case tanh
        /// The kind of ``LayerSpec/gelu``.
        case gelu
        /// The kind of ``LayerSpec/maxPool``.
        case maxPool
        /// The kind of ``LayerSpec/avgPool(kernel:)``.
        case avgPool
        /// The kind of ``LayerSpec/globalAvgPool``.
        case globalAvgPool
        /// The kind of ``LayerSpec/flatten``.
        case flatten
        /// The kind of ``LayerSpec/residual(body:projection:)``.
        case residual
        /// The kind of ``LayerSpec/layerNorm``.
        case layerNorm
        /// The kind of ``LayerSpec/batchNorm``.
        case batchNorm
        /// The kind of ``LayerSpec/dropout(p:)``.
        case dropout
        /// The kind of ``LayerSpec/patchEmbed(patch:dim:)``.
        case patchEmbed
        /// The kind of ``LayerSpec/transformerBlock(heads:mlp:)``.
        case transformerBlock
        /// The kind of ``LayerSpec/tokenMean``.
        case tokenMean
    }

    /// This layer's kind.
    public var kind: Kind {
        switch self {
        case .linear: return .linear
        case .conv2d: return .conv2d
        case .relu: return .relu
        case .tanh: return .tanh
        case .gelu: return .gelu
        case .maxPool: return .maxPool
        case .avgPool: return .avgPool
        case .globalAvgPool: return .globalAvgPool
        case .flatten: return .flatten
        case .residual: return .residual
        case .layerNorm: return .layerNorm
        case .batchNorm: return .batchNorm
        case .dropout: return .dropout
        case .patchEmbed: return .patchEmbed
        case .transformerBlock: return .transformerBlock
        case .tokenMean: return .tokenMean
        }
    }
}

extension LayerSpec: Codable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private static func bare(_ kind: Kind) -> LayerSpec? {
        switch kind {
        case .relu: return .relu
        case .tanh: return .tanh
        case .gelu: return .gelu
        case .maxPool: return .maxPool
        case .globalAvgPool: return .globalAvgPool
        case .flatten: return .flatten
        case .layerNorm: return .layerNorm
        case .batchNorm: return .batchNorm
        case .tokenMean: return .tokenMean
        default: return nil
        }
    }

    private static var kindList: String { Kind.allCases.map(\.rawValue).joined(separator: ", ") }

    private static func kind(_ name: String, _ decoder: Decoder) throws -> Kind {
        guard let kind = Kind(rawValue: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown layer kind '\(name)'; known kinds: \(kindList)"))
        }
        return kind
    }

    /// Decodes `"relu"` or `{"kind": {settings}}`; unknown kinds or settings are errors naming them.
    public init(from decoder: Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let name = try? single.decode(String.self) {
            let kind = try Self.kind(name, decoder)
            guard let layer = Self.bare(kind) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                        debugDescription: "layer '\(name)' needs settings, e.g. \(Self.example(kind))"))
            }
            self = layer
            return
        }
        let outer = try decoder.container(keyedBy: Key.self)
        guard outer.allKeys.count == 1, let key = outer.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "a layer is a kind name or an object with one key, its kind (\(Self.kindList)); got keys \(outer.allKeys.map(\.stringValue))"))
        }
        let kind = try Self.kind(key.stringValue, decoder)
        if let layer = Self.bare(kind) {
            // `{"relu": {}}` is accepted as `"relu"`.
            let inner = try outer.nestedContainer(keyedBy: Key.self, forKey: key)
            try Self.reject(inner, allowed: [], kind: kind)
            self = layer
            return
        }
        let c = try outer.nestedContainer(keyedBy: Key.self, forKey: key)
        func int(_ name: String, default value: Int? = nil) throws -> Int {
            if let v = try c.decodeIfPresent(Int.self, forKey: Key(name)) { return v }
            if let value { return value }
            throw DecodingError.keyNotFound(Key(name), .init(codingPath: c.codingPath, debugDescription: "layer '\(kind.rawValue)' needs '\(name)', e.g. \(Self.example(kind))"))
        }
        switch kind {
        case .linear:
            try Self.reject(c, allowed: ["out"], kind: kind)
            self = .linear(out: try int("out"))
        case .conv2d:
            try Self.reject(c, allowed: ["out", "kernel", "stride", "padding"], kind: kind)
            self = .conv2d(out: try int("out"), kernel: try int("kernel"), stride: try int("stride", default: 1), padding: try int("padding", default: 0))
        case .avgPool:
            try Self.reject(c, allowed: ["kernel"], kind: kind)
            self = .avgPool(kernel: try int("kernel"))
        case .residual:
            try Self.reject(c, allowed: ["body", "projection"], kind: kind)
            self = .residual(body: try c.decode([LayerSpec].self, forKey: Key("body")),
                             projection: try c.decodeIfPresent(Bool.self, forKey: Key("projection")) ?? false)
        case .dropout:
            try Self.reject(c, allowed: ["p"], kind: kind)
            self = .dropout(p: try c.decode(Double.self, forKey: Key("p")))
        case .patchEmbed:
            try Self.reject(c, allowed: ["patch", "dim"], kind: kind)
            self = .patchEmbed(patch: try int("patch"), dim: try int("dim"))
        case .transformerBlock:
            try Self.reject(c, allowed: ["heads", "mlp"], kind: kind)
            self = .transformerBlock(heads: try int("heads"), mlp: try int("mlp"))
        default:
            preconditionFailure("LayerSpec: \(kind) is handled above")
        }
    }

    private static func reject(_ c: KeyedDecodingContainer<Key>, allowed: Set<String>, kind: Kind) throws {
        if let extra = c.allKeys.first(where: { !allowed.contains($0.stringValue) }) {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath,
                                                    debugDescription: "layer '\(kind.rawValue)' has no setting '\(extra.stringValue)'"
                                                        + (allowed.isEmpty ? "" : "; its settings: \(allowed.sorted().joined(separator: ", "))")))
        }
    }

    private static func example(_ kind: Kind) -> String {
        switch kind {
        case .linear: return #"{"linear": {"out": 10}}"#
        case .conv2d: return #"{"conv2d": {"out": 16, "kernel": 3, "stride": 1, "padding": 1}}"#
        case .avgPool: return #"{"avgPool": {"kernel": 2}}"#
        case .residual: return #"{"residual": {"body": [...], "projection": false}}"#
        case .dropout: return #"{"dropout": {"p": 0.1}}"#
        case .patchEmbed: return #"{"patchEmbed": {"patch": 7, "dim": 32}}"#
        case .transformerBlock: return #"{"transformerBlock": {"heads": 4, "mlp": 64}}"#
        default: return "\"\(kind.rawValue)\""
        }
    }

    /// Encodes a layer without settings as its kind string, any other as `{"kind": {settings}}`.
    public func encode(to encoder: Encoder) throws {
        if Self.bare(kind) != nil {
            var c = encoder.singleValueContainer()
            try c.encode(kind.rawValue)
            return
        }
        var outer = encoder.container(keyedBy: Key.self)
        var c = outer.nestedContainer(keyedBy: Key.self, forKey: Key(kind.rawValue))
        switch self {
        case let .linear(out):
            try c.encode(out, forKey: Key("out"))
        case let .conv2d(out, kernel, stride, padding):
            try c.encode(out, forKey: Key("out")); try c.encode(kernel, forKey: Key("kernel"))
            try c.encode(stride, forKey: Key("stride")); try c.encode(padding, forKey: Key("padding"))
        case let .avgPool(kernel):
            try c.encode(kernel, forKey: Key("kernel"))
        case let .residual(body, projection):
            try c.encode(body, forKey: Key("body")); try c.encode(projection, forKey: Key("projection"))
        case let .dropout(p):
            try c.encode(p, forKey: Key("p"))
        case let .patchEmbed(patch, dim):
            try c.encode(patch, forKey: Key("patch")); try c.encode(dim, forKey: Key("dim"))
        case let .transformerBlock(heads, mlp):
            try c.encode(heads, forKey: Key("heads")); try c.encode(mlp, forKey: Key("mlp"))
        default:
            preconditionFailure("LayerSpec: \(kind) has no settings")
        }
    }
}

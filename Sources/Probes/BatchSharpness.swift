import Autodiff
import Tensors

/// Mini-batches of a training set as an SGD step sees them: `batchSize` samples drawn without
/// replacement, and the mean loss on them. Batch k of a seed is fixed by (seed, k), so a probe
/// with a fixed seed measures the same batches at every point (every epoch).
public struct MiniBatchSource<E: TensorScalar> {
    /// Samples of the data set the batches are drawn from.
    public let samples: Int
    /// The batch size asked for (the run's SGD batch size).
    public let batchSize: Int
    let lossOfRows: ([Int]) throws -> LossFunction<E>

    /// - Parameters:
    ///   - samples: n ≥ 1, the rows of the data set.
    ///   - batchSize: B ≥ 1; a B larger than n gives batches of all n samples (``rowsPerBatch``).
    ///   - loss: the mean loss on the given positions (each in `0..<samples`, distinct).
    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` for n < 1 or B < 1.
    public init(samples: Int, batchSize: Int, loss: @escaping ([Int]) throws -> LossFunction<E>) throws {
        guard samples >= 1, batchSize >= 1 else {
            throw AutodiffError.invalidArgument("mini-batches: need at least one sample and a batch size ≥ 1, got \(samples) samples and batch size \(batchSize)")
        }
        self.samples = samples; self.batchSize = batchSize; lossOfRows = loss
    }

    /// Samples per batch: min(``batchSize``, ``samples``); a batch size larger than the data
    /// uses all of it (every batch is then the whole data set, and batch sharpness measures one).
    public var rowsPerBatch: Int { min(batchSize, samples) }

    /// The positions of batch `k` (≥ 0) of `seed`: ``rowsPerBatch`` distinct positions in
    /// `0..<samples`, uniform without replacement (``/Tensors/SplitMix64/sample(_:from:)``) from the
    /// generator seeded with `SplitMix64.derivedSeed(seed, stream: k)`, in the order drawn.
    public func rows(ofBatch k: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: SplitMix64.derivedSeed(seed, stream: UInt64(bitPattern: Int64(k))))
        return rng.sample(rowsPerBatch, from: samples)
    }

    /// The mean loss on batch `k` of `seed` (``rows(ofBatch:seed:)``).
    /// - Throws: the loss builder's errors.
    public func loss(ofBatch k: Int, seed: UInt64) throws -> LossFunction<E> {
        try lossOfRows(rows(ofBatch: k, seed: seed))
    }
}

/// Batch sharpness at θ: the per-batch values and their mean; see
/// ``batchSharpness(of:at:batches:seed:)``.
public struct BatchSharpness: Sendable {
    /// g_Bᵀ H_B g_B / ‖g_B‖² of each batch, in batch order (nan for a batch whose gradient is 0).
    public let values: [Double]
    /// ‖g_B‖ of each batch.
    public let gradientNorms: [Double]
    /// Samples per batch.
    public let batchSize: Int
    /// Whether a batch is the whole data set (batch size ≥ samples): then there is one batch.
    public let isWholeData: Bool
    /// The mean of ``values``.
    public var mean: Double { values.reduce(0, +) / Double(values.count) }
    /// The standard error of ``mean`` over the batches, s/√K (sample standard deviation; nan for
    /// one batch of a sample, 0 for the whole data set, which is no sample).
    public var standardError: Double {
        if isWholeData { return 0 }
        let m = mean
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1) / Double(values.count)).squareRoot()
    }
    /// The mean of ``gradientNorms``.
    public var meanGradientNorm: Double { gradientNorms.reduce(0, +) / Double(gradientNorms.count) }
}

/// Batch sharpness (Andreyev & Beneventano, "Edge of Stochastic Stability: Revisiting the Edge of
/// Stability for SGD", arXiv:2412.20553, 2024): the expected curvature of a mini-batch's loss
/// L_B along its own gradient g_B = ∇L_B(θ),
///
///     E_B[ g_Bᵀ ∇²L_B(θ) g_B / ‖g_B‖² ],
///
/// the quantity that settles near 2/η under SGD where the full-batch λ_max stays below it. The
/// expectation is the mean over batches 0..<`batches` of `seed` (``MiniBatchSource``), each of
/// the source's batch size, as in the authors' estimator (the mean of the ratios, batches drawn
/// without replacement).
///
/// Per batch: one reverse pass for g_B, then one forward Taylor pass of order 2 along the unit
/// direction u = g_B/‖g_B‖ (``LossFunction/taylorCoefficients(at:along:order:)``): the second
/// normalized coefficient of t ↦ L_B(θ + t·u) is c₂ = ½ uᵀ∇²L_B u, so the ratio is 2c₂ — no
/// Hessian-vector product (the unit direction keeps a tiny or huge ‖g_B‖ from under- or
/// overflowing c₂ in Float32).
///
/// - Parameters:
///   - θ: length d.
///   - batches: K ≥ 1 (K ≥ 2 for a standard error). When a batch is the whole data set (the
///     source's batch size ≥ its samples), every batch is the same: one is measured.
/// - Returns: the K ratios and gradient norms. A batch whose gradient is exactly 0 has no
///   direction: its ratio is nan, and so is the mean (kept by the non-finite rule,
///   ``nonFiniteWarning(_:what:note:kept:)``).
/// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` for K < 1 or a mini-batch loss without a
///   Taylor-mode route; the losses' errors (θ that does not fit the layout).
public func batchSharpness<E: TensorScalar>(of source: MiniBatchSource<E>, at θ: Tensor<E>, batches: Int, seed: UInt64) throws -> BatchSharpness {
    guard batches >= 1 else { throw AutodiffError.invalidArgument("\(BatchSharpnessProbe.name): need at least one mini-batch, got \(batches)") }
    var values: [Double] = [], norms: [Double] = []
    let whole = source.rowsPerBatch == source.samples
    for k in 0..<(whole ? 1 : batches) {
        let f = try source.loss(ofBatch: k, seed: seed)
        guard f.hasTaylorCoefficients else {
            throw AutodiffError.invalidArgument("\(BatchSharpnessProbe.name): the mini-batch loss has no Taylor-mode (jet) route; give the mini-batch source losses built from an Objective (LossFunction(_:), Model.meanLoss)")
        }
        let (_, g) = try f.valueWithGradient(at: θ)
        let n = g.norm()
        norms.append(n)
        guard n > 0, n.isFinite else {
            values.append(.nan)
            continue
        }
        let c = try f.taylorCoefficients(at: θ, along: g.scaled(by: 1 / n), order: 2)
        values.append(2 * c[2])
    }
    return BatchSharpness(values: values, gradientNorms: norms, batchSize: source.rowsPerBatch, isWholeData: whole)
}

/// Batch sharpness as a probe (``batchSharpness(of:at:batches:seed:)``), on the context's
/// mini-batches (``ProbeContext/miniBatches``: the run's training split and batch size).
public struct BatchSharpnessProbe: Probe {
    public static let name = "batch_sharpness"
    /// K, the mini-batches averaged: 0 chooses K from the batch size B (``batchCount(batchSize:)``:
    /// ⌈``automaticSamples``/B⌉, at least ``automaticMinimum``); else at least 2, for a standard
    /// error. One when a batch is the whole data set (``MiniBatchSource/rowsPerBatch``).
    public var batches = 0
    /// Seed of the mini-batches: the same K batches at every point, so epochs are compared on
    /// the same data.
    public var seed: UInt64 = 4

    /// Samples the automatic K covers: K·B ≈ 4,096. Each batch costs 2.1–2.3 value-with-gradients
    /// of the batch (one reverse pass, one order-2 jet; Notes/probes.md), so the cost grows with
    /// K·B, and so does the precision: at B = 64 the ratios of a trained MLP or CNN spread by about
    /// half their mean, and K = 64 puts the standard error near 6 %, at 17 % of the cost of a
    /// 55,000-sample training epoch (143 value-with-gradients against 860).
    public static let automaticSamples = 4096
    /// The smallest automatic K (B > 1,024), for a standard error: at B = 2048 the ratios spread by
    /// 2–5 % of their mean after an epoch or more of training, and 4 batches cost a third of a
    /// training epoch of 27 steps (a fixed K = 20 there would cost 1.6 epochs).
    public static let automaticMinimum = 4

    public init() {}
    /// K batches (0: automatic, ``batchCount(batchSize:)``) drawn with `seed`.
    public init(batches: Int, seed: UInt64) { self.batches = batches; self.seed = seed }

    /// K for batches of `batchSize` samples: ``batches``, or when it is 0,
    /// max(``automaticMinimum``, ⌈``automaticSamples``/`batchSize`⌉).
    public func batchCount(batchSize: Int) -> Int {
        batches > 0 ? batches : max(Self.automaticMinimum, (Self.automaticSamples + max(batchSize, 1) - 1) / max(batchSize, 1))
    }

    public struct Result: ProbeResult {
        /// The mean over batches and its standard error, K, the batch size, and the mean ‖g_B‖.
        public var mean = Double.nan, standardError = Double.nan, batches = 0, batchSize = 0, gradientNorm = Double.nan
        public init() {}
        public static var fields: [ProbeField<Result>] {
            [.init("batch_sharpness", \.mean), .init("batch_sharpness_stderr", \.standardError), .init("batch_sharpness_batches", \.batches),
             .init("batch_sharpness_batch_size", \.batchSize), .init("batch_gradient_norm", \.gradientNorm)]
        }
    }

    public func validate() throws {
        let r = ProbeLimits.batchSharpnessBatches
        guard batches == 0 || r.contains(batches) else {
            throw invalid("batches", "must be 0 (automatic) or in \(r.lowerBound)...\(r.upperBound), got \(batches)")
        }
    }

    public func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> Result {
        let source = try context.miniBatches(for: Self.name)
        let s = try batchSharpness(of: source, at: context.point, batches: batchCount(batchSize: source.rowsPerBatch), seed: seed)
        var out = Result()
        out.mean = s.mean; out.standardError = s.standardError; out.batches = s.values.count; out.batchSize = s.batchSize
        out.gradientNorm = s.meanGradientNorm
        return out
    }
}

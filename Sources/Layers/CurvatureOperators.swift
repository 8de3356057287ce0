import Autodiff
import Probes
import Tensors

/// The generalized Gauss–Newton matrix G = Jᵀ ∇²ℓ J of a model's mean softmax cross-entropy on a
/// batch (Schraudolph 2002; Martens 2020): J the Jacobian of the logits with respect to θ, ∇²ℓ
/// the cross-entropy's Hessian in the logits, (diag(p) − ppᵀ)/N per sample with p = softmax(z).
/// Positive semi-definite; equal to the Hessian when the logits are linear in θ. One product is
/// a JVP (forward mode) and a VJP (reverse mode) of the logits.
public struct GaussNewtonOperator<M: Model, E: TensorScalar>: SymmetricOperator {
    public typealias Scalar = E
    /// The model whose logits J differentiates.
    public let model: M
    /// θ (length d).
    public let point: Tensor<E>
    /// The batch, [N, inputSize].
    public let input: Tensor<E>
    /// The N class labels.
    public let labels: [Int]
    public var dimension: Int { point.count }
    @usableFromInline let probabilities: Tensor<E>

    /// - Throws: ``ModelError`` for a batch that does not fit the model, ``/Autodiff/AutodiffError`` for a
    ///   wrong θ length.
    public init(model: M, at θ: Tensor<E>, input: Tensor<E>, labels: [Int]) throws {
        try model.validate(input: input, labels: labels)
        try model.layout.validate(θ)
        self.model = model; self.point = θ; self.input = input; self.labels = labels
        let z: Tensor<E> = model.logits(try model.layout.split(θ), input: input)
        probabilities = Tensor.exp(z.logSoftmax())
    }

    public func apply(_ v: Tensor<E>) throws -> Tensor<E> {
        try validate(v)
        let layout = model.layout
        let blocks = try layout.split(point), dirs = try layout.split(v, as: "the vector")
        // J v: the logits' tangent.
        let jv = model.logits(zip(blocks, dirs).map { Dual(primal: $0, tangent: $1) }, input: Dual(constant: input)).tangentOrZero
        // ∇²ℓ (J v) = (p ⊙ u − p · rowsum(p ⊙ u)) / N for u = J v.
        let p = probabilities, n = Double(input.shape[0])
        let pu = p * jv
        let hu = (pu - p * pu.sumColumns().broadcastColumns(p.shape[1])).scaled(by: 1 / n)
        // Jᵀ (∇²ℓ J v): the cotangent of θ for the logits' cotangent hu.
        let tape = Tape<Tensor<E>>()
        let vars = blocks.map { tape.variable($0) }
        let z = model.logits(vars, input: Tracked(constant: input))
        let out = (z * Tracked(untracked: hu)).sum()
        let cot = tape.cotangents(of: out, seed: Tensor(1))
        return try finite(layout.flatten(vars.map { cot[$0.index] ?? $0.value.zerosLike() }), "the Gauss–Newton product")
    }
}

/// The empirical Fisher F = (1/N) Σ_i g_i g_iᵀ of a model's cross-entropy on a batch, g_i the
/// gradient of sample i's loss (Kunstner, Balles & Hennig 2019 on its use and misuse).
/// Positive semi-definite. Building it takes N backward passes and keeps the N×d matrix of
/// per-sample gradients; a product is then two GEMVs.
public struct EmpiricalFisherOperator<E: TensorScalar>: SymmetricOperator {
    public typealias Scalar = E
    /// Per-sample gradients, `[N, d]`.
    public let gradients: Tensor<E>
    public var dimension: Int { gradients.shape[1] }

    /// - Throws: ``ModelError`` or ``/Autodiff/AutodiffError`` for a batch or θ that does not fit the model;
    ///   ``ModelError/couplesSamples(model:operation:)`` for a model whose loss couples the samples.
    public init<M: Model>(model: M, at θ: Tensor<E>, input: Tensor<E>, labels: [Int]) throws {
        try model.validate(input: input, labels: labels)
        guard !model.couplesSamples else { throw ModelError.couplesSamples(model: model.name, operation: "the empirical Fisher (per-sample gradients)") }
        var rows: [E] = []
        rows.reserveCapacity(input.shape[0] * θ.count)
        for i in 0..<input.shape[0] {
            let g = try gradient(of: try model.loss(on: input.rows(i..<(i + 1)), labels: [labels[i]]), at: θ)
            rows += g.scalars
        }
        gradients = Tensor(shape: [input.shape[0], θ.count], scalars: rows)
    }

    public func apply(_ v: Tensor<E>) throws -> Tensor<E> {
        try validate(v)
        let n = gradients.shape[0]
        let gv = Tensor.matmul(gradients, v.reshaped([dimension, 1]))                       // [N, 1]
        return Tensor.matmul(gradients, gv, transposeA: true).reshaped([dimension]).scaled(by: 1 / Double(n))
    }
}

/// The curvature matrices a probe can run on.
public enum CurvatureKind: String, CaseIterable, Codable, Sendable {
    /// The Hessian of the loss.
    case hessian
    /// The generalized Gauss–Newton matrix (``GaussNewtonOperator``).
    case ggn
    /// The empirical Fisher (``EmpiricalFisherOperator``).
    case fisher

    /// This curvature of `model`'s mean cross-entropy over the rows of `input` ([N, inputSize])
    /// at θ, summed over chunks of `chunkSize` rows (0, or a model that couples its samples: one chunk) with weights n_i/N
    /// (``/Probes/ChunkedOperator``): the same matrix as on the whole batch, to round-off.
    /// - Throws: ``ModelError`` for a batch that does not fit the model, ``/Autodiff/AutodiffError`` for a
    ///   wrong θ length or an empty batch.
    public func matrix<M: Model, E: TensorScalar>(of model: M, at θ: Tensor<E>, input: Tensor<E>, labels: [Int], chunkSize: Int = 0,
                                                  records: ChunkRecords = .kept) throws -> AnySymmetricOperator<E> {
        try model.validate(input: input, labels: labels)
        try model.layout.validate(θ)
        guard !labels.isEmpty else { throw AutodiffError.invalidArgument("\(rawValue): the batch is empty") }
        guard chunkSize >= 0 else { throw AutodiffError.invalidArgument("\(rawValue): the chunk size must be ≥ 0, got \(chunkSize)") }
        // A loss that couples the samples is not a sum over chunks: one chunk.
        let chunks = RowChunks(rows: labels.count, size: model.couplesSamples ? 0 : chunkSize)
        func rows(_ r: Range<Int>) -> (Tensor<E>, [Int]) { chunks.count == 1 ? (input, labels) : (input.rows(r), Array(labels[r])) }
        switch self {
        case .hessian:
            return AnySymmetricOperator(try ChunkedOperator(chunks: chunks, records: records) { r in
                let (x, y) = rows(r)
                return try HessianOperator(of: try model.loss(on: x, labels: y), at: θ)
            })
        case .ggn:
            return AnySymmetricOperator(try ChunkedOperator(chunks: chunks, records: records) { r in
                let (x, y) = rows(r)
                return try GaussNewtonOperator(model: model, at: θ, input: x, labels: y)
            })
        case .fisher:
            return AnySymmetricOperator(try ChunkedOperator(chunks: chunks, records: records) { r in
                let (x, y) = rows(r)
                return try EmpiricalFisherOperator(model: model, at: θ, input: x, labels: y)
            })
        }
    }
}

/// How `landscape probe` and `landscape check` split a batch of data, as `train` and `study` split
/// theirs: chunks of ``rows(for:)`` rows; each chunk's records kept (``/Probes/ChunkRecords/kept``) while
/// the batch has at most ``keptRows`` rows and streamed beyond, so that memory is bounded by the
/// records of `keptRows` rows or of one chunk, however large the batch.
public enum BatchChunking {
    /// Rows of a batch whose chunks' records are kept. The CNN's kept records of 16 × 64 Float32
    /// rows took 493 MiB (Notes/probes.md), so 2048 Float64 rows take about 2 GB.
    public static let keptRows = 2048
    /// Rows per chunk of a probe batch for `model` when it has a measured preference, `nil` when
    /// not: 64 for a model with convolutions (the CNN's Hessian-vector product costs less per
    /// sample in chunks of 64; Notes/probes.md), none otherwise. (A model whose loss couples the
    /// samples, BatchNorm in train mode, is never chunked: ``Model/couplesSamples``.)
    public static func preferredRows(for model: ModelSpec) -> Int? {
        func convolves(_ layers: [LayerSpec]) -> Bool {
            layers.contains { layer in
                switch layer {
                case .conv2d: return true
                case let .residual(body, _): return convolves(body)
                default: return false
                }
            }
        }
        return convolves(model.layers) ? 64 : nil
    }
    /// Rows per chunk for `model`: its ``preferredRows(for:)``, else 512.
    public static func rows(for model: ModelSpec) -> Int { preferredRows(for: model) ?? 512 }
    /// Bytes of the empirical Fisher's per-sample gradients (N × d) that are kept; beyond, each
    /// product recomputes them chunk by chunk.
    public static let keptFisherBytes = 2e9
    /// Kept records for a batch of at most ``keptRows`` rows (for the Fisher: whose per-sample
    /// gradients take at most ``keptFisherBytes``), streamed ones beyond.
    public static func records(_ kind: CurvatureKind, rows: Int, dimension: Int, scalarBytes: Int) -> ChunkRecords {
        switch kind {
        case .fisher: return Double(rows) * Double(dimension) * Double(scalarBytes) <= keptFisherBytes ? .kept : .streamed
        case .hessian, .ggn: return rows <= keptRows ? .kept : .streamed
        }
    }
}

extension Model {
    /// The mean cross-entropy over the rows of `input` ([N, inputSize]) as a ``/Probes/LossFunction``,
    /// evaluated and differentiated in chunks of `chunkSize` rows (0, or a model that couples its samples: one chunk) weighted by n_i/N
    /// (``/Autodiff/RowChunks``): the same function as on the whole batch, with one chunk on the tape at a time.
    /// Its Taylor coefficients are the chunked objective's (``ModelLoss/chunkRows``: one chunk's
    /// jets at a time); its gradient of curvature and its Hessian at any point are sums over the
    /// chunks (the Hessian's records kept or streamed as ``BatchChunking/records(_:rows:dimension:scalarBytes:)``).
    /// - Throws: ``ModelError`` for a batch that does not fit the model; ``/Autodiff/AutodiffError`` for an
    ///   empty batch or a negative chunk size.
    public func meanLoss<E: TensorScalar>(on input: Tensor<E>, labels: [Int], chunkSize: Int = 0) throws -> LossFunction<E> {
        try validate(input: input, labels: labels)
        guard !labels.isEmpty, chunkSize >= 0 else {
            throw AutodiffError.invalidArgument("mean loss: need a non-empty batch and a chunk size ≥ 0, got \(labels.count) rows and \(chunkSize)")
        }
        let chunks = RowChunks(rows: labels.count, size: couplesSamples ? 0 : chunkSize)
        if chunks.count == 1 { return LossFunction(try loss(on: input, labels: labels)) }
        let parts = try chunks.map { try loss(on: input.rows($0), labels: Array(labels[$0])) }
        var whole = try loss(on: input, labels: labels)
        whole.chunkRows = chunkSize
        let jets = LossFunction(whole)
        return LossFunction(layout: layout, value: { θ in
            var total = 0.0
            for i in chunks.indices { total += chunks.weight(i) * Double(try Autodiff.value(of: parts[i], at: θ)) }
            return total
        }, valueWithGradient: { θ in
            try chunks.weightedSum { i, _ in
                let (v, g) = try Autodiff.valueWithGradient(of: parts[i], at: θ)
                return (Double(v), g)
            }
        }, taylorCoefficients: { θ, v, order in try jets.taylorCoefficients(at: θ, along: v, order: order) },
        gradientOfCurvature: { θ, u in
            // Σ_i w_i of each chunk's value, gradient, Hu and ∇³L_i[u, u, ·]: one chunk on the tape at a time.
            var value = 0.0
            var sums: [Tensor<E>] = []
            for i in chunks.indices {
                let c = try Autodiff.gradientOfCurvature(of: parts[i], at: θ, along: u)
                let w = chunks.weight(i)
                value += w * Double(c.value)
                let terms = [c.gradient, c.hvp, c.curvatureGradient]
                if sums.isEmpty { sums = terms.map { $0.scaled(by: w) } } else { for k in 0..<3 { sums[k].addScaled(terms[k], E(w)) } }
            }
            return CurvatureGradient(value: E(value), gradient: sums[0], hvp: sums[1], curvatureGradient: sums[2])
        }, hessian: { θ in
            try CurvatureKind.hessian.matrix(of: self, at: θ, input: input, labels: labels, chunkSize: chunkSize,
                                             records: BatchChunking.records(.hessian, rows: labels.count, dimension: layout.parameterCount,
                                                                            scalarBytes: MemoryLayout<E>.size))
        },
            smoothnessRadius: { θ, v, order in try jets.smoothnessRadius(at: θ, along: v, order: order) })
    }
}

extension Model {
    /// Mini-batches of `batchSize` of a data set's `samples` rows (``/Probes/MiniBatchSource``), each
    /// batch's loss the mean cross-entropy on the rows `gather` gives for its positions
    /// (``meanLoss(on:labels:chunkSize:)``, in chunks of `chunkSize` rows: 0 one chunk).
    /// - Throws: ``/Autodiff/AutodiffError`` for samples < 1, batch size < 1 or a negative chunk size.
    public func miniBatches<E: TensorScalar>(samples: Int, batchSize: Int, chunkSize: Int = 0,
                                             gather: @escaping ([Int]) -> (input: Tensor<E>, labels: [Int])) throws -> MiniBatchSource<E> {
        guard chunkSize >= 0 else { throw AutodiffError.invalidArgument("mini-batches: the chunk size must be ≥ 0, got \(chunkSize)") }
        return try MiniBatchSource(samples: samples, batchSize: batchSize) { rows in
            let (x, y) = gather(rows)
            return try meanLoss(on: x, labels: y, chunkSize: chunkSize)
        }
    }

    /// Mini-batches of `batchSize` of the rows of `input` ([N, inputSize]) and their labels.
    /// - Throws: ``ModelError`` for data that do not fit the model; as
    ///   ``miniBatches(samples:batchSize:chunkSize:gather:)``.
    public func miniBatches<E: TensorScalar>(of input: Tensor<E>, labels: [Int], batchSize: Int, chunkSize: Int = 0) throws -> MiniBatchSource<E> {
        try validate(input: input, labels: labels)
        return try miniBatches(samples: labels.count, batchSize: batchSize, chunkSize: chunkSize) { rows in
            (input.gatherRows(rows), rows.map { labels[$0] })
        }
    }
}

import Autodiff
import Probes
import Tensors

extension Model {
    /// The per-sample losses ℓ_i(θ) = cross-entropy of row i (``perSampleCrossEntropy(logits:labels:)``)
    /// and their Taylor coefficients along v: c_k[i] of t ↦ ℓ_i(θ + t·v), k = 0…order, from one
    /// forward pass on `Jet<Tensor<E>>` per chunk of `chunkSize` rows (0: one chunk) — θ enters as
    /// Jet(point: θ, direction: v, order: K), the batch as a constant. c₁[i] = ∇ℓ_iᵀv and
    /// 2c₂[i] = vᵀ∇²ℓ_i v (Griewank & Walther 2008, ch. 13); no per-sample backward pass.
    /// - Parameters:
    ///   - θ, v: length d.
    ///   - input: `[N, inputSize]`; `labels`: N values in `0..<classCount`.
    /// - Throws: ``ModelError`` for a batch that does not fit the model or a model that couples its
    ///   samples (``couplesSamples``); ``/Autodiff/AutodiffError`` for θ or
    ///   v of the wrong length, an empty batch, a negative order or chunk size.
    public func perSampleExpansion<E: TensorScalar>(at θ: Tensor<E>, along v: Tensor<E>, input: Tensor<E>, labels: [Int],
                                                    order: Int, chunkSize: Int = 0) throws -> PerSampleExpansion {
        try validate(input: input, labels: labels)
        guard !couplesSamples else { throw ModelError.couplesSamples(model: name, operation: "per-sample losses") }
        guard !labels.isEmpty, chunkSize >= 0, order >= 0 else {
            throw AutodiffError.invalidArgument("per-sample losses: need a non-empty batch, a chunk size ≥ 0 and an order ≥ 0, got \(labels.count) rows, chunk size \(chunkSize), order \(order)")
        }
        let blocks = try layout.split(θ)
        let dirs = try layout.split(v, as: "the direction")
        let parameters = zip(blocks, dirs).map { Jet(point: $0, direction: $1, order: order) }
        var coefficients = [[Double]](repeating: [], count: order + 1), predicted: [Int] = []
        for r in RowChunks(rows: labels.count, size: chunkSize) {
            let x = r.count == labels.count ? input : input.rows(r)
            let z: Jet<Tensor<E>> = logits(parameters, input: Jet(constant: x))
            let ℓ = perSampleCrossEntropy(logits: z, labels: Array(labels[r]))
            for k in 0...order { coefficients[k] += ℓ.coefficient(k).scalars.map { Double($0) } }
            predicted += z.primal.argmaxRows()
        }
        return PerSampleExpansion(labels: labels, predicted: predicted, coefficients: coefficients)
    }

    /// The per-sample losses of a batch as a probe route (``/Probes/ProbeContext/perSample``), in chunks of
    /// `chunkSize` rows (``perSampleExpansion(at:along:input:labels:order:chunkSize:)``).
    /// - Throws: ``ModelError`` for a batch that does not fit the model or a model that couples its
    ///   samples (``couplesSamples``).
    public func perSampleLosses<E: TensorScalar>(on input: Tensor<E>, labels: [Int], chunkSize: Int = 0) throws -> PerSampleLosses<E> {
        try validate(input: input, labels: labels)
        guard !couplesSamples else { throw ModelError.couplesSamples(model: name, operation: "per-sample losses") }
        return PerSampleLosses(classCount: classCount) { θ, v, order in
            try perSampleExpansion(at: θ, along: v, input: input, labels: labels, order: order, chunkSize: chunkSize)
        }
    }
}

/// vᵀ∇²ℓ_i(θ) v for every sample i of a batch (ℓ_i the cross-entropy of row i; H_i its Hessian),
/// from one forward pass of order 2 on `Jet<Tensor>`: 2c₂[i] of t ↦ ℓ_i(θ + t·v). Their mean is
/// vᵀHv of the batch's mean loss.
/// - Parameters:
///   - θ, v: length d; `input` `[N, inputSize]`, N labels; `chunkSize`: rows per jet pass (0: all).
/// - Returns: N curvatures, in row order.
/// - Throws: as ``Model/perSampleExpansion(at:along:input:labels:order:chunkSize:)``.
public func perSampleCurvature<M: Model, E: TensorScalar>(of model: M, at θ: Tensor<E>, input: Tensor<E>, labels: [Int],
                                                          along v: Tensor<E>, chunkSize: Int = 0) throws -> [Double] {
    try model.perSampleExpansion(at: θ, along: v, input: input, labels: labels, order: 2, chunkSize: chunkSize).curvatures
}

import Autodiff
import Tensors

/// The Taylor coefficients of every sample's loss along one direction v: for sample i with loss
/// ℓ_i(θ), the normalized coefficients c_k[i] of t ↦ ℓ_i(θ + t·v), k = 0…K, from one forward pass
/// on `Jet<Tensor>` (no per-sample backward pass): c₀ = ℓ_i(θ), c₁ = ∇ℓ_iᵀv, 2c₂ = vᵀ∇²ℓ_i v.
/// The batch's mean loss is the mean of the ℓ_i, so the means of c₁ and 2c₂ are gᵀv and vᵀHv of
/// the batch.
public struct PerSampleExpansion: Sendable {
    /// The label of each sample (N values).
    public let labels: [Int]
    /// The predicted class of each sample at θ (the first largest logit).
    public let predicted: [Int]
    /// `coefficients[k][i]` = c_k of sample i, k = 0…K.
    public let coefficients: [[Double]]

    /// - Precondition: `labels`, `predicted` and every row of `coefficients` have the same length.
    public init(labels: [Int], predicted: [Int], coefficients: [[Double]]) {
        precondition(predicted.count == labels.count && coefficients.allSatisfy { $0.count == labels.count },
                     "PerSampleExpansion: \(labels.count) labels, \(predicted.count) predictions, rows of \(coefficients.map(\.count))")
        self.labels = labels; self.predicted = predicted; self.coefficients = coefficients
    }

    /// ℓ_i(θ), each sample's loss (c₀).
    public var losses: [Double] { coefficients[0] }
    /// ∇ℓ_iᵀv (c₁; nan when the order is 0).
    public var slopes: [Double] { coefficients.count > 1 ? coefficients[1] : labels.map { _ in .nan } }
    /// vᵀ∇²ℓ_i v = 2c₂ (nan when the order is below 2).
    public var curvatures: [Double] { coefficients.count > 2 ? coefficients[2].map { 2 * $0 } : labels.map { _ in .nan } }
}

/// The per-sample losses of a probe set as a route a probe can take (``ProbeContext/perSample``):
/// their Taylor coefficients along a direction at any point. The probes know no model; a model
/// gives one (`Model.perSampleLosses(on:labels:chunkSize:)` in Layers).
public struct PerSampleLosses<E: TensorScalar> {
    /// The number of classes (labels and predictions lie in `0..<classCount`).
    public let classCount: Int
    let expansionAt: (Tensor<E>, Tensor<E>, Int) throws -> PerSampleExpansion

    /// - Parameters:
    ///   - classCount: the number of classes.
    ///   - expansion: `(θ, v, K)` ↦ the per-sample coefficients c₀…c_K of t ↦ ℓ_i(θ + t·v).
    public init(classCount: Int, expansion: @escaping (Tensor<E>, Tensor<E>, Int) throws -> PerSampleExpansion) {
        self.classCount = classCount; expansionAt = expansion
    }

    /// The per-sample coefficients c₀…c_order of t ↦ ℓ_i(θ + t·v) (θ and v of length d).
    /// - Throws: the route's errors (wrong lengths, a negative order).
    public func expansion(at θ: Tensor<E>, along v: Tensor<E>, order: Int) throws -> PerSampleExpansion {
        try expansionAt(θ, v, order)
    }
}

/// Per-sample curvature along the λ_max eigenvector u: vᵀH_i v = uᵀ∇²ℓ_i u for every sample of
/// the probe set from one forward jet pass of order 2 (``PerSampleLosses``), summarized. The mean
/// over the samples is uᵀHu of the probe set's mean loss (≈ λ_max). u is the eigenvector of this
/// pass's λ_max (``ProbeContext/lambdaMaxVector(running:)``).
///
/// Needs the context's per-sample route (``ProbeContext/perSample``), which the contexts of
/// `train`, the study and `landscape probe` give.
public struct PerSampleCurvatureProbe: Probe {
    public static let name = "per_sample_curvature"

    public init() {}

    public struct Result: ProbeResult {
        /// The mean of uᵀH_i u over the samples (= uᵀHu of the mean loss).
        public var mean = Double.nan
        /// Σ of the largest ⌈N/100⌉ (⌈N/10⌉) curvatures over Σ of all of them. With negative
        /// curvatures among the rest the share can exceed 1; nan when the total is ≤ 0.
        public var top1Share = Double.nan, top10Share = Double.nan
        /// The fraction of samples with uᵀH_i u < 0.
        public var negativeFraction = Double.nan
        /// The label whose samples have the largest mean curvature (−1 when there is none) and that mean.
        public var maxClass = -1, maxClassMean = Double.nan
        public init() {}
        public static var fields: [ProbeField<Result>] {
            [.init("per_sample_curvature_mean", \.mean), .init("per_sample_top1_share", \.top1Share),
             .init("per_sample_top10_share", \.top10Share), .init("per_sample_negative_fraction", \.negativeFraction),
             .init("per_sample_max_class", \.maxClass), .init("per_sample_max_class_mean", \.maxClassMean)]
        }

        /// The summary of per-sample curvatures `curvatures` with their labels (in `0..<classCount`).
        /// - Precondition: one label per curvature.
        public init(curvatures: [Double], labels: [Int], classCount: Int) {
            precondition(curvatures.count == labels.count, "per-sample curvature: \(curvatures.count) values for \(labels.count) labels")
            self.init()
            let n = curvatures.count
            guard n > 0 else { return }
            let total = curvatures.reduce(0, +)
            mean = total / Double(n)
            let sorted = curvatures.sorted(by: >)
            func share(_ p: Double) -> Double {
                let k = max(1, Int((p * Double(n)).rounded(.up)))
                return total > 0 ? sorted.prefix(k).reduce(0, +) / total : .nan   // no share of a total ≤ 0
            }
            top1Share = share(0.01); top10Share = share(0.1)
            negativeFraction = Double(curvatures.filter { $0 < 0 }.count) / Double(n)
            for (c, m) in Self.classMeans(curvatures: curvatures, labels: labels, classCount: classCount).enumerated()
            where m.isFinite && !(m <= maxClassMean) {
                maxClass = c; maxClassMean = m
            }
        }

        /// The mean curvature of each class `0..<classCount` (nan for a class without samples).
        public static func classMeans(curvatures: [Double], labels: [Int], classCount: Int) -> [Double] {
            var sum = [Double](repeating: 0, count: classCount), count = [Int](repeating: 0, count: classCount)
            for (c, y) in zip(curvatures, labels) where (0..<classCount).contains(y) { sum[y] += c; count[y] += 1 }
            return zip(sum, count).map { $1 > 0 ? $0 / Double($1) : .nan }
        }
    }

    public func validate() throws {}

    public func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> Result {
        guard let perSample = context.perSample else {
            throw AutodiffError.invalidArgument("\(Self.name): this probe context has no per-sample losses (its loss is a mean only); run it where the model and the probe set are known: after an epoch of train or the study, or landscape probe --probes \(Self.name)")
        }
        let u = try context.lambdaMaxVector()
        let e = try perSample.expansion(at: context.point, along: u, order: 2)
        return Result(curvatures: e.curvatures, labels: e.labels, classCount: perSample.classCount)
    }
}

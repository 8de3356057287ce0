import Autodiff
import Datasets
import Foundation
import Layers
import Optimizers
import Probes
import Tensors

/// The training loop: SGD steps over a data set, then after every epoch loss and accuracy on
/// each split, λ_max by warm-started power iteration on a fixed probe set and an optional
/// ``EpochProbe``; each complete epoch goes to a ``RunStore`` when one is given.
public struct Trainer {
    /// At most this many Lanczos steps after a power iteration whose residual did not converge
    /// (the λ_max probe); they stop once the Ritz residual meets the tolerance.
    public static let lambdaFallbackSteps = 10

    /// The validated settings.
    public let configuration: TrainingConfiguration
    /// The data set with its train/validation/test splits.
    public let data: MNISTDataset
    /// The run directory for ``run(resume:onStep:onEpoch:)``; `nil` writes nothing.
    public let outputDirectory: URL?
    /// Extra per-epoch measurements (columns of metrics.csv), or `nil`.
    public let epochProbe: EpochProbe?
    /// Receives warnings (e.g. a cut metrics row dropped on resume).
    public var log: (String) -> Void = { _ in }

    /// - Throws: ``ConfigurationError`` for invalid settings, ``TrainingError/invalidRun(_:)`` for an empty training split.
    public init(configuration: TrainingConfiguration, data: MNISTDataset, outputDirectory: URL? = nil, epochProbe: EpochProbe? = nil) throws {
        try configuration.validate()
        guard data.train.count > 0 else { throw TrainingError.invalidRun("the training split is empty") }
        self.configuration = configuration
        self.data = data
        self.outputDirectory = outputDirectory
        self.epochProbe = epochProbe
    }

    /// SGD steps per epoch.
    public var stepsPerEpoch: Int { data.train.batchCount(size: configuration.optimizer.batchSize) }

    /// The mean loss on the first `samples` rows of `input` as an objective, evaluated in chunks
    /// of `chunk` rows (0: one batch) and weighted by chunk size — the same function either way.
    /// - Throws: ``ModelError`` for inputs or labels that do not fit the model.
    public static func probeObjective<M: Model, E: TensorScalar>(model: M, input: Tensor<E>, labels: [Int], samples: Int, chunk: Int) throws -> AveragedObjective<ModelLoss<M, E>> {
        let n = min(samples, labels.count)
        let size = chunk > 0 ? min(chunk, n) : n
        var parts: [ModelLoss<M, E>] = [], sizes: [Int] = []
        var start = 0
        while start < n {
            let end = min(start + size, n)
            parts.append(try model.loss(on: input.rows(start..<end), labels: Array(labels[start..<end])))
            sizes.append(end - start)
            start = end
        }
        return try AveragedObjective(parts, sizes: sizes)
    }

    /// A data split's pixel values in precision `E` (``DatasetSplit/images(as:)``: byte / 255
    /// computed in `E`), shape `[split.count, split.featureCount]`, and its `split.count` labels.
    @inlinable
    public static func tensor<E: TensorScalar>(of split: DatasetSplit, as type: E.Type) -> (Tensor<E>, [Int]) {
        (split.images(as: type), split.labels)
    }

    /// Runs the training of the configuration's model in ``outputDirectory``: a new run
    /// (``RunStore/create(at:configuration:model:data:probeColumns:log:)``), or with `resume` the
    /// run there continued after its last complete epoch (``RunStore/open(at:probeColumns:log:)``;
    /// θ, optimizer state and the λ_max start vector are read back and the per-epoch shuffles are
    /// seeded, so it gives the same metrics as an uninterrupted run).
    /// - Returns: the final θ and the metrics of the epochs this call ran.
    /// - Throws: as ``train(model:from:store:onStep:onEpoch:)``; the run store's errors;
    ///   ``TrainingError/invalidRun(_:)`` for a run that already finished or has another configuration.
    public func run(resume: Bool = false, onStep: (StepProgress) -> Void = { _ in }, onEpoch: (EpochMetrics) throws -> Void = { _ in }) throws -> (parameters: Tensor<Float>, metrics: [EpochMetrics]) {
        try run(model: try configuration.model.make(), resume: resume, onStep: onStep, onEpoch: onEpoch)
    }

    /// ``run(resume:onStep:onEpoch:)`` with a given model (its name must match the configuration's).
    /// - Throws: as ``run(resume:onStep:onEpoch:)``.
    public func run<M: Model>(model: M, resume: Bool, onStep: (StepProgress) -> Void, onEpoch: (EpochMetrics) throws -> Void) throws -> (parameters: Tensor<Float>, metrics: [EpochMetrics]) {
        guard let dir = outputDirectory else {
            if resume { throw TrainingError.invalidRun("resume needs the run directory") }
            return try train(model: model, from: nil, store: nil, onStep: onStep, onEpoch: onEpoch)
        }
        let columns = epochProbe?.columns ?? []
        let store = resume ? try RunStore.open(at: dir, probeColumns: columns, log: log)
                           : try RunStore.create(at: dir, configuration: configuration, model: model, data: data, probeColumns: columns, log: log)
        defer { store.close() }
        var state: TrainingCheckpoint? = nil
        if resume {
            try store.check(configuration: configuration)
            state = try store.lastComplete(layout: model.layout, stepsPerEpoch: stepsPerEpoch)
            if let state, state.epoch >= configuration.epochs {
                throw TrainingError.invalidRun("\(dir.path) already finished all \(configuration.epochs) epochs")
            }
            try store.prepareToContinue(after: state)
        }
        return try train(model: model, from: state, store: store, onStep: onStep, onEpoch: onEpoch)
    }

    /// The training loop: from a fresh start (`state == nil`: θ initialized from the seed) or
    /// after a complete epoch, to ``TrainingConfiguration/epochs``. `onStep` is called after each
    /// step, `onEpoch` after each epoch once it is in `store`.
    /// - Returns: the final θ and the metrics of the epochs this call ran.
    /// - Throws: ``TrainingError/nonFiniteLoss(epoch:step:loss:lastCheckpoint:)`` and
    ///   ``TrainingError/nonFiniteParameters(epoch:step:lastCheckpoint:)`` (the checkpoint of the
    ///   previous epoch is kept), ``TrainingError/probeFailed(epoch:reason:)``, model/data shape
    ///   errors, the store's file errors, and whatever `onEpoch` throws.
    public func train<M: Model>(model: M, from state: TrainingCheckpoint?, store: RunStore?,
                                onStep: (StepProgress) -> Void = { _ in }, onEpoch: (EpochMetrics) throws -> Void = { _ in }) throws -> (parameters: Tensor<Float>, metrics: [EpochMetrics]) {
        let cfg = configuration, o = cfg.optimizer, p = cfg.probes
        let train = data.train
        let stepsPerEpoch = self.stepsPerEpoch
        var θ = state?.parameters ?? model.initialParameters(Float.self, seed: cfg.seed)
        var optimizer = try SGD<Float>(parameterCount: θ.count, learningRate: o.learningRate, momentum: o.momentum,
                                       weightDecay: o.weightDecay, nesterov: o.nesterov, gradientClipNorm: o.gradientClipNorm,
                                       schedule: try cfg.learningRateSchedule(stepsPerEpoch: stepsPerEpoch),
                                       totalSteps: stepsPerEpoch * cfg.epochs)
        if let state {
            optimizer.velocity = state.velocity
            optimizer.step = state.step
        }
        var eigenvector = state?.eigenvector
        var lastCheckpoint = state?.parametersPath
        let firstEpoch = (state?.epoch ?? 0) + 1
        guard firstEpoch <= cfg.epochs else { return (θ, []) }
        let (trainX, trainY) = Self.tensor(of: train, as: Float.self)
        let (valX, valY) = Self.tensor(of: data.validation, as: Float.self)
        let (testX, testY) = Self.tensor(of: data.test, as: Float.self)
        let probe = try Self.probeObjective(model: model, input: trainX, labels: trainY, samples: p.probeSamples, chunk: p.probeBatchSize)
        var all: [EpochMetrics] = []
        for epoch in firstEpoch...cfg.epochs {
            let t0 = Date()
            var lossSum = 0.0
            var step = 0
            var lastRate = optimizer.currentLearningRate
            for batch in train.batchIndices(size: o.batchSize, seed: cfg.seed, epoch: epoch) {
                step += 1
                let (loss, g) = try Self.valueWithGradient(model, θ, rows: batch, of: trainX, trainY, microBatch: o.microBatchSize)
                guard loss.isFinite else {
                    throw TrainingError.nonFiniteLoss(epoch: epoch, step: step, loss: Double(loss), lastCheckpoint: lastCheckpoint)
                }
                lossSum += Double(loss)
                lastRate = optimizer.currentLearningRate
                try optimizer.update(&θ, gradient: g)
                let elapsed = Date().timeIntervalSince(t0)
                let rate = Double(step * o.batchSize) / max(elapsed, 1e-9)
                onStep(StepProgress(epoch: epoch, step: step, stepsInEpoch: stepsPerEpoch, samplesPerSecond: rate,
                                    secondsRemaining: elapsed / Double(step) * Double(stepsPerEpoch - step)))
            }
            let trainSeconds = Date().timeIntervalSince(t0)
            guard θ.dot(θ).isFinite else {
                throw TrainingError.nonFiniteParameters(epoch: epoch, step: step, lastCheckpoint: lastCheckpoint)
            }
            let t1 = Date()
            let (trL, trA) = try model.evaluate(θ, input: trainX, labels: trainY, batchSize: cfg.evaluationBatchSize)
            let (vaL, vaA) = data.validation.count > 0 ? try model.evaluate(θ, input: valX, labels: valY, batchSize: cfg.evaluationBatchSize) : (.nan, .nan)
            let (teL, teA) = data.test.count > 0 ? try model.evaluate(θ, input: testX, labels: testY, batchSize: cfg.evaluationBatchSize) : (.nan, .nan)
            let evaluationSeconds = Date().timeIntervalSince(t1)
            guard trL.isFinite else {
                throw TrainingError.nonFiniteLoss(epoch: epoch, step: step, loss: trL, lastCheckpoint: lastCheckpoint)
            }
            let t2 = Date()
            var lambda = Double.nan, lambdaIts = 0, lambdaRes = Double.nan, lambdaConverged = false
            if p.lambdaEvery > 0 && (epoch % p.lambdaEvery == 0 || epoch == cfg.epochs) {
                // Warm start from the previous estimate's eigenvector.
                let r: PowerIterationResult<Float>
                do {
                    r = try powerIteration(of: probe, at: θ, maxIterations: p.lambdaIterations, tolerance: p.lambdaTolerance,
                                           seed: cfg.seed &+ UInt64(epoch), initialVector: eigenvector)
                } catch {
                    throw TrainingError.probeFailed(epoch: epoch, reason: "\(error)")
                }
                lambdaConverged = r.converged
                eigenvector = r.eigenvector
                lambda = r.eigenvalue; lambdaIts = r.iterations; lambdaRes = r.residualNorm
                if !r.converged && r.status != .zeroQuotient {
                    // Power iteration's residual did not fall to tolerance·|λ| (a close λ₂, a ±λ
                    // pair): a few Lanczos steps from its last vector, whose Ritz residual is honest too.
                    do {
                        let lz = try lanczos(of: probe, at: θ, count: 1, steps: min(Self.lambdaFallbackSteps, θ.count),
                                             tolerance: p.lambdaTolerance, initialVector: r.eigenvector, stopWhenConverged: true)
                        lambda = lz.pairs[0].value; lambdaRes = lz.pairs[0].residualNorm; lambdaConverged = lz.pairs[0].converged
                        lambdaIts += lz.steps
                        eigenvector = lz.pairs[0].vector
                    } catch {
                        throw TrainingError.probeFailed(epoch: epoch, reason: "\(error)")
                    }
                }
            }
            let lambdaSeconds = Date().timeIntervalSince(t2)
            var m = EpochMetrics(epoch: epoch, trainLoss: trL, trainAccuracy: trA, trainRunningLoss: lossSum / Double(max(step, 1)),
                                 validationLoss: vaL, validationAccuracy: vaA, testLoss: teL, testAccuracy: teA,
                                 lambdaMax: lambda, lambdaIterations: lambdaIts, lambdaResidual: lambdaRes, lambdaConverged: lambdaConverged, learningRate: lastRate,
                                 trainSeconds: trainSeconds, evaluationSeconds: evaluationSeconds, lambdaSeconds: lambdaSeconds)
            if let epochProbe {
                let values = try epochProbe.measure(epoch, θ, m)
                guard values.count == epochProbe.columns.count else {
                    throw TrainingError.probeFailed(epoch: epoch, reason: "the epoch probe returned \(values.count) values for \(epochProbe.columns.count) columns")
                }
                m.extra = values
            }
            all.append(m)
            if let store {
                lastCheckpoint = try store.append(m, parameters: θ, model: model, velocity: optimizer.velocity, step: optimizer.step, eigenvector: eigenvector)
            }
            try onEpoch(m)
        }
        return (θ, all)
    }

    /// The mean loss over `rows` of the training data and its gradient, in micro-batches of at
    /// most `microBatch` rows (0: all at once) weighted by size.
    static func valueWithGradient<M: Model>(_ model: M, _ θ: Tensor<Float>, rows: [Int], of x: Tensor<Float>, _ y: [Int],
                                            microBatch: Int) throws -> (Float, Tensor<Float>) {
        if microBatch <= 0 || rows.count <= microBatch {
            let f = try model.loss(on: x.gatherRows(rows), labels: rows.map { y[$0] })
            return try Autodiff.valueWithGradient(of: f, at: θ)
        }
        var total: Float = 0
        var gradient = Tensor<Float>.zeros([θ.count])
        var start = 0
        while start < rows.count {
            let part = Array(rows[start..<min(start + microBatch, rows.count)])
            let f = try model.loss(on: x.gatherRows(part), labels: part.map { y[$0] })
            let (l, g) = try Autodiff.valueWithGradient(of: f, at: θ)
            let w = Float(part.count) / Float(rows.count)
            total += w * l
            gradient.addScaled(g, w)
            start += microBatch
        }
        return (total, gradient)
    }
}

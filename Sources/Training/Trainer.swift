import Autodiff
import Datasets
import Foundation
import Layers
import Optimizers
import Probes
import Tensors

/// The training loop: SGD steps over a data set, then after every epoch loss and accuracy on
/// each split and the epoch probes (``/Probes/EpochProbes``: λ_max by default) on a fixed probe set;
/// each complete epoch goes to a ``RunStore`` when one is given.
public struct Trainer {
    /// The validated settings.
    public let configuration: TrainingConfiguration
    /// The data set with its train/validation/test splits.
    public let data: MNISTDataset
    /// The run directory for ``run(resume:onStep:onEpoch:)``; `nil` writes nothing.
    public let outputDirectory: URL?
    /// The probes after every epoch (columns of metrics.csv).
    public let epochProbes: EpochProbes
    /// Receives warnings (e.g. a cut metrics row dropped on resume).
    public var log: (String) -> Void = { _ in }
    /// Receives each λ_max inside an epoch (``ProbeSettings/lambdaEverySteps``) once it is in the
    /// store's steps.csv.
    public var onStepMetrics: (StepMetrics) -> Void = { _ in }
    /// Receives the curvature along each SGD step (``ProbeSettings/stepCurvature``) once it is in
    /// the store's step-curvature.csv.
    public var onStepCurvature: (StepCurvatureMetrics) -> Void = { _ in }
    /// Asked before every SGD step (so after the previous step's bookkeeping, and before an
    /// epoch's first step), after an epoch's evaluation and before each of its epoch probes;
    /// `true` stops the run with ``TrainingError/interrupted(epoch:step:lastCheckpoint:)``,
    /// leaving the store resumable from its last complete epoch (the partial epoch, its steps and
    /// probes, is redone on resume, with the same results). A signal handler's flag, read here
    /// (`landscape sweep run`), so a stop waits at most for one SGD step, the evaluation, or one probe.
    public var shouldInterrupt: () -> Bool = { false }

    /// - Throws: ``ConfigurationError`` for invalid settings, ``TrainingError/invalidRun(_:)`` for an empty training split.
    /// - Parameter epochProbes: the probes after every epoch; default ``defaultEpochProbes(for:)``.
    public init(configuration: TrainingConfiguration, data: MNISTDataset, outputDirectory: URL? = nil, epochProbes: EpochProbes? = nil) throws {
        try configuration.validate()
        guard data.train.count > 0 else { throw TrainingError.invalidRun("the training split is empty") }
        self.configuration = configuration
        self.data = data
        self.outputDirectory = outputDirectory
        self.epochProbes = epochProbes ?? Self.defaultEpochProbes(for: configuration)
        for p in self.epochProbes.probes {
            do { try p.validate() } catch { throw ConfigurationError(key: "probes", "\(error)") }
        }
    }

    /// λ_max (``/Probes/LambdaMaxProbe``) with the configuration's iterations and tolerance, then the
    /// ``ProbeSettings/extraProbes``, every ``ProbeSettings/lambdaEvery`` epochs.
    public static func defaultEpochProbes(for configuration: TrainingConfiguration) -> EpochProbes {
        EpochProbes([AnyProbe(lambdaMaxProbe(of: configuration))] + extraProbes(of: configuration), every: configuration.probes.lambdaEvery)
    }

    /// λ_max with the configuration's iterations and tolerance: the epoch probe's and the steps' (``stepProbes(for:)``).
    public static func lambdaMaxProbe(of configuration: TrainingConfiguration) -> LambdaMaxProbe {
        LambdaMaxProbe(powerIterations: configuration.probes.lambdaIterations, tolerance: configuration.probes.lambdaTolerance)
    }

    /// The probe after every ``ProbeSettings/lambdaEverySteps`` SGD steps: ``lambdaMaxProbe(of:)``
    /// alone (columns ``StepMetrics/probeColumns``); `nil` when the configuration sets none.
    public static func stepProbes(for configuration: TrainingConfiguration) -> EpochProbes? {
        configuration.probes.lambdaEverySteps.map { _ in EpochProbes([AnyProbe(lambdaMaxProbe(of: configuration))], every: 1) }
    }

    /// The configuration's ``ProbeSettings/extraProbes`` with their default settings (names are validated).
    public static func extraProbes(of configuration: TrainingConfiguration) -> [AnyProbe] {
        (configuration.probes.extraProbes ?? []).compactMap { try? ProbeRegistry.probe(named: $0) }
    }

    /// The context of the epoch probes at θ: the mean loss on the probe set (in Float32, and in
    /// Float64 on demand), its per-sample losses and its Hessian, all in chunks of `chunk` rows (one
    /// batch and no per-sample losses for a model whose loss couples the samples), and the mini-batches
    /// of the training data when given (``miniBatches(of:input:labels:configuration:)``).
    /// - Throws: ``/Layers/ModelError`` for a probe set that does not fit the model.
    /// `input64` gives the same rows in Float64, computed from the data (not widened from Float32).
    public static func probeContext<M: Model>(model: M, at θ: Tensor<Float>, input: Tensor<Float>, labels: [Int], chunk: Int, seed: UInt64,
                                              miniBatches: MiniBatchSource<Float>? = nil,
                                              input64: @escaping () -> Tensor<Double>) throws -> ProbeContext<Float> {
        // A loss that couples the samples (BatchNorm's batch statistics) is one batch: not a mean over chunks, no per-sample losses.
        let chunk = model.couplesSamples ? 0 : chunk
        return ProbeContext(point: θ, loss: try model.meanLoss(on: input, labels: labels, chunkSize: chunk), seed: seed,
                            curvature: { try probeHessian(of: model, at: θ, input: input, labels: labels, chunk: chunk) },
                            float64: { (try model.meanLoss(on: input64(), labels: labels, chunkSize: chunk), Tensor<Double>(converting: θ)) },
                            miniBatches: miniBatches, perSample: model.couplesSamples ? nil : try model.perSampleLosses(on: input, labels: labels, chunkSize: chunk))
    }

    /// The mini-batches an SGD step of `configuration` sees: its batch size
    /// (``OptimizerSettings/batchSize``) from the rows of the training split `input`, each batch's
    /// loss in the step's micro-batches (``OptimizerSettings/microBatchSize``), so that a probe's
    /// pass on a batch takes the memory of a step.
    /// - Throws: ``/Layers/ModelError`` for data that do not fit the model.
    public static func miniBatches<M: Model>(of model: M, input: Tensor<Float>, labels: [Int], configuration: TrainingConfiguration) throws -> MiniBatchSource<Float> {
        try model.miniBatches(of: input, labels: labels, batchSize: configuration.optimizer.batchSize, chunkSize: configuration.optimizer.microBatchSize)
    }

    /// SGD steps per epoch.
    public var stepsPerEpoch: Int { data.train.batchCount(size: configuration.optimizer.batchSize) }

    /// The probe set: the first `samples` rows of `input` (all of them if fewer) and their labels.
    public static func probeSet<E: TensorScalar>(of input: Tensor<E>, labels: [Int], samples: Int) -> (Tensor<E>, [Int]) {
        let n = min(samples, labels.count)
        return (n == labels.count ? input : input.rows(0..<n), Array(labels[0..<n]))
    }

    /// The Hessian of the mean loss on a probe set, in chunks of `chunk` rows (0: one), each
    /// chunk's pass recorded once (``/Probes/ChunkRecords/kept``).
    /// - Throws: ``/Layers/ModelError`` for inputs or labels that do not fit the model.
    public static func probeHessian<M: Model, E: TensorScalar>(of model: M, at θ: Tensor<E>, input: Tensor<E>, labels: [Int], chunk: Int) throws -> AnySymmetricOperator<E> {
        try CurvatureKind.hessian.matrix(of: model, at: θ, input: input, labels: labels, chunkSize: chunk)
    }

    /// A data split's pixel values in precision `E` (``/Datasets/DatasetSplit/images(as:)``: byte / 255
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
        let columns = epochProbes.columns
        let store = resume ? try RunStore.open(at: dir, probeColumns: columns, log: log)
                           : try RunStore.create(at: dir, configuration: configuration, model: model, data: data, probeColumns: columns, log: log)
        defer { store.close() }
        var state: TrainingCheckpoint? = nil
        if resume {
            try store.check(configuration: configuration)
            state = try store.lastComplete(layout: model.layout, stepsPerEpoch: stepsPerEpoch)
            if let state, let done = configuration.completion(after: state.metrics) {
                throw TrainingError.invalidRun("\(dir.path) already \(done)")
            }
            try store.prepareToContinue(after: state)
        }
        return try train(model: model, from: state, store: store, onStep: onStep, onEpoch: onEpoch)
    }

    /// The training loop: from a fresh start (`state == nil`: θ initialized from the seed) or
    /// after a complete epoch, to ``TrainingConfiguration/epochs`` or the first epoch that meets
    /// the ``TrainingConfiguration/stopping`` rule (which is then the last: its epoch probes run as
    /// after the last epoch; a state already there trains no further). With
    /// ``ProbeSettings/lambdaEverySteps`` = K, λ_max after every K-th step of the run
    /// (``stepProbes(for:)``; for a model with BatchNorm in eval mode, with the population statistics
    /// at θ of the epoch's start) goes to the store's steps.csv and ``onStepMetrics``; with
    /// ``ProbeSettings/stepCurvature``, the curvature along every step's update goes to its
    /// step-curvature.csv and ``onStepCurvature`` (a warning through ``log`` when it exceeds the
    /// stability limit). `onStep` is
    /// called after each step, `onEpoch` after each epoch once it is in `store`.
    /// - Returns: the final θ and the metrics of the epochs this call ran.
    /// - Throws: ``TrainingError/nonFiniteLoss(epoch:step:loss:lastCheckpoint:cause:)`` and
    ///   ``TrainingError/nonFiniteParameters(epoch:step:lastCheckpoint:cause:)`` (the checkpoint of the
    ///   previous epoch is kept), ``TrainingError/interrupted(epoch:step:lastCheckpoint:)`` when
    ///   ``shouldInterrupt`` says so, ``TrainingError/probeFailed(epoch:reason:)``, model/data shape
    ///   errors, the store's file errors, and whatever `onEpoch` throws.
    public func train<M: Model>(model: M, from state: TrainingCheckpoint?, store: RunStore?,
                                onStep: (StepProgress) -> Void = { _ in }, onEpoch: (EpochMetrics) throws -> Void = { _ in }) throws -> (parameters: Tensor<Float>, metrics: [EpochMetrics]) {
        let cfg = configuration, o = cfg.optimizer, p = cfg.probes
        let train = data.train
        let stepsPerEpoch = self.stepsPerEpoch
        var θ = try state?.parameters ?? cfg.initialParameters?.load(layout: model.layout) ?? model.initialParameters(Float.self, seed: cfg.seed)
        var optimizer = try SGD<Float>(parameterCount: θ.count, learningRate: o.learningRate, momentum: o.momentum,
                                       weightDecay: o.weightDecay, nesterov: o.nesterov, gradientClipNorm: o.gradientClipNorm,
                                       schedule: try cfg.learningRateSchedule(stepsPerEpoch: stepsPerEpoch),
                                       totalSteps: stepsPerEpoch * cfg.epochs)
        if let state {
            optimizer.velocity = state.velocity
            optimizer.step = state.step
        }
        var eigenvector = state?.eigenvector, stepEigenvector = state?.stepEigenvector
        var lastCheckpoint = state?.parametersPath
        // What a blow-up is diagnosed from: the rate of the last step taken and the last λ_max.
        var rateOfLastStep = optimizer.currentLearningRate
        var lastLambda: (value: Double, epoch: Int)? = nil
        func cause() -> String { cfg.divergenceCause(learningRate: rateOfLastStep, lambdaMax: lastLambda) }
        let firstEpoch = (state?.epoch ?? 0) + 1
        guard firstEpoch <= cfg.epochs, !(state.map { cfg.isFinished(after: $0.metrics) } ?? false) else { return (θ, []) }
        let (trainX, trainY) = Self.tensor(of: train, as: Float.self)
        let (valX, valY) = Self.tensor(of: data.validation, as: Float.self)
        let (testX, testY) = Self.tensor(of: data.test, as: Float.self)
        let (probeX, probeY) = Self.probeSet(of: trainX, labels: trainY, samples: p.probeSamples)
        let normalization = p.normalization ?? .eval
        // The probes' model at θ (``normalized(_:at:input:mode:chunk:)``; the model itself without BatchNorm), given the evaluation's where it is the same.
        func probeContext(seed: UInt64, evaluated: M? = nil) throws -> ProbeContext<Float> {
            let probeModel = try evaluated.flatMap { normalization == .eval ? $0 : nil }
                ?? Self.normalized(model, at: θ, input: trainX, mode: normalization, chunk: cfg.evaluationBatchSize)
            return try Self.probeContext(model: probeModel, at: θ, input: probeX, labels: probeY, chunk: p.probeBatchSize, seed: seed,
                                         miniBatches: try Self.miniBatches(of: probeModel, input: trainX, labels: trainY, configuration: cfg)) {
                train.images(rows: 0..<probeY.count, as: Double.self)
            }
        }
        let stepProbes = Self.stepProbes(for: cfg)
        let recordsCurvature = p.stepCurvature == true
        // The step probes' eval-mode model: BatchNorm population statistics at θ of the epoch's start
        // (the previous epoch's evaluation, at the same θ; so a resumed run probes as an uninterrupted
        // one). Recomputing them at every probed step would cost a pass over the training split each.
        var epochStartModel: M? = nil
        var all: [EpochMetrics] = []
        for epoch in firstEpoch...cfg.epochs {
            if stepProbes != nil, normalization == .eval, epochStartModel == nil {
                epochStartModel = try Self.normalized(model, at: θ, input: trainX, mode: .eval, chunk: cfg.evaluationBatchSize)
            }
            let t0 = Date()
            var lossSum = 0.0
            var step = 0
            var lastRate = optimizer.currentLearningRate
            var stepProbeSeconds = 0.0
            var exceeded = 0
            for batch in train.batchIndices(size: o.batchSize, seed: cfg.seed, epoch: epoch) {
                if shouldInterrupt() { throw TrainingError.interrupted(epoch: epoch, step: step, lastCheckpoint: lastCheckpoint) }
                step += 1
                let stepSeed = Self.stepSeed(cfg.seed, epoch: epoch, step: step)
                let (loss, g) = try Self.valueWithGradient(model, θ, rows: batch, of: trainX, trainY, microBatch: o.microBatchSize, seed: stepSeed)
                guard loss.isFinite else {
                    throw TrainingError.nonFiniteLoss(epoch: epoch, step: step, loss: Double(loss), lastCheckpoint: lastCheckpoint, cause: cause())
                }
                lossSum += Double(loss)
                lastRate = optimizer.currentLearningRate
                rateOfLastStep = lastRate
                let before = recordsCurvature ? θ : nil
                try optimizer.update(&θ, gradient: g)
                if let before {
                    let start = Date()
                    let row: StepCurvatureMetrics
                    do {
                        row = try Self.stepCurvature(model.training(seed: stepSeed), before, θ, rows: batch, of: trainX, trainY, microBatch: o.microBatchSize,
                                                     epoch: epoch, step: optimizer.step, learningRate: lastRate, configuration: cfg, start: start)
                    } catch {
                        throw TrainingError.probeFailed(epoch: epoch, reason: "the curvature along step \(optimizer.step): \(error)")
                    }
                    stepProbeSeconds += Date().timeIntervalSince(start)
                    if row.exceedsLimit {
                        exceeded += 1
                        if exceeded == 1 {
                            log(String(format: "warning: epoch %d, step %d: the curvature along the step %.4g exceeds the stability limit %.4g (divergence warning; exceeds_limit in %@; further steps of this epoch are counted at its end)",
                                       epoch, row.step, row.curvature.directionalCurvature, row.stabilityLimit, RunStore.stepCurvatureName))
                        }
                    }
                    try store?.append(stepCurvature: row)
                    onStepCurvature(row)
                }
                if let stepProbes, let k = p.lambdaEverySteps, optimizer.step % k == 0 {
                    guard θ.dot(θ).isFinite else {
                        throw TrainingError.nonFiniteParameters(epoch: epoch, step: step, lastCheckpoint: lastCheckpoint, cause: cause())
                    }
                    // Warm start from the previous step's estimate; the seed of the step, as the epoch probes use the epoch's.
                    let values: [Double], probeStart = Date()
                    defer { stepProbeSeconds += Date().timeIntervalSince(probeStart) }
                    do {
                        var context = try probeContext(seed: cfg.seed &+ UInt64(optimizer.step), evaluated: epochStartModel)
                        if let stepEigenvector { context.warmStarts[LambdaMaxProbe.name] = stepEigenvector }
                        values = try stepProbes.measure(&context)
                        stepEigenvector = context.warmStarts[LambdaMaxProbe.name] ?? stepEigenvector
                    } catch {
                        throw TrainingError.probeFailed(epoch: epoch, reason: "λ_max after step \(optimizer.step): \(error)")
                    }
                    let row = StepMetrics(epoch: epoch, step: optimizer.step, learningRate: lastRate, stabilityLimit: cfg.stabilityLimit(learningRate: lastRate),
                                          probeValues: values)
                    try store?.append(step: row)
                    onStepMetrics(row)
                }
                let elapsed = Date().timeIntervalSince(t0)
                let rate = Double(step * o.batchSize) / max(elapsed, 1e-9)
                onStep(StepProgress(epoch: epoch, step: step, stepsInEpoch: stepsPerEpoch, samplesPerSecond: rate,
                                    secondsRemaining: elapsed / Double(step) * Double(stepsPerEpoch - step)))
            }
            if exceeded > 1 {
                log("warning: epoch \(epoch): \(exceeded) of its \(step) steps had a curvature along the step above the stability limit")
            }
            let trainSeconds = Date().timeIntervalSince(t0) - stepProbeSeconds
            guard θ.dot(θ).isFinite else {
                throw TrainingError.nonFiniteParameters(epoch: epoch, step: step, lastCheckpoint: lastCheckpoint, cause: cause())
            }
            let t1 = Date()
            let evaluated = try Self.normalized(model, at: θ, input: trainX, mode: .eval, chunk: cfg.evaluationBatchSize)
            let (trL, trA) = try evaluated.evaluate(θ, input: trainX, labels: trainY, batchSize: cfg.evaluationBatchSize)
            let (vaL, vaA) = data.validation.count > 0 ? try evaluated.evaluate(θ, input: valX, labels: valY, batchSize: cfg.evaluationBatchSize) : (.nan, .nan)
            let (teL, teA) = data.test.count > 0 ? try evaluated.evaluate(θ, input: testX, labels: testY, batchSize: cfg.evaluationBatchSize) : (.nan, .nan)
            let evaluationSeconds = Date().timeIntervalSince(t1)
            if stepProbes != nil { epochStartModel = evaluated }
            guard trL.isFinite else {
                throw TrainingError.nonFiniteLoss(epoch: epoch, step: step, loss: trL, lastCheckpoint: lastCheckpoint, cause: cause())
            }
            // The epoch that meets the stopping rule is the run's last.
            let stops = cfg.stopping?.reached(trainLoss: trL, trainAccuracy: trA) != nil
            let lastEpoch = stops ? epoch : cfg.epochs
            var probeValues = epochProbes.notMeasured
            // A stop between the evaluation and each probe: the epoch is not in the store yet, so it is redone on resume.
            let interruption = TrainingError.interrupted(epoch: epoch, step: step, lastCheckpoint: lastCheckpoint)
            if shouldInterrupt() { throw interruption }
            if epochProbes.due(epoch: epoch, of: lastEpoch) {
                do {
                    var context = try probeContext(seed: cfg.seed &+ UInt64(epoch), evaluated: evaluated)
                    // Warm start from the previous estimate's eigenvector.
                    if let eigenvector { context.warmStarts[LambdaMaxProbe.name] = eigenvector }
                    context.learningRate = lastRate
                    probeValues = try epochProbes.measure(&context, epoch: epoch, of: lastEpoch) { if shouldInterrupt() { throw interruption } }
                    eigenvector = context.warmStarts[LambdaMaxProbe.name] ?? eigenvector
                } catch let error as TrainingError where error == interruption {
                    throw error
                } catch {
                    throw TrainingError.probeFailed(epoch: epoch, reason: "\(error)")
                }
            }
            let m = EpochMetrics(epoch: epoch, trainLoss: trL, trainAccuracy: trA, trainRunningLoss: lossSum / Double(max(step, 1)),
                                 validationLoss: vaL, validationAccuracy: vaA, testLoss: teL, testAccuracy: teA, learningRate: lastRate,
                                 stabilityLimit: cfg.stabilityLimit(learningRate: lastRate), trainSeconds: trainSeconds, evaluationSeconds: evaluationSeconds,
                                 probeColumns: epochProbes.columns, probeValues: probeValues, integerColumns: epochProbes.integerColumns)
            all.append(m)
            if m.lambdaMax.isFinite { lastLambda = (m.lambdaMax, epoch) }
            if let store {
                lastCheckpoint = try store.append(m, parameters: θ, model: model, velocity: optimizer.velocity, step: optimizer.step,
                                                  eigenvector: eigenvector, stepEigenvector: stepEigenvector)
            }
            try onEpoch(m)
            if stops { break }
        }
        return (θ, all)
    }

    /// The curvature along the step from `before` to `after` (the optimizer's actual update) of the
    /// mean loss over `rows` of the training data at `before`: one forward jet pass of order 2 in
    /// the step's micro-batches (``stepCurvature(of:at:step:learningRate:)``), as a row of
    /// step-curvature.csv timed from `start`.
    static func stepCurvature<M: Model>(_ model: M, _ before: Tensor<Float>, _ after: Tensor<Float>, rows: [Int], of x: Tensor<Float>, _ y: [Int],
                                        microBatch: Int, epoch: Int, step: Int, learningRate: Double, configuration: TrainingConfiguration,
                                        start: Date) throws -> StepCurvatureMetrics {
        var Δθ = after
        Δθ.addScaled(before, -1)
        var f = try model.loss(on: x.gatherRows(rows), labels: rows.map { y[$0] })
        f.chunkRows = microBatch
        let c = try Probes.stepCurvature(of: LossFunction(f), at: before, step: Δθ, learningRate: learningRate)
        return StepCurvatureMetrics(epoch: epoch, step: step, stabilityLimit: configuration.stabilityLimit(learningRate: learningRate), curvature: c,
                                    seconds: Date().timeIntervalSince(start))
    }

    /// The mean loss over `rows` of the training data and its gradient, in micro-batches of at
    /// most `microBatch` rows (0: all at once) weighted by size, each seeing the model as
    /// ``/Layers/Model/training(seed:)`` gives it for the step's `seed` (BatchNorm with batch
    /// statistics, dropout masks; a model without either is itself). A dropout mask is drawn per
    /// sample from the seed and the sample, so micro-batches take the same step as the whole batch.
    static func valueWithGradient<M: Model>(_ model: M, _ θ: Tensor<Float>, rows: [Int], of x: Tensor<Float>, _ y: [Int],
                                            microBatch: Int, seed: UInt64) throws -> (Float, Tensor<Float>) {
        let stepModel = model.training(seed: seed)
        let (loss, g) = try RowChunks(rows: rows.count, size: microBatch).weightedSum { _, r in
            let part = Array(rows[r])
            let (l, g) = try Autodiff.valueWithGradient(of: try stepModel.loss(on: x.gatherRows(part), labels: part.map { y[$0] }), at: θ)
            return (Double(l), g)
        }
        return (Float(loss), g)
    }

    /// The seed of SGD step `step` (1, 2, … within the epoch) of epoch `epoch` of a run of `seed`:
    /// its dropout masks derive from it (``valueWithGradient(_:_:rows:of:_:microBatch:seed:)``), so a
    /// resumed run draws the masks of an uninterrupted one.
    static func stepSeed(_ seed: UInt64, epoch: Int, step: Int) -> UInt64 {
        // A stream of its own (0xD209: "drop"), apart from the shuffles' and the probes' seeds.
        SplitMix64.derivedSeed(SplitMix64.derivedSeed(SplitMix64.derivedSeed(seed, stream: 0xD209), stream: UInt64(epoch)), stream: UInt64(step))
    }

    /// The model that evaluation and the probes use at θ. Without BatchNorm: `model` itself. With
    /// BatchNorm (``/Layers/SpecModel/hasBatchNorm``): in `.eval` mode, with the population statistics
    /// of each BatchNorm layer's input at θ over `input` (the training split), computed in chunks of
    /// `chunk` rows (``/Layers/SpecModel/withPopulationStatistics(at:input:chunk:)``); in `.train`
    /// mode, with the batch statistics of whatever batch it is given (the probe set, as one batch).
    /// - Throws: ``/Layers/ModelError`` for inputs that do not fit the model.
    public static func normalized<M: Model, E: TensorScalar>(_ model: M, at θ: Tensor<E>, input: Tensor<E>, mode: NormalizationMode, chunk: Int) throws -> M {
        guard var spec = model as? SpecModel, spec.hasBatchNorm else { return model }
        switch mode {
        case .train: spec.normalization = .train
        case .eval:
            spec = try spec.withPopulationStatistics(at: θ, input: input, chunk: chunk)
            spec.normalization = .eval
        }
        return spec as! M
    }
}

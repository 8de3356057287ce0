import Autodiff
import Checkpoints
import Datasets
import Foundation
import Layers
import Optimizers
import Probes
import Tensors

/// Errors that stop a training run.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// The mini-batch loss became NaN or ±inf. The last good checkpoint (previous epoch) is kept.
    case nonFiniteLoss(epoch: Int, step: Int, loss: Double, lastCheckpoint: String?)
    /// The parameters became NaN or ±inf in the last step of an epoch (the loss of that step was
    /// still finite). Nothing of that epoch is saved; the last good checkpoint is kept.
    case nonFiniteParameters(epoch: Int, step: Int, lastCheckpoint: String?)
    /// A curvature probe failed during an epoch.
    case probeFailed(epoch: Int, reason: String)
    /// A configuration value is invalid.
    case invalidConfiguration(String)
    /// A file of the run directory does not match what the run recorded (path, the mismatch).
    case corruptRun(path: String, reason: String)
    /// The run directory cannot be used (path, reason), e.g. another process trains in it.
    case runDirectory(path: String, reason: String)

    /// A one-line, human-readable description (for logs and error output).
    public var description: String {
        switch self {
        case let .nonFiniteLoss(epoch, step, loss, last):
            return "training stopped: non-finite loss (\(loss.isNaN ? "NaN" : "\(loss)")) at epoch \(epoch), step \(step) (the learning rate is probably too large)" +
                (last.map { "; the last good checkpoint is \($0)" } ?? "; no checkpoint was written before it")
        case let .nonFiniteParameters(epoch, step, last):
            return "training stopped: the parameters became non-finite at epoch \(epoch), step \(step) (the learning rate is probably too large)" +
                (last.map { "; the last good checkpoint is \($0)" } ?? "; no checkpoint was written before it")
        case let .probeFailed(epoch, reason):
            return "λ_max estimate failed after epoch \(epoch): \(reason)"
        case let .invalidConfiguration(m):
            return "invalid configuration: \(m)"
        case let .corruptRun(path, reason):
            return "\(path): \(reason)"
        case let .runDirectory(path, reason):
            return "run directory \(path): \(reason)"
        }
    }
}

/// The settings of one training run (`landscape train`). Units: learning rate per step,
/// sizes in samples, `seed` seeds initialization, shuffling and probe vectors.
public struct TrainingConfiguration: Codable, Sendable, Equatable {
    /// The model name: "mlp" or "cnn".
    public var model: String = "mlp"
    /// Samples per SGD step (1…2²⁴).
    public var batchSize: Int = 64
    /// The base learning rate η₀ (> 0, representable in Float32).
    public var learningRate: Double = 0.05
    /// Heavy-ball momentum μ in [0, 1).
    public var momentum: Double = 0.9
    /// L2 weight decay λ ≥ 0.
    public var weightDecay: Double = 0
    /// Nesterov momentum instead of heavy ball.
    public var nesterov: Bool = false
    /// "constant", "cosine" or "step:EPOCHS:GAMMA": multiply the rate by GAMMA every EPOCHS epochs
    /// (PyTorch's StepLR stepped once per epoch). Cosine decays to 0 over all steps of the run.
    public var schedule: String = "cosine"
    /// Passes over the training split (1…``maximumEpochs``).
    public var epochs: Int = 3
    /// Seeds initialization, shuffling and the λ_max start vector.
    public var seed: UInt64 = 0
    /// Estimate λ_max every this many epochs (0 disables it).
    public var lambdaEvery: Int = 1
    /// Training samples in the fixed probe batch for λ_max (the first samples of the training split).
    public var lambdaSamples: Int = 1024
    /// Maximum power iterations per estimate.
    public var lambdaIterations: Int = 20
    /// Relative change of the Rayleigh quotient at which power iteration stops.
    public var lambdaTolerance: Double = 1e-3
    /// Rows per chunk when evaluating loss and accuracy.
    public var evaluationBatchSize: Int = 2048
    /// Rows per chunk of the probe batch in Hessian-vector products (0: the whole probe batch at
    /// once). The probe loss is the size-weighted mean of the chunks' losses, i.e. the same
    /// function; only the speed differs (the CNN's HVP costs less per sample in chunks of 64).
    public var probeBatchSize: Int = 0
    /// Rows per gradient evaluation inside one SGD step (0: the whole mini-batch at once). A
    /// larger mini-batch is split into micro-batches whose gradients are averaged, weighted by
    /// size: the same step up to rounding, with less memory and better cache use at large batches.
    public var microBatchSize: Int = 0

    /// The defaults of `landscape train` (the study’s high-noise MLP run for 3 epochs).
    public init() {}

    /// The most epochs a run may have, and so the largest step size (in epochs) of a step schedule.
    public static let maximumEpochs = 100_000

    /// The schedule in SGD steps: a step schedule's size in epochs times `stepsPerEpoch`.
    /// - Throws: ``TrainingError/invalidConfiguration(_:)`` for an unparsable schedule or a step
    ///   size whose count of steps does not fit in an `Int`.
    public func learningRateSchedule(stepsPerEpoch: Int) throws -> LearningRateSchedule {
        let schedule: LearningRateSchedule
        do { schedule = try LearningRateSchedule.parse(self.schedule) } catch { throw TrainingError.invalidConfiguration("\(error)") }
        guard case let .step(epochs, gamma) = schedule else { return schedule }
        guard epochs <= Self.maximumEpochs else {
            throw TrainingError.invalidConfiguration("learning-rate schedule '\(self.schedule)': the step size must be at most \(Self.maximumEpochs) epochs (the longest run), got \(epochs)")
        }
        let (steps, overflow) = epochs.multipliedReportingOverflow(by: stepsPerEpoch)
        guard !overflow else {
            throw TrainingError.invalidConfiguration("learning-rate schedule '\(self.schedule)': \(epochs) epochs of \(stepsPerEpoch) steps do not fit in a step count")
        }
        return .step(stepSize: steps, gamma: gamma)
    }

    enum CodingKeys: String, CodingKey {
        case model, batchSize, learningRate, momentum, weightDecay, nesterov, schedule, epochs, seed, lambdaEvery, lambdaSamples
        case lambdaIterations, lambdaTolerance, evaluationBatchSize, probeBatchSize, microBatchSize
    }

    /// Decodes a configuration; keys missing from older run.json files keep their defaults.
    /// - Throws: `DecodingError` for values of the wrong type.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingConfiguration()
        model = try c.decodeIfPresent(String.self, forKey: .model) ?? d.model
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        momentum = try c.decodeIfPresent(Double.self, forKey: .momentum) ?? d.momentum
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? d.weightDecay
        nesterov = try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? d.nesterov
        schedule = try c.decodeIfPresent(String.self, forKey: .schedule) ?? d.schedule
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        lambdaEvery = try c.decodeIfPresent(Int.self, forKey: .lambdaEvery) ?? d.lambdaEvery
        lambdaSamples = try c.decodeIfPresent(Int.self, forKey: .lambdaSamples) ?? d.lambdaSamples
        lambdaIterations = try c.decodeIfPresent(Int.self, forKey: .lambdaIterations) ?? d.lambdaIterations
        lambdaTolerance = try c.decodeIfPresent(Double.self, forKey: .lambdaTolerance) ?? d.lambdaTolerance
        evaluationBatchSize = try c.decodeIfPresent(Int.self, forKey: .evaluationBatchSize) ?? d.evaluationBatchSize
        probeBatchSize = try c.decodeIfPresent(Int.self, forKey: .probeBatchSize) ?? d.probeBatchSize
        microBatchSize = try c.decodeIfPresent(Int.self, forKey: .microBatchSize) ?? d.microBatchSize
    }

    /// Checks every field.
    /// - Throws: ``TrainingError/invalidConfiguration(_:)`` naming the field.
    public func validate() throws {
        func bad(_ m: String) -> TrainingError { .invalidConfiguration(m) }
        guard batchSize >= 1, batchSize <= 1 << 24 else { throw bad("batch size must be in 1...\(1 << 24), got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite, Float(learningRate) > 0, Float(learningRate).isFinite else {
            throw bad("learning rate must be positive and representable in Float32, got \(learningRate)")
        }
        guard momentum >= 0, momentum < 1, Float(momentum) < 1 else { throw bad("momentum must be in [0, 1) (also after rounding to Float32), got \(momentum)") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw bad("weight decay must be ≥ 0 and finite, got \(weightDecay)") }
        guard epochs >= 1, epochs <= Self.maximumEpochs else { throw bad("epochs must be in 1...\(Self.maximumEpochs), got \(epochs)") }
        guard lambdaEvery >= 0 else { throw bad("lambda-every must be ≥ 0, got \(lambdaEvery)") }
        guard lambdaSamples >= 1 else { throw bad("lambda-samples must be at least 1, got \(lambdaSamples)") }
        if let m = ProbeLimits.violation("lambda-iterations", lambdaIterations, ProbeLimits.powerIterations) { throw bad(m) }
        guard lambdaTolerance > 0, lambdaTolerance.isFinite else { throw bad("lambda-tolerance must be positive and finite, got \(lambdaTolerance)") }
        guard evaluationBatchSize >= 1, evaluationBatchSize <= 1 << 24 else { throw bad("evaluation batch size must be in 1...\(1 << 24)") }
        guard microBatchSize >= 0 else { throw bad("micro-batch size must be ≥ 0 (0: the whole mini-batch), got \(microBatchSize)") }
        guard probeBatchSize >= 0 else { throw bad("probe batch size must be ≥ 0 (0: one batch), got \(probeBatchSize)") }
        _ = try learningRateSchedule(stepsPerEpoch: 1)
    }
}

/// One epoch's measurements.
public struct EpochMetrics: Sendable, Equatable {
    /// The epoch, from 1.
    public var epoch: Int
    /// Mean loss and accuracy over the whole training split, evaluated after the epoch.
    public var trainLoss: Double, trainAccuracy: Double
    /// Mean of the mini-batch losses during the epoch (the running average).
    public var trainRunningLoss: Double
    /// Mean loss and accuracy (fraction in [0, 1]) on the validation split.
    public var validationLoss: Double, validationAccuracy: Double
    /// Mean loss and accuracy (fraction in [0, 1]) on the test split.
    public var testLoss: Double, testAccuracy: Double
    /// λ_max by power iteration on the probe batch: the Hessian eigenvalue of largest magnitude,
    /// which is λ_max unless negative curvature dominates (then it is negative). nan when not
    /// estimated this epoch (see ``TrainingConfiguration/lambdaEvery``).
    public var lambdaMax: Double
    /// Power iterations used for λ_max (0 when not estimated).
    public var lambdaIterations: Int
    /// ‖Hv − λv‖ of the λ_max estimate (nan when not estimated).
    public var lambdaResidual: Double
    /// Whether power iteration met its tolerance within its iteration budget.
    public var lambdaConverged: Bool
    /// The learning rate of the epoch's last step.
    public var learningRate: Double
    /// Seconds: training steps, evaluation, λ_max.
    public var trainSeconds: Double, evaluationSeconds: Double, probeSeconds: Double
    /// The values of the ``EpochProbe``'s columns (empty without one).
    public var extra: [Double] = []

    /// The CSV header matching ``csvRow``.
    public static let csvHeader = "epoch,train_loss,train_accuracy,train_running_loss,validation_loss,validation_accuracy,test_loss,test_accuracy,lambda_max,lambda_iterations,lambda_residual,lambda_converged,learning_rate,train_seconds,evaluation_seconds,probe_seconds"

    /// One CSV row (full precision).
    public var csvRow: String {
        [String(epoch), "\(trainLoss)", "\(trainAccuracy)", "\(trainRunningLoss)", "\(validationLoss)", "\(validationAccuracy)",
         "\(testLoss)", "\(testAccuracy)", "\(lambdaMax)", String(lambdaIterations), "\(lambdaResidual)", lambdaConverged ? "1" : "0", "\(learningRate)",
         String(format: "%.3f", trainSeconds), String(format: "%.3f", evaluationSeconds), String(format: "%.3f", probeSeconds)]
            .joined(separator: ",") + extra.map { ",\($0)" }.joined()
    }
}

/// Extra measurements taken after every epoch of a training run, after λ_max and before the
/// epoch's checkpoint and metrics row are written (the study adds sharpness and the Hessian
/// trace this way). Their values become extra CSV columns, so a resumed run reads them back.
public struct EpochProbe {
    /// The CSV column names, appended to ``EpochMetrics/csvHeader``.
    public let columns: [String]
    /// Measures the epoch: `(epoch, θ after it, the epoch's metrics so far) → one value per column`.
    public let measure: (_ epoch: Int, _ parameters: Tensor<Float>, _ metrics: EpochMetrics) throws -> [Double]

    /// An epoch probe with the given columns.
    public init(columns: [String], measure: @escaping (_ epoch: Int, _ parameters: Tensor<Float>, _ metrics: EpochMetrics) throws -> [Double]) {
        self.columns = columns
        self.measure = measure
    }
}

/// Progress of the steps inside an epoch, for a progress bar.
public struct StepProgress: Sendable {
    /// Epoch (from 1), step within it (from 1), steps per epoch, throughput so far and the estimated seconds left in the epoch.
    public var epoch: Int, step: Int, stepsInEpoch: Int, samplesPerSecond: Double, secondsRemaining: Double
}

/// Looks up a model by name.
/// - Throws: ``ModelError/unknownModel(_:known:)`` listing the known names.
public func makeModel(named name: String) throws -> any Model {
    switch name.lowercased() {
    case "mlp": return MLP()
    case "cnn": return try CNN()
    default: throw ModelError.unknownModel(name, known: ["mlp", "cnn"])
    }
}

/// Trains a model with SGD on a data set, measuring loss, accuracy and λ_max every
/// epoch, writing `metrics.csv`, `run.json` and a safetensors checkpoint of θ per epoch
/// into `outputDirectory` (if given).
public struct Trainer {
    /// Lanczos steps after a power iteration whose residual did not converge (the λ_max probe).
    public static let lambdaFallbackSteps = 10

    /// The validated settings.
    public let configuration: TrainingConfiguration
    /// The data set with its train/validation/test splits.
    public let data: MNISTDataset
    /// The run directory for metrics.csv, run.json and checkpoints; `nil` writes nothing.
    public let outputDirectory: URL?
    /// Extra per-epoch measurements (columns of metrics.csv), or `nil`.
    public let epochProbe: EpochProbe?
    /// Receives warnings (e.g. a cut metrics row dropped on resume).
    public var log: (String) -> Void = { _ in }

    /// - Throws: ``TrainingError/invalidConfiguration(_:)`` for invalid settings.
    public init(configuration: TrainingConfiguration, data: MNISTDataset, outputDirectory: URL?, epochProbe: EpochProbe? = nil) throws {
        try configuration.validate()
        guard data.train.count > 0 else { throw TrainingError.invalidConfiguration("the training split is empty") }
        self.configuration = configuration
        self.data = data
        self.outputDirectory = outputDirectory
        self.epochProbe = epochProbe
    }

    /// The header of this run's metrics.csv: ``EpochMetrics/csvHeader`` plus the epoch probe's columns.
    public var csvHeader: String { ([EpochMetrics.csvHeader] + (epochProbe?.columns ?? [])).joined(separator: ",") }

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

    /// Converts a data split to a `[N, features]` tensor and labels.
    public static func tensor(of split: DatasetSplit) -> (Tensor<Float>, [Int]) {
        (Tensor(shape: [split.count, split.featureCount], scalars: split.images), split.labels)
    }

    /// Runs the training. `onEpoch` is called after each epoch; `onStep` after each step.
    /// - Returns: the final θ and the metrics of the epochs this call ran (after a resume, the
    ///   earlier ones are in metrics.csv).
    /// - Throws: ``TrainingError/nonFiniteLoss(epoch:step:loss:lastCheckpoint:)`` (the checkpoint
    ///   of the previous epoch is kept), model/data shape errors, or file errors.
    ///   With `resume: true` the run continues after the last complete epoch found in
    ///   ``outputDirectory`` (θ, optimizer state and the λ_max start vector are read back; the
    ///   per-epoch shuffles are seeded), so it produces the same metrics as an uninterrupted run.
    public func run(resume: Bool = false, onStep: (StepProgress) -> Void = { _ in }, onEpoch: (EpochMetrics) throws -> Void = { _ in }) throws -> (parameters: Tensor<Float>, metrics: [EpochMetrics]) {
        let cfg = configuration
        let model = try makeModel(named: cfg.model)
        return try run(model: model, resume: resume, onStep: onStep, onEpoch: onEpoch)
    }

    /// ``run(resume:onStep:onEpoch:)`` with a given model (its name must match the configuration's).
    /// - Throws: as ``run(resume:onStep:onEpoch:)``.
    public func run<M: Model>(model: M, resume: Bool, onStep: (StepProgress) -> Void, onEpoch: (EpochMetrics) throws -> Void) throws -> (parameters: Tensor<Float>, metrics: [EpochMetrics]) {
        let cfg = configuration
        let train = data.train
        let stepsPerEpoch = train.batchCount(size: cfg.batchSize)
        let schedule = try cfg.learningRateSchedule(stepsPerEpoch: stepsPerEpoch)
        var θ = model.initialParameters(Float.self, seed: cfg.seed)
        var optimizer = try SGD<Float>(parameterCount: θ.count, learningRate: cfg.learningRate, momentum: cfg.momentum,
                                       weightDecay: cfg.weightDecay, nesterov: cfg.nesterov, schedule: schedule,
                                       totalSteps: stepsPerEpoch * cfg.epochs)
        let (trainX, trainY) = Self.tensor(of: train)
        let (valX, valY) = Self.tensor(of: data.validation)
        let (testX, testY) = Self.tensor(of: data.test)
        let probe = try Self.probeObjective(model: model, input: trainX, labels: trainY, samples: cfg.lambdaSamples, chunk: cfg.probeBatchSize)

        var lastCheckpoint: String? = nil
        var eigenvector: Tensor<Float>? = nil
        var firstEpoch = 1
        var records: [RunRecord.Entry] = []
        let lock: Int32?
        if let dir = outputDirectory {
            if !resume { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
            lock = try Self.lock(dir)
            let stale = AtomicFile.removeStaleTemporaryFiles(in: dir)
            if !stale.isEmpty { log("note: removed \(stale.count) temporary file\(stale.count == 1 ? "" : "s") of writes that were cut off (\(stale.joined(separator: ", ")))") }
        } else {
            lock = nil
        }
        defer { if let lock { DirectoryLock.release(lock) } }
        if resume {
            guard let dir = outputDirectory else { throw TrainingError.invalidConfiguration("resume needs the run directory") }
            try checkRunInfo(in: dir)
            if let state = try lastComplete(model: model) {
                guard state.epoch < cfg.epochs else {
                    throw TrainingError.invalidConfiguration("\(dir.path) already finished all \(cfg.epochs) epochs")
                }
                θ = state.parameters
                optimizer.velocity = state.velocity
                optimizer.step = state.step
                eigenvector = state.eigenvector
                lastCheckpoint = state.parametersPath
                firstEpoch = state.epoch + 1
                records = state.records
                try AtomicFile.write(RunRecord.text(of: records), to: dir.appendingPathComponent(RunRecord.fileName))
                try AtomicFile.write(state.metricsPrefix, to: dir.appendingPathComponent("metrics.csv"))
            } else {
                log("note: \(dir.path) holds no complete epoch; the run starts again from epoch 1")
                try AtomicFile.write(RunRecord.text(of: []), to: dir.appendingPathComponent(RunRecord.fileName))
                try AtomicFile.write(csvHeader + "\n", to: dir.appendingPathComponent("metrics.csv"))
            }
        } else if let dir = outputDirectory {
            try writeRunInfo(model: model, to: dir)
            try AtomicFile.write(RunRecord.text(of: []), to: dir.appendingPathComponent(RunRecord.fileName))
            try AtomicFile.write(csvHeader + "\n", to: dir.appendingPathComponent("metrics.csv"))
        }
        let configurationHash = cfg.sha256
        var all: [EpochMetrics] = []
        for epoch in firstEpoch...cfg.epochs {
            let t0 = Date()
            var lossSum = 0.0
            var step = 0
            var lastRate = optimizer.currentLearningRate
            for batch in train.batchIndices(size: cfg.batchSize, seed: cfg.seed, epoch: epoch) {
                step += 1
                let (loss, g) = try Self.valueWithGradient(model, θ, rows: batch, of: trainX, trainY, microBatch: cfg.microBatchSize)
                guard loss.isFinite else {
                    throw TrainingError.nonFiniteLoss(epoch: epoch, step: step, loss: Double(loss), lastCheckpoint: lastCheckpoint)
                }
                lossSum += Double(loss)
                lastRate = optimizer.currentLearningRate
                try optimizer.update(&θ, gradient: g)
                let elapsed = Date().timeIntervalSince(t0)
                let rate = Double(step * cfg.batchSize) / max(elapsed, 1e-9)
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
            if cfg.lambdaEvery > 0 && (epoch % cfg.lambdaEvery == 0 || epoch == cfg.epochs) {
                // Warm start from the previous estimate's eigenvector.
                let r: PowerIterationResult<Float>
                do {
                    r = try powerIteration(of: probe, at: θ, maxIterations: cfg.lambdaIterations, tolerance: cfg.lambdaTolerance,
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
                                             tolerance: cfg.lambdaTolerance, initialVector: r.eigenvector)
                        lambda = lz.pairs[0].value; lambdaRes = lz.pairs[0].residualNorm; lambdaConverged = lz.pairs[0].converged
                        lambdaIts += lz.steps
                        eigenvector = lz.pairs[0].vector
                    } catch {
                        throw TrainingError.probeFailed(epoch: epoch, reason: "\(error)")
                    }
                }
            }
            let probeSeconds = Date().timeIntervalSince(t2)
            var m = EpochMetrics(epoch: epoch, trainLoss: trL, trainAccuracy: trA, trainRunningLoss: lossSum / Double(max(step, 1)),
                                 validationLoss: vaL, validationAccuracy: vaA, testLoss: teL, testAccuracy: teA,
                                 lambdaMax: lambda, lambdaIterations: lambdaIts, lambdaResidual: lambdaRes, lambdaConverged: lambdaConverged, learningRate: lastRate,
                                 trainSeconds: trainSeconds, evaluationSeconds: evaluationSeconds, probeSeconds: probeSeconds)
            if let epochProbe {
                let values = try epochProbe.measure(epoch, θ, m)
                guard values.count == epochProbe.columns.count else {
                    throw TrainingError.probeFailed(epoch: epoch, reason: "the epoch probe returned \(values.count) values for \(epochProbe.columns.count) columns")
                }
                m.extra = values
            }
            all.append(m)
            if let dir = outputDirectory {
                let thetaURL = dir.appendingPathComponent(RunRecord.thetaName(epoch: epoch))
                let common = ["epoch": String(epoch), "step": String(optimizer.step), "configuration_sha256": configurationHash]
                try model.layout.validate(θ)
                let thetaSum = try RunRecord.writeChecked(model.layout.entries.map { (name: $0.name, shape: $0.shape, values: Array(θ.scalars[$0.range])) },
                                                          metadata: common.merging(["model": model.name, "seed": String(cfg.seed)]) { $1 }, to: thetaURL)
                var state: [(name: String, shape: [Int], values: [Float])] = [(name: "velocity", shape: [θ.count], values: optimizer.velocity.scalars)]
                if let eigenvector { state.append((name: "eigenvector", shape: [θ.count], values: eigenvector.scalars)) }
                let optimizerSum = try RunRecord.writeChecked(state, metadata: common, to: dir.appendingPathComponent(RunRecord.optimizerName(epoch: epoch)))
                records.append(RunRecord.Entry(epoch: epoch, step: optimizer.step, configuration: configurationHash, theta: thetaSum, optimizer: optimizerSum))
                try AtomicFile.write(RunRecord.text(of: records), to: dir.appendingPathComponent(RunRecord.fileName))
                lastCheckpoint = thetaURL.path
                let csv = dir.appendingPathComponent("metrics.csv")
                let previous = (try? String(contentsOf: csv, encoding: .utf8)) ?? csvHeader + "\n"
                try AtomicFile.write(previous + m.csvRow + "\n", to: csv)
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

    /// Takes the run directory's lock (``DirectoryLock``): one process per run directory.
    /// - Throws: ``TrainingError/runDirectory(path:reason:)`` when another process holds it.
    static func lock(_ dir: URL) throws -> Int32 {
        let fd: Int32?
        do { fd = try DirectoryLock.acquire(in: dir) } catch {
            throw TrainingError.runDirectory(path: dir.path, reason: "cannot create its lock file: \(error)")
        }
        guard let fd else {
            throw TrainingError.runDirectory(path: dir.path, reason: "another landscape process is training in it (its \(DirectoryLock.fileName) is held)")
        }
        return fd
    }

    /// Checks that the directory's run.json holds this configuration, unedited: the same settings
    /// and the SHA-256 it was written with.
    /// - Throws: ``TrainingError/corruptRun(path:reason:)`` naming run.json.
    func checkRunInfo(in dir: URL) throws {
        let url = dir.appendingPathComponent("run.json")
        func bad(_ reason: String) -> TrainingError { .corruptRun(path: url.path, reason: reason) }
        guard let raw = try? Data(contentsOf: url) else { throw bad("is missing or unreadable: the directory holds no run to resume") }
        guard let info = try? JSONSerialization.jsonObject(with: raw) as? [String: Any], let saved = info["configuration"],
              let savedData = try? JSONSerialization.data(withJSONObject: saved),
              let savedConfiguration = try? JSONDecoder().decode(TrainingConfiguration.self, from: savedData) else {
            throw bad("holds no readable training configuration")
        }
        guard savedConfiguration == configuration else {
            throw TrainingError.invalidConfiguration("\(dir.path) was trained with another configuration (run.json); resuming with different settings would not reproduce the run")
        }
        guard let recorded = info["configuration_sha256"] as? String else {
            throw bad("records no configuration_sha256 (written by an older landscape?); its configuration cannot be checked")
        }
        guard recorded == savedConfiguration.sha256 else {
            throw bad("its configuration was edited after the run started (its SHA-256 differs from the recorded configuration_sha256); restore it or start a new run")
        }
    }

    /// The last complete epoch in ``outputDirectory``, every file checked against the run's
    /// records (``RunRecord``); `nil` if metrics.csv is missing or holds no complete row.
    /// - Throws: ``TrainingError/corruptRun(path:reason:)`` naming the file that does not match;
    ///   ``CheckpointError`` for unreadable checkpoints.
    public func lastComplete<M: Model>(model: M) throws -> TrainingCheckpoint? {
        guard let dir = outputDirectory else { return nil }
        return try TrainingCheckpoint.lastComplete(in: dir, layout: model.layout, header: csvHeader, configuration: configuration,
                                                   stepsPerEpoch: data.train.batchCount(size: configuration.batchSize), log: log)
    }

    func writeRunInfo<M: Model>(model: M, to dir: URL) throws {
        let info: [String: Any] = [
            "configuration": (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(configuration))) ?? [:],
            "configuration_sha256": configuration.sha256,
            "model": ["name": model.name, "parameters": model.layout.parameterCount,
                      "layout": model.layout.entries.map { ["name": $0.name, "shape": $0.shape, "offset": $0.offset] }],
            "data": ["name": data.name, "directory": data.directory.path, "train": data.train.count,
                     "validation": data.validation.count, "test": data.test.count, "split_seed": data.splitSeed],
            "openblas": ["kernel": BLASRuntime.coreName, "threads": BLASRuntime.threadCount],
            "seed": configuration.seed,
            "started": ISO8601DateFormatter().string(from: Date()),
            "host": ["processors": ProcessInfo.processInfo.activeProcessorCount],
        ]
        let json = try JSONSerialization.data(withJSONObject: info, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(json, to: dir.appendingPathComponent("run.json"))
    }
}

/// The state of a training run after a complete epoch, read back from its run directory and
/// checked against the run's records (``RunRecord``): `theta-epoch-NNN.safetensors`,
/// `optimizer-epoch-NNN.safetensors` (SGD velocity and step, the λ_max start vector), the epoch's
/// record in `checkpoints.csv` and its row in `metrics.csv` (written last, so a row means the
/// epoch is complete).
public struct TrainingCheckpoint {
    /// The last complete epoch.
    public let epoch: Int
    /// θ after it (length d).
    public let parameters: Tensor<Float>
    /// The path of its θ file.
    public let parametersPath: String
    /// The SGD momentum buffer (length d).
    public let velocity: Tensor<Float>
    /// SGD steps taken.
    public let step: Int
    /// The power-iteration vector of that epoch, if λ_max was estimated.
    public let eigenvector: Tensor<Float>?
    /// metrics.csv cut after that epoch's row.
    public let metricsPrefix: String
    /// The records of checkpoints.csv up to that epoch.
    public let records: [RunRecord.Entry]

    /// Finds the last epoch with a complete metrics row and checks its checkpoints: its record in
    /// checkpoints.csv (the configuration's SHA-256 and `epoch × stepsPerEpoch` steps), and each
    /// file's metadata (epoch, step, configuration) and tensors' SHA-256 against that record.
    /// `nil` if metrics.csv is missing or holds no complete row. `header` is the expected first
    /// line of metrics.csv (``Trainer/csvHeader``); `log` receives the warning for a cut last row.
    /// - Throws: ``TrainingError/corruptRun(path:reason:)`` naming the file that does not match
    ///   or is missing; ``CheckpointError`` for unreadable checkpoints; ``TrainingError`` for
    ///   non-finite or mis-shaped values.
    public static func lastComplete(in dir: URL, layout: ParameterLayout, header: String, configuration: TrainingConfiguration,
                                    stepsPerEpoch: Int, log: (String) -> Void) throws -> TrainingCheckpoint? {
        let csvURL = dir.appendingPathComponent("metrics.csv")
        guard FileManager.default.fileExists(atPath: csvURL.path) else { return nil }
        let rows = try RunRecord.completeRows(of: csvURL, header: header, log: log)
        guard !rows.isEmpty else { return nil }
        let epoch = rows.count
        let recordsURL = dir.appendingPathComponent(RunRecord.fileName)
        let records = try RunRecord.entries(in: dir)
        guard records.count >= epoch else {
            throw TrainingError.corruptRun(path: recordsURL.path, reason: "records \(records.count) epoch\(records.count == 1 ? "" : "s"), but metrics.csv holds \(epoch)")
        }
        let entry = records[epoch - 1]
        guard entry.configuration == configuration.sha256 else {
            throw TrainingError.corruptRun(path: recordsURL.path, reason: "epoch \(epoch) was trained with another configuration (configuration_sha256 differs from run.json's): the configuration was edited under the run")
        }
        guard entry.step == epoch * stepsPerEpoch else {
            throw TrainingError.corruptRun(path: recordsURL.path, reason: "records step \(entry.step) after epoch \(epoch); \(epoch) epochs of \(stepsPerEpoch) steps are \(epoch * stepsPerEpoch)")
        }
        let thetaURL = dir.appendingPathComponent(RunRecord.thetaName(epoch: epoch))
        let optURL = dir.appendingPathComponent(RunRecord.optimizerName(epoch: epoch))
        _ = try RunRecord.verifiedFile(thetaURL, entry: entry, checksum: entry.theta)
        let opt = try RunRecord.verifiedFile(optURL, entry: entry, checksum: entry.optimizer)
        let θ = try loadParameters(from: thetaURL, layout: layout)
        guard θ.scalars.allSatisfy(\.isFinite) else {
            throw TrainingError.invalidConfiguration("\(thetaURL.path) holds non-finite parameters: the checkpoint is corrupt")
        }
        let velocity = try opt.floats(named: "velocity")
        guard velocity.allSatisfy(\.isFinite) else {
            throw TrainingError.invalidConfiguration("\(optURL.path) holds a non-finite momentum buffer: the checkpoint is corrupt")
        }
        guard velocity.count == θ.count else {
            throw TrainingError.corruptRun(path: optURL.path, reason: "the velocity has \(velocity.count) elements, θ has \(θ.count)")
        }
        let eigen = opt.names.contains("eigenvector") ? Tensor(try opt.floats(named: "eigenvector")) : nil
        if let eigen, eigen.count != θ.count {
            throw TrainingError.corruptRun(path: optURL.path, reason: "the λ_max start vector has \(eigen.count) elements, θ has \(θ.count)")
        }
        return TrainingCheckpoint(epoch: epoch, parameters: θ, parametersPath: thetaURL.path, velocity: Tensor(velocity),
                                  step: entry.step, eigenvector: eigen, metricsPrefix: ([header] + rows).joined(separator: "\n") + "\n",
                                  records: Array(records.prefix(epoch)))
    }
}

/// Saves a flat θ as safetensors, one F32 tensor per layout entry named as in the layout
/// (readable by `safetensors.numpy.load_file` and PyTorch). Written atomically.
/// - Throws: ``CheckpointError`` on I/O failure; ``AutodiffError`` if θ has the wrong length.
public func saveParameters(_ θ: Tensor<Float>, layout: ParameterLayout, to url: URL, metadata: [String: String] = [:]) throws {
    try layout.validate(θ)
    let tensors = layout.entries.map { (name: $0.name, shape: $0.shape, values: Array(θ.scalars[$0.range])) }
    try SafeTensors.write(tensors, metadata: metadata, to: url)
}

/// Loads a flat θ saved by ``saveParameters(_:layout:to:metadata:)``, checking every
/// layout entry's presence and shape.
/// - Throws: ``CheckpointError`` for unreadable files or missing tensors; ``TrainingError`` for shape mismatches.
public func loadParameters(from url: URL, layout: ParameterLayout) throws -> Tensor<Float> {
    let file = try SafeTensors.read(from: url)
    var values: [Float] = []
    values.reserveCapacity(layout.parameterCount)
    for e in layout.entries {
        let shape = try file.shape(named: e.name)
        guard shape == e.shape else {
            throw TrainingError.invalidConfiguration("\(url.path): tensor \(e.name) has shape \(shape), the model expects \(e.shape)")
        }
        values.append(contentsOf: try file.floats(named: e.name))
    }
    return Tensor(values)
}

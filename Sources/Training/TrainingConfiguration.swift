import Checkpoints
import Datasets
import Foundation
import Layers
import Optimizers
import Probes
import Settings

/// The settings of one training run: the model, its data, SGD, the learning-rate schedule and
/// the per-epoch λ_max probe. Every default is the initial value of its property, written here
/// once; `landscape train`'s options, `--set` keys, run.json and the study's `training` object are
/// this type (``ConfigurationValue``). Units: sizes in samples, the learning rate per step, the
/// schedule in epochs; `seed` seeds initialization, shuffling and probe vectors.
public struct TrainingConfiguration: ConfigurationValue {
    /// The architecture (`--model`): a preset, a compact form or a specification
    /// (``/Layers/ModelSpec``); it fixes θ's layout, so a checkpoint resumes or is probed only as
    /// the same model. A preset is written as its name, so configurations of presets keep their SHA-256.
    public var model: ModelSpec = .mlp
    /// The data set and its splits.
    public var data = DataSettings()
    /// SGD's hyper-parameters.
    public var optimizer = OptimizerSettings()
    /// The learning-rate schedule, in epochs.
    public var schedule: Schedule = .cosine
    /// Passes over the training split (1…``maximumEpochs``); with a ``stopping`` rule, the most.
    public var epochs: Int = 3
    /// Stop before ``epochs`` once the train loss or accuracy reaches a target (``StoppingRule``);
    /// `nil`: run all epochs. (Optional, so that runs made before it keep their SHA-256.)
    public var stopping: StoppingRule? = nil
    /// Seeds initialization, shuffling and the λ_max start vector.
    public var seed: UInt64 = 0
    /// The λ_max estimate after every epoch, on a fixed probe set.
    public var probes = ProbeSettings()
    /// Rows per chunk when evaluating loss and accuracy.
    public var evaluationBatchSize: Int = 2048
    /// The θ the run starts from (`train --from-checkpoint`: the file and its SHA-256); `nil`: a
    /// fresh initialization from ``seed``. (Optional, so that runs made before it keep their SHA-256.)
    public var initialParameters: InitialParameters? = nil

    /// The defaults of `landscape train` (the study's high-noise MLP run, for 3 epochs).
    public init() {}

    /// `lambdaSamples` was the probe-set size's name in run.json before it was `probeSamples` everywhere.
    public static var renamedKeys: [String: String] { ["lambdaSamples": "probeSamples"] }

    /// The most epochs a run may have, and so the largest step size (in epochs) of a step schedule.
    public static let maximumEpochs = 100_000

    /// Checks every value.
    /// - Throws: ``ConfigurationError`` naming the key (relative to this configuration).
    public func validate() throws {
        func bad(_ key: String, _ problem: String) -> ConfigurationError { ConfigurationError(key: key, problem) }
        if let (key, problem) = data.problem { throw bad("data.\(key)", problem) }
        // Each key's own limits, from its declaration (``keys``); then what involves several keys or the precision.
        if let (key, problem) = SettingOptions(Self.keys).problem(in: self) { throw bad(key.name, problem) }
        let o = optimizer
        guard Float(o.momentum) < 1 else { throw bad("optimizer.momentum", "must be in [0, 1) (also after rounding to Float32), got \(o.momentum)") }
        // SGD computes in Float32 (Trainer), so each value must keep its meaning there.
        for (key, value) in [("optimizer.learningRate", o.learningRate), ("optimizer.momentum", o.momentum), ("optimizer.weightDecay", o.weightDecay),
                             ("optimizer.gradientClipNorm", o.gradientClipNorm ?? 1)] {
            if let problem = Precision.float32.roundingProblem(value, user: "training") { throw bad(key, problem) }
        }
        if let w = o.warmupEpochs, !(w >= 0 && w.isFinite && w <= Double(epochs)) {
            throw bad("optimizer.warmupEpochs", "must be in [0, epochs] = [0, \(epochs)] (or null: no warm-up), got \(w)")
        }
        if let s = stopping {
            guard s.trainAccuracy != nil || s.trainLoss != nil else {
                throw bad("stopping", "sets no target: give stopping.trainAccuracy and/or stopping.trainLoss, or null for no stopping rule")
            }
        }
        if case let .step(every, gamma) = schedule {
            guard every >= 1, every <= Self.maximumEpochs else {
                throw bad("schedule", "has an invalid value ('\(schedule)'): the step size must be at most \(Self.maximumEpochs) epochs (the longest run), got \(every)")
            }
            guard gamma > 0, gamma.isFinite else { throw bad("schedule", "has an invalid value ('\(schedule)'): gamma must be a positive finite number, got \(gamma)") }
        }
        if o.weightDecay > 0 {
            // The decay term alone is gradient descent on λ/2·‖θ‖²: unstable above the limit.
            let η = largestLearningRate, limit = sgdStabilityLimit(momentum: o.momentum, nesterov: o.nesterov)
            guard η * o.weightDecay <= limit else {
                throw bad("optimizer.weightDecay", "\(o.weightDecay) times the learning rate \(η)\(η == o.learningRate ? "" : " (the largest of the \(schedule) schedule)") is \(String(format: "%.4g", η * o.weightDecay)), above \(Self.limitText(o)): the decay term alone (SGD on λ/2·‖θ‖²) would make every step grow the parameters")
            }
        }
        let p = probes
        do { try LambdaMaxProbe(powerIterations: p.lambdaIterations, tolerance: p.lambdaTolerance).validate() } catch let error as ProbeSettingError {
            throw bad(["powerIterations": "probes.lambdaIterations", "tolerance": "probes.lambdaTolerance"][error.setting] ?? "probes", error.problem)
        }
        for name in p.extraProbes ?? [] {
            guard ProbeRegistry.names.contains(name), name != LambdaMaxProbe.name else {
                throw bad("probes.extraProbes", "names '\(name)', which is not a further probe; choose from \(ProbeRegistry.names.filter { $0 != LambdaMaxProbe.name }.joined(separator: ", "))")
            }
        }
        if let names = p.extraProbes, Set(names).count != names.count { throw bad("probes.extraProbes", "names a probe twice: \(names)") }
        let built: SpecModel
        do { built = try model.make() } catch { throw bad("model", "\(model) cannot be built: \(error)") }
        if o.microBatchSize > 0, built.training(seed: 0).couplesSamples {
            throw bad("optimizer.microBatchSize", "must be 0 (the whole mini-batch) for the model \(model), got \(o.microBatchSize): its BatchNorm layers normalize a training step's batch by that batch's own statistics, so micro-batches would compute another step")
        }
    }

    /// The run's length in words, for logs: `10 epochs`, or with a stopping rule
    /// `until train accuracy 0.99 (at most 30 epochs)`; then `, 2.0 epochs of linear warm-up` if any.
    public var lengthDescription: String {
        let target = stopping?.targets ?? ""
        let length = target.isEmpty ? "\(epochs) epoch\(epochs == 1 ? "" : "s")" : "until \(target) (at most \(epochs) epochs)"
        return length + ((optimizer.warmupEpochs ?? 0) > 0 ? ", \(optimizer.warmupEpochs!) epochs of linear warm-up" : "")
    }

    /// The largest learning rate of the run: η₀, or for a step schedule with γ > 1 the rate of
    /// its last epoch, η₀·γ^⌊(epochs − 1)/step⌋ (+inf when that overflows).
    public var largestLearningRate: Double {
        guard case let .step(every, gamma) = schedule, gamma > 1, every >= 1 else { return optimizer.learningRate }
        return optimizer.learningRate * Foundation.pow(gamma, Double((epochs - 1) / every))
    }

    /// What made SGD's steps blow up, in words, for ``TrainingError``: the learning rate when the
    /// last λ_max estimate (plus the weight decay) puts η·h above the stability limit
    /// (``/Optimizers/sgdStabilityLimit(momentum:nesterov:)``); otherwise every setting that scales the step,
    /// with its value. (Weight decay alone cannot be the cause: ``validate()`` refuses η·λ above
    /// the limit for every rate of the run.)
    /// - Parameters:
    ///   - η: the learning rate of the last step taken.
    ///   - lambdaMax: the last λ_max estimate of the run and its epoch, if one was made.
    public func divergenceCause(learningRate η: Double, lambdaMax: (value: Double, epoch: Int)?) -> String {
        let o = optimizer, λ = o.weightDecay
        let limit = sgdStabilityLimit(momentum: o.momentum, nesterov: o.nesterov)
        func g(_ x: Double) -> String { String(format: "%.4g", x) }
        let warm = (o.warmupEpochs ?? 0) > 0 ? " after \(o.warmupEpochs!) epochs of linear warm-up" : ""
        let rate = "η = \(g(η))" + (η == o.learningRate ? "" : " (the \(schedule) schedule's rate at this step\(warm); η₀ = \(g(o.learningRate)))")
        if let (h, epoch) = lambdaMax, h.isFinite, η * (h + λ) > limit {
            return "the learning rate is too large for the loss's curvature: \(rate) times λ_max = \(g(h)) (after epoch \(epoch))\(λ > 0 ? " plus the weight decay λ = \(g(λ))" : "") is \(g(η * (h + λ))), above \(Self.limitText(o)), beyond which SGD diverges on a quadratic of that curvature"
        }
        let measured = lambdaMax.map { "the last λ_max, \(g($0.value)) after epoch \($0.epoch), was within it (η·h = \(g(η * ($0.value + λ))))" } ?? "λ_max was not measured"
        return "no setting is known to exceed a stability limit: SGD is stable on a curvature h only for η·h ≤ \(Self.limitText(o)), i.e. h ≤ \(g(limit / η)), and \(measured). " +
            "What sets the step size: the learning rate \(rate), momentum μ = \(g(o.momentum)) (steps add up to η/(1 − μ) = \(g(η / (1 - o.momentum))) per unit of gradient), " +
            "weight decay λ = \(g(λ)) (η·λ = \(g(η * λ)), within the limit), " + (o.gradientClipNorm.map { "gradients clipped to norm \(g($0))" } ?? "no gradient clipping (gradientClipNorm)")
    }

    /// The stability limit of these optimizer settings, with its formula (`3.8 = 2(1 + μ)`).
    static func limitText(_ o: OptimizerSettings) -> String {
        String(format: "%.4g", sgdStabilityLimit(momentum: o.momentum, nesterov: o.nesterov)) + " = " + limitFormula(o)
    }

    static func limitFormula(_ o: OptimizerSettings) -> String {
        o.momentum == 0 ? "2" : o.nesterov ? "2(1 + μ)/(1 + 2μ) with Nesterov momentum μ = \(o.momentum)" : "2(1 + μ) with momentum μ = \(o.momentum)"
    }

    /// The schedule in steps, for `stepsPerEpoch` SGD steps per epoch: the one place where the
    /// schedule's epochs become steps. With ``OptimizerSettings/warmupEpochs`` it is the
    /// schedule under a linear warm-up of ``warmupSteps(stepsPerEpoch:)`` steps
    /// (``/Optimizers/LearningRateSchedule/warmup(steps:then:)``); both span all steps of ``epochs`` (the
    /// cap, also under a ``stopping`` rule).
    /// - Throws: ``ConfigurationError`` when the step count overflows, or when the warm-up's first
    ///   rate η₀/W rounds to 0 in Float32 (the precision SGD computes in).
    public func learningRateSchedule(stepsPerEpoch: Int) throws -> LearningRateSchedule {
        let base: LearningRateSchedule
        switch schedule {
        case .constant: base = .constant
        case .cosine: base = .cosine
        case let .step(every, gamma):
            let (steps, overflow) = every.multipliedReportingOverflow(by: stepsPerEpoch)
            guard !overflow else {
                throw ConfigurationError(key: "schedule", "has an invalid value ('\(schedule)'): \(every) epochs of \(stepsPerEpoch) steps do not fit in a step count")
            }
            base = .step(stepSize: steps, gamma: gamma)
        }
        let w = warmupSteps(stepsPerEpoch: stepsPerEpoch)
        guard w > 0 else { return base }
        let first = optimizer.learningRate / Double(w)
        if let problem = Precision.float32.roundingProblem(first, user: "training") {
            throw ConfigurationError(key: "optimizer.warmupEpochs", "gives a first rate η₀/W = \(optimizer.learningRate)/\(w) that \(problem)")
        }
        return .warmup(steps: w, then: base)
    }

    /// The warm-up's length in steps, W = ⌈warmupEpochs × stepsPerEpoch⌉ (0 without warm-up). A
    /// product within rounding of an integer is that integer: 0.1 epochs of 30 steps are 3 steps,
    /// although 0.1 × 30 is 3.0000000000000004 in binary floating point.
    public func warmupSteps(stepsPerEpoch: Int) -> Int {
        guard let epochs = optimizer.warmupEpochs, epochs > 0 else { return 0 }
        let x = epochs * Double(stepsPerEpoch), nearest = x.rounded()
        return Int(abs(x - nearest) <= 1e-12 * nearest ? nearest : x.rounded(.up))
    }

    /// SGD's stability limit on a quadratic as a bound on the curvature, for steps of rate η:
    /// h < ``/Optimizers/sgdStabilityLimit(momentum:nesterov:)``/η, i.e. 2(1 + μ)/η for heavy ball (the
    /// metrics' `stability_limit`); +inf for η = 0.
    public func stabilityLimit(learningRate η: Double) -> Double {
        sgdStabilityLimit(momentum: optimizer.momentum, nesterov: optimizer.nesterov) / η
    }

    /// ``stabilityLimit(learningRate:)`` as a formula for labels: `2(1+μ)/η`, or
    /// `2(1+μ)/((1+2μ)η)` for Nesterov momentum.
    public var stabilityLimitLabel: String { optimizer.nesterov ? "2(1+μ)/((1+2μ)η)" : "2(1+μ)/η" }

    /// Why the run is over after the epoch `metrics` describes: it reached the ``stopping`` rule
    /// (`reached the stopping rule's train accuracy 0.99 at epoch 7 of at most 30`) or ran all
    /// ``epochs`` (`finished all 30 epochs`); `nil` when it goes on.
    public func completion(after metrics: EpochMetrics) -> String? {
        if let met = stopping?.reached(trainLoss: metrics.trainLoss, trainAccuracy: metrics.trainAccuracy) {
            return "reached the stopping rule's \(met) at epoch \(metrics.epoch) of at most \(epochs)"
        }
        return metrics.epoch >= epochs ? "finished all \(epochs) epochs" : nil
    }

    /// Whether the run is over after the epoch `metrics` describes (``completion(after:)``): a run
    /// resumed from that epoch trains no further. Pass the last complete epoch's metrics,
    /// ``TrainingCheckpoint/metrics``.
    public func isFinished(after metrics: EpochMetrics) -> Bool { completion(after: metrics) != nil }

    /// The same run as `other`: equal in everything but the data settings (a run's data are
    /// checked by what they are, the recorded data set and split sizes, not by where they lie).
    public func describesSameRun(as other: TrainingConfiguration) -> Bool {
        var a = self, b = other
        a.data = DataSettings()
        b.data = DataSettings()
        return a == b
    }

    /// SHA-256 (lowercase hex) of the configuration's JSON with sorted keys: what run.json, the
    /// checkpoints and checkpoints.csv record, so that a configuration edited under a run is noticed.
    /// `probes.stepCurvature` false counts as absent (the same run).
    public var sha256: String {
        var c = self
        if c.probes.stepCurvature == false { c.probes.stepCurvature = nil }
        return sha256OfSortedJSON(c)
    }
}

/// SGD's hyper-parameters (``/Optimizers/SGD``).
public struct OptimizerSettings: Codable, Equatable, Sendable {
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
    /// Clip each mini-batch gradient to this global L2 norm before weight decay and momentum
    /// (``/Optimizers/SGD/gradientClipNorm``); `nil`: no clipping.
    public var gradientClipNorm: Double? = nil
    /// Rows per gradient evaluation inside one SGD step (0: the whole mini-batch at once). A
    /// larger mini-batch is split into micro-batches whose gradients are averaged, weighted by
    /// size: the same step up to rounding, with less memory and better cache use at large batches.
    public var microBatchSize: Int = 0
    /// Linear learning-rate warm-up over this many epochs (0…``TrainingConfiguration/epochs``,
    /// fractions allowed): the first W = ⌈warmupEpochs × steps per epoch⌉ steps take
    /// min(1, (t + 1)/W) times the schedule's rate (``/Optimizers/LearningRateSchedule/warmup(steps:then:)``;
    /// Goyal et al. 2017, §2.2); `nil` or 0: none. (Optional, so that runs made before it keep
    /// their SHA-256.)
    public var warmupEpochs: Double? = nil

    /// The defaults: batch 64, η₀ = 0.05, momentum 0.9, no weight decay, heavy ball.
    public init() {}
}

/// When a run stops before its last epoch: after the first epoch whose train loss and accuracy
/// (over the whole training split, evaluated after the epoch) reach every target set. The
/// learning-rate schedule stays that of all ``TrainingConfiguration/epochs``, so the epochs up to
/// the stop are those of the run without the rule.
public struct StoppingRule: OptionalSettingsGroup {
    /// Stop once the train accuracy is at least this fraction, in (0, 1].
    public var trainAccuracy: Double? = nil
    /// Stop once the train loss (mean cross-entropy) is at most this, > 0.
    public var trainLoss: Double? = nil

    /// No target (not valid as a rule: set one).
    public init() {}

    /// A rule with these targets.
    public init(trainAccuracy: Double? = nil, trainLoss: Double? = nil) {
        self.trainAccuracy = trainAccuracy; self.trainLoss = trainLoss
    }

    /// The targets in words: `train accuracy 0.99`, `train accuracy 0.99 and train loss 0.05`.
    public var targets: String {
        [trainAccuracy.map { "train accuracy \($0)" }, trainLoss.map { "train loss \($0)" }].compactMap { $0 }.joined(separator: " and ")
    }

    /// The targets, in words (`train accuracy 0.99`, `train accuracy 0.99 and train loss 0.05`),
    /// when an epoch with this train loss and accuracy reaches all of them; else `nil`.
    public func reached(trainLoss loss: Double, trainAccuracy accuracy: Double) -> String? {
        var met: [String] = []
        if let a = trainAccuracy {
            guard accuracy >= a else { return nil }
            met.append("train accuracy \(a)")
        }
        if let l = trainLoss {
            guard loss <= l else { return nil }
            met.append("train loss \(l)")
        }
        return met.isEmpty ? nil : met.joined(separator: " and ")
    }
}

/// The λ_max estimate of every epoch: power iteration on Hessian-vector products over the fixed
/// probe set (the first ``probeSamples`` training samples), warm-started from the previous epoch.
public struct ProbeSettings: Codable, Equatable, Sendable {
    /// Estimate λ_max every this many epochs (0 disables it; the last epoch always has one).
    public var lambdaEvery: Int = 1
    /// The probe set: the first this many training samples.
    public var probeSamples: Int = ProbeDefaults.probeSamples
    /// Rows per chunk of the probe set in Hessian-vector products (0: all at once). The probe loss
    /// is the size-weighted mean of the chunks' losses, i.e. the same function; only the speed
    /// differs (the CNN's HVP costs less per sample in chunks of 64).
    public var probeBatchSize: Int = 0
    /// Maximum power iterations per estimate. 10: in the study's CNN runs, half the epochs did
    /// not converge within 20 (a close λ₂) and went on to Lanczos anyway, which then converged.
    public var lambdaIterations: Int = 10
    /// Power iteration has converged when its residual ‖Hv − λv‖ ≤ tolerance·|λ|.
    public var lambdaTolerance: Double = ProbeDefaults.powerTolerance
    /// Further probes after λ_max on the same schedule, by name (``/Probes/ProbeRegistry``), with their
    /// default settings; `nil` or empty: λ_max alone. (Optional, so that the configurations of
    /// runs made before it keep their SHA-256.)
    public var extraProbes: [String]? = nil
    /// λ_max also after every this many SGD steps (counted over the whole run, so the count
    /// goes on across epochs and a resume), with the epoch λ_max's settings, on the same probe
    /// set, warm-started from the previous step's estimate: a row of the run's steps.csv
    /// (``StepMetrics``). `nil`: only after epochs. (Optional, so that runs made before it keep
    /// their SHA-256.)
    public var lambdaEverySteps: Int? = nil
    /// With `true`, the curvature along every SGD step (``/Probes/StepCurvature``: the actual update,
    /// momentum and weight decay included, on the step's batch at the θ before it): a row of the
    /// run's step-curvature.csv (``StepCurvatureMetrics``). `nil` or `false`: none. (Optional, so
    /// that runs made before it keep their SHA-256.)
    public var stepCurvature: Bool? = nil
    /// Which Hessian the probes of a model with BatchNorm measure: `eval` (`nil`), the loss with
    /// each BatchNorm layer's population statistics at θ over the training split (the evaluation's
    /// loss), or `train`, the loss with the batch statistics of the probe set as one batch (the
    /// training loss's; not chunked). In `eval` mode the epoch probes use the statistics at the
    /// epoch's θ, the step probes (``lambdaEverySteps``) those at θ of the epoch's start (one pass
    /// over the training split per epoch, not per probed step). No effect on a model without BatchNorm. (Optional, so that
    /// runs made before it keep their SHA-256.)
    public var normalization: NormalizationMode? = nil

    /// The defaults: every epoch, 1,024 samples at once, 10 iterations, tolerance 1e-3.
    public init() {}
}

/// A learning-rate schedule counted in epochs, written as text: `constant`, `cosine` (to zero
/// over all steps of the run) or `step:EPOCHS:GAMMA` (multiply by GAMMA every EPOCHS epochs,
/// PyTorch's StepLR stepped once per epoch). ``TrainingConfiguration/learningRateSchedule(stepsPerEpoch:)``
/// turns it into steps.
public enum Schedule: Codable, Equatable, Sendable, CustomStringConvertible {
    /// η₀ at every step.
    case constant
    /// η₀·½(1 + cos(πt/T)) at step t = 0, 1, … of the run's T steps (towards zero at its end).
    case cosine
    /// η₀·gamma^⌊epoch/everyEpochs⌋ (the epoch counted from 0).
    case step(everyEpochs: Int, gamma: Double)

    /// Reads the text form.
    /// - Throws: ``ConfigurationError`` (key `schedule`) naming the text and what is wrong.
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func bad(_ m: String) -> ConfigurationError { ConfigurationError(key: "schedule", m) }
        if let named = [Schedule.constant, .cosine].first(where: { $0.description == text.lowercased() }) {
            self = named
            return
        }
        switch parts.first {
        case "step" where parts.count == 3:
            guard let every = Int(parts[1]), every > 0 else { throw bad("has an invalid value ('\(text)'): the step size must be an integer ≥ 1 (epochs), got '\(parts[1])'") }
            guard let gamma = Double(parts[2]), gamma > 0, gamma.isFinite else { throw bad("has an invalid value ('\(text)'): gamma must be a positive finite number, got '\(parts[2])'") }
            self = .step(everyEpochs: every, gamma: gamma)
        default:
            throw bad("has an invalid value ('\(text)'); use constant, cosine, or step:EPOCHS:GAMMA (multiply by GAMMA every EPOCHS epochs, e.g. step:3:0.5)")
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch let error as ConfigurationError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.problem, underlyingError: error))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public var description: String {
        switch self {
        case .constant: return "constant"
        case .cosine: return "cosine"
        case let .step(every, gamma): return "step:\(every):\(gamma)"
        }
    }
}

/// SHA-256 (lowercase hex) of a value's JSON encoding with sorted keys.
/// SHA-256 (lowercase hex) of a value's JSON with sorted keys, `nil` optionals omitted (the
/// synthesized encoder's form): the one hash of configurations (``TrainingConfiguration/sha256``,
/// a sweep task's id).
public func sha256OfSortedJSON<T: Encodable>(_ value: T) -> String {
    let encoder = JSONText.encoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = (try? encoder.encode(value)) ?? Data()
    return SHA256.hexDigest(of: [UInt8](data))
}

// MARK: run.json written before the nested form

/// run.json's `configuration` as landscape wrote it before this type had nested settings: one
/// flat object (`model`, `batchSize`, `learningRate`, `momentum`, `weightDecay`, `nesterov`,
/// `schedule` as text, `epochs`, `seed`, `lambdaEvery`, `lambdaSamples`, `lambdaIterations`,
/// `lambdaTolerance`, `evaluationBatchSize`, `probeBatchSize`, `microBatchSize`; missing keys
/// meant their defaults) and no data settings. It reads as ``TrainingConfiguration`` through the
/// keys' last components (``ConfigurationValue``) with `lambdaSamples` renamed `probeSamples`;
/// its SHA-256 is that of the flat form, with the schedule's text as written.
struct FlatTrainingConfiguration: Encodable {
    var model: String, batchSize: Int, learningRate: Double, momentum: Double, weightDecay: Double, nesterov: Bool
    var schedule: String, epochs: Int, seed: UInt64, lambdaEvery: Int, lambdaSamples: Int, lambdaIterations: Int
    var lambdaTolerance: Double, evaluationBatchSize: Int, probeBatchSize: Int, microBatchSize: Int

    /// Whether a run.json configuration object is in the flat form.
    static func isFlat(_ object: [String: Any]) -> Bool { object["optimizer"] == nil && object["probes"] == nil }

    /// Reads a flat configuration object.
    /// - Returns: the configuration and the SHA-256 the flat form had.
    /// - Throws: ``ConfigurationError``.
    static func read(_ object: [String: Any], source: String) throws -> (TrainingConfiguration, sha256: String) {
        let c = try TrainingConfiguration().merging(object, source: source)
        let o = c.optimizer, p = c.probes
        let flat = FlatTrainingConfiguration(
            model: c.model.description, batchSize: o.batchSize, learningRate: o.learningRate, momentum: o.momentum, weightDecay: o.weightDecay,
            nesterov: o.nesterov, schedule: object["schedule"] as? String ?? c.schedule.description, epochs: c.epochs, seed: c.seed,
            lambdaEvery: p.lambdaEvery, lambdaSamples: p.probeSamples, lambdaIterations: p.lambdaIterations, lambdaTolerance: p.lambdaTolerance,
            evaluationBatchSize: c.evaluationBatchSize, probeBatchSize: p.probeBatchSize, microBatchSize: o.microBatchSize)
        return (c, sha256OfSortedJSON(flat))
    }
}

extension DatasetKind: SettingName {}
extension NormalizationMode: SettingName {}
extension Precision: SettingName {}

extension Schedule: SettingValue {
    public static var typeDescription: String { "constant, cosine or step:EPOCHS:GAMMA" }
    public init?(argument text: String) { try? self.init(parsing: text) }
    /// What ``init(parsing:)`` says is wrong (`has an invalid value ('step:0:1'): the step size must be …`).
    public static func problem(argument text: String) -> String? {
        do { _ = try Schedule(parsing: text); return nil } catch { return (error as? ConfigurationError)?.problem }
    }
    public var argumentText: String { description }
}

extension ModelSpec: SettingValue {
    public static var typeDescription: String {
        // Short: `--models <a list, each …>` must fit a help line.
        "a model (a preset, a compact form or a JSON file)"
    }

    /// Reads a model from command-line text: a preset name, a compact form or JSON text
    /// (``/Layers/ModelSpec/init(parsing:)``), else — when the text looks like a path (it ends in
    /// `.json` or contains '/') — a JSON specification file, read and kept as the specification
    /// itself, so a configuration that holds it needs no file. The text is parsed first, so a file
    /// in the working directory named like a preset (`mlp`) does not replace the preset; write
    /// `./mlp` to read it.
    /// - Throws: ``ConfigurationError`` (key `model`) naming the file or the text and what is
    ///   wrong, with the compact forms' grammar (``/Layers/ModelSpec/compactFormHelp``).
    public init(reading text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // The grammar once: a specification's errors about a compact form or a name carry it already.
        func withGrammar(_ error: Error) -> String {
            "\(error)".contains(ModelSpec.compactFormHelp) ? "\(error)" : "\(error)\n\(ModelSpec.compactFormHelp)"
        }
        let parseError: Error
        do { self = try ModelSpec(parsing: trimmed); return } catch { parseError = error }
        var isDirectory: ObjCBool = false
        let isFile = FileManager.default.fileExists(atPath: trimmed, isDirectory: &isDirectory) && !isDirectory.boolValue
        let looksLikePath = !trimmed.hasPrefix("{") && (trimmed.lowercased().hasSuffix(".json") || trimmed.contains("/"))
        // A compact form may contain '/' (`cnn:16-32/128`): a bad one that names no file is a bad model text.
        if looksLikePath && (isFile || trimmed.lowercased().hasSuffix(".json")) {
            let json: String
            do { json = try TextFile.read(URL(fileURLWithPath: trimmed)) } catch {
                throw ConfigurationError(key: "model", "names the specification file \(error.path), which \(error.problem)")
            }
            do { self = try ModelSpec(parsing: json) } catch {
                throw ConfigurationError(key: "model", "names the specification file \(trimmed), which is not a model specification: \(error)")
            }
            return
        }
        let fileNote = looksLikePath ? " (nor is it an existing file)" : isFile ? " (to read the file '\(trimmed)', write ./\(trimmed))" : ""
        throw ConfigurationError(key: "model", "has an invalid value ('\(trimmed)')\(fileNote): \(withGrammar(parseError))")
    }

    public init?(argument text: String) { try? self.init(reading: text) }
    /// What ``init(reading:)`` says is wrong with `text`.
    public static func problem(argument text: String) -> String? {
        do { _ = try ModelSpec(reading: text); return nil } catch { return (error as? ConfigurationError)?.problem ?? "\(error)" }
    }
    public var argumentText: String { description }
}

extension InitialParameters: SettingValue {
    public static var typeDescription: String { "an object of path and sha256 (a parameter file and its SHA-256)" }
    /// Not read from the command line: `train --from-checkpoint PATH` sets it, with the file's SHA-256.
    public init?(argument text: String) { return nil }
    public var argumentText: String { path }
}

extension DataSettings {
    /// The data keys, declared once: `train`'s `data.…` keys, and the data options of `probe`, `slice` and `taylor`.
    public static let keys: [SettingKey<DataSettings>] = [
        SettingKey("dataset", \.dataset, help: "The data set (fashion-mnist reads Debian's dataset-fashion-mnist files, or --data-directory)."),
        SettingKey("dataDirectory", \.dataDirectory, aliases: ["data-dir"],
                   help: "Directory with the four IDX files (.gz or raw); MNIST is fetched there if missing. null: data/mnist, or /usr/share/datasets/fashion-mnist for fashion-mnist."),
        SettingKey("validation", \.validation, limits: SettingLimits("in 0..<60000 (the rest is the training split)") { $0 >= 0 && $0 < 60_000 }, help: "Training samples held out for validation (of the 60,000)."),
        SettingKey("trainLimit", \.trainLimit, limits: .atLeast(1), help: "Use only this many training samples (a seeded random subset); null: all."),
        SettingKey("testLimit", \.testLimit, limits: .atLeast(1), help: "Use only this many test samples (a seeded random subset); null: all."),
    ]
}

extension TrainingConfiguration {
    /// Every key of a training run with its option, help and limits: `train`'s options and help come from here.
    public static let keys: [SettingKey<TrainingConfiguration>] = [
        SettingKey("model", \.model, help: "The model: a preset (\(ModelSpec.presets.map(\.name).joined(separator: ", "))), a compact form (mlp:784-512-512-10, cnn:16-32/128+bn, vit:patch7-dim32-depth2-heads4-mlp64; landscape model --help lists them), or the path of a JSON file of a specification (read, and recorded in run.json as the specification itself)."),
        SettingKey("epochs", \.epochs, limits: .range(1...maximumEpochs), help: "Passes over the training split; with a stopping rule, the most."),
        SettingKey("seed", \.seed, help: "Seeds initialization, shuffling and the λ_max start vector."),
        SettingKey("schedule", \.schedule, help: "The learning-rate schedule in epochs: constant, cosine (to zero over the run) or step:EPOCHS:GAMMA (multiply by GAMMA every EPOCHS epochs)."),
        SettingKey("evaluationBatchSize", \.evaluationBatchSize, limits: .range(1...(1 << 24)), help: "Rows per chunk when evaluating loss and accuracy."),
        SettingKey("optimizer.batchSize", \.optimizer.batchSize, limits: .range(1...(1 << 24)), help: "Samples per SGD step."),
        SettingKey("optimizer.learningRate", \.optimizer.learningRate, limits: .positive, help: "The base learning rate η₀ (representable in Float32)."),
        SettingKey("optimizer.momentum", \.optimizer.momentum, limits: .halfOpen(0, 1).noting("also after rounding to Float32"), help: "Heavy-ball momentum μ."),
        SettingKey("optimizer.weightDecay", \.optimizer.weightDecay, limits: .nonNegative, help: "L2 weight decay λ; η·λ must stay below SGD's stability limit."),
        SettingKey("optimizer.nesterov", \.optimizer.nesterov, help: "Nesterov momentum instead of heavy ball."),
        SettingKey("optimizer.gradientClipNorm", \.optimizer.gradientClipNorm, limits: .positive.noting("or null: no clipping"), help: "Clip each mini-batch gradient to this global L2 norm; null: no clipping."),
        SettingKey("optimizer.microBatchSize", \.optimizer.microBatchSize, aliases: ["micro-batch"], limits: .atLeast(0).noting("0: the whole mini-batch"),
                   help: "Rows per gradient evaluation inside one SGD step (0: the whole mini-batch); the same step with less memory."),
        SettingKey("optimizer.warmupEpochs", \.optimizer.warmupEpochs, help: "Linear learning-rate warm-up over this many epochs (at most epochs; fractions allowed); null: none."),
        SettingKey("stopping.trainAccuracy", Double?.self, limits: .openClosed(0, 1).noting("a fraction of the training split"), help: "Stop once the train accuracy reaches this fraction; null: no such target.",
                   value: { $0.stopping?.trainAccuracy }),
        SettingKey("stopping.trainLoss", Double?.self, limits: .positive, help: "Stop once the train loss falls to this value; null: no such target.",
                   value: { $0.stopping?.trainLoss }),
        SettingKey("probes.lambdaEvery", \.probes.lambdaEvery, limits: .atLeast(0).noting("0: never"), help: "Estimate λ_max every this many epochs (0: never; the last epoch always has one)."),
        SettingKey("probes.probeSamples", \.probes.probeSamples, aliases: ["lambda-samples"], limits: .range(ProbeLimits.probeSamples),
                   help: "The probe batch: the first this many training samples (the same default as probe's --probe-samples)."),
        SettingKey("probes.probeBatchSize", \.probes.probeBatchSize, limits: .atLeast(0).noting("0: the whole probe set at once"), help: "Rows per chunk of the probe batch in Hessian-vector products (0: all at once); the same function, only the speed differs."),
        SettingKey("probes.lambdaIterations", \.probes.lambdaIterations, option: "power-iterations", aliases: ["lambda-iterations"], limits: .range(ProbeLimits.powerIterations), help: "Maximum power iterations per λ_max estimate."),
        SettingKey("probes.lambdaTolerance", \.probes.lambdaTolerance, option: "power-tolerance", aliases: ["lambda-tolerance"], limits: .positive, help: "Power iteration has converged when ‖Hv − λv‖ ≤ tolerance·|λ| (the same default as probe's --power-tolerance)."),
        SettingKey("probes.extraProbes", \.probes.extraProbes, help: "Further probes after λ_max on the same schedule, by name (\(ProbeRegistry.names.filter { $0 != LambdaMaxProbe.name }.joined(separator: ", "))); null: λ_max alone."),
        SettingKey("probes.lambdaEverySteps", \.probes.lambdaEverySteps, limits: .atLeast(1).noting("or null: λ_max only after epochs"), help: "λ_max also after every this many SGD steps (steps.csv); null: only after epochs."),
        SettingKey("probes.stepCurvature", \.probes.stepCurvature, help: "The curvature along every SGD step (step-curvature.csv)."),
        SettingKey("probes.normalization", \.probes.normalization, help: "For a model with BatchNorm, the Hessian the probes measure: eval (population statistics at θ over the training split; step probes: at θ of the epoch's start) or train (batch statistics of the probe set, as one batch); null: eval."),
    ] + DataSettings.keys.map { $0.nested(in: "data", \.data) }

    /// The θ a run starts from, which `train --from-checkpoint` records.
    public static let recordedKeys: [SettingKey<TrainingConfiguration>] = [
        SettingKey("initialParameters", \.initialParameters, help: "The parameter file a run starts from and its SHA-256 (train --from-checkpoint); null: a fresh initialization from seed."),
    ]
}

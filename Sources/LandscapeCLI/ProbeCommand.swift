import ArgumentParser
import Autodiff
import Checkpoints
import Foundation
import Layers
import Plotting
import Probes
import Tensors

struct ProbeCommand: ModelCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Curvature probes on a parameter file: λ_max (power iteration and Lanczos), λ_min, trace (Hutchinson, Hutch++), spectral density (SLQ), effective rank and sharpness.")

    @OptionGroup var target: ProbeTarget
    @Option(help: "Directory for the JSON/CSV/SVG outputs (default runs/probe-MODEL-TIMESTAMP).") var outputDir: String?
    @Option(parsing: .unconditional, help: "Top eigenvalues by Lanczos (default \(ProbeCommand.defaults.top)).") var top: Int?
    @Option(parsing: .unconditional, help: "Lanczos steps for the top eigenvalues (default \(ProbeCommand.defaults.lanczosSteps)).") var lanczosSteps: Int?
    @Option(parsing: .unconditional, help: "Power iterations (maximum) for λ_max (default \(ProbeCommand.defaults.powerIterations)).") var powerIterations: Int?
    @Option(parsing: .unconditional, help: "SLQ probe vectors (default \(ProbeCommand.defaults.slqProbes)).") var slqProbes: Int?
    @Option(parsing: .unconditional, help: "SLQ Lanczos steps per probe (default \(ProbeCommand.defaults.slqSteps)).") var slqSteps: Int?
    @Option(parsing: .unconditional, help: "Hutchinson probes; Hutch++ uses the same number of HVPs (default \(ProbeCommand.defaults.traceProbes)).") var traceProbes: Int?
    @Option(parsing: .unconditional, help: "Sharpness radius ε in parameter-space units (default \(ProbeCommand.defaults.epsilon)).") var epsilon: Double?
    @Option(parsing: .unconditional, help: "Random directions for sharpness (default \(ProbeCommand.defaults.directions)).") var directions: Int?
    @Flag(help: "Filter-normalized random directions for sharpness (Li et al. 2018).") var filterNormalized = false
    @Option(parsing: .unconditional, help: "Projected gradient-ascent steps for worst-case sharpness (default \(ProbeCommand.defaults.ascentSteps)).") var ascentSteps: Int?
    @Option(name: .customLong("operator"), help: "Curvature for the eigenvalue, trace and density probes: hessian, ggn (generalized Gauss–Newton) or fisher (empirical Fisher).") var curvature: String = "hessian"
    @Option(help: "Per-block probes: none, or layer (λ_max, λ_min and trace of each layer's diagonal block).") var blocks: String = "none"

    static let outputPrefix = "runs/probe"
    /// The probe suite's defaults, which the options override.
    static let defaults = ProbeSuiteSettings()

    /// The options laid over the probe suite's defaults.
    var settings: ProbeSuiteSettings {
        var s = Self.defaults
        if let top { s.top = top }
        if let lanczosSteps { s.lanczosSteps = lanczosSteps }
        if let powerIterations { s.powerIterations = powerIterations }
        if let slqProbes { s.slqProbes = slqProbes }
        if let slqSteps { s.slqSteps = slqSteps }
        if let traceProbes { s.traceProbes = traceProbes }
        if let epsilon { s.epsilon = epsilon }
        if let directions { s.directions = directions }
        if let ascentSteps { s.ascentSteps = ascentSteps }
        s.filterNormalized = filterNormalized
        s.perLayer = blocks == "layer"
        s.seed = target.seed
        return s
    }

    func validate() throws {
        guard CurvatureKind(rawValue: curvature) != nil else {
            throw ValidationError("--operator must be one of \(CurvatureKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(curvature)'")
        }
        guard ["none", "layer"].contains(blocks) else { throw ValidationError("--blocks must be none or layer, got '\(blocks)'") }
        if let (setting, problem) = settings.problem {
            throw ValidationError("--\(ConfigurationFlags.option(for: setting)) \(problem)")
        }
    }

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
        let settings = self.settings
        let r = try probeSuite(of: f, at: θ, operator: op, layout: m.layout, settings: settings) { stderrLine("… \($0) (\(curvature))") }
        let power = r.power, lz = r.top, sharp = r.sharpness
        outLine("model \(m.name) (\(d) parameters), θ: \(target.parameters ?? "fresh, seed \(target.seed)"), batch: \(f.labels.count) training samples, Float64, operator: \(curvature)")
        outLine(String(format: "λ_max  power iteration %.6g (%d its, residual %.2g%@)   Lanczos %.6g (residual %.2g)   relative difference %.2g",
                       power.eigenvalue, power.iterations, power.residualNorm, power.converged ? "" : ", not converged: \(power.status.rawValue)", r.lambdaMax, lz.pairs[0].residualNorm,
                       abs(power.eigenvalue - r.lambdaMax) / max(abs(r.lambdaMax), 1e-300)))
        outLine("top-\(settings.top) (Lanczos): " + lz.pairs.map { String(format: "%.6g", $0.value) }.joined(separator: ", ") + String(format: "   λ_min %.6g", r.bottom.pairs[0].value))
        outLine(String(format: "trace  Hutchinson %.6g ± %.2g   Hutch++ %.6g ± %.2g   SLQ d·mean %.6g", r.hutchinson.trace, r.hutchinson.standardError,
                       r.hutchPlusPlus.trace, r.hutchPlusPlus.standardError, r.density.mean * Double(d)))
        outLine(String(format: "effective rank (from SLQ)  entropy %.4g   trace/λ_max %.4g", r.rank.entropy, r.rank.traceRatio))
        outLine(String(format: "sharpness ε = %g  S_max %.6g   S_mean %.6g   worst case (PGA) %.6g   ½ε²λ_max %.6g", settings.epsilon, sharp.maximum, sharp.mean, r.worstCase, sharp.quadraticPrediction ?? .nan))
        if !r.layers.isEmpty {
            outLine("per layer (\(curvature) diagonal blocks):")
            for b in r.layers {
                outLine(String(format: "  %@  %d parameters  λ_max %.6g%@  λ_min %.6g%@  trace %.6g ± %.2g", b.name, b.parameters,
                               b.lambdaMax.value, b.lambdaMax.converged ? "" : " (not converged)", b.lambdaMin.value,
                               b.lambdaMin.converged ? "" : " (not converged)", b.trace, b.traceStandardError))
            }
        }

        let json: [String: Any] = [
            "model": m.name, "parameters": d, "samples": f.labels.count, "seed": target.seed, "operator": curvature,
            "blocks": r.layers.map { ["name": $0.name, "parameters": $0.parameters, "lambda_max": $0.lambdaMax.value,
                                      "lambda_max_residual": $0.lambdaMax.residualNorm, "lambda_min": $0.lambdaMin.value,
                                      "lambda_min_residual": $0.lambdaMin.residualNorm, "trace": $0.trace, "trace_standard_error": $0.traceStandardError] as [String: Any] },
            "lambda_max_power": ["value": power.eigenvalue, "iterations": power.iterations, "residual": power.residualNorm, "converged": power.converged, "status": power.status.rawValue],
            "lanczos_top": lz.pairs.map { ["value": $0.value, "residual": $0.residualNorm, "converged": $0.converged] },
            "lambda_min": r.bottom.pairs[0].value,
            "trace_hutchinson": ["estimate": r.hutchinson.trace, "standard_error": r.hutchinson.standardError],
            "trace_hutchpp": ["estimate": r.hutchPlusPlus.trace, "standard_error": r.hutchPlusPlus.standardError],
            "effective_rank": ["entropy": r.rank.entropy, "trace_ratio": r.rank.traceRatio],
            "sharpness": ["epsilon": settings.epsilon, "max": sharp.maximum, "mean": sharp.mean, "worst_case": r.worstCase,
                          "half_eps2_lambda_max": sharp.quadraticPrediction ?? Double.nan, "directions": filterNormalized ? "filter-normalized" : "unit"],
            "seconds": r.seconds, "openblas": BLASRuntime.coreName,
        ]
        let density = r.density
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]), to: out.appendingPathComponent("probe.json"))
        try writeText("eigenvalue,density\n" + zip(density.grid, density.density).map { "\($0),\($1)" }.joined(separator: "\n") + "\n", out, "density.csv")
        try writeText("node,weight\n" + zip(density.nodes, density.weights).map { "\($0),\($1)" }.joined(separator: "\n") + "\n", out, "density-nodes.csv")
        let floor = (density.density.max() ?? 1) * 1e-8
        let title = curvature == "hessian" ? "Hessian" : curvature == "ggn" ? "Gauss–Newton" : "empirical Fisher"
        try writeText(SVGPlot.linePlot(title: "\(title) spectral density (SLQ, \(settings.slqProbes) probes × \(min(settings.slqSteps, d)) steps)", xLabel: "eigenvalue λ",
                                       yLabel: "density φ(λ)", series: [.init(name: "SLQ density", x: density.grid, y: density.density.map { max($0, floor) }, color: "#1f77b4")],
                                       logY: true), out, "density.svg")
        outLine("wrote \(out.path)/probe.json, density.csv, density-nodes.csv, density.svg")
    }
}

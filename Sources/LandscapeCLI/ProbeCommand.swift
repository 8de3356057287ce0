import ArgumentParser
import Autodiff
import Checkpoints
import Foundation
import Layers
import Plotting
import Probes
import Settings
import Study
import Tensors
import Training

struct ProbeCommand: ModelCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Curvature probes on a parameter file: λ_max (power iteration and Lanczos), λ_min, trace (Hutchinson, Hutch++), spectral density (SLQ), effective rank and sharpness.",
        discussion: SettingOptions(TargetSettings.probeKeys).help(defaults: TargetSettings(), heading: "Settings (--OPTION VALUE or --OPTION=VALUE):"))

    @OptionGroup var target: ProbeTarget
    @OptionGroup var selection: ProbeSelectionOptions
    @Option(help: "Directory for the JSON/CSV/SVG outputs (default runs/probe-MODEL-TIMESTAMP).") var outputDir: String?
    @Option(name: .customLong("operator"), help: "Curvature for the eigenvalue, trace and density probes: hessian, ggn (generalized Gauss–Newton) or fisher (empirical Fisher).") var curvature: String = "hessian"
    @Option(help: "Per-block probes: none, or layer (λ_max, λ_min and trace of each module's diagonal block: a parameterized layer, or a transformer block's attention, MLP and norms).") var blocks: String = "none"
    @Option(help: "Further probes by name, comma-separated, with their default settings, on the --operator curvature (\(ProbeRegistry.names.joined(separator: ", "))); their fields go to probe.json under \"probes\".") var probes: String = ""
    @Flag(help: "Per-sample curvature: uᵀHᵢu of every sample's loss along the λ_max eigenvector u and along a random unit direction (drawn from --seed; its generator seed is in the CSV), one forward jet pass of order 2 each; writes per_sample.csv and per_sample.svg (per class), and the summary along u to probe.json under \"probes\".per_sample.") var perSample = false
    @Option(parsing: .unconditional, help: "Samples per mini-batch of \(BatchSharpnessProbe.name) in --probes: the SGD batch size of the run that wrote --parameters (default \(ProbeCommand.defaultBatchSize), train's default). Batches are drawn from the whole training split; a size above it uses all of it.") var batchSize: Int?

    @Option(parsing: .unconditional, help: "Learning rate of the run that wrote --parameters, for \(SharpnessGradientProbe.name) in --probes (the gradient step whose sharpness it predicts); without it, that probe steps 1/λ_max.") var learningRate: Double?

    /// The probes of --probes.
    var extraProbes: [AnyProbe] {
        get throws { try probes.split(separator: ",").map { try ProbeRegistry.probe(named: $0.trimmingCharacters(in: .whitespaces)) } }
    }

    static let outputPrefix = "runs/probe"
    /// The mini-batch size without --batch-size: training's default (``OptimizerSettings/batchSize``).
    static let defaultBatchSize = TrainingConfiguration().optimizer.batchSize
    /// The probe suite's settings from the key options (``TargetSettings/probeKeys``), with `--blocks` and `--seed`.
    var settings: ProbeSuiteSettings {
        var s = (try? target.settings())?.suite ?? ProbeSuiteSettings()
        s.perLayer = blocks == "layer"
        s.seed = target.seed
        return s
    }

    /// `--filter-normalized`.
    var filterNormalized: Bool { settings.filterNormalized }

    func validate() throws {
        guard CurvatureKind(rawValue: curvature) != nil else {
            throw ValidationError("--operator must be one of \(CurvatureKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(curvature)'")
        }
        guard ["none", "layer"].contains(blocks) else { throw ValidationError("--blocks must be none or layer, got '\(blocks)'") }
        do { _ = try extraProbes } catch { throw ValidationError("--probes: \(error)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) { throw ValidationError("--learning-rate must be positive and finite, got \(learningRate)") }
        _ = try target.settings()
    }

    func run<M: Model>(_ m: M, _ context: RunContext, _ out: URL) throws {
        if let (setting, problem) = settings.memoryProblem(dimension: m.layout.parameterCount, scalarBytes: MemoryLayout<Double>.size) {
            throw CLIError(description: "--\(TargetSettings.option(for: setting)): \(problem); lower it")
        }
        let b = try target.batch(m, context: context)
        // The model in the BatchNorm mode the probes measure (itself without BatchNorm).
        let m = b.model
        let kind = CurvatureKind(rawValue: curvature)!
        // Built at the first product: `--only keskar` needs none (for fisher, no per-sample gradients).
        let op = LazyOperator<Double>(dimension: b.θ.count) {
            if kind == .fisher { stderrLine("… per-sample gradients for the empirical Fisher (\(b.labels.count) backward passes)") }
            return try b.curvature(kind)
        }
        let f = try b.loss, θ = b.θ
        let d = θ.count
        let settings = self.settings
        // λ_max's eigenvector is the start of --per-sample, the direction files and the extra probes' λ_max.
        var asked = try selection.parts
        if perSample || selection.saveDirections { asked.insert(.lambdaMax) }
        let r = try probeSuite(of: f, at: θ, operator: op, layout: m.layout, blocks: m.modules, settings: settings, parts: asked) { stderrLine("… \($0) (\(curvature))") }
        outLine("model \(m.name) (\(d) parameters\(b.normalization.map { ", BatchNorm in \($0.rawValue) mode" } ?? "")), θ: \(target.parameters ?? "fresh, seed \(target.seed)"), batch: \(b.labels.count) training samples in chunks of \(min(b.chunkRows, b.labels.count)) (\(b.records(kind).rawValue)), Float64, operator: \(curvature)")
        if selection.only != nil { outLine("probes: \(r.parts.sorted().map(\.rawValue).joined(separator: ", "))") }
        if let power = r.power, let lz = r.top, let lambdaMax = r.lambdaMax {
            outLine(String(format: "λ_max (largest eigenvalue)  %@ %.6g (%d products, residual %.2g%@)   Lanczos top-%d %.6g (residual %.2g)   relative difference %.2g",
                           power.method == .powerIteration ? "power iteration" : "power iteration + Lanczos", power.value, power.products, power.residualNorm,
                           power.converged ? "" : ", not converged; power iteration: \(power.powerStatus.rawValue)", settings.top, lambdaMax, lz.pairs[0].residualNorm,
                           abs(power.value - lambdaMax) / max(abs(lambdaMax), 1e-300)))
            if let negative = power.dominantNegative {
                outLine(String(format: "dominant negative eigenvalue %.6g (|λ| ≥ λ_max: negative curvature dominates in magnitude)", negative))
            }
            outLine("top-\(settings.top) (Lanczos): " + lz.pairs.map { String(format: "%.6g", $0.value) }.joined(separator: ", "))
        }
        if let bottom = r.bottom { outLine(String(format: "λ_min (Lanczos) %.6g", bottom.pairs[0].value)) }
        if let hutchinson = r.hutchinson, let hpp = r.hutchPlusPlus {
            outLine(String(format: "trace  Hutchinson %.6g ± %.2g   Hutch++ %.6g ± %.2g", hutchinson.trace, hutchinson.standardError, hpp.trace, hpp.standardError) +
                    (r.density.map { String(format: "   SLQ d·mean %.6g", $0.mean * Double(d)) } ?? ""))
        } else if let density = r.density {
            outLine(String(format: "trace  SLQ d·mean %.6g", density.mean * Double(d)))
        }
        if let ranks = r.ranks {
            outLine(String(format: "effective rank (from SLQ)  entropy %.4g   trace/λ_max %.4g   participation ratio %.4g   N_eff(z = %g) %.4g   eigenvalues ≥ %g·λ_max %.4g",
                           ranks.effectiveRank.entropy, ranks.effectiveRank.traceRatio, ranks.participationRatio, ranks.regularization,
                           ranks.effectiveDimension, ranks.fraction, ranks.countAboveFraction))
        }
        if let sharp = r.sharpness, let worstCase = r.worstCase {
            outLine(String(format: "sharpness ε = %g  S_max %.6g   S_mean %.6g   worst case (PGA) %.6g   ½ε²λ_max %.6g", settings.epsilon, sharp.maximum, sharp.mean, worstCase, sharp.quadraticPrediction ?? .nan))
        }
        if let keskar = r.keskar {
            outLine(String(format: "Keskar sharpness, box |δ_i| ≤ %g(|θ_i| + 1): increase %.6g, φ = %.6g %% (%d ascent steps)",
                           keskar.epsilon, keskar.increase, keskar.sharpness, keskar.steps))
        }
        if !r.layers.isEmpty {
            outLine("per module (\(curvature) diagonal blocks):")
            for b in r.layers {
                outLine(String(format: "  %@  %d parameters  λ_max %.6g%@  λ_min %.6g%@  trace %.6g ± %.2g", b.name, b.parameters,
                               b.lambdaMax.value, b.lambdaMax.converged ? "" : " (not converged)", b.lambdaMin.value,
                               b.lambdaMin.converged ? "" : " (not converged)", b.trace, b.traceStandardError))
            }
        }

        var further: [String: Any] = [:]
        // A probe of --probes that fails loses nothing else: its error goes to probe.json, the
        // command writes every other result and then fails naming it.
        var failed: [String] = []
        if !(try extraProbes).isEmpty {
            let miniBatches = try b.miniBatches(batchSize: batchSize ?? Self.defaultBatchSize)
            if miniBatches.batchSize > miniBatches.samples, try extraProbes.contains(where: { $0.name == BatchSharpnessProbe.name }) {
                stderrLine("note: --batch-size \(miniBatches.batchSize) is more than the \(miniBatches.samples) training samples; \(BatchSharpnessProbe.name) measures one batch of all of them")
            }
            var context = ProbeContext(point: θ, loss: f, seed: target.seed, curvature: { AnySymmetricOperator(op) }, miniBatches: miniBatches,
                                       perSample: m.couplesSamples ? nil : try m.perSampleLosses(on: b.input, labels: b.labels, chunkSize: b.chunkRows))
            context.learningRate = learningRate
            if let power = r.power { context.warmStarts[LambdaMaxProbe.name] = power.vector }   // the start of λ_max where a probe runs it
            for p in try extraProbes {
                stderrLine("… \(p.name) (\(curvature))")
                let values: [Double]
                do { values = try p.measure(&context) } catch {
                    stderrLine("\(p.name) failed: \(error)")
                    further[p.name] = ["error": "\(error)"]
                    failed.append("\(p.name) (\(error))")
                    continue
                }
                further[p.name] = p.json(values)
                outLine("\(p.name): " + zip(p.columns, values).map { "\($0.0) \(String(format: "%.6g", $0.1))" }.joined(separator: "  "))
            }
        }
        var outputs = ["probe.json"]
        if r.density != nil { outputs += ["density.csv", "density-nodes.csv", "density.svg"] }
        if perSample, let power = r.power {
            further["per_sample"] = try writePerSample(m, b, u: power.vector, out)
            outputs += ["per_sample.csv", "per_sample.svg"]
        }
        if selection.saveDirections, let lz = r.top {
            outputs += try saveDirections(lz.pairs.enumerated().map { (name: "eigen-\($0.offset + 1)", vector: $0.element.vector) }, layout: m.layout, in: out,
                                          metadata: ["model": m.name, "operator": curvature, "source": target.parameters ?? "fresh, seed \(target.seed)"])
        }
        var json: [String: Any] = [
            "probes": further,
            "ran": r.parts.sorted().map(\.rawValue),
            "inputs": try context.inputs(samples: b.labels.count, seed: target.seed),
            "settings": ["top": settings.top, "lanczos_steps": settings.lanczosSteps, "power_iterations": settings.powerIterations, "power_tolerance": settings.powerTolerance,
                         "slq_probes": settings.slqProbes, "slq_steps": settings.slqSteps, "trace_probes": settings.traceProbes, "epsilon": settings.epsilon,
                         "directions": settings.directions, "ascent_steps": settings.ascentSteps, "keskar_epsilon": settings.keskar.epsilon,
                         "rank_regularization": settings.ranks.regularization, "rank_fraction": settings.ranks.fraction, "filter_normalized": settings.filterNormalized,
                         "blocks": blocks, "batch_size": batchSize ?? Self.defaultBatchSize, "learning_rate": learningRate.map { $0 as Any } ?? NSNull()] as [String: Any],
            "model": m.name, "parameters": d, "normalization": b.normalization.map { $0.rawValue as Any } ?? NSNull(), "samples": b.labels.count, "chunk_rows": min(b.chunkRows, b.labels.count), "seed": target.seed, "operator": curvature,
            "blocks": r.layers.map { ["name": $0.name, "parameters": $0.parameters, "lambda_max": $0.lambdaMax.value,
                                      "lambda_max_residual": $0.lambdaMax.residualNorm, "lambda_min": $0.lambdaMin.value,
                                      "lambda_min_residual": $0.lambdaMin.residualNorm, "trace": $0.trace, "trace_standard_error": $0.traceStandardError] as [String: Any] },
            "seconds": r.seconds, "openblas": BLASRuntime.coreName,
        ]
        if let power = r.power, let lz = r.top {
            json["lambda_max_power"] = ["value": power.value, "products": power.products, "residual": power.residualNorm, "converged": power.converged,
                                        "method": power.method.rawValue, "power_status": power.powerStatus.rawValue, "dominant_negative": power.dominantNegative.map { $0 as Any } ?? NSNull()] as [String: Any]
            json["lanczos_top"] = lz.pairs.map { ["value": $0.value, "residual": $0.residualNorm, "converged": $0.converged] }
        }
        if let bottom = r.bottom { json["lambda_min"] = bottom.pairs[0].value }
        if let hutchinson = r.hutchinson, let hpp = r.hutchPlusPlus {
            json["trace_hutchinson"] = ["estimate": hutchinson.trace, "standard_error": hutchinson.standardError]
            json["trace_hutchpp"] = ["estimate": hpp.trace, "standard_error": hpp.standardError]
        }
        if let density = r.density { json["trace_slq"] = ["estimate": density.mean * Double(d), "probes": settings.slqProbes, "steps": min(settings.slqSteps, d)] as [String: Any] }
        if let ranks = r.ranks {
            json["effective_rank"] = ["entropy": ranks.effectiveRank.entropy, "trace_ratio": ranks.effectiveRank.traceRatio,
                                      "participation_ratio": ranks.participationRatio, "effective_dimension": ranks.effectiveDimension,
                                      "effective_dimension_z": ranks.regularization, "count_above_fraction": ranks.countAboveFraction,
                                      "fraction": ranks.fraction] as [String: Any]
        }
        if let keskar = r.keskar { json["keskar_sharpness"] = ["epsilon": keskar.epsilon, "increase": keskar.increase, "phi_percent": keskar.sharpness, "steps": keskar.steps] as [String: Any] }
        if let sharp = r.sharpness, let worstCase = r.worstCase {
            json["sharpness"] = ["epsilon": settings.epsilon, "max": sharp.maximum, "mean": sharp.mean, "worst_case": worstCase,
                                 "half_eps2_lambda_max": sharp.quadraticPrediction ?? Double.nan, "directions": filterNormalized ? "filter-normalized" : "unit"] as [String: Any]
        }
        try AtomicFile.write(try JSONText.data(json), to: out.appendingPathComponent("probe.json"))
        let numbers = JSONText.numbers(in: json)
        if let warning = nonFiniteWarning(numbers.map(\.value), what: "results", note: numbers.filter { !$0.value.isFinite }.map(\.path).joined(separator: ", "),
                                          kept: "probe.json holds them as \"\(JSONText.nan)\", \"\(JSONText.infinity)\" or \"\(JSONText.negativeInfinity)\"") {
            stderrLine(warning)
        }
        if let density = r.density {
            try writeText("eigenvalue,density\n" + zip(density.grid, density.density).map { "\($0),\($1)" }.joined(separator: "\n") + "\n", out, "density.csv")
            try writeText("node,weight\n" + zip(density.nodes, density.weights).map { "\($0),\($1)" }.joined(separator: "\n") + "\n", out, "density-nodes.csv")
            let floor = (density.density.max() ?? 1) * 1e-8
            let title = curvature == "hessian" ? "Hessian" : curvature == "ggn" ? "Gauss–Newton" : "empirical Fisher"
            try writeText(SVGPlot.linePlot(title: "\(title) spectral density (SLQ, \(settings.slqProbes) probes × \(min(settings.slqSteps, d)) steps)", xLabel: "eigenvalue λ",
                                           yLabel: "density φ(λ)", series: [.init(name: "SLQ density", x: density.grid, y: density.density.map { max($0, floor) }, color: "#1f77b4")],
                                           logY: true), out, "density.svg")
        }
        outLine("wrote \(out.path)/" + outputs.joined(separator: ", "))
        if !failed.isEmpty {
            throw CLIError(description: "--probes: \(failed.joined(separator: "; ")); every other result is in \(out.path)")
        }
    }

    /// `--per-sample`: each sample's loss and its curvature along `u` (the λ_max eigenvector) and
    /// along a random unit direction (a generator seeded from `--seed`, its seed in the CSV) (``Model/perSampleExpansion(at:along:input:labels:order:chunkSize:)``),
    /// in per_sample.csv, their distribution per class in per_sample.svg; prints and returns the
    /// summary along u (``PerSampleCurvatureProbe/Result``) as JSON.
    func writePerSample<M: Model>(_ m: M, _ b: ProbeBatch<M>, u: Tensor<Double>, _ out: URL) throws -> [String: Any] {
        stderrLine("… per-sample curvature (a forward jet pass of order 2 along u and along a random direction)")
        // A stream of --seed of its own: not the start vector's or a fresh θ's initialization.
        let randomSeed = SplitMix64.derivedSeed(target.seed, stream: 0x9E75)
        var rng = SplitMix64(seed: randomSeed)
        let random = Tensor<Double>.randomNormal([b.θ.count], using: &rng).normalized()
        let alongU = try m.perSampleExpansion(at: b.θ, along: u, input: b.input, labels: b.labels, order: 2, chunkSize: b.chunkRows)
        let alongRandom = try m.perSampleExpansion(at: b.θ, along: random, input: b.input, labels: b.labels, order: 2, chunkSize: b.chunkRows)
        let cu = alongU.curvatures, cr = alongRandom.curvatures
        var csv = "sample,label,predicted,loss,curvature_u,curvature_random,random_seed\n"
        for i in b.labels.indices {
            csv += "\(i),\(b.labels[i]),\(alongU.predicted[i]),\(alongU.losses[i]),\(cu[i]),\(cr[i]),\(randomSeed)\n"
        }
        try writeText(csv, out, "per_sample.csv")
        let summary = PerSampleCurvatureProbe.Result(curvatures: cu, labels: b.labels, classCount: m.classCount)
        outLine(String(format: "per-sample curvature along u (N = %d): mean %.6g (uᵀHu), top 1 %% share %.3g, top 10 %% share %.3g, negative %.3g, largest class mean: class %d (%.6g)",
                       cu.count, summary.mean, summary.top1Share, summary.top10Share, summary.negativeFraction, summary.maxClass, summary.maxClassMean))
        // Per class: the mean with the 10–90 % quantile band, and the median, along u and along the random direction.
        let classes = (0..<m.classCount).map(Double.init)
        func perClass(_ c: [Double]) -> (mean: [Double], median: [Double], q10: [Double], q90: [Double]) {
            let groups = (0..<m.classCount).map { k in zip(c, b.labels).filter { $0.1 == k }.map(\.0).sorted() }
            return (groups.map { $0.isEmpty ? .nan : $0.reduce(0, +) / Double($0.count) }, groups.map { Statistics.quantile(sorted: $0, 0.5) },
                    groups.map { Statistics.quantile(sorted: $0, 0.1) }, groups.map { Statistics.quantile(sorted: $0, 0.9) })
        }
        let pu = perClass(cu), pr = perClass(cr)
        let svg = SVGPlot.linePlot(title: "Per-sample curvature by class (\(cu.count) samples)", xLabel: "class (label)", yLabel: "vᵀHᵢv",
                                   series: [.init(name: "along u (λ_max): mean, 10–90 %", x: classes, y: pu.mean, color: "#1f77b4", band: .init(lower: pu.q10, upper: pu.q90)),
                                            .init(name: "along u: median", x: classes, y: pu.median, color: "#1f77b4", dashed: true),
                                            .init(name: "random direction: mean, 10–90 %", x: classes, y: pr.mean, color: "#d62728", band: .init(lower: pr.q10, upper: pr.q90))],
                                   markers: true, integerX: true)
        try writeText(svg, out, "per_sample.svg")
        return summary.json.merging(["random_seed": target.seed, "random_mean": cr.reduce(0, +) / Double(cr.count)]) { a, _ in a }
    }
}

/// An operator built at its first product (and kept): a command builds its curvature operator only
/// when a probe applies it.
final class LazyOperator<E: TensorScalar>: SymmetricOperator {
    let dimension: Int
    private let build: () throws -> AnySymmetricOperator<E>
    private var built: AnySymmetricOperator<E>?

    /// The operator `build` returns, of `dimension`, built when first applied.
    init(dimension: Int, build: @escaping () throws -> AnySymmetricOperator<E>) {
        self.dimension = dimension
        self.build = build
    }

    /// The operator, built now if it was not.
    var base: AnySymmetricOperator<E> {
        get throws {
            if let built { return built }
            let op = try build()
            built = op
            return op
        }
    }

    func apply(_ v: Tensor<E>) throws -> Tensor<E> { try base.apply(v) }
    func apply(block vectors: [Tensor<E>]) throws -> [Tensor<E>] { try base.apply(block: vectors) }
}

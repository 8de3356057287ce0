import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Checkpoints
import Datasets
import Layers
import Plotting
import Probes
@testable import Study
import Tensors
import Training

/// The shared MNIST copy beside the repository (../shared/data/mnist), if present.
func sharedMNIST() -> URL? {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dir = root.deletingLastPathComponent().appendingPathComponent("shared/data/mnist")
    return FileManager.default.fileExists(atPath: dir.appendingPathComponent("train-images-idx3-ubyte.gz").path) ? dir : nil
}

func temporaryDirectory() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("landscape-study-test-\(UUID().uuidString)")
}

/// A study small enough for a debug-build test: one seed, 600 training samples, 1 epoch, tiny probes.
func tinyConfiguration() -> StudyConfiguration {
    var c = StudyConfiguration()
    c.seeds = [0]
    c.regimes = ["high-noise", "low-noise"]
    c.training.data.trainLimit = 600
    c.training.data.validation = 200
    c.training.data.testLimit = 300
    c.training.epochs = 1
    c.regimeSettings["low-noise"] = RegimeSettings(batchSize: 200, learningRate: 0.01)
    c.training.probes.probeSamples = 64
    c.probeBatchSize = ["cnn": 32]
    c.training.probes.lambdaIterations = 5
    c.epochProbes.sharpnessDirections = 3
    c.epochProbes.traceProbes = 2
    c.epochProbes.batchSharpnessBatches = 2
    c.finalProbes.slicePoints = 5
    c.finalProbes.sliceSamples = 32
    c.finalProbes.lanczosCount = 2
    c.finalProbes.lanczosSteps = 4
    c.finalProbes.slqProbes = 1
    c.finalProbes.slqSteps = 4
    // The validity radii (an order-6 jet per direction, unspecialized in a debug build) are a study of their own below.
    c.finalProbes.extraFinalProbes = [KeskarProbe.name, PerSampleCurvatureProbe.name]
    return c
}

func tinyData() throws -> MNISTDataset? {
    guard let dir = sharedMNIST() else {
        Issue.record("MNIST not found at ../shared/data/mnist: this test needs the real data and did not run")
        return nil
    }
    let c = tinyConfiguration()
    let d = c.training.data
    return try MNISTDataset(directory: dir, validationCount: d.validation, trainLimit: d.trainLimit, testLimit: d.testLimit)
}

/// Every regular file under `dir` (relative path → contents).
func snapshot(_ dir: URL) -> [String: Data] {
    var out: [String: Data] = [:]
    let base = dir.standardizedFileURL.path
    if let e = FileManager.default.enumerator(atPath: base) {
        for case let rel as String in e {
            var isDir: ObjCBool = false
            let full = base + "/" + rel
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue {
                out[rel] = FileManager.default.contents(atPath: full)
            }
        }
    }
    return out
}

/// metrics.csv without the timing columns (which differ between runs).
func metricsWithoutTimes(_ dir: URL) throws -> [[String: String]] {
    try CSVTable.read(dir.appendingPathComponent("metrics.csv")).rows.map { $0.filter { !$0.key.hasSuffix("_seconds") } }
}

/// The data-series attributes of an SVG file, after checking it parses as XML.
final class SeriesCollector: NSObject, XMLParserDelegate {
    var series: [String] = []
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if let s = attributes["data-series"] { series.append(s) }
    }
}

func svgSeries(_ url: URL) throws -> [String] {
    let parser = XMLParser(contentsOf: url)!
    let collector = SeriesCollector()
    parser.delegate = collector
    #expect(parser.parse(), "\(url.lastPathComponent) is not well-formed XML: \(String(describing: parser.parserError))")
    return collector.series
}

@Suite(.serialized) struct StudyEndToEndTests {
    /// The validity radii as a final probe take the study's sharpness ε and seed: ε over each
    /// smooth radius, as final.csv writes it, is the study's ε.
    @Test func validityRadiiAtTheFinalEpochUseTheStudysSharpnessRadius() throws {
        guard let data = try tinyData() else { return }
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = tinyConfiguration()
        c.models = [.mlp]
        c.regimes = ["high-noise"]
        c.epochProbes.sharpnessEpsilon = 0.125
        c.epochProbes.sharpnessSeed = 9
        c.finalProbes.extraFinalProbes = [ValidityRadiusProbe.name]
        let outcome = try StudyRunner(configuration: c, data: data, directory: dir).run()
        #expect(outcome.failed.isEmpty)
        let final = try CSVTable.read(dir.appendingPathComponent("final.csv"))
        let row = try #require(final.rows.first)
        func v(_ column: String) -> Double { Double(row[column] ?? "") ?? .nan }
        let forward = v("validity_lambda_forward"), backward = v("validity_lambda_backward"), median = v("validity_random_smooth_median")
        #expect(forward > 0 && backward > 0 && median > 0 && v("validity_random_smooth_min") <= median, "\(row)")
        #expect(abs(v("validity_epsilon_over_random_smooth") * median - 0.125) <= 1e-12, "\(row)")
        #expect(abs(v("validity_epsilon_over_lambda_smooth") * min(forward, backward) - 0.125) <= 1e-12, "\(row)")
        #expect(v("validity_lambda_exact") == 1)
        #expect(try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8).contains("smooth radius / ε"))
    }

    @Test func tinyStudyWritesEveryFile() throws {
        guard let data = try tinyData() else { return }
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outcome = try StudyRunner(configuration: tinyConfiguration(), data: data, directory: dir).run()
        let names = ["mlp-high-noise", "mlp-low-noise", "cnn-high-noise", "cnn-low-noise"]
        let runs = names.map { $0 + "-seed0" }
        #expect(outcome.completed == runs)
        #expect(outcome.failed.isEmpty)

        var expected = ["config.json", "study.json", "metrics.csv", "final.csv", "spectra.csv", "summary.md", "report.html", "aggregate.csv",
                        "figures/loss.svg", "figures/accuracy.svg", "figures/lambda-max.svg", "figures/sharpness-max.svg",
                        "figures/gap-vs-lambda.svg", "figures/density.svg"]
        for n in runs {
            expected += ["slices/\(n).csv", "densities/\(n).csv", "densities/\(n)-nodes.csv", "figures/slice-\(n).svg",
                         "runs/\(n)/metrics.csv", "runs/\(n)/run.json", "runs/\(n)/theta-epoch-001.safetensors", "runs/\(n)/optimizer-epoch-001.safetensors"]
        }
        for f in expected { #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(f).path), "missing \(f)") }

        // metrics.csv: the documented columns, one row per configuration and epoch, finite values.
        let metrics = try CSVTable.read(dir.appendingPathComponent("metrics.csv"))
        #expect(metrics.columns == ["model", "regime", "seed", "epoch", "train_loss", "train_accuracy", "train_running_loss", "validation_loss",
                                    "validation_accuracy", "test_loss", "test_accuracy", "learning_rate", "stability_limit", "train_seconds", "evaluation_seconds",
                                    "lambda_max", "lambda_iterations", "lambda_residual", "lambda_converged", "lambda_negative", "lambda_seconds",
                                    "sharpness_mean", "sharpness_max", "quadratic_prediction", "sharpness_seconds", "trace", "trace_stderr", "trace_seconds",
                                    "batch_sharpness", "batch_sharpness_stderr", "batch_sharpness_batches", "batch_sharpness_batch_size", "batch_gradient_norm",
                                    "batch_sharpness_seconds"])
        #expect(metrics.rows.count == 4)
        #expect(metrics.rows.map { "\($0["model"]!)-\($0["regime"]!)-seed\($0["seed"]!)" } == runs)
        for row in metrics.rows {
            // lambda_negative is nan unless a negative eigenvalue at least as large as λ_max was seen.
            for (k, v) in row where k != "model" && k != "regime" && k != "lambda_negative" {
                #expect(Double(v)?.isFinite == true, "\(k) = \(v) in \(row["model"]!)-\(row["regime"]!)")
            }
            let acc = Double(row["test_accuracy"]!)!
            #expect(acc >= 0 && acc <= 1)
            // S_max ≥ S_mean by definition; the trace's standard error is non-negative.
            #expect(Double(row["sharpness_max"]!)! >= Double(row["sharpness_mean"]!)!)
            #expect(Double(row["trace_stderr"]!)! >= 0)
        }
        // Final-epoch files.
        let spectra = try CSVTable.read(dir.appendingPathComponent("spectra.csv"))
        #expect(spectra.rows.count == 8) // 2 eigenvalues × 4 configurations
        // The Gauss–Newton matrix's top eigenvalues (PSD: ≥ 0) and per-layer Hessian blocks.
        let ggn = try CSVTable.read(dir.appendingPathComponent("ggn-spectra.csv"))
        #expect(ggn.columns == ["model", "regime", "seed", "rank", "eigenvalue", "residual", "converged"] && ggn.rows.count == 8)
        #expect(ggn.numbers("eigenvalue").allSatisfy { $0.isFinite && $0 > -1e-6 })
        let layers = try CSVTable.read(dir.appendingPathComponent("layers.csv"))
        #expect(layers.columns == ["model", "regime", "seed", "layer", "parameters", "lambda_max", "lambda_max_residual", "lambda_max_converged", "trace", "trace_stderr"])
        #expect(layers.rows.filter { $0["model"] == "mlp" }.map { $0["layer"]! } == ["fc1", "fc2", "fc3", "fc1", "fc2", "fc3"])
        #expect(layers.numbers("lambda_max").allSatisfy { $0.isFinite } && layers.numbers("trace").allSatisfy { $0.isFinite })
        let summaryText = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summaryText.contains("## Curvature per layer and the Gauss–Newton matrix"))
        let slice = try CSVTable.read(dir.appendingPathComponent("slices/cnn-low-noise-seed0.csv"))
        #expect(slice.columns == ["alpha", "beta", "loss"])
        #expect(slice.rows.count == 25)
        #expect(slice.numbers("loss").allSatisfy { $0.isFinite && $0 > 0 })
        #expect(Set(slice.numbers("alpha")) == [-1, -0.5, 0, 0.5, 1])
        let density = try CSVTable.read(dir.appendingPathComponent("densities/mlp-high-noise-seed0.csv"))
        #expect(density.numbers("density").allSatisfy { $0.isFinite && $0 >= 0 })

        // Checkpoints: safetensors header is valid JSON with the layout's names, shapes and contiguous offsets.
        let url = dir.appendingPathComponent("runs/mlp-high-noise-seed0/theta-epoch-001.safetensors")
        let bytes = try Data(contentsOf: url)
        let n = bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        let header = try #require(try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + Int(n)))) as? [String: Any])
        let expectedShapes: [String: [Int]] = ["fc1.weight": [256, 784], "fc1.bias": [256], "fc2.weight": [256, 256], "fc2.bias": [256],
                                               "fc3.weight": [10, 256], "fc3.bias": [10]]
        var spans: [(Int, Int)] = []
        for (name, shape) in expectedShapes {
            let entry = try #require(header[name] as? [String: Any], "no tensor \(name)")
            #expect(entry["dtype"] as? String == "F32")
            #expect(entry["shape"] as? [Int] == shape)
            let offsets = try #require(entry["data_offsets"] as? [Int])
            #expect(offsets[1] - offsets[0] == 4 * shape.reduce(1, *))
            spans.append((offsets[0], offsets[1]))
        }
        spans.sort { $0.0 < $1.0 }
        #expect(spans.first?.0 == 0)
        for (a, b) in zip(spans, spans.dropFirst()) { #expect(a.1 == b.0) }
        #expect(spans.last?.1 == bytes.count - 8 - Int(n))
        // Round trip: load and save again gives the same bytes.
        let θ = try loadParameters(from: url, layout: MLP().layout)
        let again = temporaryDirectory()
        try FileManager.default.createDirectory(at: again, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: again) }
        let metadata = try SafeTensors.read(from: url).metadata
        try saveParameters(θ, layout: MLP().layout, to: again.appendingPathComponent("t.safetensors"), metadata: metadata)
        #expect(try Data(contentsOf: again.appendingPathComponent("t.safetensors")) == bytes)
        let opt = try SafeTensors.read(from: dir.appendingPathComponent("runs/cnn-low-noise-seed0/optimizer-epoch-001.safetensors"))
        #expect(try opt.floats(named: "velocity").count == 215_370)

        // Figures: well-formed XML with the expected series.
        let loss = try svgSeries(dir.appendingPathComponent("figures/loss.svg"))
        for n in names { #expect(loss.contains("\(n) train") && loss.contains("\(n) validation"), "loss.svg lacks \(n): \(loss)") }
        let accuracy = try svgSeries(dir.appendingPathComponent("figures/accuracy.svg"))
        for n in names { #expect(accuracy.contains("\(n) train") && accuracy.contains("\(n) test")) }
        // Per configuration (the mean over its seeds) and per run.
        #expect(Set(try svgSeries(dir.appendingPathComponent("figures/sharpness-max.svg"))) == Set(names))
        for f in ["gap-vs-lambda.svg", "density.svg"] {
            #expect(Set(try svgSeries(dir.appendingPathComponent("figures/\(f)"))) == Set(runs), "\(f)")
        }
        // λ_max: one line per configuration, plus rings on estimates that did not converge.
        let lambdaSeries = Set(try svgSeries(dir.appendingPathComponent("figures/lambda-max.svg")))
        let ring = "not converged (5 iterations)"
        #expect(lambdaSeries.subtracting([ring]) == Set(names + names.map { $0 + " 2(1+μ)/η" }))
        #expect(lambdaSeries.contains(ring) == metrics.rows.contains { $0["lambda_converged"] == "0" })
        #expect(try svgSeries(dir.appendingPathComponent("figures/slice-mlp-low-noise-seed0.svg")) == ["grid"])
        let html = try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8)
        for f in expected where f.hasPrefix("figures/") { #expect(html.contains("data-figure=\"\(f.dropFirst(8))\""), "report.html does not show \(f)") }
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        for n in runs { #expect(summary.contains("| \(n) | 0 | 1/1 |")) }
        #expect(summary.contains("MNIST") && summary.contains("All 4 runs are complete."))

        // `landscape report` regenerates the same report from the CSV files.
        let before = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("figures"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("summary.md"))
        let written = try StudyReport.generate(in: dir)
        #expect(written.count == 14) // 7 figures (batch sharpness too) + 4 slices + summary.md + report.html + aggregate.csv
        #expect(try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8) == before)
    }

    @Test func aStudyOverTwoSeedsResumesAsUninterruptedAndSummarizesItsSeeds() throws {
        guard let data = try tinyData() else { return }
        var c = tinyConfiguration()
        c.models = [.mlp]
        c.seeds = [0, 1]
        c.training.epochs = 2
        // Eight runs in all: a loose λ_max tolerance and no Keskar probe keep them short.
        c.training.probes.lambdaTolerance = 0.05
        c.finalProbes.extraFinalProbes = []
        let runs = ["mlp-high-noise-seed0", "mlp-low-noise-seed0", "mlp-high-noise-seed1", "mlp-low-noise-seed1"]
        let a = temporaryDirectory(), b = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        #expect(try StudyRunner(configuration: c, data: data, directory: a).run().completed == runs)
        // Stopped after the first epoch of the second seed of one configuration.
        #expect(throws: StudyError.interrupted(configuration: "mlp-high-noise-seed1", epoch: 1)) {
            try StudyRunner(configuration: c, data: data, directory: b).run(shouldStop: { name, epoch in name == "mlp-high-noise-seed1" && epoch == 1 })
        }
        #expect(try CSVTable.read(b.appendingPathComponent("metrics.csv")).rows.count == 5)
        // The partial study reports: it names the runs that are missing or incomplete and draws the rest.
        try StudyReport.generate(in: b)
        let partial = try String(contentsOf: b.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(partial.contains("Missing or incomplete runs (2 of 4): mlp-high-noise-seed1 (in progress); mlp-low-noise-seed1 (not started)."), "\(partial)")
        #expect(partial.contains("| mlp-high-noise-seed1 | 1 | 1/2 |") && partial.contains("| mlp-low-noise-seed1 | 1 | 0/2 |"))
        #expect(Set(try svgSeries(b.appendingPathComponent("figures/lambda-max.svg"))).isSuperset(of: ["mlp-high-noise", "mlp-low-noise"]))

        let outcome = try StudyRunner(configuration: c, data: data, directory: b).run(resume: true)
        #expect(outcome.completed == runs)
        let ma = try metricsWithoutTimes(a), mb = try metricsWithoutTimes(b)
        #expect(ma.count == 8 && ma == mb)
        #expect(ma.map { "\($0["model"]!)-\($0["regime"]!)-seed\($0["seed"]!)" } == ["mlp-high-noise-seed0", "mlp-high-noise-seed0", "mlp-high-noise-seed1", "mlp-high-noise-seed1",
                                                                                 "mlp-low-noise-seed0", "mlp-low-noise-seed0", "mlp-low-noise-seed1", "mlp-low-noise-seed1"])
        func withoutTimes(_ dir: URL, _ file: String) throws -> [[String: String]] {
            try CSVTable.read(dir.appendingPathComponent(file)).rows.map { $0.filter { !$0.key.hasSuffix("_seconds") } }
        }
        for f in ["final.csv", "layers.csv"] { #expect(try withoutTimes(a, f) == withoutTimes(b, f), "\(f) differs") }
        #expect(try CSVTable.read(a.appendingPathComponent("final.csv")).rows.map { "\($0["regime"]!)-\($0["seed"]!)" } == ["high-noise-0", "low-noise-0", "high-noise-1", "low-noise-1"])
        for f in ["slices/mlp-high-noise-seed1.csv", "densities/mlp-low-noise-seed1.csv", "spectra.csv", "ggn-spectra.csv",
                  "runs/mlp-high-noise-seed1/theta-epoch-002.safetensors", "runs/mlp-low-noise-seed0/optimizer-epoch-002.safetensors"] {
            #expect(try Data(contentsOf: a.appendingPathComponent(f)) == Data(contentsOf: b.appendingPathComponent(f)), "\(f) differs")
        }
        // Each run's own directory records its seed, and the seeds start from other weights.
        for run in runs {
            let info = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: a.appendingPathComponent("runs/\(run)/run.json"))) as? [String: Any])
            #expect(info["seed"] as? Int == (run.hasSuffix("seed1") ? 1 : 0), "\(run)")
        }
        #expect(try Data(contentsOf: a.appendingPathComponent("runs/mlp-high-noise-seed0/theta-epoch-001.safetensors"))
                != Data(contentsOf: a.appendingPathComponent("runs/mlp-high-noise-seed1/theta-epoch-001.safetensors")))

        // The values over seeds are those of the runs' own metrics.csv: for two values x, y the
        // mean is (x + y)/2 and the sample standard deviation |x − y|/√2.
        let aggregate = try CSVTable.read(a.appendingPathComponent("aggregate.csv"))
        let summary = try String(contentsOf: a.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("× seeds 0, 1 (each configuration trained once per seed: 4 runs)"), "\(summary.prefix(400))")
        for regime in ["high-noise", "low-noise"] {
            let last = try [0, 1].map { try #require(CSVTable.read(a.appendingPathComponent("runs/mlp-\(regime)-seed\($0)/metrics.csv")).rows.last) }
            for (quantity, column, scale, format) in [("train_loss", "train_loss", 1.0, "%.4g"), ("test_accuracy", "test_accuracy", 100, "%.2f"),
                                                      ("lambda_max", "lambda_max", 1, "%.4g"), ("sharpness_max", "sharpness_max", 1, "%.3g"), ("trace", "trace", 1, "%.4g")] {
                let x = scale * Double(last[0][column]!)!, y = scale * Double(last[1][column]!)!
                if column.hasSuffix("loss") || column == "lambda_max" { #expect(x != y, "\(regime) \(column): both seeds gave \(x)") }
                let mean = (x + y) / 2, sd = abs(x - y) / 2.squareRoot()
                let row = try #require(aggregate.rows.first { $0["regime"] == regime && $0["quantity"] == quantity })
                #expect(row["n"] == "2" && row["non_finite"] == "0")
                #expect(abs(Double(row["mean"]!)! - mean) <= 1e-12 * abs(mean), "\(regime) \(quantity) mean \(row["mean"]!) vs \(mean)")
                #expect(abs(Double(row["sd"]!)! - sd) <= 1e-12 * sd, "\(regime) \(quantity) sd \(row["sd"]!) vs \(sd)")
                #expect(Double(row["min"]!)! == min(x, y) && Double(row["max"]!)! == max(x, y))
                let cell = String(format: format, mean) + " ± " + String(format: "%.2g", sd) + " [" + String(format: format, min(x, y)) + ", " + String(format: format, max(x, y)) + "]"
                #expect(summary.contains(cell), "summary.md lacks \(regime) \(quantity): \(cell)")
            }
            // The gap in percentage points, from the same rows.
            let gaps = last.map { 100 * (Double($0["train_accuracy"]!)! - Double($0["test_accuracy"]!)!) }
            let gap = try #require(aggregate.rows.first { $0["regime"] == regime && $0["quantity"] == "gap" })
            #expect(abs(Double(gap["mean"]!)! - (gaps[0] + gaps[1]) / 2) <= 1e-9)
        }
        #expect(summary.contains("| runs finished (n) | 2 of 2 | 2 of 2 |"))
        #expect(summary.contains("## Regimes side by side") && summary.contains("Spearman ρ"))
        // Per-epoch figures draw the mean with a min–max band per configuration.
        let lambda = try String(contentsOf: a.appendingPathComponent("figures/lambda-max.svg"), encoding: .utf8)
        #expect(lambda.contains("data-band=\"mlp-high-noise\"") && lambda.contains("data-band=\"mlp-low-noise\""))

        // Resuming a finished study redoes nothing and changes no result.
        let done = snapshot(b)
        _ = try StudyRunner(configuration: c, data: data, directory: b).run(resume: true)
        let after = snapshot(b)
        for (k, v) in done where k.hasSuffix(".csv") || k.hasSuffix(".safetensors") { #expect(after[k] == v, "\(k) changed") }
    }

    /// The per-sample curvature as an extra final probe reaches final.csv and the report, and a
    /// study whose training sets probes.stepCurvature writes each run's step-curvature.csv.
    @Test func perSampleCurvatureAsAFinalProbeAndStepCurvatureInAStudy() throws {
        guard let data = try tinyData() else { return }
        var c = tinyConfiguration()
        c.models = [.mlp]
        c.regimes = ["low-noise"]
        c.finalProbes.extraFinalProbes = [PerSampleCurvatureProbe.name]
        c.training.probes.stepCurvature = true
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try StudyRunner(configuration: c, data: data, directory: dir).run().completed == ["mlp-low-noise-seed0"])
        let row = try #require(try CSVTable.read(dir.appendingPathComponent("final.csv")).rows.first)
        let mean = Double(row["per_sample_curvature_mean"] ?? "") ?? .nan, top10 = Double(row["per_sample_top10_share"] ?? "") ?? .nan
        #expect(mean > 0 && top10 > 0.1, "\(row)")
        #expect(try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8).contains("Per-sample curvature at the final θ"))
        // 600 training samples in batches of 200: three steps.
        let steps = try CSVTable.read(dir.appendingPathComponent("runs/mlp-low-noise-seed0/\(RunStore.stepCurvatureName)"))
        #expect(steps.numbers("step") == [1, 2, 3] && steps.numbers("step_curvature").allSatisfy(\.isFinite))
    }

    @Test func nonFiniteLossEndsOnlyThatConfiguration() throws {
        guard let data = try tinyData() else { return }
        var c = tinyConfiguration()
        c.models = [.mlp]
        c.regimeSettings["high-noise"] = RegimeSettings(batchSize: 64, learningRate: 1e30)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let outcome = try StudyRunner(configuration: c, data: data, directory: dir).run()
        #expect(outcome.completed == ["mlp-low-noise-seed0"])
        #expect(outcome.failed.map(\.name) == ["mlp-high-noise-seed0"])
        let reason = try String(contentsOf: dir.appendingPathComponent("runs/mlp-high-noise-seed0/failed.txt"), encoding: .utf8)
        #expect(reason.contains("non-finite") && reason.contains("epoch 1"), "\(reason)")
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("stopped"))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("slices/mlp-low-noise-seed0.csv").path))
        // On resume the failed run is reported again, not retried.
        let again = try StudyRunner(configuration: c, data: data, directory: dir).run(resume: true)
        #expect(again.failed.map(\.name) == ["mlp-high-noise-seed0"])
    }

    @Test func corruptCheckpointOnResumeIsAClearErrorAndLosesNothing() throws {
        guard let data = try tinyData() else { return }
        var c = tinyConfiguration()
        c.models = [.mlp]
        c.regimes = ["high-noise"]
        c.training.epochs = 2
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try? StudyRunner(configuration: c, data: data, directory: dir).run(shouldStop: { _, e in e == 1 })
        let theta = dir.appendingPathComponent("runs/mlp-high-noise-seed0/theta-epoch-001.safetensors")
        let bytes = try Data(contentsOf: theta)
        try bytes.prefix(100).write(to: theta)
        let before = snapshot(dir)
        do {
            _ = try StudyRunner(configuration: c, data: data, directory: dir).run(resume: true)
            Issue.record("resume from a truncated checkpoint did not fail")
        } catch let error as StudyError {
            #expect("\(error)".contains("theta-epoch-001.safetensors"), "\(error)")
        }
        let after = snapshot(dir)
        for (k, v) in before where k != "study.json" { #expect(after[k] == v, "\(k) was changed") }
        #expect(Set(after.keys) == Set(before.keys))
    }
}

@Suite(.serialized) struct StudyResumeSafetyTests {
    /// A 2-epoch MLP study stopped after epoch 1.
    func interrupted(_ data: MNISTDataset) throws -> (StudyConfiguration, URL) {
        var c = tinyConfiguration()
        c.models = [.mlp]
        c.regimes = ["high-noise"]
        c.training.epochs = 2
        let dir = temporaryDirectory()
        #expect(throws: StudyError.self) { try StudyRunner(configuration: c, data: data, directory: dir).run(shouldStop: { _, e in e == 1 }) }
        return (c, dir)
    }

    @Test func editedConfigOrOtherDataIsRefusedOnResume() throws {
        guard let data = try tinyData() else { return }
        let (c, dir) = try interrupted(data)
        defer { try? FileManager.default.removeItem(at: dir) }
        var edited = c
        edited.epochProbes.sharpnessEpsilon = 0.05
        try edited.jsonData().write(to: dir.appendingPathComponent("config.json"))
        let before = snapshot(dir)
        do {
            _ = try StudyRunner(configuration: edited, data: data, directory: dir).run(resume: true)
            Issue.record("a changed config.json was accepted on resume")
        } catch {
            #expect("\(error)".contains("sharpnessEpsilon") && "\(error)".contains("changed since the study started"), "\(error)")
        }
        #expect(snapshot(dir) == before)
        // Restored config, other data: refused too.
        try c.jsonData().write(to: dir.appendingPathComponent("config.json"))
        let other = try MNISTDataset(directory: sharedMNIST()!, validationCount: c.training.data.validation, trainLimit: 500, testLimit: c.training.data.testLimit)
        let m = (try? StudyRunner(configuration: c, data: other, directory: dir).run(resume: true)).map { _ in "" } ?? "refused"
        #expect(m == "refused")
        // The original configuration and data resume fine.
        let outcome = try StudyRunner(configuration: c, data: data, directory: dir).run(resume: true)
        #expect(outcome.completed == ["mlp-high-noise-seed0"])
    }

    @Test func nonFiniteCheckpointIsCalledCorrupt() throws {
        guard let data = try tinyData() else { return }
        let (c, dir) = try interrupted(data)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("runs/mlp-high-noise-seed0/theta-epoch-001.safetensors")
        var values = try loadParameters(from: url, layout: MLP().layout).scalars
        values[7] = .nan
        try saveParameters(Tensor(values), layout: MLP().layout, to: url, metadata: try SafeTensors.read(from: url).metadata)
        do {
            _ = try StudyRunner(configuration: c, data: data, directory: dir).run(resume: true)
            Issue.record("a NaN checkpoint was accepted")
        } catch {
            // The file no longer matches the checksum the run recorded for it.
            #expect("\(error)".contains("changed after it was written") && "\(error)".contains("theta-epoch-001"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs/mlp-high-noise-seed0/failed.txt").path))
    }

    @Test func aSecondProcessCannotRunTheSameStudy() throws {
        guard let data = try tinyData() else { return }
        let (c, dir) = try interrupted(data)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fd = open(dir.appendingPathComponent(".lock").path, O_CREAT | O_RDWR, 0o644)
        #expect(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        // flock locks belong to the open file description, so a second open in this process conflicts too.
        do {
            _ = try StudyRunner(configuration: c, data: data, directory: dir).run(resume: true)
            Issue.record("ran while the lock was held")
        } catch {
            #expect("\(error)".contains("another landscape study is running"), "\(error)")
        }
        close(fd)
        _ = try StudyRunner(configuration: c, data: data, directory: dir).run(resume: true)
    }

    @Test func aCutLastRowOfARunsMetricsIsDroppedAndNamed() throws {
        // Issue 13, item 5: this used to be an error naming the study's metrics.csv.
        guard let data = try tinyData() else { return }
        let (c, dir) = try interrupted(data)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("runs/mlp-high-noise-seed0/metrics.csv")
        let text = try String(contentsOf: url, encoding: .utf8)
        try String(text.dropLast(40)).write(to: url, atomically: true, encoding: .utf8)
        // A write cut off by a kill leaves its temporary file; the resume removes it.
        let stale = dir.appendingPathComponent(".metrics.csv.\(UUID().uuidString).tmp")
        try Data("model,reg".utf8).write(to: stale)
        var runner = try StudyRunner(configuration: c, data: data, directory: dir)
        var lines: [String] = []
        runner.log = { lines.append($0) }
        let outcome = try runner.run(resume: true)
        #expect(outcome.completed == ["mlp-high-noise-seed0"])
        #expect(lines.filter { $0.contains("runs/mlp-high-noise-seed0/metrics.csv") && $0.contains("cut") }.count == 1, "\(lines)")
        #expect(try CSVTable.read(dir.appendingPathComponent("metrics.csv")).rows.map { $0["epoch"] } == ["1", "2"])
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        // A row cut in the middle of the file is an error naming the run's file, not the study's.
        let full = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        try ([full[0], String(full[1].prefix(30)), full[2]].joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        do {
            try StudyRunner(configuration: c, data: data, directory: dir).mergeMetrics()
            Issue.record("a cut middle row was accepted")
        } catch { #expect("\(error)".contains("runs/mlp-high-noise-seed0/metrics.csv") && "\(error)".contains("line 2"), "\(error)") }
    }

    @Test func aFinalCSVWithARepeatedColumnIsAnErrorNamingIt() throws {
        // Issue 13, item 1: this trapped in CSVTable.parse ("Duplicate values for key").
        guard let data = try tinyData() else { return }
        let (c, dir) = try interrupted(data)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("final.csv")
        try "model,model,regime\nmlp,mlp,high-noise\n".write(to: url, atomically: true, encoding: .utf8)
        do {
            _ = try StudyRunner(configuration: c, data: data, directory: dir).run(resume: true)
            Issue.record("a damaged final.csv was accepted")
        } catch { #expect("\(error)".contains(url.path) && "\(error)".contains("'model' twice"), "\(error)") }
        do {
            _ = try StudyReport.generate(in: dir)
            Issue.record("report accepted a damaged final.csv")
        } catch { #expect("\(error)".contains("final.csv") && "\(error)".contains("twice"), "\(error)") }
    }

    @Test func aReportOfValuesOneUlpApartIsDrawn() throws {
        // Issue 13, item 2: the tick loop never advanced and grew until the process aborted.
        guard let data = try tinyData() else { return }
        let (_, dir) = try interrupted(data)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("metrics.csv")
        var table = try CSVTable.read(url)
        let fixed = Set(["model", "regime", "seed", "epoch"])
        for k in table.rows.indices {
            for c in table.columns where !fixed.contains(c) { table.rows[k][c] = k % 2 == 0 ? "1.0" : "\(Double(1).nextUp)" }
        }
        table.rows.append(table.rows[0].merging(["epoch": "2", "train_loss": "\(Double(1).nextUp)"]) { $1 })
        try AtomicFile.write(table.text, to: url)
        let written = try StudyReport.generate(in: dir)
        let svgs = written.filter { $0.pathExtension == "svg" }
        #expect(!svgs.isEmpty)
        for svg in svgs {
            _ = try svgSeries(svg)
            #expect(!(try String(contentsOf: svg, encoding: .utf8)).contains("nan"), "\(svg.lastPathComponent)")
        }
    }

    @Test func aRefusedSecondResumeLeavesStudyJSONAlone() throws {
        guard let data = try tinyData() else { return }
        let (c, dir) = try interrupted(data)
        defer { try? FileManager.default.removeItem(at: dir) }
        let before = try Data(contentsOf: dir.appendingPathComponent("study.json"))
        let fd = try #require(try DirectoryLock.acquire(in: dir))
        defer { DirectoryLock.release(fd) }
        #expect(throws: StudyError.self) { try StudyRunner(configuration: c, data: data, directory: dir).run(resume: true) }
        #expect(try Data(contentsOf: dir.appendingPathComponent("study.json")) == before)
    }

    @Test func claimsPairRunsBySeedAndSayCannotTellWithoutValues() {
        func v(_ regime: String, seed: UInt64, _ lambda: Double, _ smax: Double, gap: Double = 0.5) -> StudyReport.RunValues {
            StudyReport.RunValues(run: "mlp-\(regime)-seed\(seed)", configuration: "mlp-\(regime)", model: "mlp", regime: regime, seed: seed, epoch: 1, epochs: 1,
                                  values: ["lambda_max": lambda, "sharpness_max": smax, "gap": gap, "test_accuracy": 98.5])
        }
        var c = StudyConfiguration()
        c.models = [.mlp]
        c.seeds = [0, 1, 2]
        let claims = StudyReport.paperClaims([v("high-noise", seed: 0, 1, .nan), v("low-noise", seed: 0, 10, .nan)], configuration: c)
        #expect(claims.contains { $0.hasPrefix("MLP: S_ε^max ordered as λ_max: cannot tell") }, "\(claims)")
        #expect(claims.contains { $0.hasPrefix("MLP: low-noise ends sharper (larger λ_max) than high-noise: yes: holds in 1 of 1 seed (λ_max 10 ± — vs 1 ± —)") }, "\(claims)")
        #expect(claims.contains { $0.hasPrefix("Generalization gap vs final λ_max") && $0.contains("cannot tell") }, "\(claims)")
        let ok = StudyReport.paperClaims([v("high-noise", seed: 0, 1, 0.1), v("low-noise", seed: 0, 10, 0.01)], configuration: c)
        #expect(ok.contains { $0.hasPrefix("MLP: S_ε^max ordered as λ_max: no: holds in 0 of 1 seed") }, "\(ok)")
        // Three seeds: seed 2's low-noise run is flatter than its own high-noise run; the runs of
        // seed 1 are paired although they come in another order; a high-noise run without a
        // low-noise partner (seed 3) is left out. λ_max low-noise 10, 12, 2: mean 8, sd √28.
        let three = [v("high-noise", seed: 0, 1, 0.1), v("low-noise", seed: 1, 12, 0.1), v("high-noise", seed: 2, 3, 0.1), v("low-noise", seed: 0, 10, 0.2),
                     v("high-noise", seed: 1, 2, 0.1), v("low-noise", seed: 2, 2, 0.2), v("high-noise", seed: 3, 50, 0.1)]
        let mixed = StudyReport.paperClaims(three, configuration: c)
        #expect(mixed.contains { $0 == "MLP: low-noise ends sharper (larger λ_max) than high-noise: mixed: holds in 2 of 3 seeds (λ_max 8 ± 5.3 vs 2 ± 1)" }, "\(mixed)")
        #expect(mixed.contains { $0.hasPrefix("Generalization gaps under one percentage point: yes: holds in 7 of 7 runs") }, "\(mixed)")
    }

    @Test func dataSetsAreIdentifiedByTheirFourFiles() throws {
        guard let mnist = sharedMNIST() else { Issue.record("MNIST not found: this test did not run"); return }
        #expect(try MNISTDataset.identify(directory: mnist).dataset == .mnist)
        let fashion = MNISTDataset.defaultFashionMNISTDirectory
        if FileManager.default.fileExists(atPath: fashion.path) {
            #expect(try MNISTDataset.identify(directory: fashion).dataset == .fashionMNIST)
        }
    }
}

@Suite struct FashionStudyTests {
    @Test func fashionMNISTStudyNamesItsDataSet() throws {
        let dir = MNISTDataset.defaultFashionMNISTDirectory
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("train-images-idx3-ubyte.gz").path) else {
            Issue.record("Fashion-MNIST not found at \(dir.path) (apt-get install dataset-fashion-mnist): this test did not run")
            return
        }
        var c = tinyConfiguration()
        c.training.data.dataset = .fashionMNIST
        c.models = [.mlp]
        c.regimes = ["high-noise"]
        let data = try MNISTDataset.fashionMNIST(directory: dir, validationCount: c.training.data.validation, trainLimit: c.training.data.trainLimit, testLimit: c.training.data.testLimit)
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let outcome = try StudyRunner(configuration: c, data: data, directory: out).run()
        #expect(outcome.completed == ["mlp-high-noise-seed0"])
        let summary = try String(contentsOf: out.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.hasPrefix("# Study summary: Fashion-MNIST"))
        let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("<h1>Landscape study: Fashion-MNIST</h1>"))
        #expect(try svgSeries(out.appendingPathComponent("figures/loss.svg")).contains("mlp-high-noise train"))
        let lossFigure = try String(contentsOf: out.appendingPathComponent("figures/loss.svg"), encoding: .utf8)
        #expect(lossFigure.contains("Fashion-MNIST"))
    }
}

@Suite struct StudyInputTests {
    func write(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("study-config-\(UUID().uuidString).json")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    @Test func defaultsAreTheStudysProtocol() throws {
        let c = StudyConfiguration()
        #expect(c.models == [.mlp, .cnn] && c.regimes == ["high-noise", "low-noise", "low-noise-matched"])
        #expect(c.resolvedRegime("high-noise") == (64, 0.05) && c.resolvedRegime("low-noise") == (2048, 0.01))
        #expect(c.training.epochs == 10 && c.training.optimizer.momentum == 0.9 && c.training.optimizer.weightDecay == 0 && c.training.schedule == .cosine)
        #expect(c.training.probes.probeSamples == 1024 && c.epochProbes.sharpnessDirections == 20 && c.finalProbes.slicePoints == 31 && c.finalProbes.lanczosCount == 5)
        let high = try c.training(model: .cnn, regime: "high-noise"), low = try c.training(model: .cnn, regime: "low-noise")
        #expect(high.seed == low.seed && high.model == .cnn && high.probes.probeBatchSize == 64 && low.optimizer.batchSize == 2048)
        #expect(try c.training(model: .mlp, regime: "high-noise").probes.probeBatchSize == 0)
        try c.validate()
        let quick = try StudyConfiguration.preset(named: "quick")
        #expect(quick.training.data.trainLimit == 10_000 && quick.training.epochs == 2)
        // Three seeds, each a run of every configuration (seeds outer); the quick preset has one.
        #expect(c.seeds == [0, 1, 2] && quick.seeds == [0] && quick.runs.count == 4)
        #expect(c.runs.map(\.name).prefix(7) == ["mlp-high-noise-seed0", "mlp-low-noise-seed0", "mlp-low-noise-matched-seed0", "cnn-high-noise-seed0", "cnn-low-noise-seed0",
                                                 "cnn-low-noise-matched-seed0", "mlp-high-noise-seed1"])
        #expect(c.runs.count == 18 && Set(c.runs.map(\.name)).count == 18)
        let run = c.runs[7]
        #expect(try c.training(for: run) == { var t = try c.training(model: .mlp, regime: "low-noise"); t.seed = 1; return t }())
        #expect(message { _ = try StudyConfiguration.preset(named: "huge") }.contains("unknown preset 'huge'"))
    }

    @Test func fileKeysOverrideDefaultsAndMissingKeysKeepThem() throws {
        let url = try write(#"{"training": {"epochs": 3}, "models": ["cnn"], "regimeSettings": {"high-noise": {"batchSize": 32, "learningRate": 0.1}, "low-noise": {"batchSize": 2048, "learningRate": 0.01}}}"#)
        defer { try? FileManager.default.removeItem(at: url) }
        let c = try StudyConfiguration.load(from: url)
        #expect(c.training.epochs == 3 && c.models == [.cnn])
        #expect(c.regimeSettings["high-noise"]?.batchSize == 32)
        #expect(c.training.probes.probeSamples == 1024)
        // --set takes a key's dotted path or its last name alone.
        let set = try c.setting("regimeSettings.low-noise.batchSize=1024").setting("sharpnessEpsilon=0.25").setting("training.schedule=constant")
        #expect(set.regimeSettings["low-noise"]?.batchSize == 1024 && set.epochProbes.sharpnessEpsilon == 0.25 && set.training.schedule == .constant)
        #expect(set.regimeSettings["low-noise"]?.learningRate == 0.01)
        #expect(try c.setting("momentum=0.5").training.optimizer.momentum == 0.5)
        #expect(try c.setting("models=mlp,cnn").models == [.mlp, .cnn])
        // A file may change one number inside a regime; the rest keeps its value.
        let partial = try write(#"{"regimeSettings": {"low-noise": {"batchSize": 512}}, "probeBatchSize": {"cnn": 128}}"#)
        defer { try? FileManager.default.removeItem(at: partial) }
        let p = try StudyConfiguration.load(from: partial)
        #expect(p.regimeSettings["low-noise"] == RegimeSettings(batchSize: 512, learningRate: 0.01))
        #expect(p.regimeSettings["high-noise"] == RegimeSettings())
        #expect(p.probeBatchSize == ["cnn": 128])
        // The written configuration lists every key (unset optional ones as null) and reads back equal.
        let json = try #require(try JSONSerialization.jsonObject(with: p.jsonData()) as? [String: Any])
        #expect(Set(json.keys) == ["training", "seeds", "models", "regimes", "regimeSettings", "probeBatchSize", "microBatchSize", "epochProbes", "finalProbes"])
        #expect((json["training"] as? [String: Any])?["data"].flatMap { ($0 as? [String: Any])?["trainLimit"] } is NSNull)
        #expect(((json["regimeSettings"] as? [String: Any])?["high-noise"] as? [String: Any])?["batchSize"] is NSNull)
        let back = try write(String(decoding: try p.jsonData(), as: UTF8.self))
        defer { try? FileManager.default.removeItem(at: back) }
        #expect(try StudyConfiguration.load(from: back) == p)
    }

    @Test func aFlatConfigurationOfAnEarlierVersionReadsAsTheNestedOne() throws {
        // config.json as the study wrote it before the nested form: every key at the top.
        let url = try write(#"{"dataset": "mnist", "dataDirectory": null, "validation": 100, "trainLimit": 200, "testLimit": null, "models": ["mlp"], "regimes": ["low-noise"], "regimeSettings": {"low-noise": {"batchSize": 128, "learningRate": 0.02}}, "epochs": 4, "seed": 7, "momentum": 0.8, "weightDecay": 0.001, "nesterov": true, "schedule": "step:2:0.5", "evaluationBatchSize": 512, "probeSamples": 96, "probeBatchSize": {"mlp": 8, "cnn": 64}, "microBatchSize": {}, "lambdaIterations": 7, "lambdaTolerance": 0.01, "sharpnessEpsilon": 0.25, "sharpnessDirections": 5, "sharpnessSeed": 11, "sharpnessPrecision": "float64", "traceProbes": 3, "traceSeed": 12, "slicePoints": 7, "sliceRange": 0.5, "sliceSamples": 16, "sliceSeed": 13, "lanczosCount": 2, "lanczosSteps": 9, "slqProbes": 2, "slqSteps": 6, "spectrumSeed": 14}"#)
        defer { try? FileManager.default.removeItem(at: url) }
        // As a study directory's config.json it is a study of the layout before seeds: training.seed 7, seeds nil.
        let c = try StudyConfiguration.loadSaved(from: url)
        var expected = StudyConfiguration.savedBase   // no seeds, no controls, no whole-split probes
        #expect(expected.seeds == nil && expected.regimeSettings["low-noise-matched"] == nil && expected.finalProbes.wholeSplitSeeds == 0)
        expected.training.data.validation = 100
        expected.training.data.trainLimit = 200
        expected.models = [.mlp]
        expected.regimes = ["low-noise"]
        expected.regimeSettings["low-noise"] = RegimeSettings(batchSize: 128, learningRate: 0.02)
        expected.training.epochs = 4
        expected.training.seed = 7
        expected.training.optimizer.momentum = 0.8
        expected.training.optimizer.weightDecay = 0.001
        expected.training.optimizer.nesterov = true
        expected.training.schedule = .step(everyEpochs: 2, gamma: 0.5)
        expected.training.evaluationBatchSize = 512
        expected.training.probes.probeSamples = 96
        expected.probeBatchSize = ["mlp": 8, "cnn": 64]
        expected.training.probes.lambdaIterations = 7
        expected.training.probes.lambdaTolerance = 0.01
        expected.epochProbes = EpochProbeSettings()
        expected.epochProbes.sharpnessEpsilon = 0.25
        expected.epochProbes.sharpnessDirections = 5
        expected.epochProbes.sharpnessSeed = 11
        expected.epochProbes.sharpnessPrecision = .float64
        expected.epochProbes.traceProbes = 3
        expected.epochProbes.traceSeed = 12
        expected.finalProbes.slicePoints = 7
        expected.finalProbes.sliceRange = 0.5
        expected.finalProbes.sliceSamples = 16
        expected.finalProbes.sliceSeed = 13
        expected.finalProbes.lanczosCount = 2
        expected.finalProbes.lanczosSteps = 9
        expected.finalProbes.slqProbes = 2
        expected.finalProbes.slqSteps = 6
        expected.finalProbes.spectrumSeed = 14
        #expect(c == expected, "\(c.differingKeys(from: expected))")
        #expect(c.runs == [StudyRun(model: .mlp, regime: "low-noise", seed: 7, listed: false)] && c.runs[0].name == "mlp-low-noise")
        // As a --config file over the defaults (seeds 0, 1, 2) its seed is an error naming the key.
        do { _ = try StudyConfiguration.load(from: url); Issue.record("accepted") } catch let error as ConfigurationError {
            #expect(error.key == "training.seed" && error.problem.contains("is set from 'seeds'"), "\(error)")
        }
        // Every key's last name is unique except where a top-level key takes precedence.
        #expect(try StudyConfiguration.path(of: "probeBatchSize") == ["probeBatchSize"])
        #expect(try StudyConfiguration.path(of: "lambdaSamples") == ["training", "probes", "probeSamples"])
    }

    @Test func seedsAreCheckedAndNamedInErrors() throws {
        func problem(_ c: StudyConfiguration) -> ConfigurationError? {
            do { try c.validate(); return nil } catch { return error as? ConfigurationError }
        }
        var c = StudyConfiguration()
        c.seeds = []
        #expect(problem(c)?.key == "seeds" && problem(c)?.problem.contains("is empty") == true, "\(String(describing: problem(c)))")
        c.seeds = [3, 1, 3]
        #expect(problem(c)?.key == "seeds" && problem(c)?.problem.contains("lists the seed 3 twice") == true, "\(String(describing: problem(c)))")
        c.seeds = (0..<UInt64(StudyConfiguration.maximumSeeds)).map { $0 }
        #expect(problem(c) == nil)
        c.seeds = (0...UInt64(StudyConfiguration.maximumSeeds)).map { $0 }
        #expect(problem(c)?.key == "seeds" && problem(c)?.problem.contains("at most \(StudyConfiguration.maximumSeeds)") == true, "\(String(describing: problem(c)))")
        c.seeds = [0, 1]
        c.training.seed = 5
        #expect(problem(c)?.key == "training.seed" && problem(c)?.problem.contains("is set from 'seeds'") == true, "\(String(describing: problem(c)))")
        // Without seeds (the layout before them) training.seed is the one run's seed.
        c.seeds = nil
        #expect(problem(c) == nil && c.runs.map(\.name) == ["mlp-high-noise", "mlp-low-noise", "mlp-low-noise-matched", "cnn-high-noise", "cnn-low-noise", "cnn-low-noise-matched"]
                && c.runs.allSatisfy { $0.seed == 5 })
        // --seeds 0,1,2 and --seeds 5 on the command line (--set seeds=…), any UInt64.
        #expect(try StudyConfiguration().setting("seeds=4,5, 6").seeds == [4, 5, 6])
        #expect(try StudyConfiguration().setting("seeds=5").seeds == [5])
        #expect(try StudyConfiguration().setting("seeds=[7,8]").seeds == [7, 8])
        #expect(try StudyConfiguration().setting("seeds=18446744073709551615").seeds == [.max])
        #expect(message { _ = try StudyConfiguration().setting("seeds=1,x") }.contains("'seeds.1'"))
        #expect(message { _ = try StudyConfiguration().setting("seeds=-1") }.contains("'seeds"))
        #expect(try StudyConfiguration().setting("models=cnn").models == [.cnn])
        #expect(message { _ = try StudyConfiguration().setting("seed=3").validate() }.contains("'training.seed' is set from 'seeds'"))
        // A run's name: MODEL-REGIME-seedS, and the rows of the study's CSV files map to it.
        let seeded = StudyConfiguration()
        #expect(seeded.runName(ofRow: ["model": "cnn", "regime": "low-noise", "seed": "2"]) == "cnn-low-noise-seed2")
        #expect(StudyConfiguration.savedBase.runName(ofRow: ["model": "cnn", "regime": "low-noise"]) == "cnn-low-noise")
    }

    @Test func unknownModelOrRegimeIsNamed() throws {
        var c = StudyConfiguration()
        c.regimes = ["medium-noise"]
        let m = message { try c.validate() }
        #expect(m.contains("unknown regime 'medium-noise'") && m.contains("high-noise"), "\(m)")
        let url = try write(#"{"models": ["vgg"]}"#)
        defer { try? FileManager.default.removeItem(at: url) }
        let v = message { _ = try StudyConfiguration.load(from: url) }
        #expect(v.contains("'models.0' has an invalid value ('vgg'); expected a model: a preset name (mlp, cnn)"), "\(v)")
        c = StudyConfiguration()
        c.models = [.mlp, .mlp]
        #expect(message { try c.validate() }.contains("'models' lists the model 'mlp' twice"))
        // Two different models of one name would share their runs' directories and rows.
        var renamed = try ModelSpec(parsing: "mlp:784-32-10")
        renamed.name = "mlp"
        c.models = [.mlp, renamed]
        let twoNamed = message { try c.validate() }
        #expect(twoNamed.contains("'models' lists two models named 'mlp'") && twoNamed.contains("give each model its own name"), "\(twoNamed)")
        #expect(message { _ = try StudyConfiguration().setting("model=cnn").validate() }.contains("'training.model' is set from 'models'"))
    }

    @Test func configFileErrorsNameTheKey() throws {
        let cases: [(String, String)] = [
            (#"{"epochs": "ten"}"#, "'training.epochs' must be an integer"),
            (#"{"epochs": 2.5}"#, "'training.epochs' has an invalid value (2.5); expected an integer"),
            (#"{"sharpnessEpsilon": true}"#, "'epochProbes.sharpnessEpsilon' must be a number"),
            (#"{"models": "mlp"}"#, "'models' must be a list"),
            (#"{"regimes": ["mid-noise"], "regimeSettings": {"mid-noise": {"batchSize": 0}}}"#, "'regimeSettings.mid-noise.batchSize' must be in 1...16777216, got 0"),
            (#"{"regimeSettings": {"low-noise": {"batchsize": 64}}}"#, "'regimeSettings.low-noise.batchsize' is not a key of regimeSettings entries"),
            (#"{"epoch": 3}"#, "'epoch' is not a configuration key"),
            (#"{"training": {"optimizer": {"rate": 3}}}"#, "'training.optimizer.rate' is not a configuration key"),
            (#"[1, 2]"#, "JSON object"),
            ("{epochs: 3", "not valid JSON"),
            (#"{"epochs": 0}"#, "'training.epochs' must be in 1...100000"),
            (#"{"schedule": "linear"}"#, "'training.schedule' has an invalid value ('linear'); use constant, cosine"),
            (#"{"probeBatchSize": {"cnn": -1}}"#, "'probeBatchSize.cnn' must be ≥ 0"),
        ]
        for (text, expected) in cases {
            let url = try write(text)
            defer { try? FileManager.default.removeItem(at: url) }
            let m = message { _ = try StudyConfiguration.load(from: url) }
            #expect(m.contains(expected), "\(text): \(m)")
            #expect(m.hasPrefix(url.path + ": "), "\(text): the message does not start with the file: \(m)")
        }
        #expect(message { _ = try StudyConfiguration.load(from: URL(fileURLWithPath: "/nonexistent/study.json")) } == "/nonexistent/study.json: does not exist")
        #expect(message { _ = try StudyConfiguration().setting("epochs") }.contains("KEY=VALUE"))
        #expect(message { _ = try StudyConfiguration().setting("epochs=many") } == "--set epochs=many: 'training.epochs' must be an integer")
        #expect(message { _ = try StudyConfiguration().setting("epochs=2.5") }.contains("'training.epochs' has an invalid value (2.5); expected an integer"))
        #expect(message { _ = try StudyConfiguration().setting("regimeSettings.low-noise.lr=1") }.contains("'regimeSettings.low-noise.lr' is not a key of regimeSettings entries"))
        #expect(message { _ = try StudyConfiguration().setting("bogus=1") }.contains("'bogus' is not a configuration key"))
    }

    @Test func outputDirectoryThatIsAFileOrHoldsOtherFilesIsRefused() throws {
        guard let data = try tinyData() else { return }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("study-file-\(UUID().uuidString)")
        try Data("keep me".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let m = message { _ = try StudyRunner(configuration: tinyConfiguration(), data: data, directory: file).run() }
        #expect(m.contains("is a file"), "\(m)")
        #expect(try Data(contentsOf: file) == Data("keep me".utf8))

        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("notes".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        let m2 = message { _ = try StudyRunner(configuration: tinyConfiguration(), data: data, directory: dir).run() }
        #expect(m2.contains("not empty") && m2.contains("notes.txt"), "\(m2)")
        #expect(snapshot(dir).keys.sorted() == ["notes.txt"])
        let m3 = message { _ = try StudyRunner(configuration: tinyConfiguration(), data: data, directory: dir).run(resume: true) }
        #expect(m3.contains("no config.json"), "\(m3)")
    }

    @Test func contourMapOfNonFiniteOrConstantValuesDoesNotCrash() throws {
        // A diverged model's slice: all NaN but one point, and a constant map.
        var z = Array(repeating: Array(repeating: Double.nan, count: 3), count: 3)
        z[1][1] = 2.5
        let svg = SVGPlot.contourMap(title: "t", xLabel: "α", yLabel: "β", zLabel: "loss", x: [-1, 0, 1], y: [-1, 0, 1], z: z, logZ: true)
        #expect(svg.contains("data-missing=\"8\""))
        let flat = SVGPlot.contourMap(title: "t", xLabel: "α", yLabel: "β", zLabel: "loss", x: [0, 1], y: [0, 1], z: [[1, 1], [1, 1]])
        #expect(flat.contains("data-missing=\"0\""))
        // Log colour scale: the colour bar is labelled in loss units (10 and 1000 at the ends).
        let log = SVGPlot.contourMap(title: "t", xLabel: "α", yLabel: "β", zLabel: "loss", x: [0, 1], y: [0, 1], z: [[10, 100], [100, 1000]], logZ: true)
        #expect(log.contains(">10</text>") && log.contains(">1e+03</text>"), "\(log)")
    }

    @Test func reportNeedsAStudyDirectory() throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(message { try StudyReport.generate(in: dir) }.contains("no config.json"))
        // What the directory is instead: missing, a file, a training run.
        #expect(message { try StudyReport.generate(in: dir.appendingPathComponent("absent")) }.contains("does not exist"))
        let file = dir.appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        #expect(message { try StudyReport.generate(in: file) }.contains("is a file"))
        let run = dir.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: run.appendingPathComponent("run.json"))
        let m0 = message { try StudyReport.generate(in: run) }
        #expect(m0.contains("is a training run") && m0.contains("run.json"), "\(m0)")
        try StudyConfiguration().jsonData().write(to: dir.appendingPathComponent("config.json"))
        try Data("model,regime\nmlp".utf8).write(to: dir.appendingPathComponent("metrics.csv"))
        let m = message { try StudyReport.generate(in: dir) }
        #expect(m.contains("metrics.csv") && m.contains("line 2"), "\(m)")
    }
}

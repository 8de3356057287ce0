import Foundation
import Testing
import Datasets
import Layers
@testable import Study
import Training

/// The study directory in Tests/Fixtures/cli-study, written by `landscape study` before the
/// configuration type and the run store (Tests/Fixtures/README.md; its checkpoints were left out).
@Suite struct StudyFixtureTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/cli-study")

    func copy() throws -> URL {
        let dir = temporaryDirectory().appendingPathComponent("cli-study")
        try FileManager.default.createDirectory(at: dir.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.fixture, to: dir)
        return dir
    }

    /// The command that wrote it, as a configuration (before seeds: one run per configuration, seed 0).
    static var configuration: StudyConfiguration {
        // The quick preset of the time, read over StudyConfiguration.savedBase: its low-noise regime was
        // batch 2048 at η₀ 0.01, and batch sharpness did not exist (the default, automatic K, on resume).
        var c = StudyConfiguration.Preset.quick.configuration
        c.seeds = nil
        c.regimeSettings = StudyConfiguration.savedBase.regimeSettings
        c.epochProbes.batchSharpnessBatches = StudyConfiguration.savedBase.epochProbes.batchSharpnessBatches
        c.training.data.dataDirectory = "/work/wt12/data/mnist"
        c.training.data.trainLimit = 200
        c.training.data.validation = 100
        c.training.data.testLimit = 100
        c.training.epochs = 2
        c.training.probes.probeSamples = 32
        c.finalProbes.sliceSamples = 16
        c.finalProbes.slicePoints = 5
        c.finalProbes.lanczosSteps = 8
        c.finalProbes.lanczosCount = 3
        c.finalProbes.slqSteps = 8
        c.epochProbes.sharpnessDirections = 4
        c.epochProbes.traceProbes = 2
        // The flat file spelled out the regimes and both models' chunk sizes.
        c.regimeSettings["high-noise"] = RegimeSettings(batchSize: 64, learningRate: 0.05)
        c.probeBatchSize = ["mlp": 0, "cnn": 64]
        c.training.probes.lambdaIterations = 20   // the default then
        c.finalProbes.extraFinalProbes = []       // none then: resuming it runs no probe its final.csv lacks
        return c
    }

    @Test func itsFlatConfigReadsAsTheCommandThatWroteIt() throws {
        let c = try StudyConfiguration.loadSaved(from: Self.fixture.appendingPathComponent("config.json"))
        #expect(c == Self.configuration, "\(c.differingKeys(from: Self.configuration))")
        #expect(c.runs.map(\.name) == ["mlp-high-noise", "mlp-low-noise", "cnn-high-noise", "cnn-low-noise"])
    }

    @Test func itsReportShowsTheEarlierVersionsValuesAsOneRunPerConfiguration() throws {
        let dir = try copy()
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let written = try StudyReport.generate(in: dir)
        #expect(written.count == 13)
        // The per-epoch figures, slices and densities draw every series of the earlier version's (the
        // page's style changed since: legends below the plot, the test split dotted, shared slice
        // colours), and the report is the same when drawn again from the same files.
        for url in written where url.pathExtension == "svg" {
            let name = url.path.replacingOccurrences(of: dir.path + "/", with: "")
            #expect(Set(try svgSeries(url)).isSuperset(of: try svgSeries(Self.fixture.appendingPathComponent(name))), "\(name) lacks a series of the earlier version's")
        }
        let first = try written.map { try Data(contentsOf: $0) }
        try StudyReport.generate(in: dir)
        #expect(try written.map { try Data(contentsOf: $0) } == first, "the report differs when drawn again")
        #expect(Set(try svgSeries(dir.appendingPathComponent("figures/gap-vs-lambda.svg"))) == ["mlp-high-noise", "mlp-low-noise", "cnn-high-noise", "cnn-low-noise"])
        // Each row of the earlier summary table is a run's row now, with its seed (0) after its name.
        let old = try String(contentsOf: Self.fixture.appendingPathComponent("summary.md"), encoding: .utf8)
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        let oldRows = old.split(separator: "\n").filter { $0.hasPrefix("| mlp-") || $0.hasPrefix("| cnn-") }.prefix(4)
        #expect(oldRows.count == 4)
        for row in oldRows {
            var cells = row.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            cells.insert("0", at: 2)
            let expected = cells.joined(separator: " | ").trimmingCharacters(in: .whitespaces)
            #expect(summary.contains(expected), "\(expected)")
        }
        #expect(summary.contains("× seed 0 (one run per configuration)") && summary.contains("All 4 runs are complete."))
        #expect(summary.contains("| runs finished (n) | 1 of 1 | 1 of 1 | 1 of 1 | 1 of 1 |"))
        // One run per configuration: n = 1, the run's own value, no standard deviation.
        let aggregate = try CSVTable.read(dir.appendingPathComponent("aggregate.csv"))
        let metrics = try CSVTable.read(Self.fixture.appendingPathComponent("metrics.csv"))
        for row in aggregate.rows where row["quantity"] == "lambda_max" {
            let last = try #require(metrics.rows.last { $0["model"] == row["model"] && $0["regime"] == row["regime"] })
            #expect(row["n"] == "1" && row["mean"] == last["lambda_max"] && row["sd"] == "nan" && row["min"] == row["max"], "\(row)")
        }
        #expect(aggregate.rows.filter { $0["quantity"] == "lambda_max" }.count == 4)
    }

    /// final.csv with the per-sample curvature probe's columns (finalProbes.extraFinalProbes) gets a
    /// table of them per run; without them (the earlier study) the report has none.
    @Test func itsReportShowsPerSampleCurvatureWhenFinalCSVHasIt() throws {
        let dir = try copy()
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        try StudyReport.generate(in: dir)
        #expect(!(try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)).contains("Per-sample curvature"))
        let url = dir.appendingPathComponent("final.csv")
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        let added = ",per_sample_curvature_mean,per_sample_top1_share,per_sample_top10_share,per_sample_negative_fraction,per_sample_max_class,per_sample_max_class_mean"
        let text = ([lines[0] + added] + lines.dropFirst().enumerated().map { $1 + ",\(1.5 + Double($0)),0.25,0.5,0.125,7,3.75" }).joined(separator: "\n") + "\n"
        try text.write(to: url, atomically: true, encoding: .utf8)
        try StudyReport.generate(in: dir)
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("| mlp-high-noise | 1.5 | 0.25 | 0.5 | 0.125 | 7 (3.75) |"), "\(summary)")
        #expect(try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8).contains("Per-sample curvature at the final θ"))
    }

    @Test func aPartialCopyNamesItsMissingRunsAndDrawsTheRestWithTheStabilityLimit() throws {
        let dir = try copy()
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        // cnn-low-noise never started; cnn-high-noise stopped after epoch 1, before its final probes.
        // Every run recorded the stability limit 2(1+μ)/η (here 2.5 and 3: within a decade of λ_max ≈ 1).
        var metrics = try CSVTable.read(dir.appendingPathComponent("metrics.csv"))
        metrics.rows.removeAll { $0["model"] == "cnn" && ($0["regime"] == "low-noise" || $0["epoch"] == "2") }
        metrics.columns.insert("stability_limit", at: metrics.columns.firstIndex(of: "learning_rate")! + 1)
        for k in metrics.rows.indices { metrics.rows[k]["stability_limit"] = metrics.rows[k]["epoch"] == "1" ? "2.5" : "3" }
        try metrics.text.write(to: dir.appendingPathComponent("metrics.csv"), atomically: true, encoding: .utf8)
        var final = try CSVTable.read(dir.appendingPathComponent("final.csv"))
        final.rows.removeAll { $0["model"] == "cnn" }
        try final.text.write(to: dir.appendingPathComponent("final.csv"), atomically: true, encoding: .utf8)
        for f in ["slices/cnn-low-noise.csv", "densities/cnn-low-noise.csv"] { try FileManager.default.removeItem(at: dir.appendingPathComponent(f)) }

        let written = try StudyReport.write(in: dir)
        #expect(written.unfinishedRuns == ["cnn-high-noise (in progress)", "cnn-low-noise (not started)"])
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("Missing or incomplete runs (2 of 4): cnn-high-noise (in progress); cnn-low-noise (not started)."), "\(summary)")
        #expect(summary.contains("| runs finished (n) | 1 of 1 | 1 of 1 | 0 of 1 | 0 of 1 |"))
        #expect(summary.contains("| cnn-high-noise | 0 | 1/2 |") && summary.contains("| cnn-low-noise | 0 | 0/2 |"))
        // The rest is drawn: the in-progress run per epoch, the finished ones everywhere.
        #expect(Set(try svgSeries(dir.appendingPathComponent("figures/sharpness-max.svg"))) == ["mlp-high-noise", "mlp-low-noise", "cnn-high-noise"])
        #expect(Set(try svgSeries(dir.appendingPathComponent("figures/gap-vs-lambda.svg"))) == ["mlp-high-noise", "mlp-low-noise"])
        #expect(!written.files.contains { $0.lastPathComponent == "slice-cnn-low-noise.svg" })
        // λ_max with each configuration's stability limit, dash-dot (a reference line) in its colour.
        let lambda = try String(contentsOf: dir.appendingPathComponent("figures/lambda-max.svg"), encoding: .utf8)
        #expect(try svgSeries(dir.appendingPathComponent("figures/lambda-max.svg")).contains("mlp-low-noise 2(1+μ)/η"))
        let group = lambda.components(separatedBy: "<g data-style=\"dashDot\" data-series=\"mlp-low-noise 2(1+μ)/η\">")[1].components(separatedBy: "</g>")[0]
        #expect(group.contains("<polyline") && group.contains("stroke=\"#ff7f0e\"") && group.contains("stroke-dasharray=\"9 3 2 3\""), "\(group)")
        let html = try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("Dash-dot: the stability limit 2(1+μ)/η"))
    }

    @Test func resumingItChecksEveryFileAndNamesTheMissingCheckpoint() throws {
        guard let mnist = sharedMNIST() else { Issue.record("MNIST not found at ../shared/data/mnist: this test needs the real data and did not run"); return }
        let dir = try copy()
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let c = try StudyConfiguration.loadSaved(from: dir.appendingPathComponent("config.json"))
        let data = try MNISTDataset(directory: mnist, validationCount: 100, trainLimit: 200, testLimit: 100)
        // config.json against study.json's original, each run's flat run.json against the
        // configuration the study derives for it: all pass; then the first run's checkpoint is missing.
        do { _ = try StudyRunner(configuration: c, data: data, directory: dir).run(resume: true); Issue.record("resumed without checkpoints") } catch {
            let m = "\(error)"
            #expect(m.contains("runs/mlp-high-noise") && m.contains("theta-epoch-002.safetensors") && m.contains("is missing"), "\(m)")
        }
        // Nothing already written was lost.
        #expect(try Data(contentsOf: dir.appendingPathComponent("runs/mlp-high-noise/metrics.csv")) == Data(contentsOf: Self.fixture.appendingPathComponent("runs/mlp-high-noise/metrics.csv")))
    }
}

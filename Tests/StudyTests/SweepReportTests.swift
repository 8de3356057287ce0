import Foundation
import Testing
import Checkpoints
@testable import Study
import Tensors
import Training

/// A synthetic sweep over B ∈ {64, 128, 256}, η ∈ {0.0125, 0.025, 0.05, 0.1} and seeds {0, 1}
/// (momentum 0.9, 2 epochs), whose task directories hold metrics.csv rows with known values:
/// - λ_max = 10·(η/B)^(−1/2), times 1.05 (seed 0) or 0.95 (seed 1): an exact function of η/B;
/// - S_ε max = 2·(η/B)^(1/4), likewise: an exact function of η/B;
/// - trace = 100·B, times 1.01 (seed 0) or 0.99 (seed 1): a function of B alone;
/// - batch sharpness λ_max/2;
/// - test accuracy 0.9 + seed·0.01, train accuracy 0.95; losses 0.1 (train) and 0.2 (test).
/// The seed factors multiply every point alike, so they cancel in differences of log₁₀ seed means.
struct SyntheticSweep {
    static let batchSizes = [64, 128, 256]
    static let learningRates = [0.0125, 0.025, 0.05, 0.1]
    static let seeds: [UInt64] = [0, 1]
    static let momentum = 0.9

    static func lambda(_ etaOverB: Double, seed: UInt64) -> Double { 10 / etaOverB.squareRoot() * (seed == 0 ? 1.05 : 0.95) }
    static func sharpness(_ etaOverB: Double, seed: UInt64) -> Double { 2 * Foundation.pow(etaOverB, 0.25) * (seed == 0 ? 1.05 : 0.95) }
    static func trace(_ batchSize: Int, seed: UInt64) -> Double { 100 * Double(batchSize) * (seed == 0 ? 1.01 : 0.99) }

    /// The axes' canonical keys, in canonical (sorted) order.
    static let axes = ["training.optimizer.batchSize", "training.optimizer.learningRate", "training.seed"]

    /// Plans the sweep into `dir` (manifest.jsonl, sweep.json) and returns its tasks.
    static func plan(in dir: URL) throws -> [SweepTask] {
        let text = """
        {"training": {"epochs": 2, "optimizer": {"momentum": \(momentum)}},
         "axes": {"batchSize": \(batchSizes), "learningRate": \(learningRates), "seed": \(seeds)}}
        """
        let spec = try SweepSpecification.decode(json: Data(text.utf8), source: "synthetic.json")
        let tasks = try spec.tasks()
        try SweepManifest.write(tasks, specification: spec, to: dir)
        return tasks
    }

    /// Writes the run directory of `task` with `epochs` metrics.csv rows (each with the known
    /// final values, or with `trainAccuracy` and `lambdaMax` in their place) and a run.json holding
    /// its configuration (the status reads only its presence).
    static func writeTask(_ task: SweepTask, in dir: URL, epochs: Int = 2, trainAccuracy: Double = 0.95, lambdaMax: Double? = nil) throws {
        let t = task.settings.training
        let probes = StudyRunner.epochProbes(t, task.settings.epochProbes)
        let taskDir = task.directory(in: dir)
        try FileManager.default.createDirectory(at: taskDir, withIntermediateDirectories: true)
        try AtomicFile.write(try JSONText.data(["configuration": t.jsonObject()]), to: taskDir.appendingPathComponent(RunStore.runInfoName))
        let x = t.optimizer.learningRate / Double(t.optimizer.batchSize)
        let known: [String: Double] = ["lambda_max": lambdaMax ?? lambda(x, seed: t.seed), "lambda_converged": 1, "lambda_residual": 1e-4,
                                       "trace": trace(t.optimizer.batchSize, seed: t.seed), "trace_stderr": 3,
                                       "sharpness_max": sharpness(x, seed: t.seed), "sharpness_mean": sharpness(x, seed: t.seed) / 2,
                                       "batch_sharpness": (lambdaMax ?? lambda(x, seed: t.seed)) / 2, "lambda_seconds": 0.5]
        var text = EpochMetrics.csvHeader(probeColumns: probes.columns) + "\n"
        for epoch in stride(from: 1, through: epochs, by: 1) {
            let m = EpochMetrics(epoch: epoch, trainLoss: 0.1, trainAccuracy: trainAccuracy, trainRunningLoss: 0.1, validationLoss: 0.2, validationAccuracy: 0.9,
                                 testLoss: 0.2, testAccuracy: 0.9 + Double(t.seed) * 0.01, learningRate: t.optimizer.learningRate,
                                 stabilityLimit: t.stabilityLimit(learningRate: t.optimizer.learningRate), trainSeconds: 1, evaluationSeconds: 0.25,
                                 probeColumns: probes.columns, probeValues: probes.columns.map { known[$0] ?? .nan }, integerColumns: probes.integerColumns)
            text += m.csvRow + "\n"
        }
        try AtomicFile.write(text, to: taskDir.appendingPathComponent("metrics.csv"))
    }

}

@Suite struct SweepReportTests {
    @Test func aMetricOfEtaOverBCollapsesAndOneOfBAloneDoesNot() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let entries = try SyntheticSweep.plan(in: dir)
        for e in entries { try SyntheticSweep.writeTask(e, in: dir) }
        let written = try SweepReport.write(in: dir)
        #expect(written.unfinished.isEmpty)
        func collapse(_ id: String) -> SweepReport.Collapse? { written.collapses.first { $0.metric == id } }
        for id in ["lambda_max", "sharpness_max"] {
            let c = try #require(collapse(id))
            #expect(c.logScale && c.verdict == .collapses, "\(id): \(c.sentence)")
            #expect(c.gap < 1e-12, "\(id): gap \(c.gap)")
            #expect(c.spread > 0.1)
        }
        // trace = 100·B: at equal η/B two batch sizes differ by log₁₀ of their ratio. Overlapping
        // points (η doubles where B doubles): 64↔128 and 128↔256 three each way (|d| = log₁₀ 2),
        // 64↔256 two each way (|d| = 2 log₁₀ 2): gap = log₁₀ 2 · √((12 + 4·4)/16).
        let trace = try #require(collapse("trace"))
        #expect(trace.verdict == .doesNotCollapse && trace.comparisons == 16)
        #expect(abs(trace.gap - Foundation.log10(2) * (28.0 / 16).squareRoot()) < 1e-12, "gap \(trace.gap)")
        // Seed noise: the standard error of {log₁₀ 1.01c, log₁₀ 0.99c} is e = |log₁₀(1.01/0.99)|/2 at
        // every point, so every comparison has s = √2·e and RMS z = gap/(√2·e).
        let e = Foundation.log10(1.01 / 0.99) / 2
        #expect(trace.judged == 16 && trace.noiseless == 0)
        #expect(abs(trace.rmsZ - trace.gap / (2.0.squareRoot() * e)) < 1e-9 * trace.rmsZ, "RMS z \(trace.rmsZ)")
        #expect(trace.sentence.hasPrefix("does not collapse: at equal η/B the batch sizes differ by a factor \(String(format: "%.3g", Foundation.pow(2, (28.0 / 16).squareRoot()))), RMS z "),
                "\(trace.sentence)")
        // λ_max's log₁₀ seed means lie exactly on one curve: z vanishes but for rounding.
        #expect(try #require(collapse("lambda_max")).rmsZ < 1e-9)
        // λ_max·η/2 = 5·√(ηB)·(1 ± 0.05): at equal η/B (η ∝ B) it is ∝ B, the same gap as the trace's.
        let sharpnessTimesRate = try #require(collapse("lambda_eta_over_2"))
        #expect(sharpnessTimesRate.verdict == .doesNotCollapse)
        #expect(abs(sharpnessTimesRate.gap - Foundation.log10(2) * (28.0 / 16).squareRoot()) < 1e-12, "gap \(sharpnessTimesRate.gap)")
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("collapses onto one curve in η/B within seed noise"))
        #expect(summary.contains("does not collapse: at equal η/B the batch sizes differ by"))
        // λ_max > 2(1+μ)/η ⟺ 10·√(ηB)·(1 ± 0.05) > 3.8, counted from the closed forms.
        let above = entries.map(\.settings.training).filter { t in
            let x = t.optimizer.learningRate / Double(t.optimizer.batchSize)
            return SyntheticSweep.lambda(x, seed: t.seed) > 2 * (1 + SyntheticSweep.momentum) / t.optimizer.learningRate
        }.count
        #expect(summary.contains("\(above) of 24 finished tasks with a measured λ_max end with λ_max above the stability limit"))
        // Side by side: η/B = η/B' for B' = 2B, 4B where η' = 2η, 4η; of the 12 (B, η) cells only
        // (64, 0.1) (η/B = 1/640) and (256, 0.0125) (η/B = 1/20480) share their η/B with no other batch size.
        let side = try #require(summary.components(separatedBy: "## Side by side at equal η/B\n").dropFirst().first?.components(separatedBy: "\n## ").first)
        let rows = side.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| B ") }
        #expect(rows.count == 10, "\(rows)")
        #expect(rows.first?.hasPrefix("| 128 | 0.0125 |") == true && rows.last?.hasPrefix("| 128 | 0.1 |") == true, "\(rows)")
    }

    @Test func thePeakOverEpochsTakesEachEpochsOwnRate() throws {
        // One task over three epochs with a falling rate: λ_max / (3.8/η_e) = λ·η/3.8 is
        // 10·0.1, 50·0.05, 60·0.01 → largest at epoch 2 (2.5/3.8) although λ_max grows to the end;
        // batch sharpness 45, 80, 100 → largest at epoch 1 (4.5/3.8 > 1: above the limit).
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let task = try #require(try SyntheticSweep.plan(in: dir).first)
        try SyntheticSweep.writeTask(task, in: dir, epochs: 3)
        let t = task.settings.training, probes = StudyRunner.epochProbes(t, task.settings.epochProbes)
        var text = EpochMetrics.csvHeader(probeColumns: probes.columns) + "\n"
        for (epoch, (η, (λ, batch))) in zip(1..., zip([0.1, 0.05, 0.01], zip([10.0, 50, 60], [45.0, 80, 100]))) {
            let values: [String: Double] = ["lambda_max": λ, "lambda_converged": 1, "batch_sharpness": batch]
            text += EpochMetrics(epoch: epoch, trainLoss: 0.1, trainAccuracy: 0.95, trainRunningLoss: 0.1, validationLoss: 0.2, validationAccuracy: 0.9,
                                 testLoss: 0.2, testAccuracy: 0.9, learningRate: η, stabilityLimit: t.stabilityLimit(learningRate: η), trainSeconds: 1,
                                 evaluationSeconds: 0.25, probeColumns: probes.columns, probeValues: probes.columns.map { values[$0] ?? .nan },
                                 integerColumns: probes.integerColumns).csvRow + "\n"
        }
        try AtomicFile.write(text, to: task.directory(in: dir).appendingPathComponent("metrics.csv"))
        let read = try SweepReport.readTask(task, in: dir)
        #expect(abs(read.peakLambdaOverLimit - 2.5 / 3.8) < 1e-12, "\(read.peakLambdaOverLimit)")
        #expect(abs(read.peakBatchSharpnessOverLimit - 4.5 / 3.8) < 1e-12, "\(read.peakBatchSharpnessOverLimit)")
    }

    @Test func sweepCSVHoldsTheClosedForms() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let entries = try SyntheticSweep.plan(in: dir)
        for e in entries { try SyntheticSweep.writeTask(e, in: dir) }
        _ = try SweepReport.write(in: dir)
        let table = try CSVTable.read(dir.appendingPathComponent("sweep.csv"))
        #expect(table.columns == SweepReport.csvColumns(axes: SyntheticSweep.axes))
        #expect(table.rows.count == entries.count)
        for (row, task) in zip(table.rows, entries) {
            let e = (index: task.index, id: task.id, training: task.settings.training)
            func v(_ k: String) -> Double { Double(row[k] ?? "") ?? .nan }
            let b = Double(e.training.optimizer.batchSize), η = e.training.optimizer.learningRate, μ = SyntheticSweep.momentum
            let λ = SyntheticSweep.lambda(η / b, seed: e.training.seed)
            #expect(row["index"] == String(e.index) && row["id"] == e.id && row["status"] == "finished")
            #expect(row["training.optimizer.batchSize"] == String(e.training.optimizer.batchSize))
            #expect(v("batch_size") == b && v("learning_rate") == η && v("momentum") == μ)
            #expect(v("eta_over_batch_size") == η / b)
            #expect(abs(v("lambda_max") - λ) <= 1e-12 * λ)
            #expect(abs(v("lambda_eta_over_2") - λ * η / 2) <= 1e-12 * λ * η)
            #expect(abs(v("stability_limit") - 2 * (1 + μ) / η) <= 1e-12 / η)
            #expect(abs(v("lambda_over_limit") - λ * η / (2 * (1 + μ))) <= 1e-12 * λ * η)
            #expect(abs(v("gap_accuracy") - (0.95 - (0.9 + Double(e.training.seed) * 0.01))) < 1e-12)
            #expect(abs(v("gap_loss") - 0.1) < 1e-12)
            #expect(v("lambda_converged") == 1 && v("epochs") == 2)
            // Two epochs of 1 s training, 0.25 s evaluation and 0.5 s λ_max.
            #expect(abs(v("seconds") - 2 * 1.75) < 1e-9)
        }
    }

    @Test func aPartialSweepListsItsUnfinishedTasksAndDrawsTheRest() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let entries = try SyntheticSweep.plan(in: dir)
        // Task 3: missing; 5: partial (1 of 2 epochs); 7: diverged; 8: directory without metrics.csv (partial).
        for e in entries where e.index != 3 {
            try SyntheticSweep.writeTask(e, in: dir, epochs: e.index == 5 ? 1 : e.index == 8 ? 0 : 2)
        }
        try FileManager.default.removeItem(at: entries[8].directory(in: dir).appendingPathComponent("metrics.csv"))
        try AtomicFile.write("training diverged: the loss is nan at step 12\n", to: entries[7].directory(in: dir).appendingPathComponent("failed.txt"))
        let written = try SweepReport.write(in: dir)
        #expect(written.unfinished.map(\.index) == [3, 5, 7, 8])
        #expect(written.unfinished.map(\.status.name) == ["missing", "partial", "diverged", "partial"])
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("24 tasks: 20 finished, 1 diverged, 2 partial, 1 missing."))
        for (k, status) in [(3, "missing"), (5, "partial"), (7, "diverged"), (8, "partial")] {
            #expect(summary.contains("| \(k) | \(entries[k].id) | \(status) |"), "task \(k) is not listed")
        }
        #expect(summary.contains("the loss is nan at step 12"))
        let table = try CSVTable.read(dir.appendingPathComponent("sweep.csv"))
        #expect(table.rows.map { $0["status"] } == entries.map { [3: "missing", 5: "partial", 7: "diverged", 8: "partial"][$0.index] ?? "finished" })
        #expect(table.rows.map { $0["id"] } == entries.map(\.id))
        #expect(table.rows[5]["epochs"] == "1" && table.rows[5]["lambda_max"] == "nan")
        // The figures exist and hold one series per batch size.
        for name in SweepReport.figureMetrics.map(SweepReport.figureName) + [SweepReport.limitFigureName] {
            let url = dir.appendingPathComponent("figures").appendingPathComponent(name)
            #expect(try svgSeries(url) == ["B = 64", "B = 128", "B = 256"], "\(name)")
        }
        // The (64, 0.0125)… groups: task 3 is seed 1 of (64, 0.025): n = 1/2 there.
        #expect(written.table.contains("| 64 | 0.025 | 0.9 | 0.0003906 | 1/2 |"))
    }

    @Test func theGapInterpolatesBetweenGridPointsOnTheLinearScale() {
        // y = log₁₀(η/B) + offset(B), with values of both signs (so compared on the linear scale),
        // on grids that interleave: B = 64 at η/B = 10⁻⁴, 10⁻³, 10⁻²; B = 128 at 3·10⁻⁴, 3·10⁻³.
        // y is linear in log₁₀ η/B, so piecewise-linear interpolation is exact and each comparison
        // differs by the offsets' difference alone.
        func points(offset64: Double, offset128: Double) -> [SweepReport.CurvePoint] {
            [1e-4, 1e-3, 1e-2].map { SweepReport.CurvePoint(batchSize: 64, etaOverB: $0, values: [Foundation.log10($0) + offset64]) }
                + [3e-4, 3e-3].map { SweepReport.CurvePoint(batchSize: 128, etaOverB: $0, values: [Foundation.log10($0) + offset128]) }
        }
        let same = SweepReport.collapse(metric: "m", family: "", points: points(offset64: 3, offset128: 3))
        // Comparisons: both points of B = 128 inside [10⁻⁴, 10⁻²], and the middle point of B = 64 inside [3·10⁻⁴, 3·10⁻³].
        #expect(!same.logScale && same.comparisons == 3 && same.verdict == .collapses, "\(same.sentence)")
        #expect(same.gap < 1e-12)
        #expect(same.rmsZ.isNaN && same.judged == 0 && same.sentence.contains("no seed noise to judge by"))
        let shifted = SweepReport.collapse(metric: "m", family: "", points: points(offset64: 3, offset128: 3.5))
        #expect(shifted.verdict == .doesNotCollapse && abs(shifted.gap - 0.5) < 1e-12, "\(shifted.sentence)")
        // Ranges that do not overlap: nothing to compare.
        let apart = SweepReport.collapse(metric: "m", family: "", points: [
            .init(batchSize: 64, etaOverB: 1e-4, values: [1]), .init(batchSize: 64, etaOverB: 2e-4, values: [2]),
            .init(batchSize: 128, etaOverB: 1e-3, values: [1]), .init(batchSize: 128, etaOverB: 2e-3, values: [2])])
        #expect(apart.verdict == .tooFew && apart.comparisons == 0 && apart.sentence.hasPrefix("too few overlapping points to tell"))
    }

    @Test func anAxisBesideBatchSizeRateAndSeedSplitsTheSweepIntoFamilies() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = #"{"training": {"epochs": 2}, "axes": {"batchSize": [64, 128], "learningRate": [0.025, 0.05], "momentum": [0, 0.9], "seed": [0, 1]}}"#
        let spec = try SweepSpecification.decode(json: Data(text.utf8), source: "families.json")
        let tasks = try spec.tasks()
        try SweepManifest.write(tasks, specification: spec, to: dir)
        for t in tasks { try SyntheticSweep.writeTask(t, in: dir) }
        let written = try SweepReport.write(in: dir)
        let families = Set(written.collapses.map(\.family))
        #expect(families == ["training.optimizer.momentum=0", "training.optimizer.momentum=0.9"])
        // Two families, each judged over all finished tasks and over those that learned.
        #expect(written.collapses.count == 2 * 2 * SweepReport.figureMetrics.count)
        // λ_max is an exact function of η/B in each family.
        for c in written.collapses where c.metric == "lambda_max" { #expect(c.verdict == .collapses && c.gap < 1e-12, "\(c.family): \(c.sentence)") }
        let series = try svgSeries(dir.appendingPathComponent("figures").appendingPathComponent(SweepReport.figureName("lambda_max")))
        #expect(series == ["B = 64 (training.optimizer.momentum=0)", "B = 128 (training.optimizer.momentum=0)",
                           "B = 64 (training.optimizer.momentum=0.9)", "B = 128 (training.optimizer.momentum=0.9)"])
        // The stability limit 2(1+μ)/η follows each task's momentum.
        let table = try CSVTable.read(dir.appendingPathComponent("sweep.csv"))
        for row in table.rows {
            let μ = Double(row["momentum"]!)!, η = Double(row["learning_rate"]!)!
            #expect(abs(Double(row["stability_limit"]!)! - 2 * (1 + μ) / η) <= 1e-12 / η)
            #expect(row["training.optimizer.momentum"] == (μ == 0 ? "0" : "0.9"))
        }
    }
    /// The values {y − ε, y, y + ε} (sd ε, standard error ε/√3) of a point at η/B = 10^x.
    static func point(_ batchSize: Int, _ x: Double, _ y: Double, _ ε: Double) -> SweepReport.CurvePoint {
        .init(batchSize: batchSize, etaOverB: Foundation.pow(10, x), values: [y - ε, y, y + ε])
    }

    @Test func anExactFunctionOfEtaOverBCollapsesWhateverEachPointsNoise() {
        // y = 3x − 1 (x = log₁₀ η/B; values of both signs: the linear scale), linear in x, so the
        // interpolated curves are exact and every d is zero but for rounding. Each point has its
        // own seed noise ε (0.001 … 0.5, seeded); B = 64 and 128 interleave (exact hits and
        // interpolations); at x = −2 both have ε = 0 (s = 0, d = 0: z = 0).
        let seed: UInt64 = 20
        var rng = SplitMix64(seed: seed)
        let xs64 = [-4.0, -3.5, -3, -2.5, -2], xs128 = [-3.75, -3, -2.25, -2, -1.5]
        func noise(_ x: Double) -> Double { x == -2 ? 0 : 0.001 + 0.499 * Double(rng.next() >> 11) / Double(1 << 53) }
        let points = xs64.map { Self.point(64, $0, 3 * $0 - 1, noise($0)) } + xs128.map { Self.point(128, $0, 3 * $0 - 1, noise($0)) }
        let c = SweepReport.collapse(metric: "m", family: "", points: points)
        // Comparisons: 64's −3.5, −3, −2.5, −2 in [−3.75, −1.5]; 128's −3.75, −3, −2.25, −2 in [−4, −2]: 8.
        #expect(!c.logScale && c.comparisons == 8 && c.judged == 8, "seed \(seed): \(c.sentence)")
        #expect(c.noiseless == 2 && c.noiselessDiffering == 0, "seed \(seed): \(c.sentence)")
        #expect(c.verdict == .collapses && c.gap < 1e-12 && c.rmsZ < 1e-9, "seed \(seed): \(c.sentence)")
        #expect(c.sentence.contains("2 of them without seed spread (every seed on both sides the same value): all agree (z = 0)"), "\(c.sentence)")
    }

    @Test func aBatchSizeOffsetIsJudgedAgainstTheNoiseOfEachComparison() {
        // y = x + offset(B) with seed values y ± ε (ε = 0.01, standard error ε/√3) on the same
        // grid x ∈ {−4, −3, −2} for B = 64 and 128: 6 comparisons, each d = ±Δ with
        // s = √2·ε/√3, so RMS z = Δ√3/(√2·ε).
        let ε = 0.01
        func collapse(_ Δ: Double) -> SweepReport.Collapse {
            SweepReport.collapse(metric: "m", family: "", points: [-4.0, -3, -2].flatMap { x in [Self.point(64, x, x, ε), Self.point(128, x, x + Δ, ε)] })
        }
        for (Δ, verdict) in [(0.1, SweepReport.Collapse.Verdict.doesNotCollapse), (0.015, .collapses)] {
            let c = collapse(Δ)
            let z = Δ * 3.0.squareRoot() / (2.0.squareRoot() * ε)
            #expect(c.comparisons == 6 && c.judged == 6 && c.verdict == verdict, "Δ \(Δ): \(c.sentence)")
            #expect(abs(c.rmsZ - z) < 1e-9 * z && abs(c.gap - Δ) < 1e-12, "Δ \(Δ): RMS z \(c.rmsZ), expected \(z)")
        }
        // Within seed noise, but a quantity flat in η/B: the spread (RMS of the means ±Δ/2 around
        // their mean) is Δ/2, so gap/spread = 2 > ½ and nothing tells one curve from two.
        let flatInX = SweepReport.collapse(metric: "m", family: "", points: [-4.0, -3, -2].flatMap { x in [Self.point(64, x, 0, ε), Self.point(128, x, 0.015, ε)] })
        #expect(flatInX.verdict == .inconclusive && abs(flatInX.ratio - 2) < 1e-9 && flatInX.rmsZ <= SweepReport.Collapse.zLimit, "\(flatInX.sentence)")
        #expect(flatInX.sentence.hasPrefix("inconclusive: within seed noise"), "\(flatInX.sentence)")
        // Beyond seed noise but small: Δ = 0.05 on y = 10x (spread √(200/3) ≈ 8.2, gap/spread ≈ 0.006).
        let steep = SweepReport.collapse(metric: "m", family: "", points: [-4.0, -3, -2].flatMap { x in [Self.point(64, x, 10 * x, ε), Self.point(128, x, 10 * x + 0.05, ε)] })
        #expect(steep.verdict == .approximately && steep.rmsZ > SweepReport.Collapse.zLimit && steep.ratio < SweepReport.Collapse.approximateRatio, "\(steep.sentence)")
        // The same offset without any seed spread: every d ≠ 0 has s = 0, infinitely significant.
        let flat = SweepReport.collapse(metric: "m", family: "", points: [-4.0, -3, -2].flatMap { x in [Self.point(64, x, x, 0), Self.point(128, x, x + 0.1, 0)] })
        #expect(flat.verdict == .doesNotCollapse && flat.rmsZ == .infinity && flat.noiseless == 6 && flat.noiselessDiffering == 6)
        #expect(flat.sentence.contains("RMS z ∞ > 2") && flat.sentence.contains("6 differ, counted as infinitely significant"), "\(flat.sentence)")
    }

    @Test func aBimodalCellNoLongerMakesABatchSizeOffsetCollapse() {
        // log₁₀ y = −x/2 + 0.3·[B = 128] (a factor 2 between the batch sizes at equal η/B) at
        // x ∈ {−4, −3, −2, −1}, seeds log₁₀ y + {−ε, 0, ε} (ε = 0.03, standard error ε/√3),
        // except the bimodal cell (B = 64, x = −2): seeds log₁₀ y + {0.5, 0.5, −1} (two learned,
        // one stuck 1.5 decades lower), mean log₁₀ y, sd √0.75, standard error 0.5.
        let ε = 0.03, Δ = 0.3
        func seeds(_ b: Int, _ x: Double) -> [Double] {
            let y = -x / 2 + (b == 128 ? Δ : 0)
            return (b == 64 && x == -2 ? [y + 0.5, y + 0.5, y - 1] : [y - ε, y, y + ε]).map { Foundation.pow(10, $0) }
        }
        let xs = [-4.0, -3, -2, -1]
        let c = SweepReport.collapse(metric: "lambda_max", family: "", points: [64, 128].flatMap { b in
            xs.map { SweepReport.CurvePoint(batchSize: b, etaOverB: Foundation.pow(10, $0), values: seeds(b, $0)) }
        })
        // The pooled rule (gap ≤ 2√2 × RMS standard error) would call this a collapse:
        let se = ε / 3.0.squareRoot(), pooled = ((7 * se * se + 0.25) / 8).squareRoot()
        #expect(Δ <= 2 * 2.0.squareRoot() * pooled)
        // Per comparison: 6 with s = √2·se (z = Δ/s), 2 with the bimodal cell, s = √(0.25 + se²).
        let z = ((6 * Δ * Δ / (2 * se * se) + 2 * Δ * Δ / (0.25 + se * se)) / 8).squareRoot()
        #expect(c.logScale && c.comparisons == 8 && abs(c.gap - Δ) < 1e-12, "\(c.sentence)")
        #expect(abs(c.rmsZ - z) < 1e-9 * z, "RMS z \(c.rmsZ), expected \(z)")
        #expect(c.verdict == .doesNotCollapse && c.sentence.hasPrefix("does not collapse: at equal η/B the batch sizes differ by a factor 2, RMS z"), "\(c.sentence)")
    }

    @Test func tasksStuckAtChanceAreNamedMarkedAndLeftOutOfTheSecondJudgement() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let entries = try SyntheticSweep.plan(in: dir)
        // Stuck (train accuracy < 0.5, λ_max = 0.111 as a constant predictor's): every task at
        // η = 0.1 (3 batch sizes × 2 seeds) and seed 1 of (64, 0.05) at 0.4999; seed 0 of
        // (128, 0.05) at exactly 0.5 has learned.
        func trainAccuracy(_ t: TrainingConfiguration) -> Double {
            switch (t.optimizer.batchSize, t.optimizer.learningRate, t.seed) {
            case (_, 0.1, _): 0.1135
            case (64, 0.05, 1): 0.4999
            case (128, 0.05, 0): 0.5
            default: 0.95
            }
        }
        for e in entries {
            let a = trainAccuracy(e.settings.training)
            try SyntheticSweep.writeTask(e, in: dir, trainAccuracy: a, lambdaMax: a < 0.5 ? 0.111 : nil)
        }
        let stuck = entries.filter { trainAccuracy($0.settings.training) < 0.5 }.map(\.index)
        #expect(stuck.count == 7)
        let written = try SweepReport.write(in: dir)
        #expect(written.stuck.map(\.index) == stuck)
        let table = try CSVTable.read(dir.appendingPathComponent("sweep.csv"))
        #expect(table.rows.map { $0["learned"] } == entries.map { stuck.contains($0.index) ? "0" : "1" })
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("below 0.5 is *stuck at chance*"))
        #expect(summary.contains("7 of 24 finished tasks stuck at chance"))
        for b in [64, 128, 256] {
            #expect(summary.contains("| \(b) | 0.1 | \(String(format: "%.4g", 0.1 / Double(b))) | stuck at chance: 2 of 2 seeds |"), "B = \(b)")
        }
        #expect(summary.contains("| 64 | 0.05 | \(String(format: "%.4g", 0.05 / 64)) | stuck at chance: 1 of 2 seeds |"))
        #expect(!summary.contains("| 128 | 0.05 | \(String(format: "%.4g", 0.05 / 128)) | stuck at chance"))
        // The table (and the figures) keep the stuck tasks.
        #expect(written.table.contains("| 64 | 0.1 | 0.9 | 0.001563 | 2/2 |"))
        // λ_max over all finished tasks: the stuck constant sits off the curve; over the tasks
        // that learned it is an exact function of η/B. Learned points: η ∈ {0.0125, 0.025, 0.05}
        // per batch size, so η/B ∈ [1/5120, 1/1280] (64), [1/10240, 1/2560] (128), [1/20480, 1/5120]
        // (256): 2 + 1 + 2 + 2 + 1 + 2 = 10 comparisons.
        let all = try #require(written.collapses.first { $0.metric == "lambda_max" && $0.tasks == .finished })
        let learned = try #require(written.collapses.first { $0.metric == "lambda_max" && $0.tasks == .learned })
        #expect(all.verdict == .doesNotCollapse, "\(all.sentence)")
        #expect(learned.verdict == .collapses && learned.comparisons == 10 && learned.rmsZ < 1e-9, "\(learned.sentence)")
        #expect(summary.contains("### Over all finished tasks") && summary.contains("### Over the tasks that learned (final train accuracy ≥ 0.5)"))
        #expect(summary.contains("Leaving out the 7 tasks stuck at chance."))
    }
}

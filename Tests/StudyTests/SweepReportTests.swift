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
        // The spread along η/B: per batch size log₁₀ η/B runs over 4 points log₁₀ 2 apart, {±1.5, ±0.5}·log₁₀ 2
        // around their mean (RMS √5/2·log₁₀ 2), times the slope −1/2 (λ_max) or 1/4 (S_ε).
        for (id, slope) in [("lambda_max", 0.5), ("sharpness_max", 0.25)] {
            let c = try #require(collapse(id))
            #expect(c.logScale && c.verdict == .collapses, "\(id): \(c.sentence)")
            #expect(c.gap < 1e-12, "\(id): gap \(c.gap)")
            #expect(abs(c.spread - slope * 5.0.squareRoot() / 2 * Foundation.log10(2)) < 1e-12, "\(id): spread \(c.spread)")
        }
        // trace = 100·B: at equal η/B two batch sizes differ by log₁₀ of their ratio. Every overlapping
        // point is shared (η doubles where B doubles), one comparison each: 64↔128 and 128↔256 three
        // (|d| = log₁₀ 2), 64↔256 two (|d| = 2 log₁₀ 2): gap = log₁₀ 2 · √((6 + 2·4)/8).
        let trace = try #require(collapse("trace"))
        #expect(trace.verdict == .doesNotCollapse && trace.comparisons == 8)
        #expect(abs(trace.gap - Foundation.log10(2) * (14.0 / 8).squareRoot()) < 1e-12, "gap \(trace.gap)")
        // Constant in η at each B: nothing varies along η/B within a batch size.
        #expect(trace.spread == 0 && trace.ratio == .infinity && trace.sentence.hasSuffix("while nothing varies along η/B within a batch size"), "\(trace.sentence)")
        // Seed noise: the standard error of {log₁₀ 1.01c, log₁₀ 0.99c} is e = |log₁₀(1.01/0.99)|/2 at
        // every point, so every comparison has s = √2·e and Welch's ν = (2e²)²/(2e⁴/1) = 2; t = d/s
        // maps to z = −Φ⁻¹(p/2) with the two-sided p = 1 − t/√(t² + 2) of ν = 2.
        let e = Foundation.log10(1.01 / 0.99) / 2
        let z = [1.0, 2].map { k in
            let t = k * Foundation.log10(2) / (2.0.squareRoot() * e), r = (t * t + 2).squareRoot()
            return -Statistics.normalQuantile(1 / (r * (r + t)))   // p/2 = (1 − t/r)/2 = 1/(r(r + t))
        }
        let expectedZ = ((6 * z[0] * z[0] + 2 * z[1] * z[1]) / 8).squareRoot()
        #expect(trace.judged == 8 && trace.noiseless == 0)
        #expect(abs(trace.rmsZ - expectedZ) < 1e-9 * expectedZ, "RMS z \(trace.rmsZ), expected \(expectedZ)")
        #expect(trace.sentence.hasPrefix("does not collapse: at equal η/B the batch sizes differ by a factor \(String(format: "%.3g", Foundation.pow(2, (14.0 / 8).squareRoot()))), RMS z "),
                "\(trace.sentence)")
        // λ_max's log₁₀ seed means lie exactly on one curve: z vanishes but for rounding.
        #expect(try #require(collapse("lambda_max")).rmsZ < 1e-9)
        // λ_max·η/2 = 5·√(ηB)·(1 ± 0.05): at equal η/B (η ∝ B) it is ∝ B, the same gap as the trace's.
        let sharpnessTimesRate = try #require(collapse("lambda_eta_over_2"))
        #expect(sharpnessTimesRate.verdict == .doesNotCollapse)
        #expect(abs(sharpnessTimesRate.gap - Foundation.log10(2) * (14.0 / 8).squareRoot()) < 1e-12, "gap \(sharpnessTimesRate.gap)")
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
        let text = #"{"training": {"epochs": 2}, "axes": {"batchSize": [64, 128], "learningRate": [0.025, 0.05, 0.1], "momentum": [0, 0.9], "seed": [0, 1]}}"#
        let spec = try SweepSpecification.decode(json: Data(text.utf8), source: "families.json")
        let tasks = try spec.tasks()
        try SweepManifest.write(tasks, specification: spec, to: dir)
        for t in tasks { try SyntheticSweep.writeTask(t, in: dir) }
        let written = try SweepReport.write(in: dir)
        let families = Set(written.collapses.map(\.family))
        #expect(families == ["training.optimizer.momentum=0", "training.optimizer.momentum=0.9"])
        // Two families, each judged over all finished tasks and over those that learned.
        #expect(written.collapses.count == 2 * 2 * SweepReport.figureMetrics.count)
        // λ_max is an exact function of η/B in each family; B = 64 and 128 share η/B = 0.05/128 and 0.1/128.
        for c in written.collapses where c.metric == "lambda_max" { #expect(c.verdict == .collapses && c.gap < 1e-12 && c.comparisons == 2, "\(c.family): \(c.sentence)") }
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
        // Comparisons: 64's −3.5, −3, −2.5, −2 in [−3.75, −1.5]; 128's −3.75, −3, −2.25, −2 in [−4, −2];
        // the shared −3 and −2 once each: 6.
        #expect(!c.logScale && c.comparisons == 6 && c.judged == 6, "seed \(seed): \(c.sentence)")
        #expect(c.noiseless == 1 && c.noiselessDiffering == 0, "seed \(seed): \(c.sentence)")
        #expect(c.verdict == .collapses && c.gap < 1e-12 && c.rmsZ < 1e-9, "seed \(seed): \(c.sentence)")
        #expect(c.sentence.contains("1 of them without seed spread (every seed on both sides the same value): all agree (z = 0)"), "\(c.sentence)")
    }

    @Test func aBatchSizeOffsetIsJudgedAgainstTheNoiseOfEachComparison() {
        // y = x + offset(B) with seed values y ± ε (ε = 0.01, standard error ε/√3) on the same
        // grid x ∈ {−4, −3, −2} for B = 64 and 128: 3 shared points, each d = −Δ with
        // s = √2·ε/√3 and Welch's ν = (2v)²/(2v²/2) = 4: t = Δ√3/(√2·ε), whose two-sided p under
        // Student's t with 4 degrees of freedom is 1 − (3/4)·u·(1 − t²/(12(1 + t²/4))), u = t/√(1 + t²/4);
        // every comparison has z = Φ⁻¹(1 − p/2), and so has the RMS. The spread along η/B is RMS{−1, 0, 1} = √(2/3).
        let ε = 0.01
        func collapse(_ Δ: Double) -> SweepReport.Collapse {
            SweepReport.collapse(metric: "m", family: "", points: [-4.0, -3, -2].flatMap { x in [Self.point(64, x, x, ε), Self.point(128, x, x + Δ, ε)] })
        }
        for (Δ, verdict) in [(0.1, SweepReport.Collapse.Verdict.doesNotCollapse), (0.015, .collapses)] {
            let c = collapse(Δ)
            let t = Δ * 3.0.squareRoot() / (2.0.squareRoot() * ε), u = t / (1 + t * t / 4).squareRoot()
            let p = 1 - 0.75 * u * (1 - t * t / (12 * (1 + t * t / 4)))
            let z = -Statistics.normalQuantile(p / 2)
            #expect(c.comparisons == 3 && c.judged == 3 && c.verdict == verdict, "Δ \(Δ): \(c.sentence)")
            #expect(abs(c.rmsZ - z) < 1e-9 * z && abs(c.gap - Δ) < 1e-12, "Δ \(Δ): RMS z \(c.rmsZ), expected \(z)")
            #expect(abs(c.spread - (2.0 / 3).squareRoot()) < 1e-12)
        }
        // Uncalibrated, Δ = 0.1 would have t = 12.2 (a factor 3.4 beyond its normal-equivalent z).
        #expect(collapse(0.1).rmsZ < 4 && collapse(0.1).rmsZ > 3)
        // Within seed noise, but a quantity flat in η/B: nothing varies along η/B within a batch
        // size (spread 0), so nothing tells one curve from two.
        let flatInX = SweepReport.collapse(metric: "m", family: "", points: [-4.0, -3, -2].flatMap { x in [Self.point(64, x, 0, ε), Self.point(128, x, 0.015, ε)] })
        #expect(flatInX.verdict == .inconclusive && flatInX.spread == 0 && flatInX.ratio == .infinity && flatInX.rmsZ <= SweepReport.Collapse.zLimit, "\(flatInX.sentence)")
        #expect(flatInX.sentence.hasPrefix("inconclusive: within seed noise") && flatInX.sentence.hasSuffix("while nothing varies along η/B within a batch size"), "\(flatInX.sentence)")
        // Beyond seed noise but small: Δ = 0.05 on y = 10x (t = 6.1, ν = 4: z ≈ 2.9; spread 10·√(2/3) ≈ 8.2, gap/spread ≈ 0.006).
        let steep = SweepReport.collapse(metric: "m", family: "", points: [-4.0, -3, -2].flatMap { x in [Self.point(64, x, 10 * x, ε), Self.point(128, x, 10 * x + 0.05, ε)] })
        #expect(steep.verdict == .approximately && steep.rmsZ > SweepReport.Collapse.zLimit && steep.ratio < SweepReport.Collapse.approximateRatio, "\(steep.sentence)")
        // The same offset without any seed spread: every d ≠ 0 has s = 0, infinitely significant.
        let flat = SweepReport.collapse(metric: "m", family: "", points: [-4.0, -3, -2].flatMap { x in [Self.point(64, x, x, 0), Self.point(128, x, x + 0.1, 0)] })
        #expect(flat.verdict == .doesNotCollapse && flat.rmsZ == .infinity && flat.noiseless == 3 && flat.noiselessDiffering == 3)
        #expect(flat.sentence.contains("RMS z ∞ > 2") && flat.sentence.contains("3 differ, counted as infinitely significant"), "\(flat.sentence)")
    }

    @Test func anInterpolatedPointCarriesTheVarianceOfItsWeightedMean() {
        // B = 128 at x = −3.5, seeds {0.1, 0.3} (mean 0.2, se² = sd²/2 = 0.01, ν = 1), between B = 64's
        // points at x = −4, seeds −1 ± 0.3 (se² = 0.03, ν = 2), and x = −2, seeds 1 ± 0.6 (se² = 0.12,
        // ν = 2), at weight t = 1/4: ŷ = ¾·(−1) + ¼·1 = −0.5, d = 0.7, and ŷ's variance is
        // (¾)²·0.03 + (¼)²·0.12 (not the square of the interpolated se (¾·√0.03 + ¼·√0.12)²).
        // Satterthwaite over the three terms: ν = s⁴/Σ vᵢ²/νᵢ.
        let c = SweepReport.collapse(metric: "m", family: "", points: [
            Self.point(64, -4, -1, 0.3), Self.point(64, -2, 1, 0.6),
            .init(batchSize: 128, etaOverB: Foundation.pow(10, -3.5), values: [0.1, 0.3])])
        let v = [0.01, 0.5625 * 0.03, 0.0625 * 0.12], nu = [1.0, 2, 2]
        let s2 = v.reduce(0, +), df = s2 * s2 / zip(v, nu).reduce(0) { $0 + $1.0 * $1.0 / $1.1 }
        let z = Statistics.normalEquivalentZ(t: 0.7 / s2.squareRoot(), degreesOfFreedom: df)
        #expect(!c.logScale && c.comparisons == 1 && c.judged == 1 && c.verdict == .tooFew, "\(c.sentence)")
        #expect(abs(c.gap - 0.7) < 1e-12 && abs(c.rmsZ - z) < 1e-9 * z, "RMS z \(c.rmsZ), expected \(z) (t \(0.7 / s2.squareRoot()), ν \(df))")
        // One seed at a neighbour leaves the comparison unjudged.
        let single = SweepReport.collapse(metric: "m", family: "", points: [
            Self.point(64, -4, -1, 0.3), .init(batchSize: 64, etaOverB: 0.01, values: [1]),
            .init(batchSize: 128, etaOverB: Foundation.pow(10, -3.5), values: [0.1, 0.3])])
        #expect(single.comparisons == 1 && single.judged == 0 && single.rmsZ.isNaN)
    }

    @Test func aStudysDirectoryIsLeftToTheStudysReport() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try StudyRunner.plan(configuration: tinyConfiguration(), directory: dir)
        let summary = dir.appendingPathComponent("summary.md")
        try AtomicFile.write("the study's own summary\n", to: summary)
        let message = errorText { _ = try SweepReport.write(in: dir) }
        #expect(message.contains("runs of a study") && message.contains("landscape report \(dir.path)") && message.contains("would overwrite the study's summary.md and figures/"), "\(message)")
        #expect(try String(contentsOf: summary, encoding: .utf8) == "the study's own summary\n")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("sweep.csv").path))
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
        // Per shared point: 3 with s² = 2se² and ν = 4 (t = Δ/s), 1 with the bimodal cell, s² = 0.25 + se²
        // and ν = s⁴/(0.25²/2 + se⁴/2); each t becomes its normal-equivalent z.
        let plain = Statistics.normalEquivalentZ(t: Δ / (2 * se * se).squareRoot(), degreesOfFreedom: 4)
        let s2 = 0.25 + se * se
        let bimodal = Statistics.normalEquivalentZ(t: Δ / s2.squareRoot(), degreesOfFreedom: s2 * s2 / (0.25 * 0.25 / 2 + se * se * se * se / 2))
        let z = ((3 * plain * plain + bimodal * bimodal) / 4).squareRoot()
        #expect(c.logScale && c.comparisons == 4 && abs(c.gap - Δ) < 1e-12, "\(c.sentence)")
        #expect(abs(c.rmsZ - z) < 1e-9 * z, "RMS z \(c.rmsZ), expected \(z)")
        #expect(c.verdict == .doesNotCollapse && c.sentence.hasPrefix("does not collapse: at equal η/B the batch sizes differ by a factor 2, RMS z"), "\(c.sentence)")
    }

    @Test func tasksStuckAtChanceAreNamedMarkedAndLeftOutOfTheSecondJudgement() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let entries = try SyntheticSweep.plan(in: dir)
        // Stuck (train accuracy < 0.2, λ_max = 0.111 as a constant predictor's): every task at
        // η = 0.1 (3 batch sizes × 2 seeds) and seed 1 of (64, 0.05) at 0.1999; seed 0 of
        // (128, 0.05) at exactly 0.2 has learned.
        func trainAccuracy(_ t: TrainingConfiguration) -> Double {
            switch (t.optimizer.batchSize, t.optimizer.learningRate, t.seed) {
            case (_, 0.1, _): 0.1135
            case (64, 0.05, 1): 0.1999
            case (128, 0.05, 0): 0.2
            default: 0.95
            }
        }
        for e in entries {
            let a = trainAccuracy(e.settings.training)
            try SyntheticSweep.writeTask(e, in: dir, trainAccuracy: a, lambdaMax: a < 0.2 ? 0.111 : nil)
        }
        let stuck = entries.filter { trainAccuracy($0.settings.training) < 0.2 }.map(\.index)
        #expect(stuck.count == 7)
        let written = try SweepReport.write(in: dir)
        #expect(written.stuck.map(\.index) == stuck)
        let table = try CSVTable.read(dir.appendingPathComponent("sweep.csv"))
        #expect(table.rows.map { $0["learned"] } == entries.map { stuck.contains($0.index) ? "0" : "1" })
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("below 0.2 is *stuck at chance*"))
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
        // (256): shared points 64↔128 2, 64↔256 1, 128↔256 2: 5 comparisons.
        let all = try #require(written.collapses.first { $0.metric == "lambda_max" && $0.tasks == .finished })
        let learned = try #require(written.collapses.first { $0.metric == "lambda_max" && $0.tasks == .learned })
        // Over all finished tasks the stuck points differ by a factor ≈ 85 from learned ones with 5%
        // seed noise (t ≈ 170), but with 2 seeds a side Welch's ν is 1 (Cauchy tails: p ≈ 0.004,
        // z ≈ 2.9), and the other comparisons agree: within seed noise, not a collapse.
        #expect(all.verdict == .inconclusive && all.rmsZ > 1 && all.rmsZ <= SweepReport.Collapse.zLimit, "\(all.sentence)")
        #expect(learned.verdict == .collapses && learned.comparisons == 5 && learned.rmsZ < 1e-9, "\(learned.sentence)")
        #expect(summary.contains("### Over all finished tasks") && summary.contains("### Over the tasks that learned (final train accuracy ≥ 0.2)"))
        #expect(summary.contains("Leaving out the 7 tasks stuck at chance."))
    }

    /// The verdicts over `repetitions` seeded sweeps of 4 batch sizes B = 64·2ᵏ (k = 0…3) × 4 rates
    /// η = η₀·4ʲ (j = 0…3) with `seeds` seeds each: x = log₁₀ η/B = 0.6j − 0.3k (log₁₀ 4 and
    /// log₁₀ 2 rounded, so the grids interleave: batch sizes two apart share points, neighbours fall
    /// between each other's), y = x − 0.45 + `offset`·k + σ·N(0, 1) per seed (σ = 0.1; values of
    /// both signs, so compared on the linear scale; f linear in x, so interpolation is exact).
    /// `offset` = 0 is a true collapse.
    static func simulatedVerdicts(seeds: Int, offset: Double, repetitions: Int, seed: UInt64) -> [SweepReport.Collapse.Verdict] {
        var rng = SplitMix64(seed: seed)
        let σ = 0.1
        return (0..<repetitions).map { _ in
            let points = (0..<4).flatMap { k in
                (0..<4).map { j in
                    let x = 0.6 * Double(j) - 0.3 * Double(k)
                    return SweepReport.CurvePoint(batchSize: 64 << k, etaOverB: Foundation.pow(10, x),
                                                  values: (0..<seeds).map { _ in x - 0.45 + offset * Double(k) + σ * rng.nextStandardNormal() })
                }
            }
            return SweepReport.collapse(metric: "m", family: "", points: points).verdict
        }
    }

    @Test func aTrueCollapseIsRarelyJudgedOtherwiseAndAnOffsetOfFiveNoiseSDsIsFound() {
        let seed: UInt64 = 4_020
        let repetitions = 400
        func rate(_ verdicts: [SweepReport.Collapse.Verdict], _ judged: Set<SweepReport.Collapse.Verdict>) -> Double {
            Double(verdicts.filter { judged.contains($0) }.count) / Double(verdicts.count)
        }
        // Beyond seed noise (RMS z > 2): "does not collapse" or, for a gap small beside the spread, "collapses approximately".
        let beyondNoise: Set<SweepReport.Collapse.Verdict> = [.doesNotCollapse, .approximately]
        for (seeds, limit) in [(3, 0.10), (2, 0.15)] {
            let verdicts = Self.simulatedVerdicts(seeds: seeds, offset: 0, repetitions: repetitions, seed: seed &+ UInt64(seeds))
            let alarms = rate(verdicts, beyondNoise)
            print("null, \(seeds) seeds: beyond noise \(alarms), does not collapse \(rate(verdicts, [.doesNotCollapse])), collapses \(rate(verdicts, [.collapses]))")
            #expect(alarms <= limit, "seed \(seed &+ UInt64(seeds)), \(seeds) seeds: a true collapse judged beyond seed noise in \(alarms) of \(repetitions)")
        }
        // Each batch size 5σ above the previous one.
        let verdicts = Self.simulatedVerdicts(seeds: 3, offset: 0.5, repetitions: repetitions, seed: seed &+ 10)
        let found = rate(verdicts, [.doesNotCollapse])
        print("offset 5σ, 3 seeds: does not collapse \(found), approximately \(rate(verdicts, [.approximately]))")
        #expect(found >= 0.9, "seed \(seed &+ 10): an offset of 5σ per batch size judged \"does not collapse\" in only \(found) of \(repetitions)")
    }
}

import Checkpoints
import Foundation
import Plotting
import Training

/// The report of a sweep directory (`landscape sweep report DIR`): every task of
/// DIR/manifest.jsonl with its status, the last epoch row of each finished task's
/// DIR/<id>/metrics.csv, and from them
///
/// - DIR/sweep.csv: one row per task (``csvColumns(axes:)``; values of unfinished tasks are nan;
///   `learned` is 1, or 0 for a task stuck at chance (``learnedTrainAccuracy``); a comma inside
///   an axis value, e.g. of a list, is written as ";");
/// - DIR/summary.md: the tasks that are not finished (by index and id), the final quantities
///   aggregated over seeds per (B, η) (mean ± sample sd, n), how many tasks end with λ_max above
///   the stability limit, the (B, η) cells with tasks stuck at chance ("stuck at chance: k of n
///   seeds"), and per quantity whether it collapses onto one curve in η/B (``Collapse``), judged
///   over all finished tasks and over the tasks that learned;
/// - DIR/figures/: each quantity of ``figureMetrics`` against η/B (log x; log y where every value
///   is positive), one colour per batch size, the seed mean with a bar from the smallest to the
///   largest seed's value; and λ_max against the stability limit 2(1+μ)/η (log-log) with the
///   line λ_max = limit.
///
/// η is the task's configured learning rate (`training.optimizer.learningRate`: the schedule's
/// base rate, its peak under the cosine and constant schedules), B its batch size and μ its momentum; the stability limit is
/// ``/Training/TrainingConfiguration/stabilityLimit(learningRate:)`` at η (2(1+μ)/η for heavy ball). A
/// sweep whose tasks differ in keys other than B, η and the seed is split into families (one per
/// combination of the other keys' values): seeds are aggregated, and collapse is judged, within a
/// family only.
public enum SweepReport {
    /// One task of the manifest with what its directory holds.
    public struct Task: Sendable {
        /// The task's index (its line in manifest.jsonl, from 0) and id (its directory's name).
        public var index: Int, id: String
        /// The task's axis and point values: canonical key → value as text (strings as they are,
        /// other JSON values as compact JSON).
        public var point: [String: String]
        /// The task's training settings (B, η, μ, the seed, the schedule, the epochs).
        public var training: TrainingConfiguration
        /// The task's status (``SweepTask/status(in:)``).
        public var status: SweepTaskStatus
        /// The complete epochs in metrics.csv (0 without it).
        public var epochs: Int
        /// Seconds over those epochs: every `*_seconds` column (training, evaluation, each probe).
        public var seconds: Double
        /// The last epoch's row of a finished task; `nil` otherwise.
        public var final: EpochMetrics?
        /// The largest λ_max / stability limit over the complete epochs, each at the rate of that
        /// epoch's last step (the metrics' `stability_limit`; nan without a finite ratio). Under a
        /// decaying schedule the final ratio says little (the limit grows without bound as η → 0);
        /// this is how close training came to the edge of stability (Cohen et al. 2021).
        public var peakLambdaOverLimit: Double = .nan
        /// The same for batch sharpness (the mini-batch loss's curvature along its gradient), the
        /// quantity SGD's own stability is about.
        public var peakBatchSharpnessOverLimit: Double = .nan

        /// Whether the task finished (only finished tasks have final values).
        public var isFinished: Bool { if case .finished = status { true } else { false } }
        /// Why a diverged task stopped (its failed.txt), else `nil`.
        public var failure: String? { if case let .diverged(reason) = status { reason } else { nil } }
        /// The task's batch size.
        public var batchSize: Int { training.optimizer.batchSize }
        /// The configured learning rate η (the schedule's base rate).
        public var learningRate: Double { training.optimizer.learningRate }
        /// The task's momentum μ.
        public var momentum: Double { training.optimizer.momentum }
        /// η/B, the SGD noise scale the figures are drawn against.
        public var learningRateOverBatchSize: Double { learningRate / Double(batchSize) }
        /// The stability limit at η (``/Training/TrainingConfiguration/stabilityLimit(learningRate:)``).
        public var stabilityLimit: Double { training.stabilityLimit(learningRate: learningRate) }
        /// Whether a finished task learned (final train accuracy ≥ ``learnedTrainAccuracy``;
        /// below it the task is stuck at chance); `nil` unless the task finished.
        public var learned: Bool? { final.map(SweepReport.learned) }
        /// A final quantity (``metrics``): nan unless the task finished.
        public subscript(metric: Metric) -> Double { final.map { metric.value(self, $0) } ?? .nan }
    }

    /// A final quantity of a finished task.
    public struct Metric: Sendable {
        /// Its sweep.csv column.
        public let id: String
        /// Its label in tables and figures.
        public let label: String
        /// The printf format of its values in summary.md ("%.0f": a count or flag, an integer in sweep.csv too).
        let format: String
        /// Its value from the task and its last epoch's row.
        let value: @Sendable (Task, EpochMetrics) -> Double
    }

    /// The final quantities, each once: sweep.csv's columns after the task's settings, the
    /// aggregate table and the figures read them from here. Accuracies are fractions in [0, 1].
    public static let metrics: [Metric] = [
        Metric(id: "train_loss", label: "train loss", format: "%.4g") { _, m in m.trainLoss },
        Metric(id: "train_accuracy", label: "train accuracy", format: "%.4f") { _, m in m.trainAccuracy },
        Metric(id: "learned", label: "learned (train accuracy ≥ \(learnedTrainAccuracy))", format: "%.0f") { _, m in learned(m) ? 1 : 0 },
        Metric(id: "test_loss", label: "test loss", format: "%.4g") { _, m in m.testLoss },
        Metric(id: "test_accuracy", label: "test accuracy", format: "%.4f") { _, m in m.testAccuracy },
        Metric(id: "gap_accuracy", label: "gap: train − test accuracy", format: "%.4f") { _, m in m.trainAccuracy - m.testAccuracy },
        Metric(id: "gap_loss", label: "gap: test − train loss", format: "%.4g") { _, m in m.testLoss - m.trainLoss },
        Metric(id: "lambda_max", label: "λ_max", format: "%.4g") { _, m in m.lambdaMax },
        Metric(id: "lambda_converged", label: "λ_max converged", format: "%.0f") { _, m in m.lambdaConverged ? 1 : 0 },
        Metric(id: "lambda_residual", label: "λ_max residual", format: "%.2g") { _, m in m["lambda_residual"] },
        Metric(id: "lambda_eta_over_2", label: "λ_max·η/2", format: "%.4g") { t, m in m.lambdaMax * t.learningRate / 2 },
        Metric(id: "lambda_over_limit", label: "λ_max / limit", format: "%.4g") { t, m in m.lambdaMax / t.stabilityLimit },
        Metric(id: "peak_lambda_over_limit", label: "peak λ_max / limit over epochs", format: "%.4g") { t, _ in t.peakLambdaOverLimit },
        Metric(id: "peak_batch_sharpness_over_limit", label: "peak batch sharpness / limit over epochs", format: "%.4g") { t, _ in t.peakBatchSharpnessOverLimit },
        Metric(id: "trace", label: "trace (Hutchinson)", format: "%.4g") { _, m in m["trace"] },
        Metric(id: "trace_stderr", label: "trace standard error", format: "%.2g") { _, m in m["trace_stderr"] },
        Metric(id: "sharpness_max", label: "S_ε max", format: "%.4g") { _, m in m["sharpness_max"] },
        Metric(id: "sharpness_mean", label: "S_ε mean", format: "%.4g") { _, m in m["sharpness_mean"] },
    ]

    /// The metric with `id` (one of ``metrics``).
    static func metric(_ id: String) -> Metric { metrics.first { $0.id == id }! }

    /// The quantities drawn against η/B (one figure each, `figures/ID-vs-eta-over-b.svg`), judged
    /// for collapse and shown in the aggregate table.
    public static let figureMetrics = ["lambda_max", "lambda_eta_over_2", "peak_lambda_over_limit", "peak_batch_sharpness_over_limit", "trace", "sharpness_max", "sharpness_mean", "test_accuracy", "gap_accuracy", "gap_loss"]

    /// The figure of λ_max against the stability limit.
    public static let limitFigureName = "lambda_max-vs-stability-limit.svg"

    /// The file name of a quantity's figure against η/B.
    public static func figureName(_ id: String) -> String { "\(id)-vs-eta-over-b.svg" }

    /// sweep.csv's columns: index, id, status, the axes' canonical keys (`axes`), then the task's
    /// settings and ``metrics``, then epochs and seconds.
    public static func csvColumns(axes: [String]) -> [String] {
        ["index", "id", "status"] + axes + ["batch_size", "learning_rate", "momentum", "eta_over_batch_size", "stability_limit"]
            + metrics.map(\.id) + ["epochs", "seconds"]
    }

    /// Reads a manifest task's run directory in the sweep directory `directory`: its status
    /// (``SweepTask/status(in:)``), complete epochs, seconds and, when finished, its last epoch's
    /// row. metrics.csv is read as a run reads it (``/Training/RunRecord/completeRows(of:columns:renamed:added:log:)``
    /// with the study's epoch-probe columns, ``/Training/EpochMetrics``).
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` for an unreadable failed.txt or a corrupt metrics.csv.
    public static func readTask(_ task: SweepTask, in directory: URL, log: (String) -> Void = { _ in }) throws -> Task {
        let status = try task.status(in: directory)
        let training = task.settings.training
        var out = Task(index: task.index, id: task.id, point: task.point.mapValues { ($0 as? String) ?? jsonText($0) }, training: training,
                       status: status, epochs: 0, seconds: 0, final: nil)
        let url = task.directory(in: directory).appendingPathComponent(RunStore.metricsName)
        guard status != .missing, FileManager.default.fileExists(atPath: url.path) else { return out }
        let columns = EpochMetrics.columns + StudyRunner.epochProbes(training, task.settings.epochProbes).columns
        let rows: [EpochMetrics]
        do {
            rows = try RunRecord.completeRows(of: url, columns: columns, renamed: EpochMetrics.renamedColumns, added: EpochMetrics.addedColumns, log: log).map {
                try EpochMetrics(fields: $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init), header: columns, path: url.path)
            }
        } catch let TrainingError.corruptRun(path, reason) {
            throw StudyError.corruptFile(path: path, reason: reason)
        }
        out.epochs = rows.count
        out.seconds = rows.reduce(0) { sum, m in
            sum + m.trainSeconds + m.evaluationSeconds + zip(m.probeColumns, m.probeValues).reduce(0) { $0 + ($1.0.hasSuffix("_seconds") && $1.1.isFinite ? $1.1 : 0) }
        }
        if out.isFinished { out.final = rows.last }
        func peak(_ value: (EpochMetrics) -> Double) -> Double {
            rows.map { value($0) / $0.stabilityLimit }.filter(\.isFinite).max() ?? .nan
        }
        out.peakLambdaOverLimit = peak(\.lambdaMax)
        out.peakBatchSharpnessOverLimit = rows.first?.probeColumns.contains("batch_sharpness") == true ? peak { $0["batch_sharpness"] } : .nan
        return out
    }

    /// Writes the report of the sweep directory `directory` (its manifest.jsonl and task
    /// directories): ``write(tasks:axes:in:)`` for every task, the axes being every key of the
    /// tasks' points in canonical (sorted) order.
    /// - Throws: ``/Training/ConfigurationError`` for a missing or bad manifest, or a study's manifest (its
    ///   tasks are study runs, ``SweepTask/studyRun``: written by `landscape study --plan`, reported by
    ///   `landscape report DIR`, whose summary.md and figures/ this report would overwrite);
    ///   ``StudyError`` for a corrupt task file or an unwritable directory.
    public static func write(in directory: URL, log: (String) -> Void = { _ in }) throws -> Written {
        let manifest = directory.appendingPathComponent(SweepManifest.fileName)
        let tasks = try SweepManifest.read(manifest)
        if let run = tasks.first(where: { $0.studyRun != nil }) {
            throw ConfigurationError(source: manifest.path, key: nil,
                                     "its tasks are the runs of a study (task \(run.index) is run \(run.studyRun!)): report it with `landscape report \(directory.path)`; "
                                         + "`landscape sweep report` would overwrite the study's summary.md and figures/")
        }
        let axes = Set(tasks.flatMap(\.point.keys)).sorted()
        return try write(tasks: try tasks.map { try readTask($0, in: directory, log: log) }, axes: axes, in: directory)
    }

    // MARK: Collapse

    /// The final train accuracy at and above which a finished task counts as having learned;
    /// below it the task is *stuck at chance*. A run stuck at a constant predictor keeps a finite
    /// loss (≈ ln 10 on MNIST's 10 classes), so it finishes rather than diverges, with the
    /// accuracy of the most frequent class (≈ 0.11). 0.2, about twice that, separates it from a
    /// run that learned anything: short runs on small subsets end anywhere from 0.3 to 0.99, and
    /// in the η/B sweeps (Notes/sweep.md) every stuck run ended at 0.10–0.11 (a partly dead
    /// network at 0.29 counts as having learned).
    public static let learnedTrainAccuracy = 0.2

    /// Whether a run whose last epoch's row is `final` learned: train accuracy ≥ ``learnedTrainAccuracy``.
    static func learned(_ final: EpochMetrics) -> Bool { final.trainAccuracy >= learnedTrainAccuracy }

    /// Whether a quantity's points fall on one curve in η/B, for one family of tasks (all its
    /// finished tasks, or only those that learned: ``Tasks``).
    ///
    /// The scale: log₁₀ of the values when every seed's value is positive, else the values. Per
    /// batch size, the seed-mean curve is the mean of the (scaled) seed values at each η/B, with
    /// its variance se² = sd²/n and n − 1 degrees of freedom (n ≥ 2 seeds; undefined for one
    /// seed). For each ordered pair of batch sizes (b, c), each point of b whose x = log₁₀ η/B
    /// lies within the range of c's curve is compared with c's curve there: d = y_b(x) − ŷ_c(x),
    /// ŷ_c piecewise linear in x between c's points. A point both batch sizes share (an exact
    /// hit) is one comparison, not one per direction; a point of b between two of c's is
    /// compared with c's interpolation, and c's points between b's with b's: distinct
    /// comparisons. Each comparison is judged against its own seed noise (a pooled noise would
    /// let one bimodal cell excuse every other difference) by Welch's t = d/s, s² = se_b² + ŝe_c²,
    /// where ŝe_c² = se_c² at a hit and (1 − t)²se_a² + t²se_b² for ŷ_c = (1 − t)·y_a + t·y_b
    /// between c's points a and b, with the Welch–Satterthwaite degrees of freedom over those
    /// terms (``Statistics/satterthwaiteDegreesOfFreedom(_:)``). With 2–3 seeds t has 1–4 degrees
    /// of freedom and heavy tails, so it is calibrated: its two-sided p-value under Student's t
    /// becomes the normal-equivalent z = Φ⁻¹(1 − p/2) (``Statistics/normalEquivalentZ(t:degreesOfFreedom:)``),
    /// standard normal for a true collapse whatever the degrees of freedom. Where s = 0 (every
    /// seed on both sides has the same value, e.g. all stuck at the same constant predictor) a
    /// nonzero d counts as infinitely significant (z = ∞) and a zero d as z = 0. Then
    /// - ``gap``: the RMS of the d (between-batch gap at equal η/B) over the judged comparisons
    ///   (those with s defined; all comparisons when none is), so that gap and ``rmsZ`` describe
    ///   the same differences;
    /// - ``spread``: how much the quantity varies along η/B within one batch size: the RMS of each
    ///   seed mean around the mean of its batch size's seed means (offsets between batch sizes,
    ///   which the gap measures, do not enlarge it); ``ratio`` = gap/spread;
    /// - ``rmsZ``: the RMS of the calibrated z over the comparisons with s defined (``judged``;
    ///   nan without any).
    /// With rmsZ > ``zLimit`` the batch sizes differ beyond seed noise: the quantity collapses
    /// approximately when the gap is at most ``approximateRatio`` of the spread (a real but small
    /// effect of B at equal η/B), and does not collapse otherwise. With rmsZ ≤ ``zLimit``
    /// (differences of the size seed noise makes) it collapses when the gap is at most
    /// ``resolvedRatio`` of the spread; otherwise the seed noise is as large as the variation along
    /// η/B and the result is inconclusive (more seeds would tell). Without a judged comparison
    /// (fewer than two seeds on one side of each) it collapses when gap ≤ ``noiselessRatio`` of the
    /// spread. Fewer than two comparisons (or batch sizes) are too few to tell. Comparisons and
    /// batch sizes are visited in increasing B, so the sums do not depend on dictionary order.
    public struct Collapse: Sendable {
        /// The quantity's id and the family it was judged in ("" for a sweep of B, η and seeds only).
        public var metric: String, family: String
        /// The tasks judged.
        public var tasks: Tasks
        /// Whether the values were compared as log₁₀ (all positive).
        public var logScale: Bool
        /// Between-batch gap, spread along η/B and their ratio gap/spread (same scale).
        public var gap: Double, spread: Double, ratio: Double
        /// The RMS of the calibrated z over the judged comparisons (+∞ when some nonzero d has s = 0; nan without judged comparisons).
        public var rmsZ: Double
        /// Comparisons at equal η/B (points of one batch size inside another's range; a shared
        /// point once), those with two or more seeds on each side (``rmsZ`` is over these,
        /// including the ones with s = 0), and of those the ones with s = 0 and among them the
        /// ones whose d is not zero.
        public var comparisons: Int, judged: Int, noiseless: Int, noiselessDiffering: Int
        /// Batch sizes with data.
        public var batchSizes: Int
        /// The verdict (its `Verdict.rawValue` is the phrase summary.md uses).
        public var verdict: Verdict
        /// What ``Collapse`` concludes.
        public enum Verdict: String, Sendable {
            /// On one curve: within seed noise and a gap small beside the spread (or, without seed noise, a negligible gap).
            case collapses
            /// Beyond seed noise, but the gap is small beside the spread: a real but small effect of B at equal η/B.
            case approximately = "collapses approximately"
            /// Beyond seed noise with a gap comparable to the spread (or, without seed noise, a gap that is not negligible).
            case doesNotCollapse = "does not collapse"
            /// Within seed noise, but the noise is as large as the variation along η/B: more seeds would tell.
            case inconclusive
            /// Fewer than two batch sizes or two comparisons.
            case tooFew = "too few overlapping points"
        }
        /// Which finished tasks were judged: all, or those that learned (final train accuracy ≥ ``learnedTrainAccuracy``).
        public enum Tasks: String, Sendable { case finished = "all finished tasks", learned = "tasks that learned" }

        /// The largest RMS of the calibrated z of a collapse: differences of the size seed noise makes.
        public static let zLimit = 2.0
        /// The largest gap/spread of a collapse: within seed noise, but with a gap above half the
        /// spread along η/B the noise hides whether the curves are one (verdict inconclusive).
        public static let resolvedRatio = 0.5
        /// The largest gap/spread of an approximate collapse: differences beyond seed noise, but
        /// at most a tenth of the variation along η/B.
        public static let approximateRatio = 0.1
        /// The largest gap/spread of a collapse judged without seed noise (no comparison with two
        /// seeds on each side): only rounding-sized differences.
        public static let noiselessRatio = 0.01

        /// `r` as a percentage ("10%").
        static func percent(_ r: Double) -> String { "\(fmt(100 * r, "%g"))%" }

        /// The verdict as a sentence, e.g. "does not collapse: at equal η/B the batch sizes differ
        /// by a factor 2.05, RMS z 4.1 > 2 over 14 comparisons, 39% of the spread along η/B".
        public var sentence: String {
            let f = { (v: Double) in fmt(v, "%.3g") }
            let plural = { (n: Int, word: String) in "\(n) \(word)\(n == 1 ? "" : "s")" }
            let size = logScale ? "a factor \(f(Foundation.pow(10, gap)))" : "\(f(gap)) (RMS)"
            let ofSpread = ratio.isFinite ? "\(f(100 * ratio))% of the spread along η/B" : "while nothing varies along η/B within a batch size"
            switch verdict {
            case .tooFew:
                return "too few overlapping points to tell (\(plural(comparisons, "comparison")) at equal η/B across \(plural(batchSizes, "batch size")))"
            case _ where spread == 0 && gap == 0:
                return "collapses trivially: the same value at every point"
            case _ where judged == 0:
                let noNoise = "no seed noise to judge by (fewer than two seeds on a side of every comparison)"
                return verdict == .collapses ? "collapses onto one curve in η/B: gap \(f(gap)) ≤ \(Self.percent(Self.noiselessRatio)) of the spread \(f(spread)); \(noNoise)"
                    : "does not collapse: at equal η/B the batch sizes differ by \(size), \(ofSpread) (> \(Self.percent(Self.noiselessRatio))); \(noNoise)"
            default:
                let z = rmsZ == .infinity ? "RMS z ∞" : "RMS z \(fmt(rmsZ, "%.3f"))"
                var s = verdict == .collapses ? "collapses onto one curve in η/B within seed noise: "
                    : verdict == .inconclusive ? "inconclusive: within seed noise, but the noise is as large as the variation along η/B (more seeds would tell): "
                    : verdict == .approximately ? "collapses approximately: a difference beyond seed noise but small beside the variation along η/B: "
                    : "does not collapse: "
                s += "at equal η/B the batch sizes differ by \(size), \(z) \(verdict == .doesNotCollapse || verdict == .approximately ? ">" : "≤") \(fmt(Self.zLimit, "%g"))"
                s += " over \(judged == comparisons ? plural(judged, "comparison") : "\(judged) of \(plural(comparisons, "comparison")) (the rest lack two seeds on a side)")"
                s += ", \(ofSpread)" + (!ratio.isFinite ? "" : verdict == .inconclusive ? " (> \(Self.percent(Self.resolvedRatio)))" : verdict == .approximately ? " (≤ \(Self.percent(Self.approximateRatio)))" : "")
                if noiseless > 0 {
                    s += "; \(noiseless) of them without seed spread (every seed on both sides the same value)"
                    let agreeing = noiseless - noiselessDiffering
                    if noiselessDiffering > 0 { s += ": \(noiselessDiffering) differ, counted as infinitely significant" }
                    if agreeing > 0 { s += noiselessDiffering > 0 ? ", \(agreeing) agree (z = 0)" : ": all agree (z = 0)" }
                }
                return s
            }
        }
    }

    /// One (batch size, η/B) point of a family: the seed values of a quantity.
    struct CurvePoint {
        var batchSize: Int, etaOverB: Double, values: [Double]
    }

    /// The collapse measure (``Collapse``) of a quantity over the points of one family.
    static func collapse(metric: String, family: String, tasks: Collapse.Tasks = .finished, points: [CurvePoint]) -> Collapse {
        let finite = points.map { CurvePoint(batchSize: $0.batchSize, etaOverB: $0.etaOverB, values: $0.values.filter(\.isFinite)) }
            .filter { !$0.values.isEmpty && $0.etaOverB > 0 && $0.etaOverB.isFinite }
        let logScale = !finite.isEmpty && finite.allSatisfy { $0.values.allSatisfy { $0 > 0 } }
        // A seed mean at x = log₁₀ η/B: its variance se² = sd²/n (nan for one seed) with n − 1 degrees of freedom.
        typealias Point = (x: Double, mean: Double, variance: Double, degreesOfFreedom: Double)
        // Per batch size, sorted by η/B; the batch sizes in increasing order (so every sum runs in one order).
        var curves: [Int: [Point]] = [:]
        for p in finite {
            let y = logScale ? p.values.map { Foundation.log10($0) } : p.values
            let s = Statistics.summary(y)
            // Equal seed values have no spread (the rounding of their mean would leave a tiny sd).
            let equal = y.allSatisfy { $0 == y[0] }
            let variance = s.count < 2 ? .nan : equal ? 0 : s.standardDeviation * s.standardDeviation / Double(s.count)
            curves[p.batchSize, default: []].append((Foundation.log10(p.etaOverB), equal ? y[0] : s.mean, variance, Double(s.count - 1)))
        }
        let batchSizes = curves.keys.sorted()
        for b in batchSizes { curves[b]!.sort { $0.x < $1.x } }
        // c's curve at x: at a point of c (an exact hit), or between c's neighbouring points a and b at
        // weight t: ŷ = (1 − t)·y_a + t·y_b, whose variance is (1 − t)²se_a² + t²se_b² (each term with
        // its point's degrees of freedom); nil outside c's range.
        let tolerance = 1e-12
        func interpolate(_ c: [Point], at x: Double) -> (mean: Double, terms: [(variance: Double, degreesOfFreedom: Double)], hit: Bool)? {
            guard let first = c.first, let last = c.last, x >= first.x - tolerance, x <= last.x + tolerance else { return nil }
            if let hit = c.first(where: { abs($0.x - x) <= tolerance }) { return (hit.mean, [(hit.variance, hit.degreesOfFreedom)], true) }
            guard let k = c.firstIndex(where: { $0.x > x }), k > 0 else { return nil }
            let (a, b) = (c[k - 1], c[k])
            let t = (x - a.x) / (b.x - a.x)
            return (a.mean + (b.mean - a.mean) * t, [((1 - t) * (1 - t) * a.variance, a.degreesOfFreedom), (t * t * b.variance, b.degreesOfFreedom)], false)
        }
        var differences: [Double] = [], judgedDifferences: [Double] = [], zs: [Double] = []
        var noiseless = 0, noiselessDiffering = 0
        for b in batchSizes {
            for c in batchSizes where c != b {
                for p in curves[b]! {
                    guard let v = interpolate(curves[c]!, at: p.x) else { continue }
                    // A point both batch sizes share is one comparison (counted from the smaller B).
                    if v.hit && b > c { continue }
                    let d = p.mean - v.mean
                    differences.append(d)
                    let terms = [(variance: p.variance, degreesOfFreedom: p.degreesOfFreedom)] + v.terms
                    let s2 = terms.reduce(0) { $0 + $1.variance }
                    guard s2.isFinite else { continue }   // one seed on a side: no noise to judge by
                    judgedDifferences.append(d)
                    if s2 > 0 {
                        // Welch's t with Welch–Satterthwaite degrees of freedom, as a normal-equivalent z.
                        zs.append(Statistics.normalEquivalentZ(t: d / s2.squareRoot(), degreesOfFreedom: Statistics.satterthwaiteDegreesOfFreedom(terms)))
                    } else {
                        // No seed spread on either side: only rounding (of the interpolation) separates equal curves.
                        let differs = abs(d) > 1e-12 * max(1, abs(p.mean))
                        noiseless += 1
                        if differs { noiselessDiffering += 1 }
                        zs.append(differs ? .infinity : 0)
                    }
                }
            }
        }
        func rms(_ v: [Double]) -> Double { v.isEmpty ? .nan : (v.reduce(0) { $0 + $1 * $1 } / Double(v.count)).squareRoot() }
        // The spread along η/B: each seed mean around the mean of its own batch size's seed means.
        let deviations = batchSizes.flatMap { b in
            let means = curves[b]!.map(\.mean)
            let centre = means.reduce(0, +) / Double(means.count)
            return means.map { $0 - centre }
        }
        let gap = rms(judgedDifferences.isEmpty ? differences : judgedDifferences), spread = rms(deviations), rmsZ = rms(zs)
        let verdict: Collapse.Verdict
        if curves.count < 2 || differences.count < 2 {
            verdict = .tooFew
        } else if !zs.isEmpty {
            verdict = rmsZ > Collapse.zLimit ? (gap <= Collapse.approximateRatio * spread ? .approximately : .doesNotCollapse)
                : gap <= Collapse.resolvedRatio * spread ? .collapses : .inconclusive
        } else {
            verdict = gap <= Collapse.noiselessRatio * spread ? .collapses : .doesNotCollapse
        }
        return Collapse(metric: metric, family: family, tasks: tasks, logScale: logScale, gap: gap, spread: spread, ratio: gap / spread, rmsZ: rmsZ,
                        comparisons: differences.count, judged: zs.count, noiseless: noiseless, noiselessDiffering: noiselessDiffering,
                        batchSizes: curves.count, verdict: verdict)
    }

    // MARK: Groups

    /// The tasks of one (family, B, η): its seeds.
    struct Group {
        var family: String, batchSize: Int, learningRate: Double
        var tasks: [Task]
        var finished: [Task] { tasks.filter(\.isFinished) }
        /// The finished tasks stuck at chance (``Task/learned`` false).
        var stuck: [Task] { tasks.filter { $0.learned == false } }
        var etaOverB: Double { tasks[0].learningRateOverBatchSize }
        /// The finished tasks' values of `m` (with `learnedOnly`, of those that learned).
        func values(_ m: Metric, learnedOnly: Bool = false) -> [Double] { finished.filter { !learnedOnly || $0.learned == true }.map { $0[m] } }
    }

    /// The keys that vary within a family: B, η and the seed (the manifest's canonical keys).
    static let withinFamilyKeys: Set<String> = ["training.optimizer.batchSize", "training.optimizer.learningRate", "training.seed"]

    /// A task's family: its point's other keys as "key=value, …" (sorted by key), "" when it has none.
    static func family(of task: Task) -> String {
        task.point.filter { !withinFamilyKeys.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
    }

    /// The tasks grouped by family, then B, then η (in that order).
    static func groups(_ tasks: [Task]) -> [Group] {
        var out: [Group] = []
        for t in tasks {
            let f = family(of: t)
            if let k = out.firstIndex(where: { $0.family == f && $0.batchSize == t.batchSize && $0.learningRate == t.learningRate }) {
                out[k].tasks.append(t)
            } else {
                out.append(Group(family: f, batchSize: t.batchSize, learningRate: t.learningRate, tasks: [t]))
            }
        }
        let families = out.map(\.family).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return out.sorted { a, b in
            (families.firstIndex(of: a.family)!, a.batchSize, a.learningRate) < (families.firstIndex(of: b.family)!, b.batchSize, b.learningRate)
        }
    }

    // MARK: Writing

    /// What ``write(tasks:axes:in:)`` wrote.
    public struct Written: Sendable {
        /// The files written (sweep.csv, summary.md, the figures).
        public var files: [URL]
        /// The aggregate table (Markdown), as in summary.md.
        public var table: String
        /// The tasks that are not finished, in index order.
        public var unfinished: [Task]
        /// The finished tasks stuck at chance (``Task/learned`` false), in index order.
        public var stuck: [Task]
        /// The collapse measures, per figure quantity and family, over all finished tasks and over
        /// the tasks that learned (``Collapse/tasks``), in that order.
        public var collapses: [Collapse]
    }

    /// A batch size's colour in every figure.
    static func color(index: Int) -> String {
        let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
        return palette[index % palette.count]
    }

    /// `v` in printf format `f`, "—" when not finite.
    static func fmt(_ v: Double, _ f: String = "%.4g") -> String { v.isFinite ? String(format: f, v) : "—" }

    /// The seed summary of a group's values as "mean ± sd" ("mean" for one value, "—" for none).
    static func cell(_ values: [Double], _ f: String) -> String {
        let s = Statistics.summary(values)
        guard s.count > 0 else { return s.nonFinite > 0 ? "not finite (\(s.nonFinite))" : "—" }
        return fmt(s.mean, f) + (s.count > 1 ? " ± " + fmt(s.standardDeviation, "%.2g") : "") + (s.nonFinite > 0 ? ", \(s.nonFinite) not finite" : "")
    }

    /// Writes DIR/sweep.csv, DIR/summary.md and DIR/figures/ for `tasks` (every task of the
    /// manifest, in index order; `axes`: the canonical keys of the sweep's axes and points, in
    /// canonical order).
    /// - Throws: ``StudyError/runDirectory(path:reason:)`` when the directory cannot be written; I/O errors.
    public static func write(tasks: [Task], axes: [String], in directory: URL) throws -> Written {
        let figures = directory.appendingPathComponent("figures")
        do { try FileManager.default.createDirectory(at: figures, withIntermediateDirectories: true) } catch {
            throw StudyError.runDirectory(path: directory.path, reason: "cannot create figures/ in it (\(SystemError.reason(of: error)))")
        }
        var files: [URL] = []
        func save(_ text: String, _ url: URL) throws {
            try AtomicFile.write(text, to: url)
            files.append(url)
        }

        // sweep.csv
        let columns = csvColumns(axes: axes)
        let rows: [[String: String]] = tasks.map { t in
            var r: [String: String] = ["index": String(t.index), "id": t.id, "status": t.status.name, "batch_size": String(t.batchSize),
                                       "learning_rate": "\(t.learningRate)", "momentum": "\(t.momentum)", "eta_over_batch_size": "\(t.learningRateOverBatchSize)",
                                       "stability_limit": "\(t.stabilityLimit)", "epochs": String(t.epochs), "seconds": String(format: "%.3f", t.seconds)]
            for a in axes { r[a] = (t.point[a] ?? "").replacingOccurrences(of: ",", with: ";") }   // CSVTable has no quoting
            for m in metrics { r[m.id] = m.format == "%.0f" && t[m].isFinite ? String(Int(t[m])) : "\(t[m])" }
            return r
        }
        try save(CSVTable(columns: columns, rows: rows).text, directory.appendingPathComponent("sweep.csv"))

        let groups = groups(tasks)
        let families = groups.map(\.family).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let batchSizes = Array(Set(tasks.map(\.batchSize))).sorted()
        let colorOf = Dictionary(uniqueKeysWithValues: batchSizes.enumerated().map { ($1, color(index: $0)) })
        let limitLabel = tasks.first?.training.stabilityLimitLabel ?? "2(1+μ)/η"
        func seriesName(_ g: Group) -> String { "B = \(g.batchSize)" + (families.count > 1 ? " (\(g.family.isEmpty ? "—" : g.family))" : "") }

        // Figures: per batch size (and family) the seed mean at each η/B with a min–max bar.
        func series(_ x: (Group) -> Double, _ m: Metric) -> [SVGPlot.ErrorBarSeries] {
            var out: [SVGPlot.ErrorBarSeries] = []
            for f in families {
                for b in batchSizes {
                    let gs = groups.filter { $0.family == f && $0.batchSize == b }.map { g in (g, Statistics.summary(g.values(m))) }.filter { $0.1.count > 0 }
                    guard let first = gs.first else { continue }
                    out.append(.init(name: seriesName(first.0), x: gs.map { x($0.0) }, y: gs.map(\.1.mean), lower: gs.map(\.1.minimum), upper: gs.map(\.1.maximum),
                                     color: colorOf[b]!))
                }
            }
            return out
        }
        let spreadNote = " — bars: min–max over seeds"
        for id in figureMetrics {
            let m = metric(id)
            let s = series(\.etaOverB, m)
            let positive = s.allSatisfy { $0.y.allSatisfy { $0 > 0 } && $0.lower.allSatisfy { $0 > 0 } }
            try save(SVGPlot.errorBarPlot(title: "\(m.label.hasPrefix("peak") ? "" : "final ")\(m.label) against η/B\(spreadNote)", xLabel: "η/B", yLabel: m.label, series: s, logX: true, logY: positive),
                     figures.appendingPathComponent(figureName(id)))
        }
        let lambda = metric("lambda_max")
        try save(SVGPlot.errorBarPlot(title: "final λ_max against the stability limit \(limitLabel)\(spreadNote)", xLabel: "stability limit \(limitLabel)",
                                      yLabel: "λ_max", series: series({ $0.tasks[0].stabilityLimit }, lambda), logX: true, logY: true,
                                      identityLine: "λ_max = \(limitLabel)"),
                 figures.appendingPathComponent(limitFigureName))

        // The aggregate table.
        let tableMetrics = ["test_accuracy", "gap_accuracy", "gap_loss", "lambda_max", "lambda_eta_over_2", "lambda_over_limit", "trace", "sharpness_max"].map(metric)
        let header = (families.count > 1 ? ["family"] : []) + ["B", "η", "μ", "η/B", "n"] + tableMetrics.map(\.label)
        let tableRow = { (g: Group) -> [String] in
            (families.count > 1 ? [g.family.isEmpty ? "—" : g.family] : []) + [String(g.batchSize), fmt(g.learningRate, "%g"), fmt(g.tasks[0].momentum, "%g"),
                                                                               fmt(g.etaOverB, "%.4g"), "\(g.finished.count)/\(g.tasks.count)"]
                + tableMetrics.map { cell(g.values($0), $0.format) }
        }
        let table = Markdown.table(header, groups.map(tableRow))
        // The same rows side by side at equal η/B (within rounding), where two or more batch sizes share one:
        // where along η/B the batch sizes agree, and where the rate itself starts to matter.
        func sameRatio(_ a: Group, _ b: Group) -> Bool { a.family == b.family && abs(a.etaOverB - b.etaOverB) <= 1e-9 * a.etaOverB }
        let shared = groups.filter { g in groups.contains { $0.batchSize != g.batchSize && sameRatio($0, g) } }
            .sorted { ($0.family, $0.etaOverB, $0.batchSize) < ($1.family, $1.etaOverB, $1.batchSize) }
        let sideBySide = shared.isEmpty ? nil : Markdown.table(header, shared.map(tableRow))

        // Collapse per figure quantity and family, over all finished tasks and over those that learned.
        var collapses: [Collapse] = []
        for subset in [Collapse.Tasks.finished, .learned] {
            for id in figureMetrics {
                let m = metric(id)
                for f in families {
                    let points = groups.filter { $0.family == f }.map {
                        CurvePoint(batchSize: $0.batchSize, etaOverB: $0.etaOverB, values: $0.values(m, learnedOnly: subset == .learned))
                    }
                    collapses.append(collapse(metric: id, family: f, tasks: subset, points: points))
                }
            }
        }

        // summary.md
        let finished = tasks.filter(\.isFinished)
        let unfinished = tasks.filter { !$0.isFinished }
        var md = "# Sweep report\n\n"
        md += "\(tasks.count) task\(tasks.count == 1 ? "" : "s"): " + ["finished", "diverged", "partial", "missing"].map { s in "\(tasks.filter { $0.status.name == s }.count) \(s)" }.joined(separator: ", ") + ".\n\n"
        if !unfinished.isEmpty {
            md += "## Tasks not finished\n\nLeft out of the table and the figures:\n\n"
            md += Markdown.table(["index", "id", "status", "epochs", "why"], unfinished.map { t in
                [String(t.index), t.id, t.status.name, String(t.epochs), (t.failure ?? "").replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "\\|")]
            }) + "\n"
        }
        md += "## Final values over seeds\n\nPer (B, η): mean ± sample standard deviation over the seeds that finished (n = finished/tasks). "
        md += "η is the configured learning rate (the schedule's peak), the stability limit \(limitLabel) is taken at η; accuracies are fractions.\n\n"
        md += table + "\n"
        let above = finished.filter { $0[lambda] > $0.stabilityLimit }.count
        let measured = finished.filter { $0[lambda].isFinite }.count
        md += "\(above) of \(measured) finished task\(measured == 1 ? "" : "s") with a measured λ_max end\(measured == 1 ? "s" : "") with λ_max above the stability limit \(limitLabel).\n\n"
        let peaked = finished.filter { $0.peakLambdaOverLimit > 1 }.count, batchPeaked = finished.filter { $0.peakBatchSharpnessOverLimit > 1 }.count
        md += "Over the epochs, at each epoch's own rate (the limit grows as a decaying schedule lowers η): λ_max exceeded the limit after some epoch in \(peaked) of \(finished.count) finished tasks, "
        md += "batch sharpness in \(batchPeaked); the largest ratios are the columns peak λ_max / limit and peak batch sharpness / limit.\n\n"
        let stuckGroups = groups.filter { !$0.stuck.isEmpty }
        let stuckCount = stuckGroups.reduce(0) { $0 + $1.stuck.count }
        md += "## Stuck at chance\n\n"
        md += "A finished task whose final train accuracy is below \(learnedTrainAccuracy) is *stuck at chance*: a constant predictor reaches the accuracy of the "
        md += "most frequent class (≈ 0.11 on 10 classes) with a finite loss (≈ ln 10), so it finishes rather than diverges; the threshold is about twice that. "
        md += "The table and figures keep these tasks; the collapse is judged with and without them; sweep.csv marks them `learned` = 0.\n\n"
        if stuckGroups.isEmpty {
            md += "No finished task is stuck at chance.\n\n"
        } else {
            md += "\(stuckCount) of \(finished.count) finished task\(finished.count == 1 ? "" : "s") stuck at chance (n: the cell's finished seeds):\n\n"
            md += Markdown.table((families.count > 1 ? ["family"] : []) + ["B", "η", "η/B", "stuck at chance", "tasks (index id)"], stuckGroups.map { g in
                (families.count > 1 ? [g.family.isEmpty ? "—" : g.family] : []) + [String(g.batchSize), fmt(g.learningRate, "%g"), fmt(g.etaOverB, "%.4g"),
                                                                                   "stuck at chance: \(g.stuck.count) of \(g.finished.count) seeds",
                                                                                   g.stuck.map { "\($0.index) \($0.id)" }.joined(separator: ", ")]
            }) + "\n"
        }
        md += "## Collapse in η/B\n\n"
        md += "Do the batch sizes' points fall on one curve in η/B? For each ordered pair of batch sizes, each seed mean of one (at x = log₁₀ η/B) is compared with "
        md += "the other's seed-mean curve, interpolated piecewise linearly in x, wherever x lies within that curve's range: d = y_b(x) − ŷ_c(x); a point both batch sizes share is one comparison. "
        md += "The *gap* is the RMS of the d; the *spread* along η/B the RMS of each seed mean around the mean of its own batch size's seed means (offsets between batch sizes do not enlarge it). "
        md += "Each d is judged against its own seed noise by Welch's t = d/s, s² = se_b² + ŝe_c² (se² = sd²/n of a seed mean; between two points a, b of the other curve at weight t, "
        md += "ŝe_c² = (1 − t)²se_a² + t²se_b²), with Welch–Satterthwaite degrees of freedom (1–4 with 2–3 seeds); its two-sided p-value under Student's t is turned into the "
        md += "normal-equivalent z = Φ⁻¹(1 − p/2), so that z is standard normal for a true collapse whatever the number of seeds. Comparisons with a single seed on a side are not judged. "
        md += "Where s = 0 (every seed on both sides the same value) a nonzero d counts as infinitely significant and a zero d as z = 0. "
        md += "Values are compared as log₁₀ when all are positive (then gap and spread are in decades). A quantity whose RMS z > \(fmt(Collapse.zLimit, "%g")) differs between batch sizes beyond seed noise: "
        md += "it collapses approximately when the gap is at most \(Collapse.percent(Collapse.approximateRatio)) of the spread and does not collapse otherwise; "
        md += "with RMS z ≤ \(fmt(Collapse.zLimit, "%g")) (differences of the size seed noise makes) it collapses when the gap is at most \(Collapse.percent(Collapse.resolvedRatio)) of the spread, "
        md += "and is inconclusive otherwise (the seed noise is as large as the variation along η/B); the gap is over the comparisons judged. "
        md += "Without seed noise anywhere it collapses when gap ≤ \(Collapse.percent(Collapse.noiselessRatio)) of the spread; fewer than two comparisons are too few to tell.\n\n"
        func collapseTable(_ subset: Collapse.Tasks) -> String {
            Markdown.table((families.count > 1 ? ["family"] : []) + ["quantity", "scale", "gap", "spread along η/B", "gap/spread", "RMS z", "comparisons", "verdict"],
                           collapses.filter { $0.tasks == subset }.map { c in
                               (families.count > 1 ? [c.family.isEmpty ? "—" : c.family] : [])
                                   + [metric(c.metric).label, c.logScale ? "log₁₀" : "linear", fmt(c.gap, "%.3g"), fmt(c.spread, "%.3g"), fmt(c.ratio, "%.3g"),
                                      c.rmsZ == .infinity ? "∞" : fmt(c.rmsZ, "%.3g"), String(c.comparisons), c.sentence]
                           }) + "\n"
        }
        md += "### Over all finished tasks\n\n" + collapseTable(.finished)
        md += "### Over the tasks that learned (final train accuracy ≥ \(learnedTrainAccuracy))\n\n"
        md += stuckCount == 0 ? "No task is stuck at chance: the same as over all finished tasks.\n\n"
            : "Leaving out the \(stuckCount) task\(stuckCount == 1 ? "" : "s") stuck at chance.\n\n" + collapseTable(.learned)
        if let sideBySide {
            md += "## Side by side at equal η/B\n\nThe rows of the table above whose η/B two or more batch sizes share, by η/B: where the batch sizes agree, and where the rate itself starts to matter.\n\n" + sideBySide + "\n"
        }
        md += "## Figures\n\nIn figures/: " + (figureMetrics.map(figureName) + [limitFigureName]).map { "`\($0)`" }.joined(separator: ", ")
        md += ". Points: the seed mean per (B, η), one colour per batch size; bars: the smallest to the largest seed's value.\n"
        try save(md, directory.appendingPathComponent("summary.md"))
        return Written(files: files, table: table, unfinished: unfinished, stuck: tasks.filter { $0.learned == false }, collapses: collapses)
    }
}

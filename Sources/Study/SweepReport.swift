import Checkpoints
import Foundation
import Plotting
import Training

/// The report of a sweep directory (`landscape sweep report DIR`): every task of
/// DIR/manifest.jsonl with its status, the last epoch row of each finished task's
/// DIR/<id>/metrics.csv, and from them
///
/// - DIR/sweep.csv: one row per task (``csvColumns(axes:)``; values of unfinished tasks are nan;
///   a comma inside an axis value, e.g. of a list, is written as ";");
/// - DIR/summary.md: the tasks that are not finished (by index and id), the final quantities
///   aggregated over seeds per (B, η) (mean ± sample sd, n), how many tasks end with λ_max above
///   the stability limit, and per quantity whether it collapses onto one curve in η/B
///   (``Collapse``);
/// - DIR/figures/: each quantity of ``figureMetrics`` against η/B (log x; log y where every value
///   is positive), one colour per batch size, the seed mean with a bar from the smallest to the
///   largest seed's value; and λ_max against the stability limit 2(1+μ)/η (log-log) with the
///   line λ_max = limit.
///
/// η is the task's configured learning rate (`training.optimizer.learningRate`: the schedule's
/// base rate, its peak under the cosine and constant schedules), B its batch size and μ its momentum; the stability limit is
/// ``TrainingConfiguration/stabilityLimit(learningRate:)`` at η (2(1+μ)/η for heavy ball). A
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

        /// Whether the task finished (only finished tasks have final values).
        public var isFinished: Bool { if case .finished = status { true } else { false } }
        /// Why a diverged task stopped (its failed.txt), else `nil`.
        public var failure: String? { if case let .diverged(reason) = status { reason } else { nil } }
        /// The batch size B.
        public var batchSize: Int { training.optimizer.batchSize }
        /// The configured learning rate η (the schedule's base rate).
        public var learningRate: Double { training.optimizer.learningRate }
        /// SGD's momentum μ.
        public var momentum: Double { training.optimizer.momentum }
        /// η/B, the SGD noise scale the figures are drawn against.
        public var learningRateOverBatchSize: Double { learningRate / Double(batchSize) }
        /// The stability limit at η (``TrainingConfiguration/stabilityLimit(learningRate:)``).
        public var stabilityLimit: Double { training.stabilityLimit(learningRate: learningRate) }
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
        Metric(id: "test_loss", label: "test loss", format: "%.4g") { _, m in m.testLoss },
        Metric(id: "test_accuracy", label: "test accuracy", format: "%.4f") { _, m in m.testAccuracy },
        Metric(id: "gap_accuracy", label: "gap: train − test accuracy", format: "%.4f") { _, m in m.trainAccuracy - m.testAccuracy },
        Metric(id: "gap_loss", label: "gap: test − train loss", format: "%.4g") { _, m in m.testLoss - m.trainLoss },
        Metric(id: "lambda_max", label: "λ_max", format: "%.4g") { _, m in m.lambdaMax },
        Metric(id: "lambda_converged", label: "λ_max converged", format: "%.0f") { _, m in m.lambdaConverged ? 1 : 0 },
        Metric(id: "lambda_residual", label: "λ_max residual", format: "%.2g") { _, m in m["lambda_residual"] },
        Metric(id: "lambda_eta_over_2", label: "λ_max·η/2", format: "%.4g") { t, m in m.lambdaMax * t.learningRate / 2 },
        Metric(id: "lambda_over_limit", label: "λ_max / limit", format: "%.4g") { t, m in m.lambdaMax / t.stabilityLimit },
        Metric(id: "trace", label: "trace (Hutchinson)", format: "%.4g") { _, m in m["trace"] },
        Metric(id: "trace_stderr", label: "trace standard error", format: "%.2g") { _, m in m["trace_stderr"] },
        Metric(id: "sharpness_max", label: "S_ε max", format: "%.4g") { _, m in m["sharpness_max"] },
        Metric(id: "sharpness_mean", label: "S_ε mean", format: "%.4g") { _, m in m["sharpness_mean"] },
    ]

    /// The metric with `id` (one of ``metrics``).
    static func metric(_ id: String) -> Metric { metrics.first { $0.id == id }! }

    /// The quantities drawn against η/B (one figure each, `figures/ID-vs-eta-over-b.svg`), judged
    /// for collapse and shown in the aggregate table.
    public static let figureMetrics = ["lambda_max", "lambda_eta_over_2", "trace", "sharpness_max", "sharpness_mean", "test_accuracy", "gap_accuracy", "gap_loss"]

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
    /// row. metrics.csv is read as a run reads it (``RunRecord/completeRows(of:columns:renamed:added:log:)``
    /// with the study's epoch-probe columns, ``EpochMetrics``).
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
        return out
    }

    /// Writes the report of the sweep directory `directory` (its manifest.jsonl and task
    /// directories): ``write(tasks:axes:in:)`` for every task, the axes being every key of the
    /// tasks' points in canonical (sorted) order.
    /// - Throws: ``ConfigurationError`` for a missing or bad manifest; ``StudyError`` for a corrupt task file or an unwritable directory.
    public static func write(in directory: URL, log: (String) -> Void = { _ in }) throws -> Written {
        let tasks = try SweepManifest.read(directory.appendingPathComponent(SweepManifest.fileName))
        let axes = Set(tasks.flatMap(\.point.keys)).sorted()
        return try write(tasks: try tasks.map { try readTask($0, in: directory, log: log) }, axes: axes, in: directory)
    }

    // MARK: Collapse

    /// Whether a quantity's points fall on one curve in η/B, for one family of tasks.
    ///
    /// The scale: log₁₀ of the values when every seed's value is positive, else the values. Per
    /// batch size, the seed-mean curve is the mean of the (scaled) seed values at each η/B, with
    /// its standard error sd/√n (n ≥ 2). For each ordered pair of batch sizes (b, c), each point of
    /// b whose log₁₀ η/B lies within the range of c's curve is compared with c's curve there
    /// (piecewise linear in log₁₀ η/B). Then
    /// - ``gap``: the RMS of these differences (between-batch gap at equal η/B);
    /// - ``spread``: the RMS of all seed means of the family around their overall mean (how much
    ///   the quantity varies across the sweep at all);
    /// - ``noise``: the RMS standard error of the seed means (nan without two seeds anywhere).
    /// The difference of two independent seed means has standard deviation √2·noise; the quantity
    /// collapses when gap ≤ 2√2·noise, or, without seed noise (nan or 0), when gap ≤ 1% of the
    /// spread. Fewer than two comparisons (or fewer than two batch sizes) are too few to tell.
    public struct Collapse: Sendable {
        /// The quantity's id and the family it was judged in ("" for a sweep of B, η and seeds only).
        public var metric: String, family: String
        /// Whether the values were compared as log₁₀ (all positive).
        public var logScale: Bool
        /// Between-batch gap, spread across η/B, their ratio gap/spread, and the seed noise (same scale).
        public var gap: Double, spread: Double, ratio: Double, noise: Double
        /// Comparisons at equal η/B (points of one batch size inside another's range) and batch sizes with data.
        public var comparisons: Int, batchSizes: Int
        /// "collapses", "does not collapse" or "too few overlapping points".
        public var verdict: Verdict
        /// The verdict.
        public enum Verdict: String, Sendable { case collapses, doesNotCollapse = "does not collapse", tooFew = "too few overlapping points" }

        /// The verdict as a sentence, e.g. "collapses onto one curve in η/B within seed noise".
        public var sentence: String {
            let f = { (v: Double) in fmt(v, "%.3g") }
            switch verdict {
            case .tooFew:
                return "too few overlapping points to tell (\(comparisons) comparison\(comparisons == 1 ? "" : "s") at equal η/B across \(batchSizes) batch size\(batchSizes == 1 ? "" : "s"))"
            case .collapses:
                if spread == 0 { return "collapses trivially: the same value at every point" }
                return noise > 0 ? "collapses onto one curve in η/B within seed noise (gap \(f(gap)) ≤ 2√2 × seed noise \(f(noise)))"
                    : "collapses onto one curve in η/B (gap \(f(gap)) ≤ 1% of the spread \(f(spread)); no seed noise to compare with)"
            case .doesNotCollapse:
                let size = logScale ? "a factor \(f(Foundation.pow(10, gap))) (RMS of log₁₀ differences \(f(gap)))" : "\(f(gap)) (RMS)"
                let against = noise > 0 ? "\(f(gap / noise))× the seed noise" : "no seed noise to compare with"
                return "does not collapse: at equal η/B the batch sizes differ by \(size), \(against), \(f(100 * ratio))% of the spread across η/B"
            }
        }
    }

    /// One (batch size, η/B) point of a family: the seed values of a quantity.
    struct CurvePoint {
        var batchSize: Int, etaOverB: Double, values: [Double]
    }

    /// The collapse measure (``Collapse``) of a quantity over the points of one family.
    static func collapse(metric: String, family: String, points: [CurvePoint]) -> Collapse {
        let finite = points.map { CurvePoint(batchSize: $0.batchSize, etaOverB: $0.etaOverB, values: $0.values.filter(\.isFinite)) }
            .filter { !$0.values.isEmpty && $0.etaOverB > 0 && $0.etaOverB.isFinite }
        let logScale = !finite.isEmpty && finite.allSatisfy { $0.values.allSatisfy { $0 > 0 } }
        // Per batch size: (log₁₀ η/B, mean, standard error) sorted by η/B.
        var curves: [Int: [(x: Double, mean: Double, se: Double)]] = [:]
        for p in finite {
            let s = Statistics.summary(logScale ? p.values.map { Foundation.log10($0) } : p.values)
            curves[p.batchSize, default: []].append((Foundation.log10(p.etaOverB), s.mean, s.count >= 2 ? s.standardDeviation / Double(s.count).squareRoot() : .nan))
        }
        for b in curves.keys { curves[b]!.sort { $0.x < $1.x } }
        func interpolate(_ c: [(x: Double, mean: Double, se: Double)], at x: Double) -> Double? {
            let tolerance = 1e-12
            guard let first = c.first, let last = c.last, x >= first.x - tolerance, x <= last.x + tolerance else { return nil }
            if let hit = c.first(where: { abs($0.x - x) <= tolerance }) { return hit.mean }
            guard let k = c.firstIndex(where: { $0.x > x }), k > 0 else { return nil }
            let (a, b) = (c[k - 1], c[k])
            return a.mean + (b.mean - a.mean) * (x - a.x) / (b.x - a.x)
        }
        var differences: [Double] = []
        for (b, cb) in curves { for (c, cc) in curves where c != b { for p in cb { if let v = interpolate(cc, at: p.x) { differences.append(p.mean - v) } } } }
        func rms(_ v: [Double]) -> Double { v.isEmpty ? .nan : (v.reduce(0) { $0 + $1 * $1 } / Double(v.count)).squareRoot() }
        let means = curves.values.flatMap { $0.map(\.mean) }
        let overall = means.reduce(0, +) / Double(max(means.count, 1))
        let gap = rms(differences), spread = rms(means.map { $0 - overall })
        let noise = rms(curves.values.flatMap { $0.map(\.se) }.filter(\.isFinite))
        let verdict: Collapse.Verdict
        if curves.count < 2 || differences.count < 2 {
            verdict = .tooFew
        } else if noise > 0 {
            verdict = gap <= 2 * 2.0.squareRoot() * noise ? .collapses : .doesNotCollapse
        } else {
            verdict = gap <= 0.01 * spread ? .collapses : .doesNotCollapse
        }
        return Collapse(metric: metric, family: family, logScale: logScale, gap: gap, spread: spread, ratio: gap / spread, noise: noise,
                        comparisons: differences.count, batchSizes: curves.count, verdict: verdict)
    }

    // MARK: Groups

    /// The tasks of one (family, B, η): its seeds.
    struct Group {
        var family: String, batchSize: Int, learningRate: Double
        var tasks: [Task]
        var finished: [Task] { tasks.filter(\.isFinished) }
        var etaOverB: Double { tasks[0].learningRateOverBatchSize }
        func values(_ m: Metric) -> [Double] { finished.map { $0[m] } }
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
        /// The collapse measures, per figure quantity and family.
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
            try save(SVGPlot.errorBarPlot(title: "final \(m.label) against η/B\(spreadNote)", xLabel: "η/B", yLabel: m.label, series: s, logX: true, logY: positive),
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
        let tableRows = groups.map { g in
            (families.count > 1 ? [g.family.isEmpty ? "—" : g.family] : []) + [String(g.batchSize), fmt(g.learningRate, "%g"), fmt(g.tasks[0].momentum, "%g"),
                                                                               fmt(g.etaOverB, "%.4g"), "\(g.finished.count)/\(g.tasks.count)"]
                + tableMetrics.map { cell(g.values($0), $0.format) }
        }
        let table = Markdown.table(header, tableRows)

        // Collapse per figure quantity and family.
        var collapses: [Collapse] = []
        for id in figureMetrics {
            let m = metric(id)
            for f in families {
                let points = groups.filter { $0.family == f }.map { CurvePoint(batchSize: $0.batchSize, etaOverB: $0.etaOverB, values: $0.values(m)) }
                collapses.append(collapse(metric: id, family: f, points: points))
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
        md += "## Collapse in η/B\n\n"
        md += "Do the batch sizes' points fall on one curve in η/B? For each ordered pair of batch sizes, each seed mean of one is compared with the other's "
        md += "seed-mean curve, interpolated piecewise linearly in log₁₀ η/B, wherever it lies within that curve's range; the *gap* is the RMS of these differences. "
        md += "The *spread* is the RMS of all seed means around their overall mean, the *seed noise* the RMS standard error (sd/√n) of the seed means. "
        md += "Values are compared as log₁₀ when all are positive (then gap, spread and noise are in decades). A quantity collapses when gap ≤ 2√2 × seed noise "
        md += "(two independent seed means differ by √2 × noise), or, without seed noise, when gap ≤ 1% of the spread; fewer than two comparisons are too few to tell.\n\n"
        md += Markdown.table((families.count > 1 ? ["family"] : []) + ["quantity", "scale", "gap", "spread across η/B", "gap/spread", "seed noise", "comparisons", "verdict"],
                             collapses.map { c in
                                 (families.count > 1 ? [c.family.isEmpty ? "—" : c.family] : [])
                                     + [metric(c.metric).label, c.logScale ? "log₁₀" : "linear", fmt(c.gap, "%.3g"), fmt(c.spread, "%.3g"), fmt(c.ratio, "%.3g"),
                                        fmt(c.noise, "%.3g"), String(c.comparisons), c.sentence]
                             }) + "\n"
        md += "## Figures\n\nIn figures/: " + (figureMetrics.map(figureName) + [limitFigureName]).map { "`\($0)`" }.joined(separator: ", ")
        md += ". Points: the seed mean per (B, η), one colour per batch size; bars: the smallest to the largest seed's value.\n"
        try save(md, directory.appendingPathComponent("summary.md"))
        return Written(files: files, table: table, unfinished: unfinished, collapses: collapses)
    }
}

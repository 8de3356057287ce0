import Checkpoints
import Foundation
import Layers
import Plotting
import Training

/// Writes a study's figures (SVG), `summary.md`, `report.html` and `aggregate.csv` from the
/// files in its run directory (config.json, metrics.csv, final.csv, spectra.csv, layers.csv,
/// ggn-spectra.csv, slices/, densities/), so the report can be regenerated at any time
/// (`landscape report DIR`), also for a partial study: it lists the runs (configuration × seed)
/// that are missing or incomplete and draws the rest.
///
/// Every final quantity is summarized per configuration over its seeds (``Statistics``): mean ±
/// sample standard deviation [min, max] over the runs that finished training, with n. Figures:
/// (1) train, validation and test loss per epoch, (2) their accuracies (solid, dashed, dotted:
/// one line style per split in every figure, ``/Plotting/SVGPlot/LineStyle``), (3) λ_max with the
/// stability limit 2(1+μ)/η (dash-dot) where metrics.csv has it, (4) S_ε^max — each the mean over
/// seeds with a min–max band; (5) generalization gap vs final λ_max, one point per run; (6) the
/// final 2D slices on one shared log colour scale with isolines and θ marked (``SliceFigure``) and
/// (7) the SLQ spectral densities, per run. Log scales where values span decades. report.html
/// shows each figure inline with a caption saying how to read it (``/Plotting/HTML``: a responsive page),
/// and tables of S_ε against ½ε²λ_max and ½ε²·tr(H)/d and of the three trace estimates.
public enum StudyReport {
    /// A configuration's colour in every figure.
    static func color(_ name: String, index: Int) -> String {
        let fixed = ["mlp-high-noise": "#1f77b4", "mlp-low-noise": "#ff7f0e", "cnn-high-noise": "#2ca02c", "cnn-low-noise": "#d62728"]
        let others = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
        return fixed[name] ?? others[index % others.count]
    }

    /// Resamples and seed of the bootstrap intervals (``Statistics/spearmanBootstrap(_:_:resamples:level:seed:)``).
    public static let bootstrapResamples = 2000, bootstrapSeed: UInt64 = 0

    /// One final quantity of a run: where its value comes from and how it is shown.
    struct Quantity {
        /// The key in ``RunValues/values`` and aggregate.csv's `quantity`.
        let id: String
        /// The label in tables.
        let label: String
        /// The printf format of its mean.
        let format: String
    }

    /// The final quantities read from metrics.csv's last row of a run: id (= column, or a
    /// derived name), label, format, and how it is computed from the row.
    static var metricsQuantities: [(Quantity, ([String: String]) -> Double)] {
        func d(_ row: [String: String], _ k: String) -> Double { Double(row[k] ?? "") ?? .nan }
        return [
            (Quantity(id: "train_loss", label: "train loss", format: "%.4g"), { d($0, "train_loss") }),
            (Quantity(id: "validation_loss", label: "validation loss", format: "%.4g"), { d($0, "validation_loss") }),
            (Quantity(id: "test_loss", label: "test loss", format: "%.4g"), { d($0, "test_loss") }),
            (Quantity(id: "train_accuracy", label: "train acc. (%)", format: "%.2f"), { 100 * d($0, "train_accuracy") }),
            (Quantity(id: "validation_accuracy", label: "validation acc. (%)", format: "%.2f"), { 100 * d($0, "validation_accuracy") }),
            (Quantity(id: "test_accuracy", label: "test acc. (%)", format: "%.2f"), { 100 * d($0, "test_accuracy") }),
            (Quantity(id: "gap", label: "gap = train − test acc. (pp)", format: "%.2f"), { 100 * (d($0, "train_accuracy") - d($0, "test_accuracy")) }),
            (Quantity(id: "lambda_max", label: "λ_max", format: "%.4g"), { d($0, "lambda_max") }),
            (Quantity(id: "sharpness_max", label: "S_ε^max", format: "%.3g"), { d($0, "sharpness_max") }),
            (Quantity(id: "sharpness_mean", label: "S_ε^mean", format: "%.3g"), { d($0, "sharpness_mean") }),
            (Quantity(id: "trace", label: "trace (Hutchinson)", format: "%.4g"), { d($0, "trace") }),
        ]
    }

    /// metrics.csv columns that are no final quantity of their own: identifiers, the learning
    /// rate and its stability limit, diagnostics of a probe (`lambda_negative` is nan unless a
    /// large negative eigenvalue was seen), and what ``metricsQuantities`` reads.
    static let metricsNonQuantities: Set<String> = ["model", "regime", "seed", "epoch", "learning_rate", "stability_limit", "train_running_loss",
                                                     "train_loss", "validation_loss", "test_loss", "train_accuracy", "validation_accuracy", "test_accuracy",
                                                     "lambda_max", "lambda_iterations", "lambda_residual", "lambda_converged", "lambda_negative",
                                                     "sharpness_max", "sharpness_mean", "trace", "trace_stderr"]

    /// Whether a column of final.csv, or of metrics.csv beyond ``metricsQuantities``, is a measured
    /// quantity: not an identifier, a setting, a count of steps or a timing.
    static func isQuantity(_ column: String) -> Bool {
        !StudyRunner.runColumns.contains(column) && !metricsNonQuantities.contains(column)
            && !["_seconds", "_steps", "_probes", "_points", "_samples", "_iterations", "_batches", "_batch_size", "_converged", "_residual"].contains { column.hasSuffix($0) }
    }

    /// The final values of one run: its last epoch in metrics.csv and its rows of final.csv,
    /// spectra.csv and ggn-spectra.csv.
    public struct RunValues: Sendable {
        /// The run's name (``StudyRun/name``) and its configuration ("MODEL-REGIME").
        public let run: String, configuration: String
        /// The model's and the regime's names.
        public let model: String, regime: String
        /// The run's seed (the configuration's ``StudyConfiguration/runSeeds`` entry).
        public let seed: UInt64
        /// The last epoch and the configured epoch count.
        public let epoch: Int, epochs: Int
        /// Whether final.csv has the run's final probes (measured once its training ended).
        public let hasFinalProbes: Bool
        /// The final quantities by id (metrics.csv's, `final.COLUMN` for final.csv's,
        /// `lanczos.K` and `ggn.K` for the K-th eigenvalues); absent where the run has no value.
        public let values: [String: Double]

        /// A run with these values.
        public init(run: String, configuration: String, model: String, regime: String, seed: UInt64, epoch: Int, epochs: Int,
                    hasFinalProbes: Bool = true, values: [String: Double]) {
            self.run = run; self.configuration = configuration; self.model = model; self.regime = regime; self.seed = seed
            self.epoch = epoch; self.epochs = epochs; self.hasFinalProbes = hasFinalProbes; self.values = values
        }

        /// Whether the run's training ended: all epochs done, its stopping rule reached
        /// (``/Training/TrainingConfiguration/isFinished(after:)``, set by ``StudyReport``), or its final probes measured.
        public var finished: Bool { epoch >= epochs || stopped || hasFinalProbes }
        /// Whether the last epoch reached the run's stopping rule.
        public var stopped = false
        /// A value, nan where the run has none.
        public subscript(id: String) -> Double { values[id] ?? .nan }
    }

    /// A sample count (`train`, `validation`, `test`) of study.json's `data` object, or `nil` when
    /// it is not there.
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` naming study.json and the field when the
    ///   value is not a count (a non-negative integer).
    static func sampleCount(_ key: String, in data: [String: Any], of file: URL) throws -> Int? {
        guard let value = data[key] else { return nil }
        guard let count = value as? Int, count >= 0 else {
            throw StudyError.corruptFile(path: file.path, reason: "'data.\(key)' is \(value), not a sample count (a non-negative integer)")
        }
        return count
    }

    /// `v` in printf format `f`, "—" when not finite.
    static func fmt(_ v: Double, _ f: String = "%.4g") -> String { v.isFinite ? String(format: f, v) : "—" }

    /// An integer with its thousands separated by commas (`269,322`): parameter counts in reports and `landscape model`.
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        let groups = stride(from: digits.count, to: 0, by: -3).map { end in String(digits.dropFirst(max(end - 3, 0)).prefix(end - max(end - 3, 0))) }.reversed()
        return (n < 0 ? "-" : "") + groups.joined(separator: ",")
    }

    /// A summary as "mean ± sd [min, max]" ("mean ± —" for one value; ", k not finite" when values
    /// were left out; "—" without values).
    static func cell(_ s: Statistics.Summary, _ f: String, range: Bool = true) -> String {
        guard s.count > 0 else { return s.nonFinite > 0 ? "not finite (\(s.nonFinite))" : "—" }
        var t = fmt(s.mean, f) + " ± " + (s.count > 1 ? fmt(s.standardDeviation, "%.2g") : "—")
        if range, s.count > 1 { t += " [" + fmt(s.minimum, f) + ", " + fmt(s.maximum, f) + "]" }
        if s.nonFinite > 0 { t += ", \(s.nonFinite) not finite" }
        return t
    }

    /// What ``write(in:)`` wrote.
    public struct Written: Sendable {
        /// The files written.
        public var files: [URL]
        /// The runs that are missing or unfinished, each "NAME (status)" (status: not started,
        /// in progress, final probes not done, stopped: reason).
        public var unfinishedRuns: [String]
    }

    /// Regenerates figures/, summary.md, report.html and aggregate.csv in a study directory.
    /// - Returns: the files written.
    /// - Throws: as ``write(in:)``.
    @discardableResult
    public static func generate(in directory: URL) throws -> [URL] { try write(in: directory).files }

    /// Regenerates figures/, summary.md, report.html and aggregate.csv in a study directory.
    /// - Returns: the files written and the runs that are missing or unfinished.
    /// - Throws: ``StudyError`` if config.json or metrics.csv is missing or corrupt (naming the
    ///   file); I/O errors. Missing final-epoch files only leave their figures out.
    public static func write(in directory: URL) throws -> Written {
        let configURL = try StudyError.savedConfiguration(in: directory)
        let config = try StudyConfiguration.loadSaved(from: configURL)
        let metrics = try CSVTable.read(directory.appendingPathComponent("metrics.csv"))
        for column in ["model", "regime", "epoch", "train_loss", "validation_loss", "train_accuracy", "test_accuracy", "lambda_max", "sharpness_max"] where !metrics.columns.contains(column) {
            throw StudyError.corruptFile(path: directory.appendingPathComponent("metrics.csv").path, reason: "has no column '\(column)'")
        }
        try checkRunKeys(in: directory, config: config, files: runKeyedFiles)
        let finals = try CSVTable.readIfPresent(directory.appendingPathComponent("final.csv"))
        let spectra = try CSVTable.readIfPresent(directory.appendingPathComponent("spectra.csv"))
        let layers = try CSVTable.readIfPresent(directory.appendingPathComponent("layers.csv"))
        let ggn = try CSVTable.readIfPresent(directory.appendingPathComponent("ggn-spectra.csv"))
        let infoURL = directory.appendingPathComponent("study.json")
        let info = try StudyRunner.studyInfo(in: directory) ?? [:]
        let dataInfo = info["data"] as? [String: Any] ?? [:]
        let trainCount = try sampleCount("train", in: dataInfo, of: infoURL)
        for key in ["validation", "test"] { _ = try sampleCount(key, in: dataInfo, of: infoURL) }
        let datasetName = dataInfo["name"] as? String ?? (config.training.data.dataset.displayName)
        let names = config.configurationNames
        let runs = config.runs
        let failures: [String: String] = Dictionary(uniqueKeysWithValues: try runs.compactMap { r in
            try StudyRunner.failure(in: directory.appendingPathComponent("runs/\(r.name)")).map { (r.name, $0) }
        })
        let figures = directory.appendingPathComponent("figures")
        do { try FileManager.default.createDirectory(at: figures, withIntermediateDirectories: true) } catch {
            throw StudyError.runDirectory(path: directory.path, reason: "cannot create figures/ in it (\(SystemError.reason(of: error)))")
        }
        guard FileManager.default.isWritableFile(atPath: figures.path), FileManager.default.isWritableFile(atPath: directory.path) else {
            throw StudyError.runDirectory(path: directory.path, reason: "is not writable; the report cannot be written")
        }
        // The report's writes share DIR/.files.lock with the runs' (StudyRunner.withFilesLock): a study
        // run as tasks may be writing while it is reported, and a task removes cut-off writes' temporary files.
        let filesLock: Int32?
        do { filesLock = try DirectoryLock.acquire(in: directory, name: StudyRunner.filesLockName, wait: true) } catch {
            throw StudyError.runDirectory(path: directory.path, reason: "cannot lock its shared files: \(error)")
        }
        defer { filesLock.map(DirectoryLock.release) }
        var written: [URL] = []
        // Each figure's SVG and caption, by file name, for report.html.
        var svgOf: [String: String] = [:], captions: [String: String] = [:]
        func write(_ text: String, _ name: String, caption: String = "") throws {
            let url = figures.appendingPathComponent(name)
            try AtomicFile.write(text, to: url)
            written.append(url)
            svgOf[name] = text
            captions[name] = caption
        }
        // Each run's rows, by run name (rows of runs the configuration does not list are left out).
        var rowsOf: [String: [[String: String]]] = [:]
        for row in metrics.rows { rowsOf[config.runName(ofRow: row), default: []].append(row) }
        func rows(_ name: String) -> [[String: String]] { rowsOf[name] ?? [] }
        func runsOf(_ configuration: String) -> [StudyRun] { runs.filter { $0.configuration == configuration } }
        let values = runValues(runs: runs, config: config, rows: rows, finals: finals, spectra: spectra, ggn: ggn)
        let finished = values.filter(\.finished)
        // Each model's parameter count, from its specification (nothing for one that cannot be built).
        let parameterCounts = Dictionary(config.models.compactMap { m in (try? m.parameterCount).map { (m.name, $0) } }, uniquingKeysWith: { a, _ in a })
        let colorOf = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, color($1, index: $0)) })

        // Per-epoch figures: per configuration the mean over its runs at each epoch, with a min–max band.
        func epochSeries(_ column: String, label: String = "", style: SVGPlot.LineStyle = .solid, scale: Double = 1, band: Bool = true) -> [SVGPlot.Series] {
            names.compactMap { n in
                let perRun = runsOf(n).map { rows($0.name) }.filter { !$0.isEmpty }
                guard !perRun.isEmpty else { return nil }
                let epochs = Array(Set(perRun.flatMap { $0.compactMap { Int($0["epoch"] ?? "") } })).sorted()
                let stats = epochs.map { e in
                    Statistics.summary(perRun.compactMap { r in r.first { Int($0["epoch"] ?? "") == e }.map { scale * (Double($0[column] ?? "") ?? .nan) } })
                }
                let spread = band && stats.contains { $0.count > 1 }
                return SVGPlot.Series(name: n + label, x: epochs.map(Double.init), y: stats.map(\.mean), color: colorOf[n]!, style: style,
                                      band: spread ? SVGPlot.Band(lower: stats.map(\.minimum), upper: stats.map(\.maximum)) : nil)
            }
        }
        let tag = "\(datasetName)"
        let seedNote = config.runSeeds.count > 1 ? "; mean over seeds, band: min–max" : ""
        // Power-iteration estimates that did not meet their tolerance, ringed in the λ_max figure (each run's own value).
        let flagged = runs.flatMap { rows($0.name) }.filter { Double($0["lambda_converged"] ?? "") == 0 && Double($0["lambda_max"] ?? "")?.isFinite == true }
        let notConverged = flagged.isEmpty ? [] : [SVGPlot.Series(name: "not converged (\(config.training.probes.lambdaIterations) iterations)", x: flagged.map { Double($0["epoch"]!) ?? .nan },
                                                                  y: flagged.map { Double($0["lambda_max"]!) ?? .nan }, color: "#000000", ringsOnly: true)]
        // The stability limit of each epoch (sgdStabilityLimit / η: heavy ball's 2(1+μ)/η, Nesterov's
        // 2(1+μ)/((1+2μ)η)), where the runs recorded it.
        let limitName = config.training.stabilityLimitLabel
        let limits = metrics.columns.contains("stability_limit")
            ? epochSeries("stability_limit", label: " \(limitName)", band: false).map {
                SVGPlot.Series(name: $0.name, x: $0.x, y: $0.y, color: $0.color, dashed: true, reference: true)
            } : []
        // The splits of a per-epoch figure, one line style each (SVGPlot.LineStyle: one convention in every figure).
        let splits: [(column: String, label: String, style: SVGPlot.LineStyle)] = [("train", "train", .solid), ("validation", "validation", .dashed), ("test", "test", .dotted)]
        func splitSeries(_ quantity: String, scale: Double = 1) -> (series: [SVGPlot.Series], legend: [SVGPlot.LegendEntry]) {
            let present = splits.filter { metrics.columns.contains("\($0.column)_\(quantity)") }
            let series = present.flatMap { epochSeries("\($0.column)_\(quantity)", label: " " + $0.label, style: $0.style, scale: scale) }
            let shown = names.filter { n in series.contains { $0.name.hasPrefix(n + " ") } }
            return (series, shown.map { SVGPlot.LegendEntry(name: $0, color: colorOf[$0]!) } + present.map { SVGPlot.LegendEntry(name: $0.label, color: "#444", style: $0.style) })
        }
        let splitNote = "Colour: configuration; line style: split (solid = train, dashed = validation, dotted = test). Markers at each evaluated epoch\(config.runSeeds.count > 1 ? "; lines are means over seeds, the shaded band their min–max range" : "")."
        let loss = splitSeries("loss")
        try write(SVGPlot.linePlot(title: "Loss per epoch (\(tag))", xLabel: "epoch", yLabel: "mean cross-entropy loss",
                                   series: loss.series, logY: true, markers: true, integerX: true, legend: loss.legend), "loss.svg",
                  caption: "Mean cross-entropy on each full split after every epoch (log scale). " + splitNote + " Validation above train and rising while train falls is overfitting.")
        let accuracy = splitSeries("accuracy", scale: 100)
        try write(SVGPlot.linePlot(title: "Accuracy per epoch (\(tag))", xLabel: "epoch", yLabel: "accuracy (%)",
                                   series: accuracy.series, markers: true, integerX: true, legend: accuracy.legend), "accuracy.svg",
                  caption: "Classification accuracy on each full split after every epoch. " + splitNote + " The generalization gap of the tables is train − test accuracy at the last epoch.")
        let probeCountText = "\(min(config.training.probes.probeSamples, trainCount ?? config.training.probes.probeSamples))"
        try write(SVGPlot.linePlot(title: "λ_max of the Hessian per epoch\(seedNote)",
                                   xLabel: "epoch", yLabel: "λ_max", series: epochSeries("lambda_max") + limits + notConverged, logY: true, markers: true, integerX: true), "lambda-max.svg",
                  caption: "The largest Hessian eigenvalue λ_max of the loss on the first \(probeCountText) training samples (power iteration, warm-started from the previous epoch; log scale)."
                    + (limits.isEmpty ? "" : " Dash-dot: the stability limit \(limitName) of SGD with momentum μ at each epoch's learning rate η; λ_max at or above it means gradient descent on this loss would oscillate (the edge of stability).")
                    + (notConverged.isEmpty ? "" : " Rings: estimates that did not converge within \(config.training.probes.lambdaIterations) iterations."))
        let quadraticTableNote = "S_ε per run beside its two quadratic predictions: ½ε²·tr(H)/d, what a random unit direction sees on average, which S_ε^mean follows, and ½ε²λ_max, the worst direction, far above it (the sharpness figure's caption says why)."
        let quadraticNote = "S_ε^max is the largest loss increase L(θ + εu) − L(θ) over \(config.epochProbes.sharpnessDirections) random unit directions u at radius ε = \(config.epochProbes.sharpnessEpsilon). "
            + "Why it lies far below ½ε²λ_max: a random unit direction in d dimensions sees the average curvature uᵀHu ≈ tr(H)/d, not the top eigenvalue (its overlap with the top eigenvector is ~1/d), so S_ε ≈ ½ε²·tr(H)/d (plus the first-order term ε·gᵀu), orders of magnitude below the worst case ½ε²λ_max; the table \"Sharpness against its quadratic predictions\" gives both numbers per run."
        try write(SVGPlot.linePlot(title: "Sharpness S_ε^max per epoch, ε = \(config.epochProbes.sharpnessEpsilon)\(seedNote)", xLabel: "epoch",
                                   yLabel: "S_ε^max", series: epochSeries("sharpness_max"), logY: true, markers: true, integerX: true), "sharpness-max.svg",
                  caption: quadraticNote + " Log scale.")
        // Batch sharpness (Andreyev and Beneventano 2024) beside λ_max and the stability limit: under
        // SGD it settles near 2/η (2(1+μ)/η with momentum) where the full-batch λ_max need not.
        if metrics.columns.contains("batch_sharpness") {
            let lambdaRings = epochSeries("lambda_max", label: " λ_max", band: false).map {
                SVGPlot.Series(name: $0.name, x: $0.x, y: $0.y, color: $0.color, ringsOnly: true)
            }
            try write(SVGPlot.linePlot(title: "Batch sharpness and λ_max per epoch\(seedNote)",
                                       xLabel: "epoch", yLabel: "curvature", series: epochSeries("batch_sharpness") + lambdaRings + limits,
                                       logY: true, markers: true, integerX: true), "batch-sharpness.svg",
                      caption: "Solid: batch sharpness E_{B}[g_{B}ᵀH_{B}g_{B}/‖g_{B}‖²], the curvature of each mini-batch's loss along its own gradient (Andreyev and Beneventano 2024); rings: the full-batch λ_max"
                        + (limits.isEmpty ? "." : "; dash-dot: the stability limit \(limitName). Under SGD batch sharpness settles near the limit where the full-batch λ_max need not.") + " Values ≤ 0 are not drawn (log scale).")
        }
        // λ_max every K SGD steps (probes.lambdaEverySteps), where a run recorded steps.csv.
        var stepSeries: [SVGPlot.Series] = []
        for r in runs {
            guard let steps = try CSVTable.readIfPresent(directory.appendingPathComponent("runs/\(r.name)/steps.csv")),
                  steps.columns.contains("lambda_max"), !steps.rows.isEmpty else { continue }
            let color = colorOf[r.configuration] ?? "#000000"
            stepSeries.append(SVGPlot.Series(name: r.name, x: steps.numbers("step"), y: steps.numbers("lambda_max"), color: color))
            if steps.columns.contains("stability_limit") {
                stepSeries.append(SVGPlot.Series(name: r.name + " \(limitName)", x: steps.numbers("step"), y: steps.numbers("stability_limit"), color: color, reference: true))
            }
        }
        if !stepSeries.isEmpty {
            try write(SVGPlot.linePlot(title: "λ_max every \(config.training.probes.lambdaEverySteps ?? 0) SGD steps", xLabel: "SGD step",
                                       yLabel: "λ_max", series: stepSeries, logY: true), "lambda-steps.svg",
                      caption: "λ_max within epochs (solid), measured every \(config.training.probes.lambdaEverySteps ?? 0) SGD steps, against the stability limit \(limitName) (dash-dot), one colour per run. Log scale.")
        }
        // Gap vs λ_max: one point per finished run, and their rank correlation.
        let lambdas = finished.map { $0["lambda_max"] }, gaps = finished.map { $0["gap"] }
        let rho = Statistics.spearman(lambdas, gaps)
        let interval = Statistics.spearmanBootstrap(lambdas, gaps, resamples: bootstrapResamples, seed: bootstrapSeed)
        let shown = lambdas.filter(\.isFinite)
        let logLambda = !shown.isEmpty && shown.allSatisfy { $0 > 0 } && shown.max()! > 10 * shown.min()!
        try write(SVGPlot.scatterPlot(title: "Generalization gap vs final λ_max" + (rho.isFinite ? String(format: " (Spearman ρ = %.2f", rho) + (interval.map { String(format: ", 95 %% CI [%.2f, %.2f])", $0.lower, $0.upper) } ?? ")") : ""),
                                      xLabel: "final λ_max", yLabel: "train − test accuracy (percentage points)",
                                      points: finished.map { SVGPlot.Point(label: $0.run, x: $0["lambda_max"], y: $0["gap"], color: colorOf[$0.configuration] ?? "#000000") },
                                      logX: logLambda), "gap-vs-lambda.svg",
                  caption: "One point per finished run: the generalization gap (train − test accuracy, percentage points) against the final λ_max. \"Sharp minima generalize worse\" predicts a rising cloud; the title's Spearman ρ and its bootstrap interval say whether the data resolve one.")
        // The final slices, all on one colour scale (SliceFigure.sharedRange) so they compare by eye.
        var sliceGrids: [(name: String, grid: SliceFigure.Grid)] = []
        for r in runs {
            let url = directory.appendingPathComponent("slices/\(r.name).csv")
            guard let slice = try CSVTable.readIfPresent(url) else { continue }
            sliceGrids.append((r.name, try SliceFigure.grid(of: slice, path: url.path)))
        }
        let sliceRange = SliceFigure.sharedRange(sliceGrids.map(\.grid))
        var sliceFigures: [String] = []
        for (n, grid) in sliceGrids {
            try write(SliceFigure.svg(title: "\(n): L(θ + αu + βv)", grid: grid, range: sliceRange, shared: sliceGrids.count > 1), "slice-\(n).svg",
                      caption: SliceFigure.caption(range: sliceRange, shared: sliceGrids.count > 1))
            sliceFigures.append("slice-\(n).svg")
        }
        var densitySeries: [SVGPlot.Series] = []
        for r in runs {
            guard let d = try CSVTable.readIfPresent(directory.appendingPathComponent("densities/\(r.name).csv")) else { continue }
            densitySeries.append(SVGPlot.Series(name: r.name, x: d.numbers("eigenvalue"), y: d.numbers("density"), color: colorOf[r.configuration]!))
        }
        // Between Gaussian bumps the smoothed density falls to ~1e-40; outlying eigenvalues carry a
        // weight of ~1/d (~1e-6 of the bulk's), so show nine decades below the peak and clamp the rest there.
        let peak = densitySeries.flatMap(\.y).filter(\.isFinite).max() ?? 0
        densitySeries = densitySeries.map { SVGPlot.Series(name: $0.name, x: $0.x, y: $0.y.map { max($0, 1e-9 * peak) }, color: $0.color) }
        if !densitySeries.isEmpty {
            try write(SVGPlot.linePlot(title: "Hessian spectral density at the final θ",
                                       xLabel: "eigenvalue", yLabel: "density", series: densitySeries, logY: true), "density.svg",
                      caption: "The Hessian's eigenvalue density by stochastic Lanczos quadrature (SLQ: \(config.finalProbes.slqProbes) probe\(config.finalProbes.slqProbes == 1 ? "" : "s") × \(config.finalProbes.slqSteps) Lanczos steps, each Ritz value smoothed by a Gaussian; log scale, clamped nine decades below the peak). "
                        + "The bulk near 0 holds almost all of the d eigenvalues; the few outliers to the right (weight ~1/d each) are the top eigenvalues λ_1 ≈ λ_max of the tables. d·(mean of the density) is the SLQ trace.")
        }

        // The runs: each one's final values and status.
        func topEigenvalues(_ run: String) -> String {
            let vals = (spectra?.rows ?? []).filter { config.runName(ofRow: $0) == run }.compactMap { Double($0["eigenvalue"] ?? "") }
            return vals.isEmpty ? "—" : vals.map { String(format: "%.4g", $0) }.joined(separator: ", ")
        }
        var status: [String: String] = [:]
        func epochsOf(_ r: StudyRun) -> Int { (try? config.training(for: r).epochs) ?? config.training.epochs }
        let runHeader = ["run", "seed", "epochs", "train loss", "train acc. (%)", "test acc. (%)", "gap (pp)", "λ_max", "S_ε^max", "S_ε^mean", "trace (± SE)", "top Lanczos eigenvalues", "status"]
        var runTable: [[String]] = []
        for r in runs {
            let n = r.name, stopped = failures[n]
            guard let v = values.first(where: { $0.run == n }) else {
                status[n] = stopped.map { "stopped: " + $0 } ?? "not started"
                runTable.append([n, String(r.seed), "0/\(epochsOf(r))", "—", "—", "—", "—", "—", "—", "—", "—", "—", status[n]!])
                continue
            }
            let last = rows(n).last ?? [:]
            status[n] = stopped.map { "stopped: " + $0 } ?? (!v.finished ? "in progress" : (v.hasFinalProbes ? "complete" : "final probes not done"))
            runTable.append([n, String(r.seed), "\(v.epoch)/\(epochsOf(r))", fmt(v["train_loss"]), fmt(v["train_accuracy"], "%.2f"), fmt(v["test_accuracy"], "%.2f"),
                             fmt(v["gap"], "%.2f"), fmt(v["lambda_max"]), fmt(v["sharpness_max"], "%.3g"), fmt(v["sharpness_mean"], "%.3g"),
                             fmt(v["trace"]) + " ± " + fmt(Double(last["trace_stderr"] ?? "") ?? .nan, "%.2g"), topEigenvalues(n), status[n]!])
        }
        let unfinished = runs.filter { status[$0.name] != "complete" }.map { "\($0.name) (\(status[$0.name]!))" }

        // Final values over seeds: every quantity of the finished runs, per configuration.
        let quantities = aggregateQuantities(metrics: metrics, finals: finals, values: finished)
        func summary(_ configuration: String, _ id: String) -> Statistics.Summary {
            Statistics.summary(finished.filter { $0.configuration == configuration }.compactMap { $0.values[id] })
        }
        let aggregateHeader = ["quantity"] + names
        var aggregateTable = [["runs finished (n)"] + names.map { n in "\(finished.filter { $0.configuration == n }.count) of \(runsOf(n).count)" }]
        var aggregateCSV = CSVTable(columns: ["model", "regime", "quantity", "n", "non_finite", "mean", "sd", "min", "max"], rows: [])
        for q in quantities {
            aggregateTable.append([q.label] + names.map { cell(summary($0, q.id), q.format) })
            for m in config.models {
                for r in config.regimes {
                    let s = summary(StudyConfiguration.configurationName(model: m.name, regime: r), q.id)
                    guard s.count + s.nonFinite > 0 else { continue }
                    aggregateCSV.rows.append(["model": m.name, "regime": r, "quantity": q.id, "n": String(s.count), "non_finite": String(s.nonFinite),
                                              "mean": "\(s.mean)", "sd": "\(s.standardDeviation)", "min": "\(s.minimum)", "max": "\(s.maximum)"])
                }
            }
        }

        // The regimes side by side.
        let regimeHeader = ["model", "regime", "batch", "η₀", "n", "λ_max", "λ_max·η₀/2", "S_ε^max", "Keskar sharpness", "smooth radius / ε", "trace", "gap (pp)"]
        var regimeTable: [[String]] = []
        for m in config.models {
            for r in config.regimes {
                let c = StudyConfiguration.configurationName(model: m.name, regime: r)
                let eta = config.resolvedRegime(r, model: m).learningRate
                let mine = finished.filter { $0.configuration == c }
                let relative = Statistics.summary(mine.map { $0["lambda_max"] * eta / 2 })
                let smooth = Statistics.summary(mine.compactMap { $0.values["final.validity_random_smooth_median"].map { $0 / config.epochProbes.sharpnessEpsilon } })
                regimeTable.append([m.name, r, String(config.resolvedRegime(r).batchSize), "\(eta)", String(mine.count),
                                    cell(summary(c, "lambda_max"), "%.4g", range: false), cell(relative, "%.3g", range: false),
                                    cell(summary(c, "sharpness_max"), "%.3g", range: false), cell(summary(c, "final.keskar_sharpness"), "%.3g", range: false),
                                    cell(smooth, "%.3g", range: false), cell(summary(c, "trace"), "%.4g", range: false), cell(summary(c, "gap"), "%.2f", range: false)])
            }
        }

        // Timings, per configuration summed over its runs.
        let timeHeader = ["configuration", "runs", "training (s)", "evaluation (s)", "λ_max (s)", "sharpness (s)", "trace (s)", "other probes (s)", "final probes (s)", "total (s)", "probes share"]
        var timeTable: [[String]] = []
        var totals = Array(repeating: 0.0, count: 7)
        let named = ["train_seconds", "evaluation_seconds", "lambda_seconds", "sharpness_seconds", "trace_seconds"]
        for n in names {
            let mine = runsOf(n).filter { !rows($0.name).isEmpty }
            guard !mine.isEmpty else { continue }
            let r = mine.flatMap { rows($0.name) }
            func sum(_ c: String) -> Double { r.reduce(0) { $0 + (Double($1[c] ?? "") ?? 0) } }
            let other = metrics.columns.filter { $0.hasSuffix("_seconds") && !named.contains($0) }.reduce(0.0) { $0 + sum($1) }
            let fin = (finals?.rows ?? []).filter { row in mine.contains { $0.name == config.runName(ofRow: row) } }
            let finalSeconds = (finals?.columns ?? []).filter { $0.hasSuffix("_seconds") }.reduce(0.0) { t, c in fin.reduce(t) { $0 + (Double($1[c] ?? "").flatMap { $0.isFinite ? $0 : nil } ?? 0) } }
            let parts = named.map(sum) + [other, finalSeconds]
            for k in 0..<parts.count { totals[k] += parts[k] }
            let total = parts.reduce(0, +)
            timeTable.append([n, String(mine.count)] + parts.map { String(format: "%.1f", $0) } + [String(format: "%.1f", total), String(format: "%.0f %%", 100 * parts[2...].reduce(0, +) / max(total, 1e-9))])
        }
        let grand = totals.reduce(0, +)
        timeTable.append(["**all**", String(runs.filter { !rows($0.name).isEmpty }.count)] + totals.map { String(format: "%.1f", $0) }
                         + [String(format: "%.1f (%.1f min)", grand, grand / 60), String(format: "%.0f %%", 100 * totals[2...].reduce(0, +) / max(grand, 1e-9))])
        // S_ε against ½ε²λ_max (the worst direction) and ½ε²·tr(H)/d (a random direction's mean curvature).
        let eps = config.epochProbes.sharpnessEpsilon
        let quadraticHeader = ["run", "d", "S_ε^mean", "½ε²·tr/d", "S_ε^max", "½ε²λ_max", "S_ε^mean / ½ε²λ_max"]
        let quadraticRows: [[String]] = finished.map { v in
            let d = parameterCounts[v.model].map(Double.init) ?? .nan
            let half = 0.5 * eps * eps
            return [v.run, d.isFinite ? String(Int(d)) : "—", fmt(v["sharpness_mean"], "%.3g"), fmt(half * v["trace"] / d, "%.3g"),
                    fmt(v["sharpness_max"], "%.3g"), fmt(half * v["lambda_max"], "%.3g"), fmt(v["sharpness_mean"] / (half * v["lambda_max"]), "%.2g")]
        }
        let traceNote = "Hutchinson (metrics.csv `trace`, every epoch): the mean of zᵀHz over \(config.epochProbes.traceProbes) Rademacher probes z; unbiased, with the standard error s/√m shown beside it in the runs table (trust it to about ±2 standard errors). "
            + "Hutch++ (`landscape probe`; Meyer, Musco, Musco & Woodruff 2021): spends a third of its products on a sketch of the top eigen-directions, takes their trace exactly and runs Hutchinson on the rest; its standard error covers that Hutchinson part only. When a few large eigenvalues dominate it has a much smaller error at the same cost, otherwise it matches Hutchinson. "
            + "SLQ d·mean (final.csv `slq_trace`): d times the mean of the SLQ density. Gauss quadrature is exact for the first moment, so it equals Hutchinson's estimate with the SLQ's \(config.finalProbes.slqProbes) normalized Rademacher probe\(config.finalProbes.slqProbes == 1 ? "" : "s"), and it comes with no error bar: with few probes it is the least reliable of the three. "
            + "Which to trust: Hutchinson with its standard error (or Hutch++ where measured); read SLQ's density for its shape, not its trace. The three agree within their errors when nothing is wrong; a disagreement far beyond them points at an unconverged probe or too few probes."
        let claims = paperClaims(finished, configuration: config)

        var md = "# Study summary: \(datasetName)\n\n"
        var intro: [String] = []
        var line = "Models \(config.models.map { m in "\(m)" + (parameterCounts[m.name].map { " (\(Self.grouped($0)) parameters)" } ?? "") }.joined(separator: ", ")) × regimes " + config.regimes.map { r in
            let s = config.resolvedRegime(r), extra = config.regimeSettings[r]
            let rates = config.models.map { config.resolvedRegime(r, model: $0).learningRate }
            let rateText = Set(rates).count == 1 ? "η₀ = \(rates[0]), η₀/B = \(String(format: "%.2g", rates[0] / Double(s.batchSize)))"
                : zip(config.models, rates).map { "η₀ = \($1) for the \($0.name) (η₀/B = \(String(format: "%.2g", $1 / Double(s.batchSize))))" }.joined(separator: ", ")
            var text = "\(r) (batch \(s.batchSize), \(rateText)"
            if let e = extra?.epochs { text += extra?.stopping == nil ? ", \(e) epochs" : ", at most \(e) epochs" }
            if let w = extra?.warmupEpochs, w > 0 { text += ", \(w) epochs of linear warm-up" }
            if let stop = extra?.stopping {
                text += ", until " + stop.targets
            }
            return text + ")"
        }.joined(separator: ", ")
        line += " × " + (config.seeds.map { "seed\($0.count == 1 ? "" : "s") \($0.map(String.init).joined(separator: ", ")) (each configuration trained once per seed: \(runs.count) run\(runs.count == 1 ? "" : "s"))" } ?? "seed \(config.training.seed) (one run per configuration)")
        line += "; momentum \(config.training.optimizer.momentum), \(config.training.schedule) schedule, \(config.training.epochs) epoch\(config.training.epochs == 1 ? "" : "s") (where a regime sets none), weight decay \(config.training.optimizer.weightDecay)"
        if config.training.optimizer.nesterov { line += ", Nesterov momentum" }
        if let clip = config.training.optimizer.gradientClipNorm { line += ", gradients clipped to global norm \(clip)" }
        intro.append(line + ".")
        line = ""
        if let tr = dataInfo["train"], let va = dataInfo["validation"], let te = dataInfo["test"] { line += "Data: \(datasetName), \(tr) train / \(va) validation / \(te) test samples. " }
        if let ob = info["openblas"] as? [String: Any] { line += "OpenBLAS kernel \(ob["kernel"] ?? "?"), \(ob["threads"] ?? "?") threads." }
        if !line.isEmpty { intro.append(line.trimmingCharacters(in: .whitespaces)) }
        let probeCount = min(config.training.probes.probeSamples, trainCount ?? config.training.probes.probeSamples)
        line = "λ_max: power iteration on the first \(probeCount) training samples (warm-started each epoch); "
        line += "S_ε over \(config.epochProbes.sharpnessDirections) random unit directions, ε = \(config.epochProbes.sharpnessEpsilon), in \(config.epochProbes.sharpnessPrecision); "
        line += "trace: Hutchinson with \(config.epochProbes.traceProbes) Rademacher probes. Accuracies are full-split evaluations after the epoch; gap = train − test accuracy."
        intro.append(line)
        if let limit = config.training.data.trainLimit, let tr = trainCount, tr <= limit {
            intro.append("This is a subset run (trainLimit \(limit), e.g. `--preset quick`): a first look, not the study's protocol, which trains on all 55,000 samples.")
        }
        for r in config.regimes {
            guard config.regimeSettings[r] != nil, let tr = trainCount else { continue }
            let s = config.resolvedRegime(r)
            let epochs = (try? config.training(model: config.models[0], regime: r).epochs) ?? config.training.epochs
            let (product, overflow) = (tr / s.batchSize + (tr % s.batchSize == 0 ? 0 : 1)).multipliedReportingOverflow(by: epochs)
            let steps = overflow ? "more than \(Int.max)" : String(product)
            let stuck = values.filter { $0.regime == r && $0["train_accuracy"] < 50 }
            if !stuck.isEmpty {
                intro.append("Warning: \(stuck.map(\.run).joined(separator: ", ")) did not learn (train accuracy \(stuck.map { String(format: "%.1f %%", $0["train_accuracy"]) }.joined(separator: ", "))): \(r) takes only \(steps) SGD steps of batch \(s.batchSize) on \(tr) samples in \(epochs) epoch\(epochs == 1 ? "" : "s"), so its curvature describes a barely trained network.")
            }
        }
        md += intro.joined(separator: "\n") + "\n\n"
        let missingText = unfinished.isEmpty ? "All \(runs.count) run\(runs.count == 1 ? " is" : "s are") complete." : "Missing or incomplete runs (\(unfinished.count) of \(runs.count)): \(unfinished.joined(separator: "; ")). The tables and figures show the rest; the values over seeds use the runs that finished training, the per-epoch figures every run that reached the epoch."
        md += "## Runs\n\n" + missingText + "\n\n" + Markdown.table(runHeader, runTable) + "\n"
        let aggregateText = "Mean ± sample standard deviation (n − 1; — for one run) [min, max] over the runs of each configuration that finished training (n); the same numbers in full precision are in aggregate.csv. Quantities are at the last epoch (metrics.csv) or the final θ (final.csv columns in `code`; Lanczos and Gauss–Newton eigenvalues by rank)."
        md += "## Final values over seeds\n\n" + aggregateText + "\n\n" + Markdown.table(aggregateHeader, aggregateTable) + "\n"
        let regimeText = "Per model and regime, mean ± sample standard deviation over the finished runs (n). λ_max·η₀/2 is the sharpness in units of gradient descent's stability limit 2/η at the regime's peak learning rate η₀ (1 at the edge of stability); for SGD with heavy-ball momentum μ the limit is 2(1+μ)/η, i.e. λ_max·η₀/2 = 1 + μ. Keskar sharpness is final.csv's `keskar_sharpness` (— when the study did not measure it). Smooth radius / ε is final.csv's `validity_random_smooth_median` (the median over sharpness's first directions — the same seed — of the distance to the nearest change of the activation pattern or a pooling argmax) in units of the sharpness radius ε: below 1, S_ε measures beyond the region where the loss is smooth and ½ε²λ_max cannot predict it (— when the study did not measure it)."
        md += "## Regimes side by side\n\n" + regimeText + "\n\n" + Markdown.table(regimeHeader, regimeTable) + "\n"
        md += "## Sharpness against its quadratic predictions\n\n" + quadraticTableNote + "\n\n" + Markdown.table(quadraticHeader, quadraticRows) + "\n"
        md += "## Three estimates of the trace\n\n" + traceNote + "\n\n"
        md += "## Time (seconds)\n\n" + Markdown.table(timeHeader, timeTable) + "\n"
        md += "Summed over each configuration's runs. Probes = λ_max + sharpness + trace (+ other epoch probes) every epoch, and the final Lanczos, SLQ, slice, sharpness precision check, per-layer blocks, Gauss–Newton eigenvalues and extra final probes.\n\n"
        var precisionHeader: [String] = [], precisionRows: [[String]] = []
        if let finals, finals.columns.contains("sharpness_mean_float64") {
            md += "Sharpness precision check at the final θ (the same \(config.epochProbes.sharpnessDirections) directions, ε = \(config.epochProbes.sharpnessEpsilon)):\n\n"
            for r in finals.rows {
                let m32 = Double(r["sharpness_mean_float32"] ?? "") ?? .nan, m64 = Double(r["sharpness_mean_float64"] ?? "") ?? .nan
                let x32 = Double(r["sharpness_max_float32"] ?? "") ?? .nan, x64 = Double(r["sharpness_max_float64"] ?? "") ?? .nan
                precisionRows.append([config.runName(ofRow: r), fmt(m64, "%.4g"), fmt(m32, "%.4g"), fmt(abs(m32 - m64), "%.2g"),
                                      fmt(x64, "%.4g"), fmt(x32, "%.4g"), fmt(abs(x32 - x64), "%.2g")])
            }
            precisionHeader = ["run", "S_mean Float64", "S_mean Float32", "|difference|", "S_max Float64", "S_max Float32", "|difference|"]
            md += Markdown.table(precisionHeader, precisionRows) + "\n"
        }
        // The per-sample curvature along the λ_max eigenvector (final.csv, when finalProbes.extraFinalProbes has per_sample_curvature).
        let perSampleHeader = ["run", "mean uᵀHᵢu", "top 1 % share", "top 10 % share", "negative fraction", "class with the largest mean"]
        var perSampleRows: [[String]] = []
        if let finals, finals.columns.contains("per_sample_curvature_mean") {
            for r in finals.rows {
                func v(_ c: String) -> Double { Double(r[c] ?? "") ?? .nan }
                perSampleRows.append([config.runName(ofRow: r), fmt(v("per_sample_curvature_mean"), "%.4g"), fmt(v("per_sample_top1_share"), "%.3g"),
                                      fmt(v("per_sample_top10_share"), "%.3g"), fmt(v("per_sample_negative_fraction"), "%.3g"),
                                      "\(r["per_sample_max_class"] ?? "—") (\(fmt(v("per_sample_max_class_mean"), "%.4g")))"])
            }
            md += "## Per-sample curvature at the final θ\n\nAlong the λ_max eigenvector u (probe set; one forward jet pass of order 2): the mean of uᵀHᵢu is uᵀHu; a share is the sum of the largest 1 % (10 %) of the uᵀHᵢu over their total:\n\n"
            md += Markdown.table(perSampleHeader, perSampleRows) + "\n"
        }
        var curvatureHeader: [String] = [], curvatureRows: [[String]] = []
        let moduleHeader = ["configuration", "module", "parameters", "n", "λ_max", "trace ± se"]
        var moduleRows: [[String]] = []
        if let layers {
            for name in names {
                let mine = Set(finished.filter { $0.configuration == name }.map(\.run))
                let rows = layers.rows.filter { mine.contains(config.runName(ofRow: $0)) }
                guard !rows.isEmpty else { continue }
                var order: [String] = []
                for r in rows where !order.contains(r["layer"] ?? "?") { order.append(r["layer"] ?? "?") }
                for module in order {
                    let lr = rows.filter { ($0["layer"] ?? "?") == module }
                    let lambda = Statistics.summary(lr.map { Double($0["lambda_max"] ?? "") ?? .nan }), trace = Statistics.summary(lr.map { Double($0["trace"] ?? "") ?? .nan })
                    // The Hutchinson error of the mean of the runs' independent estimates: √(Σ se_i²)/n.
                    let errors = lr.compactMap { Double($0["trace_stderr"] ?? "") }.filter(\.isFinite)
                    let se = errors.isEmpty ? Double.nan : errors.reduce(0) { $0 + $1 * $1 }.squareRoot() / Double(errors.count)
                    moduleRows.append([name, module, lr.first?["parameters"] ?? "—", String(lr.count),
                                       fmt(lambda.mean, "%.4g") + (lr.allSatisfy { $0["lambda_max_converged"] == "1" } ? "" : "*"),
                                       "\(fmt(trace.mean, "%.4g")) ± \(fmt(se, "%.2g"))"])
                }
                let top = (1...max(1, config.finalProbes.lanczosCount)).compactMap { k -> String? in
                    let s = summary(name, "ggn.\(k)")
                    return s.count > 0 ? fmt(s.mean, "%.4g") : nil
                }.joined(separator: ", ")
                curvatureRows.append([name, String(mine.count), top.isEmpty ? "—" : top])
            }
            curvatureHeader = ["configuration", "n", "Gauss–Newton top eigenvalues"]
            md += "## Curvature per module and the Gauss–Newton matrix (final θ, probe set)\n\n"
            md += "Means over the n finished runs (spreads in layers.csv). A module is a parameterized layer, or a part of a transformer block (its attention, its MLP, its norms). λ_max of each module's diagonal Hessian block by \(StudyRunner.layerLanczosSteps) Lanczos steps (* not converged to 1e-6 in some run); its trace from the \(config.epochProbes.traceProbes) Hutchinson probes of the whole Hessian split by block, ± the Hutchinson standard error of the mean over the runs (√(Σ se²)/n; seed-to-seed spread not included).\n\n"
            md += Markdown.table(moduleHeader, moduleRows) + "\n"
            md += "The GGN Jᵀ∇²ℓJ is PSD and, for a network near a minimum, close to the Hessian's top:\n\n"
            md += Markdown.table(curvatureHeader, curvatureRows) + "\n"
        }
        let claimsText = "The claims below are those of the study this project reproduces, as stated by the source paper of the MNIST geometry study (Soni 2025, §7)\(datasetName == "MNIST" ? "" : "; they are about MNIST and are checked on \(datasetName) for comparison only"). "
            + "Each is checked on every finished run: a comparison of two regimes pairs the runs of one seed; values are mean ± sample standard deviation over seeds. "
            + "Rank correlations are Spearman's ρ over all finished runs (ties by average ranks) with a percentile-bootstrap 95 % interval: \(bootstrapResamples) resamples of the runs with replacement, seed \(bootstrapSeed), those whose ρ is undefined (all values tied) left out. "
            + "A \"no\" reports a measured difference, not an error."
        md += "## The source paper's claims, checked on these numbers\n\n" + claimsText + "\n\n" + claims.map { "- \($0)" }.joined(separator: "\n") + "\n"
        try AtomicFile.write(md, to: directory.appendingPathComponent("summary.md"))
        written.append(directory.appendingPathComponent("summary.md"))

        var html = HTML.pageStart(title: "Landscape study: \(datasetName)")
        html += "<h1>Landscape study: \(HTML.escape(datasetName))</h1>\n"
        func paragraph(_ text: String) -> String { HTML.paragraph(text) }
        html += intro.map(paragraph).joined()
        html += "<h2>Runs</h2>\n" + paragraph(missingText) + HTML.table(runHeader, runTable)
        html += "<h2>Final values over seeds</h2>\n" + paragraph(aggregateText) + HTML.table(aggregateHeader, aggregateTable)
        html += "<h2>Regimes side by side</h2>\n" + paragraph(regimeText) + HTML.table(regimeHeader, regimeTable)
        html += "<h2>Figures</h2>\n" + HTML.paragraph(SVGPlot.lineStyleConvention + " Colours are configurations (the same in every figure).", class: "note")
        func figureHTML(_ f: String) -> String? { svgOf[f].map { HTML.figure(name: f, svg: $0, caption: captions[f] ?? "") } }
        html += HTML.figureGrid(["loss.svg", "accuracy.svg", "lambda-max.svg", "batch-sharpness.svg", "lambda-steps.svg", "sharpness-max.svg", "gap-vs-lambda.svg", "density.svg"].compactMap(figureHTML))
        html += "<h2>Sharpness against its quadratic predictions</h2>\n" + HTML.paragraph(quadraticTableNote) + HTML.table(quadraticHeader, quadraticRows)
        html += "<h2>Three estimates of the trace</h2>\n" + HTML.paragraph(traceNote)
        if !sliceFigures.isEmpty {
            html += "<h2>Final 2D slices</h2>\n" + HTML.figureGrid(sliceFigures.compactMap(figureHTML))
        }
        html += "<h2>Time (seconds)</h2>\n" + HTML.table(timeHeader, timeTable.map { $0.map { $0.replacingOccurrences(of: "**", with: "") } })
        if !perSampleRows.isEmpty {
            html += "<h2>Per-sample curvature at the final θ</h2>\n" + HTML.table(perSampleHeader, perSampleRows)
        }
        if !precisionRows.isEmpty {
            html += "<h2>Sharpness precision check at the final θ</h2>\n" + HTML.table(precisionHeader, precisionRows)
        }
        if !curvatureRows.isEmpty {
            html += "<h2>Curvature per module and the Gauss–Newton matrix</h2>\n" + HTML.table(moduleHeader, moduleRows) + HTML.table(curvatureHeader, curvatureRows)
        }
        html += "<h2>The source paper's claims, checked on these numbers</h2>\n" + paragraph(claimsText) + "<ul>\n" + claims.map { "<li>\(HTML.rich($0))</li>" }.joined(separator: "\n") + "\n</ul>\n"
        html += "<p>Data files: metrics.csv, final.csv, spectra.csv, ggn-spectra.csv, layers.csv, aggregate.csv, slices/, densities/; checkpoints in runs/. Regenerate with <code>landscape report DIR</code>.</p>\n" + HTML.pageEnd
        try AtomicFile.write(html, to: directory.appendingPathComponent("report.html"))
        written.append(directory.appendingPathComponent("report.html"))
        try AtomicFile.write(aggregateCSV.text, to: directory.appendingPathComponent("aggregate.csv"))
        written.append(directory.appendingPathComponent("aggregate.csv"))
        return Written(files: written, unfinishedRuns: unfinished)
    }

    /// The study's CSV files with rows per run, and the columns beside model, regime and seed that
    /// make a row unique.
    static let runKeyedFiles: [(file: String, key: [String])] = [("metrics.csv", ["epoch"]), ("final.csv", []), ("spectra.csv", ["rank"]),
                                                                 ("ggn-spectra.csv", ["rank"]), ("layers.csv", ["layer"])]

    /// Checks that every row of these files names its run: with ``StudyConfiguration/seeds`` a
    /// `seed` column whose values are the study's seeds, and each run's row at most once per key, so
    /// that no row is counted for another run or twice.
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` naming the file, the line and the value.
    static func checkRunKeys(in directory: URL, config: StudyConfiguration, files: [(file: String, key: [String])]) throws {
        for (file, key) in files {
            let url = directory.appendingPathComponent(file)
            guard let table = try CSVTable.readIfPresent(url), !table.rows.isEmpty else { continue }
            func bad(_ reason: String) -> StudyError { StudyError.corruptFile(path: url.path, reason: reason) }
            if let seeds = config.seeds {
                guard table.columns.contains("seed") else {
                    throw bad("has no column 'seed', which tells the runs of a study with seeds (\(seeds.map(String.init).joined(separator: ", "))) apart; restore it or delete the file to recompute it")
                }
                for (i, row) in table.rows.enumerated() {
                    let text = row["seed"] ?? ""
                    guard let seed = UInt64(text) else { throw bad("line \(i + 2): seed '\(text.prefix(40))' is not a seed (a non-negative integer)") }
                    guard seeds.contains(seed) else { throw bad("line \(i + 2): seed \(seed) is not one of the study's seeds (\(seeds.map(String.init).joined(separator: ", ")))") }
                }
            }
            var seen: [String: Int] = [:]
            for (i, row) in table.rows.enumerated() {
                let id = ([config.runName(ofRow: row)] + key.map { row[$0] ?? "" }).joined(separator: ",")
                if let first = seen[id] {
                    throw bad("lines \(first + 2) and \(i + 2) are both run \(config.runName(ofRow: row))" + (key.isEmpty ? "" : " with \(zip(key, key.map { row[$0] ?? "" }).map { "\($0) \($1)" }.joined(separator: ", "))"))
                }
                seen[id] = i
            }
        }
    }

    /// The final values of every run with at least one epoch in metrics.csv, in run order.
    static func runValues(runs: [StudyRun], config: StudyConfiguration, rows: (String) -> [[String: String]],
                          finals: CSVTable?, spectra: CSVTable?, ggn: CSVTable?) -> [RunValues] {
        runs.compactMap { r in
            guard let last = rows(r.name).last else { return nil }
            var v: [String: Double] = [:]
            for (q, value) in metricsQuantities { v[q.id] = value(last) }
            for (column, text) in last where isQuantity(column) { v[column] = Double(text) ?? .nan }
            let finalRow = finals?.rows.last(where: { config.runName(ofRow: $0) == r.name })
            // An empty field is a value the run did not measure (whole-split probes on later seeds).
            for (column, text) in finalRow ?? [:] where isQuantity(column) && !text.isEmpty { v["final." + column] = Double(text) ?? .nan }
            for (prefix, table) in [("lanczos", spectra), ("ggn", ggn)] {
                for row in table?.rows ?? [] where config.runName(ofRow: row) == r.name {
                    if let k = row["rank"] { v["\(prefix).\(k)"] = Double(row["eigenvalue"] ?? "") ?? .nan }
                }
            }
            let training = try? config.training(for: r)
            var values = RunValues(run: r.name, configuration: r.configuration, model: r.model.name, regime: r.regime, seed: r.seed,
                                   epoch: Int(last["epoch"] ?? "") ?? 0, epochs: training?.epochs ?? config.training.epochs, hasFinalProbes: finalRow != nil, values: v)
            values.stopped = training?.stopping?.reached(trainLoss: Double(last["train_loss"] ?? "") ?? .nan, trainAccuracy: Double(last["train_accuracy"] ?? "") ?? .nan) != nil
            return values
        }
    }

    /// The quantities of the table over seeds, in order: metrics.csv's (``metricsQuantities``, then
    /// its other probe columns), final.csv's, then the Lanczos and Gauss–Newton eigenvalues by rank —
    /// those some run has.
    static func aggregateQuantities(metrics: CSVTable, finals: CSVTable?, values: [RunValues]) -> [Quantity] {
        var out = metricsQuantities.map(\.0)
        out += metrics.columns.filter(isQuantity).map { Quantity(id: $0, label: "`\($0)` (last epoch)", format: "%.4g") }
        out += (finals?.columns ?? []).filter(isQuantity).map { Quantity(id: "final." + $0, label: "`\($0)`", format: "%.4g") }
        let ranks = Set(values.flatMap(\.values.keys))
        for (prefix, label) in [("lanczos", "Hessian λ_"), ("ggn", "Gauss–Newton λ_")] {
            var k = 1
            while ranks.contains("\(prefix).\(k)") { out.append(Quantity(id: "\(prefix).\(k)", label: "\(label)\(k)", format: "%.4g")); k += 1 }
        }
        return out.filter { q in values.contains { $0.values[q.id] != nil } }
    }

    /// A verdict from the count of runs (or seeds) where a claim holds: "yes: holds in 3 of 3
    /// seeds" (all), "no: holds in 0 of 3 seeds" (none), "mixed: holds in 2 of 3 seeds", "cannot
    /// tell" (no finite values).
    static func verdict(_ k: Int, of n: Int, _ unit: String) -> String {
        if n == 0 { return "cannot tell (no finite values)" }
        let word = k == n ? "yes" : (k == 0 ? "no" : "mixed")
        return "\(word): holds in \(k) of \(n) \(n == 1 ? String(unit.dropLast()) : unit)"
    }

    /// The source paper's claims (Soni 2025, §7) as sentences with the numbers over seeds and a
    /// verdict from the spread ("cannot tell" when values are missing or not finite). Claims
    /// comparing the paper's two regimes, `high-noise` and `low-noise`, pair the runs of one seed.
    /// The relation between the generalization gap and λ_max is Spearman's ρ over all runs with a
    /// percentile bootstrap 95 % interval (``Statistics``).
    static func paperClaims(_ allRuns: [RunValues], configuration config: StudyConfiguration) -> [String] {
        var out: [String] = []
        // The paper's claims are about its regimes; controls that train to a target (a stopping
        // rule, e.g. low-noise-matched) are checked only in their own claim below.
        let runs = allRuns.filter { config.regimeSettings[$0.regime]?.stopping == nil }
        func of(_ model: String, _ regime: String) -> [RunValues] { runs.filter { $0.model == model && $0.regime == regime } }
        func ofAll(_ model: String, _ regime: String) -> [RunValues] { allRuns.filter { $0.model == model && $0.regime == regime } }
        func ms(_ rs: [RunValues], _ id: String, _ f: String = "%.4g", scale: Double = 1) -> String { cell(Statistics.summary(rs.map { scale * $0[id] }), f, range: false) }
        func finite(_ v: Double...) -> Bool { v.allSatisfy(\.isFinite) }
        // Runs of two regimes of a model, paired by seed.
        func pairs(_ model: String) -> [(high: RunValues, low: RunValues)] {
            of(model, "high-noise").compactMap { h in of(model, "low-noise").first { $0.seed == h.seed }.map { (h, $0) } }
        }
        let models = config.models.map(\.name)
        let specs = Dictionary(config.models.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        if models.contains("cnn") {
            let cnn = runs.filter { $0.model == "cnn" }
            let known = cnn.filter { $0["test_accuracy"].isFinite }
            if !cnn.isEmpty {
                out.append("CNN test accuracy above 99 %: \(verdict(known.filter { $0["test_accuracy"] > 99 }.count, of: known.count, "runs")) ("
                           + config.regimes.compactMap { r in of("cnn", r).isEmpty ? nil : "cnn-\(r) \(ms(of("cnn", r), "test_accuracy", "%.2f")) %" }.joined(separator: ", ") + ")")
            }
        }
        for model in models {
            let p = pairs(model)
            guard !p.isEmpty else { continue }
            let lambda = p.filter { finite($0.low["lambda_max"], $0.high["lambda_max"]) }
            out.append("\(model.uppercased()): low-noise ends sharper (larger λ_max) than high-noise: \(verdict(lambda.filter { $0.low["lambda_max"] > $0.high["lambda_max"] }.count, of: lambda.count, "seeds")) "
                       + "(λ_max \(ms(p.map(\.low), "lambda_max")) vs \(ms(p.map(\.high), "lambda_max")))")
            let both = p.filter { finite($0.low["lambda_max"], $0.high["lambda_max"], $0.low["sharpness_max"], $0.high["sharpness_max"]) }
            out.append("\(model.uppercased()): S_ε^max ordered as λ_max: \(verdict(both.filter { ($0.low["lambda_max"] > $0.high["lambda_max"]) == ($0.low["sharpness_max"] > $0.high["sharpness_max"]) }.count, of: both.count, "seeds")) "
                       + "(S_ε^max low-noise \(ms(p.map(\.low), "sharpness_max", "%.4g")), high-noise \(ms(p.map(\.high), "sharpness_max", "%.4g")))")
        }
        // The control: batch size at matched training accuracy (a regime that trains to a target
        // train accuracy, e.g. low-noise-matched), against high-noise, paired by seed, counting only
        // seeds where both runs reached the target.
        for regime in config.regimes where regime != "high-noise" {
            guard let target = config.regimeSettings[regime]?.stopping?.trainAccuracy else { continue }
            for model in models {
                let p = of(model, "high-noise").compactMap { h in ofAll(model, regime).first { $0.seed == h.seed }.map { (high: h, low: $0) } }
                guard !p.isEmpty else { continue }
                let matched = p.filter { finite($0.low["lambda_max"], $0.high["lambda_max"]) && $0.low["train_accuracy"] >= 100 * target && $0.high["train_accuracy"] >= 100 * target }
                out.append("\(model.uppercased()): at matched training accuracy (\(regime) trained to ≥ \(String(format: "%g", 100 * target)) % train accuracy), large-batch SGD ends sharper than high-noise: "
                           + "\(verdict(matched.filter { $0.low["lambda_max"] > $0.high["lambda_max"] }.count, of: matched.count, "seeds with both runs at the target")) "
                           + "(λ_max \(ms(p.map(\.low), "lambda_max")) vs \(ms(p.map(\.high), "lambda_max")); train accuracy \(ms(p.map(\.low), "train_accuracy", "%.2f")) % vs \(ms(p.map(\.high), "train_accuracy", "%.2f")) %, "
                           + "\(regime) epochs \(cell(Statistics.summary(p.map { Double($0.low.epoch) }), "%.3g", range: false)); λ_max·η₀/2 \(ms(p.map(\.low), "lambda_max", "%.3g", scale: config.resolvedRegime(regime, model: specs[model]).learningRate / 2)) "
                           + "vs \(ms(p.map(\.high), "lambda_max", "%.3g", scale: config.resolvedRegime("high-noise", model: specs[model]).learningRate / 2)))")
            }
        }
        let cnnLow = of("cnn", "low-noise"), cnnHigh = of("cnn", "high-noise")
        if !cnnLow.isEmpty || !cnnHigh.isEmpty {
            let low = cnnLow.filter { $0["lambda_max"].isFinite }, high = cnnHigh.filter { $0["lambda_max"].isFinite }
            let inRange = low.filter { $0["lambda_max"] > 100 }.count + high.filter { $0["lambda_max"] >= 5 && $0["lambda_max"] <= 15 }.count
            out.append("CNN λ_max in the paper's ranges (low-noise > 100, high-noise ≈ 5–15): \(verdict(inRange, of: low.count + high.count, "runs")) "
                       + "(low-noise \(ms(cnnLow, "lambda_max")), high-noise \(ms(cnnHigh, "lambda_max")))")
        }
        // Across all configurations: per seed, do S_ε^max and λ_max order the configurations alike?
        let names = config.configurationNames.filter { n in config.runs.contains { $0.configuration == n && config.regimeSettings[$0.regime]?.stopping == nil } }
        if names.count >= 3 {
            let seeds = config.runSeeds.filter { s in names.allSatisfy { n in runs.contains { $0.configuration == n && $0.seed == s && finite($0["lambda_max"], $0["sharpness_max"]) } } }
            let agree = seeds.filter { s in
                let mine = names.compactMap { n in runs.first { $0.configuration == n && $0.seed == s } }
                return mine.sorted { $0["lambda_max"] < $1["lambda_max"] }.map(\.configuration) == mine.sorted { $0["sharpness_max"] < $1["sharpness_max"] }.map(\.configuration)
            }
            func mean(_ n: String, _ id: String) -> Double { Statistics.summary(runs.filter { $0.configuration == n }.map { $0[id] }).mean }
            let present = names.filter { n in runs.contains { $0.configuration == n } }
            let byLambda = present.sorted { mean($0, "lambda_max") < mean($1, "lambda_max") }, bySharp = present.sorted { mean($0, "sharpness_max") < mean($1, "sharpness_max") }
            let rho = Statistics.spearman(runs.map { $0["lambda_max"] }, runs.map { $0["sharpness_max"] })
            let ci = Statistics.spearmanBootstrap(runs.map { $0["lambda_max"] }, runs.map { $0["sharpness_max"] }, resamples: bootstrapResamples, seed: bootstrapSeed)
            out.append("Across all configurations, S_ε^max ranks them as λ_max does: \(verdict(agree.count, of: seeds.count, "seeds")) (means: λ_max \(byLambda.joined(separator: " < ")); S_ε^max \(bySharp.joined(separator: " < ")); "
                       + "over all runs \(correlation(rho, ci, runs: runs.filter { finite($0["lambda_max"], $0["sharpness_max"]) }.count)))")
        }
        if !runs.isEmpty {
            let known = runs.filter { $0["gap"].isFinite }
            out.append("Generalization gaps under one percentage point: \(verdict(known.filter { abs($0["gap"]) < 1 }.count, of: known.count, "runs")) ("
                       + names.compactMap { n in runs.contains { $0.configuration == n } ? "\(n) \(ms(runs.filter { $0.configuration == n }, "gap", "%.2f"))" : nil }.joined(separator: ", ") + ")")
            let lambdas = runs.map { $0["lambda_max"] }, gaps = runs.map { $0["gap"] }
            let rho = Statistics.spearman(lambdas, gaps)
            let ci = Statistics.spearmanBootstrap(lambdas, gaps, resamples: bootstrapResamples, seed: bootstrapSeed)
            let n = runs.filter { finite($0["lambda_max"], $0["gap"]) }.count
            let sign: String
            if let ci, rho.isFinite {
                sign = ci.lower > 0 ? "positive: sharper runs have larger gaps" : (ci.upper < 0 ? "negative: sharper runs have smaller gaps" : "no monotone relation resolved (the interval contains 0)")
            } else {
                sign = "cannot tell (fewer than 3 runs with finite values, or all tied)"
            }
            out.append("Generalization gap vs final λ_max (sharper minima generalize worse would make it positive): \(sign) (\(correlation(rho, ci, runs: n)))")
        }
        return out
    }

    /// "Spearman ρ = 0.43 over 12 runs, 95 % interval [-0.20, 0.90]", with a caution for fewer
    /// than 10 runs (a percentile bootstrap of few values is too narrow).
    static func correlation(_ rho: Double, _ ci: Statistics.Interval?, runs n: Int) -> String {
        guard rho.isFinite else { return "Spearman ρ undefined over \(n) run\(n == 1 ? "" : "s")" }
        let interval = ci.map { String(format: ", 95 %% interval [%.2f, %.2f]", $0.lower, $0.upper) + (n < 10 ? " (few runs: a rough interval)" : "") } ?? ""
        return String(format: "Spearman ρ = %.2f", rho) + " over \(n) runs" + interval
    }
}

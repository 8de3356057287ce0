import Checkpoints
import Foundation
import Plotting
import Training

/// The report of one training run (a `landscape train` directory: run.json, metrics.csv,
/// checkpoints; `landscape report RUN_DIR`), in the study report's page style: loss and accuracy
/// per epoch on each split (one line style per split, ``/Plotting/SVGPlot/LineStyle``), λ_max with the
/// stability limit, λ_max every K steps (steps.csv) and the step curvature
/// (step-curvature.csv) where the run recorded them, and the table of its epochs. Writes
/// figures/*.svg and report.html in the run directory; reads nothing but its files.
public enum RunReport {
    /// Whether `directory` holds a training run (its run.json) rather than a study (config.json).
    public static func isRun(_ directory: URL) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(RunStore.runInfoName).path)
            && !FileManager.default.fileExists(atPath: directory.appendingPathComponent("config.json").path)
    }

    /// What run.json says about the run: its configuration as ``/Training/RunStore/recordedRun(in:)``
    /// reads it (either form, the current or the flat one of earlier versions, with the length of
    /// its last extension, `train --resume DIR --epochs N`) and its data record.
    struct Info {
        var configuration: TrainingConfiguration
        var dataset = "MNIST"
        var samples: [String: Any] = [:]
    }

    /// - Throws: ``StudyError/corruptFile(path:reason:)`` naming run.json when it is missing,
    ///   unreadable, or its configuration was edited.
    static func info(of directory: URL) throws -> Info {
        let url = directory.appendingPathComponent(RunStore.runInfoName)
        let run: RecordedRun?
        do { run = try RunStore.recordedRun(in: directory) } catch let TrainingError.corruptRun(path, reason) {
            throw StudyError.corruptFile(path: path, reason: reason)
        }
        guard let run else { throw StudyError.corruptFile(path: url.path, reason: "does not exist (not a run written by `landscape train`?)") }
        var info = Info(configuration: run.configuration)
        // run.json was read just now; its data record is a plain object ({"name", "train", "validation", "test", …}).
        let object = (try? TextFile.read(url)).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        info.samples = object?["data"] as? [String: Any] ?? [:]
        if let name = info.samples["name"] as? String { info.dataset = name }
        return info
    }

    /// Writes figures/*.svg and report.html in a run directory.
    /// - Returns: the files written.
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` naming run.json or metrics.csv when one
    ///   is missing or unreadable, or metrics.csv lacks the `epoch` column; I/O errors.
    @discardableResult
    public static func write(in directory: URL) throws -> [URL] {
        let info = try info(of: directory)
        let metricsURL = directory.appendingPathComponent(RunStore.metricsName)
        let metrics = try CSVTable.read(metricsURL)
        guard metrics.columns.contains("epoch") else { throw StudyError.corruptFile(path: metricsURL.path, reason: "has no column 'epoch'") }
        let figures = directory.appendingPathComponent("figures")
        do { try FileManager.default.createDirectory(at: figures, withIntermediateDirectories: true) } catch {
            throw StudyError.runDirectory(path: directory.path, reason: "cannot create figures/ in it (\(SystemError.reason(of: error)))")
        }
        var written: [URL] = []
        var shown: [String] = []
        func figure(_ svg: String, _ name: String, _ caption: String) throws {
            let url = figures.appendingPathComponent(name)
            try AtomicFile.write(svg, to: url)
            written.append(url)
            shown.append(HTML.figure(name: name, svg: svg, caption: caption))
        }
        let epochs = metrics.numbers("epoch")
        let color = "#1f77b4"
        let c = info.configuration, model = c.model.name, limitLabel = c.stabilityLimitLabel
        let splits: [(String, SVGPlot.LineStyle)] = [("train", .solid), ("validation", .dashed), ("test", .dotted)]
        func splitSeries(_ quantity: String, scale: Double) -> [SVGPlot.Series] {
            splits.filter { metrics.columns.contains("\($0.0)_\(quantity)") }.map { split, style in
                SVGPlot.Series(name: split, x: epochs, y: metrics.numbers("\(split)_\(quantity)").map { scale * $0 }, color: color, style: style)
            }
        }
        let splitNote = "Line style: split (solid = train, dashed = validation, dotted = test), evaluated on the whole split after each epoch."
        try figure(SVGPlot.linePlot(title: "Loss per epoch (\(model), \(info.dataset))", xLabel: "epoch", yLabel: "mean cross-entropy loss",
                                    series: splitSeries("loss", scale: 1), logY: true, markers: true, integerX: true), "loss.svg",
                   "Mean cross-entropy loss (log scale). " + splitNote)
        try figure(SVGPlot.linePlot(title: "Accuracy per epoch (\(model), \(info.dataset))", xLabel: "epoch", yLabel: "accuracy (%)",
                                    series: splitSeries("accuracy", scale: 100), markers: true, integerX: true), "accuracy.svg",
                   "Classification accuracy. " + splitNote)
        if metrics.columns.contains("lambda_max") {
            var series = [SVGPlot.Series(name: "λ_max", x: epochs, y: metrics.numbers("lambda_max"), color: color)]
            if metrics.columns.contains("stability_limit") {
                series.append(SVGPlot.Series(name: limitLabel, x: epochs, y: metrics.numbers("stability_limit"), color: "#000000", reference: true))
            }
            try figure(SVGPlot.linePlot(title: "λ_max of the Hessian per epoch", xLabel: "epoch", yLabel: "λ_max", series: series, logY: true, markers: true, integerX: true),
                       "lambda-max.svg", "The largest Hessian eigenvalue on the probe samples after each epoch (power iteration; log scale)."
                        + (metrics.columns.contains("stability_limit") ? " Dash-dot: the stability limit \(limitLabel) of SGD with momentum μ at the epoch's learning rate η; λ_max at or above it is the edge of stability." : ""))
        }
        if let steps = try CSVTable.readIfPresent(directory.appendingPathComponent(RunStore.stepsName)), steps.columns.contains("lambda_max"), !steps.rows.isEmpty {
            var series = [SVGPlot.Series(name: "λ_max", x: steps.numbers("step"), y: steps.numbers("lambda_max"), color: color)]
            if steps.columns.contains("stability_limit") {
                series.append(SVGPlot.Series(name: limitLabel, x: steps.numbers("step"), y: steps.numbers("stability_limit"), color: "#000000", reference: true))
            }
            try figure(SVGPlot.linePlot(title: "λ_max within epochs", xLabel: "SGD step", yLabel: "λ_max", series: series, logY: true), "lambda-steps.svg",
                       "λ_max every few SGD steps (steps.csv) against the stability limit (dash-dot). Log scale.")
        }
        if let table = try CSVTable.readIfPresent(directory.appendingPathComponent(RunStore.stepCurvatureName)), !table.rows.isEmpty {
            try figure(StepCurvatureFigure.svg(of: table, limitLabel: limitLabel), "step-curvature.svg",
                       "The curvature along each SGD step κ = ΔθᵀHΔθ/‖Δθ‖² (solid) against the stability limit (dash-dot; rings where κ exceeds it), and the critical sharpness 2/η_c against 2/η (step-curvature.csv).")
        }

        let columns: [(String, String, Double, String)] = [("epoch", "epoch", 1, "%.0f"), ("train_loss", "train loss", 1, "%.4g"), ("validation_loss", "validation loss", 1, "%.4g"),
                                                           ("test_loss", "test loss", 1, "%.4g"), ("train_accuracy", "train acc. (%)", 100, "%.2f"),
                                                           ("validation_accuracy", "validation acc. (%)", 100, "%.2f"), ("test_accuracy", "test acc. (%)", 100, "%.2f"),
                                                           ("lambda_max", "λ_max", 1, "%.4g"), ("learning_rate", "η", 1, "%.4g"), ("stability_limit", limitLabel, 1, "%.4g"),
                                                           ("train_seconds", "training (s)", 1, "%.1f")]
        let present = columns.filter { metrics.columns.contains($0.0) }
        let rows = metrics.rows.map { row in present.map { c in StudyReport.fmt(c.2 * (Double(row[c.0] ?? "") ?? .nan), c.3) } }

        var html = HTML.pageStart(title: "Landscape run: \(directory.lastPathComponent)")
        html += "<h1>Training run \(HTML.escape(directory.lastPathComponent))</h1>\n"
        var intro = "Model \(model) on \(info.dataset)"
        if let tr = info.samples["train"], let va = info.samples["validation"], let te = info.samples["test"] { intro += " (\(tr) train / \(va) validation / \(te) test samples)" }
        let o = c.optimizer, recorded = metrics.rows.count
        intro += "; SGD with batch \(o.batchSize), η₀ = \(o.learningRate), momentum \(o.momentum)\(o.nesterov ? " (Nesterov)" : ""), \(c.schedule) schedule, "
            + "\(c.epochs) epoch\(c.epochs == 1 ? "" : "s"); \(recorded) epoch\(recorded == 1 ? "" : "s") recorded."
        html += HTML.paragraph(intro)
        html += "<h2>Figures</h2>\n" + HTML.paragraph(SVGPlot.lineStyleConvention, class: "note") + HTML.figureGrid(shown)
        html += "<h2>Epochs</h2>\n" + HTML.table(present.map(\.1), rows)
        html += HTML.paragraph("Data files: run.json, metrics.csv, checkpoints.csv and the θ checkpoints theta-epoch-NNN.safetensors. Regenerate with `landscape report \(directory.path)`.")
        html += HTML.pageEnd
        let page = directory.appendingPathComponent("report.html")
        try AtomicFile.write(html, to: page)
        written.append(page)
        return written
    }
}

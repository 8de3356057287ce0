import Checkpoints
import Foundation
import Layers
import Plotting
import Training

/// Writes a study's figures (SVG), `summary.md` and `report.html` from the files in its run
/// directory (config.json, metrics.csv, final.csv, spectra.csv, slices/, densities/), so the
/// report can be regenerated at any time (`landscape report DIR`), also for a partial study.
///
/// Figures: (1) train and validation loss per epoch, (2) train and test accuracy, (3) λ_max,
/// (4) S_ε^max, (5) generalization gap vs final λ_max, (6) the final 2D slices as contour maps
/// of log₁₀ loss, (7) the SLQ spectral densities. Log scales where values span decades.
public enum StudyReport {
    /// A configuration's colour in every figure.
    static func color(_ name: String, index: Int) -> String {
        let fixed = ["mlp-high-noise": "#1f77b4", "mlp-low-noise": "#ff7f0e", "cnn-high-noise": "#2ca02c", "cnn-low-noise": "#d62728"]
        let others = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
        return fixed[name] ?? others[index % others.count]
    }

    /// The final values of one configuration (its last epoch in metrics.csv).
    public struct FinalValues: Sendable {
        /// "MODEL-REGIME".
        public let name: String
        /// The last epoch and the configured epoch count.
        public let epoch: Int, epochs: Int
        /// Loss and accuracy (fractions) after the last epoch; full-split evaluations.
        public let trainLoss: Double, trainAccuracy: Double, validationAccuracy: Double, testLoss: Double, testAccuracy: Double
        /// λ_max, S_ε^max, S_ε^mean, Hutchinson trace and its standard error after the last epoch.
        public let lambdaMax: Double, sharpnessMax: Double, sharpnessMean: Double, trace: Double, traceStandardError: Double
        /// train accuracy − test accuracy, in percentage points.
        public var generalizationGap: Double { 100 * (trainAccuracy - testAccuracy) }
    }

    /// Reads the final values of every configuration with at least one epoch in `metrics`.
    static func finalValues(_ metrics: CSVTable, names: [String], epochs: Int) -> [FinalValues] {
        names.compactMap { name in
            guard let row = metrics.rows.last(where: { "\($0["model"] ?? "")-\($0["regime"] ?? "")" == name }) else { return nil }
            func d(_ k: String) -> Double { Double(row[k] ?? "") ?? .nan }
            return FinalValues(name: name, epoch: Int(row["epoch"] ?? "") ?? 0, epochs: epochs, trainLoss: d("train_loss"), trainAccuracy: d("train_accuracy"),
                               validationAccuracy: d("validation_accuracy"), testLoss: d("test_loss"), testAccuracy: d("test_accuracy"),
                               lambdaMax: d("lambda_max"), sharpnessMax: d("sharpness_max"), sharpnessMean: d("sharpness_mean"),
                               trace: d("trace"), traceStandardError: d("trace_stderr"))
        }
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

    /// Regenerates figures/, summary.md and report.html in a study directory.
    /// - Returns: the files written.
    /// - Throws: ``StudyError`` if config.json or metrics.csv is missing or corrupt (naming the
    ///   file); I/O errors. Missing final-epoch files only leave their figures out.
    @discardableResult
    public static func generate(in directory: URL) throws -> [URL] {
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw StudyError.runDirectory(path: directory.path, reason: "holds no config.json; is it a study directory?")
        }
        let config = try StudyConfiguration.load(from: configURL)
        let metrics = try CSVTable.read(directory.appendingPathComponent("metrics.csv"))
        for column in ["model", "regime", "epoch", "train_loss", "validation_loss", "train_accuracy", "test_accuracy", "lambda_max", "sharpness_max"] where !metrics.columns.contains(column) {
            throw StudyError.corruptFile(path: directory.appendingPathComponent("metrics.csv").path, reason: "has no column '\(column)'")
        }
        let finals = try CSVTable.readIfPresent(directory.appendingPathComponent("final.csv"))
        let spectra = try CSVTable.readIfPresent(directory.appendingPathComponent("spectra.csv"))
        let infoURL = directory.appendingPathComponent("study.json")
        let info = try StudyRunner.studyInfo(in: directory) ?? [:]
        let dataInfo = info["data"] as? [String: Any] ?? [:]
        let trainCount = try sampleCount("train", in: dataInfo, of: infoURL)
        for key in ["validation", "test"] { _ = try sampleCount(key, in: dataInfo, of: infoURL) }
        let datasetName = dataInfo["name"] as? String ?? (config.training.data.dataset.displayName)
        let names = config.runNames
        let failures: [String: String] = Dictionary(uniqueKeysWithValues: try names.compactMap { n in
            try StudyRunner.failure(in: directory.appendingPathComponent("runs/\(n)")).map { (n, $0) }
        })
        let figures = directory.appendingPathComponent("figures")
        do { try FileManager.default.createDirectory(at: figures, withIntermediateDirectories: true) } catch {
            throw StudyError.runDirectory(path: directory.path, reason: "cannot create figures/ in it (\(SystemError.reason(of: error)))")
        }
        guard FileManager.default.isWritableFile(atPath: figures.path), FileManager.default.isWritableFile(atPath: directory.path) else {
            throw StudyError.runDirectory(path: directory.path, reason: "is not writable; the report cannot be written")
        }
        var written: [URL] = []
        func write(_ text: String, _ name: String) throws {
            let url = figures.appendingPathComponent(name)
            try AtomicFile.write(text, to: url)
            written.append(url)
        }
        func rows(_ name: String) -> [[String: String]] { metrics.rows.filter { "\($0["model"] ?? "")-\($0["regime"] ?? "")" == name } }
        func series(_ column: String, label: String = "", dashed: Bool = false, scale: Double = 1) -> [SVGPlot.Series] {
            names.enumerated().compactMap { k, n in
                let r = rows(n)
                guard !r.isEmpty else { return nil }
                return SVGPlot.Series(name: n + label, x: r.map { Double($0["epoch"] ?? "") ?? .nan }, y: r.map { scale * (Double($0[column] ?? "") ?? .nan) },
                                      color: color(n, index: k), dashed: dashed)
            }
        }
        let tag = "\(datasetName)"
        // Power-iteration estimates that did not meet their tolerance, ringed in the λ_max figure.
        let flagged = metrics.rows.filter { Double($0["lambda_converged"] ?? "") == 0 && Double($0["lambda_max"] ?? "")?.isFinite == true }
        let notConverged = flagged.isEmpty ? [] : [SVGPlot.Series(name: "not converged (\(config.training.probes.lambdaIterations) iterations)", x: flagged.map { Double($0["epoch"]!) ?? .nan },
                                                                  y: flagged.map { Double($0["lambda_max"]!) ?? .nan }, color: "#000000", ringsOnly: true)]
        try write(SVGPlot.linePlot(title: "Loss per epoch (\(tag)): train (solid), validation (dashed)", xLabel: "epoch", yLabel: "mean cross-entropy loss",
                                   series: series("train_loss", label: " train") + series("validation_loss", label: " validation", dashed: true),
                                   logY: true, markers: true, integerX: true), "loss.svg")
        try write(SVGPlot.linePlot(title: "Accuracy per epoch (\(tag)): train (solid), test (dashed)", xLabel: "epoch", yLabel: "accuracy (%)",
                                   series: series("train_accuracy", label: " train", scale: 100) + series("test_accuracy", label: " test", dashed: true, scale: 100),
                                   markers: true, integerX: true), "accuracy.svg")
        try write(SVGPlot.linePlot(title: "λ_max of the Hessian on \(min(config.training.probes.probeSamples, trainCount ?? config.training.probes.probeSamples)) probe samples", xLabel: "epoch", yLabel: "λ_max",
                                   series: series("lambda_max") + notConverged, logY: true, markers: true, integerX: true), "lambda-max.svg")
        try write(SVGPlot.linePlot(title: "Sharpness S_ε^max, ε = \(config.epochProbes.sharpnessEpsilon), \(config.epochProbes.sharpnessDirections) unit directions", xLabel: "epoch",
                                   yLabel: "S_ε^max = max_i L(θ+εu_i) − L(θ)", series: series("sharpness_max"), logY: true, markers: true, integerX: true), "sharpness-max.svg")
        let final = finalValues(metrics, names: names, epochs: config.training.epochs)
        // Log scale when every λ_max is positive and they span more than a factor of 10.
        let lambdas = final.map(\.lambdaMax).filter(\.isFinite)
        let logLambda = !lambdas.isEmpty && lambdas.allSatisfy { $0 > 0 } && lambdas.max()! > 10 * lambdas.min()!
        try write(SVGPlot.scatterPlot(title: "Generalization gap vs final λ_max", xLabel: "final λ_max", yLabel: "train − test accuracy (percentage points)",
                                      points: final.enumerated().map { k, f in SVGPlot.Point(label: f.name, x: f.lambdaMax, y: f.generalizationGap, color: color(f.name, index: names.firstIndex(of: f.name) ?? k)) },
                                      logX: logLambda), "gap-vs-lambda.svg")
        var sliceFigures: [String] = []
        for n in names {
            guard let slice = try CSVTable.readIfPresent(directory.appendingPathComponent("slices/\(n).csv")) else { continue }
            let a = slice.numbers("alpha"), b = slice.numbers("beta"), l = slice.numbers("loss")
            let alphas = Array(Set(a)).sorted(), betas = Array(Set(b)).sorted()
            guard alphas.count * betas.count == l.count, !alphas.isEmpty else {
                throw StudyError.corruptFile(path: directory.appendingPathComponent("slices/\(n).csv").path, reason: "is not a full grid (\(alphas.count)×\(betas.count) axes, \(l.count) values)")
            }
            var z = Array(repeating: Array(repeating: Double.nan, count: betas.count), count: alphas.count)
            for k in 0..<l.count {
                if let i = alphas.firstIndex(of: a[k]), let j = betas.firstIndex(of: b[k]) { z[i][j] = l[k] }
            }
            try write(SVGPlot.contourMap(title: "\(n): L(θ + αu + βv), filter-normalized u, v", xLabel: "α", yLabel: "β", zLabel: "loss (log colour scale; grey: not finite)",
                                         x: alphas, y: betas, z: z, logZ: true), "slice-\(n).svg")
            sliceFigures.append("slice-\(n).svg")
        }
        var densitySeries: [SVGPlot.Series] = []
        for (k, n) in names.enumerated() {
            guard let d = try CSVTable.readIfPresent(directory.appendingPathComponent("densities/\(n).csv")) else { continue }
            densitySeries.append(SVGPlot.Series(name: n, x: d.numbers("eigenvalue"), y: d.numbers("density"), color: color(n, index: k)))
        }
        // Between Gaussian bumps the smoothed density falls to ~1e-40; outlying eigenvalues carry a
        // weight of ~1/d (~1e-6 of the bulk's), so show nine decades below the peak and clamp the rest there.
        let peak = densitySeries.flatMap(\.y).filter(\.isFinite).max() ?? 0
        densitySeries = densitySeries.map { SVGPlot.Series(name: $0.name, x: $0.x, y: $0.y.map { max($0, 1e-9 * peak) }, color: $0.color) }
        if !densitySeries.isEmpty {
            try write(SVGPlot.linePlot(title: "Hessian spectral density (SLQ, \(config.finalProbes.slqProbes) probe\(config.finalProbes.slqProbes == 1 ? "" : "s") × \(config.finalProbes.slqSteps) steps)",
                                       xLabel: "eigenvalue", yLabel: "density", series: densitySeries, logY: true), "density.svg")
        }

        // Summary tables.
        func fmt(_ v: Double, _ f: String = "%.4g") -> String { v.isFinite ? String(format: f, v) : "—" }
        func topEigenvalues(_ n: String) -> String {
            guard let spectra else { return "—" }
            let vals = spectra.rows.filter { "\($0["model"] ?? "")-\($0["regime"] ?? "")" == n }.compactMap { Double($0["eigenvalue"] ?? "") }
            return vals.isEmpty ? "—" : vals.map { String(format: "%.4g", $0) }.joined(separator: ", ")
        }
        let header = ["configuration", "epochs", "train loss", "train acc. (%)", "test acc. (%)", "gap (pp)", "λ_max", "S_ε^max", "S_ε^mean", "trace (± SE)", "top Lanczos eigenvalues", "status"]
        var table: [[String]] = []
        for n in names {
            let status = failures[n] ?? ""
            guard let f = final.first(where: { $0.name == n }) else {
                table.append([n, "0/\(config.training.epochs)", "—", "—", "—", "—", "—", "—", "—", "—", "—", status.isEmpty ? "not started" : status])
                continue
            }
            let done = f.epoch >= config.training.epochs
            table.append([n, "\(f.epoch)/\(config.training.epochs)", fmt(f.trainLoss), fmt(100 * f.trainAccuracy, "%.2f"), fmt(100 * f.testAccuracy, "%.2f"),
                          fmt(f.generalizationGap, "%.2f"), fmt(f.lambdaMax), fmt(f.sharpnessMax, "%.3g"), fmt(f.sharpnessMean, "%.3g"),
                          fmt(f.trace) + " ± " + fmt(f.traceStandardError, "%.2g"), topEigenvalues(n),
                          !status.isEmpty ? "stopped: " + status : (done ? "complete" : "in progress")])
        }
        // Timings.
        let timeHeader = ["configuration", "training (s)", "evaluation (s)", "λ_max (s)", "sharpness (s)", "trace (s)", "final probes (s)", "total (s)", "probes share"]
        var timeTable: [[String]] = []
        var totals = Array(repeating: 0.0, count: 6)
        for n in names {
            let r = rows(n)
            guard !r.isEmpty else { continue }
            func sum(_ c: String) -> Double { r.reduce(0) { $0 + (Double($1[c] ?? "") ?? 0) } }
            let fin = finals?.rows.first { "\($0["model"] ?? "")-\($0["regime"] ?? "")" == n }
            let finalSeconds = ["lanczos_seconds", "slq_seconds", "slice_seconds", "precision_check_seconds", "curvature_seconds"].reduce(0.0) { $0 + (Double(fin?[$1] ?? "") ?? 0) }
            let parts = [sum("train_seconds"), sum("evaluation_seconds"), sum("lambda_seconds"), sum("sharpness_seconds"), sum("trace_seconds"), finalSeconds]
            for k in 0..<6 { totals[k] += parts[k] }
            let total = parts.reduce(0, +)
            timeTable.append([n] + parts.map { String(format: "%.1f", $0) } + [String(format: "%.1f", total), String(format: "%.0f %%", 100 * parts[2...].reduce(0, +) / max(total, 1e-9))])
        }
        let grand = totals.reduce(0, +)
        timeTable.append(["**all**"] + totals.map { String(format: "%.1f", $0) } + [String(format: "%.1f (%.1f min)", grand, grand / 60), String(format: "%.0f %%", 100 * totals[2...].reduce(0, +) / max(grand, 1e-9))])
        let claims = paperClaims(final, names: names)

        var md = "# Study summary: \(datasetName)\n\n"
        md += "Models \(config.models.map(\.rawValue).joined(separator: ", ")) × regimes " + config.regimes.map { r in
            let s = config.resolvedRegime(r)
            return "\(r) (batch \(s.batchSize), η₀ = \(s.learningRate))"
        }.joined(separator: ", ")
        md += "; momentum \(config.training.optimizer.momentum), \(config.training.schedule) schedule, \(config.training.epochs) epoch\(config.training.epochs == 1 ? "" : "s"), weight decay \(config.training.optimizer.weightDecay)"
        if config.training.optimizer.nesterov { md += ", Nesterov momentum" }
        if let clip = config.training.optimizer.gradientClipNorm { md += ", gradients clipped to global norm \(clip)" }
        md += ", seed \(config.training.seed).\n"
        if let tr = dataInfo["train"], let va = dataInfo["validation"], let te = dataInfo["test"] { md += "Data: \(datasetName), \(tr) train / \(va) validation / \(te) test samples. " }
        if let ob = info["openblas"] as? [String: Any] { md += "OpenBLAS kernel \(ob["kernel"] ?? "?"), \(ob["threads"] ?? "?") threads.\n" }
        let probeCount = min(config.training.probes.probeSamples, trainCount ?? config.training.probes.probeSamples)
        md += "\nλ_max: power iteration on the first \(probeCount) training samples (warm-started each epoch); "
        md += "S_ε over \(config.epochProbes.sharpnessDirections) random unit directions, ε = \(config.epochProbes.sharpnessEpsilon), in \(config.epochProbes.sharpnessPrecision); "
        md += "trace: Hutchinson with \(config.epochProbes.traceProbes) Rademacher probes. Accuracies are full-split evaluations after the epoch; gap = train − test accuracy.\n"
        if let limit = config.training.data.trainLimit, let tr = trainCount, tr <= limit {
            md += "This is a subset run (trainLimit \(limit), e.g. `--preset quick`): a first look, not the study's protocol, which trains on all 55,000 samples.\n"
        }
        for r in config.regimes {
            guard config.regimeSettings[r] != nil, let tr = trainCount else { continue }
            let s = config.resolvedRegime(r)
            let (product, overflow) = (tr / s.batchSize + (tr % s.batchSize == 0 ? 0 : 1)).multipliedReportingOverflow(by: config.training.epochs)
            let steps = overflow ? "more than \(Int.max)" : String(product)
            let stuck = final.filter { $0.name.hasSuffix("-\(r)") && $0.trainAccuracy < 0.5 }
            if !stuck.isEmpty {
                md += "Warning: \(stuck.map(\.name).joined(separator: ", ")) did not learn (train accuracy \(stuck.map { String(format: "%.1f %%", 100 * $0.trainAccuracy) }.joined(separator: ", "))): \(r) takes only \(steps) SGD steps of batch \(s.batchSize) on \(tr) samples in \(config.training.epochs) epoch\(config.training.epochs == 1 ? "" : "s"), so its curvature describes a barely trained network.\n"
            }
        }
        md += "\n"
        md += Markdown.table(header, table) + "\n"
        md += "## Time (seconds)\n\n" + Markdown.table(timeHeader, timeTable) + "\n"
        md += "Probes = λ_max + sharpness + trace every epoch, and the final Lanczos, SLQ, slice, sharpness precision check, per-layer blocks and Gauss–Newton eigenvalues.\n\n"
        var precisionHeader: [String] = [], precisionRows: [[String]] = []
        if let finals, finals.columns.contains("sharpness_mean_float64") {
            md += "Sharpness precision check at the final θ (the same \(config.epochProbes.sharpnessDirections) directions, ε = \(config.epochProbes.sharpnessEpsilon)):\n\n"
            var rows: [[String]] = []
            for r in finals.rows {
                let m32 = Double(r["sharpness_mean_float32"] ?? "") ?? .nan, m64 = Double(r["sharpness_mean_float64"] ?? "") ?? .nan
                let x32 = Double(r["sharpness_max_float32"] ?? "") ?? .nan, x64 = Double(r["sharpness_max_float64"] ?? "") ?? .nan
                rows.append(["\(r["model"] ?? "")-\(r["regime"] ?? "")", fmt(m64, "%.4g"), fmt(m32, "%.4g"), fmt(abs(m32 - m64), "%.2g"),
                             fmt(x64, "%.4g"), fmt(x32, "%.4g"), fmt(abs(x32 - x64), "%.2g")])
            }
            precisionHeader = ["configuration", "S_mean Float64", "S_mean Float32", "|difference|", "S_max Float64", "S_max Float32", "|difference|"]
            precisionRows = rows
            md += Markdown.table(precisionHeader, rows) + "\n"
        }
        var curvatureHeader: [String] = [], curvatureRows: [[String]] = []
        if let layers = try CSVTable.readIfPresent(directory.appendingPathComponent("layers.csv")) {
            let ggn = try CSVTable.readIfPresent(directory.appendingPathComponent("ggn-spectra.csv"))
            for name in names {
                let rows = layers.rows.filter { "\($0["model"] ?? "")-\($0["regime"] ?? "")" == name }
                guard !rows.isEmpty else { continue }
                let perLayer = rows.map { r in
                    "\(r["layer"] ?? "?") \(fmt(Double(r["lambda_max"] ?? "") ?? .nan, "%.4g"))\(r["lambda_max_converged"] == "1" ? "" : "*") / \(fmt(Double(r["trace"] ?? "") ?? .nan, "%.4g"))"
                }.joined(separator: ", ")
                let top = (ggn?.rows ?? []).filter { "\($0["model"] ?? "")-\($0["regime"] ?? "")" == name }
                    .compactMap { Double($0["eigenvalue"] ?? "") }.map { fmt($0, "%.4g") }.joined(separator: ", ")
                curvatureRows.append([name, perLayer, top.isEmpty ? "—" : top])
            }
            curvatureHeader = ["configuration", "per layer: λ_max / trace of the Hessian block", "Gauss–Newton top eigenvalues"]
            md += "## Curvature per layer and the Gauss–Newton matrix (final θ, probe set)\n\n"
            md += "λ_max of each layer's diagonal Hessian block by \(StudyRunner.layerLanczosSteps) Lanczos steps (* not converged to 1e-6), its trace from the \(config.epochProbes.traceProbes) Hutchinson probes of the whole Hessian split by block; the GGN Jᵀ∇²ℓJ is PSD and, for a network near a minimum, close to the Hessian's top.\n\n"
            md += Markdown.table(curvatureHeader, curvatureRows) + "\n"
        }
        md += "## The source paper's claims, checked on these numbers\n\n"
        md += "The claims below are those of the study this project reproduces, as stated by the source paper of the MNIST geometry study\(datasetName == "MNIST" ? "" : "; they are about MNIST and are checked on \(datasetName) for comparison only"). "
        md += "A \"no\" reports a measured difference, not an error.\n\n" + claims.map { "- \($0)" }.joined(separator: "\n") + "\n"
        try AtomicFile.write(md, to: directory.appendingPathComponent("summary.md"))
        written.append(directory.appendingPathComponent("summary.md"))

        var html = HTML.pageStart(title: "Landscape study: \(datasetName)")
        html += "<h1>Landscape study: \(HTML.escape(datasetName))</h1>\n"
        html += md.split(separator: "\n").prefix(while: { !$0.hasPrefix("|") }).dropFirst().filter { !$0.isEmpty }.map { "<p>\(HTML.codeSpans(HTML.escape(String($0))))</p>" }.joined(separator: "\n")
        html += HTML.table(header, table)
        html += "<h2>Figures</h2>\n<div class=\"grid\">\n"
        for f in ["loss.svg", "accuracy.svg", "lambda-max.svg", "sharpness-max.svg", "gap-vs-lambda.svg", "density.svg"] where written.contains(where: { $0.lastPathComponent == f }) {
            html += "<img src=\"figures/\(f)\" alt=\"\(f)\">\n"
        }
        html += "</div>\n<h2>Final 2D slices</h2>\n<div class=\"grid\">\n" + sliceFigures.map { "<img src=\"figures/\($0)\" alt=\"\($0)\" width=\"560\">" }.joined(separator: "\n") + "\n</div>\n"
        html += "<h2>Time (seconds)</h2>\n" + HTML.table(timeHeader, timeTable.map { $0.map { $0.replacingOccurrences(of: "**", with: "") } })
        if !precisionRows.isEmpty {
            html += "<h2>Sharpness precision check at the final θ</h2>\n" + HTML.table(precisionHeader, precisionRows)
        }
        if !curvatureRows.isEmpty {
            html += "<h2>Curvature per layer and the Gauss–Newton matrix</h2>\n" + HTML.table(curvatureHeader, curvatureRows)
        }
        html += "<h2>The source paper's claims, checked on these numbers</h2>\n<ul>\n" + claims.map { "<li>\(HTML.escape($0))</li>" }.joined(separator: "\n") + "\n</ul>\n"
        html += "<p>Data files: metrics.csv, final.csv, spectra.csv, ggn-spectra.csv, layers.csv, slices/, densities/; checkpoints in runs/. Regenerate with <code>landscape report DIR</code>.</p>\n" + HTML.pageEnd
        try AtomicFile.write(html, to: directory.appendingPathComponent("report.html"))
        written.append(directory.appendingPathComponent("report.html"))
        return written
    }

    /// The source paper's claims as sentences saying whether these numbers agree ("cannot tell"
    /// when a value is missing or not finite).
    static func paperClaims(_ final: [FinalValues], names: [String]) -> [String] {
        var out: [String] = []
        func f(_ n: String) -> FinalValues? { final.first { $0.name == n } }
        func g(_ v: Double) -> String { v.isFinite ? String(format: "%.4g", v) : "not finite" }
        func verdict(_ values: [Double], _ holds: Bool) -> String { values.allSatisfy(\.isFinite) ? (holds ? "yes" : "no") : "cannot tell" }
        let cnn = final.filter { $0.name.hasPrefix("cnn-") }
        if !cnn.isEmpty {
            out.append("CNN test accuracy above 99 %: \(verdict(cnn.map(\.testAccuracy), cnn.allSatisfy { $0.testAccuracy > 0.99 })) (" + cnn.map { "\($0.name) \(String(format: "%.2f", 100 * $0.testAccuracy)) %" }.joined(separator: ", ") + ")")
        }
        for model in ModelKind.allCases.map(\.rawValue) {
            guard let h = f("\(model)-high-noise"), let l = f("\(model)-low-noise") else { continue }
            out.append("\(model.uppercased()): low-noise ends with a larger λ_max than high-noise: \(verdict([l.lambdaMax, h.lambdaMax], l.lambdaMax > h.lambdaMax)) (\(g(l.lambdaMax)) vs \(g(h.lambdaMax)))")
            out.append("\(model.uppercased()): S_ε^max ordered as λ_max: \(verdict([l.lambdaMax, h.lambdaMax, l.sharpnessMax, h.sharpnessMax], (l.lambdaMax > h.lambdaMax) == (l.sharpnessMax > h.sharpnessMax))) (S_max low-noise \(g(l.sharpnessMax)), high-noise \(g(h.sharpnessMax)))")
        }
        if let h = f("cnn-high-noise"), let l = f("cnn-low-noise") {
            out.append("CNN λ_max in the paper's ranges (low-noise > 100, high-noise ≈ 5–15): \(verdict([l.lambdaMax, h.lambdaMax], l.lambdaMax > 100 && h.lambdaMax >= 5 && h.lambdaMax <= 15)) (low-noise \(g(l.lambdaMax)), high-noise \(g(h.lambdaMax)))")
        }
        if final.count >= 3 {
            let finite = final.allSatisfy { $0.lambdaMax.isFinite && $0.sharpnessMax.isFinite }
            let byLambda = final.sorted { $0.lambdaMax < $1.lambdaMax }.map(\.name), bySharp = final.sorted { $0.sharpnessMax < $1.sharpnessMax }.map(\.name)
            out.append("Across all configurations, S_ε^max ranks them as λ_max does: \(finite ? (byLambda == bySharp ? "yes" : "no") : "cannot tell") (λ_max: \(byLambda.joined(separator: " < ")); S_max: \(bySharp.joined(separator: " < ")))")
        }
        if !final.isEmpty {
            out.append("Generalization gaps under one percentage point: \(verdict(final.map(\.generalizationGap), final.allSatisfy { abs($0.generalizationGap) < 1 })) (" + final.map { "\($0.name) \(String(format: "%.2f", $0.generalizationGap))" }.joined(separator: ", ") + ")")
        }
        if final.contains(where: { $0.epoch < $0.epochs }) { out.append("(Some configurations have not finished all epochs; their last epoch is used.)") }
        return out
    }
}

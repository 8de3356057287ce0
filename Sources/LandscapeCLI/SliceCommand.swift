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

struct SliceCommand: ModelCommand {
    static let configuration = CommandConfiguration(
        commandName: "slice",
        abstract: "1D or 2D loss slices L(θ + αu + βv) along random, filter-normalized, Hessian-eigenvector or interpolation directions, with CSV and SVG output.",
        discussion: SettingOptions(TargetSettings.targetKeys).help(defaults: TargetSettings(), heading: "Settings (--OPTION VALUE or --OPTION=VALUE):"))

    @OptionGroup var target: ProbeTarget
    @OptionGroup var save: SliceSaveOptions
    @Option(help: "Directory for the CSV/SVG outputs (default runs/slice-MODEL-TIMESTAMP).") var outputDir: String?
    @Option(parsing: .unconditional, help: "1 or 2 dimensions.") var dimensions: Int = 2
    @Option(help: "Directions: random, filter (filter-normalized random), eigen (top Hessian eigenvectors), interpolate (to --to), pca (of the theta-epoch-*.safetensors in --trajectory).") var directions: SliceDirectionKind = .filter
    @Option(help: "Second parameter file for --directions interpolate.") var to: String?
    @Option(help: "A run directory whose theta-epoch-NNN.safetensors form the trajectory for --directions pca.") var trajectory: String?
    @Option(parsing: .unconditional, help: "Grid points per axis (the study's finalProbes.slicePoints, the same default).") var points: Int = ProbeDefaults.slicePoints
    @Option(parsing: .unconditional, help: "Range of α and β as LO:HI, e.g. -1:1 or -0.5:1.5.") var range: String = "-1:1"
    @Option(parsing: .unconditional, help: "Order of the Taylor polynomial drawn beside a 1D slice.") var taylorOrder: Int = 4

    static let outputPrefix = "runs/slice"

    func bounds() throws -> (Double, Double) {
        let parts = range.split(separator: ":").map { Double($0) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo < hi, lo.isFinite, hi.isFinite else {
            throw ValidationError("--range must be LO:HI with LO < HI, got '\(range)'")
        }
        return (lo, hi)
    }

    func validate() throws {
        _ = try target.settings(keys: TargetSettings.targetKeys)
        guard dimensions == 1 || dimensions == 2 else { throw ValidationError("--dimensions must be 1 or 2, got \(dimensions)") }
        guard points >= 2, points <= 201 else { throw ValidationError("--points must be in 2...201, got \(points)") }
        if directions == .interpolate && to == nil { throw ValidationError("--directions interpolate needs --to FILE") }
        if directions == .pca && trajectory == nil { throw ValidationError("--directions pca needs --trajectory RUN_DIRECTORY") }
        if to != nil && directions != .interpolate { throw ValidationError("--to is only used with --directions interpolate") }
        if trajectory != nil && directions != .pca { throw ValidationError("--trajectory is only used with --directions pca") }
        if save.saveDirections && ![.eigen, .pca].contains(directions) { throw ValidationError("--save-directions writes the directions of --directions eigen or pca, not \(directions.rawValue)") }
        guard taylorOrder >= 1, taylorOrder <= 12 else { throw ValidationError("--taylor-order must be in 1...12") }
        let (lo, hi) = try bounds()
        do { _ = try grid(from: lo, to: hi, count: points) } catch { throw ValidationError("--range \(range) with --points \(points): \(error)") }
    }

    /// The θ checkpoints of the --trajectory run directory, in epoch order, with the epoch each
    /// file's name gives (theta-epoch-NNN.safetensors).
    func trajectorySnapshots<M: Model>(_ m: M) throws -> (epochs: [Int], snapshots: [Tensor<Double>]) {
        guard let trajectory else { return ([], []) }
        let dir = URL(fileURLWithPath: trajectory)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir) else { throw CLIError(description: "--trajectory \(dir.path) does not exist") }
        guard isDir.boolValue else { throw CLIError(description: "--trajectory \(dir.path) is not a directory") }
        let files = try ParameterFiles.thetaFiles(in: dir)
        guard files.count >= dimensions + 1 else {
            throw CLIError(description: "--trajectory \(dir.path) holds \(files.count) checkpoint\(files.count == 1 ? "" : "s") (theta-epoch-NNN.safetensors); PCA needs at least \(dimensions + 1)")
        }
        let epochs = try files.map { file in
            guard let epoch = Int(file.deletingPathExtension().lastPathComponent.dropFirst("theta-epoch-".count)) else {
                throw CLIError(description: "--trajectory \(dir.path): \(file.lastPathComponent) names no epoch (theta-epoch-NNN.safetensors)")
            }
            return epoch
        }
        return (epochs, try files.map { try loadFlat($0.path, layout: m.layout, what: "parameters of the \(m.name)") })
    }

    func run<M: Model>(_ m: M, _ context: RunContext, _ out: URL) throws {
        let b = try target.batch(m, context: context)
        let f = try b.objective, θ = b.θ
        let (lo, hi) = try bounds()
        if directions == .eigen { stderrLine("… top-\(dimensions) Hessian eigenvectors by Lanczos") }
        let (snapshotEpochs, snapshots) = try trajectorySnapshots(m)
        let endpoint = try to.map { try loadFlat($0, layout: m.layout, what: "parameters of the \(m.name)") }
        let (dirs, explained): ([Tensor<Double>], [Double]?)
        do {
            (dirs, explained) = try sliceDirections(directions, count: dimensions, of: f, at: θ, layout: m.layout, seed: target.seed,
                                                    endpoint: endpoint, trajectory: snapshots,
                                                    curvature: directions == .eigen ? try b.curvature(.hessian) : nil)
        } catch let error as AutodiffError where directions == .pca {
            throw CLIError(description: "--trajectory \(trajectory ?? ""): \(error)")
        }
        if let explained {
            stderrLine("PCA of \(snapshots.count) checkpoints: explained variance " + explained.map { String(format: "%.3f", $0) }.joined(separator: ", "))
        }
        var written: [String] = []
        if save.saveDirections {
            written = try saveDirections(dirs.enumerated().map { (name: "\(directions.rawValue)-\($0.offset + 1)", vector: $0.element) }, layout: m.layout, in: out,
                                         metadata: ["model": m.name, "source": target.parameters ?? "fresh, seed \(target.seed)"])
            outLine("directions: " + written.map { out.appendingPathComponent($0).path }.joined(separator: ", "))
        }
        var record = try context.inputs(samples: b.labels.count, seed: target.seed)
        record["directions"] = directions.rawValue
        record["dimensions"] = dimensions
        record["points"] = points
        record["range"] = [lo, hi]
        record["direction_files"] = written
        record["explained_variance"] = explained.map { $0 as Any } ?? NSNull()
        record["trajectory"] = trajectory.map { URL(fileURLWithPath: $0).path as Any } ?? NSNull()
        record["to"] = to.map { URL(fileURLWithPath: $0).path as Any } ?? NSNull()
        try AtomicFile.write(try JSONText.data(["inputs": record]), to: out.appendingPathComponent("slice.json"))
        let alphas = try grid(from: lo, to: hi, count: points)
        let start = Date()
        let seconds = { String(format: "%.1f", Date().timeIntervalSince(start)) }
        if dimensions == 1 {
            let ts = try taylorSlice(of: f, at: θ, along: dirs[0], alphas: alphas, order: taylorOrder)
            let radii = try validityRadii(of: LossFunction(f), at: θ, along: dirs[0], order: max(taylorOrder, ValidityRadiusProbe().order))
            try writeText("alpha,loss,taylor\n" + (0..<alphas.count).map { "\(alphas[$0]),\(ts.slice.losses[$0]),\(ts.polynomial[$0])" }.joined(separator: "\n") + "\n", out, "slice1d.csv")
            try writeText(SVGPlot.linePlot(title: "1D loss slice (\(directions.rawValue) direction)", xLabel: "α", yLabel: "loss L(θ + α·u)",
                                           series: [.init(name: "loss", x: alphas, y: ts.slice.losses, color: "#1f77b4"),
                                                    .init(name: "Taylor polynomial, order \(taylorOrder)", x: alphas, y: ts.polynomial, color: "#d62728", dashed: true)]
                                                   + Self.validityMarks(radii, losses: ts.slice.losses)),
                          out, "slice1d.svg")
            if let warning = ts.slice.nonFiniteWarning { stderrLine(warning) }
            outLine("1D slice of \(points) points in \(seconds()) s; Taylor polynomial (order \(taylorOrder)) parts from the loss " +
                    (ts.partingRadius.map { "at |α| = \(String(format: "%.3g", $0))" } ?? "nowhere on the grid") + "; wrote \(out.path)/slice1d.csv, slice1d.svg")
            outLine(TaylorCommand.smoothLine(radii).replacingOccurrences(of: "for t in", with: "for α in"))
            outLine(TaylorCommand.quadraticLine(radii))
        } else {
            let progress = ProgressBar(enabled: true)
            let s = try slice2D(of: f, at: θ, u: dirs[0], v: dirs[1], alphas: alphas, betas: alphas, orthogonalize: directions == .random) { i, n in
                progress.status("row \(i)/\(n)")
            }
            progress.clear()
            if let warning = s.nonFiniteWarning { stderrLine(warning) }
            var csv = "alpha,beta,loss\n"
            for (i, a) in alphas.enumerated() { for (j, b) in alphas.enumerated() { csv += "\(a),\(b),\(s.losses[i][j])\n" } }
            try writeText(csv, out, "slice2d.csv")
            // A PCA slice shows the trajectory it was made from: each checkpoint projected on the plane (Li et al. 2018, Fig. 9).
            var path: SVGPlot.Path?
            if directions == .pca {
                let (pa, pb) = try SliceFigure.planeCoordinates(of: snapshots, around: θ, u: dirs[0], v: dirs[1])
                try writeText("epoch,alpha,beta\n" + (0..<pa.count).map { "\(snapshotEpochs[$0]),\(pa[$0]),\(pb[$0])" }.joined(separator: "\n") + "\n", out, "trajectory.csv")
                path = SVGPlot.Path(label: "training trajectory: checkpoints by epoch (filled: the last)", x: pa, y: pb)
            }
            try writeText(SliceFigure.svg(title: "2D loss slice (\(directions.rawValue) directions)", grid: SliceFigure.Grid(alphas: alphas, betas: alphas, losses: s.losses),
                                          range: nil, shared: false, trajectory: path), out, "slice2d.svg")
            outLine("2D slice of \(points)×\(points) points in \(seconds()) s; cos∠(u, v) = \(String(format: "%.3g", s.cosine))" +
                    (directions == .filter ? " (filter-normalized directions are not orthogonalized)" : "") + "; wrote \(out.path)/slice2d.csv, slice2d.svg")
        }
    }

    /// Vertical lines at the ends of the smooth interval (−a, b) (``SmoothnessRadius``) and at ±r,
    /// the quadratic model's 10 % radius, spanning the slice's losses; lines off the α axis are
    /// not drawn.
    static func validityMarks(_ r: ValidityRadii, losses: [Double]) -> [SVGPlot.Series] {
        let finite = losses.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { return [] }
        func lines(_ xs: [Double]) -> (x: [Double], y: [Double]) {
            let at = xs.filter(\.isFinite)
            return (at.flatMap { [$0, $0, .nan] }, at.flatMap { _ in [lo, hi, .nan] })
        }
        let smooth = lines([-r.smooth.backward, r.smooth.forward]), quadratic = lines([-r.quadratic, r.quadratic])
        return [.init(name: "smooth interval: activation pattern fixed", x: smooth.x, y: smooth.y, color: "#2ca02c", reference: true),
                .init(name: "quadratic model within 10 %", x: quadratic.x, y: quadratic.y, color: "#9467bd", dashed: true, reference: true)]
    }
}

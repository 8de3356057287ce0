import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Plotting
import Probes
@testable import Study
import Tensors
import Training

/// The attributes of every element `name` of an SVG or XHTML fragment (in document order).
func svgElements(_ name: String, in svg: String) -> [[String: String]] {
    final class Collector: NSObject, XMLParserDelegate {
        let name: String
        var found: [[String: String]] = []
        init(_ name: String) { self.name = name }
        func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if element == name { found.append(attributes) }
        }
    }
    let parser = XMLParser(data: Data(svg.utf8))
    let c = Collector(name)
    parser.delegate = c
    #expect(parser.parse(), "not well-formed XML")
    return c.found
}

/// The structure of report.html and its figures: the page a researcher reads (viewport, figures
/// inline with captions), the slices on one colour scale with isolines and θ, one line style per
/// split, the trajectory on a PCA slice, and the report of a training run.
@Suite struct ReportPageTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    func copy(_ name: String) throws -> URL {
        let dir = temporaryDirectory().appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent(name), to: dir)
        return dir
    }

    @Test func theStudyPageHasAViewportEveryFigureInlineAndTheSlicesOnOneColourScale() throws {
        let dir = try copy("cli-study")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let written = try StudyReport.write(in: dir).files
        let html = try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
        // Every figure file is on the page, inline, with a caption.
        for url in written where url.pathExtension == "svg" {
            let name = url.lastPathComponent
            let start = try #require(html.range(of: "<figure id=\"fig-\(name.dropLast(4))\" data-figure=\"\(name)\">"), "\(name) is not on the page")
            let figure = String(html[start.upperBound...]).components(separatedBy: "</figure>")[0]
            #expect(figure.contains("<svg") && figure.contains("<figcaption>") && !figure.contains("<figcaption></figcaption>"), "\(name)")
        }
        #expect(html.contains("S<sub>ε</sub><sup>max</sup>"), "S_ε^max is not typeset")
        #expect(!html.contains("<img"), "figures are inline SVG")

        // The slices' colour range is the minimum and maximum loss over all slices, read here from their CSV files.
        var all: [Double] = []
        let runs = ["mlp-high-noise", "mlp-low-noise", "cnn-high-noise", "cnn-low-noise"]
        for run in runs {
            let text = try String(contentsOf: dir.appendingPathComponent("slices/\(run).csv"), encoding: .utf8)
            all += text.split(separator: "\n").dropFirst().compactMap { Double($0.split(separator: ",")[2]) }.filter { $0 > 0 && $0.isFinite }
        }
        let lo = all.min()!, hi = all.max()!
        let own = try runs.map { run -> (Double, Double) in
            let svg = try String(contentsOf: dir.appendingPathComponent("figures/slice-\(run).svg"), encoding: .utf8)
            let grid = try #require(svgElements("g", in: svg).first { $0["data-series"] == "grid" })
            #expect(grid["data-zmin"] == String(format: "%.3g", lo) && grid["data-zmax"] == String(format: "%.3g", hi), "\(run): \(grid)")
            // Isolines at fixed levels (the same in every slice) and θ marked.
            let levels = svgElements("path", in: svg).compactMap { $0["data-isoline"] }
            #expect(!levels.isEmpty && levels == SliceFigure.isolines((lo, hi)).map { String(format: "%.3g", $0) }, "\(run): \(levels)")
            #expect(svgElements("path", in: svg).contains { $0["data-isoline"] != nil && !($0["d"] ?? "").isEmpty }, "\(run): no isoline is drawn")
            #expect(svgElements("g", in: svg).contains { $0["data-marker"] == "θ" }, "\(run): θ is not marked")
            #expect(svg.contains("shared by all slices"))
            let text = try String(contentsOf: dir.appendingPathComponent("slices/\(run).csv"), encoding: .utf8)
            let mine = text.split(separator: "\n").dropFirst().compactMap { Double($0.split(separator: ",")[2]) }
            return (mine.min()!, mine.max()!)
        }
        // The test means something only if the slices' own ranges differ.
        #expect(Set(own.map(\.0)).count > 1 || Set(own.map(\.1)).count > 1)
    }

    @Test func everyPerEpochFigureDrawsTrainSolidValidationDashedAndTestDotted() throws {
        let dir = try copy("cli-study")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        try StudyReport.write(in: dir)
        for figure in ["loss.svg", "accuracy.svg"] {
            let svg = try String(contentsOf: dir.appendingPathComponent("figures/\(figure)"), encoding: .utf8)
            let styles = svgElements("polyline", in: svg).compactMap { a in a["data-series"].map { ($0, a["data-style"] ?? "") } }
            #expect(styles.count == 12, "\(figure): \(styles)")  // 4 configurations × 3 splits
            for (name, style) in styles {
                let expected = name.hasSuffix(" train") ? "solid" : (name.hasSuffix(" validation") ? "dashed" : (name.hasSuffix(" test") ? "dotted" : "?"))
                #expect(style == expected, "\(figure): \(name) is \(style)")
            }
            // The legend states the convention: one entry per split in its style.
            let legend = svg.components(separatedBy: "<g data-legend=\"1\">")[1]
            for (split, dash) in [("train", nil), ("validation", "7 4"), ("test", "1.5 3")] as [(String, String?)] {
                #expect(legend.contains(">\(split)</text>"), "\(figure): no legend entry \(split)")
                #expect(svgElements("line", in: "<g>" + legend.components(separatedBy: "</g>")[0] + "</g>").contains { $0["stroke"] == "#444" && $0["stroke-dasharray"] == dash }, "\(figure): \(split)")
            }
        }
    }

    @Test func thePCATrajectoryIsDrawnAtTheCheckpointsProjections() throws {
        // A trajectory in d = 40 that wanders in a plane plus a little noise, seeded.
        let seed: UInt64 = 20261205
        var rng = SplitMix64(seed: seed)
        let d = 40
        let a = Tensor<Double>.randomNormal([d], using: &rng), b = Tensor<Double>.randomNormal([d], using: &rng)
        var snapshots: [Tensor<Double>] = []
        for k in 0..<6 {
            var s = Tensor<Double>.randomNormal([d], using: &rng).scaled(by: 0.01)
            s.addScaled(a, Double(k) * 0.7)
            s.addScaled(b, sin(Double(k)))
            snapshots.append(s)
        }
        let θ = snapshots.last!
        let (dirs, _) = try trajectoryDirections(snapshots, around: θ, count: 2)
        let (alphas, betas) = try SliceFigure.planeCoordinates(of: snapshots, around: θ, u: dirs[0], v: dirs[1])
        // Independently: the principal directions are orthogonal, so each coordinate is ⟨θ_k − θ, u⟩/‖u‖².
        #expect(abs(dirs[0].dot(dirs[1])) < 1e-9 * dirs[0].norm() * dirs[1].norm(), "seed \(seed)")
        for k in snapshots.indices {
            var delta = snapshots[k]
            delta.addScaled(θ, -1)
            #expect(abs(alphas[k] - delta.dot(dirs[0]) / dirs[0].dot(dirs[0])) < 1e-9, "seed \(seed), checkpoint \(k)")
            #expect(abs(betas[k] - delta.dot(dirs[1]) / dirs[1].dot(dirs[1])) < 1e-9, "seed \(seed), checkpoint \(k)")
        }
        // The last checkpoint is θ itself: at the origin, where θ is marked.
        #expect(abs(alphas.last!) < 1e-12 && abs(betas.last!) < 1e-12)
        // The figure draws those points, in order.
        let axis = try grid(from: -1.5, to: 1.5, count: 7)
        let losses = axis.map { x in axis.map { y in 1 + x * x + 0.2 * y * y } }
        let svg = SliceFigure.svg(title: "pca", grid: SliceFigure.Grid(alphas: axis, betas: axis, losses: losses), range: nil, shared: false,
                                  trajectory: SVGPlot.Path(label: "trajectory", x: alphas, y: betas))
        let points = svgElements("circle", in: svg).filter { $0["data-point"] != nil }
        #expect(points.map { Int($0["data-point"]!)! } == Array(snapshots.indices))
        #expect(points.map { Double($0["data-x"]!)! } == alphas && points.map { Double($0["data-y"]!)! } == betas)
    }

    /// A slice CSV must hold each point of its grid exactly once: a repeated row in place of a
    /// missing one has the full grid's row count but would leave a cell without a value.
    @Test func aSliceGridHoldsEachPointExactlyOnce() throws {
        func grid(_ text: String) throws -> SliceFigure.Grid {
            try SliceFigure.grid(of: try CSVTable.parse(text, path: "slice-x.csv"), path: "slice-x.csv")
        }
        func reason(_ text: String) -> String? {
            do { _ = try grid(text); return nil } catch let StudyError.corruptFile(path, reason) {
                #expect(path == "slice-x.csv")
                return reason
            } catch { return "\(error)" }
        }
        // Rows in any order; a non-finite loss is kept (drawn grey).
        let g = try grid("alpha,beta,loss\n1,0,3\n0,1,2\n1,1,nan\n0,0,1\n")
        #expect(g.alphas == [0, 1] && g.betas == [0, 1])
        #expect(g.losses[0] == [1, 2] && g.losses[1][0] == 3 && g.losses[1][1].isNaN)
        // (0, 1) twice and (1, 1) missing: four rows for 2×2 axes.
        #expect(reason("alpha,beta,loss\n0,0,1\n0,1,2\n1,0,3\n0,1,2\n") == "data row 4 repeats the grid point α = 0.0, β = 1.0 of data row 2")
        #expect(reason("alpha,beta,loss\n0,0,1\n0,1,2\n1,0,3\n") == "is not a full grid (2×2 axes, 3 values)")
        #expect(reason("alpha,beta,loss\n0,0,1\nnan,1,2\n") == "data row 2: α = nan, β = 1 is not a finite point")
        #expect(reason("alpha,loss\n0,1\n") == "has no column 'beta'")
        #expect(reason("alpha,beta,loss\n") == "has no rows")
    }

    @Test func nonOrthogonalDirectionsGiveTheCoordinatesASnapshotWasBuiltFrom() throws {
        var rng = SplitMix64(seed: 7)
        let θ = Tensor<Double>.randomNormal([12], using: &rng), u = Tensor<Double>.randomNormal([12], using: &rng)
        var v = Tensor<Double>.randomNormal([12], using: &rng)
        v.addScaled(u, 0.5)
        var s = θ
        s.addScaled(u, 0.3)
        s.addScaled(v, -1.2)
        let (alphas, betas) = try SliceFigure.planeCoordinates(of: [s], around: θ, u: u, v: v)
        #expect(abs(alphas[0] - 0.3) < 1e-12 && abs(betas[0] + 1.2) < 1e-12)
        #expect(throws: (any Error).self) { try SliceFigure.planeCoordinates(of: [s], around: θ, u: u, v: u.scaled(by: 2)) }
    }

    @Test func aTrainingRunIsReportedInThePageStyle() throws {
        let dir = try copy("train-complete")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        #expect(RunReport.isRun(dir) && !RunReport.isRun(Self.fixtures.appendingPathComponent("cli-study")))
        let written = try RunReport.write(in: dir)
        #expect(Set(written.map(\.lastPathComponent)) == ["loss.svg", "accuracy.svg", "lambda-max.svg", "report.html"])
        let html = try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("<meta name=\"viewport\""))
        for f in ["loss.svg", "accuracy.svg", "lambda-max.svg"] { #expect(html.contains("data-figure=\"\(f)\""), "\(f)") }
        // The epochs table: one row per metrics.csv row, λ_max as in the file.
        let metrics = try CSVTable.read(dir.appendingPathComponent("metrics.csv"))
        #expect(html.components(separatedBy: "<tr>").count - 2 == metrics.rows.count)
        #expect(html.contains(String(format: "%.4g", Double(metrics.rows[0]["lambda_max"]!)!)))
        let loss = try String(contentsOf: dir.appendingPathComponent("figures/loss.svg"), encoding: .utf8)
        let styles = Dictionary(uniqueKeysWithValues: svgElements("polyline", in: loss).compactMap { a in a["data-series"].map { ($0, a["data-style"] ?? "") } })
        #expect(styles == ["train": "solid", "validation": "dashed", "test": "dotted"])
        // The run directory still resumes: the report added only figures/ and report.html.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["checkpoints.csv", "figures", "metrics.csv", "report.html", "run.json", "theta-epoch-003.safetensors"])
    }

    /// The length a run's report states is the one it trains to: after `train --resume DIR
    /// --epochs 5` (RunStore.extend) run.json keeps its 3-epoch configuration and lists the
    /// extension; one epoch is named in the singular.
    @Test func anExtendedRunIsReportedWithItsNewLength() throws {
        let dir = try copy("train-complete")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let page = dir.appendingPathComponent("report.html")
        try RunReport.write(in: dir)
        #expect(try String(contentsOf: page, encoding: .utf8).contains(" schedule, 3 epochs; 3 epochs recorded."))
        let store = try RunStore.open(at: dir)
        try store.extend(toEpochs: 5, after: 3)
        store.close()
        try RunReport.write(in: dir)
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(html.contains(" schedule, 5 epochs; 3 epochs recorded."), "\(html.components(separatedBy: "<p>")[1])")

        // A one-epoch run with one epoch recorded: its configuration and SHA-256 rewritten as `train` writes them.
        let runJSON = dir.appendingPathComponent("run.json")
        var info = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: runJSON)) as? [String: Any])
        var c = try TrainingConfiguration().merging(try #require(info["configuration"] as? [String: Any]), source: runJSON.path)
        c.epochs = 1
        info["configuration"] = c.jsonObject()
        info["configuration_sha256"] = c.sha256
        info["extensions"] = nil
        try JSONSerialization.data(withJSONObject: info).write(to: runJSON)
        let metrics = dir.appendingPathComponent("metrics.csv")
        let lines = try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n")
        try (lines[0...1].joined(separator: "\n") + "\n").write(to: metrics, atomically: true, encoding: .utf8)
        try RunReport.write(in: dir)
        #expect(try String(contentsOf: page, encoding: .utf8).contains(" schedule, 1 epoch; 1 epoch recorded."))
        // An edited configuration is refused, naming run.json.
        info["configuration_sha256"] = String(repeating: "0", count: 64)
        try JSONSerialization.data(withJSONObject: info).write(to: runJSON)
        #expect { try RunReport.write(in: dir) } throws: { error in
            guard case let StudyError.corruptFile(path, _) = error else { return false }
            return path == runJSON.path
        }
    }
}

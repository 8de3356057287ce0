import Checkpoints
import Foundation
import Plotting
import Training

/// The figure of a run's step-curvature.csv (``/Training/StepCurvatureMetrics``): the curvature along each
/// SGD step κ against the stability limit (black, dashed; rings on the steps whose κ exceeds it),
/// and the critical sharpness 2/η_c against 2/η (grey, dashed): 2/η_c above 2/η means the step
/// raised the quadratic model of its batch loss, which is a different criterion from stability
/// (with momentum μ the limit is (1+μ) times higher). Log axis (values ≤ 0 are not drawn).
public enum StepCurvatureFigure {
    /// The figure's file name in the run directory.
    public static let fileName = "step-curvature.svg"

    /// The SVG of a step-curvature.csv table; `limitLabel` names the stability limit
    /// (``/Training/TrainingConfiguration/stabilityLimitLabel``).
    public static func svg(of table: CSVTable, limitLabel: String) -> String {
        let step = table.numbers("step"), κ = table.numbers("step_curvature"), limit = table.numbers("stability_limit")
        let exceeds = table.numbers("exceeds_limit")
        let flagged = zip(κ, exceeds).map { $1 == 1 ? $0 : .nan }
        let twoOverη = table.numbers("learning_rate").map { 2 / $0 }
        return SVGPlot.linePlot(title: "Curvature along each SGD step κ against the stability limit \(limitLabel) (rings: above it); 2/η_c against 2/η", xLabel: "SGD step",
                                yLabel: "curvature", series: [
                                    .init(name: "κ = ΔθᵀHΔθ/‖Δθ‖²", x: step, y: κ, color: "#1f77b4"),
                                    .init(name: "critical sharpness 2/η_c", x: step, y: table.numbers("critical_sharpness"), color: "#2ca02c"),
                                    .init(name: "κ above the limit", x: step, y: flagged, color: "#d62728", ringsOnly: true),
                                    .init(name: limitLabel, x: step, y: limit, color: "#000000", dashed: true, reference: true),
                                    .init(name: "2/η (2/η_c above it: the step raised the batch loss's quadratic model)", x: step, y: twoOverη,
                                          color: "#7f7f7f", dashed: true, reference: true),
                                ], logY: true)
    }

    /// Writes the figure of `directory`'s step-curvature.csv beside it (atomically).
    /// - Returns: its URL, or `nil` when the run has no such file or no rows yet.
    /// - Throws: ``StudyError`` for an unreadable CSV; I/O errors.
    @discardableResult
    public static func write(runDirectory directory: URL, limitLabel: String) throws -> URL? {
        guard let table = try CSVTable.readIfPresent(directory.appendingPathComponent(RunStore.stepCurvatureName)), !table.rows.isEmpty else { return nil }
        let url = directory.appendingPathComponent(fileName)
        try AtomicFile.write(svg(of: table, limitLabel: limitLabel), to: url)
        return url
    }
}

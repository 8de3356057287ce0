import Autodiff
import Foundation
import Plotting
import Tensors

/// The figure of a 2D loss slice L(θ + αu + βv): filled contours of the loss on a log colour
/// scale, isolines at fixed levels, θ marked at α = β = 0 and, for a slice along a trajectory's
/// principal directions, the trajectory's checkpoints projected on the plane (Li et al. 2018,
/// Fig. 9). Slices that are compared share one colour scale (``sharedRange(_:)``), so flat and
/// sharp minima can be told apart by eye.
public enum SliceFigure {
    /// A slice read back from its CSV (`alpha,beta,loss`): the sorted axes and loss[i][j] at
    /// (alphas[i], betas[j]).
    public struct Grid: Sendable {
        /// The axes, increasing.
        public let alphas: [Double], betas: [Double]
        /// loss[i][j] at (alphas[i], betas[j]).
        public let losses: [[Double]]
        /// A grid with these axes and values.
        public init(alphas: [Double], betas: [Double], losses: [[Double]]) { self.alphas = alphas; self.betas = betas; self.losses = losses }
    }

    /// The grid of a slice table (columns `alpha`, `beta`, `loss`, one row per grid point, in any
    /// order; the loss may be non-finite, the coordinates may not).
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` naming `path` when a column is missing,
    ///   a row's α or β is not a finite number, or the rows do not hold each point of the grid
    ///   of their α and β values exactly once (naming the repeated data row, counted from 1 after the header).
    public static func grid(of table: CSVTable, path: String) throws -> Grid {
        for column in ["alpha", "beta", "loss"] where !table.columns.contains(column) {
            throw StudyError.corruptFile(path: path, reason: "has no column '\(column)'")
        }
        let a = table.numbers("alpha"), b = table.numbers("beta"), l = table.numbers("loss")
        if let k = a.indices.first(where: { !a[$0].isFinite || !b[$0].isFinite }) {
            throw StudyError.corruptFile(path: path, reason: "data row \(k + 1): α = \(table.rows[k]["alpha"] ?? ""), β = \(table.rows[k]["beta"] ?? "") is not a finite point")
        }
        let alphas = Array(Set(a)).sorted(), betas = Array(Set(b)).sorted()
        guard !alphas.isEmpty else { throw StudyError.corruptFile(path: path, reason: "has no rows") }
        let column = Dictionary(uniqueKeysWithValues: alphas.enumerated().map { ($1, $0) }), row = Dictionary(uniqueKeysWithValues: betas.enumerated().map { ($1, $0) })
        var z = Array(repeating: Array(repeating: Double.nan, count: betas.count), count: alphas.count)
        var first = Array(repeating: Array(repeating: -1, count: betas.count), count: alphas.count)
        for k in 0..<l.count {
            let i = column[a[k]]!, j = row[b[k]]!
            guard first[i][j] < 0 else {
                throw StudyError.corruptFile(path: path, reason: "data row \(k + 1) repeats the grid point α = \(a[k]), β = \(b[k]) of data row \(first[i][j] + 1)")
            }
            first[i][j] = k
            z[i][j] = l[k]
        }
        guard alphas.count * betas.count == l.count else {
            throw StudyError.corruptFile(path: path, reason: "is not a full grid (\(alphas.count)×\(betas.count) axes, \(l.count) values)")
        }
        return Grid(alphas: alphas, betas: betas, losses: z)
    }

    /// The colour range shared by `grids`: the smallest and largest positive finite loss over all
    /// of them (the log scale leaves out the rest), or `nil` when there is none.
    public static func sharedRange(_ grids: [Grid]) -> (Double, Double)? {
        let values = grids.flatMap { $0.losses.flatMap { $0 } }.filter { $0 > 0 && $0.isFinite }
        guard let lo = values.min(), let hi = values.max() else { return nil }
        return (lo, hi)
    }

    /// The isoline levels (loss values) of a colour range: round values (1-2-5 or decades) in log₁₀.
    public static func isolines(_ range: (Double, Double)) -> [Double] {
        SVGPlot.isolineLevels(Foundation.log10(range.0), Foundation.log10(range.1), log: true).map { Foundation.pow(10, $0) }
    }

    /// The SVG of a slice on the colour scale `range` (``sharedRange(_:)`` over the slices shown
    /// together; `nil`: the slice's own), with isolines at ``isolines(_:)`` of it, θ at (0, 0), and
    /// `trajectory` (points in the slice's α, β units, in training order) when given.
    public static func svg(title: String, grid: Grid, range: (Double, Double)?, shared: Bool, trajectory: SVGPlot.Path? = nil) -> String {
        let range = range ?? sharedRange([grid])
        let scale = shared ? "log colour scale shared by all slices" : "log colour scale"
        return SVGPlot.contourMap(title: title, xLabel: "α", yLabel: "β", zLabel: "loss (\(scale))",
                                  x: grid.alphas, y: grid.betas, z: grid.losses, logZ: true, zRange: range,
                                  isolines: range.map(isolines), marker: SVGPlot.Marker(label: "θ", x: 0, y: 0), path: trajectory)
    }

    /// How to read a slice figure (the report's caption).
    public static func caption(range: (Double, Double)?, shared: Bool) -> String {
        let levels = range.map { isolines($0).map { String(format: "%g", $0) }.joined(separator: ", ") } ?? ""
        var text = "The loss L(θ + αu + βv) on a grid around the final parameters θ (×, at α = β = 0), along two filter-normalized random directions u, v (Li et al. 2018: each filter of a direction has the norm of the same filter of θ, so α = 1 is a step as large as the weights). "
        text += shared ? "Every slice uses the same log colour scale" : "Log colour scale"
        if let range { text += String(format: " (loss %.3g to %.3g)", range.0, range.1) }
        text += ", so a sharp minimum shows as tightly packed colours and isolines, a flat one as a wide basin"
        if !levels.isEmpty { text += "; white isolines at loss " + levels }
        return text + ". Grey cells: non-finite loss."
    }
}

extension SliceFigure {
    /// The coordinates (α_k, β_k) of each snapshot θ_k in the slice's plane: the least-squares
    /// solution of θ_k − θ ≈ α·u + β·v (the 2×2 normal equations with the Gram matrix of u, v),
    /// which for the orthogonal principal directions of a trajectory PCA is α = ⟨θ_k − θ, u⟩/‖u‖²,
    /// β = ⟨θ_k − θ, v⟩/‖v‖² (Li et al. 2018, §7: the optimizer's path on the PCA plane).
    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` when a length differs from θ's or u and v
    ///   are parallel (a singular Gram matrix).
    public static func planeCoordinates(of snapshots: [Tensor<Double>], around θ: Tensor<Double>, u: Tensor<Double>, v: Tensor<Double>) throws -> (alphas: [Double], betas: [Double]) {
        guard u.count == θ.count, v.count == θ.count, snapshots.allSatisfy({ $0.count == θ.count }) else {
            throw AutodiffError.invalidArgument("slice plane coordinates: a snapshot or direction's length differs from θ's (\(θ.count))")
        }
        let uu = u.dot(u), uv = u.dot(v), vv = v.dot(v)
        let det = uu * vv - uv * uv
        guard det > 1e-12 * uu * vv, det.isFinite else {
            throw AutodiffError.invalidArgument("slice plane coordinates: the directions u and v are parallel")
        }
        var alphas: [Double] = [], betas: [Double] = []
        for s in snapshots {
            var delta = s
            delta.addScaled(θ, -1)
            let a = u.dot(delta), b = v.dot(delta)
            alphas.append((vv * a - uv * b) / det)
            betas.append((uu * b - uv * a) / det)
        }
        return (alphas, betas)
    }
}

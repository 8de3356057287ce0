import Autodiff
import Foundation
import Tensors

/// A 1-D slice α ↦ L(θ + α·u) on a grid (the study's eq. 14; Goodfellow et al. 2015; Li et al. 2018).
public struct Slice1D: Sendable {
    /// The α grid (first direction), ascending.
    public let alphas: [Double]
    /// L(θ + α·u) for each α.
    public let losses: [Double]
}

/// A 2-D slice (α, β) ↦ L(θ + α·u + β·v) on a grid (the study's eq. 15); `losses[i][j]` is at
/// (alphas[i], betas[j]).
public struct Slice2D: Sendable {
    /// The α grid (first direction), ascending.
    public let alphas: [Double]
    /// The β grid (second direction), ascending.
    public let betas: [Double]
    /// `losses[i][j]` = L(θ + alphas[i]·u + betas[j]·v).
    public let losses: [[Double]]
    /// cos∠(u, v) of the directions actually used (0 when orthogonal).
    public let cosine: Double
}

/// An evenly spaced grid of `count` points from `lower` to `upper`, for any finite range
/// (one wider than `Double.greatestFiniteMagnitude` included).
/// - Throws: ``/Autodiff/AutodiffError`` for `count < 1`, a non-finite or reversed range, or a range too
///   narrow to hold `count` distinct Float64 values (e.g. 1…1.0000000000000002).
public func grid(from lower: Double, to upper: Double, count: Int) throws -> [Double] {
    guard count >= 1 else { throw AutodiffError.invalidArgument("slice grid: need at least one point, got \(count)") }
    guard lower.isFinite, upper.isFinite, lower <= upper else { throw AutodiffError.invalidArgument("slice grid: invalid range \(lower)...\(upper)") }
    if count == 1 { return [lower] }
    let span = upper - lower
    let points = (0..<count).map { k -> Double in
        let t = Double(k) / Double(count - 1)
        return span.isFinite ? lower + span * t : lower * (1 - t) + upper * t
    }
    for k in 1..<count where !(points[k - 1] < points[k]) {
        throw AutodiffError.invalidArgument("slice grid: the range \(lower)...\(upper) is too narrow for \(count) distinct points in Float64 (points \(k) and \(k + 1) are both \(points[k]))")
    }
    return points
}

/// The 1-D slice L(θ + α·u) for α in `alphas`.
/// - Throws: ``/Autodiff/AutodiffError`` for an empty grid or wrong lengths.
public func slice1D<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, along u: Tensor<O.Scalar>, alphas: [Double]) throws -> Slice1D {
    guard !alphas.isEmpty else { throw AutodiffError.invalidArgument("slice: the grid is empty") }
    try f.layout.validate(θ)
    try f.layout.validate(u, as: "the direction")
    guard u.norm() > 0, u.norm().isFinite else { throw AutodiffError.invalidArgument("slice: the direction is zero or not finite") }
    let losses = try alphas.map { a -> Double in
        var p = θ
        p.addScaled(u, O.Scalar(a))
        return Double(try value(of: f, at: p))
    }
    return Slice1D(alphas: alphas, losses: losses)
}

/// The 2-D slice L(θ + α·u + β·v). Pass `orthogonalize: true` to replace v by its component
/// orthogonal to u, rescaled to ‖v‖ (Gram–Schmidt), which makes the axes independent.
/// Objectives that conform to ``PlaneEvaluable`` (the MLP's loss) evaluate the grid sharing the
/// work that is linear in the parameters; others take one forward pass per point.
/// - Throws: ``/Autodiff/AutodiffError`` for empty grids, wrong lengths, or v parallel to u when orthogonalizing.
public func slice2D<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, u: Tensor<O.Scalar>, v: Tensor<O.Scalar>,
                                  alphas: [Double], betas: [Double], orthogonalize: Bool = false,
                                  progress: (Int, Int) -> Void = { _, _ in }) throws -> Slice2D {
    guard !alphas.isEmpty, !betas.isEmpty else { throw AutodiffError.invalidArgument("slice: the grid is empty") }
    try f.layout.validate(θ)
    try f.layout.validate(u, as: "the direction u")
    try f.layout.validate(v, as: "the direction v")
    guard u.norm() > 0, u.norm().isFinite, v.norm() > 0, v.norm().isFinite else {
        throw AutodiffError.invalidArgument("slice: a direction is zero or not finite (e.g. an interpolation between identical parameter files)")
    }
    var w = v
    if orthogonalize {
        let uu = u.dot(u)
        guard uu > 0 else { throw AutodiffError.invalidArgument("slice: u is zero") }
        w.addScaled(u, O.Scalar(-v.dot(u) / uu))
        let n = w.norm()
        guard n > 1e-12 * v.norm() else { throw AutodiffError.invalidArgument("slice: v is parallel to u") }
        w = w.affine(scale: O.Scalar(v.norm() / n), shift: 0)
    }
    let cosine = u.dot(w) / max(u.norm() * w.norm(), 1e-300)
    if let plane = f as? any PlaneEvaluable, let fast = try planeLosses(plane, θ, u, w, alphas, betas) {
        progress(alphas.count, alphas.count)
        return Slice2D(alphas: alphas, betas: betas, losses: fast, cosine: cosine)
    }
    var losses: [[Double]] = []
    for (i, a) in alphas.enumerated() {
        var row: [Double] = []
        for b in betas {
            var p = θ
            p.addScaled(u, O.Scalar(a))
            p.addScaled(w, O.Scalar(b))
            row.append(Double(try value(of: f, at: p)))
        }
        losses.append(row)
        progress(i + 1, alphas.count)
    }
    return Slice2D(alphas: alphas, betas: betas, losses: losses, cosine: cosine)
}

/// Opens the existential and calls ``PlaneEvaluable/lossesOnPlane(_:u:v:alphas:betas:)`` when the
/// element types match.
func planeLosses<P: PlaneEvaluable, E: TensorScalar>(_ p: P, _ θ: Tensor<E>, _ u: Tensor<E>, _ v: Tensor<E>,
                                                     _ alphas: [Double], _ betas: [Double]) throws -> [[Double]]? {
    guard let θp = θ as? Tensor<P.Scalar>, let up = u as? Tensor<P.Scalar>, let vp = v as? Tensor<P.Scalar> else { return nil }
    return try p.lossesOnPlane(θp, u: up, v: vp, alphas: alphas, betas: betas)
}

/// The direction from θ₁ to θ₂ (θ₂ − θ₁), for the interpolation slice L((1 − α)θ₁ + αθ₂) =
/// L(θ₁ + α(θ₂ − θ₁)) (Goodfellow, Vinyals & Saxe 2015).
/// - Throws: ``/Autodiff/AutodiffError`` for different lengths.
public func interpolationDirection<E: TensorScalar>(from θ1: Tensor<E>, to θ2: Tensor<E>) throws -> Tensor<E> {
    guard θ1.count == θ2.count else { throw AutodiffError.lengthMismatch(what: "the second parameter vector", expected: θ1.count, actual: θ2.count) }
    var d = θ2
    d.addScaled(θ1, -1)
    return d
}

/// The top principal directions of a training trajectory θ₀…θ_T (Li et al. 2018, §7): the
/// leading eigenvectors of the covariance of the centered snapshots, computed from the T×T Gram
/// matrix with LAPACK (so d may be large). Returns unit directions and their explained
/// variance ratios.
///
/// A direction along which the trajectory's spread is at the level of rounding errors is noise,
/// not a direction of the trajectory: the spread σ_k (the k-th singular value of the centered
/// snapshots) must exceed both 16·n·ε·max‖θ_i‖ (ε of `E`: snapshots that are identical or differ
/// only by round-off) and √(16·n·ε₆₄)·σ₁ (the accuracy of the Gram matrix's small eigenvalues:
/// snapshots on a line have no second direction).
/// - Throws: ``/Autodiff/AutodiffError`` for fewer than 2 snapshots, mixed lengths, count outside 1...T−1,
///   or a requested direction at round-off level (a degenerate trajectory), naming the spread.
public func trajectoryPCA<E: TensorScalar>(_ snapshots: [Tensor<E>], count: Int = 2) throws -> (directions: [Tensor<E>], explainedVariance: [Double]) {
    guard snapshots.count >= 2 else { throw AutodiffError.invalidArgument("PCA: need at least 2 snapshots, got \(snapshots.count)") }
    let d = snapshots[0].count
    for s in snapshots where s.count != d { throw AutodiffError.lengthMismatch(what: "a snapshot", expected: d, actual: s.count) }
    let n = snapshots.count
    guard count >= 1, count <= n - 1 else { throw AutodiffError.invalidArgument("PCA: count must be in 1...\(n - 1), got \(count)") }
    // Steps from the first snapshot are exact zeros between identical snapshots (centring the
    // snapshots themselves on their mean would leave the mean's rounding errors as a spread).
    let steps = snapshots.map { s -> Tensor<E> in var c = s; c.addScaled(snapshots[0], -1); return c }
    var mean = Tensor<E>.zeros([d])
    for s in steps { mean.addScaled(s, E(1 / Double(n))) }
    let centered = steps.map { s -> Tensor<E> in var c = s; c.addScaled(mean, -1); return c }
    var gram = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0...i { let g = centered[i].dot(centered[j]); gram[i * n + j] = g; gram[j * n + i] = g } }
    let (values, vectors) = try LAPACK.symmetricEigen(Tensor(shape: [n, n], scalars: gram))
    let total = max(values.reduce(0) { $0 + max($1, 0) }, 1e-300)
    let scale = snapshots.map { $0.norm() }.max() ?? 0
    let spread = { (k: Int) in max(values[n - 1 - k], 0).squareRoot() }
    let roundOff = max(16 * Double(n) * Double(E.ulpOfOne) * scale, (16 * Double(n) * Double.ulpOfOne).squareRoot() * spread(0))
    var dirs: [Tensor<E>] = [], ratios: [Double] = []
    for k in 0..<count {
        guard spread(k) > roundOff else {
            if k == 0 {
                throw AutodiffError.invalidArgument(String(format: "PCA: the trajectory does not move: its snapshots are identical or differ only by round-off (spread %.3g against a parameter norm of %.3g); there is no direction to slice along", spread(0), scale))
            }
            throw AutodiffError.invalidArgument(String(format: "PCA: the trajectory has %d direction%@ above round-off, not %d: its spread along principal direction %d is %.3g against %.3g along the first (round-off level %.3g); slice it in %d dimension%@",
                                                       k, k == 1 ? "" : "s", count, k + 1, spread(k), spread(0), roundOff, k, k == 1 ? "" : "s"))
        }
        let idx = n - 1 - k
        var dir = Tensor<E>.zeros([d])
        for i in 0..<n { dir.addScaled(centered[i], E(vectors.scalars[idx * n + i])) }
        dirs.append(dir.affine(scale: E(1 / dir.norm()), shift: 0))
        ratios.append(max(values[idx], 0) / total)
    }
    return (dirs, ratios)
}

/// A Taylor slice: along u, the order-K Taylor polynomial of α ↦ L(θ + α·u) (from one jet pass)
/// beside the true slice, and the radius where they part.
public struct TaylorSlice: Sendable {
    /// The true slice.
    public let slice: Slice1D
    /// The polynomial Σ_k c_k α^k on the same grid.
    public let polynomial: [Double]
    /// The normalized Taylor coefficients c₀…c_K.
    public let coefficients: [Double]
    /// The smallest |α| on the grid where |polynomial − true| > tolerance·max(|true − c₀|, tolerance),
    /// or `nil` if they never part on the grid.
    public let partingRadius: Double?
}

/// Computes a ``TaylorSlice`` of order `order` along `u` over `alphas`.
/// - Throws: ``/Autodiff/AutodiffError`` for an empty grid, wrong lengths, a negative order or tolerance ≤ 0.
public func taylorSlice<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, along u: Tensor<O.Scalar>, alphas: [Double],
                                      order: Int = 4, tolerance: Double = 0.05) throws -> TaylorSlice {
    guard tolerance > 0, tolerance.isFinite else { throw AutodiffError.invalidArgument("Taylor slice: tolerance must be positive, got \(tolerance)") }
    let c = try taylorCoefficients(of: f, at: θ, along: u, order: order).map { Double($0) }
    let s = try slice1D(of: f, at: θ, along: u, alphas: alphas)
    let poly = alphas.map { a in c.reversed().reduce(0.0) { $0 * a + $1 } }
    var radius: Double? = nil
    for (i, a) in alphas.enumerated() {
        let change = abs(s.losses[i] - c[0])
        if abs(poly[i] - s.losses[i]) > tolerance * max(change, tolerance) {
            radius = min(radius ?? .infinity, abs(a))
        }
    }
    return TaylorSlice(slice: s, polynomial: poly, coefficients: c, partingRadius: radius)
}

import Autodiff
import Foundation
import Settings
import Tensors

/// The settings of `probeSuite(of:at:operator:layout:blocks:settings:parts:progress:)` (`landscape probe`).
public struct ProbeSuiteSettings: Sendable, Equatable {
    /// Top eigenvalues by Lanczos, and the Lanczos steps for them (at least `top`).
    public var top = 5, lanczosSteps = 40
    /// Power iterations (maximum) for λ_max, before Lanczos takes over
    /// (``largestEigenvalue(of:powerIterations:lanczosSteps:tolerance:seed:initialVector:)``); converged
    /// when ‖Av − λv‖ ≤ `powerTolerance`·|λ|.
    public var powerIterations = 100, powerTolerance = ProbeDefaults.powerTolerance
    /// SLQ probe vectors and Lanczos steps per probe.
    public var slqProbes = ProbeDefaults.slqProbes, slqSteps = ProbeDefaults.slqSteps
    /// Hutchinson probes (Hutch++ uses the same number of products; at least 6).
    public var traceProbes = 30
    /// Sharpness radius ε (parameter-space units), random directions, and projected gradient-ascent steps.
    public var epsilon = ProbeDefaults.sharpnessEpsilon, directions = ProbeDefaults.sharpnessDirections, ascentSteps = 20
    /// Keskar et al.'s box sharpness: its half-width ε and ascent steps (the probe's settings and defaults).
    public var keskar = KeskarProbe()
    /// z of N_eff(z) = Σ λ/(λ + z) and the fraction of λ_max above which eigenvalues are counted,
    /// applied to the suite's SLQ density (the probe's settings and defaults).
    public var ranks = SpectralRanksProbe()
    /// Filter-normalized random directions for sharpness (Li et al. 2018) instead of unit ones.
    public var filterNormalized = false
    /// Also λ_max, λ_min and the trace of each layer's diagonal block.
    public var perLayer = false
    /// Seed of every probe vector and direction.
    public var seed: UInt64 = 0

    /// The defaults of `landscape probe`.
    public init() {}

    /// The settings as options of `landscape probe`, declared once with their help and limits
    /// (``problem`` checks the limits).
    public static let keys: [SettingKey<ProbeSuiteSettings>] = [
        SettingKey("top", \.top, limits: .atLeast(1), help: "Top eigenvalues by Lanczos (at most --lanczos-steps)."),
        SettingKey("lanczosSteps", \.lanczosSteps, limits: .range(ProbeLimits.lanczosSteps), help: "Lanczos steps for the top eigenvalues."),
        SettingKey("powerIterations", \.powerIterations, limits: .range(ProbeLimits.powerIterations), help: "Power iterations (maximum) for λ_max, before Lanczos takes over."),
        SettingKey("powerTolerance", \.powerTolerance, limits: .positive, help: "Power iteration has converged when ‖Hv − λv‖ ≤ tolerance·|λ| (train's probes.lambdaTolerance, the same default)."),
        SettingKey("slqProbes", \.slqProbes, limits: .range(ProbeLimits.slqProbes), help: "SLQ probe vectors."),
        SettingKey("slqSteps", \.slqSteps, limits: .range(ProbeLimits.slqSteps), help: "SLQ Lanczos steps per probe."),
        SettingKey("traceProbes", \.traceProbes, limits: .range(ProbeLimits.hutchPlusPlusProbes), help: "Hutchinson probes; Hutch++ uses the same number of products (it splits them in thirds)."),
        SettingKey("epsilon", \.epsilon, option: "sharpness-epsilon", aliases: ["epsilon"], limits: .positive,
                   help: "Sharpness radius ε in parameter-space units (the study's epochProbes.sharpnessEpsilon, the same default)."),
        SettingKey("directions", \.directions, option: "sharpness-directions", limits: .range(ProbeLimits.sharpnessDirections),
                   help: "Random directions of sharpness (a count; slice's --directions is a kind of direction)."),
        SettingKey("ascentSteps", \.ascentSteps, limits: .range(ProbeLimits.ascentSteps), help: "Projected gradient-ascent steps of worst-case sharpness."),
        SettingKey("keskar.epsilon", \.keskar.epsilon, option: "keskar-epsilon", help: "Keskar et al.'s box sharpness: half-width ε of the box |δ_i| ≤ ε(|θ_i| + 1)."),
        SettingKey("ranks.regularization", \.ranks.regularization, option: "rank-regularization", help: "z of the effective dimensionality Σ λ/(λ + z) from the SLQ density."),
        SettingKey("ranks.fraction", \.ranks.fraction, option: "rank-fraction", help: "Count eigenvalues above this fraction of λ_max in the SLQ density."),
        SettingKey("filterNormalized", \.filterNormalized, help: "Filter-normalized random directions for sharpness (Li et al. 2018) instead of unit ones."),
    ]

    /// The problem with these settings (the setting's key in ``keys`` and what is wrong), or `nil`.
    public var problem: (setting: String, problem: String)? {
        guard top >= 1, lanczosSteps >= top else { return ("top", "must be in 1...lanczosSteps (\(lanczosSteps)), got \(top)") }
        if let (key, problem) = SettingOptions(Self.keys).problem(in: self) { return (key.name, problem) }
        // The probes' own checks, under the keys of their settings (keskar.epsilon, ranks.fraction, …).
        for (prefix, probe) in [("keskar", AnyProbe(keskar)), ("ranks", AnyProbe(ranks))] {
            do { try probe.validate() } catch let error as ProbeSettingError {
                return ("\(prefix).\(error.setting)", error.problem)
            } catch { return (probe.name, "\(error)") }
        }
        return nil
    }

    /// ``problem``, and the radii that lose their meaning in `precision`, the precision the suite
    /// computes in (that of its objective).
    public func problem(in precision: Precision) -> (setting: String, problem: String)? {
        if let problem { return problem }
        for (setting, value) in [("epsilon", epsilon), ("keskar.epsilon", keskar.epsilon)] {
            if let problem = precision.roundingProblem(value, user: "the probe suite") { return (setting, problem) }
        }
        return nil
    }
}

extension ProbeSuiteSettings {
    /// The setting whose parameter-sized vectors would exceed `available` bytes
    /// (``/Tensors/MachineMemory/bytes``) for `dimension` parameters of `scalarBytes` bytes, with the
    /// estimate, or `nil`. The vectors held at once: the Lanczos basis and Ritz vectors
    /// (`lanczosSteps + top`), the SLQ bases (`slqSteps` for each of the probes whose runs go in
    /// lockstep, ``ProbeLimits/lockstepRuns(steps:dimension:scalarBytes:)``; every basis of a group is
    /// held until the group's last run ends), Hutch++'s orthonormal sketch (`traceProbes / 3`) with a block
    /// of probes and products; each with a few work vectors. The data's records are not counted.
    public func memoryProblem(dimension: Int, scalarBytes: Int, available: Double = MachineMemory.bytes) -> (setting: String, problem: String)? {
        let block = 2 * min(ProbeLimits.vectorsPerBlock(dimension: dimension, scalarBytes: scalarBytes), traceProbes)
        let uses: [(String, Int, String)] = [
            ("lanczosSteps", lanczosSteps + top, "the Lanczos basis"), ("slqSteps", slqSteps * min(max(slqProbes, 1), ProbeLimits.lockstepRuns(steps: slqSteps, dimension: dimension, scalarBytes: scalarBytes)), "the SLQ Lanczos bases"),
            ("traceProbes", traceProbes / 3 + block, "Hutch++'s sketch")]
        for (setting, vectors, what) in uses {
            if let message = ProbeLimits.memoryProblem(vectors: vectors, dimension: dimension, scalarBytes: scalarBytes, what: what, available: available) {
                return (setting, message)
            }
        }
        return nil
    }
}

/// The probes of `probeSuite(of:at:operator:layout:blocks:settings:parts:progress:)` by name (`landscape probe --only`).
public enum ProbeSuitePart: String, CaseIterable, Sendable, Comparable {
    /// λ_max by power iteration and the top eigenvalues (and eigenvectors) by Lanczos.
    case lambdaMax = "lambda_max"
    /// λ_min by Lanczos.
    case lambdaMin = "lambda_min"
    /// The trace by Hutchinson and Hutch++.
    case trace
    /// The SLQ spectral density and the effective ranks from it.
    case density
    /// Random-direction and worst-case sharpness (needs λ_max for ½ε²λ_max).
    case sharpness
    /// Keskar et al.'s box sharpness.
    case keskar

    public static func < (a: Self, b: Self) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }

    /// The parts `parts` need besides themselves: λ_max for sharpness.
    public static func closure(of parts: Set<Self>) -> Set<Self> {
        parts.contains(.sharpness) ? parts.union([.lambdaMax]) : parts
    }
}

/// What `probeSuite(of:at:operator:layout:blocks:settings:parts:progress:)` measured; a probe not run is `nil`.
public struct ProbeSuiteResult<E: TensorScalar>: Sendable {
    /// The probes that ran (those asked for and those they need, ``ProbeSuitePart/closure(of:)``).
    public var parts: Set<ProbeSuitePart>
    /// λ_max (largest algebraic) by power iteration, then Lanczos where power iteration leaves it open.
    public var power: LargestEigenvalue<E>?
    /// The top eigenvalues (largest algebraic) and λ_min by Lanczos.
    public var top: LanczosResult<E>?, bottom: LanczosResult<E>?
    /// Trace estimates with their standard errors.
    public var hutchinson: (trace: Double, standardError: Double)?, hutchPlusPlus: (trace: Double, standardError: Double)?
    /// The SLQ spectral density, and the effective ranks and dimensionality from it.
    public var density: SpectralDensity?, ranks: SpectralRanks?
    /// Per-layer curvature (empty unless ``ProbeSuiteSettings/perLayer``).
    public var layers: [BlockCurvature]
    /// Random-direction sharpness (with ½ε²λ_max from the top Lanczos value), the worst case in the
    /// ℓ2 ball by gradient ascent, and Keskar et al.'s box sharpness.
    public var sharpness: RandomSharpness?, worstCase: Double?, keskar: KeskarSharpness<E>?
    /// Seconds per probe: `power_iteration`, `lanczos`, `trace`, `slq`, `blocks`, `sharpness`, `keskar`.
    public var seconds: [String: Double]
    /// λ_max: the largest Lanczos Ritz value of the top-k run (`nil` when λ_max was not run).
    public var lambdaMax: Double? { top?.pairs[0].value }
}

/// The curvature probes of `landscape probe` on one operator: λ_max by power iteration and by
/// Lanczos, λ_min, the trace by Hutchinson and Hutch++, the SLQ density and effective ranks,
/// optionally per-block curvature (`blocks`: a model's modules, `Model.modules` in Layers; `nil`:
/// ``layerBlocks(of:)``), and the sharpness of `f` at θ (random and worst-case), or only
/// the `parts` asked for (with those they need). `op` is the
/// Hessian of `f` at θ or another curvature matrix there (Gauss–Newton, Fisher); `progress` is
/// told each probe's name as it starts.
/// - Throws: ``/Autodiff/AutodiffError`` for invalid settings or lengths; the operator's errors.
public func probeSuite<O: Objective, A: SymmetricOperator>(of f: O, at θ: Tensor<O.Scalar>, operator op: A, layout: ParameterLayout,
                                                           blocks: [(name: String, entries: [String])]? = nil,
                                                           settings s: ProbeSuiteSettings, parts: Set<ProbeSuitePart> = Set(ProbeSuitePart.allCases),
                                                           progress: (String) -> Void = { _ in }) throws -> ProbeSuiteResult<O.Scalar>
    where A.Scalar == O.Scalar {
    try probeSuite(of: LossFunction(f), at: θ, operator: op, layout: layout, blocks: blocks, settings: s, parts: parts, progress: progress)
}

/// `probeSuite(of:at:operator:layout:blocks:settings:parts:progress:)` with the sharpness of any loss function
/// (e.g. `Model.meanLoss(on:labels:chunkSize:)` in Layers, a mean over chunks of data).
public func probeSuite<E: TensorScalar, A: SymmetricOperator>(of f: LossFunction<E>, at θ: Tensor<E>, operator op: A, layout: ParameterLayout,
                                                             blocks: [(name: String, entries: [String])]? = nil, settings s: ProbeSuiteSettings, parts asked: Set<ProbeSuitePart> = Set(ProbeSuitePart.allCases),
                                                             progress: (String) -> Void = { _ in }) throws -> ProbeSuiteResult<E>
    where A.Scalar == E {
    if let (setting, problem) = s.problem(in: Precision(of: E.self)) { throw AutodiffError.invalidArgument("probe suite: \(setting) \(problem)") }
    let parts = ProbeSuitePart.closure(of: asked)
    let d = θ.count
    var r = ProbeSuiteResult<E>(parts: parts, layers: [], seconds: [:])
    func step(_ name: String) -> Date { progress(name); return Date() }
    var t: Date
    if parts.contains(.lambdaMax) {
        t = step("λ_max by power iteration")
        r.power = try largestEigenvalue(of: op, powerIterations: s.powerIterations, lanczosSteps: min(s.lanczosSteps, d), tolerance: s.powerTolerance, seed: s.seed)
        r.seconds["power_iteration"] = Date().timeIntervalSince(t)
    }
    if parts.contains(.lambdaMax) || parts.contains(.lambdaMin) {
        t = step(parts.contains(.lambdaMax) ? "top-\(s.top) eigenvalues by Lanczos" : "λ_min by Lanczos")
        if parts.contains(.lambdaMax) { r.top = try lanczos(of: op, count: s.top, target: .largestAlgebraic, steps: min(s.lanczosSteps, d), seed: s.seed) }
        if parts.contains(.lambdaMin) { r.bottom = try lanczos(of: op, count: 1, target: .smallestAlgebraic, steps: min(s.lanczosSteps, d), seed: s.seed &+ 1) }
        r.seconds["lanczos"] = Date().timeIntervalSince(t)
    }
    if parts.contains(.trace) {
        t = step("trace (Hutchinson, Hutch++)")
        r.hutchinson = try hutchinsonTrace(of: op, probes: s.traceProbes, seed: s.seed)
        r.hutchPlusPlus = try hutchPlusPlusTrace(of: op, probes: s.traceProbes, seed: s.seed)
        r.seconds["trace"] = Date().timeIntervalSince(t)
    }
    if parts.contains(.density) {
        t = step("spectral density (SLQ, \(s.slqProbes) × \(s.slqSteps) steps)")
        let density = try spectralDensity(of: op, probes: s.slqProbes, steps: min(s.slqSteps, d), seed: s.seed)
        r.density = density
        r.ranks = try SpectralRanks(density: density, dimension: d, regularization: s.ranks.regularization, fraction: s.ranks.fraction)
        r.seconds["slq"] = Date().timeIntervalSince(t)
    }
    if s.perLayer {
        t = step("per-layer λ_max, λ_min and trace")
        r.layers = try blockCurvature(of: op, blocks: blocks ?? layerBlocks(of: layout), layout: layout,
                                      steps: min(s.lanczosSteps, 30), traceProbes: max(s.traceProbes / 3, 2), seed: s.seed)
        r.seconds["blocks"] = Date().timeIntervalSince(t)
    }
    if parts.contains(.sharpness) {
        t = step("sharpness (ε = \(s.epsilon))")
        r.sharpness = try randomSharpness(of: f, at: θ, epsilon: s.epsilon, directions: s.directions, kind: s.filterNormalized ? .filterNormalized : .unit,
                                          lambdaMax: r.lambdaMax, seed: s.seed)
        r.worstCase = try worstCaseSharpness(of: f, at: θ, epsilon: s.epsilon, steps: s.ascentSteps, seed: s.seed).increase
        r.seconds["sharpness"] = Date().timeIntervalSince(t)
    }
    if parts.contains(.keskar) {
        t = step("Keskar sharpness (ε = \(s.keskar.epsilon), box)")
        r.keskar = try keskarSharpness(of: f, at: θ, epsilon: s.keskar.epsilon, steps: s.keskar.steps, seed: s.keskar.seed)
        r.seconds["keskar"] = Date().timeIntervalSince(t)
    }
    return r
}

/// How `sliceDirections(_:count:of:at:layout:seed:endpoint:trajectory:)` chooses the directions of a slice.
public enum SliceDirectionKind: String, CaseIterable, Sendable {
    /// Random unit directions.
    case random
    /// Filter-normalized random directions (Li et al. 2018).
    case filter
    /// The top Hessian eigenvectors (Lanczos).
    case eigen
    /// Towards a second point (`endpoint`), then a filter-normalized random direction.
    case interpolate
    /// The principal directions of a training trajectory (``trajectoryDirections(_:around:count:)``).
    case pca
}

/// The directions of a 1D or 2D slice at θ (`count` of them, 1 or 2), and for ``SliceDirectionKind/pca``
/// the trajectory's explained variance ratios. Random directions come from `seed`; eigen
/// directions from Lanczos on `curvature` (default: the Hessian of `f` on one tape; pass a
/// chunked one, e.g. `CurvatureKind.hessian.matrix(…)` over chunks, to hold one chunk at a time).
/// - Throws: ``/Autodiff/AutodiffError`` for a missing `endpoint` or too short a `trajectory`, wrong lengths;
///   Lanczos errors for ``SliceDirectionKind/eigen``.
public func sliceDirections<O: Objective>(_ kind: SliceDirectionKind, count: Int, of f: O, at θ: Tensor<O.Scalar>, layout: ParameterLayout,
                                          seed: UInt64, endpoint: Tensor<O.Scalar>? = nil, trajectory: [Tensor<O.Scalar>] = [],
                                          curvature: AnySymmetricOperator<O.Scalar>? = nil) throws
    -> (directions: [Tensor<O.Scalar>], explainedVariance: [Double]?) {
    typealias V = Tensor<O.Scalar>
    var rng = SplitMix64(seed: seed &+ 0x511CE)
    switch kind {
    case .random:
        return ((0..<count).map { _ in V.randomNormal([θ.count], using: &rng).normalized() }, nil)
    case .filter:
        return (try (0..<count).map { _ in try filterNormalized(V.randomNormal([θ.count], using: &rng), like: θ, layout: layout) }, nil)
    case .eigen:
        let hessian = try curvature ?? AnySymmetricOperator(try HessianOperator(of: f, at: θ))
        return (try lanczos(of: hessian, count: count, steps: min(40, θ.count), seed: seed).pairs.map(\.vector), nil)
    case .pca:
        let (directions, ratios) = try trajectoryDirections(trajectory, around: θ, count: count)
        return (directions, ratios)
    case .interpolate:
        guard let endpoint else { throw AutodiffError.invalidArgument("slice directions: interpolate needs an endpoint") }
        var dirs = [try interpolationDirection(from: θ, to: endpoint)]
        if count == 2 { dirs.append(try filterNormalized(V.randomNormal([θ.count], using: &rng), like: θ, layout: layout)) }
        return (dirs, nil)
    }
}

/// The principal directions of a trajectory (``trajectoryPCA(_:count:)``), each scaled to the
/// trajectory's extent along it from θ (the largest |⟨θ_k − θ, pc⟩|), with the explained variance ratios.
/// - Throws: ``/Autodiff/AutodiffError`` for fewer than `count + 1` snapshots, wrong lengths, or a trajectory
///   with fewer than `count` directions above round-off.
public func trajectoryDirections<E: TensorScalar>(_ snapshots: [Tensor<E>], around θ: Tensor<E>, count: Int) throws -> (directions: [Tensor<E>], explainedVariance: [Double]) {
    guard snapshots.count >= count + 1 else {
        throw AutodiffError.invalidArgument("trajectory PCA: \(snapshots.count) snapshot\(snapshots.count == 1 ? "" : "s"); \(count) directions need at least \(count + 1)")
    }
    let (pcs, ratios) = try trajectoryPCA(snapshots, count: count)
    let scaled = pcs.map { pc in
        let spread = snapshots.map { s -> Double in var c = s; c.addScaled(θ, -1); return abs(c.dot(pc)) }.max() ?? 1
        return pc.scaled(by: max(spread, 1e-12))
    }
    return (scaled, ratios)
}

/// The allowed ranges of the probes' size settings, shared by `landscape probe`, the study's
/// configuration and training's λ_max estimate. Lanczos keeps every vector (full
/// reorthogonalization): 500 steps × 269,322 Float32 ≈ 540 MB.
public enum ProbeLimits {
    /// Lanczos steps (each keeps a parameter-sized vector).
    public static let lanczosSteps = 1...500
    /// Lanczos steps per SLQ probe (each keeps a parameter-sized vector; two give a tridiagonal).
    public static let slqSteps = 2...500
    /// SLQ probe vectors.
    public static let slqProbes = 1...1_000
    /// Hutchinson trace probes (a standard error needs two).
    public static let traceProbes = 2...10_000
    /// Random directions of sharpness.
    public static let sharpnessDirections = 1...10_000
    /// Projected gradient-ascent steps of worst-case sharpness.
    public static let ascentSteps = 1...10_000
    /// Power iterations per λ_max estimate.
    public static let powerIterations = 1...100_000

    /// "NAME must be in LO...HI, got VALUE", or `nil` when `value` is in `range`.
    public static func violation(_ name: String, _ value: Int, _ range: ClosedRange<Int>) -> String? {
        range.contains(value) ? nil : "\(name) must be in \(range.lowerBound)...\(range.upperBound), got \(value)"
    }
}

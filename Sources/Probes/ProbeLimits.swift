import Tensors

/// Defaults that `train`, `study`, `probe` and `slice` share, written once: the same quantity has
/// the same default in every command (training's JSON keys hold these values, so they cannot change).
public enum ProbeDefaults {
    /// The probe batch: the first this many training samples (`--probe-samples`).
    public static let probeSamples = 1024
    /// Power iteration has converged when ‖Av − λv‖ ≤ tolerance·|λ| (`--power-tolerance`).
    public static let powerTolerance = 1e-3
    /// The radius ε of random-direction sharpness, in parameter-space units (`--sharpness-epsilon`).
    public static let sharpnessEpsilon = 0.5
    /// Random directions of sharpness (`--sharpness-directions`).
    public static let sharpnessDirections = 20
    /// SLQ probe vectors of the spectral density (`--slq-probes`).
    public static let slqProbes = 3
    /// Lanczos steps per SLQ probe, capped at the parameter count (`--slq-steps`).
    public static let slqSteps = 40
    /// Grid points per axis of a loss slice (`--points`, the study's `slicePoints`).
    public static let slicePoints = 31
}

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
    /// Trace probes of Hutch++ (``hutchPlusPlusTrace(of:probes:seed:)``: k = probes/3 sketch products,
    /// k more to project, the remaining probes − 2k Hutchinson products on the complement; it asks
    /// for 6 at least): the probe suite's `traceProbes`, which runs Hutchinson and Hutch++ with that number.
    public static let hutchPlusPlusProbes = 6...traceProbes.upperBound
    /// Training samples in a probe batch (of MNIST's 60,000 training images).
    public static let probeSamples = 1...60_000
    /// Mini-batches of batch sharpness (a standard error needs two).
    public static let batchSharpnessBatches = 2...10_000
    /// Random directions of sharpness.
    public static let sharpnessDirections = 1...10_000
    /// Projected gradient-ascent steps of worst-case sharpness.
    public static let ascentSteps = 1...10_000
    /// Power iterations per λ_max estimate.
    public static let powerIterations = 1...100_000

    /// Bytes of probe vectors and their products that the trace estimators apply at once
    /// (``hutchinsonTrace(of:probes:seed:)``, Hutch++, ``blockTraces(of:blocks:probes:seed:)``):
    /// they stream their probes in blocks, so `--trace-probes` costs time, not memory. A larger
    /// block rebuilds a streamed chunk's operator (``ChunkRecords/streamed``) less often.
    public static let blockBytes = 64 << 20

    /// Probe vectors of `dimension` scalars of `scalarBytes` bytes per block (at least 1).
    public static func vectorsPerBlock(dimension: Int, scalarBytes: Int) -> Int {
        max(1, blockBytes / max(1, 2 * dimension * scalarBytes))
    }

    /// Tangents one Hessian replay carries at once (``HessianOperator/apply(block:)``; the
    /// k-slot replay is ``/Autodiff/LinearizedHessian/apply(block:)``). Its memory is this many
    /// times the tangent intermediates of one product. 1 on the CPU: the products are GEMM-bound,
    /// so a wider replay saves only the per-pass work (5 % of the instructions at k = 4) and its
    /// larger peak memory costs page faults under glibc's default trimming (at 1024 samples the
    /// CNN's block of 4 took 4.7× one product against 4.0× one by one; with the allocator keeping
    /// its pages, 4.02× vs 4.00×). Raise it where one product is far from the GEMM rate (a GPU) or
    /// with an allocator that keeps its pages (Notes/performance.md, "k tangents in one pass").
    public static let tangentsPerPass = 1

    /// Bytes of Lanczos bases that runs in lockstep (SLQ's probes, ``lanczos(of:starts:count:steps:tolerance:stopWhenConverged:)``)
    /// may hold together beyond one run's.
    public static let lockstepBytes = 512 << 20

    /// Lanczos runs of `steps` steps that go in lockstep (one block product per step, so one
    /// pass over the data's chunks per step: a streamed chunk is recorded once per step, not once
    /// per run and step): at most 4, and as many as ``lockstepBytes`` holds (at least 1).
    public static func lockstepRuns(steps: Int, dimension: Int, scalarBytes: Int) -> Int {
        max(1, min(4, lockstepBytes / max(1, steps * dimension * scalarBytes)))
    }

    /// Parameter-sized work vectors an estimator holds beside the ones its settings ask for (the
    /// iterate, its product, a residual, a restart vector).
    public static let workVectors = 4

    /// "WHAT (N vectors of D parameters) needs about X of memory, more than this machine's Y" when
    /// `vectors` parameter-sized vectors and ``workVectors`` of `scalarBytes` bytes exceed
    /// `available`, else `nil`.
    public static func memoryProblem(vectors: Int, dimension: Int, scalarBytes: Int, what: String,
                                     available: Double = MachineMemory.bytes) -> String? {
        let vectors = vectors + workVectors
        return MachineMemory.excess(Double(vectors) * Double(dimension) * Double(scalarBytes),
                             for: "\(what) (\(vectors) vectors of \(dimension) parameters)", available: available)
    }

    /// "NAME must be in LO...HI, got VALUE", or `nil` when `value` is in `range`.
    public static func violation(_ name: String, _ value: Int, _ range: ClosedRange<Int>) -> String? {
        range.contains(value) ? nil : "\(name) must be in \(range.lowerBound)...\(range.upperBound), got \(value)"
    }
}

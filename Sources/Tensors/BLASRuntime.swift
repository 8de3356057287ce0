import CBLAS
import Foundation

/// Which OpenBLAS kernel runs, and a way to pick the right one on CPUs that
/// Debian's OpenBLAS 0.3.21 does not recognise (it falls back to the slow
/// "Prescott" kernel, 5–7× slower; `Notes/performance.md`).
///
/// OpenBLAS chooses its kernel when the library loads, so the choice has to be
/// in `OPENBLAS_CORETYPE` before the process starts: ``ensureFastKernel(arguments:)``
/// sets it from the CPU's feature flags and re-executes the program once.
public enum BLASRuntime {
    /// The name of the kernel OpenBLAS is running (`openblas_get_corename()`), e.g. "SkylakeX" or "Prescott".
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// The threads a large GEMM runs on (``GEMMThreads/count``; OpenBLAS itself runs each call on
    /// one thread, the thread policy in `Notes/performance.md`).
    public static var threadCount: Int { GEMMThreads.count }

    /// The kernel recommended for this CPU from `/proc/cpuinfo` flags: "SkylakeX" with
    /// AVX-512 F/CD/BW/DQ/VL, "Haswell" with AVX2 and FMA, else `nil` (let OpenBLAS decide).
    public static func recommendedCoreType(cpuFlags: Set<String>? = nil) -> String? {
        let flags = cpuFlags ?? readCPUFlags()
        if ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { return "SkylakeX" }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// The feature flags of the first CPU in `/proc/cpuinfo` (empty where unreadable).
    public static func readCPUFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            if let colon = line.firstIndex(of: ":") {
                return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
            }
        }
        return []
    }

    /// Makes this process run on the recommended OpenBLAS kernel.
    ///
    /// If `OPENBLAS_CORETYPE` is unset, a kernel is recommended for this CPU and the
    /// loaded kernel differs from it, sets `OPENBLAS_CORETYPE` and re-executes
    /// `/proc/self/exe` with the same arguments (once: `LANDSCAPE_BLAS_REEXEC` guards
    /// against loops). Returns normally when no re-exec is needed or possible. A user
    /// who sets `OPENBLAS_CORETYPE` keeps their choice.
    public static func ensureFastKernel(arguments: [String] = CommandLine.arguments) {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["LANDSCAPE_BLAS_REEXEC"] == nil,
              let wanted = recommendedCoreType() else { return }
        if coreName.lowercased() == wanted.lowercased() { return }
        setenv("OPENBLAS_CORETYPE", wanted, 1)
        setenv("LANDSCAPE_BLAS_REEXEC", "1", 1)
        var cargs: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        cargs.append(nil)
        execv("/proc/self/exe", &cargs)
        // execv returned: it failed; continue on the loaded kernel.
        unsetenv("OPENBLAS_CORETYPE")
    }

    /// Keeps freed memory in the process instead of returning it to the kernel after every
    /// large tensor (glibc `mallopt`: mmap threshold 512 MiB, trim threshold 1 GiB). Tensors of
    /// a few MiB are allocated and freed every operation; without this each allocation
    /// page-faults its memory in again (measured: ~8 % of CNN training time in page faults).
    public static func retainFreedMemory() {
        #if os(Linux)
        // glibc <malloc.h>: M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3.
        _ = glibcMallopt(-3, 512 << 20)
        _ = glibcMallopt(-1, 1 << 30)
        _ = glibcMallopt(-2, 64 << 20)
        #endif
    }

    /// A one-line description for run metadata, e.g. "OpenBLAS SkylakeX, 2 threads (GEMMs split
    /// over the process's threads, OpenBLAS single-threaded); direct convolution avx512".
    public static var summary: String {
        "OpenBLAS \(coreName), \(threadCount) thread\(threadCount == 1 ? "" : "s")"
            + (threadCount > 1 ? " (GEMMs split over the process's threads, OpenBLAS single-threaded)" : "")
            + "; direct convolution \(ConvolutionKernel.selected.rawValue)"
    }

    /// The kernels of this process as run.json records them (key `openblas`): OpenBLAS's kernel,
    /// the GEMM threads and the direct convolution's SIMD variant (``ConvolutionKernel/selected``).
    public static var record: [String: Any] {
        ["kernel": coreName, "threads": threadCount, "convolution": ConvolutionKernel.selected.rawValue]
    }
}

/// The thread policy for matrix products: one pool of threads for the whole process.
///
/// OpenBLAS runs every call on the calling thread (`openblas_set_num_threads(1)` at the first
/// GEMM); a GEMM with m·n·k ≥ 2 · ``minimumPartSize`` is split into at most ``count`` blocks of
/// rows or columns of C, run concurrently by ``parallelRanges(_:minimumPerThread:_:)`` (GCD), the
/// same threads as the project's elementwise and layout loops. OpenBLAS's own worker threads
/// spin in `sched_yield` between calls and synchronise with busy waits inside a call, so beside
/// GCD's threads on 2 cores (or beside other processes) they fought for the cores: 22 % of CNN
/// time in yielding threads, and at a load above the core count an MLP value+gradient at batch 64
/// took 188 ms instead of 1.1 ms (`Notes/performance.md`, "Thread policy").
///
/// Each block is a GEMM of its own on the same K, so every element of C sums the same products in
/// the same order as the whole product on one thread, as long as OpenBLAS takes the same code path
/// for the block as for the whole (it blocks K alike for any m and n; its small-matrix and direct
/// paths take products below about 10⁶ and 7·10⁶ multiply-adds on SkylakeX). Blocks are planned at
/// ``minimumPartSize`` or more, but rounding the edges to multiples of 64 can leave a first block
/// near half of it, so the promise is round-off in general: `GEMMThreadTests` checks it bit for
/// bit on the MLP's and CNN's shapes and odd ones on SkylakeX, and within the round-off bound on
/// every kernel.
public enum GEMMThreads {
    /// Threads a large GEMM is split over: ``ParallelLoop/threadCount`` (`LANDSCAPE_THREADS`), at
    /// most the threads OpenBLAS was started with (`OPENBLAS_NUM_THREADS`, else its core count), so
    /// `OPENBLAS_NUM_THREADS=1` still means single-threaded products.
    public static var count: Int { policy }

    /// The least m·n·k of one block (below it the dispatch costs more than the second thread
    /// gains: a block of 2·10⁶ multiply-adds takes about 40 µs on one core, waking a GCD worker 5–10 µs).
    public static let minimumPartSize = 2_000_000

    /// Block edges are multiples of this (a multiple of every OpenBLAS kernel's unrolling of m and n).
    public static let alignment = 64

    /// Applied once, at the first use: OpenBLAS set to one thread per call.
    static let policy: Int = {
        let started = Int(openblas_get_num_threads())
        openblas_set_num_threads(1)
        return max(1, min(ParallelLoop.threadCount, started))
    }()

    /// Runs a row-major GEMM of `op(A)` m×k by `op(B)` k×n into C (row strides `lda`, `ldb`, `ldc`,
    /// transposes as BLAS flags) as one call or as blocks of rows or columns of C: `body(m', n',
    /// aOffset, bOffset, cOffset)` computes the block whose operands start at those element offsets
    /// (with the same k, strides and flags), blocks concurrently.
    public static func run(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int, threads: Int = count,
                           _ body: (_ m: Int, _ n: Int, _ aOffset: Int, _ bOffset: Int, _ cOffset: Int) -> Void) {
        let plan = blocks(m: m, n: n, k: k, threads: threads)
        guard plan.count > 1 else { body(m, n, 0, 0, 0); return }
        parallelRanges(plan.count, minimumPerThread: 1) { parts in
            for part in parts {
                let lo = plan.edge(part), hi = plan.edge(part + 1)
                if plan.alongRows {       // rows lo..<hi of C and of op(A)
                    body(hi - lo, n, transposeA ? lo : lo * lda, 0, lo * ldc)
                } else {                  // columns lo..<hi of C and of op(B)
                    body(m, hi - lo, 0, transposeB ? lo * ldb : lo, lo)
                }
            }
        }
    }

    /// How a GEMM of m×n×k is split: `count` blocks along the rows of C (`alongRows`) or its
    /// columns, block `i` from `edge(i)` to `edge(i + 1)`.
    public struct Blocks: Equatable, Sendable {
        /// The number of blocks (1: one call).
        public let count: Int
        /// Whether the blocks are rows of C (else columns).
        public let alongRows: Bool
        let length: Int
        /// The first row (or column) of block `i`; `edge(count)` is m (or n).
        public func edge(_ i: Int) -> Int {
            // Multiples of `alignment`, the last block takes the rest.
            i >= count ? length : min(length, (length / alignment * i / count) * alignment)
        }
    }

    /// The split of an m×n×k product over ``count`` threads: along the longer of m and n, into as
    /// many blocks (at most ``count``) as keep each at least ``alignment`` long and at least
    /// ``minimumPartSize`` multiply-adds; one block when none of that holds.
    public static func blocks(m: Int, n: Int, k: Int, threads: Int = count) -> Blocks {
        let alongRows = m > n, length = alongRows ? m : n
        let work = Double(m) * Double(n) * Double(k)
        let parts = min(threads, length / alignment, Int(work / Double(minimumPartSize)))
        return Blocks(count: max(1, parts), alongRows: alongRows, length: length)
    }
}

#if os(Linux)
@_silgen_name("mallopt")
func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

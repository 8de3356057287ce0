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

    /// The number of threads OpenBLAS uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

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

    /// A one-line description for run metadata, e.g. "OpenBLAS SkylakeX, 2 threads".
    public static var summary: String { "OpenBLAS \(coreName), \(threadCount) thread\(threadCount == 1 ? "" : "s")" }
}

#if os(Linux)
@_silgen_name("mallopt")
func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

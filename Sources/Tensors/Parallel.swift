import Dispatch
import Foundation

/// Splits `0..<count` into at most ``ParallelLoop/threadCount`` contiguous ranges and runs
/// `body` on them concurrently (the memory-bound loops around GEMMs: im2col, col2im,
/// pooling, layout changes; and the blocks of a large GEMM, ``GEMMThreads``: the process's one
/// pool of threads). Runs inline when `count < minimumPerThread * 2`.
/// `body` must only write memory that belongs to its range.
@inlinable
public func parallelRanges(_ count: Int, minimumPerThread: Int, _ body: (Range<Int>) -> Void) {
    let threads = min(ParallelLoop.threadCount, max(1, count / max(minimumPerThread, 1)))
    if threads <= 1 { body(0..<count); return }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendableBox(body)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = count * t / threads, hi = count * (t + 1) / threads
            box.value(lo..<hi)
        }
    }
}

/// Settings of ``parallelRanges(_:minimumPerThread:_:)``.
public enum ParallelLoop {
    /// Threads used for elementwise and layout loops: the active processor count, or
    /// `LANDSCAPE_THREADS` when set (1 disables threading).
    public static let threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["LANDSCAPE_THREADS"], let n = Int(s), n >= 1 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()
}

/// Carries a non-Sendable value into a concurrent loop whose iterations touch disjoint memory.
@usableFromInline
struct UncheckedSendableBox<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @inlinable init(_ value: T) { self.value = value }
}

import CBLAS
import Tensors
import Testing

/// The thread policy's split of large GEMMs (`GEMMThreads`): the blocks tile C exactly, and the
/// split product equals one OpenBLAS call on one thread — bit for bit on the SkylakeX kernel (each
/// element of C sums the same products in the same order), within round-off on others — for every
/// transpose, β = 0 and β ≠ 0, and the MLP's and CNN's shapes.
@Suite("GEMMThreads")
struct GEMMThreadTests {
    /// One single-threaded `cblas_sgemm` call through `GEMMThreads.run` with `threads` blocks at most.
    static func product(_ a: [Float], _ b: [Float], c: [Float], transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                        beta: Float, threads: Int) -> [Float] {
        let lda = transposeA ? m : k, ldb = transposeB ? k : n, ldc = n
        var c = c
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            GEMMThreads.run(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, threads: threads) { m, n, ao, bo, co in
                cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                            blasint(m), blasint(n), blasint(k), 1, ap.baseAddress! + ao, blasint(lda), bp.baseAddress! + bo, blasint(ldb),
                            beta, cp.baseAddress! + co, blasint(ldc))
            }
        } } }
        return c
    }

    /// On OpenBLAS's SkylakeX kernel (the study's machines) the blocks sum each element's products in
    /// the same order as one call: bit for bit. Other kernels (Haswell under valgrind or on AVX2
    /// machines) can order them differently in edge tiles of a block, so there the split agrees
    /// within the GEMM's round-off bound |ΔC| ≤ 2kε·(|A||B| + |β||C|) (Higham, "Accuracy and
    /// Stability of Numerical Algorithms", §3.5), as OpenBLAS's own threads did.
    @Test("split products equal one call (bit for bit on SkylakeX)", arguments: [
        (64, 256, 784), (256, 784, 64), (64, 784, 256), (64, 256, 256), (256, 256, 64),
        (32, 2548, 400), (400, 2548, 32), (32, 400, 2548), (333, 517, 129),
    ])
    func splitEqualsOneCall(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let seed: UInt64 = 0x6E33 &+ UInt64(m * 31 + n * 7 + k)
        var rng = SplitMix64(seed: seed)
        let a = (0..<(m * k)).map { _ in Float(rng.nextUnitInterval() * 2 - 1) }
        let b = (0..<(k * n)).map { _ in Float(rng.nextUnitInterval() * 2 - 1) }
        let c0 = (0..<(m * n)).map { _ in Float(rng.nextUnitInterval() * 2 - 1) }
        let bitForBit = BLASRuntime.coreName.lowercased() == "skylakex"
        openblas_set_num_threads(1)
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                // |A||B| for the bound (its own round-off is far below the bound's factor).
                let magnitude = Self.product(a.map(abs), b.map(abs), c: [Float](repeating: 0, count: m * n), transposeA: transposeA, transposeB: transposeB,
                                             m: m, n: n, k: k, beta: 0, threads: 1)
                for beta: Float in [0, 0.5] {
                    let one = Self.product(a, b, c: c0, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, beta: beta, threads: 1)
                    for threads in [2, 3] {
                        let plan = GEMMThreads.blocks(m: m, n: n, k: k, threads: threads)
                        let split = Self.product(a, b, c: c0, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, beta: beta, threads: threads)
                        // Counts, not the arrays (a failure would print their difference).
                        let differing = zip(split, one).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                        let outside = (0..<(m * n)).filter {
                            abs(split[$0] - one[$0]) > 2 * Float(k) * Float.ulpOfOne * (magnitude[$0] + abs(beta * c0[$0]))
                        }.count
                        let what = "seed \(seed): \(m)×\(n)×\(k), transposes \(transposeA) \(transposeB), β \(beta), \(plan.count) blocks, kernel \(BLASRuntime.coreName)"
                        #expect(outside == 0, "\(what): \(outside) elements beyond the round-off bound")
                        if bitForBit { #expect(differing == 0, "\(what): \(differing) elements differ") }
                    }
                }
            }
        }
    }

    /// The Float64 products (dgemm) likewise, bit for bit on SkylakeX, elsewhere within the bound.
    @Test("split Float64 products equal one call (bit for bit on SkylakeX)", arguments: [(64, 256, 784), (256, 784, 64), (333, 517, 129)])
    func splitEqualsOneCallInDouble(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let seed: UInt64 = 0xD6E33 &+ UInt64(m * 31 + n * 7 + k)
        var rng = SplitMix64(seed: seed)
        let a = (0..<(m * k)).map { _ in rng.nextUnitInterval() * 2 - 1 }
        let b = (0..<(k * n)).map { _ in rng.nextUnitInterval() * 2 - 1 }
        func product(_ a: [Double], _ b: [Double], transposeA: Bool, transposeB: Bool, threads: Int) -> [Double] {
            let lda = transposeA ? m : k, ldb = transposeB ? k : n, ldc = n
            var c = [Double](repeating: 0, count: m * n)
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                GEMMThreads.run(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, threads: threads) { m, n, ao, bo, co in
                    cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                                blasint(m), blasint(n), blasint(k), 1, ap.baseAddress! + ao, blasint(lda), bp.baseAddress! + bo, blasint(ldb),
                                0, cp.baseAddress! + co, blasint(ldc))
                }
            } } }
            return c
        }
        openblas_set_num_threads(1)
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                let one = product(a, b, transposeA: transposeA, transposeB: transposeB, threads: 1)
                let magnitude = product(a.map(abs), b.map(abs), transposeA: transposeA, transposeB: transposeB, threads: 1)
                let split = product(a, b, transposeA: transposeA, transposeB: transposeB, threads: 2)
                let differing = zip(split, one).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                let outside = (0..<(m * n)).filter { abs(split[$0] - one[$0]) > 2 * Double(k) * Double.ulpOfOne * magnitude[$0] }.count
                let what = "seed \(seed): \(m)×\(n)×\(k), transposes \(transposeA) \(transposeB), kernel \(BLASRuntime.coreName)"
                #expect(outside == 0, "\(what): \(outside) elements beyond the round-off bound")
                if BLASRuntime.coreName.lowercased() == "skylakex" { #expect(differing == 0, "\(what): \(differing) elements differ") }
            }
        }
    }

    @Test("blocks tile the longer side in multiples of 64")
    func blocks() {
        // MLP batch 64, first layer: 64×256×784 = 12.8·10⁶ → two column blocks of 128.
        let mlp = GEMMThreads.blocks(m: 64, n: 256, k: 784, threads: 2)
        #expect(mlp.count == 2 && !mlp.alongRows && mlp.edge(0) == 0 && mlp.edge(1) == 128 && mlp.edge(2) == 256)
        // The last layer, 64×10×256 (164k multiply-adds), and conv1's filter gradient 16×25×40000: one block.
        #expect(GEMMThreads.blocks(m: 64, n: 10, k: 256, threads: 2).count == 1)
        #expect(GEMMThreads.blocks(m: 16, n: 25, k: 40_000, threads: 2).count == 1)
        // 130 rows: blocks 0..<64 and 64..<130.
        let rows = GEMMThreads.blocks(m: 130, n: 100, k: 100_000, threads: 2)
        #expect(rows.count == 2 && rows.alongRows && rows.edge(1) == 64 && rows.edge(2) == 130)
        // Below 2 · minimumPartSize multiply-adds: one block; one thread: one block.
        #expect(GEMMThreads.blocks(m: 256, n: 256, k: 30, threads: 2).count == 1)
        #expect(GEMMThreads.blocks(m: 2048, n: 256, k: 784, threads: 1).count == 1)
        for threads in 1...4 {
            let p = GEMMThreads.blocks(m: 2048, n: 256, k: 784, threads: threads)
            #expect(p.count == threads && p.edge(0) == 0 && p.edge(p.count) == 2048)
            for i in 0..<p.count { #expect(p.edge(i) % GEMMThreads.alignment == 0 && p.edge(i + 1) > p.edge(i)) }
        }
    }

    @Test("the policy leaves OpenBLAS on one thread and reports the GEMM threads")
    func policy() {
        #expect(GEMMThreads.count >= 1 && GEMMThreads.count <= ParallelLoop.threadCount)
        #expect(BLASRuntime.threadCount == GEMMThreads.count)
        #expect(openblas_get_num_threads() == 1)
    }
}

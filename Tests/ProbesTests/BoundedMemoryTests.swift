import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

/// Issue 24, class 2: estimators stream their probes (memory of one block of probe vectors and
/// their products however many probes), and settings whose memory would exceed the machine are
/// refused with the estimate.
@Suite struct BoundedMemoryTests {
    /// A = diag(a) + u uᵀ, which records the size of every block of vectors it is applied to.
    final class RecordingOperator: SymmetricOperator, @unchecked Sendable {
        typealias Scalar = Double
        let a: [Double], u: [Double]
        var blockSizes: [Int] = []
        var dimension: Int { a.count }
        init(a: [Double], u: [Double]) { self.a = a; self.u = u }

        func apply(_ v: Tensor<Double>) throws -> Tensor<Double> {
            let uv = zip(u, v.scalars).reduce(0) { $0 + $1.0 * $1.1 }
            return Tensor((0..<a.count).map { a[$0] * v.scalars[$0] + u[$0] * uv })
        }
        func apply(block vectors: [Tensor<Double>]) throws -> [Tensor<Double>] {
            blockSizes.append(vectors.count)
            return try vectors.map { try apply($0) }
        }
        /// zᵀAz.
        func quadraticForm(_ z: [Double]) -> Double {
            let uz = zip(u, z).reduce(0) { $0 + $1.0 * $1.1 }
            return zip(a, z).reduce(0) { $0 + $1.0 * $1.1 * $1.1 } + uz * uz
        }
    }

    /// A dimension large enough that a block holds only a few vectors, so that 10 probes take several blocks.
    static let d = 1 << 20
    static func makeOperator(seed: UInt64) -> RecordingOperator {
        var rng = SplitMix64(seed: seed)
        return RecordingOperator(a: (0..<d).map { _ in rng.nextUnitDouble() * 2 - 1 }, u: (0..<d).map { _ in (rng.nextUnitDouble() - 0.5) * 1e-3 })
    }

    @Test func hutchinsonStreamsItsProbesInBlocksAndKeepsItsValue() throws {
        let seed: UInt64 = 11, probes = 10
        let op = Self.makeOperator(seed: seed)
        let block = ProbeLimits.vectorsPerBlock(dimension: Self.d, scalarBytes: 8)
        #expect(block == 4, "64 MiB over 2 × 2^20 × 8 bytes")
        let (trace, se) = try hutchinsonTrace(of: op, probes: probes, seed: seed)
        #expect(op.blockSizes == [4, 4, 2], "seed \(seed): \(op.blockSizes)")
        // The estimator's definition: the mean of zᵢᵀAzᵢ over the seeded Rademacher zᵢ, and s/√m.
        var rng = SplitMix64(seed: seed)
        let samples = (0..<probes).map { _ in op.quadraticForm(Tensor<Double>.randomRademacher([Self.d], using: &rng).scalars) }
        let mean = samples.reduce(0, +) / Double(probes)
        let sd = (samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(probes - 1)).squareRoot()
        #expect(abs(trace - mean) <= 1e-9 * abs(mean), "seed \(seed): \(trace) vs \(mean)")
        #expect(abs(se - sd / Double(probes).squareRoot()) <= 1e-6 * se, "seed \(seed)")
    }

    @Test func blockTracesAndFrobeniusStreamTheirProbes() throws {
        let seed: UInt64 = 12
        let op = Self.makeOperator(seed: seed)
        let half = Self.d / 2
        let traces = try blockTraces(of: op, blocks: [[0..<half], [half..<Self.d]], probes: 9, seed: seed)
        #expect(op.blockSizes == [4, 4, 1], "seed \(seed): \(op.blockSizes)")
        // The two blocks' traces sum to the whole trace of the same probes.
        let whole = try hutchinsonTrace(of: op, probes: 9, seed: seed).trace
        #expect(abs(traces[0].trace + traces[1].trace - whole) <= 1e-9 * abs(whole), "seed \(seed)")
        op.blockSizes = []
        _ = try frobeniusNormSquared(of: op, probes: 6, seed: seed)
        #expect(op.blockSizes == [4, 2], "seed \(seed): \(op.blockSizes)")
    }

    @Test func hutchPlusPlusAppliesAtMostOneBlockAtATime() throws {
        let seed: UInt64 = 13
        // Rank 3 plus a small diagonal: the sketch captures the top, the exact trace is known.
        let d = Self.d
        var rng = SplitMix64(seed: seed)
        let small = (0..<d).map { _ in rng.nextUnitDouble() * 1e-6 }
        let op = RecordingOperator(a: small, u: (0..<d).map { _ in rng.nextUnitDouble() })
        let exact = small.reduce(0, +) + op.u.reduce(0) { $0 + $1 * $1 }
        let (trace, _) = try hutchPlusPlusTrace(of: op, probes: 15, seed: seed)
        #expect(op.blockSizes.allSatisfy { $0 <= 4 }, "seed \(seed): \(op.blockSizes)")
        #expect(op.blockSizes.reduce(0, +) <= 15, "seed \(seed): \(op.blockSizes)")
        #expect(abs(trace - exact) <= 1e-3 * exact, "seed \(seed): \(trace) vs \(exact)")
    }

    @Test func settingsWhoseVectorsExceedTheMachineAreRefusedWithTheEstimate() {
        var s = ProbeSuiteSettings()
        let d = 269_322
        #expect(s.memoryProblem(dimension: d, scalarBytes: 8, available: 24e9) == nil)
        s.traceProbes = 10_000
        // Hutch++ keeps 10000 / 3 = 3333 sketch vectors, plus 2 × 15 probes and products (64 MiB
        // over 2 × 269,322 × 8 bytes = 15 a block) and 4 work vectors: 3367 × 269,322 × 8 B = 7.25 GB.
        let problem = s.memoryProblem(dimension: d, scalarBytes: 8, available: 4e9)
        #expect(problem?.setting == "traceProbes")
        #expect(problem?.problem.contains("7.25 GB") == true && problem?.problem.contains("4 GB") == true, "\(String(describing: problem))")
        #expect(s.memoryProblem(dimension: d, scalarBytes: 8, available: 8e9) == nil)
        s.traceProbes = 30; s.lanczosSteps = 500
        // (500 + 5 + 4) × 269,322 × 8 B = 1.10 GB.
        #expect(s.memoryProblem(dimension: d, scalarBytes: 8, available: 1e9)?.setting == "lanczosSteps")
    }

    @Test func largeBatchesAreStreamedChunkByChunk() {
        // The Hessian's and GGN's records are kept up to 2048 rows.
        for kind in [CurvatureKind.hessian, .ggn] {
            #expect(BatchChunking.records(kind, rows: 2048, dimension: 269_322, scalarBytes: 8) == .kept)
            #expect(BatchChunking.records(kind, rows: 2049, dimension: 269_322, scalarBytes: 8) == .streamed)
        }
        // The Fisher's per-sample gradients: 929 × 269,322 × 8 B = 2.0016e9 > 2e9; 928 rows 1.9994e9.
        #expect(BatchChunking.records(.fisher, rows: 929, dimension: 269_322, scalarBytes: 8) == .streamed)
        #expect(BatchChunking.records(.fisher, rows: 928, dimension: 269_322, scalarBytes: 8) == .kept)
        #expect(BatchChunking.records(.fisher, rows: 1800, dimension: 269_322, scalarBytes: 4) == .kept)
    }

    @Test func slqKeepsNoRitzVectors() throws {
        let a = try SymmetricMatrix<Double>(diagonal: [1, 2, 3, 4, 5, 6])
        let run = try lanczos(of: a, count: 1, steps: 6, seed: 1)
        #expect(run.pairs.count == 1 && run.quadrature.pairs.isEmpty)
        #expect(run.quadrature.ritzValues == run.ritzValues && run.quadrature.quadratureWeights == run.quadratureWeights)
        // The density's mean is tr(A)/d = 3.5 (Gauss quadrature is exact for the first moment).
        let density = try spectralDensity(of: a, probes: 4, steps: 6, seed: 2)
        #expect(abs(density.mean - 3.5) < 1e-9)
    }
}

import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

/// ½θᵀAθ + bᵀθ with a constant symmetric A ([d, d]) and b (d): gradient Aθ + b, Hessian A.
struct BatchQuadratic: TensorObjective {
    typealias Scalar = Double
    let a: Tensor<Double>, b: Tensor<Double>
    var layout: ParameterLayout { ParameterLayout(vectorOf: b.count, name: "theta") }

    func callAsFunction<A: TensorAlgebra>(_ p: [A]) -> A where A.Scalar == Double {
        let d = b.count
        let row = p[0].reshaped([1, d])
        return (row * A.matmul(row, A(constant: a))).sum().scaled(by: 0.5) + (row * A(constant: b.reshaped([1, d]))).sum()
    }
}

/// Batch sharpness E_B[g_Bᵀ H_B g_B / ‖g_B‖²] (Andreyev & Beneventano 2024) by one order-2 jet per
/// batch, against the Hessian-vector product and a closed form; its mini-batches.
@Suite struct BatchSharpnessTests {
    /// Per-sample quadratics: sample i has a symmetric A_i (d × d) and b_i; a batch's loss is the
    /// mean ½θᵀ(mean A_i)θ + (mean b_i)ᵀθ.
    struct Samples {
        let a: [[Double]], b: [[Double]], d: Int

        init(count: Int, d: Int, seed: UInt64) {
            var rng = SplitMix64(seed: seed)
            var a: [[Double]] = [], b: [[Double]] = []
            for _ in 0..<count {
                let m = (0..<(d * d)).map { _ in rng.nextStandardNormal() }
                // (M + Mᵀ)/2 plus a shift, so that the spectrum has both signs' worth of variety.
                a.append((0..<(d * d)).map { k in 0.5 * (m[k] + m[(k % d) * d + k / d]) + (k % (d + 1) == 0 ? 1.5 : 0) })
                b.append((0..<d).map { _ in rng.nextStandardNormal() })
            }
            self.a = a; self.b = b; self.d = d
        }

        func mean(_ rows: [Int]) -> (a: [Double], b: [Double]) {
            var ma = [Double](repeating: 0, count: d * d), mb = [Double](repeating: 0, count: d)
            for r in rows {
                for k in 0..<(d * d) { ma[k] += a[r][k] / Double(rows.count) }
                for k in 0..<d { mb[k] += b[r][k] / Double(rows.count) }
            }
            return (ma, mb)
        }

        var source: (Int) throws -> MiniBatchSource<Double> {
            { batchSize in
                try MiniBatchSource(samples: a.count, batchSize: batchSize) { rows in
                    let (ma, mb) = mean(rows)
                    return LossFunction(BatchQuadratic(a: Tensor(shape: [d, d], scalars: ma), b: Tensor(mb)))
                }
            }
        }

        /// (Aθ + b)ᵀA(Aθ + b)/‖Aθ + b‖² of the batch, in plain arithmetic.
        func closedForm(_ rows: [Int], at θ: [Double]) -> Double {
            let (ma, mb) = mean(rows)
            let g = (0..<d).map { i in (0..<d).reduce(mb[i]) { $0 + ma[i * d + $1] * θ[$1] } }
            let ag = (0..<d).map { i in (0..<d).reduce(0) { $0 + ma[i * d + $1] * g[$1] } }
            return zip(g, ag).map(*).reduce(0, +) / g.map { $0 * $0 }.reduce(0, +)
        }
    }

    @Test(arguments: [UInt64(1), 2, 3]) func aQuadraticPerBatchGivesTheClosedForm(seed: UInt64) throws {
        let samples = Samples(count: 30, d: 5, seed: seed)
        let θ = (0..<5).map { Double($0) / 3 - 0.4 }
        let source = try samples.source(7)
        let s = try batchSharpness(of: source, at: Tensor(θ), batches: 6, seed: seed)
        #expect(s.values.count == 6 && s.batchSize == 7)
        var exact: [Double] = []
        for k in 0..<6 {
            let want = samples.closedForm(source.rows(ofBatch: k, seed: seed), at: θ)
            exact.append(want)
            #expect(abs(s.values[k] - want) <= 1e-12 * abs(want), "seed \(seed), batch \(k): \(s.values[k]) vs \(want)")
        }
        let mean = exact.reduce(0, +) / 6
        let se = (exact.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 5 / 6).squareRoot()
        #expect(abs(s.mean - mean) <= 1e-12 * abs(mean) && abs(s.standardError - se) <= 1e-9 * se, "seed \(seed): \(s.mean) ± \(s.standardError) vs \(mean) ± \(se)")
        // The batches differ, so the ratios do: the standard error is not 0.
        #expect(se > 0)
    }

    /// g_Bᵀ(H_B g_B)/‖g_B‖² with the Hessian-vector product (forward-over-reverse) on each batch's
    /// own loss, against the probe's jet, on an MLP and a CNN, whole and in chunks.
    @Test(arguments: [0, 3]) func theJetEqualsTheHessianVectorProduct(chunk: Int) throws {
        var rng = SplitMix64(seed: 21)
        let mlp = MLP(sizes: [6, 8, 4])
        let cnn = try CNN(height: 8, width: 8, channels: [2, 3], kernelSize: 3, padding: 1, hiddenSize: 5, classCount: 3)
        func check<M: Model>(_ model: M, samples n: Int, batchSize: Int, scale: Double) throws {
            let x = Tensor<Double>.randomNormal([n, model.inputSize], using: &rng)
            let y = (0..<n).map { _ in rng.next(below: model.classCount) }
            let θ = model.initialParameters(Double.self, seed: 4).scaled(by: scale)
            let source = try model.miniBatches(of: x, labels: y, batchSize: batchSize, chunkSize: chunk)
            let s = try batchSharpness(of: source, at: θ, batches: 3, seed: 9)
            for k in 0..<3 {
                let rows = source.rows(ofBatch: k, seed: 9)
                let f = try model.loss(on: x.gatherRows(rows), labels: rows.map { y[$0] })
                let g = try gradient(of: f, at: θ)
                let hg = try hessianVectorProduct(of: f, at: θ, along: g)
                let want = g.dot(hg) / g.dot(g)
                #expect(abs(s.values[k] - want) <= 1e-10 * abs(want), "\(model.name) chunk \(chunk) batch \(k): jet \(s.values[k]) vs HVP \(want)")
                #expect(abs(s.gradientNorms[k] - g.norm()) <= 1e-12 * g.norm())
            }
        }
        try check(mlp, samples: 20, batchSize: 7, scale: 2)
        try check(cnn, samples: 10, batchSize: 5, scale: 1)
    }

    @Test func theSameSeedGivesTheSameBatchesAndValues() throws {
        let samples = Samples(count: 50, d: 4, seed: 5)
        let source = try samples.source(8)
        let θ = Tensor<Double>([0.3, -0.2, 0.5, 0.1])
        for seed in [UInt64(0), 4, 77] {
            for k in 0..<5 {
                let rows = source.rows(ofBatch: k, seed: seed)
                #expect(rows == source.rows(ofBatch: k, seed: seed), "seed \(seed) batch \(k)")
                #expect(rows.count == 8 && Set(rows).count == 8 && rows.allSatisfy { (0..<50).contains($0) }, "seed \(seed): \(rows)")
            }
            // Batches of one seed differ from each other and from another seed's.
            let batches = (0..<5).map { Set(source.rows(ofBatch: $0, seed: seed)) }
            #expect(Set(batches).count == 5, "seed \(seed)")
            #expect(Set(source.rows(ofBatch: 0, seed: seed)) != Set(source.rows(ofBatch: 0, seed: seed &+ 1)), "seed \(seed)")
            let first = try batchSharpness(of: source, at: θ, batches: 4, seed: seed)
            let again = try batchSharpness(of: source, at: θ, batches: 4, seed: seed)
            #expect(first.values == again.values, "seed \(seed)")
            let other = try batchSharpness(of: source, at: θ, batches: 4, seed: seed &+ 1)
            #expect(first.values != other.values, "seeds \(seed) and \(seed &+ 1)")
        }
    }

    /// A batch size above the data set's takes all of it, in every batch; `sample(n, from: n)` is
    /// the permutation.
    @Test func aBatchLargerThanTheDataUsesAllOfIt() throws {
        let samples = Samples(count: 6, d: 3, seed: 8)
        let source = try samples.source(100)
        #expect(source.rowsPerBatch == 6)
        for k in 0..<3 { #expect(source.rows(ofBatch: k, seed: 2).sorted() == Array(0..<6)) }
        let θ = [0.2, -0.7, 0.4]
        // Every batch is the same: one is measured, and the whole data set has no sampling error.
        let s = try batchSharpness(of: source, at: Tensor(θ), batches: 3, seed: 2)
        let whole = samples.closedForm(Array(0..<6), at: θ)
        #expect(s.batchSize == 6 && s.values.count == 1 && abs(s.mean - whole) <= 1e-12 * abs(whole), "\(s.values) vs \(whole)")
        #expect(s.standardError == 0 && s.isWholeData)
        var a = SplitMix64(seed: 31), b = SplitMix64(seed: 31)
        #expect(a.sample(40, from: 40) == b.permutation(of: 40))
    }

    @Test func invalidSettingsAndMissingRoutesAreNamed() throws {
        for batches in [-1, 1, 10_001] {
            let p = BatchSharpnessProbe(batches: batches, seed: 0)
            do { try AnyProbe(p).validate(); Issue.record("accepted \(batches) batches") } catch {
                #expect("\(error)" == "batch_sharpness: batches must be 0 (automatic) or in 2...10000, got \(batches)", "\(error)")
            }
        }
        for batches in [0, 2, 10_000] { try BatchSharpnessProbe(batches: batches, seed: 0).validate() }
        // A context without mini-batches.
        let f = Quadratic(spectrum: [2, 1], seed: 1)
        var context = ProbeContext(of: f, at: Tensor<Double>([0.5, 0.5]))
        do { _ = try AnyProbe(BatchSharpnessProbe()).measure(&context); Issue.record("measured without mini-batches") } catch {
            #expect("\(error)".contains("batch_sharpness: this probe context has no mini-batches"), "\(error)")
        }
        // Mini-batch losses given by value and gradient alone (no jet).
        let closures = try MiniBatchSource<Double>(samples: 4, batchSize: 2) { _ in
            LossFunction(layout: f.layout, value: { try value(of: f, at: $0) }, valueWithGradient: { try valueWithGradient(of: f, at: $0) })
        }
        var noJets = ProbeContext(point: Tensor<Double>([0.5, 0.5]), loss: LossFunction(f), curvature: { AnySymmetricOperator(try HessianOperator(of: f, at: Tensor<Double>([0.5, 0.5]))) },
                                  miniBatches: closures)
        do { _ = try AnyProbe(BatchSharpnessProbe()).measure(&noJets); Issue.record("measured without a Taylor-mode route") } catch {
            #expect("\(error)".contains("batch_sharpness: the mini-batch loss has no Taylor-mode (jet) route"), "\(error)")
        }
        #expect(throws: AutodiffError.self) { try MiniBatchSource<Double>(samples: 4, batchSize: 0) { _ in LossFunction(f) } }
        #expect(throws: AutodiffError.self) { try MiniBatchSource<Double>(samples: 0, batchSize: 2) { _ in LossFunction(f) } }
    }

    /// K = 0 covers 4,096 samples, with at least 4 batches; a K given is kept.
    @Test func theAutomaticBatchCountCoversFourThousandSamples() {
        let auto = BatchSharpnessProbe()
        #expect(auto.batches == 0)
        for (b, k) in [(1, 4096), (64, 64), (100, 41), (1024, 4), (1025, 4), (2048, 4), (100_000, 4)] {
            #expect(auto.batchCount(batchSize: b) == k, "B = \(b)")
        }
        #expect(BatchSharpnessProbe(batches: 5, seed: 0).batchCount(batchSize: 64) == 5)
    }

    /// Through the probe: the columns and values, with K and the batch size used.
    @Test func theProbeReportsItsColumns() throws {
        let samples = Samples(count: 20, d: 3, seed: 12)
        let f = Quadratic(spectrum: [2, 1, 0.5], seed: 1)
        let θ = Tensor<Double>([0.1, 0.9, -0.3])
        var context = ProbeContext(point: θ, loss: LossFunction(f), curvature: { AnySymmetricOperator(try HessianOperator(of: f, at: θ)) },
                                   miniBatches: try samples.source(5))
        let probe = AnyProbe(BatchSharpnessProbe(batches: 3, seed: 6))
        #expect(probe.columns == ["batch_sharpness", "batch_sharpness_stderr", "batch_sharpness_batches", "batch_sharpness_batch_size", "batch_gradient_norm"])
        let values = try probe.measure(&context)
        let direct = try batchSharpness(of: try samples.source(5), at: θ, batches: 3, seed: 6)
        #expect(values == [direct.mean, direct.standardError, 3, 5, direct.meanGradientNorm])
    }
}

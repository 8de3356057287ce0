import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

/// The probes through the operator protocol, on matrices with known spectra, and the curvature
/// operators (Gauss–Newton, empirical Fisher, blocks, chunk sums) against dense references.
@Suite struct OperatorTests {
    static let spectrum: [Double] = [5, 3, 3, -4, 0.5, -0.25, 0, 1]   // repeated, negative, zero

    static func matrix(seed: UInt64) throws -> SymmetricMatrix<Double> {
        try SymmetricMatrix(Quadratic(spectrum: spectrum, seed: seed).a)
    }

    /// Lanczos that stops on convergence: on a 60-dimensional spectrum with a close top pair
    /// (10, 9.9: power iteration would need ~1400 products for a 1e-6 residual) it stops well
    /// before its step limit with an honest residual, and says "not converged" when the limit is
    /// too small.
    @Test(arguments: [UInt64(21), 22]) func lanczosStopsWhenConverged(seed: UInt64) throws {
        let spectrum = [10, 9.9] + (0..<58).map { 5 * Double($0) / 58 - 1 }
        let a = try SymmetricMatrix(Quadratic(spectrum: spectrum, seed: seed).a)
        let r = try lanczos(of: a, count: 1, steps: 60, tolerance: 1e-6, seed: seed &+ 7, stopWhenConverged: true)
        #expect(r.pairs[0].converged && r.steps < 40, "seed \(seed): \(r.steps) steps, residual \(r.pairs[0].residualNorm)")
        #expect(abs(r.pairs[0].value - 10) < 1e-5, "seed \(seed): \(r.pairs[0].value)")
        let av = try a.apply(r.pairs[0].vector), y = r.pairs[0].vector
        let trueResidual = (av - y.scaled(by: r.pairs[0].value)).norm()
        #expect(trueResidual <= 1e-5 * 10 && abs(trueResidual - r.pairs[0].residualNorm) < 1e-8, "seed \(seed): \(trueResidual)")
        let short = try lanczos(of: a, count: 1, steps: 3, tolerance: 1e-6, seed: seed &+ 7, stopWhenConverged: true)
        #expect(!short.pairs[0].converged && short.steps == 3)
        let full = try lanczos(of: a, count: 1, steps: 60, tolerance: 1e-6, seed: seed &+ 7)
        #expect(full.steps == 60 && abs(full.pairs[0].value - 10) < 1e-10)
    }

    @Test(arguments: [UInt64(11), 12]) func probesRecoverAKnownSpectrum(seed: UInt64) throws {
        let a = try Self.matrix(seed: seed)
        let exact = Self.spectrum.sorted()
        let dense = try a.spectrum()
        for (x, y) in zip(dense, exact) { #expect(abs(x - y) < 1e-12, "seed \(seed): dense \(dense)") }
        // Lanczos finds each distinct eigenvalue once: 5, 3, 1 from the top, −4 from the bottom.
        // (Start seeds differ from the matrix seed: the same SplitMix64 stream would start on an eigenvector.)
        let top = try lanczos(of: a, count: 3, steps: 8, seed: seed &+ 100)
        #expect(zip(top.pairs.map(\.value), [5.0, 3, 1]).allSatisfy { abs($0 - $1) < 1e-10 }, "seed \(seed): \(top.pairs.map(\.value))")
        let bottom = try lanczos(of: a, count: 1, target: .smallestAlgebraic, steps: 8, seed: seed &+ 101)
        #expect(abs(bottom.pairs[0].value + 4) < 1e-10)
        // Power iteration: |−4|/5 = 0.8, so about 60 products to a 1e-6 residual.
        let power = try powerIteration(of: a, maxIterations: 500, tolerance: 1e-6, seed: seed &+ 102)
        #expect(power.converged && abs(power.eigenvalue - 5) < 1e-9, "seed \(seed): \(power.eigenvalue), \(power.status)")
        // Traces: Hutchinson within 4 standard errors; Hutch++ exact once its sketch spans ℝ⁸.
        let trace = Self.spectrum.reduce(0, +)
        let h = try hutchinsonTrace(of: a, probes: 200, seed: seed)
        #expect(abs(h.trace - trace) < 4 * h.standardError, "seed \(seed): \(h)")
        let hpp = try hutchPlusPlusTrace(of: a, probes: 60, seed: seed)
        #expect(abs(hpp.trace - trace) < 1e-10)
        // tr(A²) = Σλ² and the diagonal, within 4 standard errors.
        let f = try frobeniusNormSquared(of: a, probes: 400, seed: seed)
        #expect(abs(f.value - Self.spectrum.map { $0 * $0 }.reduce(0, +)) < 4 * f.standardError, "seed \(seed): \(f)")
        let diag = try hutchinsonDiagonal(of: a, probes: 400, seed: seed)
        for i in 0..<8 {
            let truth = a.matrix.scalars[i * 8 + i]
            #expect(abs(diag.diagonal[i] - truth) < 4 * diag.standardError[i] + 1e-12, "seed \(seed) entry \(i)")
        }
        // SLQ: the quadrature weights of all probes together sum to 1.
        let density = try spectralDensity(of: a, probes: 3, steps: 8, seed: seed)
        #expect(abs(density.weights.reduce(0, +) - 1) < 1e-12)
    }

    @Test func powerIterationDoesNotCallASlowIterateConverged() throws {
        // diag(5, 4.95) from (1, 1)/√2: the quotient moves < 0.1 % per step long before it is 5.
        let a = try SymmetricMatrix<Double>(diagonal: [5, 4.95])
        let start = Tensor<Double>([1, 1])
        let short = try powerIteration(of: a, maxIterations: 100, tolerance: 1e-3, initialVector: start)
        #expect(!short.converged, "\(short.eigenvalue) after \(short.iterations), \(short.status)")
        #expect(short.status == .maxIterations)
        let long = try powerIteration(of: a, maxIterations: 5000, tolerance: 1e-3, initialVector: start)
        #expect(long.converged && abs(long.eigenvalue - 5) < 1e-3, "\(long.eigenvalue), \(long.iterations)")
    }

    @Test func powerIterationReportsAPlusMinusPairAndANullVector() throws {
        // diag(2, −2, 0.5) from (1, 1, 1)/√3: the iterate alternates; no value is an eigenvalue.
        let pm = try powerIteration(of: try SymmetricMatrix<Double>(diagonal: [2, -2, 0.5]), maxIterations: 200,
                                    initialVector: Tensor([1, 1, 1]))
        #expect(!pm.converged && pm.status == .plusMinusPair, "\(pm.status) \(pm.eigenvalue)")
        #expect(abs(pm.dominantMagnitude - 2) < 1e-3)
        // A v = 0: the null space says nothing about the dominant eigenvalue 3.
        let zero = try powerIteration(of: try SymmetricMatrix<Double>(diagonal: [3, 0]), initialVector: Tensor([0, 1]))
        #expect(!zero.converged && zero.status == .zeroQuotient)
        // A dominant negative eigenvalue converges, with its sign.
        let neg = try powerIteration(of: try SymmetricMatrix<Double>(diagonal: [-3, 1, 0.5]), maxIterations: 200, tolerance: 1e-8)
        #expect(neg.converged && abs(neg.eigenvalue + 3) < 1e-8)
    }

    @Test func nonSymmetricOrBadMatricesAreRefused() {
        #expect(throws: AutodiffError.self) { try SymmetricMatrix(Tensor<Double>(shape: [2, 2], scalars: [1, 2, 3, 4])) }
        #expect(throws: AutodiffError.self) { try SymmetricMatrix(Tensor<Double>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])) }
        #expect(throws: AutodiffError.self) { try SymmetricMatrix<Double>(diagonal: [1, .nan]) }
        #expect(throws: AutodiffError.self) { try SymmetricMatrix<Double>(diagonal: [1, 2]).apply(Tensor([1, 2, 3])) }
    }

    /// A small MLP, a batch and θ, Double.
    static func smallModel(sizes: [Int], seed: UInt64) -> (MLP, Tensor<Double>, Tensor<Double>, [Int]) {
        let model = MLP(sizes: sizes)
        var rng = SplitMix64(seed: seed)
        let θ = model.initialParameters(Double.self, seed: seed)
        let x = Tensor<Double>.randomNormal([5, sizes[0]], using: &rng)
        let labels = (0..<5).map { $0 % sizes.last! }
        return (model, θ, x, labels)
    }

    @Test func gaussNewtonEqualsJacobianTransposeTimesLossHessianTimesJacobian() throws {
        let (model, θ, x, labels) = Self.smallModel(sizes: [4, 3, 3], seed: 5)
        let d = θ.count, n = 5, c = 3
        let g = try GaussNewtonOperator(model: model, at: θ, input: x, labels: labels).dense()
        // J by central differences of the logits (independent of the operator's JVP/VJP).
        func logits(_ t: Tensor<Double>) throws -> [Double] { (model.logits(try model.layout.split(t), input: x) as Tensor<Double>).scalars }
        var jac = [[Double]](repeating: [Double](repeating: 0, count: d), count: n * c)
        let h = 1e-6
        for j in 0..<d {
            var p = θ.scalars, m = θ.scalars; p[j] += h; m[j] -= h
            let lp = try logits(Tensor(p)), lm = try logits(Tensor(m))
            for r in 0..<(n * c) { jac[r][j] = (lp[r] - lm[r]) / (2 * h) }
        }
        let z = try logits(θ)
        var ref = [Double](repeating: 0, count: d * d)
        for s in 0..<n {
            let row = Array(z[(s * c)..<(s * c + c)]), mx = row.max()!
            let e = row.map { Foundation.exp($0 - mx) }, total = e.reduce(0, +), p = e.map { $0 / total }
            for a in 0..<c { for b in 0..<c {
                let hab = ((a == b ? p[a] : 0) - p[a] * p[b]) / Double(n)
                for i in 0..<d { for j in 0..<d { ref[i * d + j] += jac[s * c + a][i] * hab * jac[s * c + b][j] } }
            } }
        }
        let scale = ref.map(abs).max()!
        for k in 0..<(d * d) { #expect(abs(g.scalars[k] - ref[k]) < 1e-6 * scale, "entry \(k): \(g.scalars[k]) vs \(ref[k])") }
        // Positive semi-definite.
        let low = try LAPACK.symmetricEigen(g).values.min()!
        #expect(low >= -1e-10 * scale, "smallest eigenvalue \(low)")
    }

    @Test func gaussNewtonEqualsTheHessianForSoftmaxRegression() throws {
        // Logits linear in θ: the Hessian's second term vanishes.
        let (model, θ, x, labels) = Self.smallModel(sizes: [4, 3], seed: 6)
        let g = try GaussNewtonOperator(model: model, at: θ, input: x, labels: labels).dense()
        let hess = try HessianOperator(of: try model.loss(on: x, labels: labels), at: θ).dense()
        for k in 0..<g.count { #expect(abs(g.scalars[k] - hess.scalars[k]) < 1e-13, "entry \(k)") }
    }

    @Test func empiricalFisherIsTheMeanOuterProductOfPerSampleGradients() throws {
        let (model, θ, x, labels) = Self.smallModel(sizes: [4, 3, 3], seed: 7)
        let fisher = try EmpiricalFisherOperator(model: model, at: θ, input: x, labels: labels)
        var rng = SplitMix64(seed: 3)
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng)
        // vᵀFv = (1/N) Σ (g_iᵀv)², with g_iᵀv a central difference of sample i's loss along v.
        var expected = 0.0
        for i in 0..<5 {
            let li = try model.loss(on: x.rows(i..<(i + 1)), labels: [labels[i]])
            var p = θ, m = θ; p.addScaled(v, 1e-6); m.addScaled(v, -1e-6)
            let gv = (try value(of: li, at: p) - value(of: li, at: m)) / 2e-6
            expected += gv * gv / 5
        }
        let vFv = try fisher.apply(v).dot(v)
        #expect(abs(vFv - expected) < 1e-6 * abs(expected), "\(vFv) vs \(expected)")
        // PSD with rank at most N = 5.
        let eig = try fisher.spectrum()
        #expect(eig.min()! > -1e-12 && eig.filter { $0 > 1e-10 }.count <= 5)
    }

    @Test func blocksAreTheDiagonalBlocksOfTheDenseHessian() throws {
        let (model, θ, x, labels) = Self.smallModel(sizes: [4, 3, 3], seed: 8)
        let hessian = try HessianOperator(of: try model.loss(on: x, labels: labels), at: θ)
        let dense = try hessian.dense(), d = θ.count
        let layers = layerBlocks(of: model.layout)
        #expect(layers.map(\.name) == ["fc1", "fc2"] && layers[0].entries == ["fc1.weight", "fc1.bias"])
        var blocks: [RestrictedOperator<HessianOperator<ModelLoss<MLP, Double>>>] = []
        for layer in layers {
            let block = try RestrictedOperator(hessian, entries: layer.entries, of: model.layout)
            let idx = block.ranges.flatMap { Array($0) }
            let bd = try block.dense()
            for (a, i) in idx.enumerated() { for (b, j) in idx.enumerated() {
                #expect(abs(bd.scalars[a * idx.count + b] - dense.scalars[i * d + j]) < 1e-12)
            } }
            blocks.append(block)
        }
        // The block-diagonal operator: the dense Hessian with the cross-layer entries zeroed.
        let bdiag = try BlockDiagonalOperator(blocks).dense()
        let layerOf = (0..<d).map { i in blocks.firstIndex { $0.ranges.contains { $0.contains(i) } }! }
        for i in 0..<d { for j in 0..<d {
            let want = layerOf[i] == layerOf[j] ? dense.scalars[i * d + j] : 0
            #expect(abs(bdiag.scalars[i * d + j] - want) < 1e-12)
        } }
        #expect(throws: AutodiffError.self) { try RestrictedOperator(hessian, entries: ["fc9.weight"], of: model.layout) }
        #expect(throws: AutodiffError.self) { try RestrictedOperator(hessian, ranges: [0..<5, 3..<8]) }
    }

    /// Each curvature in chunks (even, uneven, one row each, one chunk, more rows than the batch),
    /// kept or streamed, equals the same curvature of the whole batch, built directly, to 1e-12.
    @Test(arguments: [UInt64(9), 10]) func chunkedOperatorsEqualTheWholeBatch(seed: UInt64) throws {
        func check<M: Model>(_ model: M, inputs n: Int) throws {
            var rng = SplitMix64(seed: seed)
            let θ = model.initialParameters(Double.self, seed: seed)
            let x = Tensor<Double>.randomUniform([n, model.inputSize], bound: 1, using: &rng)
            let labels = (0..<n).map { ($0 * 7 + Int(seed)) % model.classCount }
            let vs = (0..<2).map { _ in Tensor<Double>.randomNormal([θ.count], using: &rng) }
            let whole: [CurvatureKind: [Tensor<Double>]] = [
                .hessian: try vs.map { try HessianOperator(of: try model.loss(on: x, labels: labels), at: θ).apply($0) },
                .ggn: try vs.map { try GaussNewtonOperator(model: model, at: θ, input: x, labels: labels).apply($0) },
                .fisher: try vs.map { try EmpiricalFisherOperator(model: model, at: θ, input: x, labels: labels).apply($0) },
            ]
            for kind in CurvatureKind.allCases {
                for chunk in [0, 1, 2, 3, n + 5] {
                    for records in ChunkRecords.allCases {
                        let op = try kind.matrix(of: model, at: θ, input: x, labels: labels, chunkSize: chunk, records: records)
                        let block = try op.apply(block: vs)
                        for (k, v) in vs.enumerated() {
                            let want = whole[kind]![k]
                            for got in [try op.apply(v), block[k]] {
                                #expect((got - want).norm() <= 1e-12 * want.norm(),
                                        "seed \(seed) \(model.name) \(kind) chunk \(chunk) \(records): \((got - want).norm() / want.norm())")
                            }
                        }
                    }
                }
            }
            #expect(throws: AutodiffError.self) { try CurvatureKind.hessian.matrix(of: model, at: θ, input: x, labels: labels, chunkSize: -1) }
            // The mean loss in chunks: the same value and gradient as on the whole batch.
            let (l0, g0) = try valueWithGradient(of: try model.loss(on: x, labels: labels), at: θ)
            for chunk in [1, 2, 3] {
                let f = try model.meanLoss(on: x, labels: labels, chunkSize: chunk)
                let (l1, g1) = try f.valueWithGradient(at: θ)
                let v1 = try f.value(at: θ)
                #expect(abs(l1 - l0) <= 1e-12 * abs(l0) && abs(v1 - l0) <= 1e-12 * abs(l0), "chunk \(chunk): \(l1) vs \(l0)")
                #expect((g1 - g0).norm() <= 1e-12 * g0.norm(), "chunk \(chunk)")
            }
        }
        try check(MLP(sizes: [4, 3, 3]), inputs: 5)
        try check(try CNN(inputChannels: 1, height: 8, width: 8, channels: [2, 3], kernelSize: 3, padding: 1, hiddenSize: 4, classCount: 3), inputs: 7)
    }

    @Test func rowChunksSplitAndWeighByRows() {
        let c = RowChunks(rows: 100, size: 32)
        #expect(Array(c) == [0..<32, 32..<64, 64..<96, 96..<100])
        #expect(c.indices.map(c.weight) == [0.32, 0.32, 0.32, 0.04])
        #expect(Array(RowChunks(rows: 5, size: 0)) == [0..<5] && Array(RowChunks(rows: 5, size: 9)) == [0..<5])
    }
}

/// The linearized Hessian (primal recorded once, tangents replayed) against the full
/// forward-over-reverse HVP.
@Suite struct LinearizedHessianTests {
    func check<M: Model>(_ model: M, inputs: Int, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let θ = model.initialParameters(Double.self, seed: seed)
        let x = Tensor<Double>.randomUniform([inputs, model.inputSize], bound: 1, using: &rng)
        let loss = try model.loss(on: x, labels: (0..<inputs).map { $0 % model.classCount })
        let op = try HessianOperator(of: loss, at: θ)
        let (value, grad) = try valueWithGradient(of: loss, at: θ)
        #expect(abs(op.linearization.value - value) <= 1e-15 * abs(value))
        #expect((op.linearization.gradient - grad).norm() <= 1e-15 * grad.norm())
        for k in 0..<3 {   // several replays of one recording
            let v = Tensor<Double>.randomNormal([θ.count], using: &rng)
            let full = try hessianVectorProduct(of: loss, at: θ, along: v)
            let fast = try op.apply(v)
            #expect((fast - full).norm() <= 1e-12 * full.norm(), "seed \(seed) \(model.name) replay \(k): \((fast - full).norm() / full.norm())")
        }
    }

    @Test(arguments: [UInt64(1), 2]) func mlp(seed: UInt64) throws { try check(MLP(sizes: [12, 6, 5, 3]), inputs: 7, seed: seed) }
    @Test(arguments: [UInt64(3), 4]) func cnn(seed: UInt64) throws {
        try check(try CNN(inputChannels: 1, height: 8, width: 8, channels: [2, 3], kernelSize: 3, padding: 1, hiddenSize: 4, classCount: 3),
                  inputs: 7, seed: seed)
    }
}

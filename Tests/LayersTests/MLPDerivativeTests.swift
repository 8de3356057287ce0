import Foundation
import Testing
import Autodiff
import Layers
import Tensors

/// A small random MLP in Double with a random batch, reproducible from `seed`.
func randomMLPLoss(seed: UInt64, sizes: [Int] = [7, 6, 5, 4], batch: Int = 5) -> (ModelLoss<MLP, Double>, Tensor<Double>) {
    let model = MLP(sizes: sizes)
    var rng = SplitMix64(seed: seed)
    let x = Tensor<Double>.randomNormal([batch, sizes[0]], using: &rng)
    let labels = (0..<batch).map { _ in rng.next(below: sizes.last!) }
    // Scale up the initialization so that ReLUs and the softmax are far from trivial.
    let θ = model.initialParameters(Double.self, seed: seed &+ 1).scaled(by: 2.0)
    return (try! model.loss(on: x, labels: labels), θ)
}

@Suite struct MLPDerivativeTests {
    static let seeds: [UInt64] = [1, 2, 3, 4, 5]

    @Test(arguments: seeds) func gradientMatchesFiniteDifferences(seed: UInt64) throws {
        let (f, θ) = randomMLPLoss(seed: seed)
        let check = try checkGradient(of: f, at: θ)
        #expect(check.worstRelativeError <= 1e-6, "seed \(seed): \(check)")
        #expect(check.componentsChecked == f.layout.parameterCount)
    }

    @Test(arguments: seeds) func hvpMatchesFiniteDifferencesOfGradient(seed: UInt64) throws {
        let (f, θ) = randomMLPLoss(seed: seed)
        let check = try checkHessianVectorProduct(of: f, at: θ, seed: seed)
        #expect(check.worstRelativeError <= 1e-5, "seed \(seed): \(check)")
    }

    @Test(arguments: seeds) func hessianIsSymmetricAndForwardOverForwardAgrees(seed: UInt64) throws {
        let (f, θ) = randomMLPLoss(seed: seed)
        var rng = SplitMix64(seed: seed &* 77)
        let d = f.layout.parameterCount
        let u = Tensor<Double>.randomNormal([d], using: &rng), v = Tensor<Double>.randomNormal([d], using: &rng)
        let hv = try hessianVectorProduct(of: f, at: θ, along: v)
        let hu = try hessianVectorProduct(of: f, at: θ, along: u)
        let uHv = u.dot(hv), vHu = v.dot(hu)
        #expect(abs(uHv - vHu) <= 1e-10 * max(abs(uHv), abs(vHu)), "seed \(seed): uᵀHv = \(uHv), vᵀHu = \(vHu)")
        let fof = try bilinearHessian(of: f, at: θ, u, v)
        #expect(abs(fof - uHv) <= 1e-10 * abs(uHv), "seed \(seed): forward-over-forward \(fof) vs forward-over-reverse \(uHv)")
    }

    @Test func gradientAndHVPPassAgreesWithSeparateGradient() throws {
        let (f, θ) = randomMLPLoss(seed: 11)
        var rng = SplitMix64(seed: 12)
        let v = Tensor<Double>.randomNormal([f.layout.parameterCount], using: &rng)
        let (value, g, _) = try valueGradientAndHVP(of: f, at: θ, along: v)
        let (value2, g2) = try valueWithGradient(of: f, at: θ)
        #expect(value == value2)
        #expect(zip(g.scalars, g2.scalars).allSatisfy { abs($0 - $1) <= 1e-14 * max(1, abs($1)) })
        let (_, dir) = try jvp(of: f, at: θ, along: v)
        #expect(abs(dir - g.dot(v)) <= 1e-12 * max(1, abs(dir)))
    }

    /// A first-layer pre-activation that overflowed to nan (∞ − ∞ in the GEMM) must reach the
    /// loss: a ReLU that made it 0 gave `landscape slice` a finite loss at θ ± 1e308·u on
    /// OpenBLAS's Sandybridge kernel, whose summation order made every pre-activation nan there.
    @Test func aNaNPreActivationMakesTheLossNaN() throws {
        let (f, θ) = randomMLPLoss(seed: 11)
        var p = θ.scalars
        p[0] = .nan   // fc1.weight[0, 0]: hidden unit 0 is nan for every sample
        let poisoned = Tensor<Double>(p)
        #expect(try value(of: f, at: poisoned).isNaN)
        #expect(try valueWithGradient(of: f, at: poisoned).0.isNaN)
        #expect(try value(of: f, at: θ).isFinite)
    }

    @Test func denseHessianColumnsEqualBasisHVPs() throws {
        let (f, θ) = randomMLPLoss(seed: 21, sizes: [3, 4, 3], batch: 4)
        let d = f.layout.parameterCount
        let h = try hessian(of: f, at: θ)
        #expect(h.shape == [d, d])
        for i in 0..<d { for j in 0..<i {
            #expect(abs(h.scalars[i * d + j] - h.scalars[j * d + i]) <= 1e-12, "H[\(i),\(j)] ≠ H[\(j),\(i)]")
        } }
        let j = 5
        var e = [Double](repeating: 0, count: d); e[j] = 1
        let col = try hessianVectorProduct(of: f, at: θ, along: Tensor(e))
        for i in 0..<d { #expect(h.scalars[i * d + j] == col.scalars[i]) }
        #expect(throws: AutodiffError.tooLarge(parameters: d, limit: 10)) { try hessian(of: f, at: θ, limit: 10) }
    }

    @Test func wrongLengthsGiveClearErrors() throws {
        let (f, θ) = randomMLPLoss(seed: 3)
        let short = Tensor<Double>(Array(θ.scalars.dropLast()))
        #expect(throws: AutodiffError.lengthMismatch(what: "the parameter vector", expected: θ.count, actual: θ.count - 1)) {
            try gradient(of: f, at: short)
        }
        #expect(throws: AutodiffError.lengthMismatch(what: "the direction", expected: θ.count, actual: θ.count - 1)) {
            try hessianVectorProduct(of: f, at: θ, along: short)
        }
        let model = MLP(sizes: [7, 6, 5, 4])
        #expect(throws: ModelError.self) { try model.loss(on: Tensor<Double>.zeros([2, 8]), labels: [0, 1]) }
        #expect(throws: ModelError.self) { try model.loss(on: Tensor<Double>.zeros([2, 7]), labels: [0]) }
        #expect(throws: ModelError.self) { try model.loss(on: Tensor<Double>.zeros([2, 7]), labels: [0, 4]) }
    }
}

/// Softmax regression (one Linear layer + mean cross-entropy) has a closed-form Hessian:
/// with p_i = softmax(z_i), z_i = W x_i + b, the Hessian in z is (diag p_i − p_i p_iᵀ)/N, so
/// H·(V, c) = Σ_i u_i ⊗ (x_i, 1) with u_i = (diag p_i − p_i p_iᵀ)(V x_i + c)/N.
@Suite struct SoftmaxRegressionClosedFormTests {
    @Test(arguments: [UInt64(7), 8, 9]) func hvpMatchesClosedForm(seed: UInt64) throws {
        let (n, inF, c) = (6, 5, 4)
        let model = MLP(sizes: [inF, c])
        var rng = SplitMix64(seed: seed)
        let x = Tensor<Double>.randomNormal([n, inF], using: &rng)
        let labels = (0..<n).map { _ in rng.next(below: c) }
        let θ = Tensor<Double>.randomNormal([model.layout.parameterCount], using: &rng)
        let v = Tensor<Double>.randomNormal([model.layout.parameterCount], using: &rng)
        let f = try model.loss(on: x, labels: labels)
        let hv = try hessianVectorProduct(of: f, at: θ, along: v)

        // Reference by explicit loops.
        let W = θ.scalars, V = v.scalars
        var expected = [Double](repeating: 0, count: θ.count)
        for i in 0..<n {
            let xi = (0..<inF).map { x.scalars[i * inF + $0] }
            var z = [Double](repeating: 0, count: c), zd = [Double](repeating: 0, count: c)
            for k in 0..<c {
                z[k] = W[c * inF + k]; zd[k] = V[c * inF + k]
                for j in 0..<inF { z[k] += W[k * inF + j] * xi[j]; zd[k] += V[k * inF + j] * xi[j] }
            }
            let m = z.max()!
            let e = z.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            let p = e.map { $0 / s }
            let pzd = zip(p, zd).map(*).reduce(0, +)
            let u = (0..<c).map { k in (p[k] * zd[k] - p[k] * pzd) / Double(n) }
            for k in 0..<c {
                for j in 0..<inF { expected[k * inF + j] += u[k] * xi[j] }
                expected[c * inF + k] += u[k]
            }
        }
        let scale = expected.map(abs).max()!
        for (a, b) in zip(hv.scalars, expected) { #expect(abs(a - b) <= 1e-12 * scale, "seed \(seed)") }
    }
}

@Suite struct CrossEntropyTests {
    @Test func stableForExtremeLogits() {
        let z = Tensor<Double>(shape: [2, 3], scalars: [1000, 0, -1000, -1000, 0, 1000])
        let l0: Tensor<Double> = softmaxCrossEntropy(logits: z, labels: [0, 2])
        #expect(l0.scalar == 0)
        let l1: Tensor<Double> = softmaxCrossEntropy(logits: z, labels: [1, 1])
        #expect(abs(l1.scalar - 1000) < 1e-9)
        let zf = Tensor<Float>(shape: [1, 3], scalars: [1000, 0, -1000])
        let lf: Tensor<Float> = softmaxCrossEntropy(logits: zf, labels: [2])
        #expect(lf.scalar == 2000)
        // Its gradient in the logits is (softmax − onehot)/N, finite: here [[0, 0, 0], [0, 0, 0]] up to e^-1000.
        let g = gradient(of: { (p: [Tracked<Tensor<Double>>]) in softmaxCrossEntropy(logits: p[0], labels: [0, 2]) }, at: [z])
        #expect(g[0].scalars.allSatisfy { $0.isFinite && abs($0) < 1e-300 })
        let g1 = gradient(of: { (p: [Tracked<Tensor<Double>>]) in softmaxCrossEntropy(logits: p[0], labels: [1, 1]) }, at: [z])
        #expect(g1[0].scalars == [0.5, -0.5, 0, 0, -0.5, 0.5])
    }

    @Test func uniformLogitsGiveLogC() {
        let z = Tensor<Double>.zeros([4, 10])
        let l: Tensor<Double> = softmaxCrossEntropy(logits: z, labels: [0, 3, 9, 2])
        #expect(abs(l.scalar - Foundation.log(10)) < 1e-15)
    }
}

@Suite struct MLPShapeTests {
    @Test func studyMLPHasTheStatedParameterCount() {
        let m = MLP()
        #expect(m.layout.parameterCount == 269_322)
        #expect(m.layout.entries.map(\.name) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"])
        #expect(m.layout.entries[0].shape == [256, 784])
    }

    @Test func initializationIsPyTorchDefaultAndSeeded() {
        let m = MLP()
        let a = m.initialParameters(Float.self, seed: 42), b = m.initialParameters(Float.self, seed: 42)
        #expect(a == b)
        #expect(a != m.initialParameters(Float.self, seed: 43))
        for e in m.layout.entries {
            let fanIn = e.name.hasPrefix("fc1") ? 784 : (e.name.hasPrefix("fc2") ? 256 : 256)
            let bound = Float(1 / Double(fanIn).squareRoot())
            let block = a.scalars[e.range]
            #expect(block.allSatisfy { abs($0) <= bound }, "\(e.name) exceeds ±1/√\(fanIn)")
            // Uniform on ±b has standard deviation b/√3.
            let mean = block.reduce(0, +) / Float(block.count)
            let sd = (block.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(block.count)).squareRoot()
            #expect(abs(sd - bound / Float(3).squareRoot()) < 0.1 * bound, "\(e.name): sd \(sd)")
        }
    }
}

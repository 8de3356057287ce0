import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

/// vᵀAv for a dense `[d, d]` matrix.
private func quadraticForm(_ a: Tensor<Double>, _ v: Tensor<Double>) -> Double {
    let d = v.count
    var s = 0.0
    for i in 0..<d { for j in 0..<d { s += v.scalars[i] * a.scalars[i * d + j] * v.scalars[j] } }
    return s
}

@Suite struct PerSampleCurvatureTests {
    /// Each sample's c₀, c₁ and 2c₂ from the one jet pass against that sample's own loss, gradient
    /// and dense Hessian (a batch of one, forward-over-reverse), along a random direction.
    func checkAgainstSingleSampleHessians<M: Model>(_ f: ModelLoss<M, Double>, _ θ: Tensor<Double>, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed &+ 77)
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let n = f.labels.count
        let e = try f.model.perSampleExpansion(at: θ, along: v, input: f.input, labels: f.labels, order: 2)
        let curvatures = try perSampleCurvature(of: f.model, at: θ, input: f.input, labels: f.labels, along: v)
        let chunked = try f.model.perSampleExpansion(at: θ, along: v, input: f.input, labels: f.labels, order: 2, chunkSize: 2)
        for i in 0..<n {
            let fi = try f.model.loss(on: f.input.rows(i..<(i + 1)), labels: [f.labels[i]])
            let h = try hessian(of: fi, at: θ)
            let (value, g) = try valueWithGradient(of: fi, at: θ)
            let vHv = quadraticForm(h, v)
            #expect(abs(e.losses[i] - value) <= 1e-12 * abs(value), "seed \(seed), sample \(i): loss \(e.losses[i]) vs \(value)")
            #expect(abs(e.slopes[i] - g.dot(v)) <= 1e-10 * max(abs(g.dot(v)), 1e-8), "seed \(seed), sample \(i): c1 \(e.slopes[i]) vs gᵢᵀv \(g.dot(v))")
            #expect(abs(curvatures[i] - vHv) <= 1e-9 * max(abs(vHv), 1e-8), "seed \(seed), sample \(i): 2c2 \(curvatures[i]) vs vᵀHᵢv \(vHv)")
            #expect(abs(chunked.curvatures[i] - curvatures[i]) <= 1e-12 * max(abs(vHv), 1e-8), "seed \(seed), sample \(i): chunked")
        }
        #expect(e.predicted == (try f.model.logits(try f.model.layout.split(θ), input: f.input) as Tensor<Double>).argmaxRows())
        #expect(curvatures.contains { $0 != curvatures[0] }, "seed \(seed): samples should differ")

        // The mean over samples is uᵀHu of the batch's mean loss, u its top eigenvector (dense, LAPACK).
        let (values, vectors) = try LAPACK.symmetricEigen(try hessian(of: f, at: θ))
        let d = θ.count
        let u = Tensor<Double>(Array(vectors.scalars[((d - 1) * d)..<(d * d)]))
        let alongU = try perSampleCurvature(of: f.model, at: θ, input: f.input, labels: f.labels, along: u)
        let mean = alongU.reduce(0, +) / Double(n)
        #expect(abs(mean - values[d - 1]) <= 1e-9 * abs(values[d - 1]), "seed \(seed): mean \(mean) vs λ_max \(values[d - 1])")
    }

    @Test(arguments: [UInt64(1), 2]) func mlpPerSampleValuesMatchEachSamplesDenseHessian(seed: UInt64) throws {
        let (f, θ) = randomMLPLoss(seed: seed)
        try checkAgainstSingleSampleHessians(f, θ, seed: seed)
    }

    @Test(arguments: [UInt64(4)]) func cnnPerSampleValuesMatchEachSamplesDenseHessian(seed: UInt64) throws {
        let (f, θ) = try tinyCNNLoss(seed: seed)
        try checkAgainstSingleSampleHessians(f, θ, seed: seed)
    }

    @Test func probeRunsLambdaMaxWhenAbsentAndItsMeanIsUHU() throws {
        let seed: UInt64 = 3
        let (f, θ) = randomMLPLoss(seed: seed, batch: 12)
        var context = ProbeContext(of: f, at: θ, seed: seed)
        #expect(throws: AutodiffError.self) { try PerSampleCurvatureProbe().measure(&context) }
        context.perSample = try f.model.perSampleLosses(on: f.input, labels: f.labels)
        let r = try PerSampleCurvatureProbe().measure(&context)
        let u = try #require(context.warmStarts[LambdaMaxProbe.name])
        #expect(context.lambdaMax != nil)
        let uHu = u.dot(try hessianVectorProduct(of: f, at: θ, along: u))
        #expect(abs(r.mean - uHu) <= 1e-9 * abs(uHu), "seed \(seed): mean \(r.mean) vs uᵀHu \(uHu)")
        // A second probe in the same pass reuses the eigenvector (no λ_max run: the same vector).
        let again = try PerSampleCurvatureProbe().measure(&context)
        #expect(again.mean == r.mean)
        #expect((0...1).contains(r.negativeFraction) && (0..<4).contains(r.maxClass))
    }

    @Test func summaryOfKnownCurvatures() {
        // 20 samples: the largest (top 1 % = 1 sample, top 10 % = 2 samples) are 10 and 6; sum 20.
        var c = [Double](repeating: 0.5, count: 16) + [10, 6, -2, -2]
        let labels = (0..<20).map { $0 < 16 ? $0 % 2 : 2 }
        var r = PerSampleCurvatureProbe.Result(curvatures: c, labels: labels, classCount: 4)
        #expect(r.mean == 1)
        #expect(r.top1Share == 0.5 && r.top10Share == 0.8)
        #expect(r.negativeFraction == 0.1)
        #expect(r.maxClass == 2 && r.maxClassMean == 3)          // class 2: (10 + 6 − 2 − 2)/4; class 3 has none
        c[16] = 0.5; c[17] = 0.5                                  // classes 0 and 1 tie at 0.5 (class 2: −0.75): the first wins
        r = PerSampleCurvatureProbe.Result(curvatures: c, labels: labels, classCount: 4)
        #expect(r.maxClass == 0 && r.maxClassMean == 0.5)
    }
}

import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

/// Issue 24, class 2: `ModelLoss.chunkRows` evaluates the mean loss chunk by chunk (Σ n_i/N ·
/// loss_i), so that values and jets hold one chunk at a time. It must be the same function as the
/// whole batch in every algebra: the whole-batch loss is the reference.
@Suite struct ChunkedLossTests {
    static func batch(seed: UInt64, rows: Int) -> (MLP, Tensor<Double>, [Int], Tensor<Double>) {
        let m = MLP(sizes: [784, 16, 10])
        var rng = SplitMix64(seed: seed)
        let x = Tensor<Double>.randomUniform([rows, 784], bound: 1, using: &rng)
        let y = (0..<rows).map { _ in rng.next(below: 10) }
        return (m, x, y, m.initialParameters(Double.self, seed: seed))
    }

    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool { abs(a - b) <= tolerance * max(abs(b), 1e-300) }

    @Test(arguments: [7, 19, 1]) func chunkedLossIsTheWholeBatchLoss(chunkRows: Int) throws {
        let seed: UInt64 = 21
        let (m, x, y, θ) = Self.batch(seed: seed, rows: 20)
        let whole = try m.loss(on: x, labels: y)
        var chunked = whole
        chunked.chunkRows = chunkRows
        #expect(Self.close(try value(of: chunked, at: θ), try value(of: whole, at: θ)), "seed \(seed), chunks of \(chunkRows)")
        let gw = try gradient(of: whole, at: θ), gc = try gradient(of: chunked, at: θ)
        #expect((gc - gw).norm() <= 1e-12 * gw.norm(), "seed \(seed)")
        var rng = SplitMix64(seed: seed + 1)
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let hw = try hessianVectorProduct(of: whole, at: θ, along: v), hc = try hessianVectorProduct(of: chunked, at: θ, along: v)
        #expect((hc - hw).norm() <= 1e-11 * hw.norm(), "seed \(seed)")
        // Jets (Taylor mode) through the chunks: the directional derivatives to order 4.
        let dw = try directionalDerivatives(of: whole, at: θ, along: v, order: 4)
        let dc = try directionalDerivatives(of: chunked, at: θ, along: v, order: 4)
        for k in dw.indices { #expect(Self.close(dc[k], dw[k], 1e-10), "seed \(seed), order \(k): \(dc[k]) vs \(dw[k])") }
    }

    @Test func theMLPsPlaneInChunksIsTheWholeBatchPlane() throws {
        let seed: UInt64 = 22
        let (m, x, y, θ) = Self.batch(seed: seed, rows: 20)
        var rng = SplitMix64(seed: seed + 1)
        let u = Tensor<Double>.randomNormal([θ.count], using: &rng), v = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let whole = try m.loss(on: x, labels: y)
        var chunked = whole
        chunked.chunkRows = 6
        let alphas = [-0.5, 0, 0.25], betas = [-1.0, 0.5]
        let pw = try whole.lossesOnPlane(θ, u: u, v: v, alphas: alphas, betas: betas)
        let pc = try chunked.lossesOnPlane(θ, u: u, v: v, alphas: alphas, betas: betas)
        for a in alphas.indices {
            for b in betas.indices { #expect(Self.close(pc[a][b], pw[a][b]), "seed \(seed) at (\(alphas[a]), \(betas[b]))") }
        }
    }
}

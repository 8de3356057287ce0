import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

/// The slice-grid shortcut of spec models: the MLP's numbers for an mlp form, the pointwise
/// losses for any other model.
@Suite struct SpecPlaneTests {
    static func data(_ inputSize: Int, classes: Int, rows: Int, seed: UInt64) -> (Tensor<Double>, [Int]) {
        var rng = SplitMix64(seed: seed)
        return (Tensor.randomNormal([rows, inputSize], using: &rng), (0..<rows).map { _ in rng.next(below: classes) })
    }

    func pointwise<M: Model>(_ loss: ModelLoss<M, Double>, _ θ: Tensor<Double>, _ u: Tensor<Double>, _ v: Tensor<Double>,
                             _ alphas: [Double], _ betas: [Double]) throws -> [[Double]] {
        try alphas.map { a in try betas.map { b in
            var p = θ; p.addScaled(u, a); p.addScaled(v, b)
            return try value(of: loss, at: p)
        } }
    }

    @Test func mlpFormMatchesMLPBitForBit() throws {
        let reference = MLP(sizes: [6, 5, 4, 3]), model = try ModelSpec(parsing: "mlp:6-5-4-3").make()
        #expect(model.layout == reference.layout)
        let θ = reference.initialParameters(Double.self, seed: 1)
        var rng = SplitMix64(seed: 2)
        let u = Tensor<Double>.randomNormal([θ.count], using: &rng), v = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let (x, y) = Self.data(6, classes: 3, rows: 10, seed: 3)
        var a = try reference.loss(on: x, labels: y), b = try model.loss(on: x, labels: y)
        a.chunkRows = 4; b.chunkRows = 4
        let alphas = [-1, 0, 0.5], betas = [-0.5, 1]
        #expect(try a.lossesOnPlane(θ, u: u, v: v, alphas: alphas, betas: betas) == b.lossesOnPlane(θ, u: u, v: v, alphas: alphas, betas: betas))
    }

    @Test(arguments: ["mlp:6-5x2-3+res+ln+tanh", "cnn"])
    func shortcutOrFallbackMatchesPointwise(text: String) throws {
        let spec = text == "cnn"
            ? ModelSpec(name: "small-cnn", input: [1, 4, 4], layers: [.conv2d(out: 2, kernel: 3, stride: 1, padding: 1), .tanh, .flatten, .linear(out: 3)])
            : try ModelSpec(parsing: text)
        let model = try spec.make()
        let θ = model.initialParameters(Double.self, seed: 4)
        var rng = SplitMix64(seed: 5)
        let u = Tensor<Double>.randomNormal([θ.count], using: &rng), v = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let (x, y) = Self.data(model.inputSize, classes: 3, rows: 7, seed: 6)
        var loss = try model.loss(on: x, labels: y)
        loss.chunkRows = 3
        let alphas = [-0.3, 0, 0.2], betas = [0.1, -0.4]
        let fast = try loss.lossesOnPlane(θ, u: u, v: v, alphas: alphas, betas: betas), slow = try pointwise(loss, θ, u, v, alphas, betas)
        for (r, s) in zip(fast.joined(), slow.joined()) { #expect(abs(r - s) <= 1e-12 * max(1, abs(s)), "\(text): \(r) vs \(s)") }
    }
}

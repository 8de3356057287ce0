import Foundation
import Testing
import Autodiff
import Layers
import Tensors

@Suite struct JetModelTests {
    @Test(arguments: [UInt64(1), 2, 3]) func secondCoefficientIsHalfVHVForMLPs(seed: UInt64) throws {
        let (f, θ) = randomMLPLoss(seed: seed)
        try checkAgainstNestedDuals(f, θ, seed: seed)
    }

    @Test(arguments: [UInt64(4), 5]) func secondCoefficientIsHalfVHVForCNNs(seed: UInt64) throws {
        let (f, θ) = try tinyCNNLoss(seed: seed)
        try checkAgainstNestedDuals(f, θ, seed: seed)
    }

    func checkAgainstNestedDuals<O: Objective>(_ f: O, _ θ: Tensor<Double>, seed: UInt64) throws where O.Scalar == Double {
        var rng = SplitMix64(seed: seed &+ 1000)
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let c = try taylorCoefficients(of: f, at: θ, along: v, order: 3)
        let (value, g, hv) = try valueGradientAndHVP(of: f, at: θ, along: v)
        let fof = try bilinearHessian(of: f, at: θ, v, v)
        let vHv = v.dot(hv)
        #expect(abs(c[0] - value) <= 1e-12 * abs(value), "seed \(seed)")
        #expect(abs(c[1] - g.dot(v)) <= 1e-10 * abs(c[1]), "seed \(seed): c1 \(c[1]) vs gᵀv \(g.dot(v))")
        #expect(abs(2 * c[2] - vHv) <= 1e-10 * abs(vHv), "seed \(seed): 2c2 \(2 * c[2]) vs fwd-over-rev \(vHv)")
        #expect(abs(2 * c[2] - fof) <= 1e-10 * abs(fof), "seed \(seed): 2c2 \(2 * c[2]) vs fwd-over-fwd \(fof)")
    }

    @Test(arguments: [UInt64(7), 8]) func thirdDirectionalDerivativeMatchesFiniteDifferenceOfVHV(seed: UInt64) throws {
        let (f, θ) = randomMLPLoss(seed: seed)
        var rng = SplitMix64(seed: seed)
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng).normalized()
        let d = try directionalDerivatives(of: f, at: θ, along: v, order: 3)
        // ∇³L[v,v,v] = d/dh vᵀH(θ + hv)v at h = 0, by a central difference (error O(h²)).
        let h = 1e-4
        var plus = θ, minus = θ
        plus.addScaled(v, h)
        minus.addScaled(v, -h)
        let fd = (try bilinearHessian(of: f, at: plus, v, v) - bilinearHessian(of: f, at: minus, v, v)) / (2 * h)
        #expect(abs(d[3] - fd) <= 1e-5 * max(abs(fd), 1e-3), "seed \(seed): jet \(d[3]) vs finite difference \(fd)")
        #expect(abs(d[3]) > 1e-6, "the third derivative should not vanish for a random ReLU MLP with softmax")
    }

    @Test func jetOfFloatModelAndBadDirection() throws {
        let model = MLP(sizes: [5, 4, 3])
        var rng = SplitMix64(seed: 2)
        let x = Tensor<Float>.randomNormal([6, 5], using: &rng)
        let f = try model.loss(on: x, labels: [0, 1, 2, 0, 1, 2])
        let θ = model.initialParameters(Float.self, seed: 1)
        #expect(throws: AutodiffError.lengthMismatch(what: "the direction", expected: θ.count, actual: 3)) {
            try taylorCoefficients(of: f, at: θ, along: Tensor<Float>([1, 2, 3]), order: 2)
        }
        #expect(throws: AutodiffError.self) { try taylorCoefficients(of: f, at: θ, along: θ, order: -2) }
        let c = try taylorCoefficients(of: f, at: θ, along: θ, order: 4)
        #expect(c.count == 5 && c.allSatisfy { $0.isFinite })
    }
}

import Autodiff
import Layers
import Probes
import Tensors
import Testing

/// The Swift example of the README's "What only jets can do", as written there (on a smaller
/// MLP and batch), with what each result must satisfy.
@Suite struct ReadmeJetsExampleTests {
    @Test func theReadmeJetExampleRunsAndItsResultsAgree() throws {
        let model = MLP(sizes: [784, 16, 10])
        let θ = model.initialParameters(Double.self, seed: 0)
        var rng = SplitMix64(seed: 1)
        let images = Tensor<Double>.randomUniform([8, 784], bound: 1, using: &rng)
        let labels = [3, 1, 4, 1, 5, 9, 2, 6]
        let direction = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let loss = try model.loss(on: images, labels: labels)

        // As in the README:
        let u = try largestEigenvalue(of: HessianOperator(of: loss, at: θ)).vector
        let g = try gradientOfCurvature(of: loss, at: θ, along: u)      // .gradient ∇L, .hvp Hu, .curvatureGradient ∇λ
        let smooth = try smoothnessRadius(of: loss, at: θ, along: direction)   // .forward, .backward, .isExact, .coefficients
        let r = try quadraticModelRadius(coefficients: smooth.coefficients)   // |ε| where ½ε²vᵀHv is off by 10 %
        let perSample = try perSampleCurvature(of: model, at: θ, input: images, labels: labels, along: u)   // [N]
        let step = try stepCurvature(of: LossFunction(loss), at: θ, step: direction.scaled(by: -0.01), learningRate: 0.05)

        // Against the routes they share a quantity with.
        let (_, gradient, hu) = try valueGradientAndHVP(of: loss, at: θ, along: u)
        #expect((g.gradient - gradient).norm() <= 1e-12 * gradient.norm())
        #expect((g.hvp - hu).norm() <= 1e-12 * hu.norm())
        let λ = u.dot(hu)
        #expect(abs(perSample.reduce(0, +) / Double(perSample.count) - λ) <= 1e-10 * abs(λ))
        #expect(smooth.forward > 0 && smooth.backward > 0 && smooth.isExact)
        #expect(r > 0)
        let s = direction.scaled(by: -0.01), vHv = s.dot(try hessianVectorProduct(of: loss, at: θ, along: s))
        #expect(abs(step.directionalCurvature - vHv / s.dot(s)) <= 1e-9 * abs(vHv / s.dot(s)))
    }
}

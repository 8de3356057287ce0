import Autodiff
import Foundation
import Layers
import Probes
import Tensors
import Testing

/// The Swift blocks of Notes/library.md, each between `// snippet: NAME` and `// end snippet`
/// (SnippetsMatchTests checks that the note shows them verbatim), run and checked against
/// closed forms and independent routes.
@Suite struct LibrarySnippets {
    @Test func jets() throws {
        // snippet: library-jets
        // c_k of exp(sin(x + t)) at x = 0.3, k = 0…8; derivative(k) = k!·c_k.
        let c = try taylorCoefficients(of: { Jet.exp(Jet.sin($0)) }, at: 0.3, along: 1.0, order: 8)
        let y = Jet.tanh(Jet(point: 0.5, direction: 1.0, order: 4)); let d3 = y.derivative(3)
        // end snippet

        // (e^{sin x})' = cos x·e^{sin x}, (e^{sin x})'' = (cos² x − sin x)·e^{sin x}.
        let (s, co, e) = (Foundation.sin(0.3), Foundation.cos(0.3), Foundation.exp(Foundation.sin(0.3)))
        #expect(c.count == 9)
        #expect(abs(c[0] - e) <= 1e-15 && abs(c[1] - co * e) <= 1e-15 && abs(c[2] - (co * co - s) * e / 2) <= 1e-15)
        // tanh''' = −2(1 − tanh²)(1 − 3 tanh²)
        let t = Foundation.tanh(0.5)
        #expect(abs(d3 - (-2 * (1 - t * t) * (1 - 3 * t * t))) <= 1e-14)
    }

    @Test func edges() throws {
        // snippet: library-edges
        // √x where x > 0, else 0: the derivative at 0 is 0 in both modes (not 0·∞ = nan).
        let fwd = derivative(of: { x in Dual.select(x, Dual.sqrt(x), x.zerosLike()) }, at: 0.0)         // 0
        let rev = gradient(of: { x in Tracked.select(x[0], Tracked.sqrt(x[0]), x[0].zerosLike()) }, at: [0.0])  // [0]
        let t = derivative(of: { Dual.tan($0) * Dual.erf($0) }, at: 0.4)   // sec²·erf + tan·2/√π·e^{−x²} = 0.91150…
        // Jets divide out removable singularities: (eᵗ − 1)/t at 0 is 1 + t/2 + t²/6 + …
        let c4 = try taylorCoefficients(of: { t in (Jet.exp(t) - t.onesLike()) / t }, at: 0.0, along: 1.0, order: 4)
        // A condition such as x > 1 is written x.shifted(by: -1); constants enter by scaled(by:), shifted(by:)
        // or as constants (Dual(primal: 2.0)), not as bare literals.
        // end snippet

        #expect(fwd == 0 && rev == [0])
        let sec = 1 / Foundation.cos(0.4)
        let exact = sec * sec * erf(0.4) + Foundation.tan(0.4) * 2 / Double.pi.squareRoot() * Foundation.exp(-0.16)
        #expect(abs(t - exact) <= 1e-14 && abs(t - 0.91150) < 5e-6)
        // (eᵗ − 1)/t = Σ tᵏ/(k + 1)!
        for (k, ck) in c4.enumerated() {
            #expect(abs(ck - 1 / Double((1...(k + 1)).reduce(1, *))) <= 1e-14, "c\(k)")
        }
    }

    @Test func ownFunctions() throws {
        // snippet: library-own-functions
        struct Softplus: ElementwiseFunction {                     // log(1 + eˣ); softplus' = σ
            func callAsFunction(_ x: Float) -> Float { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }
            func callAsFunction(_ x: Double) -> Double { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }
            func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { V.sigmoid(x) }
        }
        let s2 = secondDerivative(of: { Dual<Dual<Double>>.applying(Softplus(), to: $0) }, at: 0.8)  // σ(1 − σ)
        let s3 = try taylorCoefficients(of: { Jet.applying(Softplus(), to: $0) }, at: 0.8, along: 1.0, order: 3)

        struct Cube: TensorFunction {                               // x ⊙ x ⊙ x with its own JVP and VJP
            func value<S: TensorScalar>(_ x: Tensor<S>) -> Tensor<S> { x * x * x }
            func jvp<V: TensorAlgebra>(at x: V, value y: V, tangent t: V) -> V { (x * x * t).scaled(by: 3) }
            func vjp<V: TensorAlgebra>(at x: V, value y: V, cotangent g: V) -> V { (x * x * g).scaled(by: 3) }
        }
        let tape = Tape<Tensor<Double>>()
        let xv = tape.variable(Tensor([1.0, -2.0]))
        let grad = tape.cotangents(of: Tracked.applying(Cube(), to: xv).sum(), seed: Tensor(1.0))[0]!   // [3, 12]
        // end snippet

        let σ = 1 / (1 + Foundation.exp(-0.8))
        #expect(abs(s2 - σ * (1 - σ)) <= 1e-15)
        let softplus = Foundation.log1p(Foundation.exp(0.8))
        let expected = [softplus, σ, σ * (1 - σ) / 2, σ * (1 - σ) * (1 - 2 * σ) / 6]
        for k in 0...3 { #expect(abs(s3[k] - expected[k]) <= 1e-15, "c\(k)") }
        #expect(grad.scalars == [3, 12])   // 3x²
    }

    /// The model block runs as shown (the full MLP); the probe blocks continue from a smaller
    /// MLP (784→16→10) so that the debug build runs them in seconds.
    @Test func modelsAsObjectives() throws {
        // snippet: library-model-objective
        let model = MLP()                                        // 784→256→256→10, 269,322 parameters (or: try CNN())
        let θ = model.initialParameters(Double.self, seed: 0)    // PyTorch default init, seeded; Tensor<Double> [d]
        var rng = SplitMix64(seed: 1)
        let images = Tensor<Double>.randomUniform([8, 784], bound: 1, using: &rng)   // [N, 784]
        let labels = [3, 1, 4, 1, 5, 9, 2, 6]                                      // [Int], N values in 0..<10
        let direction = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let loss = try model.loss(on: images, labels: labels)    // an Objective: mean cross-entropy as a function of θ
        let (value, grad, hvp) = try valueGradientAndHVP(of: loss, at: θ, along: direction)
        let check = try checkHessianVectorProduct(of: loss, at: θ)  // vs finite differences of the gradient
        let c = try taylorCoefficients(of: loss, at: θ, along: direction, order: 3)
        // [Double]: c[1] = gᵀv, 2·c[2] = vᵀHv, 6·c[3] = ∇³L[v,v,v]   (computed with Jet<Tensor<Double>> in one forward pass)
        // end snippet

        #expect(θ.count == 269_322)
        #expect(check.worstRelativeError <= 1e-5, "\(check)")
        let gv = grad.dot(direction), vHv = direction.dot(hvp)
        #expect(abs(c[0] - value) <= 1e-12 * abs(value))
        #expect(abs(c[1] - gv) <= 1e-9 * (abs(gv) + 1e-12))
        #expect(abs(2 * c[2] - vHv) <= 1e-9 * abs(vHv))
    }

    @Test func probes() throws {
        let model = MLP(sizes: [784, 16, 10])
        let θ = model.initialParameters(Double.self, seed: 0)
        var rng = SplitMix64(seed: 1)
        let images = Tensor<Double>.randomUniform([8, 784], bound: 1, using: &rng)
        let labels = [3, 1, 4, 1, 5, 9, 2, 6]
        let direction = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let loss = try model.loss(on: images, labels: labels)

        // snippet: library-probes
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let small = MLP(sizes: [784, 3, 10])                                              // 2,395 parameters
        let smallθ = small.initialParameters(Double.self, seed: 0)
        let smallLoss = try small.loss(on: images, labels: labels)
        let λ = try powerIteration(of: loss, at: θ).eigenvalue                           // largest |eigenvalue|
        let λmax = try largestEigenvalue(of: HessianOperator(of: loss, at: θ))            // largest eigenvalue; .dominantNegative
        let top = try lanczos(of: loss, at: θ, count: 5, target: .largestAlgebraic)      // Ritz values, vectors, residuals
        let exact = try hessianSpectrum(of: smallLoss, at: smallθ)                       // dense, LAPACK dsyevd (small models)
        let density = try spectralDensity(of: loss, at: θ, probes: 4, steps: 60)          // SLQ: grid, density, nodes, weights
        let (trace, se) = try hutchinsonTrace(of: loss, at: θ, probes: 100)             // or hutchPlusPlusTrace
        let rank = EffectiveRank(nodes: density.nodes, weights: density.weights.map { $0 * Double(θ.count) })
        let sharp = try randomSharpness(of: loss, at: θ, epsilon: 0.05, kind: .filterNormalized, lambdaMax: top.pairs[0].value)
        let u = try filterNormalized(direction, like: θ, layout: model.layout)
        let worst = try worstCaseSharpness(of: loss, at: θ, epsilon: 0.05)              // max over the ε-ball, with δ
        let slice = try slice2D(of: loss, at: θ, u: u, v: v, alphas: try grid(from: -1, to: 1, count: 25), betas: try grid(from: -1, to: 1, count: 25))
        let taylor = try taylorSlice(of: loss, at: θ, along: u, alphas: try grid(from: -1, to: 1, count: 41), order: 4)  // .partingRadius
        let chunked = try CurvatureKind.hessian.matrix(of: model, at: θ, input: images, labels: labels,
                                                       chunkSize: 64, records: .streamed)   // memory of one chunk
        // end snippet

        _ = (rank, sharp, worst)
        let (value, _, hv) = try valueGradientAndHVP(of: loss, at: θ, along: v)
        // Power iteration's |λ| is the largest magnitude; λ_max the largest algebraic, Lanczos's first.
        #expect(abs(λ) >= λmax.value * (1 - 1e-3))
        #expect(abs(λmax.value - top.pairs[0].value) <= 1e-3 * abs(top.pairs[0].value))
        #expect(exact.count == 2_395 && zip(exact, exact.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(trace.isFinite && se > 0)
        // Gauss quadrature: the weights of each unit start vector sum to 1, averaged over the probes.
        #expect(abs(density.weights.reduce(0, +) - 1) <= 1e-9)
        // Both slices pass through θ at α = β = 0: the loss there.
        #expect(abs(slice.losses[12][12] - value) <= 1e-12 * value)
        #expect(abs(taylor.slice.losses[20] - value) <= 1e-12 * value && abs(taylor.coefficients[0] - value) <= 1e-12 * value)
        // The chunked Hessian is the Hessian: one product against the HVP of the whole batch.
        let chunkedHv = try chunked.apply(v)
        #expect((chunkedHv - hv).norm() <= 1e-10 * hv.norm())
    }

    @Test func operators() throws {
        let model = MLP(sizes: [784, 16, 10])
        let θ = model.initialParameters(Double.self, seed: 0)
        var rng = SplitMix64(seed: 1)
        let images = Tensor<Double>.randomUniform([8, 784], bound: 1, using: &rng)
        let labels = [3, 1, 4, 1, 5, 9, 2, 6]
        let loss = try model.loss(on: images, labels: labels)

        // snippet: library-operators
        let ggn = try GaussNewtonOperator(model: model, at: θ, input: images, labels: labels)
        let topGGN = try lanczos(of: ggn, count: 3)                                        // PSD: λ ≥ 0
        let fc1 = try RestrictedOperator(HessianOperator(of: loss, at: θ), entries: ["fc1.weight", "fc1.bias"], of: model.layout)
        let fc1Max = try powerIteration(of: fc1, maxIterations: 200)                       // .status says why it stopped
        let perLayer = try blockCurvature(of: ggn, blocks: layerBlocks(of: model.layout), layout: model.layout)
        // end snippet

        #expect(topGGN.pairs.allSatisfy { $0.value >= -1e-10 })
        #expect(fc1.dimension == 784 * 16 + 16)
        #expect(fc1Max.eigenvalue.isFinite)
        #expect(perLayer.count == 2)   // fc1, fc2
    }

    /// What only jets can do, against the routes they share a quantity with (on a smaller MLP).
    @Test func whatOnlyJetsCanDo() throws {
        let model = MLP(sizes: [784, 16, 10])
        let θ = model.initialParameters(Double.self, seed: 0)
        var rng = SplitMix64(seed: 1)
        let images = Tensor<Double>.randomUniform([8, 784], bound: 1, using: &rng)
        let labels = [3, 1, 4, 1, 5, 9, 2, 6]
        let direction = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let loss = try model.loss(on: images, labels: labels)

        // snippet: library-only-jets
        let u = try largestEigenvalue(of: HessianOperator(of: loss, at: θ)).vector
        let g = try gradientOfCurvature(of: loss, at: θ, along: u)      // .gradient ∇L, .hvp Hu, .curvatureGradient ∇λ
        let smooth = try smoothnessRadius(of: loss, at: θ, along: direction)   // .forward, .backward, .isExact, .coefficients
        let r = try quadraticModelRadius(coefficients: smooth.coefficients)   // |ε| where ½ε²vᵀHv is off by 10 %
        let perSample = try perSampleCurvature(of: model, at: θ, input: images, labels: labels, along: u)   // [N]
        let step = try stepCurvature(of: LossFunction(loss), at: θ, step: direction.scaled(by: -0.01), learningRate: 0.05)
        // step.directionalCurvature, .criticalLearningRate, .criticalSharpness
        // end snippet

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

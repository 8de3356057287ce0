import Autodiff
import Checkpoints
import Datasets
import Foundation
import Layers
import Probes
import Tensors
import Testing

// The ```swift blocks of the DocC articles (Sources/*/*.docc/*.md), each between its marker lines
// exactly as the article shows it; SnippetsMatchTests checks that the texts agree. The checks
// after each snippet take their expected values from closed forms.

@Suite struct NumberSystemsArticleSnippets {
    @Test func dual() {
        // snippet: number-systems-dual
        // f(x) = x·eˣ at x = 2 along 1: f'(2) = (1 + 2)·e² = 3e².
        let x = Dual(primal: 2.0, tangent: 1.0)
        let y = x * Dual.exp(x)
        let slope = y.tangent!                                    // 22.167…
        let same = derivative(of: { $0 * Dual.exp($0) }, at: 2.0) // the same, by the convenience
        // end snippet
        let expected = 3 * Foundation.exp(2.0)
        #expect(abs(slope - expected) <= 1e-14 * expected)
        #expect(abs(same - expected) <= 1e-14 * expected)
    }

    @Test func nestedDuals() {
        // snippet: number-systems-nested
        // d²/dx² sin(x)·eˣ = 2·cos(x)·eˣ at x = 0.5
        let d2 = secondDerivative(of: { Dual.sin($0) * Dual.exp($0) }, at: 0.5)
        // uᵀ∇²f v for f(x) = x₀²·x₁ (∇²f = [[2x₁, 2x₀], [2x₀, 0]]) at (1, 3), u = (1, 0), v = (0, 1): 2x₀ = 2
        let mixed = bilinearHessian(of: { x in x[0] * x[0] * x[1] }, at: [1.0, 3.0], [1.0, 0.0], [0.0, 1.0])
        // end snippet
        let expected = 2 * Foundation.cos(0.5) * Foundation.exp(0.5)
        #expect(abs(d2 - expected) <= 1e-14 * expected)
        #expect(abs(mixed - 2) <= 1e-14)
    }

    @Test func jets() throws {
        // snippet: number-systems-jet
        // The derivatives of exp(sin(x)) at x = 0.3, orders 0…4, from one pass.
        let jet = Jet.exp(Jet.sin(Jet(point: 0.3, direction: 1.0, order: 4)))
        let third = jet.derivative(3)                                           // d³/dx³ exp(sin x)
        let c = try taylorCoefficients(of: { Jet.exp(Jet.sin($0)) }, at: 0.3, along: 1.0, order: 4)
        // end snippet
        // (e^{sin x})''' = e^{sin x}·(cos³x − 3 sin x cos x − cos x)
        let s = Foundation.sin(0.3), co = Foundation.cos(0.3)
        let expected = Foundation.exp(s) * (co * co * co - 3 * s * co - co)
        #expect(abs(third - expected) <= 1e-13 * abs(expected))
        #expect(c.count == 5 && abs(c[3] * 6 - expected) <= 1e-13 * abs(expected))
        #expect(abs(c[0] - Foundation.exp(s)) <= 1e-15 * Foundation.exp(s))
    }

    @Test func tape() {
        // snippet: number-systems-tape
        // f(x) = x₀·x₁ + sin(x₀) at (1, 2): ∇f = (x₁ + cos x₀, x₀)
        let tape = Tape<Double>()
        let x0 = tape.variable(1.0), x1 = tape.variable(2.0)
        let f = x0 * x1 + Tracked.sin(x0)
        let cotangents = tape.cotangents(of: f, seed: 1.0)          // indexed by tape position
        let grad = [cotangents[x0.index]!, cotangents[x1.index]!]    // [2.5403…, 1.0]
        // end snippet
        #expect(abs(grad[0] - (2 + Foundation.cos(1.0))) <= 1e-15 * 3)
        #expect(grad[1] == 1)
    }

    @Test func pearlmutter() {
        // snippet: number-systems-pearlmutter
        // f(x) = x₀²·x₁ + x₁³ at (1, 2), v = (1, 1): H = [[2x₁, 2x₀], [2x₀, 6x₁]] = [[4, 2], [2, 12]], Hv = (6, 14)
        let hvpTape = Tape<Dual<Double>>()
        let p = [hvpTape.variable(Dual(primal: 1.0, tangent: 1.0)), hvpTape.variable(Dual(primal: 2.0, tangent: 1.0))]
        let g = p[0] * p[0] * p[1] + p[1] * p[1] * p[1]
        let adjoints = hvpTape.cotangents(of: g, seed: Dual(primal: 1.0))
        let hv = p.map { adjoints[$0.index]!.tangent! }                          // [6.0, 14.0]
        let viaConvenience = hessianVectorProduct(of: { x in x[0] * x[0] * x[1] + x[1] * x[1] * x[1] },
                                                  at: [1.0, 2.0], along: [1.0, 1.0])
        // end snippet
        #expect(hv == [6, 14])
        #expect(viaConvenience == [6, 14])
        // The primal parts are the gradient (2x₀x₁, x₀² + 3x₁²) = (4, 13).
        #expect(p.map { adjoints[$0.index]!.primal } == [4, 13])
    }
}

@Suite struct AddingARuleArticleSnippets {
    @Test func swish() throws {
        // snippet: adding-a-rule-swish
        struct Swish: ElementwiseFunction {
            func callAsFunction(_ x: Float) -> Float { x / (1 + Foundation.exp(-x)) }
            func callAsFunction(_ x: Double) -> Double { x / (1 + Foundation.exp(-x)) }
            func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V {
                let s = V.sigmoid(x)
                return s + x * s * (s.onesLike() - s)
            }
        }
        let slope = derivative(of: { Dual.applying(Swish(), to: $0) }, at: 0.7)                 // forward
        let grad = gradient(of: { x in Tracked.applying(Swish(), to: x[0]) }, at: [0.7])         // reverse
        let curvature = secondDerivative(of: { Dual<Dual<Double>>.applying(Swish(), to: $0) }, at: 0.7)
        let series = try taylorCoefficients(of: { Jet.applying(Swish(), to: $0) }, at: 0.7, along: 1.0, order: 3)
        // end snippet
        let x = 0.7, s = 1 / (1 + Foundation.exp(-x)), ds = s * (1 - s)
        let first = s + x * ds, second = ds * (2 + x * (1 - 2 * s))
        #expect(abs(slope - first) <= 1e-14)
        #expect(abs(grad[0] - first) <= 1e-14)
        #expect(abs(curvature - second) <= 1e-14)
        #expect(abs(series[0] - x * s) <= 1e-15 && abs(series[1] - first) <= 1e-14 && abs(2 * series[2] - second) <= 1e-13)
    }
}

/// The package root, so that the articles' paths (`Tests/Fixtures/…`) read as they do from a checkout.
private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct GettingStartedArticleSnippets {
    @Test func checkpointToSpectrum() throws {
        #expect(FileManager.default.changeCurrentDirectoryPath(packageRoot.path))
        // snippet: getting-started-spectrum
        let run = URL(fileURLWithPath: "Tests/Fixtures/train-complete")        // a run directory of `landscape train`
        let model = MLP(sizes: [784, 4, 10])                                     // the run's model (run.json)
        let checkpoint = run.appendingPathComponent("theta-epoch-003.safetensors")
        let θ = Tensor<Double>(converting: try loadParameters(from: checkpoint, layout: model.layout))
        let data = try MNISTDataset(directory: URL(fileURLWithPath: "Tests/Fixtures/data"), validationCount: 16)
        let loss = try model.loss(on: data.train.images(as: Double.self), labels: data.train.labels)

        let spectrum = try hessianSpectrum(of: loss, at: θ)      // all 3,190 eigenvalues, ascending (dense, LAPACK)
        let top = try lanczos(of: loss, at: θ, count: 3)         // the top 3 from Hessian-vector products only
        let density = try spectralDensity(of: loss, at: θ)       // the whole spectrum's density (SLQ)
        // end snippet
        #expect(spectrum.count == 3_190 && data.train.count == 80)
        #expect(zip(spectrum, spectrum.dropFirst()).allSatisfy { $0 <= $1 })
        // Lanczos (HVPs only) and LAPACK on the dense matrix are independent routes to the top eigenvalues.
        let largest = Array(spectrum.suffix(3).reversed())
        for (pair, exact) in zip(top.pairs, largest) {
            #expect(abs(pair.value - exact) <= 1e-6 * abs(largest[0]), "Lanczos \(pair.value) vs dense \(exact)")
        }
        #expect(largest[0] > 0)
        // SLQ's quadrature weights sum to one, and Ritz values lie inside the spectrum's range (interlacing).
        #expect(abs(density.weights.reduce(0, +) - 1) <= 1e-9)
        let slack = 1e-8 * max(abs(spectrum[0]), abs(largest[0]))
        #expect(density.nodes.allSatisfy { $0 >= spectrum[0] - slack && $0 <= largest[0] + slack })
    }
}

@Suite struct AddingAProbeArticleSnippets {
    @Test func gradientCurvatureProbe() throws {
        // snippet: adding-a-probe-type
        struct GradientCurvatureProbe: Probe {
            static var name: String { "gradient_curvature" }
            /// The smallest gradient norm for which the direction is defined.
            var minimumGradientNorm = 1e-12

            struct Result: ProbeResult {
                var curvature = Double.nan, gradientNorm = Double.nan
                static var fields: [ProbeField<Result>] {
                    [.init("gradient_curvature", \.curvature), .init("gradient_norm", \.gradientNorm)]
                }
            }

            func validate() throws { try checkPositive("minimumGradientNorm", minimumGradientNorm) }

            func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> Result {
                let (_, g) = try context.loss.valueWithGradient(at: context.point)
                var result = Result()
                result.gradientNorm = g.norm()
                guard result.gradientNorm >= minimumGradientNorm else { return result }
                let u = g.scaled(by: 1 / result.gradientNorm)
                result.curvature = u.dot(try context.curvature().apply(u))
                return result
            }
        }
        // end snippet
        let model = MLP(sizes: [784, 5, 10])
        let θ = model.initialParameters(Double.self, seed: 3)
        var rng = SplitMix64(seed: 4)
        let images = Tensor<Double>.randomUniform([12, 784], bound: 1, using: &rng)
        let loss = try model.loss(on: images, labels: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
        // snippet: adding-a-probe-run
        var context = ProbeContext(of: loss, at: θ)
        let measured = try GradientCurvatureProbe().measure(&context)        // .curvature, .gradientNorm
        let row = try AnyProbe(GradientCurvatureProbe()).measure(&context)   // the values in column order
        let columns = GradientCurvatureProbe.Result.columns                  // ["gradient_curvature", "gradient_norm"]
        // end snippet
        #expect(columns == ["gradient_curvature", "gradient_norm"])
        #expect(row == [measured.curvature, measured.gradientNorm])
        // Independently: ‖g‖ from reverse mode, gᵀHg from an order-2 jet along g (2·c₂ = uᵀHu).
        let g = try gradient(of: loss, at: θ)
        #expect(abs(measured.gradientNorm - g.norm()) <= 1e-12 * g.norm())
        let u = g.scaled(by: 1 / g.norm())
        let c = try taylorCoefficients(of: loss, at: θ, along: u, order: 2)
        #expect(abs(measured.curvature - 2 * c[2]) <= 1e-9 * max(1, abs(2 * c[2])), "probe \(measured.curvature), jet \(2 * c[2])")
        var invalid = GradientCurvatureProbe()
        invalid.minimumGradientNorm = -1
        #expect(throws: ProbeSettingError.self) { try invalid.validate() }
    }
}

@Suite struct CurvatureOperatorsArticleSnippets {
    /// Entry (i, j) of a dense d×d matrix.
    func entry(_ a: Tensor<Double>, _ i: Int, _ j: Int) -> Double { a.scalars[i * a.shape[1] + j] }

    @Test func operators() throws {
        // snippet: curvature-operators
        let model = MLP(sizes: [6, 4, 3])
        let θ = model.initialParameters(Double.self, seed: 0)
        var rng = SplitMix64(seed: 1)
        let x = Tensor<Double>.randomUniform([10, 6], bound: 1, using: &rng)      // [N, 6]
        let y = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
        let loss = try model.loss(on: x, labels: y)

        let hessian = try HessianOperator(of: loss, at: θ)
        let ggn = try GaussNewtonOperator(model: model, at: θ, input: x, labels: y)
        let fisher = try EmpiricalFisherOperator(model: model, at: θ, input: x, labels: y)
        let chunked = try CurvatureKind.ggn.matrix(of: model, at: θ, input: x, labels: y, chunkSize: 4)  // 3 chunks, same G

        let ggnSpectrum = try ggn.spectrum()                                       // dense, for small d: all ≥ 0
        let hidden = try RestrictedOperator(hessian, entries: ["fc1.weight", "fc1.bias"], of: model.layout)
        let perLayer = try blockCurvature(of: ggn, blocks: layerBlocks(of: model.layout), layout: model.layout)
        // end snippet
        let d = model.layout.parameterCount
        #expect(d == 6 * 4 + 4 + 4 * 3 + 3)
        // G and F are positive semi-definite.
        let scale = ggnSpectrum.map(abs).max()!
        #expect(ggnSpectrum.allSatisfy { $0 >= -1e-12 * scale })
        let fisherSpectrum = try fisher.spectrum()
        #expect(fisherSpectrum.allSatisfy { $0 >= -1e-12 * fisherSpectrum.map(abs).max()! })
        // The chunked G is the whole batch's G.
        let g = try ggn.dense(), gc = try chunked.dense()
        #expect(zip(g.scalars, gc.scalars).allSatisfy { abs($0 - $1) <= 1e-12 * scale })
        // F's trace is the mean squared norm of the per-sample gradients, each from its own one-sample loss.
        var meanSquaredNorm = 0.0
        for i in 0..<10 {
            let gi = try gradient(of: try model.loss(on: x.rows(i..<(i + 1)), labels: [y[i]]), at: θ)
            meanSquaredNorm += gi.dot(gi) / 10
        }
        let f = try fisher.dense()
        let fisherTrace = (0..<d).reduce(0.0) { $0 + entry(f, $1, $1) }
        #expect(abs(fisherTrace - meanSquaredNorm) <= 1e-10 * meanSquaredNorm)
        // The restricted operator is the dense Hessian's leading 28×28 block (fc1 comes first in the layout).
        let h = try hessian.dense(), hb = try hidden.dense()
        #expect(hidden.dimension == 6 * 4 + 4)
        let hScale = h.scalars.map(abs).max()!
        #expect((0..<28).allSatisfy { i in (0..<28).allSatisfy { j in abs(entry(hb, i, j) - entry(h, i, j)) <= 1e-12 * hScale } })
        // One block per layer; each block's λ_max is at most G's λ_max (Cauchy interlacing).
        #expect(perLayer.map(\.parameters) == [28, 15])
        #expect(perLayer.allSatisfy { $0.lambdaMax.value <= ggnSpectrum.last! * (1 + 1e-9) })
    }
}

@Suite struct DefiningAModelArticleSnippets {
    @Test func threeForms() throws {
        // snippet: defining-a-model-forms
        // One residual MLP, written three ways.
        let compact = try ModelSpec(parsing: "mlp:784-64x2-10+res")
        let json = try ModelSpec(parsing: """
            {"name": "mlp-784-64x2-10+res", "input": [784],
             "layers": [{"linear": {"out": 64}}, "relu",
                        {"residual": {"body": [{"linear": {"out": 64}}, "relu"]}},
                        {"linear": {"out": 10}}]}
            """)
        let literal = ModelSpec(name: "mlp-784-64x2-10+res", input: [784], layers: [
            .linear(out: 64), .relu,
            .residual(body: [.linear(out: 64), .relu], projection: false),
            .linear(out: 10)])
        let model = try literal.make()                  // ModelError naming the layer when a shape does not fit
        let names = model.layout.entries.map(\.name)    // fc1.weight, fc1.bias, fc2.weight, …, fc3.bias
        // end snippet
        #expect(compact == json && json == literal)
        #expect(literal.compactForm == "mlp:784-64x2-10+res" && literal.description == "mlp:784-64x2-10+res")
        #expect(names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"])
        // fc1 784→64, the residual block's 64→64, fc3 64→10.
        #expect(model.layout.parameterCount == (784 * 64 + 64) + (64 * 64 + 64) + (64 * 10 + 10))
        // A spec with a compact form encodes as it; decoding the encoding gives the spec back.
        let encoded = try JSONEncoder().encode(json)
        #expect(String(decoding: encoded, as: UTF8.self) == #""mlp:784-64x2-10+res""#)
        #expect(try JSONDecoder().decode(ModelSpec.self, from: encoded) == literal)
        // A projection-free residual block whose body changes the width gets a learned projection.
        let widening = try ModelSpec(parsing: "mlp:784-64-32-10+res").make()
        #expect(widening.layout.entries.map(\.name).contains("res1.proj.weight"))
        #expect(throws: ModelError.self) { try ModelSpec(parsing: "mlp:784-64-10+bn+ln") }
    }

    @Test func batchNormModes() throws {
        // snippet: defining-a-model-batchnorm
        var rng = SplitMix64(seed: 7)
        let x = Tensor<Double>.randomUniform([32, 784], bound: 1, using: &rng)   // a batch [N, 784]
        let labels = (0..<32).map { $0 % 10 }
        let bn = try ModelSpec(parsing: "mlp:784-16-16-10+bn").make()          // bn1, bn2 before the hidden ReLUs
        let θ = bn.initialParameters(Double.self, seed: 0)
        let eval = try bn.withPopulationStatistics(at: θ, input: x, chunk: 8)   // eval mode: statistics over all 32 rows
        let train = bn.training(seed: 1)                                         // train mode: the batch's statistics
        let evalLogits = eval.logits(try bn.layout.split(θ), input: x)           // [32, 10]
        let trainLogits = train.logits(try bn.layout.split(θ), input: x)         // the same: the batch is the population
        let coupled = train.couplesSamples                                       // true: its loss is one batch, not chunked
        // end snippet
        // Layer by layer, the population statistics over x are the batch statistics of x, so both
        // modes normalize alike on this batch; in chunks of 8 rows (Chan et al.'s update) as in one.
        #expect((evalLogits - trainLogits).norm() <= 1e-12 * trainLogits.norm())
        #expect(coupled && !eval.couplesSamples && Set(eval.statistics.keys) == ["bn1", "bn2"])
        let whole = try bn.withPopulationStatistics(at: θ, input: x, chunk: 0)
        for name in ["bn1", "bn2"] {
            #expect((whole.statistics[name]!.mean - eval.statistics[name]!.mean).norm() <= 1e-13)
            #expect((whole.statistics[name]!.variance - eval.statistics[name]!.variance).norm() <= 1e-13)
        }
        // Eval mode without statistics is refused, naming the layers.
        #expect(throws: ModelError.missingStatistics(model: bn.name, layers: ["bn1", "bn2"])) { try bn.loss(on: x, labels: labels) }
        // On other rows, eval mode uses x's statistics and train mode the rows' own: they differ.
        let y = Tensor<Double>.randomUniform([8, 784], bound: 1, using: &rng)
        #expect((eval.logits(try bn.layout.split(θ), input: y) - train.logits(try bn.layout.split(θ), input: y)).norm() > 1e-3)

        // snippet: defining-a-model-dropout
        let dropped = try ModelSpec(parsing: "mlp:784-16-10+drop0.5").make()
        let φ = dropped.initialParameters(Double.self, seed: 0)
        let probed = try value(of: dropped.loss(on: x, labels: labels), at: φ)                  // no dropout
        let stepped = try value(of: dropped.training(seed: 3).loss(on: x, labels: labels), at: φ)  // one SGD step's masks
        // end snippet
        // Without the dropout layer the layout is the same, so φ is its θ too.
        let plain = try ModelSpec(parsing: "mlp:784-16-10").make()
        #expect(probed == (try value(of: plain.loss(on: x, labels: labels), at: φ)))
        #expect(stepped != probed && abs(stepped - probed) > 1e-6)
        // A sample's mask depends on the seed, the sample and the layer: the loss in chunks is the same.
        var chunked = try dropped.training(seed: 3).loss(on: x, labels: labels)
        chunked.chunkRows = 5
        #expect(abs(try value(of: chunked, at: φ) - stepped) <= 1e-14 * abs(stepped))
    }

    @Test func perModuleCurvature() throws {
        var rng = SplitMix64(seed: 7)
        let x = Tensor<Double>.randomUniform([32, 784], bound: 1, using: &rng)
        let labels = (0..<32).map { $0 % 10 }
        // snippet: defining-a-model-modules
        let small = try ModelSpec(parsing: "mlp:784-4x3-10+res+ln").make()
        let modules = small.modules.map(\.name)                 // fc1, ln1, fc2, ln2, fc3, ln3, fc4
        let smallθ = small.initialParameters(Double.self, seed: 0)   // 3,254 parameters
        let loss = try small.loss(on: x, labels: labels)
        let perModule = try blockCurvature(of: HessianOperator(of: loss, at: smallθ), blocks: small.modules, layout: small.layout)
        // perModule[i].lambdaMax.value, .lambdaMin.value, .trace: module i's diagonal block of the Hessian
        // end snippet
        #expect(modules == ["fc1", "ln1", "fc2", "ln2", "fc3", "ln3", "fc4"])
        // fc1 784→4, ln1 (4 + 4), two residual blocks of fc 4→4 and ln, fc4 4→10.
        let d = (784 * 4 + 4) + 8 + 2 * ((4 * 4 + 4) + 8) + (4 * 10 + 10)
        #expect(smallθ.count == d && d == 3_254)
        // Against the dense Hessian (d HVPs with basis vectors) and LAPACK on each diagonal block.
        let h = try hessian(of: loss, at: smallθ)
        let scale = perModule.map { abs($0.lambdaMax.value) }.max()!
        for (module, block) in zip(small.modules, perModule) {
            let ranges = small.layout.entries.filter { module.entries.contains($0.name) }.map { $0.offset..<($0.offset + $0.shape.reduce(1, *)) }
            let indices = ranges.flatMap { Array($0) }
            let n = indices.count
            let sub = Tensor<Double>(shape: [n, n], scalars: indices.flatMap { i in indices.map { j in h.scalars[i * d + j] } })
            let exact = try LAPACK.symmetricEigen(sub).values
            #expect(block.parameters == n)
            // A Ritz value has an eigenvalue of the block within its residual norm, and lies
            // below the block's top (Ritz values interlace).
            let nearest = exact.map { abs($0 - block.lambdaMax.value) }.min()!
            #expect(nearest <= block.lambdaMax.residualNorm + 1e-9 * scale, "\(block.name): Ritz \(block.lambdaMax.value), nearest eigenvalue off by \(nearest)")
            #expect(block.lambdaMax.value <= exact.last! + 1e-9 * scale)
            // Lanczos with as many steps as the block has parameters (≤ 30) finds its top exactly.
            if n <= 30 { #expect(abs(block.lambdaMax.value - exact.last!) <= 1e-8 * scale, "\(block.name)") }
        }
    }

    @Test func sizing() throws {
        // snippet: defining-a-model-sizing
        let base = try ModelSpec(parsing: "mlp:784-128x4-10+res")   // 151,306 parameters
        let sized = try base.sized(toParameters: 50_000)             // its hidden widths scaled by one factor
        let form = sized.compactForm                                  // mlp:784-52x4-10+res
        let count = try sized.parameterCount                          // 49,618: within 10 % of 50,000
        // end snippet
        // Hidden width w: fc1 784→w, three residual blocks w→w, fc5 w→10: 3w² + 798w + 10.
        func closedForm(_ w: Int) -> Int { (784 * w + w) + 3 * (w * w + w) + (w * 10 + 10) }
        #expect(try base.parameterCount == closedForm(128))
        let w = Int(form!.dropFirst("mlp:784-".count).prefix { $0.isNumber })!
        #expect(form == "mlp:784-\(w)x4-10+res" && count == closedForm(w))
        #expect(abs(count - 50_000) <= 5_000)
        // No width does better: w ± 1 are no closer to the target.
        #expect(abs(closedForm(w - 1) - 50_000) >= abs(count - 50_000) && abs(closedForm(w + 1) - 50_000) >= abs(count - 50_000))
    }
}

import Autodiff
import Checkpoints
import Datasets
import Foundation
import Layers
import Probes
import Tensors
import Testing

/// The Swift blocks of README.md, each between `// snippet: NAME` and `// end snippet`
/// (SnippetsMatchTests checks that the README shows them verbatim), run and checked against
/// closed forms and independent routes.
@Suite struct ReadmeSnippets {
    /// The package root, from this file's path (Tests/SnippetTests/…).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The five-minute tour: a checkpoint of a run (the fixture's MLP 784→4→10, 3,190
    /// parameters, written by `Trainer`), the loss on the first 512 samples of the real MNIST
    /// training split, λ_max, the top five eigenvalues and the SLQ density, checked against the
    /// dense spectrum (LAPACK) of the same Hessian.
    @Test func tourCheckpointSpectrum() throws {
        let checkpoint = Self.root.appendingPathComponent("Tests/Fixtures/train-complete/theta-epoch-003.safetensors")
        let model = MLP(sizes: [784, 4, 10])
        let data = Self.root.appendingPathComponent("../shared/data/mnist").standardizedFileURL
        guard MNISTFile.allCases.allSatisfy({ (try? $0.locate(in: data)) != nil }) else {
            Issue.record("MNIST not found at \(data.path); this test needs the real data")
            return
        }

        // snippet: tour-checkpoint-spectrum
        let θ = Tensor<Double>(converting: try loadParameters(from: checkpoint, layout: model.layout))   // [d]
        let mnist = try MNISTDataset(directory: data)     // the splits of `landscape train`: 55,000 / 5,000 / 10,000
        let images = mnist.train.images(rows: 0..<512, as: Double.self)   // [512, 784], pixels / 255
        let loss = try model.loss(on: images, labels: Array(mnist.train.labels[0..<512]))   // mean cross-entropy of θ
        let λmax = try largestEigenvalue(of: HessianOperator(of: loss, at: θ))   // .value, .vector, .residualNorm
        let top = try lanczos(of: loss, at: θ, count: 5)                         // top.pairs[i].value, .residualNorm
        let density = try spectralDensity(of: loss, at: θ, probes: 4, steps: 60) // .grid, .density, .nodes, .weights
        // end snippet

        #expect(θ.count == 3_190)
        // The dense spectrum: d Hessian-vector products, then LAPACK's dsyevd.
        let spectrum = try hessianSpectrum(of: loss, at: θ)
        let (lowest, highest) = (spectrum.first!, spectrum.last!)
        #expect(highest > 0)
        #expect(λmax.converged && abs(λmax.value - highest) <= 1e-3 * highest, "λ_max \(λmax.value), dense \(highest)")
        // v is an eigenvector of the Hessian: its residual, by an HVP computed here.
        let hv = try hessianVectorProduct(of: loss, at: θ, along: λmax.vector)
        #expect((hv - λmax.vector.scaled(by: λmax.value)).norm() <= 1e-3 * highest)
        for (pair, exact) in zip(top.pairs, spectrum.reversed()) {
            #expect(abs(pair.value - exact) <= 1e-6 * highest + 2 * pair.residualNorm, "Ritz \(pair.value), dense \(exact)")
        }
        // Gauss quadrature: weights of unit start vectors sum to 1; Ritz values lie in [λ_min, λ_max].
        #expect(abs(density.weights.reduce(0, +) - 1) <= 1e-9)
        #expect(density.nodes.allSatisfy { $0 >= lowest - 1e-8 * highest && $0 <= highest + 1e-8 * highest })
    }

    /// One function, four differentiation modes, against the closed forms.
    @Test func oneFunctionFourModes() {
        // snippet: four-modes
        // f(x) = exp(x₀·x₁) + sin(x₂)·x₀, written once for every number system.
        func f<A: ScalarAlgebra>(_ x: [A]) -> A { A.exp(x[0] * x[1]) + A.sin(x[2]) * x[0] }

        let x = [0.3, -0.4, 1.1], v = [0.2, -1.0, 0.7]
        let g  = gradient(of: f, at: x)                          // reverse mode (Tracked<Double>)
        let hv = hessianVectorProduct(of: f, at: x, along: v)    // forward-over-reverse (Tracked<Dual<Double>>)
        let vHv = bilinearHessian(of: f, at: x, v, v)            // forward-over-forward (Dual<Dual<Double>>)
        let d2 = secondDerivative(of: { Dual.sin($0) * Dual.exp($0) }, at: 0.5)   // exact f''
        // end snippet

        let e = Foundation.exp(x[0] * x[1])
        let gradient = [x[1] * e + Foundation.sin(x[2]), x[0] * e, x[0] * Foundation.cos(x[2])]
        let h = [[x[1] * x[1] * e, e + x[0] * x[1] * e, Foundation.cos(x[2])],
                 [e + x[0] * x[1] * e, x[0] * x[0] * e, 0],
                 [Foundation.cos(x[2]), 0, -x[0] * Foundation.sin(x[2])]]
        let hvExact = h.map { row in zip(row, v).reduce(0) { $0 + $1.0 * $1.1 } }
        for i in 0..<3 {
            #expect(abs(g[i] - gradient[i]) <= 1e-14, "g[\(i)]")
            #expect(abs(hv[i] - hvExact[i]) <= 1e-14, "Hv[\(i)]")
        }
        #expect(abs(vHv - zip(v, hvExact).reduce(0) { $0 + $1.0 * $1.1 }) <= 1e-14)
        // (sin t · eᵗ)'' = 2 cos t · eᵗ
        #expect(abs(d2 - 2 * Foundation.cos(0.5) * Foundation.exp(0.5)) <= 1e-14)
    }
}

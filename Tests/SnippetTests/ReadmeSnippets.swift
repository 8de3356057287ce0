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

    /// Your own architecture from Swift: a residual MLP from its compact form, a checkpoint of
    /// its layout (written here from a seeded θ), the loss on the fixture's 80 MNIST training
    /// images, λ_max, an HVP and the per-module curvature. Checked: the parameter count against
    /// its closed form, the HVP against central differences of gradients, λ_max's eigen-residual
    /// and Cauchy interlacing (no diagonal block's top Ritz value above λ_max).
    @Test func residualModelFromSwift() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("readme-residual-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("theta-epoch-001.safetensors")
        let trained = try ModelSpec(parsing: "mlp:784-128x4-10+res").make()
        let written = trained.initialParameters(Float.self, seed: 3)
        try saveParameters(written, layout: trained.layout, to: checkpoint)
        let fixture = try MNISTDataset(directory: Self.root.appendingPathComponent("Tests/Fixtures/data"), validationCount: 16)
        let images = fixture.train.images(as: Double.self), labels = fixture.train.labels   // [80, 784], 80 labels

        // snippet: readme-residual-swift
        let spec = try ModelSpec(parsing: "mlp:784-128x4-10+res")   // a preset name, a compact form or JSON text
        let model = try spec.make()                                  // SpecModel: layout, initialization, logits
        let θ = Tensor<Double>(converting: try loadParameters(from: checkpoint, layout: model.layout))   // [151,306]
        let loss = try model.loss(on: images, labels: labels)        // mean cross-entropy, an Objective over θ
        let λmax = try largestEigenvalue(of: HessianOperator(of: loss, at: θ))
        let hv = try hessianVectorProduct(of: loss, at: θ, along: λmax.vector)   // H·v, forward-over-reverse
        let perModule = try blockCurvature(of: HessianOperator(of: loss, at: θ), blocks: model.modules, layout: model.layout)
        // end snippet

        // fc1 784→128, then three residual blocks x + ReLU(W x + b) of 128→128, then fc5 128→10.
        let d = (784 * 128 + 128) + 3 * (128 * 128 + 128) + (128 * 10 + 10)
        #expect(θ.count == d && d == 151_306)
        #expect(θ == Tensor<Double>(converting: written))
        let layers = ["fc1", "fc2", "fc3", "fc4", "fc5"]
        #expect(model.modules.map(\.name) == layers)
        #expect(model.layout.entries.map(\.name) == layers.flatMap { ["\($0).weight", "\($0).bias"] })
        // H·v against central differences of reverse-mode gradients (error O(ε²) + round-off / ε).
        let ε = 1e-5
        let plus = try gradient(of: loss, at: θ + λmax.vector.scaled(by: ε))
        let minus = try gradient(of: loss, at: θ - λmax.vector.scaled(by: ε))
        let difference = (plus - minus).scaled(by: 1 / (2 * ε))
        #expect((hv - difference).norm() <= 1e-5 * hv.norm(), "HVP \(hv.norm()), finite differences off by \((hv - difference).norm())")
        // v is a unit eigenvector: ‖Hv − λv‖ small; every block's top Ritz value is at most λ_max.
        #expect(λmax.value > 0 && abs(λmax.vector.norm() - 1) <= 1e-12)
        let residual = (hv - λmax.vector.scaled(by: λmax.value)).norm()
        #expect(residual <= 1e-2 * λmax.value && abs(residual - λmax.residualNorm) <= 1e-6 * λmax.value,
                "λ_max \(λmax.value): residual \(residual), reported \(λmax.residualNorm)")
        #expect(perModule.map(\.name) == layers && perModule.map(\.parameters) == [100_480, 16_512, 16_512, 16_512, 1_290])
        for block in perModule {
            #expect(block.lambdaMax.value <= λmax.value * (1 + 1e-2), "\(block.name): \(block.lambdaMax.value) > λ_max \(λmax.value)")
        }
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

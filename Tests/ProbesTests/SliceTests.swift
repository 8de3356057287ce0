import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

@Suite struct SliceTests {
    static let spectrum: [Double] = [5, 2, -1, 0.5, 3]

    @Test func twoDimensionalSliceAlongEigenvectorsIsTheQuadraticForm() throws {
        let f = Quadratic(spectrum: Self.spectrum, seed: 8)
        let θ = Tensor<Double>.zeros([5])
        let u = Tensor(f.eigenvectors[0]), v = Tensor(f.eigenvectors[2])      // λ = 5 and λ = −1
        let alphas = try grid(from: -1, to: 1, count: 9), betas = try grid(from: -2, to: 2, count: 7)
        let s = try slice2D(of: f, at: θ, u: u, v: v, alphas: alphas, betas: betas)
        #expect(abs(s.cosine) < 1e-12)
        for (i, a) in alphas.enumerated() { for (j, b) in betas.enumerated() {
            #expect(abs(s.losses[i][j] - 0.5 * (5 * a * a - b * b)) < 1e-12, "(\(a), \(b))")
        } }
        let one = try slice1D(of: f, at: θ, along: u, alphas: alphas)
        for (a, l) in zip(one.alphas, one.losses) { #expect(abs(l - 2.5 * a * a) < 1e-12) }
    }

    @Test func orthogonalizationAndInterpolation() throws {
        let f = Quadratic(spectrum: Self.spectrum, seed: 8)
        let θ = Tensor<Double>([1, 0, -1, 0.5, 2])
        var rng = SplitMix64(seed: 4)
        let u = Tensor<Double>.randomNormal([5], using: &rng), v = Tensor<Double>.randomNormal([5], using: &rng)
        let s = try slice2D(of: f, at: θ, u: u, v: v, alphas: [0, 1], betas: [0, 1], orthogonalize: true)
        #expect(abs(s.cosine) < 1e-12)
        #expect(throws: AutodiffError.self) { try slice2D(of: f, at: θ, u: u, v: u.scaled(by: 2), alphas: [0], betas: [0], orthogonalize: true) }
        let θ2 = Tensor<Double>([0, 1, 1, 0, -1])
        let d = try interpolationDirection(from: θ, to: θ2)
        let line = try slice1D(of: f, at: θ, along: d, alphas: [0, 1])
        #expect(abs(line.losses[0] - (try value(of: f, at: θ))) < 1e-14)
        #expect(abs(line.losses[1] - (try value(of: f, at: θ2))) < 1e-13)
    }

    @Test func trajectoryPCAFindsTheDominantLine() throws {
        var rng = SplitMix64(seed: 6)
        let direction = Tensor<Double>.randomNormal([50], using: &rng).normalized()
        let snapshots = (0..<12).map { t -> Tensor<Double> in
            var s = Tensor<Double>.randomNormal([50], using: &rng).scaled(by: 0.01)
            s.addScaled(direction, Double(t))
            return s
        }
        let (dirs, ratios) = try trajectoryPCA(snapshots, count: 2)
        #expect(abs(abs(dirs[0].dot(direction)) - 1) < 1e-3)
        #expect(ratios[0] > 0.99 && ratios[1] < 0.01)
        #expect(abs(dirs[0].dot(dirs[1])) < 1e-10)
        #expect(throws: AutodiffError.self) { try trajectoryPCA([snapshots[0]], count: 1) }
    }

    @Test func taylorSliceIsExactForAQuadraticAndPartsForAnMLP() throws {
        let f = Quadratic(spectrum: Self.spectrum, seed: 8)
        let θ = Tensor<Double>([1, 0, -1, 0.5, 2])
        var rng = SplitMix64(seed: 1)
        let u = Tensor<Double>.randomNormal([5], using: &rng)
        let exact = try taylorSlice(of: f, at: θ, along: u, alphas: try grid(from: -3, to: 3, count: 13), order: 2)
        #expect(exact.partingRadius == nil)
        for (p, l) in zip(exact.polynomial, exact.slice.losses) { #expect(abs(p - l) < 1e-12 * max(1, abs(l))) }

        let model = MLP(sizes: [4, 6, 3])
        let x = Tensor<Double>.randomNormal([8, 4], using: &rng)
        let g = try model.loss(on: x, labels: (0..<8).map { $0 % 3 })
        let φ = model.initialParameters(Double.self, seed: 2)
        let dir = Tensor<Double>.randomNormal([φ.count], using: &rng).normalized()
        let ts = try taylorSlice(of: g, at: φ, along: dir, alphas: try grid(from: -20, to: 20, count: 81), order: 3, tolerance: 0.05)
        let r = try #require(ts.partingRadius, "a cubic cannot follow a ReLU network's loss out to |α| = 20")
        #expect(r > 0)
        let center = ts.slice.alphas.firstIndex(of: 0)!
        #expect(abs(ts.polynomial[center] - ts.slice.losses[center]) < 1e-12)
    }

    /// The MLP's grid path (first layer shared as A + αB + βC) equals one forward pass per point.
    @Test func mlpPlaneEvaluationMatchesPointByPointEvaluation() throws {
        let model = MLP(sizes: [7, 6, 5, 3])
        var rng = SplitMix64(seed: 12)
        let x = Tensor<Double>.randomNormal([9, 7], using: &rng)
        let f = try model.loss(on: x, labels: (0..<9).map { $0 % 3 })
        let θ = model.initialParameters(Double.self, seed: 3)
        let u = Tensor<Double>.randomNormal([θ.count], using: &rng), v = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let alphas = [-1.0, -0.2, 0, 0.7, 1.3], betas = [-0.5, 0, 0.25, 2]
        let s = try slice2D(of: f, at: θ, u: u, v: v, alphas: alphas, betas: betas)
        for (i, a) in alphas.enumerated() { for (j, b) in betas.enumerated() {
            var p = θ
            p.addScaled(u, a)
            p.addScaled(v, b)
            let expected = try value(of: f, at: p)
            #expect(abs(s.losses[i][j] - expected) <= 1e-12 * max(1, abs(expected)), "(\(a), \(b))")
        } }
    }

    @Test func badGridsGiveClearErrors() throws {
        let f = Quadratic(spectrum: [1, 2], seed: 1)
        let θ = Tensor<Double>.zeros([2])
        #expect(throws: AutodiffError.self) { try grid(from: 0, to: 1, count: 0) }
        #expect(throws: AutodiffError.self) { try grid(from: 1, to: 0, count: 3) }
        #expect(throws: AutodiffError.self) { try slice1D(of: f, at: θ, along: θ, alphas: []) }
        #expect(throws: AutodiffError.self) { try slice2D(of: f, at: θ, u: θ, v: θ, alphas: [0], betas: []) }
        #expect(throws: AutodiffError.self) { try slice1D(of: f, at: θ, along: Tensor<Double>.zeros([3]), alphas: [0]) }
    }
}

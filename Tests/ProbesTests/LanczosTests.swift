import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

@Suite struct LanczosTests {
    // Negative and repeated eigenvalues included.
    static let spectrum: [Double] = [6, 4, 4, 2.5, 1, 0.5, 0.1, -0.3, -3, -3, 0.05, 1.7]

    @Test(arguments: [UInt64(1), 2]) func extremeEigenvaluesOfAKnownQuadratic(seed: UInt64) throws {
        let f = Quadratic(spectrum: Self.spectrum, seed: seed)
        let θ = Tensor<Double>.zeros([Self.spectrum.count])
        let top = try lanczos(of: f, at: θ, count: 3, target: .largestAlgebraic, steps: 12, seed: seed &+ 100)
        // Single-vector Lanczos sees each distinct eigenvalue once: the Krylov space holds one
        // direction of a repeated eigenvalue's eigenspace, and the iteration stops at the
        // invariant subspace (10 distinct values here) with exact Ritz values.
        #expect(top.steps == 10, "seed \(seed)")
        #expect(zip(top.pairs.map(\.value), [6.0, 4, 2.5]).allSatisfy { abs($0 - $1) < 1e-9 }, "seed \(seed): \(top.pairs.map(\.value))")
        let bottom = try lanczos(of: f, at: θ, count: 2, target: .smallestAlgebraic, steps: 12, seed: seed &+ 100)
        #expect(zip(bottom.pairs.map(\.value), [-3.0, -0.3]).allSatisfy { abs($0 - $1) < 1e-9 }, "seed \(seed): \(bottom.pairs.map(\.value))")
        let magnitude = try lanczos(of: f, at: θ, count: 1, target: .largestMagnitude, steps: 12, seed: seed &+ 100)
        #expect(abs(magnitude.pairs[0].value - 6) < 1e-9)
        // The top Ritz vector is ± the known eigenvector, and its residual is tiny and flagged converged.
        let overlap = abs(zip(top.pairs[0].vector.scalars, f.eigenvectors[0]).map(*).reduce(0, +))
        #expect(abs(overlap - 1) < 1e-8)
        #expect(top.pairs[0].converged && top.pairs[0].residualNorm < 1e-8)
    }

    @Test func denseSpectrumThroughLAPACKIsTheKnownSpectrum() throws {
        let f = Quadratic(spectrum: Self.spectrum, seed: 3)
        let values = try hessianSpectrum(of: f, at: Tensor<Double>.zeros([Self.spectrum.count]))
        for (a, b) in zip(values, Self.spectrum.sorted()) { #expect(abs(a - b) < 1e-12, "\(values)") }
        #expect(throws: AutodiffError.tooLarge(parameters: 12, limit: 5)) { try hessianSpectrum(of: f, at: Tensor<Double>.zeros([12]), limit: 5) }
    }

    @Test func lanczosTopFiveOfASmallMLPAgreesWithLAPACK() throws {
        let model = MLP(sizes: [6, 8, 4])
        var rng = SplitMix64(seed: 17)
        let x = Tensor<Double>.randomNormal([10, 6], using: &rng)
        let f = try model.loss(on: x, labels: (0..<10).map { _ in rng.next(below: 4) })
        let θ = model.initialParameters(Double.self, seed: 4).scaled(by: 2)
        let exact = try hessianSpectrum(of: f, at: θ).sorted(by: >)
        let result = try lanczos(of: f, at: θ, count: 5, target: .largestAlgebraic, steps: 60, seed: 2)
        for (i, pair) in result.pairs.enumerated() {
            #expect(abs(pair.value - exact[i]) <= 1e-8 * abs(exact[i]), "λ\(i + 1): Lanczos \(pair.value) vs LAPACK \(exact[i])")
        }
    }

    @Test(arguments: 0..<6) func hutchinsonIsWithinFourStandardErrors(trial: Int) throws {
        let f = Quadratic(spectrum: Self.spectrum, seed: 5)
        let (trace, se) = try hutchinsonTrace(of: f, at: Tensor<Double>.zeros([12]), probes: 200, seed: UInt64(trial))
        let exact = Self.spectrum.reduce(0, +)
        #expect(se > 0)
        #expect(abs(trace - exact) <= 4 * se, "seed \(trial): \(trace) ± \(se) vs \(exact)")
    }

    @Test func badArgumentsGiveClearErrors() throws {
        let f = Quadratic(spectrum: [1, 2, 3], seed: 1)
        let θ = Tensor<Double>.zeros([3])
        #expect(throws: AutodiffError.self) { try lanczos(of: f, at: θ, count: 4) }
        #expect(throws: AutodiffError.self) { try lanczos(of: f, at: θ, count: 0) }
        #expect(throws: AutodiffError.self) { try lanczos(of: f, at: θ, count: 2, steps: 1) }
        #expect(throws: AutodiffError.self) { try hutchinsonTrace(of: f, at: θ, probes: 1) }
        #expect(throws: LAPACK.Failure.self) { try LAPACK.symmetricEigen(Tensor<Double>.zeros([2, 3])) }
    }
}

import Foundation
import Testing
import Autodiff
import Probes
import Tensors

/// f(θ) = ½ θᵀ A θ with A = Q diag(λ) Qᵀ for a seeded random orthogonal Q, so H = A exactly.
struct Quadratic: Objective {
    typealias Scalar = Double
    let a: Tensor<Double>
    let eigenvectors: [[Double]]
    var layout: ParameterLayout { ParameterLayout(vectorOf: a.shape[0], name: "theta") }

    init(spectrum: [Double], seed: UInt64) {
        let d = spectrum.count
        var rng = SplitMix64(seed: seed)
        // Gram–Schmidt on Gaussian vectors gives an orthonormal basis.
        var q: [[Double]] = []
        while q.count < d {
            var v = (0..<d).map { _ in rng.nextStandardNormal() }
            for u in q { let p = zip(u, v).map(*).reduce(0, +); v = zip(v, u).map { $0 - p * $1 } }
            let n = v.map { $0 * $0 }.reduce(0, +).squareRoot()
            q.append(v.map { $0 / n })
        }
        var m = [Double](repeating: 0, count: d * d)
        for i in 0..<d { for j in 0..<d { for k in 0..<d { m[i * d + j] += q[k][i] * spectrum[k] * q[k][j] } } }
        a = Tensor(shape: [d, d], scalars: m)
        eigenvectors = q
    }

    func callAsFunction<A: TensorAlgebra>(_ p: [A]) -> A where A.Scalar == Double {
        let d = a.shape[0]
        let row = p[0].reshaped([1, d])
        return (row * A.matmul(row, A(constant: a))).sum().scaled(by: 0.5)
    }
}

@Suite struct PowerIterationTests {
    @Test(arguments: [UInt64(1), 2, 3]) func findsLargestEigenvalueOfKnownSpectrum(seed: UInt64) throws {
        let f = Quadratic(spectrum: [5, 3, 1, -2, 0.5, 0.1, 2.5, -1], seed: seed)
        let θ = Tensor<Double>((0..<8).map { Double($0) / 10 })
        let r = try powerIteration(of: f, at: θ, maxIterations: 500, tolerance: 1e-12, seed: seed)
        #expect(abs(r.eigenvalue - 5) < 1e-9, "seed \(seed): λ = \(r.eigenvalue)")
        #expect(r.converged)
        #expect(r.residualNorm < 1e-4, "seed \(seed): residual \(r.residualNorm)")
        // The eigenvector is ± the known top eigenvector.
        let overlap = abs(zip(r.eigenvector.scalars, f.eigenvectors[0]).map(*).reduce(0, +))
        #expect(abs(overlap - 1) < 1e-6, "seed \(seed)")
        // The residual it reports is ‖Hv − λv‖ for the returned pair.
        let hv = try hessianVectorProduct(of: f, at: θ, along: r.eigenvector)
        var res = hv; res.addScaled(r.eigenvector, -r.eigenvalue)
        #expect(abs(res.norm() - r.residualNorm) < 1e-3 * max(r.residualNorm, 1e-12) + 1e-12)
    }

    @Test func negativeDominantEigenvalueIsReturnedWithItsSign() throws {
        let f = Quadratic(spectrum: [-7, 3, 1, 0.5], seed: 4)
        let r = try powerIteration(of: f, at: Tensor<Double>.zeros([4]), maxIterations: 500, tolerance: 1e-12, seed: 9)
        #expect(abs(r.eigenvalue + 7) < 1e-9)
    }

    @Test func warmStartFromTheEigenvectorConvergesAtOnce() throws {
        let f = Quadratic(spectrum: [4, 1, 0.5], seed: 5)
        let r = try powerIteration(of: f, at: Tensor<Double>.zeros([3]), initialVector: Tensor(f.eigenvectors[0]))
        #expect(r.iterations == 1 && r.converged)   // the residual of an exact eigenvector is 0 at once
        #expect(abs(r.eigenvalue - 4) < 1e-12)
    }

    @Test func stopsAtMaxIterationsAndSaysSo() throws {
        // λ₂/λ₁ = 0.999: far from converged after 3 iterations at tolerance 1e-12.
        let f = Quadratic(spectrum: [1, 0.999, 0.5], seed: 6)
        let r = try powerIteration(of: f, at: Tensor<Double>.zeros([3]), maxIterations: 3, tolerance: 1e-12, seed: 1)
        #expect(r.iterations == 3)
        #expect(!r.converged)
        #expect(r.history.count == 3)
    }

    @Test func badArgumentsGiveClearErrors() throws {
        let f = Quadratic(spectrum: [1, 2], seed: 7)
        let θ = Tensor<Double>.zeros([2])
        #expect(throws: AutodiffError.self) { try powerIteration(of: f, at: θ, maxIterations: 0) }
        #expect(throws: AutodiffError.self) { try powerIteration(of: f, at: θ, tolerance: 0) }
        #expect(throws: AutodiffError.lengthMismatch(what: "the parameter vector", expected: 2, actual: 3)) {
            try powerIteration(of: f, at: Tensor<Double>.zeros([3]))
        }
        #expect(throws: AutodiffError.self) { try powerIteration(of: f, at: θ, initialVector: Tensor<Double>.zeros([2])) }
    }
}

import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

// Review probes of `lanczos(..., stopWhenConverged:)` (it lives here because LayersTests does
// not depend on Probes). Expected values are the known spectra of the operators.

/// ‖A y − θ y‖ computed directly.
func trueResidual(_ a: SymmetricMatrix<Double>, _ pair: RitzPair<Double>) throws -> Double {
    let ay = try a.apply(pair.vector)
    return zip(ay.scalars, pair.vector.scalars).map { ($0 - pair.value * $1) * ($0 - pair.value * $1) }.reduce(0, +).squareRoot()
}

@Suite struct LanczosAttackTests {
    @Test(arguments: [false, true]) func dimensionOne(stop: Bool) throws {
        let a = try SymmetricMatrix<Double>(diagonal: [-2.5])
        for target in SpectrumEnd.allCases {
            let r = try lanczos(of: a, count: 1, target: target, stopWhenConverged: stop)
            #expect(r.steps == 1)
            #expect(r.pairs.count == 1 && abs(r.pairs[0].value + 2.5) < 1e-14 && r.pairs[0].converged)
            #expect(abs(abs(r.pairs[0].vector.scalars[0]) - 1) < 1e-14)
        }
    }

    @Test(arguments: [false, true]) func dimensionTwo(stop: Bool) throws {
        // A rotated diag(3, −1).
        let (c, s) = (cos(0.3), sin(0.3))
        let m = Tensor<Double>(shape: [2, 2], scalars: [3 * c * c + -1 * s * s, (3 + 1) * c * s, (3 + 1) * c * s, 3 * s * s + -1 * c * c])
        let a = try SymmetricMatrix(m)
        for k in 1...2 {
            let top = try lanczos(of: a, count: k, target: .largestAlgebraic, stopWhenConverged: stop)
            #expect(top.pairs.count == k)
            #expect(zip(top.pairs.map(\.value), [3.0, -1]).allSatisfy { abs($0 - $1) < 1e-12 }, "k \(k): \(top.pairs.map(\.value))")
            #expect(top.pairs.allSatisfy { $0.converged })
            for p in top.pairs { #expect(try trueResidual(a, p) < 1e-12) }
            let bottom = try lanczos(of: a, count: k, target: .smallestAlgebraic, stopWhenConverged: stop)
            #expect(zip(bottom.pairs.map(\.value), [-1.0, 3]).allSatisfy { abs($0 - $1) < 1e-12 }, "k \(k): \(bottom.pairs.map(\.value))")
            let mag = try lanczos(of: a, count: k, target: .largestMagnitude, stopWhenConverged: stop)
            #expect(zip(mag.pairs.map(\.value), [3.0, -1]).allSatisfy { abs($0 - $1) < 1e-12 }, "k \(k): \(mag.pairs.map(\.value))")
        }
    }

    /// The zero operator: one step (β₁ = 0), Ritz value 0, converged, with or without stopping.
    @Test(arguments: [false, true]) func zeroOperator(stop: Bool) throws {
        let a = try SymmetricMatrix<Double>(diagonal: [Double](repeating: 0, count: 6))
        let r = try lanczos(of: a, count: 1, stopWhenConverged: stop)
        #expect(r.steps == 1)
        #expect(r.pairs.count == 1 && r.pairs[0].value == 0 && r.pairs[0].converged)
    }

    /// Behaviour probe: k = 2 of the zero operator (d = 6). The Krylov space is one-dimensional,
    /// so only one pair can come back; the result silently holds fewer pairs than asked.
    @Test(arguments: [false, true]) func zeroOperatorTwoPairs(stop: Bool) throws {
        let a = try SymmetricMatrix<Double>(diagonal: [Double](repeating: 0, count: 6))
        let r = try lanczos(of: a, count: 2, stopWhenConverged: stop)
        #expect(r.steps == 1)
        #expect(r.pairs.count == 1, "got \(r.pairs.count) pairs")
    }

    /// An exact invariant subspace: a start vector in span(e₁, e₂, e₃) of diag(5, 4, 3, 2, 1, …)
    /// stops after 3 steps with the exact eigenvalues 5, 4, 3 (both modes).
    @Test(arguments: [false, true]) func exactInvariantSubspace(stop: Bool) throws {
        let a = try SymmetricMatrix<Double>(diagonal: [5, 4, 3, 2, 1, 0.5, -1, -2])
        let q = Tensor<Double>([1, 1, 1, 0, 0, 0, 0, 0])
        let r = try lanczos(of: a, count: 2, initialVector: q, stopWhenConverged: stop)
        #expect(r.steps <= 3)
        #expect(zip(r.pairs.map(\.value), [5.0, 4]).allSatisfy { abs($0 - $1) < 1e-12 }, "\(r.pairs.map(\.value)), steps \(r.steps)")
        #expect(r.pairs.allSatisfy { $0.converged })
    }

    /// A well-separated spectrum: stopping early uses fewer steps, returns the same top pairs as
    /// the full run, all converged, with reported residuals equal to the true ones.
    @Test(arguments: [1, 3, 5]) func earlyStopMatchesTheFullRun(k: Int) throws {
        let spectrum: [Double] = [100, 80, 60, 40, 20] + (0..<195).map { Double($0) / 195 }
        let a = try SymmetricMatrix<Double>(diagonal: spectrum)
        let full = try lanczos(of: a, count: k, steps: 80, tolerance: 1e-8, seed: 4)
        let early = try lanczos(of: a, count: k, steps: 80, tolerance: 1e-8, seed: 4, stopWhenConverged: true)
        #expect(early.steps < full.steps, "steps \(early.steps) vs \(full.steps)")
        #expect(early.pairs.count == k && early.pairs.allSatisfy { $0.converged })
        for (i, p) in early.pairs.enumerated() {
            #expect(abs(p.value - spectrum[i]) <= 1e-6 * spectrum[i], "k \(k), pair \(i): \(p.value)")
            let r = try trueResidual(a, p)
            #expect(r <= 1e-8 * abs(p.value) * 10, "k \(k), pair \(i): true residual \(r), reported \(p.residualNorm)")
            #expect(abs(r - p.residualNorm) <= 1e-9 * abs(p.value) + 1e-12, "k \(k): true \(r) vs reported \(p.residualNorm)")
        }
        #expect(abs(early.quadratureWeights.reduce(0, +) - 1) < 1e-12)
    }

    /// Smallest end with a zero eigenvalue: converges (floor 1e-12·spread) and stops.
    @Test func smallestEndWithZeroEigenvalue() throws {
        let spectrum: [Double] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
        let a = try SymmetricMatrix<Double>(diagonal: spectrum)
        let r = try lanczos(of: a, count: 1, target: .smallestAlgebraic, stopWhenConverged: true)
        #expect(abs(r.pairs[0].value) < 1e-9, "\(r.pairs[0].value)")
    }

    /// The linearized Hessian (Tracked<Linearized<Tensor>>, fused conv tangents on replay)
    /// equals the Tracked<Dual> HVP on a CNN whose first convolution runs in two tiles
    /// (48×48 images, 27 = 14 + 13), for several directions in a row (each a replay).
    @Test func hessianOperatorOnATiledCNNEqualsForwardOverReverse() throws {
        let model = try CNN(inputChannels: 1, height: 48, width: 48, channels: [2], kernelSize: 5, padding: 2, hiddenSize: 3, classCount: 3)
        var rng = SplitMix64(seed: 808)
        let x = Tensor<Double>.randomNormal([27, 48 * 48], using: &rng)
        let labels = (0..<27).map { _ in rng.next(below: 3) }
        let f = try model.loss(on: x, labels: labels)
        let θ = model.initialParameters(Double.self, seed: 8).scaled(by: 2)
        let op = try HessianOperator(of: f, at: θ)
        for _ in 0..<3 {
            let v = Tensor<Double>.randomNormal([θ.count], using: &rng)
            let a = try op.apply(v), b = try hessianVectorProduct(of: f, at: θ, along: v)
            let scale = max(1, b.scalars.map(abs).max() ?? 0)
            let diff = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
            #expect(diff <= 1e-10 * scale, "linearized vs forward-over-reverse HVP: \(diff) (scale \(scale))")
        }
    }

    /// Lanczos with stopWhenConverged on a tiny CNN's Hessian against the dense spectrum.
    @Test(arguments: [SpectrumEnd.largestAlgebraic, .smallestAlgebraic]) func tinyCNNExtremesAgainstTheDenseSpectrum(target: SpectrumEnd) throws {
        let model = try CNN(inputChannels: 1, height: 4, width: 6, channels: [2], kernelSize: 3, padding: 1, hiddenSize: 3, classCount: 3)
        var rng = SplitMix64(seed: 909)
        let x = Tensor<Double>.randomNormal([3, 24], using: &rng)
        let f = try model.loss(on: x, labels: [0, 2, 1])
        let θ = model.initialParameters(Double.self, seed: 9).scaled(by: 2)
        let dense = try hessianSpectrum(of: f, at: θ)
        let r = try lanczos(of: f, at: θ, count: 2, target: target, tolerance: 1e-8, stopWhenConverged: true)
        let expected = target == .largestAlgebraic ? Array(dense.reversed().prefix(2)) : Array(dense.prefix(2))
        for (p, e) in zip(r.pairs, expected) {
            #expect(abs(p.value - e) <= 1e-6 * max(1, abs(e)), "\(target): \(r.pairs.map(\.value)) vs \(expected), steps \(r.steps) of \(θ.count)")
        }
    }
}

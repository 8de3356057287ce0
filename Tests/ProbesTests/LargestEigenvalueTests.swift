import Foundation
import Testing
import Autodiff
import Probes
import Tensors

/// λ_max is the largest algebraic eigenvalue whatever the iteration budget (the source paper's
/// eq. 8), checked on spectra where the eigenvalue of largest magnitude is negative or tied.
@Suite struct LargestEigenvalueTests {
    static func matrix(_ spectrum: [Double], rotated seed: UInt64? = nil) throws -> SymmetricMatrix<Double> {
        guard let seed else { return try SymmetricMatrix(diagonal: spectrum) }
        return try SymmetricMatrix(Quadratic(spectrum: spectrum, seed: seed).a)
    }

    @Test(arguments: [1, 2, 5, 10, 40, 500])
    func aDominantNegativeEigenvalueIsReportedBesideLambdaMax(budget: Int) throws {
        let a = try Self.matrix([-6, 4, 1])
        let start = Tensor<Double>([1, 1, 1]).normalized()
        let r = try largestEigenvalue(of: a, powerIterations: budget, lanczosSteps: 10, tolerance: 1e-10, initialVector: start)
        #expect(abs(r.value - 4) < 1e-9, "budget \(budget): λ_max \(r.value) (\(r.method), power \(r.powerStatus))")
        #expect(r.converged)
        #expect(r.dominantNegative.map { abs($0 + 6) < 1e-6 } == true, "budget \(budget): \(String(describing: r.dominantNegative))")
        // The vector is ± e₂.
        #expect(abs(abs(r.vector.scalars[1]) - 1) < 1e-6)
    }

    @Test(arguments: [UInt64(1), 7, 21])
    func aPlusMinusPairGivesItsPositiveMember(seed: UInt64) throws {
        for rotated in [nil, seed &+ 100] {  // not `seed`: Quadratic's first basis vector is the solver's start vector
            let a = try Self.matrix([5, -5, 1], rotated: rotated)
            for budget in [3, 10, 200] {
                let r = try largestEigenvalue(of: a, powerIterations: budget, lanczosSteps: 10, tolerance: 1e-10, seed: seed)
                #expect(abs(r.value - 5) < 1e-8, "seed \(seed), rotated \(rotated != nil ? "yes" : "no"), budget \(budget): \(r.value)")
                #expect(r.converged)
                // A Ritz value bounds λ_min = −5 from above (interlacing).
                #expect(r.dominantNegative.map { $0 >= -5 - 1e-9 && $0 <= -5 + 5e-3 } == true, "seed \(seed): \(String(describing: r.dominantNegative))")
            }
        }
    }

    /// Top two 10 and 9.99 among 60 eigenvalues in a random basis: with a loose tolerance the
    /// estimate is honest (within its residual of 10, or flagged); with a tight one it is 10.
    @Test(arguments: [UInt64(3), 4, 5])
    func closeTopPairIsWithinItsResidualOrFlagged(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let spectrum = [10, 9.99] + (0..<58).map { _ in -3 + 12 * rng.nextUnitDouble() }
        let a = try Self.matrix(spectrum, rotated: seed &+ 100)
        let loose = try largestEigenvalue(of: a, powerIterations: 10, lanczosSteps: 10, tolerance: 1e-3, seed: seed)
        if loose.converged {
            // Some eigenvalue lies within the residual; the top pair is closer (0.1 %) than the
            // tolerance resolves, so λ_max is met to the tolerance asked for.
            #expect(spectrum.contains { abs(loose.value - $0) <= loose.residualNorm + 1e-9 }, "seed \(seed): \(loose.value) ± \(loose.residualNorm)")
            #expect(abs(loose.value - 10) <= 1e-3 * 10, "seed \(seed): \(loose.value)")
        }
        #expect(loose.value <= 10 + 1e-9, "a Rayleigh quotient never exceeds λ_max")
        let tight = try largestEigenvalue(of: a, powerIterations: 20, lanczosSteps: 60, tolerance: 1e-10, seed: seed)
        #expect(tight.converged && abs(tight.value - 10) < 1e-8, "seed \(seed): \(tight.value)")
        #expect(tight.dominantNegative == nil)
    }

    @Test func positiveDefiniteSpectrumEndsWithPowerIteration() throws {
        let a = try Self.matrix([3, 1, 0.5, 0.25], rotated: 11)
        let r = try largestEigenvalue(of: a, powerIterations: 500, tolerance: 1e-10, seed: 2)
        #expect(r.method == .powerIteration && abs(r.value - 3) < 1e-9)
        #expect(r.dominantNegative == nil)
    }

    @Test func negativeDefiniteSpectrumHasItsLeastNegativeEigenvalueAsLambdaMax() throws {
        let a = try Self.matrix([-1, -2, -3], rotated: 5)
        let r = try largestEigenvalue(of: a, powerIterations: 500, tolerance: 1e-10, seed: 3)
        #expect(abs(r.value + 1) < 1e-9, "\(r.value)")
        #expect(r.dominantNegative.map { abs($0 + 3) < 1e-6 } == true)
    }

    @Test func oneDimensionalOperatorsAndTheNullSpace() throws {
        let one = try largestEigenvalue(of: try Self.matrix([-2]), tolerance: 1e-10)
        #expect(one.value == -2 && one.converged)
        // A start in the null space: power iteration says nothing; Lanczos from elsewhere finds 3.
        let r = try largestEigenvalue(of: try Self.matrix([3, 0]), lanczosSteps: 5, tolerance: 1e-10, initialVector: Tensor([0, 1]))
        #expect(r.powerStatus == .zeroQuotient && abs(r.value - 3) < 1e-12)
    }

    @Test func invalidOptionsThrow() throws {
        let a = try Self.matrix([1, 2])
        #expect(throws: AutodiffError.self) { try largestEigenvalue(of: a, lanczosSteps: 0) }
        #expect(throws: AutodiffError.self) { try largestEigenvalue(of: a, powerIterations: 0) }
        #expect(throws: AutodiffError.self) { try largestEigenvalue(of: a, tolerance: -1) }
    }

    /// Top eigenvalues 13.91 and 12.74 (ratio 0.92, as in a trained MLP's Hessian): the residual
    /// falls by about 8 % per iteration, which is progress, not stagnation.
    @Test func slowProgressIsNotStagnation() throws {
        var rng = SplitMix64(seed: 8)
        let spectrum = [13.91, 12.74] + (0..<98).map { _ in 6 * rng.nextUnitDouble() - 1 }
        let r = try powerIteration(of: try Self.matrix(spectrum, rotated: 8), maxIterations: 100, tolerance: 1e-4, seed: 1)
        #expect(r.status != PowerIterationStatus.stagnated, "stopped after \(r.iterations) iterations as stagnated")
        #expect(r.converged || r.status == .maxIterations)
    }

    /// A tolerance below round-off: the relative residual settles near 1e-16 and stops falling.
    @Test func aResidualAtRoundOffStagnates() throws {
        var rng = SplitMix64(seed: 2)
        let spectrum = [4] + (0..<39).map { _ in 2 * rng.nextUnitDouble() - 1 }
        let r = try powerIteration(of: try Self.matrix(spectrum, rotated: 2), maxIterations: 10_000, tolerance: 1e-30, seed: 1)
        #expect(r.status == .stagnated, "\(r.status) after \(r.iterations)")
        #expect(r.iterations < 200)
        #expect(abs(r.eigenvalue - 4) < 1e-12)
    }
}

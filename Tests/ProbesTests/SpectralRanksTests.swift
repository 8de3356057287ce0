import Foundation
import Testing
import Autodiff
import Probes
import Tensors

@Suite struct SpectralRanksTests {
    /// Relative closeness, with an absolute floor for values near 0.
    static func close(_ a: Double, _ b: Double, _ tolerance: Double) -> Bool { abs(a - b) <= tolerance * max(1, abs(b)) }

    @Test func closedFormsOfAKnownSpectrum() throws {
        let r = try SpectralRanks(spectrum: [10, 1, 1, 0, 0], fraction: 0.05)
        let neff: Double = 10.0 / 11 + 1.0 / 2 + 1.0 / 2
        #expect(Self.close(r.effectiveDimension, neff, 1e-15), "\(r.effectiveDimension)")
        #expect(Self.close(r.participationRatio, 144.0 / 102, 1e-15), "\(r.participationRatio)")
        #expect(r.countAboveFraction == 3 && r.lambdaMax == 10 && r.regularization == 1 && r.fraction == 0.05)
        // p = (5/6, 1/12, 1/12): the entropy rank; Σλ/λ_max = 1.2.
        let entropy = exp(-(5.0 / 6 * log(5.0 / 6) + 2 * (1.0 / 12) * log(1.0 / 12)))
        #expect(Self.close(r.effectiveRank.entropy, entropy, 1e-14) && Self.close(r.effectiveRank.traceRatio, 1.2, 1e-15))

        let defaults = try SpectralRanks(spectrum: [10, 1, 1, 0, 0])
        #expect(defaults.regularization == 1 && defaults.fraction == 0.01 && defaults.countAboveFraction == 3)
        let z2 = try SpectralRanks(spectrum: [10, 1, 1, 0, 0], regularization: 2)
        let neff2: Double = 10.0 / 12 + 1.0 / 3 + 1.0 / 3
        #expect(Self.close(z2.effectiveDimension, neff2, 1e-15))
        // λ ≥ f·λ_max: only 10 at f = 0.2 and f = 1 (λ_max itself counts); 1 sits exactly at f = 0.1.
        #expect(try SpectralRanks(spectrum: [10, 1, 1, 0, 0], fraction: 0.2).countAboveFraction == 1)
        #expect(try SpectralRanks(spectrum: [10, 1, 1, 0, 0], fraction: 1).countAboveFraction == 1)
        #expect(try SpectralRanks(spectrum: [10, 1, 1, 0, 0], fraction: 0.1).countAboveFraction == 3)
        // k equal eigenvalues: participation ratio k, N_eff k·λ/(λ + z).
        let flat = try SpectralRanks(spectrum: [3, 3, 3, 3, 0, 0], regularization: 1)
        #expect(Self.close(flat.participationRatio, 4, 1e-15) && Self.close(flat.effectiveDimension, 3, 1e-15))
    }

    @Test func negativeEigenvaluesAreClampedForNEffAbsoluteForTheRatioAndNeverCounted() throws {
        // Unclamped, λ = −1 would be the pole of λ/(λ + 1).
        let r = try SpectralRanks(spectrum: [4, -1, 1, -4], regularization: 1, fraction: 0.2)
        #expect(Self.close(r.effectiveDimension, 4.0 / 5 + 1.0 / 2, 1e-15), "\(r.effectiveDimension)")
        #expect(Self.close(r.participationRatio, 100.0 / 34, 1e-15), "\(r.participationRatio)")
        #expect(r.countAboveFraction == 2, "−4 is large in magnitude but not counted")
        let entropy = exp(-(2 * 0.4 * log(0.4) + 2 * 0.1 * log(0.1)))
        #expect(Self.close(r.effectiveRank.entropy, entropy, 1e-14))

        let negative = try SpectralRanks(spectrum: [-1, -2])
        #expect(negative.effectiveDimension == 0 && negative.countAboveFraction == 0 && negative.lambdaMax == -1)
        #expect(Self.close(negative.participationRatio, 9.0 / 5, 1e-15))
    }

    @Test func aZeroOrEmptySpectrumCountsNothing() throws {
        for spectrum in [[0.0, 0, 0], []] {
            let r = try SpectralRanks(spectrum: spectrum)
            #expect(r.effectiveDimension == 0 && r.participationRatio == 0 && r.countAboveFraction == 0 && r.lambdaMax == 0)
            #expect(r.effectiveRank == EffectiveRank(spectrum: spectrum))
        }
    }

    @Test(arguments: [UInt64(0), 7]) func slqWithDStepsOnADiagonalMatrixIsExact(seed: UInt64) throws {
        // Distinct eigenvalues and Rademacher z: d Lanczos steps give the eigenvalues as nodes, each
        // with weight z_i²/‖z‖² = 1/d, so every estimate is the exact value.
        let spectrum: [Double] = [6, 3.5, 2, 0.9, 0.25, 0.04, -0.3, -1.5]
        let d = spectrum.count, z = 0.5
        let density = try spectralDensity(of: SymmetricMatrix<Double>(diagonal: spectrum), probes: 3, steps: d, seed: seed)
        let r = try SpectralRanks(density: density, dimension: d, regularization: z)
        let positive = spectrum.map { max($0, 0) }
        let neff = positive.map { $0 / ($0 + z) }.reduce(0, +)
        let ratio = pow(spectrum.map(abs).reduce(0, +), 2) / spectrum.map { $0 * $0 }.reduce(0, +)
        #expect(Self.close(r.effectiveDimension, neff, 1e-10), "\(r.effectiveDimension) vs \(neff)")
        #expect(Self.close(r.participationRatio, ratio, 1e-10), "\(r.participationRatio) vs \(ratio)")
        #expect(Self.close(r.countAboveFraction, 5, 1e-10), "\(r.countAboveFraction): 6, 3.5, 2, 0.9, 0.25 ≥ 0.06")
        #expect(Self.close(r.lambdaMax, 6, 1e-10))
        let exact = EffectiveRank(spectrum: spectrum)
        #expect(Self.close(r.effectiveRank.entropy, exact.entropy, 1e-10) && Self.close(r.effectiveRank.traceRatio, exact.traceRatio, 1e-10))
    }

    @Test func slqOnARepeatedSpectrumWeighsEachDistinctEigenvalueByItsMultiplicity() throws {
        // Lanczos stops after the 3 distinct eigenvalues; their weights are 1/5, 2/5, 2/5.
        let density = try spectralDensity(of: SymmetricMatrix<Double>(diagonal: [10, 1, 0, 1, 0]), probes: 2, steps: 5, seed: 3)
        let r = try SpectralRanks(density: density, dimension: 5, fraction: 0.05)
        #expect(Self.close(r.effectiveDimension, 10.0 / 11 + 1, 1e-10), "\(r.effectiveDimension)")
        #expect(Self.close(r.participationRatio, 144.0 / 102, 1e-10), "\(r.participationRatio)")
        #expect(Self.close(r.countAboveFraction, 3, 1e-10), "\(r.countAboveFraction)")
    }

    @Test(arguments: [UInt64(1), 2]) func slqOnACoupledMatrixIsTheMeanOfEachProbesQuadraticForm(seed: UInt64) throws {
        // With d steps each probe's quadrature is exact for zᵀg(A)z = Σ_k g(λ_k)(q_kᵀz)², and ‖z‖² = d,
        // so Σ_j d·τ_j g(θ_j) is the mean over the probes of zᵀg(A)z: the same Rademacher draws by hand.
        let spectrum: [Double] = [6, 4, 2.5, 1, 0.5, 0.1, -0.3, -3]
        let f = Quadratic(spectrum: spectrum, seed: 11)
        let d = spectrum.count, probes = 4, z = 1.0, fraction = 0.3
        let density = try spectralDensity(of: SymmetricMatrix(f.a), probes: probes, steps: d, seed: seed)
        let r = try SpectralRanks(density: density, dimension: d, regularization: z, fraction: fraction)
        var rng = SplitMix64(seed: seed)
        var neff = 0.0, absolute = 0.0, squares = 0.0, count = 0.0
        for _ in 0..<probes {
            let v = Tensor<Double>.randomRademacher([d], using: &rng).scalars
            for (λ, q) in zip(spectrum, f.eigenvectors) {
                let c = zip(q, v).map(*).reduce(0, +)
                neff += max(λ, 0) / (max(λ, 0) + z) * c * c / Double(probes)
                absolute += abs(λ) * c * c / Double(probes)
                squares += λ * λ * c * c / Double(probes)
                if λ >= fraction * 6 { count += c * c / Double(probes) }
            }
        }
        #expect(Self.close(r.effectiveDimension, neff, 1e-9), "\(r.effectiveDimension) vs \(neff)")
        #expect(Self.close(r.participationRatio, absolute * absolute / squares, 1e-9))
        #expect(Self.close(r.countAboveFraction, count, 1e-9), "\(r.countAboveFraction) vs \(count)")
        #expect(Self.close(r.lambdaMax, 6, 1e-10))
    }

    @Test func badArgumentsGiveClearErrors() throws {
        for z in [0, -1, Double.nan, .infinity] {
            let error = #expect(throws: AutodiffError.self) { try SpectralRanks(spectrum: [1, 2], regularization: z) }
            #expect(error?.description.contains("regularization z must be positive") == true, "\(String(describing: error))")
        }
        for f in [0, -0.1, 1.5, Double.nan] {
            let error = #expect(throws: AutodiffError.self) { try SpectralRanks(spectrum: [1, 2], fraction: f) }
            #expect(error?.description.contains("fraction") == true, "\(String(describing: error))")
        }
        #expect(throws: AutodiffError.self) { try SpectralRanks(spectrum: [1, .nan]) }
        #expect(throws: AutodiffError.self) { try SpectralRanks(spectrum: [1, -.infinity]) }
        #expect(throws: AutodiffError.self) { try SpectralRanks(nodes: [1, 2], weights: [1]) }
        #expect(throws: AutodiffError.self) { try SpectralRanks(nodes: [1, 2], weights: [1, -1]) }
        let density = try spectralDensity(of: SymmetricMatrix<Double>(diagonal: [1, 2, 3]), probes: 1, steps: 3)
        let error = #expect(throws: AutodiffError.self) { try SpectralRanks(density: density, dimension: 0) }
        #expect(error?.description.contains("dimension") == true)
        #expect(throws: AutodiffError.self) { try SpectralRanks(density: density, dimension: 3, regularization: 0) }
    }
}

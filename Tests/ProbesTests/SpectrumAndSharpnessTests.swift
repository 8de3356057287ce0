import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

@Suite struct SpectrumAndSharpnessTests {
    static let spectrum: [Double] = [6, 4, 4, 2.5, 1, 0.5, 0.1, -0.3, -3, -3, 0.05, 1.7]

    @Test(arguments: [UInt64(1), 2, 3]) func slqDensityIntegratesToOneAndItsMeanIsTheTraceOverD(seed: UInt64) throws {
        let f = Quadratic(spectrum: Self.spectrum, seed: 9)
        let d = Self.spectrum.count
        let θ = Tensor<Double>.zeros([d])
        let probes = 30
        let s = try spectralDensity(of: f, at: θ, probes: probes, steps: d, gridPoints: 4001, bandwidth: 0.05, seed: seed)
        // Trapezoid rule over the grid.
        var integral = 0.0
        for i in 1..<s.grid.count { integral += 0.5 * (s.density[i] + s.density[i - 1]) * (s.grid[i] - s.grid[i - 1]) }
        #expect(abs(integral - 1) < 1e-6, "seed \(seed): ∫φ = \(integral)")
        #expect(abs(s.weights.reduce(0, +) - 1) < 1e-12)
        // The same Rademacher probes, by hand: zᵀHz / d per probe.
        var rng = SplitMix64(seed: seed)
        let samples = try (0..<probes).map { _ -> Double in
            let z = Tensor<Double>.randomRademacher([d], using: &rng)
            return try hessianVectorProduct(of: f, at: θ, along: z).dot(z) / Double(d)
        }
        let mean = samples.reduce(0, +) / Double(probes)
        let se = (samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(probes - 1) / Double(probes)).squareRoot()
        #expect(abs(s.mean - mean) < 1e-10, "SLQ mean is the Gauss quadrature of zᵀHz/d")
        let exact = Self.spectrum.reduce(0, +) / Double(d)
        #expect(abs(s.mean - exact) <= 4 * se, "seed \(seed): \(s.mean) vs tr/d = \(exact) ± \(se)")
        // The density has its largest peak at a multiple eigenvalue (−3 or 4, each twice).
        let peak = s.grid[s.density.indices.max { s.density[$0] < s.density[$1] }!]
        #expect(abs(peak - 4) < 0.1 || abs(peak + 3) < 0.1, "peak at \(peak)")
    }

    @Test func densityFromATopEigenvalueRunIsThatProbesQuadrature() throws {
        // The study reuses one Lanczos run for the top eigenvalues and the first SLQ probe.
        let f = Quadratic(spectrum: Self.spectrum, seed: 9)
        let d = Self.spectrum.count
        let θ = Tensor<Double>.zeros([d])
        var rng = SplitMix64(seed: 5)
        let z = Tensor<Double>.randomRademacher([d], using: &rng)
        let run = try lanczos(of: f, at: θ, count: 3, steps: d, initialVector: z)
        #expect(run.pairs.map(\.value).enumerated().allSatisfy { abs($0.element - [6.0, 4, 2.5][$0.offset]) < 1e-9 })
        let s = try spectralDensity(from: [run], gridPoints: 2001, bandwidth: 0.05)
        let zHz = try hessianVectorProduct(of: f, at: θ, along: z).dot(z) / Double(d)
        #expect(abs(s.mean - zHz) < 1e-10, "the Gauss quadrature of zᵀHz/d")
        #expect(abs(s.weights.reduce(0, +) - 1) < 1e-12)
        #expect(throws: AutodiffError.self) { try spectralDensity(from: [LanczosResult<Double>]()) }
    }

    @Test func effectiveRanksOfKnownSpectra() {
        let flat = EffectiveRank(spectrum: [2, 2, 2, 2])
        #expect(abs(flat.entropy - 4) < 1e-12 && abs(flat.traceRatio - 4) < 1e-12)
        let one = EffectiveRank(spectrum: [5, 0, 0])
        #expect(abs(one.entropy - 1) < 1e-12 && abs(one.traceRatio - 1) < 1e-12)
        let signed = EffectiveRank(spectrum: [3, -3])
        #expect(abs(signed.entropy - 2) < 1e-12 && abs(signed.traceRatio - 2) < 1e-12)
        let weighted = EffectiveRank(nodes: [2], weights: [4])     // one node standing for 4 equal eigenvalues
        #expect(abs(weighted.entropy - 4) < 1e-12)
        #expect(EffectiveRank(spectrum: [0, 0]).entropy == 0)
    }

    @Test(arguments: 0..<4) func hutchPlusPlusOnAKnownTrace(trial: Int) throws {
        let f = Quadratic(spectrum: Self.spectrum, seed: 5)
        let (trace, se) = try hutchPlusPlusTrace(of: f, at: Tensor<Double>.zeros([12]), probes: 24, seed: UInt64(trial))
        let exact = Self.spectrum.reduce(0, +)
        #expect(abs(trace - exact) <= 4 * se + 1e-9, "seed \(trial): \(trace) ± \(se) vs \(exact)")
    }

    @Test func filterNormalizationGivesEachFilterTheNormOfThetasFilter() throws {
        let model = try CNN(inputChannels: 1, height: 8, width: 8, channels: [2, 3], kernelSize: 3, padding: 1, hiddenSize: 4, classCount: 3)
        let θ = model.initialParameters(Double.self, seed: 1)
        var rng = SplitMix64(seed: 2)
        let d = try filterNormalized(Tensor<Double>.randomNormal([θ.count], using: &rng), like: θ, layout: model.layout)
        for e in model.layout.entries {
            if e.shape.count == 1 {
                #expect(d.scalars[e.range].allSatisfy { $0 == 0 }, "\(e.name): biases are zeroed")
                continue
            }
            let size = e.count / e.shape[0]
            for f in 0..<e.shape[0] {
                let r = (e.offset + f * size)..<(e.offset + (f + 1) * size)
                let dn = r.map { d.scalars[$0] * d.scalars[$0] }.reduce(0, +).squareRoot()
                let tn = r.map { θ.scalars[$0] * θ.scalars[$0] }.reduce(0, +).squareRoot()
                #expect(abs(dn - tn) <= 1e-12 * tn, "\(e.name) filter \(f): \(dn) vs \(tn)")
            }
        }
    }

    @Test func sharpnessOfAQuadraticAlongItsTopEigenvectorIsHalfEpsilonSquaredLambdaMax() throws {
        let f = Quadratic(spectrum: Self.spectrum, seed: 4)
        let θ = Tensor<Double>.zeros([12])
        let ε = 0.3
        var moved = θ
        moved.addScaled(Tensor(f.eigenvectors[0]), ε)
        #expect(abs(try value(of: f, at: moved) - 0.5 * ε * ε * 6) < 1e-14)
        let worst = try worstCaseSharpness(of: f, at: θ, epsilon: ε, steps: 80, seed: 3)
        #expect(abs(worst.increase - 0.5 * ε * ε * 6) <= 1e-8, "projected ascent: \(worst.increase)")
        #expect(abs(worst.delta.norm() - ε) < 1e-12)
        let random = try randomSharpness(of: f, at: θ, epsilon: ε, directions: 50, lambdaMax: 6, seed: 1)
        #expect(random.maximum <= random.quadraticPrediction! + 1e-12)
        #expect(random.increases.count == 50 && random.maximum >= random.mean)
        #expect(abs(random.quadraticPrediction! - 0.27) < 1e-15)
    }

    @Test func badArgumentsGiveClearErrors() throws {
        let f = Quadratic(spectrum: [1, 2, 3], seed: 1)
        let θ = Tensor<Double>.zeros([3])
        #expect(throws: AutodiffError.self) { try randomSharpness(of: f, at: θ, epsilon: 0) }
        #expect(throws: AutodiffError.self) { try randomSharpness(of: f, at: θ, epsilon: -1) }
        #expect(throws: AutodiffError.self) { try worstCaseSharpness(of: f, at: θ, epsilon: .nan) }
        #expect(throws: AutodiffError.self) { try spectralDensity(of: f, at: θ, steps: 5) }
        #expect(throws: AutodiffError.self) { try spectralDensity(of: f, at: θ, steps: 3, gridPoints: 1) }
        #expect(throws: AutodiffError.self) { try filterNormalized(Tensor<Double>.zeros([2]), like: θ, layout: f.layout) }
    }
}

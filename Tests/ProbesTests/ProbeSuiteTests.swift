import Foundation
import Testing
import Autodiff
import Probes
import Tensors

/// What `landscape probe` and `landscape slice` compute, as library values, checked on a quadratic
/// whose spectrum is known.
@Suite struct ProbeSuiteTests {
    static let spectrum: [Double] = [6, 3, 1, -2, 0.5, 4]

    @Test func theSuiteOnAKnownSpectrum() throws {
        let f = Quadratic(spectrum: Self.spectrum, seed: 3)
        let θ = Tensor<Double>([0.3, -0.2, 0.1, 0.4, -0.5, 0.2])
        var s = ProbeSuiteSettings()
        s.top = 3; s.lanczosSteps = 6; s.slqSteps = 6; s.traceProbes = 600; s.powerIterations = 500; s.perLayer = true
        // Tolerance and ε set here, not the defaults: a residual r bounds the Rayleigh quotient's error by
        // r²/gap (gap 2 here), so 1e-4·6 gives under 2e-7; ½ε²λ_max below is for this ε.
        s.powerTolerance = 1e-4; s.epsilon = 0.05
        var steps: [String] = []
        let r = try probeSuite(of: f, at: θ, operator: try HessianOperator(of: f, at: θ), layout: f.layout, settings: s) { steps.append($0) }
        #expect(abs(r.power!.value - 6) < 1e-6)
        #expect(zip(r.top!.pairs.map(\.value), [6.0, 4, 3]).allSatisfy { abs($0 - $1) < 1e-9 }, "\(r.top!.pairs.map(\.value))")
        #expect(abs(r.bottom!.pairs[0].value + 2) < 1e-9)
        let trace = Self.spectrum.reduce(0, +)
        #expect(abs(r.hutchinson!.trace - trace) < 4 * r.hutchinson!.standardError + 1e-9, "\(r.hutchinson)")
        #expect(!r.density!.nodes.isEmpty && r.density!.nodes.allSatisfy { $0 >= -2 - 1e-9 && $0 <= 6 + 1e-9 }, "Ritz values lie in the spectrum's range")
        #expect(r.layers.count == 1 && abs(r.layers[0].lambdaMax.value - 6) < 1e-6)
        #expect(abs(r.sharpness!.quadraticPrediction! - 0.5 * 0.05 * 0.05 * 6) < 1e-9)
        #expect(r.worstCase! >= 0 && r.sharpness!.maximum >= r.sharpness!.mean)
        #expect(steps.count == 7 && Set(r.seconds.keys) == ["power_iteration", "lanczos", "trace", "slq", "blocks", "sharpness", "keskar"])
        // Keskar's box at θ: |δ_i| ≤ 1e-3(|θ_i| + 1); the increase is a maximum, so at least 0 (δ = 0).
        #expect(r.keskar!.increase >= 0 && zip(r.keskar!.delta.scalars, θ.scalars).allSatisfy { abs($0) <= 1e-3 * (abs($1) + 1) * (1 + 1e-12) })
        // Ritz values lie in [λ_min, λ_max] = [−2, 6], and at most d = 6 eigenvalues are counted.
        #expect(r.ranks!.lambdaMax <= 6 + 1e-9 && r.ranks!.countAboveFraction <= 6 + 1e-9 && r.ranks!.effectiveDimension <= 6)
        s.traceProbes = 5
        #expect(s.problem?.setting == "traceProbes")
        #expect(throws: AutodiffError.self) { try probeSuite(of: f, at: θ, operator: try HessianOperator(of: f, at: θ), layout: f.layout, settings: s) }
    }

    @Test func sliceDirectionsOfEachKind() throws {
        let f = Quadratic(spectrum: Self.spectrum, seed: 3)
        let θ = Tensor<Double>([0.3, -0.2, 0.1, 0.4, -0.5, 0.2])
        let random = try sliceDirections(.random, count: 2, of: f, at: θ, layout: f.layout, seed: 1).directions
        #expect(random.count == 2 && random.allSatisfy { abs($0.norm() - 1) < 1e-12 })
        #expect(try sliceDirections(.random, count: 2, of: f, at: θ, layout: f.layout, seed: 1).directions.map(\.scalars) == random.map(\.scalars))
        let eigen = try sliceDirections(.eigen, count: 1, of: f, at: θ, layout: f.layout, seed: 1).directions[0]
        #expect(abs(abs(eigen.dot(Tensor(f.eigenvectors[0]))) - 1) < 1e-9)
        let end = Tensor<Double>([1, 1, 1, 1, 1, 1])
        let line = try sliceDirections(.interpolate, count: 2, of: f, at: θ, layout: f.layout, seed: 1, endpoint: end).directions
        var expected = end
        expected.addScaled(θ, -1)
        var gap = line[0]
        gap.addScaled(expected, -1)
        #expect(line.count == 2 && gap.norm() < 1e-12)
        #expect(throws: AutodiffError.self) { try sliceDirections(.interpolate, count: 1, of: f, at: θ, layout: f.layout, seed: 1) }
    }

    @Test func aTrajectoryAlongALineGivesThatLineScaledToItsExtent() throws {
        let θ = Tensor<Double>([1, 2, 3, 4])
        let w = Tensor<Double>([0.5, -1, 0, 2])
        // θ_k = θ + k·w + a small wobble: the principal direction is w, θ's farthest snapshot is 3w away.
        let snapshots = (0...3).map { k -> Tensor<Double> in
            var s = θ
            s.addScaled(w, Double(k))
            s.addScaled(Tensor([0, 0, 1e-6, 0]), Double(k % 2))
            return s
        }
        let (dirs, ratios) = try trajectoryDirections(snapshots, around: θ, count: 1)
        #expect(abs(abs(dirs[0].dot(w)) / (dirs[0].norm() * w.norm()) - 1) < 1e-9)
        #expect(abs(dirs[0].norm() - 3 * w.norm()) < 1e-6 * w.norm())
        #expect(ratios[0] > 0.999)
        #expect(throws: AutodiffError.self) { try trajectoryDirections(Array(snapshots.prefix(2)), around: θ, count: 2) }
    }
}

/// `probe --only`: the suite runs the parts asked for and those they need, nothing else.
@Suite struct ProbeSuitePartsTests {
    @Test func onlyTheSelectedProbesRun() throws {
        let f = Quadratic(spectrum: ProbeSuiteTests.spectrum, seed: 3)
        let θ = Tensor<Double>([0.3, -0.2, 0.1, 0.4, -0.5, 0.2])
        var s = ProbeSuiteSettings()
        s.top = 2; s.lanczosSteps = 6; s.slqSteps = 6; s.traceProbes = 6; s.epsilon = 0.05
        var steps: [String] = []
        let trace = try probeSuite(of: f, at: θ, operator: try HessianOperator(of: f, at: θ), layout: f.layout, settings: s, parts: [.trace, .lambdaMin]) { steps.append($0) }
        #expect(trace.parts == [.trace, .lambdaMin] && Set(trace.seconds.keys) == ["lanczos", "trace"] && steps.count == 2, "\(steps)")
        #expect(trace.power == nil && trace.top == nil && trace.density == nil && trace.sharpness == nil && trace.keskar == nil)
        // λ_min of the spectrum [6, 3, 1, −2, 0.5, 4] is −2 (6 Lanczos steps on a 6 × 6 matrix are exact).
        #expect(abs(trace.bottom!.pairs[0].value + 2) < 1e-9 && trace.hutchinson != nil && trace.hutchPlusPlus != nil)
        // Sharpness needs λ_max for ½ε²λ_max: it runs too, and the prediction uses λ_max = 6.
        let sharp = try probeSuite(of: f, at: θ, operator: try HessianOperator(of: f, at: θ), layout: f.layout, settings: s, parts: [.sharpness])
        #expect(sharp.parts == [.sharpness, .lambdaMax] && sharp.hutchinson == nil && sharp.bottom == nil)
        #expect(abs(sharp.sharpness!.quadraticPrediction! - 0.5 * 0.05 * 0.05 * 6) < 1e-9)
    }
}

import Foundation
import Testing
import Autodiff
import Probes
import Tensors

/// e^{1.5x₀} + 0.1x₁² + relu(x₁ − 0.3): at 0 the Hessian is diag(2.25, 0.2) (λ_max along ±e₀,
/// where nothing switches) and a direction u switches the ReLU at t = 0.3/u₁.
struct ExpPlusKink: Objective {
    typealias Scalar = Double
    let layout = ParameterLayout(vectorOf: 2)
    func callAsFunction<A: ConvolutionAlgebra>(_ p: [A]) -> A where A.Scalar == Double {
        let x = p[0].reshaped([1, 2])
        let x0 = x.gatherColumns([0]), x1 = x.gatherColumns([1])
        return (A.exp(x0.scaled(by: 1.5)) + (x1 * x1).scaled(by: 0.1) + x1.shifted(by: -0.3).relu()).sum()
    }
}

@Suite struct ValidityRadiusTests {
    @Test func probeMeasuresAlongTheTopEigenvectorAndSharpnessDirections() throws {
        let f = ExpPlusKink()
        var context = ProbeContext(of: f, at: Tensor<Double>([0, 0]))
        let probe = ValidityRadiusProbe()
        let r = ValidityRadiusProbe.Result(values: try AnyProbe(probe).measure(&context))
        // Along u ≈ ±e₀ (λ_max's vector, to its tolerance): the ReLU switches far away, at 0.3/|u₁|;
        // the quadratic model of e^{1.5t} holds to the closed-form 10 % point (the smaller of ±),
        // and the true error there is 10 % up to the order-6 truncation.
        let u = try #require(context.warmStarts[LambdaMaxProbe.name])
        let far = 0.3 / abs(u.scalars[1])
        #expect(abs(u.scalars[0]) > 0.999 && r.lambdaExact && !r.lambdaSmoothBinds)
        #expect(abs((u.scalars[1] > 0 ? r.lambdaForward : r.lambdaBackward) - far) <= 1e-12 * far, "\(r.lambdaForward), \(r.lambdaBackward) vs \(far)")
        #expect((u.scalars[1] > 0 ? r.lambdaBackward : r.lambdaForward) == .infinity)
        let excess = { (x: Double) in abs(expm1(x) - x - x * x / 2) - 0.1 * abs(expm1(x) - x) }
        var closedForm = Double.infinity
        for sign in [1.0, -1.0] {
            var lo = 1e-6, hi = 5.0
            for _ in 0..<200 { let mid = (lo + hi) / 2; if excess(sign * 1.5 * mid) < 0 { lo = mid } else { hi = mid } }
            closedForm = min(closedForm, lo)
        }
        #expect(abs(r.lambdaQuadratic - closedForm) <= 1e-3 * closedForm, "\(r.lambdaQuadratic) vs \(closedForm)")
        #expect(abs(r.lambdaError - 0.1) <= 1e-3, "true error \(r.lambdaError)")
        // Sharpness's first five directions: the ReLU switches at 0.3/|u₁|.
        var directions = SharpnessDirections<Double>(kind: .unit, seed: SharpnessProbe().seed, like: Tensor([0, 0]), layout: f.layout)
        let switches = try (0..<probe.directions).map { _ in 0.3 / abs(try directions.next().scalars[1]) }.sorted()
        #expect(abs(r.randomSmoothMin - switches[0]) <= 1e-12 * switches[0], "\(r.randomSmoothMin) vs \(switches)")
        #expect(abs(r.randomSmoothMedian - switches[2]) <= 1e-12 * switches[2], "\(r.randomSmoothMedian) vs \(switches)")
        #expect(abs(r.epsilonOverRandomSmooth - SharpnessProbe().epsilon / switches[2]) <= 1e-12 / switches[2])
        #expect(r.randomQuadraticMin.isFinite && r.randomQuadraticMin <= r.randomQuadraticMedian)
    }

    @Test func invalidSettingsAreNamed() throws {
        var p = ValidityRadiusProbe()
        p.tolerance = 1
        do { try AnyProbe(p).validate(); Issue.record("accepted tolerance 1") } catch {
            #expect("\(error)" == "validity_radius: tolerance must be in (0, 1), got 1.0", "\(error)")
        }
        p = ValidityRadiusProbe()
        p.order = 1
        #expect(throws: ProbeSettingError.self) { try p.validate() }
        #expect(ProbeRegistry.names.contains(ValidityRadiusProbe.name))
    }
}

import Foundation
import Testing
@testable import Autodiff
import Tensors

/// Closed-form derivatives of the elementary functions, checked at several points.
@Suite struct DualNumberTests {
    static let points: [Double] = [-2.3, -0.7, 0.4, 1.0, 2.9]

    @Test func elementaryFunctionsMatchClosedForms() {
        for x in Self.points {
            #expect(abs(derivative(of: { Dual.exp($0) }, at: x) - Foundation.exp(x)) < 1e-14 * Foundation.exp(x) + 1e-15)
            #expect(abs(derivative(of: { Dual.sin($0) }, at: x) - Foundation.cos(x)) < 1e-15)
            #expect(abs(derivative(of: { Dual.cos($0) }, at: x) + Foundation.sin(x)) < 1e-15)
            let th = Foundation.tanh(x)
            #expect(abs(derivative(of: { Dual.tanh($0) }, at: x) - (1 - th * th)) < 1e-15)
            let s = 1 / (1 + Foundation.exp(-x))
            #expect(abs(derivative(of: { Dual.sigmoid($0) }, at: x) - s * (1 - s)) < 1e-15)
            #expect(abs(derivative(of: { $0 * $0 * $0 }, at: x) - 3 * x * x) < 1e-13)
            #expect(abs(derivative(of: { Dual(primal: 1.0) / $0 }, at: x) + 1 / (x * x)) < 1e-13)
            #expect(derivative(of: { $0.relu() }, at: x) == (x > 0 ? 1 : 0))
            #expect(abs(derivative(of: { $0.scaled(by: 3).shifted(by: 2) }, at: x) - 3) == 0)
            let ax = abs(x)
            #expect(abs(derivative(of: { Dual.log($0) }, at: ax) - 1 / ax) < 1e-15 / ax)
            #expect(abs(derivative(of: { Dual.sqrt($0) }, at: ax) - 0.5 / ax.squareRoot()) < 1e-15)
        }
    }

    @Test func reluDerivativeAtZeroIsZero() {
        #expect(derivative(of: { $0.relu() }, at: 0.0) == 0)
    }

    @Test func sigmoidIsFiniteForLargeArguments() {
        let (v, d) = valueWithDerivative(of: { Dual.sigmoid($0) }, at: -800.0)
        #expect(v.isFinite && d.isFinite && v >= 0 && d >= 0)
        let (v2, d2) = valueWithDerivative(of: { Dual.sigmoid($0) }, at: 800.0)
        #expect(v2 == 1 && d2 == 0)
    }

    @Test func nestedDualsGiveExactSecondDerivatives() {
        for x in Self.points {
            // f = sin(x)·exp(x), f'' = 2·exp(x)·cos(x)
            let f2 = secondDerivative(of: { Dual.sin($0) * Dual.exp($0) }, at: x)
            #expect(abs(f2 - 2 * Foundation.exp(x) * Foundation.cos(x)) < 1e-13 * max(1, Foundation.exp(x)))
            // f = x⁴ → f'' = 12x² exactly
            #expect(secondDerivative(of: { $0 * $0 * $0 * $0 }, at: x) == 12 * x * x || abs(secondDerivative(of: { $0 * $0 * $0 * $0 }, at: x) - 12 * x * x) < 1e-12)
            // f = log(x²+1): f'' = 2(1−x²)/(1+x²)²
            let g2 = secondDerivative(of: { Dual.log(($0 * $0).shifted(by: 1)) }, at: x)
            #expect(abs(g2 - 2 * (1 - x * x) / ((1 + x * x) * (1 + x * x))) < 1e-14)
        }
    }

    @Test func noPerturbationConfusion() {
        // d/dx [x · d/dy (x + y)] at x = 1 must be exactly 1 (Siskind & Pearlmutter 2005).
        let result = derivative(of: { (x: Dual<Double>) -> Dual<Double> in
            x * derivative(of: { (y: Dual<Dual<Double>>) in Dual(primal: x) + y }, at: x)
        }, at: 1.0)
        #expect(result == 1)
    }

    @Test func thirdDerivativeByTripleNesting() {
        // d³/dx³ sin = −cos, via Dual<Dual<Dual<Double>>>.
        let x = 0.3
        let d3 = derivative(of: { (a: Dual<Double>) in
            derivative(of: { (b: Dual<Dual<Double>>) in
                derivative(of: { (c: Dual<Dual<Dual<Double>>>) in Dual.sin(c) }, at: b)
            }, at: a)
        }, at: x)
        #expect(abs(d3 + Foundation.cos(x)) < 1e-15)
    }
}

@Suite struct ReverseModeScalarTests {
    @Test func gradientOfScalarFunctionMatchesClosedForm() {
        // f(x, y) = x·y + sin(x)·exp(y) → ∇ = (y + cos x e^y, x + sin x e^y)
        let (x, y) = (0.7, -1.2)
        let (v, g) = valueWithGradient(of: { (p: [Tracked<Double>]) in p[0] * p[1] + Tracked.sin(p[0]) * Tracked.exp(p[1]) }, at: [x, y])
        #expect(abs(v - (x * y + Foundation.sin(x) * Foundation.exp(y))) < 1e-15)
        #expect(abs(g[0] - (y + Foundation.cos(x) * Foundation.exp(y))) < 1e-15)
        #expect(abs(g[1] - (x + Foundation.sin(x) * Foundation.exp(y))) < 1e-15)
    }

    @Test func reusedVariableAccumulatesCotangents() {
        // f(x) = x·x·x + x → 3x² + 1
        let g = gradient(of: { (p: [Tracked<Double>]) in p[0] * p[0] * p[0] + p[0] }, at: [2.0])
        #expect(g[0] == 13)
    }

    @Test func hessianOfScalarFunctionMatchesClosedForm() {
        // f(x, y) = x²y + tanh(y) → H = [[2y, 2x], [2x, −2 tanh y (1 − tanh² y)]]
        let (x, y) = (0.5, 0.8)
        let h = hessian(of: { (p: [Tracked<Dual<Double>>]) in p[0] * p[0] * p[1] + Tracked.tanh(p[1]) }, at: [x, y])
        let t = Foundation.tanh(y)
        #expect(abs(h[0][0] - 2 * y) < 1e-14)
        #expect(abs(h[0][1] - 2 * x) < 1e-14 && abs(h[1][0] - 2 * x) < 1e-14)
        #expect(abs(h[1][1] - (-2 * t * (1 - t * t))) < 1e-14)
    }

    @Test func forwardOverForwardMatchesForwardOverReverse() {
        func f<A: ScalarAlgebra>(_ p: [A]) -> A { A.exp(p[0] * p[1]) + A.sin(p[2]) * p[0] + p[1] / p[2] }
        let x = [0.3, -0.4, 1.1], u = [1.0, 2.0, -0.5], v = [0.2, -1.0, 0.7]
        let hv = hessianVectorProduct(of: f, at: x, along: v)
        let uHv = zip(u, hv).map(*).reduce(0, +)
        let direct = bilinearHessian(of: f, at: x, u, v)
        #expect(abs(uHv - direct) < 1e-13)
    }

    @Test func jvpMatchesGradientDotDirection() {
        func f<A: ScalarAlgebra>(_ p: [A]) -> A { A.log(p[0] * p[0] + p[1] * p[1]) * A.cos(p[1]) }
        let x = [1.3, 0.2], v = [-0.5, 2.0]
        let g = gradient(of: f, at: x)
        let (_, d) = jvp(of: f, at: x, along: v)
        #expect(abs(d - (g[0] * v[0] + g[1] * v[1])) < 1e-14)
    }
}

import Foundation
import Testing
@testable import Autodiff
import Tensors

// The derivatives that AD libraries are known to get wrong, each with its value from the
// mathematics: powers at 0, removable singularities in jets, masked branches, equal huge logits,
// −∞ logits in jets, saturated tanh/sigmoid, ties, and nesting.
@Suite struct EdgeCaseTests {
    @Test func integerPowersAreSmoothAtZeroInNestedDuals() {
        // d/dx x = 1, d²/dx² x = 0 at 0 (not 0·∞ from x⁰⁻¹).
        #expect(secondDerivative(of: { Dual<Dual<Double>>.pow($0, 1) }, at: 0.0) == 0)
        #expect(derivative(of: { Dual.pow($0, 1) }, at: 0.0) == 1)
        // x³ at 0: 0, 0, 6, then d⁴/dx⁴ = 0.
        let d = nestedDerivatives(Power(3), at: 0)
        #expect(d == [0, 0, 0, 6, 0], "\(d)")
        #expect(nestedDerivatives(Power(2), at: 0) == [0, 0, 2, 0, 0])
    }

    @Test func jetOfAnIntegerPowerAtZeroIsExact() throws {
        let c = try taylorCoefficients(of: { Jet.pow($0, 5) }, at: 0.0, along: 1.0, order: 6)
        #expect(c == [0, 0, 0, 0, 0, 1, 0], "\(c)")
        // (2 + t)⁻² = Σ (−1)ᵏ(k+1) tᵏ / 2^{k+2}: the negative integer path.
        let n = try taylorCoefficients(of: { Jet.pow($0, -2) }, at: 2.0, along: 1.0, order: 4)
        for k in 0...4 { #expect(abs(n[k] - Double(k % 2 == 0 ? 1 : -1) * Double(k + 1) / Foundation.pow(2, Double(k + 2))) < 1e-15) }
    }

    @Test func aFractionalPowerAtZeroSaysItHasNoExpansion() {
        // t^1.5 = 0 + 0·t + O(t^1.5): known through order 1 only.
        #expect(throws: AutodiffError.noTaylorExpansion(knownOrder: 1, requested: 4)) {
            try taylorCoefficients(of: { Jet.pow($0, 1.5) }, at: 0.0, along: 1.0, order: 4)
        }
        let jet = Jet.pow(Jet(point: 0.0, direction: 1.0, order: 4), 1.5)
        #expect(jet.order == 1 && jet.coefficient(0) == 0 && jet.coefficient(1) == 0 && jet.coefficient(2).isNaN)
    }

    @Test func jetsThroughRemovableSingularities() throws {
        // (eᵗ − 1)/t = Σ tᵏ/(k+1)!.
        let c = try taylorCoefficients(of: { t in (Jet.exp(t) - t.onesLike()) / t }, at: 0.0, along: 1.0, order: 6)
        var factorial = 1.0
        for k in 0...6 {
            factorial *= Double(k + 1)
            #expect(abs(c[k] - 1 / factorial) < 1e-15, "c\(k) = \(c[k]), expected 1/\(Int(factorial))")
        }
        // √(t² + t⁴) = t·√(1 + t²) = t + t³/2 − t⁵/8 + t⁷/16 − …
        let s = try taylorCoefficients(of: { t in Jet.sqrt(t * t + t * t * t * t) }, at: 0.0, along: 1.0, order: 7)
        let expected: [Double] = [0, 1, 0, 0.5, 0, -0.125, 0, 0.0625]
        for k in 0...7 { #expect(abs(s[k] - expected[k]) < 1e-15, "c\(k) = \(s[k]), expected \(expected[k])") }
        // The jet itself reports the order it still knows: one fewer than asked.
        let direct = (Jet.exp(Jet(point: 0.0, direction: 1.0, order: 4)) - Jet(constant: 1.0)) / Jet(point: 0.0, direction: 1.0, order: 4)
        #expect(direct.order == 3 && direct.coefficients.allSatisfy { $0.isFinite })
    }

    @Test func theBranchNotTakenHasAZeroDerivativeInBothModes() {
        // select(x > 0, √x, 0) at 0: derivative 0 forward and reverse (√'(0) = ∞ is never multiplied by 0).
        let fwd = derivative(of: { x in Dual.select(x, Dual.sqrt(x), x.zerosLike()) }, at: 0.0)
        let rev = gradient(of: { x in Tracked.select(x[0], Tracked.sqrt(x[0]), x[0].zerosLike()) }, at: [0.0])[0]
        #expect(fwd == 0 && rev == 0, "forward \(fwd), reverse \(rev)")
        // The taken branch still differentiates: at 4, 1/(2·2).
        #expect(derivative(of: { x in Dual.select(x, Dual.sqrt(x), x.zerosLike()) }, at: 4.0) == 0.25)
        // The ReLU mask in reverse mode: √x masked where x > 0, at 0.
        let masked = gradient(of: { x in Tracked.sqrt(x[0]).masked(wherePositive: x[0]) }, at: [0.0])[0]
        #expect(masked == 0)
        // Second order: the HVP of the same function at 0 is 0 too.
        let h = hessianVectorProduct(of: { x in Tracked.select(x[0], Tracked.sqrt(x[0]), x[0].zerosLike()) }, at: [0.0], along: [1])[0]
        #expect(h == 0)
    }

    @Test func theGradientOfTheCubedNormAtTheOriginIsZero() throws {
        func gradientOfCubedNorm(_ x: [Double]) -> [Double] {
            let tape = Tape<Tensor<Double>>()
            let v = tape.variable(Tensor(x))
            return tape.cotangents(of: Tracked.pow(v.euclideanNorm(), 3), seed: Tensor(1))[0]!.scalars
        }
        #expect(gradientOfCubedNorm([0, 0, 0]) == [0, 0, 0])
        // ∇‖x‖³ = 3‖x‖·x; at (1, 2, 2), ‖x‖ = 3.
        let g = gradientOfCubedNorm([1, 2, 2])
        for (gi, xi) in zip(g, [1.0, 2, 2]) { #expect(abs(gi - 9 * xi) < 1e-13) }
        // ‖x‖ at the origin: subgradient 0, forward and reverse.
        let jvp = Dual(primal: Tensor<Double>([0, 0]), tangent: Tensor([1, -2])).euclideanNorm().tangentOrZero
        #expect(jvp.scalars == [0])
        // No overflow in the squares: ‖(3e200, 4e200)‖ = 5e200.
        #expect(abs(Tensor<Double>([3e200, 4e200]).euclideanNorm().scalars[0] / 5e200 - 1) < 1e-15)
    }

    @Test func crossEntropyAtEqualHugeLogitsIsLogThree() {
        let d = Tensor<Double>(shape: [1, 3], scalars: [3e7, 3e7, 3e7])
        let ce = -d.logSoftmax().gatherColumns([1]).scalars[0]
        #expect(abs(ce - Foundation.log(3.0)) <= Foundation.log(3.0).ulp, "\(ce)")
        let f = Tensor<Float>(shape: [1, 3], scalars: [3e7, 3e7, 3e7])
        let cf = -f.logSoftmax().gatherColumns([2]).scalars[0]
        #expect(cf != 0 && abs(Double(cf) - Foundation.log(3.0)) < 1e-6, "Float: \(cf)")
    }

    @Test func jetLogSoftmaxWithMinusInfinityLogits() {
        // Row [−∞, t, 1 + 2t]: the −∞ logit contributes nothing, so the finite columns are the
        // log-softmax of [t, 1 + 2t], and no coefficient is nan.
        let x = Tensor<Double>(shape: [1, 3], scalars: [-.infinity, 0, 1])
        let v = Tensor<Double>(shape: [1, 3], scalars: [0.5, 1, 2])
        let y = Jet(point: x, direction: v, order: 4).logSoftmax()
        let two = Jet(point: Tensor<Double>(shape: [1, 2], scalars: [0, 1]), direction: Tensor(shape: [1, 2], scalars: [1, 2]), order: 4).logSoftmax()
        #expect(y.primal.scalars[0] == -.infinity)
        for k in 0...4 {
            let c = y.coefficient(k).scalars, r = two.coefficient(k).scalars
            #expect(abs(c[1] - r[0]) < 1e-15 && abs(c[2] - r[1]) < 1e-15, "order \(k): \(c) vs \(r)")
            if k > 0 { #expect(c[0].isFinite, "order \(k): \(c)") }
        }
    }

    @Test func saturatedTanhAndSigmoidKeepTheirDerivatives() {
        let e60 = Foundation.exp(-60.0)
        let tanh30 = 4 * e60 / ((1 + e60) * (1 + e60))
        let t = derivative(of: { Dual.tanh($0) }, at: 30.0)
        #expect(abs(t / tanh30 - 1) < 1e-14, "tanh'(30) = \(t), expected \(tanh30)")
        #expect(abs(derivative(of: { Dual.tanh($0) }, at: -30.0) / tanh30 - 1) < 1e-14)
        let sigma60 = e60 / ((1 + e60) * (1 + e60))
        for x in [-60.0, 60.0] {
            let s = derivative(of: { Dual.sigmoid($0) }, at: x)
            #expect(abs(s / sigma60 - 1) < 1e-14, "σ'(\(x)) = \(s), expected \(sigma60)")
            let g = gradient(of: { Tracked.sigmoid($0[0]) }, at: [x])[0]
            #expect(abs(g / sigma60 - 1) < 1e-14)
        }
    }

    @Test func tiesSplitTheDerivativeEquallyInEveryMode() {
        // max(x, y) at x = y = 1 with tangents 1 and 3: ½·1 + ½·3 = 2; gradient (½, ½).
        let f = jvp(of: { Dual.max($0[0], $0[1]) }, at: [1.0, 1.0], along: [1, 3]).derivative
        let g = gradient(of: { Tracked.max($0[0], $0[1]) }, at: [1.0, 1.0])
        #expect(f == 2 && g == [0.5, 0.5])
        let m = gradient(of: { Tracked.min($0[0], $0[1]) }, at: [-2.0, -2.0])
        #expect(m == [0.5, 0.5])
        // Away from ties the larger operand takes it all.
        #expect(gradient(of: { Tracked.max($0[0], $0[1]) }, at: [2.0, 1.0]) == [1, 0])
        // Row maxima: [1, 3, 3] with tangent [5, 1, 2] → (1 + 2)/2; the cotangent 1 → [0, ½, ½].
        let x = Tensor<Double>(shape: [1, 3], scalars: [1, 3, 3])
        let jv = Dual(primal: x, tangent: Tensor(shape: [1, 3], scalars: [5, 1, 2])).maxColumns()
        #expect(jv.primal.scalars == [3] && jv.tangentOrZero.scalars == [1.5])
        let tape = Tape<Tensor<Double>>()
        let out = tape.variable(x).maxColumns().sum()
        #expect(tape.cotangents(of: out, seed: Tensor(1))[0]!.scalars == [0, 0.5, 0.5])
        // The jet routes the same way: c₁ is the average of the tied entries' c₁.
        let jet = Jet(coefficients: [x, Tensor(shape: [1, 3], scalars: [5, 1, 2])]).maxColumns()
        #expect(jet.coefficient(1).scalars == [1.5])
    }

    @Test func absAndSignConventionsAtZero() {
        #expect(derivative(of: { Dual.abs($0) }, at: 0.0) == 0)
        #expect(gradient(of: { Tracked.abs($0[0]) }, at: [0.0]) == [0])
        #expect(Double.sign(0) == 0 && Double.sign(-0.0) == 0 && Double.sign(-3) == -1)
        #expect(derivative(of: { Dual.sign($0) }, at: 0.0) == 0)
        #expect(derivative(of: { Dual.abs($0) }, at: -2.0) == -1)
    }

    @Test func reverseOverReverseGivesTheHessianVectorProduct() {
        // f = x₀²x₁ + x₁³ sin x₀; H = [[2x₁ − x₁³ sin x₀, 2x₀ + 3x₁² cos x₀], [·, 6x₁ sin x₀]].
        func f<V: ScalarAlgebra>(_ x: [V]) -> V { x[0] * x[0] * x[1] + x[1] * x[1] * x[1] * V.sin(x[0]) }
        let x = [0.7, -1.3], v = [0.4, 2.1]
        let inner = Tape<Double>()
        let xs = x.map { inner.variable($0) }
        let outer = Tape<Tracked<Double>>()
        let X = xs.map { outer.variable($0) }
        let g = outer.cotangents(of: f(X), seed: Tracked(untracked: 1))
        let gv = g[0]! * Tracked(untracked: v[0]) + g[1]! * Tracked(untracked: v[1])
        let hv = inner.cotangents(of: gv, seed: 1)
        let h00 = 2 * x[1] - x[1] * x[1] * x[1] * Foundation.sin(x[0]), h01 = 2 * x[0] + 3 * x[1] * x[1] * Foundation.cos(x[0])
        let h11 = 6 * x[1] * Foundation.sin(x[0])
        #expect(abs(hv[0]! - (h00 * v[0] + h01 * v[1])) < 1e-13)
        #expect(abs(hv[1]! - (h01 * v[0] + h11 * v[1])) < 1e-13)
        // The same from forward-over-reverse.
        let fr = hessianVectorProduct(of: { f($0) }, at: x, along: v)
        #expect(abs(fr[0] - hv[0]!) < 1e-13 && abs(fr[1] - hv[1]!) < 1e-13)
    }

    @Test func aDualLeakedFromOneDerivativeIsReadAsTheNextOnesPerturbation() {
        // Documented on `Dual`: the types cannot tell two calls at the same nesting level apart.
        // d/dy [y · x] at y = 3 is x = 2; with x a dual leaked from the first call (tangent 1),
        // the product rule adds x's tangent times y: 2 + 3 = 5.
        nonisolated(unsafe) var leaked: Dual<Double>? = nil
        _ = derivative(of: { x in leaked = x; return x }, at: 2.0)
        let confused = derivative(of: { y in y * leaked! }, at: 3.0)
        #expect(confused == 5)
        // Lifting the outer value as a constant gives the right answer.
        let lifted = Dual(primal: leaked!.primal)
        #expect(derivative(of: { y in y * lifted }, at: 3.0) == 2)
    }

    @Test func aCustomRuleWorksInEveryNumberSystem() throws {
        // softplus(x) = log(1 + eˣ), softplus' = σ: declared once, differentiated everywhere.
        struct Softplus: ElementwiseFunction {
            func callAsFunction(_ x: Float) -> Float { x > 0 ? x + Foundation.log1p(Foundation.exp(-x)) : Foundation.log1p(Foundation.exp(x)) }
            func callAsFunction(_ x: Double) -> Double { x > 0 ? x + Foundation.log1p(Foundation.exp(-x)) : Foundation.log1p(Foundation.exp(x)) }
            func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { V.sigmoid(x) }
        }
        let x = 0.8, s = 1 / (1 + Foundation.exp(-x))
        #expect(abs(derivative(of: { Dual.applying(Softplus(), to: $0) }, at: x) - s) < 1e-15)
        #expect(abs(gradient(of: { Tracked.applying(Softplus(), to: $0[0]) }, at: [x])[0] - s) < 1e-15)
        #expect(abs(secondDerivative(of: { Dual<Dual<Double>>.applying(Softplus(), to: $0) }, at: x) - s * (1 - s)) < 1e-15)
        let c = try taylorCoefficients(of: { Jet.applying(Softplus(), to: $0) }, at: x, along: 1.0, order: 3)
        #expect(abs(2 * c[2] - s * (1 - s)) < 1e-14)
        #expect(abs(6 * c[3] - s * (1 - s) * (1 - 2 * s)) < 1e-14)
        // A primal + JVP + VJP rule for tensors: y = x ⊙ x with a hand-written derivative.
        struct Square: TensorFunction {
            func value<S: TensorScalar>(_ x: Tensor<S>) -> Tensor<S> { x * x }
            func jvp<V: TensorAlgebra>(at x: V, value y: V, tangent t: V) -> V { (x * t).scaled(by: 2) }
            func vjp<V: TensorAlgebra>(at x: V, value y: V, cotangent g: V) -> V { (x * g).scaled(by: 2) }
        }
        let tape = Tape<Tensor<Double>>()
        let v = tape.variable(Tensor<Double>([1, -2]))
        #expect(tape.cotangents(of: Tracked.applying(Square(), to: v).sum(), seed: Tensor(1))[0]!.scalars == [2, -4])
        let j = Jet.applying(Square(), to: Jet(point: Tensor<Double>([3]), direction: Tensor([1]), order: 3))
        #expect(j.coefficients.map { $0.scalars[0] } == [9, 6, 1, 0])
    }
}

@Suite struct SelectInJetsTests {
    @Test func theBranchNotTakenDoesNotLimitAJetsOrder() throws {
        // select(t, √t, 0) at t = 0 is the exact 0: [0, 0, 0], not "no expansion" from √t.
        let c = try taylorCoefficients(of: { x in Jet.select(x, Jet.sqrt(x), x.zerosLike()) }, at: 0.0, along: 1.0, order: 2)
        #expect(c == [0, 0, 0])
        // Taken everywhere: the branch itself (√(1 + t) = 1 + t/2 − t²/8).
        let s = try taylorCoefficients(of: { x in Jet.select(x, Jet.sqrt(x), x.zerosLike()) }, at: 1.0, along: 1.0, order: 2)
        #expect(abs(s[0] - 1) < 1e-15 && abs(s[1] - 0.5) < 1e-15 && abs(s[2] + 0.125) < 1e-15)
        // Mixed over a tensor: each element follows its branch.
        let x = Tensor<Double>([-1, 4])
        let j = Jet.select(Jet(constant: x), Jet(point: x, direction: x.onesLike(), order: 2) * Jet(constant: x), Jet(constant: x.zerosLike()))
        #expect(j.coefficient(0).scalars == [0, 16] && j.coefficient(1).scalars == [0, 4])
    }
}

/// Inputs from an attack on the rule table: each once gave nan, a crash or exponential time.
@Suite struct HostileInputTests {
    @Test func reverseModeAgreesWithForwardModeThroughAZeroFactor() {
        // √(x·x) at 0: forward 0 (strong zero), reverse 0 too (not ∞·0).
        #expect(derivative(of: { x in Dual.sqrt(x * x) }, at: 0.0) == 0)
        #expect(gradient(of: { x in Tracked.sqrt(x[0] * x[0]) }, at: [0.0]) == [0])
        // erf'' at 1e308: the tangent of x² overflows, exp(−x²) is flat: 0, not nan.
        #expect(secondDerivative(of: { Dual<Dual<Double>>.erf($0) }, at: 1e308) == 0)
    }

    @Test func variablePowersAtZeroExponents() {
        // d/dx x^0 = 0 at 0; d²/dx² x^1 = 0 at 0 (the exponent a constant dual).
        #expect(derivative(of: { x in Dual.pow(x, x.zerosLike()) }, at: 0.0) == 0)
        #expect(secondDerivative(of: { x in Dual<Dual<Double>>.pow(x, x.onesLike()) }, at: 0.0) == 0)
        // x^y at (2, 3): ∂x = 3·4 = 12, ∂y = 8 log 2.
        let g = gradient(of: { Tracked.pow($0[0], $0[1]) }, at: [2.0, 3.0])
        #expect(abs(g[0] - 12) < 1e-13 && abs(g[1] - 8 * Foundation.log(2.0)) < 1e-13)
    }

    @Test func fractionalPowersOfHighOrderTakeQuadraticTime() throws {
        // (1 + t)^0.5 to order 40: the binomial series, quickly (once exponential in the order).
        let start = Date()
        let c = try taylorCoefficients(of: { Jet.pow($0, 0.5) }, at: 1.0, along: 1.0, order: 40)
        #expect(Date().timeIntervalSince(start) < 2)
        var binomial = 1.0
        for k in 0...40 {
            #expect(abs(c[k] - binomial) < 1e-12 * max(abs(binomial), 1e-3), "c\(k)")
            binomial *= (0.5 - Double(k)) / Double(k + 1)
        }
        let p = try taylorCoefficients(of: { x in Jet.pow(x, Jet(constant: 3.0)) }, at: 2.0, along: 1.0, order: 20)
        #expect(abs(p[0] - 8) < 1e-12 && abs(p[1] - 12) < 1e-12 && abs(p[3] - 1) < 1e-12 && abs(p[4]) < 1e-12)
    }

    @Test func hugeExponentsAndPolesAtZero() throws {
        // t^1e300 at 0: every coefficient through the order is 0 (no Int conversion trap).
        #expect(try taylorCoefficients(of: { Jet.pow($0, 1e300) }, at: 0.0, along: 1.0, order: 5) == [0, 0, 0, 0, 0, 0])
        // Poles have no expansion: said, not returned as alternating infinities.
        #expect(throws: AutodiffError.noTaylorExpansion(knownOrder: 0, requested: 3)) {
            try taylorCoefficients(of: { t in t.onesLike() / t }, at: 0.0, along: 1.0, order: 3)
        }
        #expect(throws: AutodiffError.noTaylorExpansion(knownOrder: 0, requested: 2)) {
            try taylorCoefficients(of: { Jet.pow($0, -1.5) }, at: 0.0, along: 1.0, order: 2)
        }
        #expect(throws: AutodiffError.noTaylorExpansion(knownOrder: 0, requested: 2)) {
            try taylorCoefficients(of: { Jet.log($0) }, at: 0.0, along: 1.0, order: 2)
        }
        // 0/t² ≡ 0.
        #expect(try taylorCoefficients(of: { t in t.zerosLike() / (t * t) }, at: 0.0, along: 1.0, order: 3) == [0, 0, 0, 0])
    }

    @Test func normsOfNaNHugeAndTinyVectors() {
        #expect(Tensor<Double>([.nan, 0]).euclideanNorm().scalars[0].isNaN)
        let huge = Dual(primal: Tensor<Double>([1e308, 1e308]), tangent: Tensor([1, 1])).euclideanNorm().tangentOrZero.scalars[0]
        #expect(abs(huge - 2.0.squareRoot()) < 1e-15)
        let tiny = Dual(primal: Tensor<Double>([1e-300, 1e-300]), tangent: Tensor([1e-300, 1e-300])).euclideanNorm().tangentOrZero.scalars[0]
        #expect(abs(tiny / (2.0.squareRoot() * 1e-300) - 1) < 1e-15)
    }

    @Test func logSoftmaxWithAnInfiniteLogit() {
        let y = Tensor<Double>(shape: [1, 3], scalars: [.infinity, 0, .infinity]).logSoftmax().scalars
        #expect(abs(y[0] + Foundation.log(2.0)) < 1e-15 && y[1] == -.infinity && abs(y[2] + Foundation.log(2.0)) < 1e-15)
    }

    @Test func highDerivativesDoNotOverflowThroughTheFactorial() throws {
        // A quadratic's 171st derivative is 0 (171! alone is ∞ in Double).
        let jet = Jet(point: 0.5, direction: 1.0, order: 172) * Jet(point: 0.5, direction: 1.0, order: 172)
        #expect(jet.derivative(171) == 0 && jet.derivative(2) == 2)
        let e = Jet<Float>.exp(Jet(point: 0, direction: 1, order: 35))
        #expect(abs(e.derivative(35) - 1) < 1e-2)
    }
}

import Foundation
import Testing
import Autodiff
import Tensors

/// Reference Taylor coefficients c_k = f⁽ᵏ⁾(a)/k!, k = 0…10, of f(a + t) at a ∈ {0, 0.3, −0.7},
/// computed with SymPy 1.14 (`sympy.series(f.subs(t, a + t), t, 0, 11)`, evaluated to 25 digits
/// and rounded to Double; the script is in Notes/jets.md).
enum SymPyReference {
    static let expSin: [Double: [Double]] = [
        0.0: [1.0, 1.0, 0.5, 0.0, -0.125, -0.06666666666666667, -0.004166666666666667, 0.011111111111111112, 0.005381944444444444, 0.0001763668430335097, -0.0008132164902998236],
        0.3: [1.3438252437316534, 1.2838052903449595, 0.41466926252736486, -0.20838145749231546, -0.21716566414997754, -0.04544721385075288, 0.031418979765035236, 0.021211066591855416, 0.0013813403938062107, -0.0034188083776595358, -0.0013202809045321554],
        -0.7: [0.5250731529012792, 0.401598098749377, 0.3227102902247151, 0.10157999774512405, 0.01890796457890264, -0.01397923217254958, -0.009398255136718157, -0.003206970757838689, -8.945039828393532e-05, 0.0004138165574988926, 0.0002009784634531433],
    ]
    static let tan: [Double: [Double]] = [
        0.0: [0.0, 1.0, 0.0, 0.3333333333333333, 0.0, 0.13333333333333333, 0.0, 0.05396825396825397, 0.0, 0.021869488536155203, 0.0],
        0.3: [0.30933624960962325, 1.095688915322547, 0.3389362998047128, 0.4700749222790018, 0.25838998009489245, 0.2609696707016498, 0.17438929033510892, 0.15369984700151434, 0.11213402274195412, 0.09294648579237616, 0.07062363212401472],
        -0.7: [-0.8422883804630794, 1.7094497158631172, -1.4398496326574164, 1.7825851871557474, -1.981400667879362, 2.301093593445446, -2.6306479439137513, 3.0260262812183445, -3.472747850380096, 3.989000458276167, -4.580428366307289],
    ]
    static let tanh: [Double: [Double]] = [
        0.0: [0.0, 1.0, 0.0, -0.3333333333333333, 0.0, 0.13333333333333333, 0.0, -0.05396825396825397, 0.0, 0.021869488536155203, 0.0],
        0.3: [0.2913126124515909, 0.9151369618266292, -0.2665909391007272, -0.22738435101685392, 0.15510357569223834, 0.05094753276627627, -0.07246709385664701, -0.0028617158748976035, 0.029000311634046875, -0.005687167355576227, -0.01000508972699025],
        -0.7: [-0.6043677771171635, 0.6347395899824586, 0.38361615504595825, 0.02026537956387275, -0.11562430928253273, -0.06252940908125022, 0.009275479902091675, 0.025555915087021784, 0.008972029821715077, -0.0043943283378279, -0.0051144491439767134],
    ]
    static let sigmoid: [Double: [Double]] = [
        0.0: [0.5, 0.25, 0.0, -0.020833333333333332, 0.0, 0.0020833333333333333, 0.0, -0.00021081349206349207, 0.0, 2.1356922398589065e-05, 0.0],
        0.3: [0.574442516811659, 0.24445831169074586, -0.01819809197778812, -0.019016814206232215, 0.002932167176067314, 0.001705982045790846, -0.00039661998954337754, -0.00014713596107491012, 4.86790802182839e-05, 1.183791772570479e-05, -5.600703423252921e-06],
        -0.7: [0.3318122278318339, 0.22171287329310904, 0.037289394220170906, -0.01220445263503472, -0.005160089217565969, 0.00045710835613526013, 0.0005586782961607991, 3.158809140846318e-05, -4.964369942721868e-05, -9.76005067327735e-06, 3.472861594439491e-06],
    ]
}

func expectSeries(_ got: [Double], _ expected: [Double], _ label: String, tolerance: Double = 1e-13) {
    #expect(got.count == expected.count, "\(label): \(got.count) coefficients")
    for (k, (g, e)) in zip(got, expected).enumerated() {
        #expect(abs(g - e) <= tolerance * max(1, abs(e)), "\(label): c_\(k) = \(g), expected \(e)")
    }
}

@Suite struct JetSeriesTests {
    static let points: [Double] = [0, 0.3, -0.7]
    static let order = 10

    @Test(arguments: points) func expOfSinMatchesSymPy(a: Double) throws {
        let c = try taylorCoefficients(of: { Jet.exp(Jet.sin($0)) }, at: a, along: 1.0, order: Self.order)
        expectSeries(c, SymPyReference.expSin[a]!, "exp(sin t) at \(a)")
    }

    @Test(arguments: points) func tanFromSinOverCosMatchesSymPy(a: Double) throws {
        let c = try taylorCoefficients(of: { Jet.sin($0) / Jet.cos($0) }, at: a, along: 1.0, order: Self.order)
        expectSeries(c, SymPyReference.tan[a]!, "sin/cos at \(a)", tolerance: 1e-12)
    }

    @Test(arguments: points) func tanhAndSigmoidMatchSymPy(a: Double) throws {
        expectSeries(try taylorCoefficients(of: { Jet.tanh($0) }, at: a, along: 1.0, order: Self.order), SymPyReference.tanh[a]!, "tanh at \(a)")
        expectSeries(try taylorCoefficients(of: { Jet.sigmoid($0) }, at: a, along: 1.0, order: Self.order), SymPyReference.sigmoid[a]!, "sigmoid at \(a)")
    }

    @Test(arguments: points) func logOfOnePlusTIsTheAlternatingHarmonicSeries(a: Double) throws {
        // log(1 + a + t): c_k = (−1)^{k+1} / (k (1+a)^k).
        let c = try taylorCoefficients(of: { Jet.log($0.shifted(by: 1)) }, at: a, along: 1.0, order: Self.order)
        var expected: [Double] = [Foundation.log(1 + a)]
        for k in 1...Self.order {
            let sign: Double = k % 2 == 1 ? 1 : -1
            expected.append(sign / (Double(k) * Foundation.pow(1 + a, Double(k))))
        }
        expectSeries(c, expected, "log(1+t) at \(a)")
    }

    @Test(arguments: points) func geometricSeries(a: Double) throws {
        // 1/(1 − a − t): c_k = 1/(1−a)^{k+1}.
        let one = Jet<Double>(constant: 1)
        let c = try taylorCoefficients(of: { one / (one - $0) }, at: a, along: 1.0, order: Self.order)
        expectSeries(c, (0...Self.order).map { 1 / Foundation.pow(1 - a, Double($0 + 1)) }, "1/(1-t) at \(a)")
    }

    @Test(arguments: points) func squareRootAndHalfPowerMatchTheBinomialSeries(a: Double) throws {
        // (1 + a + t)^r = Σ binom(r, k) (1+a)^{r−k} t^k.
        func binomialSeries(_ r: Double) -> [Double] {
            var coefficient = 1.0
            return (0...Self.order).map { k in
                if k > 0 { coefficient *= (r - Double(k - 1)) / Double(k) }
                return coefficient * Foundation.pow(1 + a, r - Double(k))
            }
        }
        expectSeries(try taylorCoefficients(of: { Jet.sqrt($0.shifted(by: 1)) }, at: a, along: 1.0, order: Self.order), binomialSeries(0.5), "sqrt(1+t) at \(a)")
        expectSeries(try taylorCoefficients(of: { Jet.pow($0.shifted(by: 1), 0.5) }, at: a, along: 1.0, order: Self.order), binomialSeries(0.5), "(1+t)^0.5 at \(a)")
        expectSeries(try taylorCoefficients(of: { Jet.pow($0.shifted(by: 1), -1.7) }, at: a, along: 1.0, order: Self.order), binomialSeries(-1.7), "(1+t)^-1.7 at \(a)", tolerance: 1e-12)
    }

    @Test func derivativesAreFactorialTimesCoefficients() {
        let y = Jet.exp(Jet(point: 0.4, direction: 1.0, order: 6))
        for k in 0...6 { #expect(abs(y.derivative(k) - Foundation.exp(0.4)) < 1e-13, "d^\(k)/dt^k exp") }
    }

    @Test func orderZeroAndOneReduceToValuesAndDuals() throws {
        func f<A: ScalarAlgebra>(_ x: A) -> A { A.tanh(x * x) + A.exp(A.sin(x)) / x }
        let x = 0.8
        let c0 = try taylorCoefficients(of: f, at: x, along: 1.0, order: 0)
        #expect(c0 == [f(x)])
        let c1 = try taylorCoefficients(of: f, at: x, along: 1.0, order: 1)
        let (value, d) = valueWithDerivative(of: f, at: x)
        #expect(c1[0] == value)
        #expect(abs(c1[1] - d) <= 1e-15 * abs(d))
    }

    @Test func nestedJetOverDual() throws {
        // Jet<Dual<Double>>: d/dx of the second Taylor coefficient of sin(x + t) = −sin(x)/2 is −cos(x)/2.
        let x = 0.6
        let d = derivative(of: { (p: Dual<Double>) -> Dual<Double> in
            Jet.sin(Jet(point: p, direction: Dual(primal: 1.0), order: 2)).coefficient(2)
        }, at: x)
        #expect(abs(d - (-Foundation.cos(x) / 2)) < 1e-15)
    }

    @Test func badInputGivesClearErrorsOrIEEEResults() throws {
        #expect(throws: AutodiffError.self) { try taylorCoefficients(of: { Jet.exp($0) }, at: 1.0, along: 1.0, order: -1) }
        #expect(throws: AutodiffError.lengthMismatch(what: "the direction", expected: 2, actual: 1)) {
            try taylorCoefficients(of: { (x: [Jet<Double>]) in x[0] * x[1] }, at: [1, 2], along: [1], order: 2)
        }
        // √t has no expansion at t = 0 beyond its value: said, not returned as infinities.
        #expect(throws: AutodiffError.noTaylorExpansion(knownOrder: 0, requested: 3)) {
            try taylorCoefficients(of: { Jet.sqrt($0) }, at: 0.0, along: 1.0, order: 3)
        }
    }
}

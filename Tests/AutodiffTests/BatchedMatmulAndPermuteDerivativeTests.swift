import Foundation
import Testing
import Autodiff
import Tensors

/// Σ W ⊙ tanh(batchedMatmul(A, B)) with a constant W: bilinear inside a nonlinearity, so the
/// Hessian has A–A, A–B and B–B blocks. `A`, `B` are the two layout entries.
struct BatchedProductLoss: TensorObjective {
    typealias Scalar = Double
    let transposeA: Bool, transposeB: Bool
    let batch: Int, m: Int, k: Int, n: Int
    let weights: Tensor<Double>
    var aShape: [Int] { transposeA ? [batch, k, m] : [batch, m, k] }
    var bShape: [Int] { transposeB ? [batch, n, k] : [batch, k, n] }
    var layout: ParameterLayout { ParameterLayout([(name: "a", shape: aShape), (name: "b", shape: bShape)]) }

    func callAsFunction<A: TensorAlgebra>(_ p: [A]) -> A where A.Scalar == Double {
        (A(constant: weights) * A.tanh(A.batchedMatmul(p[0], p[1], transposeA: transposeA, transposeB: transposeB))).sum()
    }
}

/// Σ W ⊙ sin(x.permuted(axes)) ⊙ (x.permuted(axes) + c) with constants W and c of the permuted
/// shape, so a wrong permutation pairs elements with the wrong weights.
struct PermutedLoss: TensorObjective {
    typealias Scalar = Double
    let shape: [Int], axes: [Int]
    let weights: Tensor<Double>, offsets: Tensor<Double>
    var layout: ParameterLayout { ParameterLayout([(name: "x", shape: shape)]) }

    func callAsFunction<A: TensorAlgebra>(_ p: [A]) -> A where A.Scalar == Double {
        let y = p[0].permuted(axes)
        return (A(constant: weights) * A.sin(y) * (y + A(constant: offsets))).sum()
    }
}

/// Central differences of an objective, the reference for every derivative below.
enum FiniteDifferences {
    static func value<O: Objective>(_ f: O, _ θ: Tensor<Double>) throws -> Double where O.Scalar == Double {
        try Autodiff.value(of: f, at: θ)
    }
    static func shifted(_ θ: Tensor<Double>, _ v: Tensor<Double>, _ h: Double) -> Tensor<Double> {
        var r = θ; r.addScaled(v, h); return r
    }
    /// (f(θ + hv) − f(θ − hv)) / 2h.
    static func directional<O: Objective>(_ f: O, _ θ: Tensor<Double>, _ v: Tensor<Double>, h: Double = 1e-5) throws -> Double
    where O.Scalar == Double {
        (try value(f, shifted(θ, v, h)) - value(f, shifted(θ, v, -h))) / (2 * h)
    }
    /// (f(θ + hv) − 2f(θ) + f(θ − hv)) / h² = vᵀHv + O(h²).
    static func secondDirectional<O: Objective>(_ f: O, _ θ: Tensor<Double>, _ v: Tensor<Double>, h: Double = 1e-4) throws -> Double
    where O.Scalar == Double {
        (try value(f, shifted(θ, v, h)) - 2 * value(f, θ) + value(f, shifted(θ, v, -h))) / (h * h)
    }
    /// The gradient, one central difference per coordinate.
    static func gradient<O: Objective>(_ f: O, _ θ: Tensor<Double>, h: Double = 1e-5) throws -> Tensor<Double> where O.Scalar == Double {
        Tensor(try (0..<θ.count).map { i in
            var e = [Double](repeating: 0, count: θ.count); e[i] = 1
            return try directional(f, θ, Tensor(e), h: h)
        })
    }
    /// (∇f(θ + hv) − ∇f(θ − hv)) / 2h, with the gradients from reverse mode: the reference for an HVP.
    static func hvp<O: Objective>(_ f: O, _ θ: Tensor<Double>, _ v: Tensor<Double>, h: Double = 1e-5) throws -> Tensor<Double>
    where O.Scalar == Double {
        let plus = try Autodiff.gradient(of: f, at: shifted(θ, v, h)), minus = try Autodiff.gradient(of: f, at: shifted(θ, v, -h))
        return (plus - minus).scaled(by: 1 / (2 * h))
    }
}

/// max |a − b| / max(‖b‖∞, 1).
func relativeError(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Double {
    let scale = max(b.scalars.map(abs).max() ?? 0, 1)
    return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

func randomTensor(_ shape: [Int], _ rng: inout SplitMix64) -> Tensor<Double> {
    Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in 2 * rng.nextUnitDouble() - 1 })
}

@Suite struct BatchedMatmulAndPermuteDerivativeTests {
    static let seed: UInt64 = 20261206
    static let flags: [(Bool, Bool)] = [(false, false), (false, true), (true, false), (true, true)]

    @Test("batchedMatmul: JVP, gradient, HVP, linearized HVP and jets against finite differences (all four flag pairs)",
          arguments: 0..<4)
    func batchedMatmulDerivatives(flagIndex: Int) throws {
        let (ta, tb) = Self.flags[flagIndex]
        let seed = Self.seed &+ UInt64(flagIndex)
        var rng = SplitMix64(seed: seed)
        let f = BatchedProductLoss(transposeA: ta, transposeB: tb, batch: 3, m: 2, k: 4, n: 3, weights: randomTensor([3, 2, 3], &rng))
        let d = f.layout.parameterCount
        // Unequal operands: A and B drawn independently, A larger in scale.
        let θ = f.layout.flatten([randomTensor(f.aShape, &rng).scaled(by: 1.5), randomTensor(f.bShape, &rng)])
        let v = randomTensor([d], &rng)
        let context = "seed \(seed), transposeA \(ta), transposeB \(tb)"

        // JVP (Dual).
        let jvp = try Autodiff.jvp(of: f, at: θ, along: v).derivative
        let fdJVP = try FiniteDifferences.directional(f, θ, v)
        #expect(abs(jvp - fdJVP) <= 1e-8 * max(abs(fdJVP), 1), "\(context): JVP \(jvp) vs \(fdJVP)")
        // Gradient (Tracked), coordinate by coordinate.
        let (value, g, hv) = try valueGradientAndHVP(of: f, at: θ, along: v)
        #expect(value == (try Autodiff.value(of: f, at: θ)), "\(context)")
        let fdGradient = try FiniteDifferences.gradient(f, θ)
        #expect(relativeError(g, fdGradient) <= 1e-8, "\(context): gradient error \(relativeError(g, fdGradient))")
        // HVP (Tracked<Dual>, forward over reverse) and the linearized Hessian (Tracked<Linearized>).
        let fdHVP = try FiniteDifferences.hvp(f, θ, v)
        #expect(relativeError(hv, fdHVP) <= 1e-7, "\(context): HVP error \(relativeError(hv, fdHVP))")
        let linearized = try LinearizedHessian(of: f, at: θ).apply(v)
        #expect(relativeError(linearized, hv) <= 1e-13, "\(context): linearized HVP vs HVP \(relativeError(linearized, hv))")
        // Jet of order 2: c₁ = ∇fᵀv, 2c₂ = vᵀHv.
        let c = try taylorCoefficients(of: f, at: θ, along: v, order: 2)
        let vHv = hv.dot(v)
        #expect(abs(c[1] - g.dot(v)) <= 1e-12 * max(abs(c[1]), 1), "\(context): c₁ \(c[1]) vs ∇fᵀv \(g.dot(v))")
        #expect(abs(2 * c[2] - vHv) <= 1e-11 * max(abs(vHv), 1), "\(context): 2c₂ \(2 * c[2]) vs vᵀHv \(vHv)")
        let fdCurvature = try FiniteDifferences.secondDirectional(f, θ, v)
        #expect(abs(vHv - fdCurvature) <= 1e-5 * max(abs(vHv), 1), "\(context): vᵀHv \(vHv) vs second difference \(fdCurvature)")
    }

    @Test("permuted: gradient (Tracked), HVP and jets of order 2 against finite differences, rank 4 and rank 3",
          arguments: [([2, 3, 2, 3], [2, 0, 3, 1]), ([3, 4, 2], [1, 2, 0])])
    func permutedDerivatives(shape: [Int], axes: [Int]) throws {
        let seed = Self.seed &+ 10 &+ UInt64(shape.count)
        var rng = SplitMix64(seed: seed)
        let resultShape = axes.map { shape[$0] }
        let f = PermutedLoss(shape: shape, axes: axes, weights: randomTensor(resultShape, &rng), offsets: randomTensor(resultShape, &rng))
        let d = f.layout.parameterCount
        let θ = randomTensor([d], &rng).scaled(by: 2), v = randomTensor([d], &rng)
        let context = "seed \(seed), shape \(shape), axes \(axes)"

        let g = try Autodiff.gradient(of: f, at: θ)
        let fdGradient = try FiniteDifferences.gradient(f, θ)
        #expect(relativeError(g, fdGradient) <= 1e-8, "\(context): gradient error \(relativeError(g, fdGradient))")
        let hv = try hessianVectorProduct(of: f, at: θ, along: v)
        #expect(relativeError(hv, try FiniteDifferences.hvp(f, θ, v)) <= 1e-7, "\(context): HVP")
        // Jet of order 2 against differences of the value along v.
        let c = try taylorCoefficients(of: f, at: θ, along: v, order: 2)
        let fd1 = try FiniteDifferences.directional(f, θ, v), fd2 = try FiniteDifferences.secondDirectional(f, θ, v)
        #expect(abs(c[1] - fd1) <= 1e-8 * max(abs(fd1), 1), "\(context): c₁ \(c[1]) vs \(fd1)")
        #expect(abs(2 * c[2] - fd2) <= 1e-5 * max(abs(fd2), 1), "\(context): 2c₂ \(2 * c[2]) vs \(fd2)")
        // Jets of order 2 through Tracked: the gradient of c₁ is the gradient's directional form Hv.
        #expect(abs(2 * c[2] - hv.dot(v)) <= 1e-11 * max(abs(fd2), 1), "\(context): 2c₂ vs vᵀHv")
    }

    @Test("Watched runs both operations in its inner number system")
    func watchedForwards() {
        var rng = SplitMix64(seed: Self.seed &+ 30)
        let a = randomTensor([2, 3, 4], &rng), b = randomTensor([2, 4, 2], &rng), v = randomTensor([2, 3, 4], &rng)
        func f<A: TensorAlgebra>(_ x: A, _ b: A) -> A where A.Scalar == Double {
            A.batchedMatmul(x.permuted([0, 2, 1]), b, transposeA: true, transposeB: false).gelu().sum()
        }
        let jet = f(Jet(point: a, direction: v, order: 2), Jet(constant: b))
        let watched = f(Watched(Jet(point: a, direction: v, order: 2)), Watched(Jet(constant: b)))
        #expect(watched.value.coefficient(1) == jet.coefficient(1) && watched.value.coefficient(2) == jet.coefficient(2))
    }
}

/// GELU against closed forms and at its edges.
@Suite struct GELUTests {
    /// Φ(1) and Φ(−10) (the standard normal CDF; Φ(−10) = erfc(10/√2)/2 from mpmath).
    static let cdfOf1 = 0.8413447460685429, cdfOfMinus10 = 7.619853024160527e-24

    @Test func valuesAndDerivativesMatchClosedForms() {
        #expect(abs(Double.gelu(1) - Self.cdfOf1) <= 2e-16)
        #expect(abs(Double.gelu(-1) - (-(1 - Self.cdfOf1))) <= 2e-16)
        // The left tail keeps its digits: −10·Φ(−10), where 1 + erf(−10/√2) cancels to 0.
        #expect(abs(Double.gelu(-10) / (-10 * Self.cdfOfMinus10) - 1) <= 1e-14, "gelu(−10) = \(Double.gelu(-10))")
        // GELU'(0) = Φ(0) = 1/2, GELU''(0) = 2φ(0) = √(2/π), GELU''(x) = φ(x)(2 − x²).
        #expect(derivative(of: { Dual.gelu($0) }, at: 0.0) == 0.5)
        #expect(abs(secondDerivative(of: { Dual<Dual<Double>>.gelu($0) }, at: 0.0) - (2 / Double.pi).squareRoot()) <= 1e-16)
        let phi2 = Foundation.exp(-2.0) / (2 * Double.pi).squareRoot()
        #expect(abs(secondDerivative(of: { Dual<Dual<Double>>.gelu($0) }, at: 2.0) - phi2 * (2 - 4)) <= 1e-16)
        // Float agrees with Double to Float's rounding; the instance spelling is the same function.
        #expect(abs(Double(Float.gelu(1)) - Self.cdfOf1) <= 1e-7)
        #expect(Tensor<Double>([1, -1]).gelu() == Tensor<Double>.gelu(Tensor([1, -1])))
    }

    @Test func edgesAreFiniteAndSigned() {
        for x in [-40.0, -1e308, -Double.infinity] {
            let y = Double.gelu(x)
            #expect(!y.isNaN && y <= 0 && y > -1e-300, "gelu(\(x)) = \(y)")
        }
        #expect(Float.gelu(-40).isZero && !Float.gelu(-Float.infinity).isNaN)
        #expect(Double.gelu(40) == 40 && Double.gelu(.infinity) == .infinity)
        // First and second derivatives at ±large finite points: 1 and 0 on the right, 0 and 0 on
        // the left, never nan from 0·∞ (x·φ(x) with x² overflowing).
        for (x, d1) in [(1e308, 1.0), (-1e308, 0.0), (700, 1), (-700, 0), (40, 1)] {
            let d = derivative(of: { Dual.gelu($0) }, at: x), dd = secondDerivative(of: { Dual<Dual<Double>>.gelu($0) }, at: x)
            #expect(d == d1 && dd == 0, "GELU'(\(x)) = \(d), GELU''(\(x)) = \(dd)")
            let g = gradient(of: { Tracked.gelu($0[0]) }, at: [x])[0]
            let h = hessianVectorProduct(of: { Tracked.gelu($0[0]) }, at: [x], along: [1])[0]
            #expect(g == d1 && h == 0, "reverse mode at \(x): \(g), \(h)")
        }
        // The left tail's derivative keeps its digits: GELU'(−30) = Φ(−30) − 30φ(30), with Φ(−30)
        // from the asymptotic series of Mills' ratio, Φ(−x) = φ(x)/x·Σ (−1)ᵏ(2k−1)!!/x²ᵏ
        // (Abramowitz & Stegun 26.2.12; at x = 30 the ninth term is below 1e−17). Through
        // 1 + erf(−30/√2) = 0 it would be −30φ(30), 1/900 too large in magnitude.
        let x = 30.0, phi = Foundation.exp(-x * x / 2) / (2 * Double.pi).squareRoot()
        var series = 1.0, term = 1.0
        for k in 1...8 { term *= -Double(2 * k - 1) / (x * x); series += term }
        let expected = phi / x * series - x * phi
        for d in [derivative(of: { Dual.gelu($0) }, at: -x), gradient(of: { Tracked.gelu($0[0]) }, at: [-x])[0]] {
            #expect(abs(d / expected - 1) <= 1e-13, "GELU'(−30) = \(d), expected \(expected)")
        }
    }
}

import Foundation
import Testing
import Autodiff
import Layers
import Tensors

/// Σ of a model's logits weighted by fixed random weights: a polynomial in t along a line while the
/// routing holds (degree = depth), so its order-K jet (K > depth) is the function there.
struct WeightedLogits<M: Model>: Objective {
    typealias Scalar = Double
    let model: M, input: Tensor<Double>, weights: Tensor<Double>
    var layout: ParameterLayout { model.layout }
    func callAsFunction<A: ConvolutionAlgebra>(_ p: [A]) -> A where A.Scalar == Double {
        (model.logits(p, input: A(constant: input)) * A(constant: weights)).sum()
    }
}

/// A function of a parameter vector given by a closure in every algebra the tests need.
struct VectorFunction: Objective {
    typealias Scalar = Double
    let layout: ParameterLayout
    let kind: Int
    init(count: Int, kind: Int) { layout = ParameterLayout(vectorOf: count); self.kind = kind }
    func callAsFunction<A: ConvolutionAlgebra>(_ p: [A]) -> A where A.Scalar == Double {
        let x = p[0]
        switch kind {
        case 0: return x.shifted(by: -1).relu().sum()                              // relu(x − 1)
        case 1: return (x * x).shifted(by: -1).relu().sum()                        // relu(x² − 1)
        case 2: return x.reshaped([1, 1, 2, 2]).maxPool2x2().sum()                 // a pool window
        case 3: return A.max(x.reshaped([1, 2]).gatherColumns([0]), x.reshaped([1, 2]).gatherColumns([1])).sum()   // max(x₀, x₁)
        case 4: return A.abs(x.shifted(by: -0.25)).sum()                           // |x − ¼|
        default: return A.exp(x.scaled(by: 1.5)).sum()                             // e^{1.5x}
        }
    }
}

/// The routing of an MLP at θ, computed with plain tensors: the sign of every hidden pre-activation.
func mlpPattern(_ model: MLP, _ θ: Tensor<Double>, _ x: Tensor<Double>) throws -> [Bool] {
    let blocks = try model.layout.split(θ)
    var h = x, pattern: [Bool] = []
    for i in 0..<(model.sizes.count - 2) {
        let z = Tensor.matmul(h, blocks[2 * i], transposeA: false, transposeB: true).addingRowBroadcast(blocks[2 * i + 1])
        pattern += z.scalars.map { $0 > 0 }
        h = z.relu()
    }
    return pattern
}

/// The routing of the tiny CNN (`tinyCNNLoss`): signs of the pre-activations and each pooling
/// window's argmax (first maximum in scan order), from plain tensor operations.
func cnnPattern(_ θ: Tensor<Double>, _ model: CNN, _ x: Tensor<Double>) throws -> [Int] {
    let b = try model.layout.split(θ)
    var h = x.reshaped([x.shape[0], 1, 8, 8]), pattern: [Int] = []
    for i in 0..<2 {
        let z = Tensor.conv2d(h, b[2 * i], stride: 1, padding: 1).addingChannelBias(b[2 * i + 1])
        pattern += z.scalars.map { $0 > 0 ? 1 : 0 }
        let r = z.relu()
        let (n, c, hh, ww) = (r.shape[0], r.shape[1], r.shape[2], r.shape[3])
        let s = r.scalars
        for pl in 0..<(n * c) { for oy in 0..<(hh / 2) { for ox in 0..<(ww / 2) {
            let idx = [(0, 0), (0, 1), (1, 0), (1, 1)].map { pl * hh * ww + (2 * oy + $0.0) * ww + 2 * ox + $0.1 }
            var a = 0
            for j in 1..<4 where s[idx[j]] > s[idx[a]] { a = j }
            pattern.append(10 + a)
        } } }
        h = r.maxPool2x2()
    }
    let z = Tensor.matmul(h.flattened(), b[4], transposeA: false, transposeB: true).addingRowBroadcast(b[5])
    return pattern + z.scalars.map { $0 > 0 ? 1 : 0 }
}

/// The first t in (0, T] where `pattern(θ + t·v)` differs from the pattern just after 0, by a grid
/// of `steps` points and bisection between the last equal and the first different one.
func bruteForceSwitch<P: Equatable>(_ T: Double, steps: Int = 2000, _ pattern: (Double) throws -> P) rethrows -> Double {
    let start = try pattern(T * 1e-12)
    var previous = T * 1e-12
    for i in 1...steps {
        let t = T * Double(i) / Double(steps)
        if try pattern(t) != start {
            var lo = previous, hi = t
            for _ in 0..<80 { let mid = (lo + hi) / 2; if try pattern(mid) == start { lo = mid } else { hi = mid } }
            return (lo + hi) / 2
        }
        previous = t
    }
    return .infinity
}

func moved(_ θ: Tensor<Double>, _ v: Tensor<Double>, _ t: Double) -> Tensor<Double> { var p = θ; p.addScaled(v, t); return p }

@Suite struct SmoothnessRadiusTests {
    @Test(arguments: [UInt64(1), 2, 3, 4]) func mlpRadiusMatchesBruteForce(seed: UInt64) throws {
        let model = MLP(sizes: [5, 6, 5, 3])
        var rng = SplitMix64(seed: seed)
        let x = Tensor<Double>.randomNormal([4, 5], using: &rng)
        let θ = model.initialParameters(Double.self, seed: seed).scaled(by: 2)
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng).normalized()
        let f = try model.loss(on: x, labels: [0, 1, 2, 0])
        let r = try smoothnessRadius(of: f, at: θ, along: v, order: 4)
        #expect(r.isExact && r.routingDegree == 2, "seed \(seed): degree \(r.routingDegree)")
        for (distance, direction) in [(r.forward, v), (r.backward, v.scaled(by: -1))] {
            let brute = try bruteForceSwitch(4 * distance) { try mlpPattern(model, moved(θ, direction, $0), x) }
            #expect(abs(brute - distance) <= 1e-9 * distance, "seed \(seed): radius \(distance), brute force \(brute)")
        }
    }

    @Test(arguments: [UInt64(4), 5]) func cnnRadiusMatchesBruteForce(seed: UInt64) throws {
        let (f, θ) = try tinyCNNLoss(seed: seed, batch: 2)
        var rng = SplitMix64(seed: seed &+ 99)
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng).normalized()
        let r = try smoothnessRadius(of: f, at: θ, along: v, order: 5)
        #expect(r.isExact && r.routingDegree == 3, "seed \(seed): degree \(r.routingDegree)")
        for (distance, direction) in [(r.forward, v), (r.backward, v.scaled(by: -1))] {
            let brute = try bruteForceSwitch(4 * distance) { try cnnPattern(moved(θ, direction, $0), f.model, f.input) }
            #expect(abs(brute - distance) <= 1e-9 * distance, "seed \(seed): radius \(distance), brute force \(brute)")
        }
    }

    /// Inside the smooth interval a polynomial-while-smooth function equals its order-K jet; past
    /// the switch it parts from it (a kink).
    @Test(arguments: [UInt64(11), 12]) func jetIsExactInsideAndPartsBeyond(seed: UInt64) throws {
        let model = MLP(sizes: [4, 5, 5, 3])
        var rng = SplitMix64(seed: seed)
        let x = Tensor<Double>.randomNormal([3, 4], using: &rng)
        let f = WeightedLogits(model: model, input: x, weights: Tensor<Double>.randomNormal([3, 3], using: &rng))
        let θ = model.initialParameters(Double.self, seed: seed).scaled(by: 2)
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng).normalized()
        let r = try smoothnessRadius(of: f, at: θ, along: v, order: 6)
        #expect(r.isExact && r.forward.isFinite, "seed \(seed)")
        let series = { (t: Double) in PolynomialRoots.evaluate(r.coefficients, at: t) }
        let scale = r.coefficients.enumerated().map { abs($1) * pow(r.forward, Double($0)) }.reduce(0, +)
        let inside = r.forward * (1 - 1e-7), beyond = r.forward * 1.05
        let errInside = abs(try value(of: f, at: moved(θ, v, inside)) - series(inside)) / scale
        let errBeyond = abs(try value(of: f, at: moved(θ, v, beyond)) - series(beyond)) / scale
        #expect(errInside <= 1e-12, "seed \(seed): relative error \(errInside) at t just below the radius \(r.forward)")
        #expect(errBeyond >= 1e-6, "seed \(seed): relative error \(errBeyond) past the radius \(r.forward)")
    }

    @Test func handBuiltCases() throws {
        let one = Tensor<Double>([1]), minusOne = Tensor<Double>([-1])
        // relu(x − 1) at 0.5: switches at t = 0.5 forward, never backward.
        var r = try smoothnessRadius(of: VectorFunction(count: 1, kind: 0), at: Tensor([0.5]), along: one)
        #expect(r.forward == 0.5 && r.backward == .infinity)
        // relu(x² − 1) at 0: t² − 1 has roots ±1, a polynomial of degree 2.
        r = try smoothnessRadius(of: VectorFunction(count: 1, kind: 1), at: Tensor([0]), along: one)
        #expect(abs(r.forward - 1) <= 1e-14 && abs(r.backward - 1) <= 1e-14 && r.routingDegree == 2)
        // A pre-activation exactly 0 (ReLU'(0) = 0): rising, it switches at 0⁺; falling, only backward.
        r = try smoothnessRadius(of: VectorFunction(count: 1, kind: 0), at: one, along: one)
        #expect(r.forward == 0 && r.backward == .infinity)
        r = try smoothnessRadius(of: VectorFunction(count: 1, kind: 0), at: one, along: minusOne)
        #expect(r.forward == .infinity && r.backward == 0)
        // v = 0: nothing moves.
        r = try smoothnessRadius(of: VectorFunction(count: 1, kind: 1), at: Tensor([0.3]), along: Tensor([0]))
        #expect(r.forward == .infinity && r.backward == .infinity)
        // max(x₀, x₁) at (0, 1) along (1, 0): a tie at t = 1; |x − ¼| at 0 switches at ¼.
        r = try smoothnessRadius(of: VectorFunction(count: 2, kind: 3), at: Tensor([0, 1]), along: Tensor([1, 0]))
        #expect(r.forward == 1 && r.backward == .infinity)
        r = try smoothnessRadius(of: VectorFunction(count: 1, kind: 4), at: Tensor([0]), along: one)
        #expect(r.forward == 0.25 && r.backward == .infinity)
    }

    @Test func poolWindowTies() throws {
        let f = VectorFunction(count: 4, kind: 2)
        // A tie at t = 0 between the first (the argmax) and the second: the second overtakes at 0⁺
        // when it rises, never when it falls.
        var r = try smoothnessRadius(of: f, at: Tensor([1, 1, 0, 0]), along: Tensor([0, 1, 0, 0]))
        #expect(r.forward == 0 && r.backward == .infinity)
        r = try smoothnessRadius(of: f, at: Tensor([1, 1, 0, 0]), along: Tensor([0, -1, 0, 0]))
        #expect(r.forward == .infinity && r.backward == 0)
        // An element before the argmax takes the window when it reaches it (t = 1, a tie goes to
        // the first); one after it only when it exceeds it (also t = 1 here, then beyond).
        r = try smoothnessRadius(of: f, at: Tensor([1, 2, 0, 0]), along: Tensor([1, 0, 0, 0]))
        #expect(r.forward == 1 && r.backward == .infinity)
        r = try smoothnessRadius(of: f, at: Tensor([2, 0, 0, 1]), along: Tensor([0, 0, 0, 0.5]))
        #expect(r.forward == 2 && r.backward == .infinity)
    }

    /// L = e^{1.5x} along x = t: the 10 % point of the quadratic model against a bisection of the
    /// closed form |e^{a t} − 1 − at − a²t²/2| = 0.1·|e^{a t} − 1 − at|.
    @Test func quadraticRadiusOfAnExponential() throws {
        let a = 1.5
        let c = try taylorCoefficients(of: VectorFunction(count: 1, kind: 5), at: Tensor([0]), along: Tensor([1]), order: 12)
        let radii = try quadraticModelRadii(coefficients: c)
        for (sign, radius) in [(1.0, radii.forward), (-1.0, radii.backward)] {
            let excess = { (t: Double) -> Double in
                let x = sign * a * t
                return abs(expm1(x) - x - x * x / 2) - 0.1 * abs(expm1(x) - x)
            }
            var lo = 1e-6, hi = 5.0
            #expect(excess(lo) < 0 && excess(hi) > 0)
            for _ in 0..<200 { let mid = (lo + hi) / 2; if excess(mid) < 0 { lo = mid } else { hi = mid } }
            #expect(abs(radius - lo) <= 1e-9 * lo, "sign \(sign): radius \(radius), closed form \(lo)")
        }
        #expect(try quadraticModelRadius(coefficients: [1, 2, 3]) == .infinity)
        #expect(try quadraticModelRadius(coefficients: [1, 2, 0, 1]) == 0)
        #expect(throws: AutodiffError.self) { try quadraticModelRadius(coefficients: [1, 2, 3], tolerance: 1) }
    }
}

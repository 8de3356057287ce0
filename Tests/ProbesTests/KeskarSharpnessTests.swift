import Foundation
import Testing
import Autodiff
import Probes
import Tensors

/// f(θ) = ½ Σ a_i θ_i² + Σ b_i θ_i with every a_i > 0: separable and convex, so its maximum over
/// a box is at a corner, each coordinate at the side farther from its vertex −b_i/a_i.
struct SeparableQuadratic<E: TensorScalar>: Objective {
    typealias Scalar = E
    let a: [Double], b: [Double]
    var layout: ParameterLayout { ParameterLayout(vectorOf: a.count, name: "theta") }

    func callAsFunction<A: TensorAlgebra>(_ p: [A]) -> A where A.Scalar == E {
        let θ = p[0]
        let curvature = A(constant: Tensor<E>(a.map { E($0) })), slope = A(constant: Tensor<E>(b.map { E($0) }))
        return ((θ * θ * curvature).scaled(by: 0.5) + θ * slope).sum()
    }

    func value(_ θ: [Double]) -> Double { θ.indices.map { 0.5 * a[$0] * θ[$0] * θ[$0] + b[$0] * θ[$0] }.reduce(0, +) }

    /// The maximizing corner of the box |δ_i| ≤ w_i around θ, coordinate by coordinate.
    func maximizingCorner(at θ: [Double], halfWidths w: [Double]) -> [Double] {
        θ.indices.map { i in
            let up = θ[i] + w[i], down = θ[i] - w[i]
            return 0.5 * a[i] * up * up + b[i] * up >= 0.5 * a[i] * down * down + b[i] * down ? w[i] : -w[i]
        }
    }
}

/// −Σ log θ_i: finite only for θ > 0, and its gradient pushes θ towards 0.
struct NegativeLogBarrier: Objective {
    typealias Scalar = Double
    let d: Int
    var layout: ParameterLayout { ParameterLayout(vectorOf: d, name: "theta") }
    func callAsFunction<A: TensorAlgebra>(_ p: [A]) -> A where A.Scalar == Double { (-A.log(p[0])).sum() }
}

@Suite struct KeskarSharpnessTests {
    static let f = SeparableQuadratic<Double>(a: [2, 0.5, 3, 1], b: [1, -2, 0.4, 0.5])
    static let θ: [Double] = [0.3, -2, 0, 0.7]

    static func halfWidths(_ θ: [Double], _ ε: Double) -> [Double] { θ.map { ε * (abs($0) + 1) } }

    @Test(arguments: [1e-3, 0.05, 0.4]) func reachesTheClosedFormCornerOfASeparableConvexQuadratic(ε: Double) throws {
        let f = Self.f, θ = Self.θ
        let w = Self.halfWidths(θ, ε)
        let corner = f.maximizingCorner(at: θ, halfWidths: w)
        let f0 = f.value(θ)
        let maximum = f.value(zip(θ, corner).map { $0 + $1 }) - f0
        let r = try keskarSharpness(of: f, at: Tensor(θ), epsilon: ε)
        #expect(abs(r.value - f0) <= 1e-15 * max(1, abs(f0)))
        #expect(abs(r.increase - maximum) <= 1e-12 * max(1, maximum), "ε \(ε): \(r.increase) vs \(maximum)")
        #expect(abs(r.sharpness - 100 * maximum / (1 + f0)) <= 1e-10 * max(1, r.sharpness))
        #expect(r.delta.scalars == corner, "ε \(ε): δ \(r.delta.scalars) vs corner \(corner)")
        // From δ = 0 each coordinate takes ⌈1/η⌉ = 4 moves to its side (a 5th when round-off left
        // 3·(w/4) + w/4 an ulp short of w), then one evaluation whose step does not move δ.
        #expect((5...6).contains(r.steps) && r.epsilon == ε, "\(r.steps) steps")
    }

    @Test(arguments: [(1, 0.25), (2, 0.25), (3, 0.5), (20, 1.0), (20, 0.1), (7, 0.3)])
    func neverExceedsTheMaximumAndStaysInTheBox(steps: Int, stepSize: Double) throws {
        // min f = −Σ b_i²/(2a_i) ≈ −0.095, so 1 + f(θ) > 0 at every θ.
        let f = SeparableQuadratic<Double>(a: [2, 0.5, 3, 1], b: [0.3, -0.2, 0.1, 0.25]), ε = 0.2
        var rng = SplitMix64(seed: UInt64(steps) &* 31 &+ UInt64(stepSize * 100))
        for _ in 0..<5 {
            let θ = (0..<4).map { _ in 2 * rng.nextStandardNormal() }
            let w = Self.halfWidths(θ, ε)
            let maximum = f.value(zip(θ, f.maximizingCorner(at: θ, halfWidths: w)).map { $0 + $1 }) - f.value(θ)
            let r = try keskarSharpness(of: f, at: Tensor(θ), epsilon: ε, steps: steps, stepSize: stepSize)
            #expect(r.increase >= 0 && r.increase <= maximum + 1e-12 * max(1, maximum), "θ \(θ): \(r.increase) vs \(maximum)")
            #expect(zip(r.delta.scalars, w).allSatisfy { abs($0) <= $1 }, "δ \(r.delta.scalars) outside ±\(w)")
            // The increase is the objective's own at the δ returned.
            #expect(abs(f.value(zip(θ, r.delta.scalars).map { $0 + $1 }) - f.value(θ) - r.increase) <= 1e-12 * max(1, maximum))
            #expect(r.steps >= 1 && r.steps <= steps)
        }
    }

    @Test(arguments: [UInt64(1), 2, 3]) func onACoupledConvexQuadraticItStaysBelowTheBestVertex(seed: UInt64) throws {
        // ½θᵀAθ with A positive definite is convex, so its maximum over the box is at one of the 2⁵ vertices.
        let f = Quadratic(spectrum: [4, 2, 1, 0.5, 0.1], seed: seed)
        var rng = SplitMix64(seed: seed &+ 100)
        let θ = (0..<5).map { _ in rng.nextStandardNormal() }, ε = 0.3
        let w = Self.halfWidths(θ, ε)
        let a = f.a.scalars
        func q(_ x: [Double]) -> Double {
            var s = 0.0
            for i in 0..<5 { for j in 0..<5 { s += x[i] * a[i * 5 + j] * x[j] } }
            return 0.5 * s
        }
        func vertex(_ mask: Int) -> [Double] {
            var v = θ
            for i in 0..<5 {
                let up: Bool = (mask >> i) & 1 == 1
                v[i] += up ? w[i] : -w[i]
            }
            return v
        }
        let best = (0..<32).map { q(vertex($0)) }.max()! - q(θ)
        let r = try keskarSharpness(of: f, at: Tensor(θ), epsilon: ε, steps: 40)
        #expect(r.increase <= best + 1e-12 * best, "seed \(seed): \(r.increase) vs the best vertex \(best)")
        #expect(zip(r.delta.scalars, w).allSatisfy { abs($0) <= $1 })
        // The first step alone, along sign ∇f(θ), already gains: the ascent is not stuck at δ = 0.
        #expect(r.increase > 0)
    }

    @Test func oneStepMovesEachCoordinateByAFractionOfItsHalfWidthAlongTheGradientSign() throws {
        let f = Self.f, θ = Self.θ, ε = 0.1, η = 0.25
        let w = Self.halfWidths(θ, ε)
        // ∇f(θ)_i = a_i θ_i + b_i = (1.6, −3, 0.4, 1.2).
        let expected = [η * w[0], -η * w[1], η * w[2], η * w[3]]
        let r = try keskarSharpness(of: f, at: Tensor(θ), epsilon: ε, steps: 1, stepSize: η)
        #expect(zip(r.delta.scalars, expected).allSatisfy { abs($0 - $1) <= 1e-16 }, "\(r.delta.scalars) vs \(expected)")
        #expect(r.steps == 1)
    }

    @Test func theBoxIsEpsilonTimesMagnitudePlusOne() throws {
        // θ_0 = 0 would get no room in a box ε|θ_i|, and θ_1 = 10 only ε in a plain box.
        let f = SeparableQuadratic<Double>(a: [1, 2, 0.5], b: [0.3, 1, -1])
        let θ: [Double] = [0, 10, -4], ε = 0.01
        let r = try keskarSharpness(of: f, at: Tensor(θ), epsilon: ε)
        #expect(zip(r.delta.scalars.map(abs), [0.01, 0.11, 0.05]).allSatisfy { abs($0 - $1) <= 1e-15 * $1 }, "\(r.delta.scalars)")
        // By hand: the corner δ = (0.01, 0.11, −0.05); f(θ) = 0 + 110 + 8 = 118.
        let increase = (0.5 * 0.01 * 0.01 + 0.3 * 0.01) + (0.5 * 2 * (10.11 * 10.11 - 100) + 0.11) + (0.5 * 0.5 * (4.05 * 4.05 - 16) + 0.05)
        #expect(abs(r.value - 118) < 1e-12)
        #expect(abs(r.increase - increase) <= 1e-12 * increase, "\(r.increase) vs \(increase)")
        #expect(abs(r.sharpness - 100 * increase / 119) <= 1e-12 * r.sharpness)
    }

    @Test(arguments: [UInt64(0), 1, 2]) func aVanishingGradientStartsFromASeededSignVector(seed: UInt64) throws {
        // At the minimum θ = 0 of ½Σa_iθ_i², every corner of the box gives ½Σ a_i ε².
        let f = SeparableQuadratic<Double>(a: [2, 0.5, 3], b: [0, 0, 0])
        let ε = 0.3
        let r = try keskarSharpness(of: f, at: Tensor<Double>.zeros([3]), epsilon: ε, seed: seed)
        #expect(abs(r.increase - 0.5 * 5.5 * ε * ε) <= 1e-14, "seed \(seed): \(r.increase)")
        #expect(r.delta.scalars.allSatisfy { abs($0) == ε })
        #expect(abs(r.sharpness - 100 * r.increase) <= 1e-12)
        let again = try keskarSharpness(of: f, at: Tensor<Double>.zeros([3]), epsilon: ε, seed: seed)
        #expect(again.delta == r.delta)
    }

    @Test func inFloat32TheCornerIsTheSame() throws {
        let f = SeparableQuadratic<Float>(a: Self.f.a, b: Self.f.b), ε = 0.05
        let w = Self.halfWidths(Self.θ, ε)
        let corner = Self.f.maximizingCorner(at: Self.θ, halfWidths: w)
        let maximum = Self.f.value(zip(Self.θ, corner).map { $0 + $1 }) - Self.f.value(Self.θ)
        let r = try keskarSharpness(of: f, at: Tensor<Float>(Self.θ.map(Float.init)), epsilon: ε)
        #expect(zip(r.delta.scalars, corner).allSatisfy { abs(Double($0) - $1) <= 1e-6 * abs($1) })
        #expect(abs(r.increase - maximum) <= 1e-5 * maximum, "\(r.increase) vs \(maximum)")
    }

    @Test func badArgumentsGiveClearErrors() throws {
        let f = Self.f, θ = Tensor(Self.θ)
        for ε in [0, -1, Double.nan, .infinity] {
            let error = #expect(throws: AutodiffError.self) { try keskarSharpness(of: f, at: θ, epsilon: ε) }
            #expect(error?.description.contains("ε must be positive and finite") == true, "\(String(describing: error))")
        }
        let steps = #expect(throws: AutodiffError.self) { try keskarSharpness(of: f, at: θ, epsilon: 0.1, steps: 0) }
        #expect(steps?.description.contains("steps must be at least 1") == true)
        for η in [0, -0.5, Double.nan] {
            #expect(throws: AutodiffError.self) { try keskarSharpness(of: f, at: θ, epsilon: 0.1, stepSize: η) }
        }
        let length = #expect(throws: AutodiffError.self) { try keskarSharpness(of: f, at: Tensor<Double>.zeros([3]), epsilon: 0.1) }
        #expect(length == .lengthMismatch(what: "the parameter vector", expected: 4, actual: 3), "\(String(describing: length))")
        // f(θ) = −2: 1 + f(θ) < 0, φ undefined.
        let negative = #expect(throws: AutodiffError.self) {
            try keskarSharpness(of: SeparableQuadratic<Double>(a: [1], b: [-2]), at: Tensor([2.0]), epsilon: 0.1)
        }
        #expect(negative?.description.contains("1 + f(θ)") == true)
        // −log(0.5 + δ) with |δ| ≤ 1.5: the ascent walks δ down past −0.5, where the loss is nan.
        let nonFinite = #expect(throws: AutodiffError.self) { try keskarSharpness(of: NegativeLogBarrier(d: 1), at: Tensor([0.5]), epsilon: 1) }
        #expect(nonFinite?.description.contains("not finite") == true, "\(String(describing: nonFinite))")
    }
}

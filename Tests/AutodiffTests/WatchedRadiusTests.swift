import Foundation
import Testing
import Autodiff
import Tensors

/// Small functions of a parameter vector x for ``smoothnessRadius(of:at:along:order:)``.
private struct Routed: Objective {
    typealias Scalar = Double
    let layout: ParameterLayout
    let kind: Int
    init(count: Int, kind: Int) { layout = ParameterLayout(vectorOf: count); self.kind = kind }
    func callAsFunction<A: ConvolutionAlgebra>(_ p: [A]) -> A where A.Scalar == Double {
        let x = p[0]
        switch kind {
        case 0: return x.shifted(by: -1).relu().sum()                                  // relu(x − 1)
        case 1: return x.reshaped([1, 1, 2, 2]).maxPool2x2().sum()                     // a pool window
        case 2: return A.pow(x, 1.5).sum()                                             // x^1.5
        // The condition x^1.5 + x − 1 is known through t¹ only at x = 0 (t^1.5); the branches are
        // polynomials, so the output is known to every order.
        default: return A.select(A.pow(x, 1.5) + x.shifted(by: -1), x, x * x).sum()
        }
    }
}

@Suite struct WatchedRadiusTests {
    @Test func nonFiniteRoutingValuesThrowInsteadOfAnInfiniteRadius() throws {
        let relu = Routed(count: 1, kind: 0)
        for (θ, v) in [(Double.nan, 1.0), (0.5, .infinity), (.infinity, 1)] {
            #expect(throws: AutodiffError.self, "θ \(θ), v \(v)") {
                try smoothnessRadius(of: relu, at: Tensor([θ]), along: Tensor([v]), order: 3)
            }
        }
        do {
            _ = try smoothnessRadius(of: relu, at: Tensor([.nan]), along: Tensor([1.0]), order: 3)
        } catch let error as AutodiffError {
            #expect("\(error)".contains("non-finite routing values along the line"), "\(error)")
        }
        let pool = Routed(count: 4, kind: 1)
        #expect(throws: AutodiffError.self) {
            try smoothnessRadius(of: pool, at: Tensor([0, 1, 2, .nan]), along: Tensor([1, 0, 0, 0]), order: 3)
        }
        // Finite: relu(x − 1) from x = 0.5 along 1 switches at t = ½ forward, never backward.
        let r = try smoothnessRadius(of: relu, at: Tensor([0.5]), along: Tensor([1.0]), order: 3)
        #expect(abs(r.forward - 0.5) <= 1e-15 && r.backward == .infinity && r.isExact)
    }

    @Test func noExpansionReportsTheKnownOrder() {
        // t^1.5 at t = 0 is known through order 1.
        #expect(throws: AutodiffError.noTaylorExpansion(knownOrder: 1, requested: 4)) {
            try smoothnessRadius(of: Routed(count: 1, kind: 2), at: Tensor([0.0]), along: Tensor([1.0]), order: 4)
        }
    }

    @Test func aTruncatedRoutingValueIsNotExact() throws {
        // The condition t^1.5 + t − 1 is known as −1 + t only (degree 1, known through order 1):
        // the radius is that of −1 + t (1), not the true root (≈ 0.4656), and is not exact
        // although degree 1 < K.
        let r = try smoothnessRadius(of: Routed(count: 1, kind: 3), at: Tensor([0.0]), along: Tensor([1.0]), order: 4)
        #expect(r.routingDegree == 1 && r.routingKnownOrder == 1 && !r.isExact, "\(r.routingDegree) \(r.routingKnownOrder)")
        #expect(abs(r.forward - 1) <= 1e-15)
        // Away from 0 the condition's jet is known to K: the degree seen is K (x^1.5 is no
        // polynomial), not exact either; a polynomial condition of degree < K is.
        let s = try smoothnessRadius(of: Routed(count: 1, kind: 3), at: Tensor([0.25]), along: Tensor([1.0]), order: 4)
        #expect(s.routingKnownOrder == 4 && s.routingDegree == 4 && !s.isExact)
        let e = try smoothnessRadius(of: Routed(count: 1, kind: 0), at: Tensor([0.25]), along: Tensor([1.0]), order: 4)
        #expect(e.routingKnownOrder == 4 && e.routingDegree == 1 && e.isExact)
    }
}

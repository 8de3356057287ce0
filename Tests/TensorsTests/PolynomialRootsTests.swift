import Foundation
import Testing
@testable import Tensors

/// The coefficients (c[k] of t^k) of Π (t − r) over `roots` times Π (t² − 2a·t + a² + b²) over
/// `complexPairs` (a ± ib), multiplied out: expected roots known by construction.
private func expand(roots: [Double], complexPairs: [(Double, Double)] = [], scale: Double = 1) -> [Double] {
    var p = [scale]
    func times(_ q: [Double]) {
        var out = [Double](repeating: 0, count: p.count + q.count - 1)
        for i in p.indices { for j in q.indices { out[i + j] += p[i] * q[j] } }
        p = out
    }
    for r in roots { times([-r, 1]) }
    for (a, b) in complexPairs { times([a * a + b * b, -2 * a, 1]) }
    return p
}

@Suite struct PolynomialRootsTests {
    @Test func aDoubleRootAloneIsATouch() {
        // (t − 0.1)²: the cut of p′ at 0.1 evaluates p to a rounding error of either sign.
        #expect(PolynomialRoots.signChanges([0.01, -0.2, 1], below: .infinity) == [])
        #expect(PolynomialRoots.firstSwitch([0.01, -0.2, 1], side: .below) == .infinity)
        for r in [1.0 / 3, 0.7, 1e-3, 12.345] {
            #expect(PolynomialRoots.signChanges(expand(roots: [r, r]), below: .infinity) == [], "double root \(r)")
            #expect(PolynomialRoots.signChanges(expand(roots: [r, r], scale: -2.5), below: .infinity) == [], "−2.5·(t − \(r))²")
        }
    }

    @Test func aTouchBeforeASimpleRootGivesTheSimpleRoot() {
        // (t − ⅓)²(t − 2): the branch first changes at 2.
        let c = expand(roots: [1.0 / 3, 1.0 / 3, 2])
        #expect(abs(PolynomialRoots.firstSwitch(c, side: .below) - 2) <= 1e-14)
        let all = PolynomialRoots.signChanges(c, below: .infinity)
        #expect(all.count == 1 && abs(all[0] - 2) <= 1e-14, "\(all)")
        // Two touches, then two simple roots: (t − 0.2)²(t − 0.9)²(t − 1.5)(t − 4).
        let d = PolynomialRoots.signChanges(expand(roots: [0.2, 0.2, 0.9, 0.9, 1.5, 4]), below: .infinity)
        #expect(d.count == 2 && abs(d[0] - 1.5) <= 1e-13 && abs(d[1] - 4) <= 1e-13, "\(d)")
    }

    @Test func oddMultiplicitiesCount() {
        // A triple root is found to about ulp^(1/3) of its scale (the band where rounding hides the sign).
        for r in [0.5, 1.0 / 3, 2.75] {
            let s = PolynomialRoots.signChanges(expand(roots: [r, r, r]), below: .infinity)
            #expect(s.count == 1 && abs(s[0] - r) <= 1e-4 * max(1, r), "triple root \(r): \(s)")
        }
        // (t − 1)³ exactly: p′ = 3(t − 1)² is 0 exactly at the cut of p″ (a touch of p′, no cut of p).
        let cube = PolynomialRoots.signChanges([-1, 3, -3, 1], below: .infinity)
        #expect(cube.count == 1 && abs(cube[0] - 1) <= 1e-4, "\(cube)")
        // Fifth power, and a triple root after a touch.
        let fifth = PolynomialRoots.signChanges(expand(roots: Array(repeating: 0.6, count: 5)), below: .infinity)
        #expect(fifth.count == 1 && abs(fifth[0] - 0.6) <= 1e-2, "\(fifth)")
        let t = PolynomialRoots.firstSwitch(expand(roots: [0.25, 0.25, 1.5, 1.5, 1.5]), side: .below)
        #expect(abs(t - 1.5) <= 1e-4, "\(t)")
    }

    @Test func aRootExactlyAtACut() {
        // p = t − 1 is monotone, so any cuts isolate; at the cut 1 p is exactly 0 and the
        // neighbouring intervals have opposite signs: a crossing at the cut.
        #expect(PolynomialRoots.signChanges([-1, 1], cuts: [0, 1, 3], firstOnly: false) == [1])
        #expect(PolynomialRoots.signChanges([-1, 1], cuts: [0, 0.5, 1, 2, 3], firstOnly: true) == [1])
        #expect(PolynomialRoots.signChanges([1, -1], cuts: [0, 1, 3], firstOnly: false) == [1])
        // (t − 1)² with its cut at 1: the same sign on both sides, a touch.
        #expect(PolynomialRoots.signChanges([1, -2, 1], cuts: [0, 1, 3], firstOnly: false) == [])
        // The cut at the end of the interval is not inside it.
        #expect(PolynomialRoots.signChanges([-1, 1], cuts: [0, 1], firstOnly: false) == [])
        // Three roots 1, 1 ± 10⁻⁶ closer than the cuts 1 ± 10⁻⁶/√3 resolve (p at the cuts ≈ 4·10⁻¹⁹,
        // rounding ≈ 10⁻¹⁵): one crossing, reported within the cluster.
        let s = PolynomialRoots.signChanges(expand(roots: [1 - 1e-6, 1, 1 + 1e-6]), below: .infinity)
        #expect(s.count == 1 && abs(s[0] - 1) <= 2e-6, "\(s)")
    }

    @Test func aRootAtZeroFollowsTheSwitchingSide() {
        // The open interval (0, L): a root at 0 is not a sign change.
        #expect(PolynomialRoots.signChanges([0, 1], below: 5) == [])
        let s = PolynomialRoots.signChanges([0, -1, 1], below: 5)
        #expect(s.count == 1 && abs(s[0] - 1) <= 1e-15, "\(s)")
        // p = t: at 0 the value is at its switching point; for t > 0 above.
        #expect(PolynomialRoots.firstSwitch([0, 1], side: .below) == 0)       // ReLU: below at 0, above after
        #expect(PolynomialRoots.firstSwitch([0, 1], side: .above) == .infinity)
        #expect(PolynomialRoots.firstSwitch([0, 1], side: .neither) == 0)
        // p = −t: below for t > 0.
        #expect(PolynomialRoots.firstSwitch([0, -1], side: .below) == .infinity)
        #expect(PolynomialRoots.firstSwitch([0, -1], side: .above) == 0)
        // Backward p(−t) = −t for p = t.
        #expect(PolynomialRoots.switchDistances([0, 1], side: .below) == SwitchDistances(forward: 0, backward: .infinity))
        // t² touches 0 at 0 and is above on both sides: ReLU at 0 (below) changes at once both ways.
        #expect(PolynomialRoots.switchDistances([0, 0, 1], side: .below) == SwitchDistances(forward: 0, backward: 0))
        #expect(PolynomialRoots.switchDistances([0, 0, 1], side: .above) == SwitchDistances())
        // t(t − 2) is below just after 0 (slope −2): ReLU's side at 0 is kept until the crossing at 2.
        #expect(PolynomialRoots.firstSwitch([0, -2, 1], side: .below) == 2)
        // p ≡ 0 never changes.
        #expect(PolynomialRoots.firstSwitch([0, 0, 0], side: .below) == .infinity)
    }

    @Test func aTinyLeadingCoefficient() {
        // 1 − 3t + 10⁻³⁰⁰t²: roots (3 ∓ √(9 − 4·10⁻³⁰⁰))/(2·10⁻³⁰⁰) ≈ ⅓ and 3·10³⁰⁰ (beyond the 10²⁰ search).
        let a = PolynomialRoots.signChanges([1, -3, 1e-300], below: .infinity)
        #expect(a.count == 1 && abs(a[0] - 1.0 / 3) <= 1e-15, "\(a)")
        // A subnormal leading coefficient: Cauchy's bound overflows to ∞.
        let b = PolynomialRoots.signChanges([1, -2, 5e-324], below: .infinity)
        #expect(b.count == 1 && abs(b[0] - 0.5) <= 1e-15, "\(b)")
        // −1 + t + 10⁻²⁰t²: roots ≈ 1 − 10⁻²⁰ and ≈ −10²⁰.
        let c = PolynomialRoots.signChanges([-1, 1, 1e-20], below: .infinity)
        #expect(c.count == 1 && abs(c[0] - 1) <= 1e-15, "\(c)")
    }

    @Test func onlyComplexRootsGiveNone() {
        #expect(PolynomialRoots.signChanges(expand(roots: [], complexPairs: [(0, 1), (1, 2)]), below: .infinity) == [])
        #expect(PolynomialRoots.signChanges(expand(roots: [], complexPairs: [(0.5, 1e-3), (3, 0.1), (-1, 1)]), below: .infinity) == [])
        // Complex roots and a touch.
        #expect(PolynomialRoots.signChanges(expand(roots: [4, 4], complexPairs: [(0, 1)]), below: .infinity) == [])
    }

    @Test func nonFiniteCoefficientsAreUnknownNotNever() {
        #expect(PolynomialRoots.signChanges([.nan, 1], below: .infinity).first!.isNaN)
        #expect(PolynomialRoots.signChanges([1, -1, .infinity], below: 3).first!.isNaN)
        #expect(PolynomialRoots.firstSwitch([.nan, 1], side: .below).isNaN)
        #expect(PolynomialRoots.firstSwitch([0, -.infinity], side: .below).isNaN)
        let ok = Tensor<Double>([1, -2]), bad = Tensor<Double>([3, .nan])
        let d = Tensor.switchDistances(coefficients: [ok, bad], side: .below, within: SwitchDistances())
        #expect(d.forward.isNaN && d.backward.isNaN)
        let f = Tensor<Float>([1, .infinity])
        let e = Tensor.switchDistances(coefficients: [Tensor<Float>([1, 2]), nil, f], side: .below, within: SwitchDistances())
        #expect(e.forward.isNaN && e.backward.isNaN)
        // Finite: elements 1 − t and −2 + 3t switch forward at 1 and ⅔; backward (1 + t, −2 − 3t) never.
        let g = Tensor.switchDistances(coefficients: [ok, Tensor<Double>([-1, 3])], side: .below, within: SwitchDistances())
        #expect(abs(g.forward - 2.0 / 3) <= 1e-15 && g.backward == .infinity, "\(g)")
        // A pool window with a nan: unknown.
        let pool = Tensor(shape: [1, 1, 2, 2], scalars: [0.0, 1, 2, .nan])
        let h = Tensor.maxPoolSwitchDistances(coefficients: [pool, Tensor(shape: [1, 1, 2, 2], scalars: [1.0, 0, 0, 0])], within: SwitchDistances())
        #expect(h.forward.isNaN && h.backward.isNaN)
    }

    @Test func randomFactoredPolynomialsAgainstTheirRoots() {
        let seed: UInt64 = 20_261_205
        var rng = SplitMix64(seed: seed)
        var checked = 0
        for trial in 0..<3000 {
            // Distinct real roots in [−3, 3] with multiplicities 1–3 and complex pairs, degree ≤ 7
            // (routing values of depth ≤ 6 have degree ≤ 6); a random scale and sign.
            var distinct: [Double] = [], multiplicity: [Double: Int] = [:], degree = 0
            var pairs: [(Double, Double)] = []
            while degree < 7 {
                if Double.random(in: 0..<1, using: &rng) < 0.2, degree <= 5 {
                    pairs.append((Double.random(in: -2...2, using: &rng), Double.random(in: 0.05...2, using: &rng)))
                    degree += 2
                } else {
                    let r = Double.random(in: -3...3, using: &rng), m = Int.random(in: 1...min(3, 7 - degree), using: &rng)
                    if multiplicity[r] == nil { distinct.append(r); multiplicity[r] = m; degree += m }
                }
                if Double.random(in: 0..<1, using: &rng) < 0.3 { break }
            }
            let roots = distinct.flatMap { Array(repeating: $0, count: multiplicity[$0]!) }
            let scale = (Bool.random(using: &rng) ? 1 : -1) * Foundation.pow(10, Double.random(in: -3...3, using: &rng))
            let c = expand(roots: roots, complexPairs: pairs, scale: scale)
            // The resolution at a root r of multiplicity m, from the factored form: p ≈ q(r)(t − r)^m
            // with q = p/(t − r)^m, against Horner's rounding 2n·ulp·Σ|c_k||r|^k (×10 for margin
            // and the rounding of the expanded coefficients).
            let n = c.count - 1
            func resolution(_ r: Double) -> Double {
                let m = multiplicity[r]!
                var q = abs(scale)
                for x in distinct where x != r { q *= Foundation.pow(abs(r - x), Double(multiplicity[x]!)) }
                for (a, b) in pairs { q *= (r - a) * (r - a) + b * b }
                let s = c.enumerated().reduce(0.0) { $0 + abs($1.element) * Foundation.pow(abs(r), Double($1.offset)) }
                return max(4 * Double.ulpOfOne * abs(r), Foundation.pow(10 * Double(2 * n) * Double.ulpOfOne * s / q, 1 / Double(m)))
            }
            // Skip polynomials whose roots are not resolved apart in Double (nor from 0).
            let δ = Dictionary(uniqueKeysWithValues: distinct.map { ($0, resolution($0)) })
            let resolved = distinct.allSatisfy { r in abs(r) > 2 * δ[r]! && distinct.allSatisfy { $0 == r || abs($0 - r) > 2 * (δ[r]! + δ[$0]!) } }
            guard resolved else { continue }
            checked += 1
            let L = Double.random(in: 0.5...4, using: &rng)
            let expected = distinct.filter { $0 > 0 && $0 < L && multiplicity[$0]! % 2 == 1 }.sorted()
            let found = PolynomialRoots.signChanges(c, below: L)
            // A root within its resolution of L may land on either side.
            let sure = expected.filter { L - $0 > δ[$0]! }
            let ok = found.count >= sure.count && found.count <= expected.count
                && zip(found, expected).allSatisfy { abs($0 - $1) <= δ[$1]! }
            #expect(ok, "seed \(seed) trial \(trial): roots \(roots) pairs \(pairs) scale \(scale) L \(L): expected \(expected) (±\(expected.map { δ[$0]! })), found \(found)")
            // firstSwitch agrees with the first of them.
            let first = PolynomialRoots.firstSwitch(c, side: .below, below: L)
            if let e = sure.first {
                #expect(abs(first - e) <= δ[e]!, "seed \(seed) trial \(trial): first \(first), expected \(e)")
            } else if expected.isEmpty {
                #expect(first == .infinity, "seed \(seed) trial \(trial): first \(first), expected none")
            }
        }
        #expect(checked >= 1500, "seed \(seed): only \(checked) resolvable polynomials")
    }
}

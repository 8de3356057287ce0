import Foundation
import Testing
@testable import Autodiff
import Tensors

// One test over the whole rule table (as ForwardDiff's test that loops over DiffRules): every
// registered function, in Dual, Dual<Dual>, Tracked, Tracked<Dual> and Jet (orders 1–4), on
// scalars and on tensors, at seeded random points and at the edge points, checked against
// central finite differences in Double and the number systems against each other. A rule added
// to `RuleTable` is tested by being there.

typealias D4 = Dual<Dual<Dual<Dual<Double>>>>

/// The k-th derivative (k ≤ 4) of f at x by nested duals: an independent route from jets.
func nestedDerivatives(_ f: any ElementwiseFunction, at x: Double) -> [Double] {
    // x + ε₁ + ε₂ + ε₃ + ε₄ with one seed per level; the ε₁ε₂ε₃ε₄ part is f''''.
    let x1 = Dual(primal: x, tangent: 1.0)
    let x2 = Dual(primal: x1, tangent: Dual(primal: 1.0))
    let x3 = Dual(primal: x2, tangent: Dual(primal: Dual(primal: 1.0)))
    let x4 = D4(primal: x3, tangent: Dual(primal: Dual(primal: Dual(primal: 1.0))))
    let y = D4.applying(f, to: x4)
    let d1 = y.primal.primal.primal.tangentOrZero
    let d2 = y.primal.primal.tangentOrZero.tangentOrZero
    let d3 = y.primal.tangentOrZero.tangentOrZero.tangentOrZero
    let d4 = y.tangentOrZero.tangentOrZero.tangentOrZero.tangentOrZero
    return [y.primal.primal.primal.primal, d1, d2, d3, d4]
}

struct RuleCheck {
    let name: String
    let f: any ElementwiseFunction
    var failures: [String] = []

    /// Same value within `tol` relative to the larger magnitude (both nan or both the same inf also agree).
    mutating func agree(_ a: Double, _ b: Double, _ tol: Double, _ what: String, at x: Double) {
        // Equal, or both non-finite (a pole: nested duals say ±inf where a recurrence says nan), or
        // equal up to relative rounding and to the absolute rounding of subnormal results.
        if a == b || (!a.isFinite && !b.isFinite) { return }
        if abs(a - b) <= tol * max(abs(a), abs(b)) + 64 * Double.leastNonzeroMagnitude { return }
        failures.append("\(name) at \(x): \(what): \(a) vs \(b)")
    }
}

/// Points to check a function at: seeded random ones in its domain, and every edge point in it.
func rulePoints(_ f: any ElementwiseFunction, seed: UInt64) -> [Double] {
    let subnormal = Double.leastNonzeroMagnitude
    let edges: [Double] = [0, 1e-300, -1e-300, subnormal, -subnormal, 30, -30, 700, -700, 1, -1]
    var rng = SplitMix64(seed: seed)
    let lo = max(f.domain.lowerBound, -3), hi = min(f.domain.upperBound, 3)
    var pts = (0..<6).map { _ in lo + (hi - lo) * rng.nextUnitDouble() }
    pts += edges.filter { f.domain.contains($0) }
    return pts
}

/// A central difference of `g` at `x`, with a step that stays inside the domain and off kinks,
/// and the rounding noise of that difference; `nil` where no such step is representable.
func centralDifference(_ g: (Double) -> Double, at x: Double, domain: ClosedRange<Double>, kinks: [Double]) -> (value: Double, noise: Double)? {
    // A step small against x and against the distance to the nearest kink or domain edge.
    var h = 1e-4
    let nearest = (kinks + [domain.lowerBound, domain.upperBound]).map { abs($0 - x) }.min() ?? .infinity
    if nearest < 4 * h { h = 1e-4 * nearest }
    guard h > 0, h.isFinite, x + h != x, x - h != x else { return nil }
    let a = g(x + h), b = g(x - h), a2 = g(x + h / 2), b2 = g(x - h / 2)
    // Values that overflow or underflow carry no difference to measure (x^1.5 at 1e−300).
    guard a.isFinite, b.isFinite, max(abs(a), abs(b)) >= Double.leastNormalMagnitude else { return nil }
    // Richardson extrapolation of two central differences: truncation error O(h⁴).
    let fd = (4 * (a2 - b2) / h - (a - b) / (2 * h)) / 3
    // Rounding of the differences, and a truncation allowance for derivatives of order 1.
    let noise = 16 * Double.ulpOfOne * max(abs(a), abs(b), abs(g(x))) / h + h * h * h * h
    return (fd, noise)
}

@Suite struct RuleTableTests {
    static let seed: UInt64 = 20261201

    @Test("every elementwise rule × every number system × scalar and tensor",
          arguments: RuleTable.elementwise.indices)
    func elementwiseRule(index: Int) {
        let f = RuleTable.elementwise[index]
        let name = "\(type(of: f))" + ((f as? Power).map { "(\($0.exponent))" } ?? "")
        var check = RuleCheck(name: name, f: f)
        let points = rulePoints(f, seed: Self.seed &+ UInt64(index))
        for x in points {
            let y = Double.applying(f, to: x)
            let n = nestedDerivatives(f, at: x)
            // Values: every number system computes the plain primal exactly.
            check.agree(n[0], y, 0, "nested-dual value", at: x)
            let d = derivative(of: { Dual.applying(f, to: $0) }, at: x)
            let dd = secondDerivative(of: { Dual<Dual<Double>>.applying(f, to: $0) }, at: x)
            check.agree(d, n[1], 0, "Dual vs nested Dual f'", at: x)
            check.agree(dd, n[2], 0, "Dual<Dual> vs nested Dual f''", at: x)
            // Tracked: gradient and forward-over-reverse second derivative.
            let g = gradient(of: { Tracked.applying(f, to: $0[0]) }, at: [x])[0]
            check.agree(g, d, 1e-15, "Tracked vs Dual f'", at: x)
            let h = hessianVectorProduct(of: { Tracked.applying(f, to: $0[0]) }, at: [x], along: [1])[0]
            check.agree(h, dd, 1e-13, "Tracked<Dual> vs Dual<Dual> f''", at: x)
            // Jets of orders 1–4: k!·c_k = f⁽ᵏ⁾.
            for order in 1...4 {
                let jet = Jet<Double>.applying(f, to: Jet(point: x, direction: 1, order: order))
                check.agree(jet.primal, y, 0, "Jet value (order \(order))", at: x)
                if jet.knownOrder < order {
                    // Only where the function is not smooth (a kink, a pole, a fractional power at 0):
                    // the jet must say so, not guess.
                    if !f.kinks.contains(x) && y != 0 && y.isFinite { check.failures.append("\(name) at \(x): jet of order \(order) known only to \(jet.order)") }
                    continue
                }
                for k in 1...order { check.agree(jet.derivative(k), n[k], 1e-11, "Jet order \(order) f^(\(k))", at: x) }
            }
            // Against mathematics: finite differences of the value and of the derivative.
            if f.kinks.contains(x) {
                // The documented conventions at kinks: abs'(0) = sign'(0) = relu'(0) = 0.
                check.agree(d, 0, 0, "derivative at the kink", at: x)
                check.agree(g, 0, 0, "gradient at the kink", at: x)
            } else {
                if let (fd, noise) = centralDifference({ Double.applying(f, to: $0) }, at: x, domain: f.domain, kinks: f.kinks),
                   abs(d - fd) > 1e-9 * abs(fd) + noise {
                    check.failures.append("\(name) at \(x): f' = \(d), central difference \(fd)")
                }
                if let (fd2, noise) = centralDifference({ derivative(of: { Dual.applying(f, to: $0) }, at: $0) }, at: x,
                                                        domain: f.domain, kinks: f.kinks),
                   abs(dd - fd2) > 1e-8 * abs(fd2) + noise {
                    check.failures.append("\(name) at \(x): f'' = \(dd), central difference of f' \(fd2)")
                }
            }
        }
        // Tensors: the same numbers from Tensor, Dual<Tensor>, Dual<Dual<Tensor>>, Tracked<Tensor>,
        // Tracked<Dual<Tensor>> and Jet<Tensor>, elementwise.
        let xs = Tensor<Double>(points)
        let ones = xs.onesLike()
        let yt = Tensor<Double>.applying(f, to: xs)
        let dt = Dual.applying(f, to: Dual(primal: xs, tangent: ones)).tangentOrZero
        let ddt = Dual<Dual<Tensor<Double>>>.applying(f, to: Dual(primal: Dual(primal: xs, tangent: ones), tangent: Dual(primal: ones)))
            .tangentOrZero.tangentOrZero
        let tape = Tape<Tensor<Double>>()
        let gt = tape.cotangents(of: Tracked.applying(f, to: tape.variable(xs)).sum(), seed: Tensor(1))[0] ?? xs.zerosLike()
        let tape2 = Tape<Dual<Tensor<Double>>>()
        let v2 = tape2.variable(Dual(primal: xs, tangent: ones))
        let ht = tape2.cotangents(of: Tracked.applying(f, to: v2).sum(), seed: Dual(primal: Tensor(1)))[0]?.tangentOrZero ?? xs.zerosLike()
        let jt = Jet<Tensor<Double>>.applying(f, to: Jet(point: xs, direction: ones, order: 4))
        for (i, x) in points.enumerated() {
            let n = nestedDerivatives(f, at: x)
            check.agree(yt.scalars[i], n[0], 0, "Tensor value", at: x)
            check.agree(dt.scalars[i], n[1], 1e-15, "Dual<Tensor> f'", at: x)
            check.agree(ddt.scalars[i], n[2], 1e-13, "Dual<Dual<Tensor>> f''", at: x)
            check.agree(gt.scalars[i], n[1], 1e-15, "Tracked<Tensor> f'", at: x)
            check.agree(ht.scalars[i], n[2], 1e-13, "Tracked<Dual<Tensor>> f''", at: x)
            if jt.knownOrder >= 4 { for k in 1...4 { check.agree(jt.derivative(k).scalars[i], n[k], 1e-11, "Jet<Tensor> f^(\(k))", at: x) } }
        }
        #expect(check.failures.isEmpty, "seed \(Self.seed): \(check.failures.prefix(12).joined(separator: "\n"))")
    }

    @Test("every binary rule: both partials in every number system, against finite differences",
          arguments: RuleTable.binary.indices)
    func binaryRule(index: Int) {
        let f = RuleTable.binary[index]
        let name = "\(type(of: f))"
        var rng = SplitMix64(seed: Self.seed &+ 100 &+ UInt64(index))
        var failures: [String] = []
        for _ in 0..<12 {
            // a in (0.2, 3) keeps pow's base positive; b with random sign away from 0 and from a.
            let a = 0.2 + 2.8 * rng.nextUnitDouble()
            var b = (0.3 + 2.7 * rng.nextUnitDouble()) * (rng.nextUnitDouble() < 0.5 ? -1 : 1)
            if abs(a - b) < 0.05 { b += 0.5 }
            let g = gradient(of: { Tracked.applying(f, $0[0], $0[1]) }, at: [a, b])
            let da = jvp(of: { Dual.applying(f, $0[0], $0[1]) }, at: [a, b], along: [1, 0]).derivative
            let db = jvp(of: { Dual.applying(f, $0[0], $0[1]) }, at: [a, b], along: [0, 1]).derivative
            let h = 1e-6
            let fdA = (f(a + h, b) - f(a - h, b)) / (2 * h), fdB = (f(a, b + h) - f(a, b - h)) / (2 * h)
            for (what, ad, fd) in [("∂a Dual", da, fdA), ("∂b Dual", db, fdB), ("∂a Tracked", g[0], fdA), ("∂b Tracked", g[1], fdB)]
            where abs(ad - fd) > 1e-7 * max(abs(fd), 1) {
                failures.append("\(name)(\(a), \(b)) \(what): \(ad) vs \(fd)")
            }
            // Second order: the Hessian from Tracked<Dual> against finite differences of the gradient,
            // and the Jet's d²/dt² along (1, 0.5) against uᵀHu.
            let H = hessian(of: { Tracked.applying(f, $0[0], $0[1]) }, at: [a, b])
            for j in 0..<2 {
                var p = [a, b], m = [a, b]; p[j] += h; m[j] -= h
                let gp = gradient(of: { Tracked.applying(f, $0[0], $0[1]) }, at: p)
                let gm = gradient(of: { Tracked.applying(f, $0[0], $0[1]) }, at: m)
                for i in 0..<2 where abs(H[i][j] - (gp[i] - gm[i]) / (2 * h)) > 1e-5 * max(abs(H[i][j]), 1) {
                    failures.append("\(name)(\(a), \(b)) H[\(i)][\(j)] = \(H[i][j]) vs \((gp[i] - gm[i]) / (2 * h))")
                }
            }
            let u = [1.0, 0.5]
            let uHu = (0..<2).map { i in (0..<2).map { j in u[i] * H[i][j] * u[j] }.reduce(0, +) }.reduce(0, +)
            for order in 2...4 {
                let c = try! taylorCoefficients(of: { (x: [Jet<Double>]) in Jet.applying(f, x[0], x[1]) }, at: [a, b], along: u, order: order)
                if abs(2 * c[2] - uHu) > 1e-10 * max(abs(uHu), 1) { failures.append("\(name)(\(a), \(b)) jet order \(order): 2c₂ = \(2 * c[2]) vs uᵀHu = \(uHu)") }
                if abs(c[1] - (u[0] * g[0] + u[1] * g[1])) > 1e-12 * max(abs(c[1]), 1) { failures.append("\(name) jet c₁ \(c[1])") }
            }
            // Tensors agree with scalars.
            let ta = Tensor<Double>([a, 2 * a]), tb = Tensor<Double>([b, b + 0.25])
            let dual = Dual.applying(f, Dual(primal: ta, tangent: ta.onesLike()), Dual(primal: tb))
            if abs(dual.tangentOrZero.scalars[0] - da) > 1e-15 * max(abs(da), 1) { failures.append("\(name) Dual<Tensor> ∂a") }
        }
        #expect(failures.isEmpty, "seed \(Self.seed): \(failures.prefix(12).joined(separator: "\n"))")
    }

    @Test("every tensor rule: JVP against finite differences, VJP its transpose, HVP and jets agree",
          arguments: RuleTable.tensor.indices)
    func tensorRule(index: Int) throws {
        let op = RuleTable.tensor[index]
        let name = "\(type(of: op))"
        var rng = SplitMix64(seed: Self.seed &+ 200 &+ UInt64(index))
        let shape = [3, 5]
        let x = Tensor<Double>(shape: shape, scalars: (0..<15).map { _ in 4 * rng.nextUnitDouble() - 2 })
        let t = Tensor<Double>(shape: shape, scalars: (0..<15).map { _ in rng.nextUnitDouble() - 0.5 })
        let y = Tensor<Double>.applying(op, to: x)
        let w = Tensor<Double>(shape: y.shape, scalars: (0..<y.count).map { _ in rng.nextUnitDouble() - 0.5 })
        // JVP vs a central difference of the value.
        let jv = Dual.applying(op, to: Dual(primal: x, tangent: t)).tangentOrZero
        let h = 1e-6
        var xp = x, xm = x; xp.addScaled(t, h); xm.addScaled(t, -h)
        let fd = (Tensor<Double>.applying(op, to: xp) - Tensor<Double>.applying(op, to: xm)).scaled(by: 1 / (2 * h))
        let err = (jv - fd).norm() / max(fd.norm(), 1)
        #expect(err < 1e-7, "seed \(Self.seed) \(name): JVP vs central difference, relative error \(err)")
        // VJP is the transpose of the JVP: ⟨w, J t⟩ = ⟨Jᵀ w, t⟩.
        let tape = Tape<Tensor<Double>>()
        let xv = tape.variable(x)
        let out = (Tracked.applying(op, to: xv) * Tracked(untracked: w)).sum()
        let vj = tape.cotangents(of: out, seed: Tensor(1))[0]!
        #expect(abs(w.dot(jv) - vj.dot(t)) < 1e-12 * max(abs(w.dot(jv)), 1), "seed \(Self.seed) \(name): ⟨w, Jt⟩ ≠ ⟨Jᵀw, t⟩")
        // Second order: uᵀ∇²(w·op)(x) t from Tracked<Dual> equals 2c₂ of the jet when u = t, and
        // a central difference of the gradient.
        let f: ([Tracked<Dual<Tensor<Double>>>]) -> Tracked<Dual<Tensor<Double>>> = { p in
            (Tracked.applying(op, to: p[0]) * Tracked(untracked: Dual(primal: w))).sum()
        }
        let tape2 = Tape<Dual<Tensor<Double>>>()
        let v2 = tape2.variable(Dual(primal: x, tangent: t))
        let hv = tape2.cotangents(of: f([v2]), seed: Dual(primal: Tensor(1)))[0]!.tangentOrZero
        func grad(_ at: Tensor<Double>) -> Tensor<Double> {
            let tp = Tape<Tensor<Double>>(); let v = tp.variable(at)
            return tp.cotangents(of: (Tracked.applying(op, to: v) * Tracked(untracked: w)).sum(), seed: Tensor(1))[0]!
        }
        let fdh = (grad(xp) - grad(xm)).scaled(by: 1 / (2 * h))
        let herr = (hv - fdh).norm() / max(fdh.norm(), 1)
        #expect(herr < 1e-6, "seed \(Self.seed) \(name): HVP vs central difference of the gradient, \(herr)")
        let jet = (Jet<Tensor<Double>>.applying(op, to: Jet(point: x, direction: t, order: 3)) * Jet(constant: w)).sum()
        #expect(jet.order == 3, "\(name): jet known to order \(jet.order)")
        #expect(abs(jet.derivative(1).scalars[0] - w.dot(jv)) < 1e-12 * max(abs(w.dot(jv)), 1), "\(name): jet c₁")
        #expect(abs(jet.derivative(2).scalars[0] - t.dot(hv)) < 1e-10 * max(abs(t.dot(hv)), 1), "\(name): jet 2c₂ vs tᵀHt")
        // Third order: 6c₃ against a central difference of tᵀH(x + s t)t.
        func tHt(_ at: Tensor<Double>) -> Double {
            let tp = Tape<Dual<Tensor<Double>>>(); let v = tp.variable(Dual(primal: at, tangent: t))
            return t.dot(tp.cotangents(of: f([v]), seed: Dual(primal: Tensor(1)))[0]!.tangentOrZero)
        }
        let s = 1e-4
        var ap = x, am = x; ap.addScaled(t, s); am.addScaled(t, -s)
        let d3 = (tHt(ap) - tHt(am)) / (2 * s)
        #expect(abs(jet.derivative(3).scalars[0] - d3) < 1e-5 * max(abs(d3), 1), "\(name): jet 6c₃ \(jet.derivative(3).scalars[0]) vs \(d3)")
    }
}

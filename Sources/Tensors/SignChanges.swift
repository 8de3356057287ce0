import Foundation

/// Which branch a routing value exactly at its switching point takes: the branch below it
/// (ReLU's mask and `select`: `z > 0` picks the upper branch, so z = 0 is below; ReLU'(0) = 0),
/// the branch above it, or neither — a branch of its own that agrees with no side (abs'(0) = 0,
/// the ½–½ split of a `max` tie).
public enum SwitchingSide: Sendable {
    /// Below, above, or a branch of its own (see the type).
    case below, above, neither
}

/// The distances along a line t ↦ θ + t·v to the first change of a routing decision (an
/// activation pattern, a pooling argmax), forward (t > 0) and backward (t < 0), both ≥ 0;
/// `.infinity` where none changes.
public struct SwitchDistances: Sendable, Equatable {
    /// The distance for t > 0.
    public var forward: Double
    /// The distance for t < 0 (as a positive number).
    public var backward: Double
    /// Distances in both directions; the defaults, `.infinity`, mean no change.
    public init(forward: Double = .infinity, backward: Double = .infinity) { self.forward = forward; self.backward = backward }
    /// The elementwise minimum.
    public mutating func formMinimum(_ other: SwitchDistances) {
        forward = Swift.min(forward, other.forward); backward = Swift.min(backward, other.backward)
    }
}

/// Real-root searches on polynomials p(t) = Σ_k c_k t^k with `Double` coefficients (c[k] the
/// coefficient of t^k): the per-element work of the smoothness radius and the quadratic-model
/// radius. Concrete `Double` loops; the tensor entries below convert each coefficient tensor once.
public enum PolynomialRoots {
    /// p(t) by Horner's rule.
    @inlinable
    public static func evaluate(_ c: [Double], at t: Double) -> Double {
        var y = 0.0
        for k in c.indices.reversed() { y = y * t + c[k] }
        return y
    }

    /// The sign of p(t) — +1, −1, or 0 where |p(t)| is within the rounding of Horner's rule,
    /// γ_2n·Σ_k |c_k|·|t|^k (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
    /// §5.1; γ_2n ≈ n·ulp, here 2n·ulp for margin), where the computed value's sign means nothing.
    static func sign(_ c: [Double], at t: Double) -> Int {
        var y = 0.0, s = 0.0
        let a = Swift.abs(t)
        for k in c.indices.reversed() { y = y * t + c[k]; s = s * a + Swift.abs(c[k]) }
        let tolerance = Double(2 * c.count) * Double.ulpOfOne * s
        return y > tolerance ? 1 : y < -tolerance ? -1 : 0
    }

    /// Every t in (0, upper) where p changes sign (roots of odd multiplicity), increasing; with
    /// `firstOnly`, the smallest alone. Exact isolation: the sign changes of p′ (recursively) cut
    /// (0, upper) into intervals where p is monotone, each holding at most one root, found by
    /// bisection to about 4 ulp (geometric midpoints across decades). Roots of even multiplicity
    /// (touches) are not sign changes and are not returned; nor is a root at 0 or at `upper` (the
    /// interval is open). Where p at a cut is within rounding of 0 (`sign(_:at:)`) the cut is
    /// a root, and the signs of p on the two neighbouring intervals decide: the same sign is a
    /// touch, opposite signs a crossing at the cut. So two roots closer than the rounding of p can
    /// resolve count as one touch, and a root of multiplicity m is found to about ulp^(1/m).
    /// Non-finite coefficients give `[.nan]` (no answer, rather than "no root").
    public static func signChanges(_ coefficients: [Double], below upper: Double, firstOnly: Bool = false) -> [Double] {
        guard coefficients.allSatisfy({ $0.isFinite }) else { return [.nan] }
        return finiteSignChanges(coefficients, below: upper, firstOnly: firstOnly)
    }

    /// ``signChanges(_:below:firstOnly:)`` of finite coefficients.
    static func finiteSignChanges(_ coefficients: [Double], below upper: Double, firstOnly: Bool) -> [Double] {
        var c = coefficients
        while let last = c.last, last == 0 { c.removeLast() }
        let n = c.count - 1
        guard n >= 1, upper > 0 else { return [] }
        if n == 1 {
            let r = -c[0] / c[1]
            return r > 0 && r < upper ? [r] : []
        }
        // Cauchy's bound: every root has |t| < 1 + max_k |c_k / c_n|.
        var bound = 0.0
        for k in 0..<n { bound = Swift.max(bound, Swift.abs(c[k] / c[n])) }
        // Beyond 1e20 (where p's powers may overflow) no root is searched.
        let top = Swift.min(upper, 1 + bound, 1e20)
        let derivative = (1...n).map { Double($0) * c[$0] }
        let cuts = [0] + finiteSignChanges(derivative, below: top, firstOnly: false) + [top]
        return signChanges(c, cuts: cuts, firstOnly: firstOnly)
    }

    /// The sign changes of p in (cuts.first, cuts.last) given cuts (increasing) between which p
    /// is monotone: bisection inside an interval whose ends have opposite signs, and a crossing at
    /// a cut where p is 0 to rounding and the nearest intervals where p is not have opposite signs.
    static func signChanges(_ c: [Double], cuts: [Double], firstOnly: Bool) -> [Double] {
        var roots: [Double] = []
        // The sign of p before the current point (0 until p is seen nonzero), and the first cut
        // since then where p is 0 to rounding.
        var last = 0
        var zeroCut: Double? = nil
        var previous = 0
        for i in cuts.indices {
            let s = sign(c, at: cuts[i])
            if i > 0 {
                if previous != 0, s != 0, previous != s {
                    roots.append(bisect(c, cuts[i - 1], cuts[i], negativeAtLow: previous < 0))
                    if firstOnly { return roots }
                    last = s; zeroCut = nil
                } else {
                    // Monotone: the interval's interior has the sign of a nonzero end.
                    let inner = previous != 0 ? previous : s
                    if inner != 0 {
                        if last != 0, inner != last, let z = zeroCut {
                            roots.append(z)
                            if firstOnly { return roots }
                        }
                        last = inner; zeroCut = nil
                    }
                }
            } else {
                last = s
            }
            if s == 0, last != 0, zeroCut == nil { zeroCut = cuts[i] }
            previous = s
        }
        return roots
    }

    /// The root of p in (lo, hi) where p changes sign once.
    static func bisect(_ c: [Double], _ lo: Double, _ hi: Double, negativeAtLow: Bool) -> Double {
        var a = lo, b = hi
        for _ in 0..<2200 {
            let mid: Double
            if a > 0, b / a > 4 { mid = (a * b).squareRoot() } else if a == 0, b > 1e-300 { mid = b / 64 } else { mid = a + (b - a) / 2 }
            guard mid > a, mid < b else { break }
            let f = evaluate(c, at: mid)
            if f == 0 { return mid }
            if (f < 0) == negativeAtLow { a = mid } else { b = mid }
            if b - a <= 4 * Double.ulpOfOne * b { break }
        }
        return a + (b - a) / 2
    }

    /// The smallest t > 0 at which the branch of a routing value p(t) (upper where p > 0, lower
    /// where p < 0, `side` at p = 0) differs from its branch at t = 0; `.infinity` if none.
    /// A value that starts at the switching point and leaves it at once into another branch
    /// changes at t = 0⁺ (distance 0): ReLU at z = 0 with ż > 0. Touches (roots of even
    /// multiplicity) change the branch at one point only, which leaves the function smooth (ReLU
    /// of (t − 1)², `max` of two curves that touch), and do not count. `p ≡ 0` never changes.
    /// Non-finite coefficients give `.nan` (unknown, not "never").
    public static func firstSwitch(_ c: [Double], side: SwitchingSide, below upper: Double = .infinity) -> Double {
        guard c.allSatisfy({ $0.isFinite }) else { return .nan }
        guard let m = c.firstIndex(where: { $0 != 0 }) else { return .infinity }
        if m > 0 {
            let after: SwitchingSide = c[m] > 0 ? .above : .below
            if after != side { return 0 }
        }
        // p / t^m has the sign changes of p on t > 0 and a nonzero value at 0.
        return finiteSignChanges(Array(c[m...]), below: upper, firstOnly: true).first ?? .infinity
    }

    /// ``firstSwitch(_:side:below:)`` forward (t > 0) and backward (p(−t), t > 0).
    public static func switchDistances(_ c: [Double], side: SwitchingSide, within limit: SwitchDistances = SwitchDistances()) -> SwitchDistances {
        let reflected = c.enumerated().map { k, x in k % 2 == 1 ? -x : x }
        return SwitchDistances(forward: firstSwitch(c, side: side, below: limit.forward),
                               backward: firstSwitch(reflected, side: side, below: limit.backward))
    }

    /// Whether p may vanish on [0, limit): `false` when |c₀| > Σ_{k≥1} |c_k|·limit^k, which bounds
    /// |p(±t) − c₀| for t < limit — the cheap rejection that spares most elements the root search.
    @inlinable
    static func mayVanish(_ c: UnsafePointer<Double>, _ count: Int, within limit: Double) -> Bool {
        guard c[0] != 0 else { return true }
        var s = 0.0, power = 1.0
        for k in 1..<count {
            power *= limit
            if c[k] != 0 { s += Swift.abs(c[k]) * power }
        }
        return !(s < Swift.abs(c[0]))
    }

    /// ``switchDistances(_:side:within:)`` of one element's coefficients (`count` of them at `c`),
    /// skipping a side that ``mayVanish(_:_:within:)`` rules out.
    @inlinable
    static func switchDistances(_ c: UnsafePointer<Double>, _ count: Int, side: SwitchingSide, within limit: SwitchDistances) -> SwitchDistances {
        let forward = mayVanish(c, count, within: limit.forward), backward = mayVanish(c, count, within: limit.backward)
        guard forward || backward else { return limit }
        let coefficients = Array(UnsafeBufferPointer(start: c, count: count))
        var out = limit
        if forward { out.forward = Swift.min(out.forward, firstSwitch(coefficients, side: side, below: limit.forward)) }
        if backward {
            let reflected = coefficients.enumerated().map { k, x in k % 2 == 1 ? -x : x }
            out.backward = Swift.min(out.backward, firstSwitch(reflected, side: side, below: limit.backward))
        }
        return out
    }
}

extension Tensor {
    /// The switch distances of routing values whose element i is the polynomial
    /// Σ_k coefficients[k][i]·t^k (`nil` an exact zero; coefficient 0 present) minus `offset`
    /// (the switching point, e.g. a kink), with the convention `side` at the switching point:
    /// the minimum over elements, searched within `limit` (what is found beyond it is dropped).
    /// Both distances are `.nan` if any coefficient is not finite (the routing is unknown).
    /// - Precondition: equal element counts.
    @inlinable
    public static func switchDistances(coefficients: [Tensor?], offset: Double = 0, side: SwitchingSide,
                                       within limit: SwitchDistances) -> SwitchDistances {
        let (planes, finite) = interleaved(coefficients)
        guard finite else { return SwitchDistances(forward: .nan, backward: .nan) }
        return planes.withUnsafeBufferPointer { switchDistancesKernel($0.baseAddress!, count: planes.count / coefficients.count,
                                                                       terms: coefficients.count, offset: offset, side: side, within: limit) }
    }

    /// The coefficients element by element, as Double: element i's k-th at `i·K + k` (K terms),
    /// and whether all are finite.
    @inlinable
    static func interleaved(_ coefficients: [Tensor?]) -> (planes: [Double], finite: Bool) {
        let k = coefficients.count, n = coefficients[0]!.count
        precondition(coefficients.allSatisfy { $0 == nil || $0!.count == n }, "switchDistances: coefficient tensors of different sizes")
        var out = [Double](repeating: 0, count: n * k)
        var finite = true
        out.withUnsafeMutableBufferPointer { b in
            for (j, c) in coefficients.enumerated() {
                // Concrete loops: a generic Element → Double conversion runs unspecialized where
                // the caller is not.
                if let c = c as? Tensor<Double> {
                    if !c.withUnsafePointer({ interleave($0, count: n, into: b.baseAddress! + j, stride: k) }) { finite = false }
                } else if let c = c as? Tensor<Float> {
                    if !c.withUnsafePointer({ interleave($0, count: n, into: b.baseAddress! + j, stride: k) }) { finite = false }
                } else if let c {
                    c.withUnsafePointer { p in
                        for i in 0..<n {
                            let x = Double(p[i])
                            b[i * k + j] = x
                            if !x.isFinite { finite = false }
                        }
                    }
                }
            }
        }
        return (out, finite)
    }

    /// The switch distances of 2×2 stride-2 max-pool windows of `[N, C, H, W]` values whose
    /// element i is Σ_k coefficients[k][i]·t^k: each window's argmax at t = 0 is the first maximum
    /// of coefficient 0 in scan order (as ``gatherMaxPool2x2(argmaxOf:)`` routes), and the window
    /// switches where another element overtakes it — where an element before the argmax in scan
    /// order reaches it (a tie goes to the first), or one after it exceeds it. Both distances are
    /// `.nan` if any coefficient is not finite.
    @inlinable
    public static func maxPoolSwitchDistances(coefficients: [Tensor?], within limit: SwitchDistances) -> SwitchDistances {
        guard let first = coefficients.first??.shape else { return limit }
        do { try checkMaxPool2x2(first) } catch { preconditionFailure("\(error)") }
        let (planes, finite) = interleaved(coefficients)
        guard finite else { return SwitchDistances(forward: .nan, backward: .nan) }
        return planes.withUnsafeBufferPointer { maxPoolSwitchDistancesKernel($0.baseAddress!, terms: coefficients.count, shape: first, within: limit) }
    }
}

// The finiteness test rides on the copy (one pass over memory): an exponent field of all ones
// is ±∞ or nan, OR-reduced over integers so that the loop stays branch-free.

/// `y[i·stride] = x[i]` for i < count; whether every x[i] is finite.
@discardableResult
public func interleave(_ x: UnsafePointer<Double>, count: Int, into y: UnsafeMutablePointer<Double>, stride: Int) -> Bool {
    let exponent: UInt64 = 0x7FF0_0000_0000_0000
    var nonFinite: UInt64 = 0
    for i in 0..<count {
        let v = x[i]
        y[i * stride] = v
        nonFinite |= (v.bitPattern & exponent) == exponent ? 1 : 0
    }
    return nonFinite == 0
}

/// `y[i·stride] = Double(x[i])` for i < count; whether every x[i] is finite.
@discardableResult
public func interleave(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Double>, stride: Int) -> Bool {
    let exponent: UInt32 = 0x7F80_0000
    var nonFinite: UInt32 = 0
    for i in 0..<count {
        let v = x[i]
        y[i * stride] = Double(v)
        nonFinite |= (v.bitPattern & exponent) == exponent ? 1 : 0
    }
    return nonFinite == 0
}

/// The loop of ``Tensor/switchDistances(coefficients:offset:side:within:)``: `count` elements of
/// `terms` interleaved coefficients each (`Tensor.interleaved(_:)`).
public func switchDistancesKernel(_ c: UnsafePointer<Double>, count: Int, terms k: Int, offset: Double, side: SwitchingSide,
                                  within limit: SwitchDistances) -> SwitchDistances {
    var best = limit
    let buffer = UnsafeMutablePointer<Double>.allocate(capacity: k)
    defer { buffer.deallocate() }
    for i in 0..<count {
        buffer.update(from: c + i * k, count: k)
        buffer[0] -= offset
        best = PolynomialRoots.switchDistances(buffer, k, side: side, within: best)
    }
    return best
}

/// The loop of ``Tensor/maxPoolSwitchDistances(coefficients:within:)`` on interleaved coefficients.
public func maxPoolSwitchDistancesKernel(_ c: UnsafePointer<Double>, terms k: Int, shape: [Int], within limit: SwitchDistances) -> SwitchDistances {
    let (h, w) = (shape[2], shape[3])
    var best = limit
    let buffer = UnsafeMutablePointer<Double>.allocate(capacity: k)
    defer { buffer.deallocate() }
    for pl in 0..<(shape[0] * shape[1]) {
        let base = pl * h * w
        for oy in 0..<(h / 2) {
            for ox in 0..<(w / 2) {
                let top = base + 2 * oy * w + 2 * ox
                // The window's elements in scan order: top, top + 1, top + w, top + w + 1.
                let element = { (j: Int) in top + (j >> 1) * w + (j & 1) }
                var a = 0
                for j in 1..<4 where c[element(j) * k] > c[element(a) * k] { a = j }
                let pa = c + element(a) * k
                for j in 0..<4 where j != a {
                    // The challenger minus the argmax: j takes over where it turns positive; at a
                    // tie the first in scan order keeps the window.
                    let pj = c + element(j) * k
                    for q in 0..<k { buffer[q] = pj[q] - pa[q] }
                    best = PolynomialRoots.switchDistances(buffer, k, side: j < a ? .above : .below, within: best)
                }
            }
        }
    }
    return best
}

import Tensors

/// A truncated Taylor series: the normalized Taylor coefficients `c_k = f⁽ᵏ⁾(0)/k!`,
/// k = 0…K, of a value along one direction, `t ↦ x(t) = c₀ + c₁t + … + c_K t^K + O(t^{K+1})`
/// (Taylor mode; Griewank & Walther, *Evaluating Derivatives*, 2nd ed., ch. 13).
///
/// Coefficients are stored **normalized** (divided by k!); ``derivative(_:)`` returns the
/// derivatives themselves. The order K is chosen at run time. A `nil` term is an exact zero and
/// costs nothing; a constant (an input batch) is *exact*: every coefficient beyond its terms is
/// zero, so a product with it is one product per coefficient. A computed jet is known through
/// ``order`` and no further: an operation whose operands are known to different orders is known
/// to the smaller one.
///
/// Rules come from the rule table (`Rules.swift`, `Carrier.swift`): Cauchy products for the
/// bilinear operations, the ODE y' = f'(x)·x' (or y' = JVP(x, x')) for the others, with
/// hand-written recurrences for exp, log, sqrt, pow, sin, cos, tanh, sigmoid and division.
/// ReLU and max-pool route every coefficient by coefficient 0 (non-smooth points follow the
/// primal's convention: ReLU'(0) = 0).
///
/// Where an expansion loses orders, the jet says so by a lower ``order``: dividing by a series
/// whose leading coefficients vanish divides out the common power of t ((eᵗ − 1)/t at t = 0 is
/// 1 + t/2 + t²/6 + …, one order fewer), a fractional power of a series starting at tᵐ shifts
/// the same way (√(t² + t⁴) = t·√(1 + t²)), and a power with no expansion (t^1.5 at 0) is known
/// only through the last order that exists (1). These checks look at whole values: a tensor
/// whose leading coefficient is zero in some elements only gets IEEE infinities there.
/// Fractional powers of a series starting at tᵐ (m even) take the root of its leading
/// coefficient: √(t²) is t, the one-sided (t → 0⁺) expansion of |t|. At a kink (|t|, ReLU at 0)
/// a jet follows the derivative conventions (abs'(0) = 0), which is not an expansion; a pole
/// (1/t at 0) gives IEEE infinities, and so does a product through one ((1/t)·t² at 0).
/// `taylorCoefficients(of:at:along:order:)` reruns at a higher order to recover lost orders
/// and throws when the expansion does not exist.
public struct Jet<V: ScalarAlgebra> {
    /// `terms[k]` is c_k; `nil` is an exact zero; `terms[0]` is never `nil`.
    public var terms: [V?]
    /// The highest order whose coefficient is known; `nil` for an exact value (a constant).
    public var truncation: Int?

    @inlinable
    init(terms: [V?], truncation: Int?) {
        precondition(!terms.isEmpty && terms[0] != nil, "Jet: coefficient 0 must be present")
        self.terms = terms
        self.truncation = truncation
    }

    /// A jet from its normalized coefficients (`coefficients[k] = f⁽ᵏ⁾/k!`), known through order
    /// `coefficients.count − 1`.
    /// - Precondition: at least one coefficient.
    @inlinable
    public init(coefficients: [V]) {
        precondition(!coefficients.isEmpty, "Jet: needs at least the coefficient of order 0")
        self.init(terms: coefficients.map { $0 }, truncation: coefficients.count - 1)
    }

    /// A jet from coefficients where `nil` is zero, known through order `terms.count − 1`.
    /// - Precondition: `terms[0] != nil`.
    @inlinable
    public init(terms: [V?]) { self.init(terms: terms, truncation: terms.count - 1) }

    /// The jet of `x + t·v` truncated at `order`: coefficients `[x, v, 0, …]`.
    /// - Precondition: `order ≥ 0`.
    @inlinable
    public init(point x: V, direction v: V, order: Int) {
        precondition(order >= 0, "Jet: order must be ≥ 0, got \(order)")
        self.init(terms: [x] + (order >= 1 ? [v] : []), truncation: order)
    }

    /// A constant: exact, every coefficient of order ≥ 1 zero.
    @inlinable
    public init(constant x: V) { self.init(terms: [x], truncation: nil) }

    /// The highest order whose coefficient is known.
    @inlinable public var order: Int { truncation ?? (terms.count - 1) }
    /// Whether the jet is exact (a constant).
    @inlinable public var isExact: Bool { truncation == nil }
    /// The highest order whose coefficient is known: ``order``, or `Int.max` for an exact jet.
    @inlinable public var knownOrder: Int { truncation ?? .max }
    /// c₀, the value.
    @inlinable public var primal: V { terms[0]! }

    /// The normalized coefficient c_k: zero where it is an exact zero, nan beyond the known order.
    @inlinable
    public func coefficient(_ k: Int) -> V {
        precondition(k >= 0, "Jet.coefficient: the order must be ≥ 0, got \(k)")
        if let t = truncation, k > t { return primal.zerosLike().shifted(by: .nan) }
        return term(k) ?? primal.zerosLike()
    }

    /// All known normalized coefficients c₀…c_K.
    @inlinable public var coefficients: [V] { (0...order).map(coefficient) }

    /// The k-th derivative `k!·c_k` (of `t ↦ f(x + t v)` at t = 0).
    @inlinable
    public func derivative(_ k: Int) -> V {
        // One factor at a time: k! alone overflows (171! in Double, 35! in Float) where k!·c_k need not.
        var d = coefficient(k)
        if k > 1 { for i in 2...k { d = d.scaled(by: Double(i)) } }
        return d
    }

    @inlinable
    func term(_ k: Int) -> V? { k < terms.count ? terms[k] : nil }

    @inlinable
    static func add(_ a: V?, _ b: V?) -> V? { sumOfPresent(a, b) }

    /// The known order of a result of `a` and `b`: the smaller of the two (exact values count as
    /// known to every order).
    @inlinable
    static func combined(_ a: Jet, _ b: Jet) -> Int? {
        switch (a.truncation, b.truncation) {
        case let (x?, y?): return Swift.min(x, y)
        case let (x?, nil): return x
        case let (nil, y?): return y
        case (nil, nil): return nil
        }
    }

    /// Applies a linear map to every coefficient.
    @inlinable
    public func mapLinear(_ f: (V) -> V) -> Jet { Jet(terms: terms.map { $0.map(f) }, truncation: truncation) }

    /// The first `order + 1` coefficients, known through `order`.
    @inlinable
    func truncated(to order: Int) -> Jet { Jet(terms: Array(terms.prefix(order + 1)), truncation: order) }

    /// The series divided by tᵐ (the first m coefficients must be zero): known m orders fewer.
    @inlinable
    func droppingLeading(_ m: Int) -> Jet {
        var t = Array(terms.dropFirst(m))
        if t.isEmpty { t = [primal.zerosLike()] } else if t[0] == nil { t[0] = primal.zerosLike() }
        return Jet(terms: t, truncation: truncation.map { $0 - m })
    }

    /// The number of leading coefficients that are identically zero (up to the known order).
    @inlinable
    var leadingZeros: Int {
        if isExact && isIdenticallyZero { return Int.max / 2 }   // the exact 0: every coefficient
        var m = 0
        while m <= order, term(m)?.isIdenticallyZero ?? true { m += 1 }
        return m
    }

    /// The Cauchy product of a bilinear map: `c_k = Σ_{i+j=k} f(a_i, b_j)`.
    @inlinable
    static func cauchy(_ a: Jet, _ b: Jet, _ f: (V, V) -> V) -> Jet {
        let t = combined(a, b)
        let K = t ?? (a.terms.count + b.terms.count - 2)
        var out = [V?](repeating: nil, count: K + 1)
        for k in 0...K {
            var acc: V? = nil
            for i in 0...k {
                if let ai = a.term(i), let bj = b.term(k - i) { acc = add(acc, f(ai, bj)) }
            }
            out[k] = acc
        }
        if out[0] == nil { out[0] = f(a.primal, b.primal) }
        return Jet(terms: out, truncation: t)
    }

    /// `y` with `y' = u · x'` where `u` is itself a jet computed from `y` so far: the ODE
    /// recurrence `y_k = (1/k) Σ_{j=1..k} j·x_j·u_{k−j}` (Griewank & Walther, Table 13.2).
    /// `uAt(m, y)` returns u_m given y₀…y_m.
    @inlinable
    static func ode(_ x: Jet, y0: V, _ uAt: (Int, [V?]) -> V?) -> Jet {
        var y: [V?] = [y0]
        guard x.order >= 1 else { return Jet(terms: y, truncation: x.order) }
        var u: [V?] = [uAt(0, y)]
        for k in 1...x.order {
            var acc: V? = nil
            for j in 1...k {
                if let xj = x.term(j), let um = u[k - j] { acc = add(acc, (xj * um).scaled(by: Double(j))) }
            }
            y.append(acc.map { $0.scaled(by: 1 / Double(k)) })
            u.append(uAt(k, y))
        }
        return Jet(terms: y, truncation: x.order)
    }

    /// The generic Taylor rule: `y` with `y' = J(x, y)[x']` for a tangent map `J` written in the
    /// algebra (`J(t, x, y)`), i.e. `y_k = (1/k)·[J(x', x, y)]_{k−1}` on the jets known through
    /// order k − 1 (causality of Taylor arithmetic). One evaluation of `J` per order: O(K³).
    @inlinable
    static func integrate(_ x: Jet, y0: V, _ tangentMap: (Jet, Jet, Jet) -> Jet) -> Jet {
        let K = x.order
        var y: [V?] = [y0]
        guard K >= 1 else { return Jet(terms: y, truncation: K) }
        let dx = x.derivativeSeries()
        for k in 1...K {
            let m = k - 1
            let out = tangentMap(dx.truncated(to: m), x.truncated(to: m), Jet(terms: y, truncation: m))
            guard out.knownOrder >= m else { return Jet(terms: y, truncation: m) }
            y.append(out.term(m).map { $0.scaled(by: 1 / Double(k)) })
        }
        return Jet(terms: y, truncation: K)
    }

    /// The binary form of ``integrate(_:y0:_:)``: `y' = J(a, b, y)[a', b']`.
    @inlinable
    static func integrate(_ a: Jet, _ b: Jet, y0: V, _ tangentMap: (Jet, Jet, Jet, Jet, Jet) -> Jet) -> Jet {
        let K = combined(a, b) ?? Swift.max(a.order, b.order)
        var y: [V?] = [y0]
        guard K >= 1 else { return Jet(terms: y, truncation: K) }
        let da = a.derivativeSeries(), db = b.derivativeSeries()
        for k in 1...K {
            let m = k - 1
            let out = tangentMap(da.truncated(to: m), db.truncated(to: m), a.truncated(to: m), b.truncated(to: m),
                                 Jet(terms: y, truncation: m))
            guard out.knownOrder >= m else { return Jet(terms: y, truncation: m) }
            y.append(out.term(m).map { $0.scaled(by: 1 / Double(k)) })
        }
        return Jet(terms: y, truncation: K)
    }

    /// x'(t): coefficients (j+1)·x_{j+1}, known one order fewer.
    @inlinable
    func derivativeSeries() -> Jet {
        let K = order
        var d: [V?] = (0..<Swift.max(K, 1)).map { j in term(j + 1).map { $0.scaled(by: Double(j + 1)) } }
        if d[0] == nil { d[0] = primal.zerosLike() }
        return Jet(terms: d, truncation: truncation.map { Swift.max($0 - 1, 0) })
    }

    /// Σ_{i=lo..hi} a_i · b_{m−i} over present terms.
    @inlinable
    static func convolution(_ a: [V?], _ b: [V?], _ m: Int, from lo: Int = 0, to hi: Int? = nil) -> V? {
        var acc: V? = nil
        let upper = hi ?? m
        guard lo <= upper else { return nil }
        for i in lo...upper where i < a.count && m - i < b.count && m - i >= 0 {
            if let ai = a[i], let bj = b[m - i] { acc = add(acc, ai * bj) }
        }
        return acc
    }

    // MARK: Hand-written recurrences (Notes/jets.md)

    /// log: y_k = (x_k − (1/k) Σ_{j=1..k−1} j·y_j·x_{k−j}) / x₀. No expansion at x₀ = 0 (−∞, known
    /// through order 0).
    @inlinable
    static func logarithm(_ x: Jet) -> Jet {
        let x0 = x.primal
        if x.order >= 1, x0.isIdenticallyZero { return Jet(terms: [V.log(x0)], truncation: 0) }   // log t: no expansion
        var y: [V?] = [V.log(x0)]
        if x.order >= 1 {
            for k in 1...x.order {
                var acc: V? = nil
                if k > 1 { for j in 1..<k { if let yj = y[j], let xr = x.term(k - j) { acc = add(acc, (yj * xr).scaled(by: Double(j))) } } }
                let num = add(x.term(k), acc.map { $0.scaled(by: -1 / Double(k)) })
                y.append(num.map { $0 / x0 })
            }
        }
        return Jet(terms: y, truncation: x.order)
    }

    /// sqrt: y_k = (x_k − Σ_{j=1..k−1} y_j y_{k−j}) / (2 y₀); a series starting at t^{2m} is
    /// t^m·√(series / t^{2m}) (``power(_:_:)``).
    @inlinable
    static func squareRoot(_ x: Jet) -> Jet {
        if x.order >= 1, x.primal.isIdenticallyZero { return power(x, 0.5)! }
        let y0 = V.sqrt(x.primal)
        var y: [V?] = [y0]
        if x.order >= 1 {
            for k in 1...x.order {
                let s = k > 1 ? convolution(y, y, k, from: 1, to: k - 1) : nil
                let num = add(x.term(k), s.map { -$0 })
                y.append(num.map { ($0 / y0).scaled(by: 0.5) })
            }
        }
        return Jet(terms: y, truncation: x.order)
    }

    /// x^r. An integer exponent (|r| ≤ 64) is exact: repeated Cauchy products (and a division for
    /// r < 0), smooth at x₀ = 0. At x₀ = 0 a real r > 0 on a series starting at tᵐ gives
    /// t^{mr}·(x/tᵐ)^r when m·r is an integer, and otherwise is known only through order ⌊m·r⌋
    /// (zeros); r < 0 there is a pole (known through order 0). `nil` (the generic ODE) only where
    /// y₀ underflows.
    @inlinable
    static func power(_ x: Jet, _ r: Double) -> Jet? {
        let K = x.order
        let x0 = x.primal
        let y0 = V.pow(x0, r)
        if r == r.rounded(), Swift.abs(r) <= 64 {
            var n = Int(Swift.abs(r))
            if n == 0 { return Jet(terms: [y0], truncation: K) }
            var result: Jet? = nil, base = x
            while n > 0 {
                if n & 1 == 1 { result = result.map { $0 * base } ?? base }
                n >>= 1
                if n > 0 { base = base * base }
            }
            var y = r < 0 ? quotient(Jet(constant: x0.onesLike()), result!) : result!
            y.terms[0] = y0
            return y
        }
        if K >= 1, x0.isIdenticallyZero {
            guard r > 0 else { return Jet(terms: [y0], truncation: 0) }   // a pole at t = 0: no expansion
            let m = x.leadingZeros
            if m > K {
                // x = O(t^{K+1}), so x^r = O(t^{(K+1)r}): zeros through order ⌈(K+1)r⌉ − 1.
                let bound = (Double(K + 1) * r).rounded(.up) - 1
                return Jet(terms: [y0], truncation: bound >= Double(K) ? K : Swift.max(Int(bound), 0))
            }
            let mr = Double(m) * r
            if mr > Double(K) { return Jet(terms: [y0], truncation: K) }   // the first nonzero term is beyond K
            if mr == mr.rounded() {
                let shift = Int(mr)
                let inner = Jet.applying(Power(r), to: x.droppingLeading(m))
                var t = [V?](repeating: nil, count: shift) + inner.terms
                t[0] = y0
                let known = Swift.min(K, inner.order + shift)
                return Jet(terms: Array(t.prefix(known + 1)), truncation: known)
            }
            return Jet(terms: [y0], truncation: Int(mr.rounded(.down)))
        }
        // x₀ ≠ 0: y_k = (1/(k x₀)) Σ_{j=1..k} (r·j − (k − j)) x_j y_{k−j} (from x·y' = r·y·x'), O(K²).
        // It scales every term by y₀; where y₀ underflows to 0 (x₀ = 1e−300, r = 1.5) while the
        // derivatives do not, the generic ODE (u = r·x^(r−1)) is used instead.
        let one = x0.onesLike(), zero = x0.zerosLike()
        guard r.isFinite, V.select(V.abs(y0), zero, one).isIdenticallyZero else { return nil }
        var y: [V?] = [y0]
        if K >= 1 {
            for k in 1...K {
                var acc: V? = nil
                for j in 1...k {
                    let w = r * Double(j) - Double(k - j)
                    if w != 0, let xj = x.term(j), let yr = y[k - j] { acc = add(acc, (xj * yr).scaled(by: w)) }
                }
                y.append(acc.map { ($0 / x0).scaled(by: 1 / Double(k)) })
            }
        }
        return Jet(terms: y, truncation: K)
    }

    /// Division: c_k = (a_k − Σ_{i=1..k} b_i c_{k−i}) / b₀. When b's first m coefficients vanish
    /// and a's too, both are divided by tᵐ first (a removable singularity; m orders fewer).
    @inlinable
    static func quotient(_ a: Jet, _ b: Jet) -> Jet {
        var a = a, b = b
        var pole = false
        if b.order >= 1, b.primal.isIdenticallyZero {
            let m = b.leadingZeros
            if m <= b.order, a.leadingZeros >= m {
                a = a.droppingLeading(m)
                b = b.droppingLeading(m)
            } else if m <= b.order {
                pole = true   // a/b ~ t^{−k}: no expansion (IEEE infinities, known through order 0)
            }
        }
        let t = combined(a, b)
        let K = t ?? (b.terms.count == 1 ? a.terms.count - 1 : Swift.max(a.terms.count, b.terms.count) - 1)
        let b0 = b.primal
        var c: [V?] = [a.primal / b0]
        if K >= 1 {
            for k in 1...K {
                let s = convolution(b.terms, c, k, from: 1)
                let num = add(a.term(k), s.map { -$0 })
                c.append(num.map { $0 / b0 })
            }
        }
        if pole { return Jet(terms: [c[0]], truncation: 0) }
        return Jet(terms: c, truncation: t ?? (b.terms.count == 1 ? nil : K))
    }

    /// sin and cos together: s' = c·x', c' = −s·x'.
    @inlinable
    static func sinCos(_ x: Jet) -> (Jet, Jet) {
        var s: [V?] = [V.sin(x.primal)], c: [V?] = [V.cos(x.primal)]
        if x.order >= 1 {
            for k in 1...x.order {
                var sk: V? = nil, ck: V? = nil
                for j in 1...k {
                    guard let xj = x.term(j) else { continue }
                    if let cm = c[k - j] { sk = add(sk, (xj * cm).scaled(by: Double(j))) }
                    if let sm = s[k - j] { ck = add(ck, (xj * sm).scaled(by: -Double(j))) }
                }
                s.append(sk.map { $0.scaled(by: 1 / Double(k)) })
                c.append(ck.map { $0.scaled(by: 1 / Double(k)) })
            }
        }
        return (Jet(terms: s, truncation: x.order), Jet(terms: c, truncation: x.order))
    }
}

extension Jet: DerivativeCarrier {
    public typealias Value = V
    @inlinable public init(constantValue: V) { self.init(constant: constantValue) }
    @inlinable public var primalValue: V { primal }
    @inlinable public var isIdenticallyZero: Bool { terms.allSatisfy { $0?.isIdenticallyZero ?? true } }
    @inlinable public func mappingPrimal(_ f: (V) -> V) -> Jet { var j = self; j.terms[0] = f(primal); return j }
    @inlinable public func linear(_ f: @escaping (V) -> V, adjoint: @escaping (V) -> V) -> Jet { mapLinear(f) }
    @inlinable public static func linear(_ a: Jet, _ b: Jet, _ both: @escaping (V, V) -> V,
                                         left: @escaping (V) -> V, right: @escaping (V) -> V,
                                         adjointLeft: @escaping (V) -> V, adjointRight: @escaping (V) -> V) -> Jet {
        let t = combined(a, b)
        let K = t ?? (Swift.max(a.terms.count, b.terms.count) - 1)
        return Jet(terms: (0...K).map { k in
            k == 0 ? Optional(both(a.primal, b.primal)) : sumOfLinearMaps(a.term(k), b.term(k), both: both, left: left, right: right)
        }, truncation: t)
    }
    @inlinable public static func bilinear(_ a: Jet, _ b: Jet, _ f: @escaping (V, V) -> V,
                                           adjointLeft: @escaping (V, V) -> V, adjointRight: @escaping (V, V) -> V) -> Jet {
        cauchy(a, b, f)
    }
    /// Where the condition picks one branch everywhere, that branch whole: the branch not taken
    /// cannot limit the known order (`select(t, √t, 0)` at t = 0 is the exact 0).
    @inlinable public static func select(_ condition: Jet, _ a: Jet, _ b: Jet) -> Jet {
        let c = condition.primal, one = c.onesLike(), zero = c.zerosLike()
        if V.select(c, zero, one).isIdenticallyZero { return a }
        if V.select(c, one, zero).isIdenticallyZero { return b }
        return linear(a, b, { V.select(c, $0, $1) },
                      left: { V.select(c, $0, $0.zerosLike()) }, right: { V.select(c, $0.zerosLike(), $0) },
                      adjointLeft: { V.select(c, $0, $0.zerosLike()) }, adjointRight: { V.select(c, $0.zerosLike(), $0) })
    }
    @inlinable public static func applying<F: ElementwiseFunction>(_ f: F, to x: Jet) -> Jet {
        if x.isExact && x.terms.count == 1 { return Jet(constant: V.applying(f, to: x.primal)) }
        if let fast = f.taylor(x) { return fast }
        return integrate(x, y0: V.applying(f, to: x.primal)) { t, xs, ys in f.tangent(t, at: xs, value: ys) }
    }
    @inlinable public static func applying<F: BinaryElementwiseFunction>(_ f: F, _ a: Jet, _ b: Jet) -> Jet {
        if a.isExact && b.isExact && a.terms.count == 1 && b.terms.count == 1 { return Jet(constant: V.applying(f, a.primal, b.primal)) }
        if let fast = f.taylor(a, b) { return fast }
        return integrate(a, b, y0: V.applying(f, a.primal, b.primal)) { ta, tb, xa, xb, y in
            let (pa, pb) = f.partials(xa, xb, value: y)
            return Jet.strongZeroProduct(ta, pa) + Jet.strongZeroProduct(tb, pb)
        }
    }
}

extension Jet: TensorAlgebra where V: TensorAlgebra {
    public typealias Scalar = V.Scalar
    @inlinable public static func applying<Op: TensorFunction>(_ op: Op, to x: Jet) -> Jet {
        if x.isExact && x.terms.count == 1 { return Jet(constant: V.applying(op, to: x.primal)) }
        if let fast = op.taylor(x) { return fast }
        return integrate(x, y0: V.applying(op, to: x.primal)) { t, xs, ys in op.jvp(at: xs, value: ys, tangent: t) }
    }
}

extension Jet: ConvolutionAlgebra where V: ConvolutionAlgebra {}

extension Jet: CustomStringConvertible {
    public var description: String { "Jet(" + (0...order).map { "\(coefficient($0))" }.joined(separator: ", ") + ")" }
}

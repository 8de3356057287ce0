import Tensors

/// A truncated Taylor series: the normalized Taylor coefficients `c_k = f⁽ᵏ⁾(0)/k!`,
/// k = 0…K, of a value along one direction, `t ↦ x(t) = c₀ + c₁t + … + c_K t^K + O(t^{K+1})`
/// (Taylor mode; Griewank & Walther, *Evaluating Derivatives*, 2nd ed., ch. 13).
///
/// Coefficients are stored **normalized** (divided by k!); ``derivative(_:)`` returns the
/// derivatives themselves. The order K is chosen at run time. Missing coefficients
/// (`nil`, or beyond a shorter operand's order) are exact zeros and cost nothing, so a
/// constant (an input batch) is a jet of order 0 and a product with it is one product
/// per coefficient.
///
/// `Jet<V>` conforms to ``ScalarAlgebra`` / ``TensorAlgebra`` whenever `V` does, so
/// `Jet<Double>`, `Jet<Tensor<Double>>`, `Jet<Dual<Double>>` work and the MLP and CNN run on
/// jets. Rules: Cauchy products for ×, matmul and the convolutions; the ODE recurrences for
/// exp, log, sqrt, pow, sin/cos, tanh, sigmoid (`Notes/jets.md`); ReLU and max-pool route
/// every coefficient by the mask/argmax of coefficient 0 (non-smooth points follow the
/// primal's convention: ReLU'(0) = 0).
public struct Jet<V: ScalarAlgebra> {
    /// `terms[k]` is c_k; `nil` is an exact zero; `terms[0]` is never `nil`.
    public var terms: [V?]

    /// A jet from its normalized coefficients (`coefficients[k] = f⁽ᵏ⁾/k!`).
    /// - Precondition: at least one coefficient.
    @inlinable
    public init(coefficients: [V]) {
        precondition(!coefficients.isEmpty, "Jet: needs at least the coefficient of order 0")
        terms = coefficients.map { $0 }
    }

    /// A jet from coefficients where `nil` is zero. - Precondition: `terms[0] != nil`.
    @inlinable
    public init(terms: [V?]) {
        precondition(!terms.isEmpty && terms[0] != nil, "Jet: coefficient 0 must be present")
        self.terms = terms
    }

    /// The jet of `x + t·v` truncated at `order`: coefficients `[x, v, 0, …]`.
    /// - Precondition: `order ≥ 0`.
    @inlinable
    public init(point x: V, direction v: V, order: Int) {
        precondition(order >= 0, "Jet: order must be ≥ 0, got \(order)")
        terms = [x] + (order >= 1 ? [v] : []) + [V?](repeating: nil, count: max(order - 1, 0))
    }

    /// A constant: order 0.
    @inlinable
    public init(constant x: V) { terms = [x] }

    /// The order K (number of coefficients − 1).
    @inlinable public var order: Int { terms.count - 1 }
    /// c₀, the value.
    @inlinable public var primal: V { terms[0]! }

    /// The normalized coefficient c_k (zero beyond the order).
    @inlinable
    public func coefficient(_ k: Int) -> V { (k < terms.count ? terms[k] : nil) ?? primal.zerosLike() }

    /// All normalized coefficients c₀…c_K.
    @inlinable public var coefficients: [V] { (0...order).map(coefficient) }

    /// The k-th derivative `k!·c_k` (of `t ↦ f(x + t v)` at t = 0).
    @inlinable
    public func derivative(_ k: Int) -> V {
        var factorial = 1.0
        if k > 1 { for i in 2...k { factorial *= Double(i) } }
        return coefficient(k).scaled(by: factorial)
    }

    @inlinable
    func term(_ k: Int) -> V? { k < terms.count ? terms[k] : nil }

    @inlinable
    static func add(_ a: V?, _ b: V?) -> V? {
        switch (a, b) {
        case let (x?, y?): return x + y
        case let (x?, nil): return x
        case let (nil, y?): return y
        case (nil, nil): return nil
        }
    }

    /// Applies a linear map to every coefficient.
    @inlinable
    public func mapLinear(_ f: (V) -> V) -> Jet { Jet(terms: terms.map { $0.map(f) }) }

    /// The Cauchy product of a bilinear map: `c_k = Σ_{i+j=k} f(a_i, b_j)`.
    @inlinable
    static func cauchy(_ a: Jet, _ b: Jet, _ f: (V, V) -> V) -> Jet {
        let K = max(a.order, b.order)
        var out = [V?](repeating: nil, count: K + 1)
        for k in 0...K {
            var acc: V? = nil
            for i in 0...k {
                if let ai = a.term(i), let bj = b.term(k - i) { acc = add(acc, f(ai, bj)) }
            }
            out[k] = acc
        }
        if out[0] == nil { out[0] = f(a.primal, b.primal) }
        return Jet(terms: out)
    }

    /// `y` with `y' = u · x'` where `u` is itself a jet computed from `y` so far: the ODE
    /// recurrence `y_k = (1/k) Σ_{j=1..k} j·x_j·u_{k−j}` (Griewank & Walther, Table 13.2).
    /// `uAt(m, y)` returns u_m given y₀…y_m.
    @inlinable
    static func ode(_ x: Jet, y0: V, _ uAt: (Int, [V?]) -> V?) -> Jet {
        var y: [V?] = [y0]
        guard x.order >= 1 else { return Jet(terms: y) }
        var u: [V?] = [uAt(0, y)]
        for k in 1...x.order {
            var acc: V? = nil
            for j in 1...k {
                if let xj = x.term(j), let um = u[k - j] { acc = add(acc, (xj * um).scaled(by: Double(j))) }
            }
            y.append(acc.map { $0.scaled(by: 1 / Double(k)) })
            u.append(uAt(k, y))
        }
        return Jet(terms: y)
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
}

extension Jet: ScalarAlgebra {
    /// Taylor rule of `+` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public static func + (a: Jet, b: Jet) -> Jet {
        Jet(terms: (0...max(a.order, b.order)).map { k in k == 0 ? a.primal + b.primal : add(a.term(k), b.term(k)) })
    }
    /// Taylor rule of `-` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public static func - (a: Jet, b: Jet) -> Jet { a + (-b) }
    /// Taylor rule of `negation` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public static prefix func - (a: Jet) -> Jet { a.mapLinear { -$0 } }
    /// Cauchy product.
    @inlinable public static func * (a: Jet, b: Jet) -> Jet { cauchy(a, b, *) }
    /// Division: c_k = (a_k − Σ_{i=1..k} b_i c_{k−i}) / b₀.
    @inlinable public static func / (a: Jet, b: Jet) -> Jet {
        let K = max(a.order, b.order)
        let b0 = b.primal
        var c: [V?] = [a.primal / b0]
        if K >= 1 {
            for k in 1...K {
                let s = convolution(b.terms, c, k, from: 1)
                let num = add(a.term(k), s.map { -$0 })
                c.append(num.map { $0 / b0 })
            }
        }
        return Jet(terms: c)
    }
    /// Taylor rule of `scaled` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func scaled(by factor: Double) -> Jet { mapLinear { $0.scaled(by: factor) } }
    /// Taylor rule of `shifted` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func shifted(by offset: Double) -> Jet { var j = self; j.terms[0] = primal.shifted(by: offset); return j }
    /// exp: y' = y·x'.
    @inlinable public static func exp(_ x: Jet) -> Jet { ode(x, y0: V.exp(x.primal)) { m, y in y[m] } }
    /// log: y_k = (x_k − (1/k) Σ_{j=1..k−1} j·y_j·x_{k−j}) / x₀.
    @inlinable public static func log(_ x: Jet) -> Jet {
        let x0 = x.primal
        var y: [V?] = [V.log(x0)]
        if x.order >= 1 {
            for k in 1...x.order {
                var acc: V? = nil
                if k > 1 { for j in 1..<k { if let yj = y[j], let xr = x.term(k - j) { acc = add(acc, (yj * xr).scaled(by: Double(j))) } } }
                let num = add(x.term(k), acc.map { $0.scaled(by: -1 / Double(k)) })
                y.append(num.map { $0 / x0 })
            }
        }
        return Jet(terms: y)
    }
    /// sqrt: y_k = (x_k − Σ_{j=1..k−1} y_j y_{k−j}) / (2 y₀). At x₀ = 0 the coefficients are ±inf or nan (IEEE 754).
    @inlinable public static func sqrt(_ x: Jet) -> Jet {
        let y0 = V.sqrt(x.primal)
        var y: [V?] = [y0]
        if x.order >= 1 {
            for k in 1...x.order {
                let s = k > 1 ? convolution(y, y, k, from: 1, to: k - 1) : nil
                let num = add(x.term(k), s.map { -$0 })
                y.append(num.map { ($0 / y0).scaled(by: 0.5) })
            }
        }
        return Jet(terms: y)
    }
    /// pow with a real exponent r: y_k = (1/(k x₀)) Σ_{j=1..k} (r·j − (k − j)) x_j y_{k−j}
    /// (from x·y' = r·y·x'). At x₀ = 0 the coefficients are inf or nan (IEEE 754).
    @inlinable public static func pow(_ x: Jet, _ exponent: Double) -> Jet {
        let x0 = x.primal
        var y: [V?] = [V.pow(x0, exponent)]
        if x.order >= 1 {
            for k in 1...x.order {
                var acc: V? = nil
                for j in 1...k {
                    let w = exponent * Double(j) - Double(k - j)
                    if w != 0, let xj = x.term(j), let yr = y[k - j] { acc = add(acc, (xj * yr).scaled(by: w)) }
                }
                y.append(acc.map { ($0 / x0).scaled(by: 1 / Double(k)) })
            }
        }
        return Jet(terms: y)
    }
    /// sin and cos together: s' = c·x', c' = −s·x'.
    @inlinable static func sinCos(_ x: Jet) -> (Jet, Jet) {
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
        return (Jet(terms: s), Jet(terms: c))
    }
    /// Taylor rule of `sin` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public static func sin(_ x: Jet) -> Jet { sinCos(x).0 }
    /// Taylor rule of `cos` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public static func cos(_ x: Jet) -> Jet { sinCos(x).1 }
    /// tanh: y' = (1 − y²)·x', with u_m = δ_{m0} − Σ_{i=0..m} y_i y_{m−i}.
    @inlinable public static func tanh(_ x: Jet) -> Jet {
        ode(x, y0: V.tanh(x.primal)) { m, y in
            let sq = convolution(y, y, m)
            return m == 0 ? (-(y[0]! * y[0]!)).shifted(by: 1) : sq.map { -$0 }
        }
    }
    /// sigmoid: y' = (y − y²)·x'.
    @inlinable public static func sigmoid(_ x: Jet) -> Jet {
        ode(x, y0: V.sigmoid(x.primal)) { m, y in add(y[m], convolution(y, y, m).map { -$0 }) }
    }
    /// ReLU: every coefficient masked by c₀ > 0 (ReLU'(0) = 0).
    @inlinable public func relu() -> Jet {
        let p = primal
        var j = mapLinear { $0.masked(wherePositive: p) }
        j.terms[0] = p.relu()
        return j
    }
    /// Taylor rule of `masked` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func masked(wherePositive mask: Jet) -> Jet { let m = mask.primal; return mapLinear { $0.masked(wherePositive: m) } }
    /// Taylor rule of `zerosLike` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func zerosLike() -> Jet { Jet(constant: primal.zerosLike()) }
    /// Taylor rule of `onesLike` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func onesLike() -> Jet { Jet(constant: primal.onesLike()) }
}

extension Jet: TensorAlgebra where V: TensorAlgebra {
    /// The element type at the bottom of the nesting.
    public typealias Scalar = V.Scalar
    /// Taylor rule of `init` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public init(constant: Tensor<V.Scalar>) { self.init(constant: V(constant: constant)) }
    /// Taylor rule of `primalTensor` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public var primalTensor: Tensor<V.Scalar> { primal.primalTensor }
    /// Taylor rule of `shape` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public var shape: [Int] { primal.shape }
    /// Taylor rule of `matmul` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public static func matmul(_ a: Jet, _ b: Jet, transposeA: Bool, transposeB: Bool) -> Jet {
        cauchy(a, b) { V.matmul($0, $1, transposeA: transposeA, transposeB: transposeB) }
    }
    /// Taylor rule of `addingRowBroadcast` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func addingRowBroadcast(_ bias: Jet) -> Jet {
        let rows = primal.shape[0]
        return Jet(terms: (0...max(order, bias.order)).map { k in
            switch (term(k), bias.term(k)) {
            case let (x?, b?): return x.addingRowBroadcast(b)
            case let (x?, nil): return x
            case let (nil, b?): return b.broadcastRows(rows)
            case (nil, nil): return nil
            }
        })
    }
    /// Taylor rule of `broadcastRows` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func broadcastRows(_ rows: Int) -> Jet { mapLinear { $0.broadcastRows(rows) } }
    /// Taylor rule of `sumRows` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func sumRows() -> Jet { mapLinear { $0.sumRows() } }
    /// Taylor rule of `broadcastColumns` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func broadcastColumns(_ cols: Int) -> Jet { mapLinear { $0.broadcastColumns(cols) } }
    /// Taylor rule of `sumColumns` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func sumColumns() -> Jet { mapLinear { $0.sumColumns() } }
    /// Taylor rule of `sum` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func sum() -> Jet { mapLinear { $0.sum() } }
    /// Taylor rule of `broadcast` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func broadcast(to shape: [Int]) -> Jet { mapLinear { $0.broadcast(to: shape) } }
    /// Taylor rule of `reshaped` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func reshaped(_ shape: [Int]) -> Jet { mapLinear { $0.reshaped(shape) } }
    /// Stable log-softmax: y = z − L with L = L₀ + log Σ_j exp(z_j − L₀), L₀ the primal
    /// log-sum-exp (a constant shift), so every exp argument has primal ≤ 0.
    @inlinable public func logSoftmax() -> Jet {
        let z0 = primal
        let y0 = z0.logSoftmax()
        let n = z0.shape[0], c = z0.shape[1]
        let lse0 = (z0 - y0).gatherColumns([Int](repeating: 0, count: n))       // [N]
        let shifted = self - Jet(constant: lse0.broadcastColumns(c))
        let logE = Jet.log(Jet.exp(shifted).sumColumns())                     // ≈ 0 at order 0
        var y = shifted - logE.broadcastColumns(c)
        y.terms[0] = y0
        return y
    }
    /// Taylor rule of `gatherColumns` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func gatherColumns(_ index: [Int]) -> Jet { mapLinear { $0.gatherColumns(index) } }
    /// Taylor rule of `scatterColumns` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func scatterColumns(_ index: [Int], width: Int) -> Jet { mapLinear { $0.scatterColumns(index, width: width) } }
    /// Taylor rule of `conv2d` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public static func conv2d(_ x: Jet, _ w: Jet, stride: Int, padding: Int) -> Jet {
        cauchy(x, w) { V.conv2d($0, $1, stride: stride, padding: padding) }
    }
    /// Taylor rule of `conv2dBackwardInput` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public static func conv2dBackwardInput(_ g: Jet, _ w: Jet, inputShape: [Int], stride: Int, padding: Int) -> Jet {
        cauchy(g, w) { V.conv2dBackwardInput($0, $1, inputShape: inputShape, stride: stride, padding: padding) }
    }
    /// Taylor rule of `conv2dBackwardFilter` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public static func conv2dBackwardFilter(_ x: Jet, _ g: Jet, filterShape: [Int], stride: Int, padding: Int) -> Jet {
        cauchy(x, g) { V.conv2dBackwardFilter($0, $1, filterShape: filterShape, stride: stride, padding: padding) }
    }
    /// Taylor rule of `addingChannelBias` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func addingChannelBias(_ bias: Jet) -> Jet {
        let s = primal.shape
        return Jet(terms: (0...max(order, bias.order)).map { k in
            switch (term(k), bias.term(k)) {
            case let (x?, b?): return x.addingChannelBias(b)
            case let (x?, nil): return x
            case let (nil, b?): return b.broadcastChannels(to: s)
            case (nil, nil): return nil
            }
        })
    }
    /// Taylor rule of `sumChannels` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func sumChannels() -> Jet { mapLinear { $0.sumChannels() } }
    /// Taylor rule of `broadcastChannels` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func broadcastChannels(to shape: [Int]) -> Jet { mapLinear { $0.broadcastChannels(to: shape) } }
    /// Max-pool routes every coefficient by the argmax of the selector's coefficient 0.
    @inlinable public func gatherMaxPool2x2(argmaxOf x: Jet) -> Jet { let m = x.primal; return mapLinear { $0.gatherMaxPool2x2(argmaxOf: m) } }
    /// Taylor rule of `scatterMaxPool2x2` on every coefficient (linear maps per coefficient, bilinear maps by the Cauchy product; Notes/jets.md).
    @inlinable public func scatterMaxPool2x2(argmaxOf x: Jet) -> Jet { let m = x.primal; return mapLinear { $0.scatterMaxPool2x2(argmaxOf: m) } }
}

extension Jet: CustomStringConvertible {
    /// A one-line, human-readable description (for logs and error output).
    public var description: String { "Jet(" + (0...order).map { "\(coefficient($0))" }.joined(separator: ", ") + ")" }
}

import Foundation
import Tensors
import Testing

/// A unary operation together with its reference (Foundation, in `Double`) and input range.
struct UnaryCase: Sendable, CustomTestStringConvertible {
    var name: String
    var op: any ScalarFunction
    var range: ClosedRange<Double>
    var reference: @Sendable (Double) -> Double
    var testDescription: String { name }

    static let all: [UnaryCase] = [
        UnaryCase(name: "exp", op: Exp(), range: -20...20) { Foundation.exp($0) },
        UnaryCase(name: "log", op: Log(), range: 1e-3...100) { Foundation.log($0) },
        UnaryCase(name: "log1p", op: Log1p(), range: -0.9...100) { Foundation.log(1 + $0) },
        UnaryCase(name: "expm1", op: Expm1(), range: -20...20) { Foundation.exp($0) - 1 },
        UnaryCase(name: "sqrt", op: Sqrt(), range: 0...100) { Foundation.sqrt($0) },
        UnaryCase(name: "tanh", op: Tanh(), range: -6...6) { Foundation.tanh($0) },
        UnaryCase(name: "sin", op: Sin(), range: -10...10) { Foundation.sin($0) },
        UnaryCase(name: "cos", op: Cos(), range: -10...10) { Foundation.cos($0) },
        UnaryCase(name: "tan", op: Tan(), range: -1.4...1.4) { Foundation.sin($0) / Foundation.cos($0) },
        UnaryCase(name: "erf", op: Erf(), range: -4...4) { Foundation.erf($0) },
        UnaryCase(name: "erfc", op: Erfc(), range: -4...0.5) { 1 - Foundation.erf($0) },   // where 1 − erf does not cancel
        // The erf form as the reference, on a range where 1 + erf(x/√2) does not cancel.
        UnaryCase(name: "gelu", op: GELU(), range: -1...4) { $0 / 2 * (1 + Foundation.erf($0 / 2.0.squareRoot())) },
        UnaryCase(name: "sigmoid", op: Sigmoid(), range: -30...30) { 1 / (1 + Foundation.exp(-$0)) },
        UnaryCase(name: "abs", op: Abs(), range: -5...5) { Swift.abs($0) },
        UnaryCase(name: "sign", op: Sign(), range: -5...5) { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) },
        UnaryCase(name: "relu", op: ReLU(), range: -5...5) { Swift.max($0, 0) },
    ]
}

func unaryMismatch<E: TensorScalar>(_: E.Type, _ c: UnaryCase, seed: UInt64) -> String? {
    var rng = SplitMix64(seed: seed)
    var x: [E] = randomScalars(257, in: c.range, rng: &rng)
    if ["relu", "abs", "sign"].contains(c.name) { x += [0, -0.0, 1, -1] }   // relu(0) = abs(0) = sign(0) = 0
    let y = Tensor(shape: [x.count], scalars: x).map(c.op)
    let expected = x.map { c.reference(Double($0)) }
    let eps = epsilon(E.self)
    // A few ulps of the result, but at least a few ulps absolute (sin/cos/tanh near zeros).
    return firstMismatch(doubles(y), expected) { 8 * eps * Swift.max(Swift.abs(expected[$0]), 1e-2) }
}

/// A binary operation with its reference in `Double`.
struct BinaryCase: Sendable, CustomTestStringConvertible {
    var name: String
    var op: BinaryOperation
    var reference: @Sendable (Double, Double) -> Double
    var testDescription: String { name }
    static let all: [BinaryCase] = [
        BinaryCase(name: "add", op: .add) { $0 + $1 },
        BinaryCase(name: "subtract", op: .subtract) { $0 - $1 },
        BinaryCase(name: "multiply", op: .multiply) { $0 * $1 },
        BinaryCase(name: "divide", op: .divide) { $0 / $1 },
    ]
}

func binaryMismatch<E: TensorScalar>(_: E.Type, _ c: BinaryCase, seed: UInt64) -> String? {
    var rng = SplitMix64(seed: seed)
    let a: [E] = randomScalars(300, in: -4...4, rng: &rng)
    // b away from 0 (for divide), with random sign.
    let b: [E] = (0..<300).map { _ in
        let m = 0.25 + 3.75 * rng.nextUnitDouble()
        return E(rng.nextUnitDouble() < 0.5 ? -m : m)
    }
    let shape = [3, 10, 10]
    let ta = Tensor(shape: shape, scalars: a), tb = Tensor(shape: shape, scalars: b)
    let c1 = ta.zip(tb, c.op)
    guard c1.shape == shape else { return "shape \(c1.shape)" }
    let expected = zip(a, b).map { c.reference(Double($0), Double($1)) }
    let eps = epsilon(E.self)
    // Correctly rounded in E: within half an ulp of the exact value (one ulp of slack).
    if let m = firstMismatch(doubles(c1), expected, tolerance: { eps * Swift.abs(expected[$0]) }) { return "zip: \(m)" }
    // The operators agree with zip.
    let viaOperator: Tensor<E>
    switch c.op {
    case .add: viaOperator = ta + tb
    case .subtract: viaOperator = ta - tb
    case .multiply: viaOperator = ta * tb
    case .divide: viaOperator = ta / tb
    }
    if viaOperator != c1 { return "operator differs from zip" }
    return nil
}

@Suite("Elementwise operations")
struct ElementwiseTests {
    @Test("map(op) matches Foundation at random points", arguments: Precision.allCases, UnaryCase.all)
    func unary(precision: Precision, c: UnaryCase) {
        for seed: UInt64 in [11, 12, 13] {
            let failure = precision == .float ? unaryMismatch(Float.self, c, seed: seed) : unaryMismatch(Double.self, c, seed: seed)
            #expect(failure == nil, "seed \(seed), \(c.name): \(failure ?? "")")
        }
    }

    @Test("sigmoid is finite, in [0, 1] and saturates at ±1000")
    func sigmoidExtremes() {
        let xs: [Double] = [-1000, -745, -100, -30, 0, 30, 100, 745, 1000]
        let d = Tensor<Double>(xs).map(Sigmoid()).scalars
        let f = Tensor<Float>(xs.map { Float($0) }).map(Sigmoid()).scalars.map { Double($0) }
        for (name, ys) in [("Double", d), ("Float", f)] {
            #expect(ys.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 }, "\(name) \(ys)")
            #expect(ys.first! < 1e-300, "\(name) sigmoid(-1000) = \(ys.first!)")
            #expect(ys.last! == 1, "\(name) sigmoid(1000) = \(ys.last!)")
            #expect(ys[4] == 0.5, "\(name) sigmoid(0) = \(ys[4])")
            // Monotone non-decreasing over the sorted inputs.
            #expect(zip(ys, ys.dropFirst()).allSatisfy { $0 <= $1 }, "\(name) \(ys)")
        }
        // Symmetry σ(-x) = 1 − σ(x) at moderate x.
        #expect(Swift.abs(d[3] - (1 - d[5])) < 1e-15)
    }

    @Test("relu and negation are exact; log/sqrt of edge values follow IEEE")
    func exactValues() {
        let x = Tensor<Float>([-2, -0.5, 0, 0.5, 3])
        #expect(x.map(ReLU()).scalars == [0, 0, 0, 0.5, 3])
        #expect((-x).scalars == [2, 0.5, 0, -0.5, -3])
        let e = Tensor<Double>([0, 1, 4, 0.25])
        #expect(e.map(Sqrt()).scalars == [0, 1, 2, 0.5])
        #expect(e.map(Log()).scalars[0] == -.infinity)
        #expect(e.map(Log()).scalars[1] == 0)
        #expect(Tensor<Double>([-1]).map(Log()).scalars[0].isNaN)
        #expect(Tensor<Double>([-1]).map(Sqrt()).scalars[0].isNaN)
        #expect(Tensor<Double>([0]).map(Exp()).scalars == [1])
    }

    @Test("relu keeps nan (IEEE 754-2019 maximum(x, 0)): an overflow upstream is not hidden")
    func reluOfNaN() {
        let f = Tensor<Float>([.nan, -1, 0, 2])
        let d = Tensor<Double>([.nan, -1, 0, 2])
        for y in [doubles(f.map(ReLU())), doubles(f.reluKernel()), doubles(d.map(ReLU())), doubles(d.reluKernel())] {
            #expect(y[0].isNaN && Array(y[1...]) == [0, 0, 2], "\(y)")
        }
    }

    @Test("zip(op) matches Double arithmetic, and the operators agree", arguments: Precision.allCases, BinaryCase.all)
    func binary(precision: Precision, c: BinaryCase) {
        for seed: UInt64 in [21, 22] {
            let failure = precision == .float ? binaryMismatch(Float.self, c, seed: seed) : binaryMismatch(Double.self, c, seed: seed)
            #expect(failure == nil, "seed \(seed), \(c.name): \(failure ?? "")")
        }
    }

    @Test("affine(scale:shift:) and scalar multiply", arguments: [UInt64(31), 32, 33])
    func affine(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let x: [Double] = randomScalars(101, in: -10...10, rng: &rng)
        let scale = 4 * rng.nextUnitDouble() - 2, shift = 6 * rng.nextUnitDouble() - 3
        let y = Tensor(x).affine(scale: scale, shift: shift)
        let expected = x.map { scale * $0 + shift }
        let m = firstMismatch(y.scalars, expected) { 4e-16 * (Swift.abs(scale * x[$0]) + Swift.abs(shift)) }
        #expect(m == nil, "seed \(seed): \(m ?? "")")
        let xf = x.map { Float($0) }
        let yf = Tensor(xf).affine(scale: Float(scale), shift: Float(shift))
        let expectedF = xf.map { Double(Float(scale)) * Double($0) + Double(Float(shift)) }
        let mf = firstMismatch(doubles(yf), expectedF) { 2.5e-7 * (Swift.abs(Double(Float(scale)) * Double(xf[$0])) + Swift.abs(Double(Float(shift)))) }
        #expect(mf == nil, "seed \(seed): \(mf ?? "")")
        #expect((Tensor(x) * scale).scalars == x.map { $0 * scale }, "seed \(seed)")
    }

    @Test("masked(wherePositive:) keeps g where mask > 0, else 0 (mask 0 → 0)", arguments: [UInt64(41), 42])
    func masked(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let n = 200
        let g: [Float] = randomScalars(n, in: -3...3, rng: &rng)
        // The mask mixes positive, negative, +0, -0, and tiny values.
        let mask: [Float] = (0..<n).map { i in
            switch i % 6 {
            case 0: return 0
            case 1: return -0.0
            case 2: return Float.leastNonzeroMagnitude
            case 3: return -Float.leastNonzeroMagnitude
            default: return Float(2 * rng.nextUnitDouble() - 1)
            }
        }
        var expected = [Float](repeating: 0, count: n)
        for i in 0..<n where mask[i] > 0 { expected[i] = g[i] }
        let y = Tensor(shape: [20, 10], scalars: g).masked(wherePositive: Tensor(shape: [20, 10], scalars: mask))
        #expect(y.shape == [20, 10])
        #expect(y.scalars == expected, "seed \(seed)")
        #expect(Tensor<Double>([5, 6, 7]).masked(wherePositive: Tensor<Double>([0, 1, -1])).scalars == [0, 6, 0])
    }
}

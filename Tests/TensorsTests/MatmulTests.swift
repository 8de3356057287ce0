import Foundation
import Tensors
import Testing

/// A transpose-flag combination for `Tensor.matmul`.
struct Transposes: Sendable, CustomTestStringConvertible {
    var a: Bool
    var b: Bool
    var testDescription: String { "transposeA: \(a), transposeB: \(b)" }
    static let all = [Transposes(a: false, b: false), Transposes(a: false, b: true),
                      Transposes(a: true, b: false), Transposes(a: true, b: true)]
}

/// Checks `matmul` on random operands against a naive triple loop in `Double`.
/// Returns a failure description, or nil.
func matmulMismatch<E: TensorScalar>(_: E.Type, m: Int, k: Int, n: Int, transposes t: Transposes, seed: UInt64) -> String? {
    var rng = SplitMix64(seed: seed)
    let aShape = t.a ? [k, m] : [m, k]
    let bShape = t.b ? [n, k] : [k, n]
    let a: [E] = randomScalars(m * k, in: -1...1, rng: &rng)
    let b: [E] = randomScalars(k * n, in: -1...1, rng: &rng)
    let c = Tensor.matmul(Tensor(shape: aShape, scalars: a), Tensor(shape: bShape, scalars: b),
                          transposeA: t.a, transposeB: t.b)
    guard c.shape == [m, n] else { return "shape \(c.shape), expected \([m, n])" }
    var expected = [Double](repeating: 0, count: m * n)
    var magnitude = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0, mag = 0.0
            for p in 0..<k {
                // op(A)[i, p] and op(B)[p, j], read from the row-major stored operands.
                let av = Double(t.a ? a[p * m + i] : a[i * k + p])
                let bv = Double(t.b ? b[j * k + p] : b[p * n + j])
                s += av * bv
                mag += Swift.abs(av * bv)
            }
            expected[i * n + j] = s
            magnitude[i * n + j] = mag
        }
    }
    // Standard forward-error bound for a length-k dot product: γ_k Σ|a||b|, with slack.
    let eps = epsilon(E.self)
    return firstMismatch(doubles(c), expected) { 2 * Double(k + 2) * eps * magnitude[$0] + 1e-300 }
}

@Suite("Tensor.matmul")
struct MatmulTests {
    /// (m, k, n) shapes: vectors, outer products, non-square, and sizes past BLAS block edges.
    static let shapes: [(m: Int, k: Int, n: Int)] = [
        (1, 1, 1), (1, 5, 1), (1, 7, 4), (6, 1, 3), (5, 3, 1), (4, 4, 4), (2, 3, 5),
        (3, 17, 9), (33, 8, 2), (13, 37, 21), (64, 70, 65), (1, 129, 1), (100, 1, 100),
    ]

    @Test("matmul equals a naive triple loop", arguments: Precision.allCases, Transposes.all)
    func againstNaive(precision: Precision, transposes: Transposes) {
        for (index, s) in Self.shapes.enumerated() {
            let seed = UInt64(1_000 + index)
            let failure: String?
            switch precision {
            case .float: failure = matmulMismatch(Float.self, m: s.m, k: s.k, n: s.n, transposes: transposes, seed: seed)
            case .double: failure = matmulMismatch(Double.self, m: s.m, k: s.k, n: s.n, transposes: transposes, seed: seed)
            }
            #expect(failure == nil, "seed \(seed), m \(s.m) k \(s.k) n \(s.n), \(transposes.testDescription): \(failure ?? "")")
        }
    }

    @Test("a hand-computed 2×3 · 3×2 product, also via transposed storage")
    func handComputed() {
        let a = Tensor<Double>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let b = Tensor<Double>(shape: [3, 2], scalars: [7, 8, 9, 10, 11, 12])
        // [1·7+2·9+3·11, 1·8+2·10+3·12; 4·7+5·9+6·11, 4·8+5·10+6·12]
        let expected: [Double] = [58, 64, 139, 154]
        #expect(Tensor.matmul(a, b).scalars == expected)
        #expect(Tensor.matmul(a, b).shape == [2, 2])
        let aT = Tensor<Double>(shape: [3, 2], scalars: [1, 4, 2, 5, 3, 6])
        let bT = Tensor<Double>(shape: [2, 3], scalars: [7, 9, 11, 8, 10, 12])
        #expect(Tensor.matmul(aT, b, transposeA: true).scalars == expected)
        #expect(Tensor.matmul(a, bT, transposeB: true).scalars == expected)
        #expect(Tensor.matmul(aT, bT, transposeA: true, transposeB: true).scalars == expected)
        let f = Tensor.matmul(Tensor<Float>(converting: a), Tensor<Float>(converting: b))
        #expect(f.scalars == [58, 64, 139, 154])
    }

    @Test("k = 0 gives an m×n tensor of zeros", arguments: Precision.allCases, Transposes.all)
    func emptyInnerDimension(precision: Precision, transposes t: Transposes) {
        for (m, n) in [(1, 1), (3, 4), (5, 2)] {
            let aShape = t.a ? [0, m] : [m, 0]
            let bShape = t.b ? [n, 0] : [0, n]
            switch precision {
            case .float:
                let c = Tensor.matmul(Tensor<Float>(shape: aShape, scalars: []), Tensor<Float>(shape: bShape, scalars: []),
                                      transposeA: t.a, transposeB: t.b)
                #expect(c.shape == [m, n])
                #expect(c.scalars == [Float](repeating: 0, count: m * n), "m \(m) n \(n)")
            case .double:
                let c = Tensor.matmul(Tensor<Double>(shape: aShape, scalars: []), Tensor<Double>(shape: bShape, scalars: []),
                                      transposeA: t.a, transposeB: t.b)
                #expect(c.shape == [m, n])
                #expect(c.scalars == [Double](repeating: 0, count: m * n), "m \(m) n \(n)")
            }
        }
    }

    @Test("matmul does not modify its operands")
    func operandsUnchanged() {
        let seed: UInt64 = 77
        var rng = SplitMix64(seed: seed)
        let a = Tensor<Float>(shape: [4, 6], scalars: randomScalars(24, in: -1...1, rng: &rng))
        let b = Tensor<Float>(shape: [6, 3], scalars: randomScalars(18, in: -1...1, rng: &rng))
        let a0 = a.scalars, b0 = b.scalars
        _ = Tensor.matmul(a, b)
        _ = Tensor.matmul(a, a, transposeA: true)
        #expect(a.scalars == a0 && b.scalars == b0, "seed \(seed)")
    }
}

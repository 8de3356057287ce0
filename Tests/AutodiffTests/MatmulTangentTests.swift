import Testing
import Autodiff
import Tensors

/// `Tensor.matmulTangent` (the second GEMM accumulating into the first, β = 1) against the two
/// products computed by a plain triple loop and added: every transpose pair, Float and Double,
/// shapes with an inner dimension above OpenBLAS's K block (so the accumulation crosses blocks),
/// and the `nil` (exact zero) tangents.
struct MatmulTangentTests {
    static let seed: UInt64 = 20261205

    /// `op(a)·op(b)` by the definition, accumulated in Double.
    static func reference(_ a: [Double], _ aShape: [Int], _ b: [Double], _ bShape: [Int], _ ta: Bool, _ tb: Bool) -> [Double] {
        let m = ta ? aShape[1] : aShape[0], k = ta ? aShape[0] : aShape[1], n = tb ? bShape[0] : bShape[1]
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k {
            c[i * n + j] += a[ta ? p * aShape[1] + i : i * aShape[1] + p] * b[tb ? j * bShape[1] + p : p * bShape[1] + j]
        } } }
        return c
    }

    static func check<S: TensorScalar & BinaryFloatingPoint>(_: S.Type, m: Int, k: Int, n: Int, ta: Bool, tb: Bool, seed: UInt64, tolerance: Double) {
        var rng = SplitMix64(seed: seed)
        let aShape = ta ? [k, m] : [m, k], bShape = tb ? [n, k] : [k, n]
        func draw(_ shape: [Int], scale: Double) -> Tensor<S> {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in S(scale * (Double(rng.next() % 2001) / 1000 - 1)) })
        }
        // Four independent draws of different scales: no operand equals another.
        let a = draw(aShape, scale: 1), ȧ = draw(aShape, scale: 0.5), b = draw(bShape, scale: 2), ḃ = draw(bShape, scale: 0.25)
        func d(_ t: Tensor<S>) -> [Double] { t.scalars.map(Double.init) }
        let left = reference(d(ȧ), aShape, d(b), bShape, ta, tb), right = reference(d(a), aShape, d(ḃ), bShape, ta, tb)
        let context = "seed \(seed), \(S.self), m \(m) k \(k) n \(n), transposeA \(ta), transposeB \(tb)"
        func expectClose(_ got: Tensor<S>?, _ want: [Double], _ what: String) {
            guard let got else { Issue.record("\(context): \(what) is nil"); return }
            #expect(got.shape == [m, n], "\(context): \(what) shape \(got.shape)")
            let err = zip(got.scalars, want).map { abs(Double($0) - $1) }.max() ?? 0
            let scale = want.map(abs).max() ?? 1
            #expect(err <= tolerance * max(scale, 1), "\(context): \(what) differs by \(err)")
        }
        expectClose(Tensor<S>.matmulTangent(a, ȧ, b, ḃ, transposeA: ta, transposeB: tb), zip(left, right).map(+), "ȧ·b + a·ḃ")
        expectClose(Tensor<S>.matmulTangent(a, ȧ, b, nil, transposeA: ta, transposeB: tb), left, "ȧ·b")
        expectClose(Tensor<S>.matmulTangent(a, nil, b, ḃ, transposeA: ta, transposeB: tb), right, "a·ḃ")
        #expect(Tensor<S>.matmulTangent(a, nil, b, nil, transposeA: ta, transposeB: tb) == nil, "\(context): nil + nil")
    }

    @Test("matmulTangent equals ȧ·b + a·ḃ from a reference loop (all four flag pairs, Float and Double, K above one block)",
          arguments: 0..<4)
    func fusedTangent(flagIndex: Int) {
        let (ta, tb) = [(false, false), (false, true), (true, false), (true, true)][flagIndex]
        for (i, (m, k, n)) in [(3, 5, 4), (37, 600, 29)].enumerated() {
            let seed = Self.seed &+ UInt64(10 * flagIndex + i)
            Self.check(Double.self, m: m, k: k, n: n, ta: ta, tb: tb, seed: seed, tolerance: 1e-12)
            Self.check(Float.self, m: m, k: k, n: n, ta: ta, tb: tb, seed: seed, tolerance: 1e-5)
        }
    }
}

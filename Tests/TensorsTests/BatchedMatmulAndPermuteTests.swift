import Foundation
import Testing
import Tensors

/// `a[i]` of a rank-3 tensor as a rank-2 tensor.
private func slice<E: TensorScalar>(_ a: Tensor<E>, _ i: Int) -> Tensor<E> {
    let m = a.shape[1], n = a.shape[2]
    return a.flatSlice(i * m * n ..< (i + 1) * m * n).reshaped([m, n])
}

/// Checks `batchedMatmul` on random operands against a loop of `matmul` over the batch elements
/// with the same flags; a description of the first mismatch, or nil.
private func batchedMismatch<E: TensorScalar>(_: E.Type, batch: Int, m: Int, k: Int, n: Int, transposes t: Transposes, seed: UInt64) -> String? {
    var rng = SplitMix64(seed: seed)
    let aShape = t.a ? [batch, k, m] : [batch, m, k], bShape = t.b ? [batch, n, k] : [batch, k, n]
    let a = Tensor<E>(shape: aShape, scalars: randomScalars(aShape.reduce(1, *), in: -1...1, rng: &rng))
    let b = Tensor<E>(shape: bShape, scalars: randomScalars(bShape.reduce(1, *), in: -1...1, rng: &rng))
    let c = Tensor.batchedMatmul(a, b, transposeA: t.a, transposeB: t.b)
    guard c.shape == [batch, m, n] else { return "shape \(c.shape), expected \([batch, m, n])" }
    let expected = (0..<batch).flatMap { i in
        doubles(Tensor.matmul(slice(a, i), slice(b, i), transposeA: t.a, transposeB: t.b))
    }
    // The same products of the same numbers; allow for a different summation order inside BLAS.
    return firstMismatch(doubles(c), expected) { _ in 4 * Double(k) * epsilon(E.self) }
}

/// The multi-index of flat position `flat` in a row-major tensor of shape `shape`.
private func multiIndex(_ flat: Int, _ shape: [Int]) -> [Int] {
    var rest = flat
    var index = [Int](repeating: 0, count: shape.count)
    for axis in shape.indices.reversed() { index[axis] = rest % shape[axis]; rest /= shape[axis] }
    return index
}

/// The flat position of `index` in a row-major tensor of shape `shape`.
private func flatIndex(_ index: [Int], _ shape: [Int]) -> Int {
    zip(index, shape).reduce(0) { $0 * $1.1 + $1.0 }
}

/// `x.permuted(axes)` against the index formula: result[j] = x[k] with k[axes[i]] = j[i].
private func permutationMismatch<E: TensorScalar>(_: E.Type, shape: [Int], axes: [Int], seed: UInt64) -> String? {
    var rng = SplitMix64(seed: seed)
    let x = Tensor<E>(shape: shape, scalars: randomScalars(shape.reduce(1, *), in: -1...1, rng: &rng))
    let y = x.permuted(axes)
    let resultShape = axes.map { shape[$0] }
    guard y.shape == resultShape else { return "shape \(y.shape), expected \(resultShape)" }
    for flat in 0..<y.count {
        let j = multiIndex(flat, resultShape)
        var k = [Int](repeating: 0, count: shape.count)
        for i in axes.indices { k[axes[i]] = j[i] }
        if y.scalars[flat] != x.scalars[flatIndex(k, shape)] { return "element \(j): \(y.scalars[flat]) vs x\(k) = \(x.scalars[flatIndex(k, shape)])" }
    }
    return nil
}

@Suite("Tensor.batchedMatmul and Tensor.permuted")
struct BatchedMatmulAndPermuteTests {
    static let seed: UInt64 = 20261205

    @Test("batchedMatmul equals a loop of matmul over the batch", arguments: Precision.allCases, Transposes.all)
    func batchedEqualsLoop(precision: Precision, transposes: Transposes) {
        for (index, s) in [(batch: 3, m: 2, k: 4, n: 5), (batch: 1, m: 7, k: 3, n: 1), (batch: 4, m: 5, k: 6, n: 3)].enumerated() {
            let seed = Self.seed &+ UInt64(index)
            let failure: String?
            switch precision {
            case .float: failure = batchedMismatch(Float.self, batch: s.batch, m: s.m, k: s.k, n: s.n, transposes: transposes, seed: seed)
            case .double: failure = batchedMismatch(Double.self, batch: s.batch, m: s.m, k: s.k, n: s.n, transposes: transposes, seed: seed)
            }
            #expect(failure == nil, "seed \(seed), \(s), \(transposes): \(failure ?? "")")
        }
    }

    @Test("batchedMatmul of a hand-computed pair")
    func handComputed() {
        // [[1, 2]]·[[3], [4]] = [[11]] and [[−1, 0]]·[[5], [6]] = [[−5]].
        let a = Tensor<Double>(shape: [2, 1, 2], scalars: [1, 2, -1, 0])
        let b = Tensor<Double>(shape: [2, 2, 1], scalars: [3, 4, 5, 6])
        #expect(Tensor.batchedMatmul(a, b).scalars == [11, -5])
        // aᵀ stored as [2, 2, 1]; bᵀ as [2, 1, 2].
        let aT = Tensor<Double>(shape: [2, 2, 1], scalars: [1, 2, -1, 0])
        let bT = Tensor<Double>(shape: [2, 1, 2], scalars: [3, 4, 5, 6])
        #expect(Tensor.batchedMatmul(aT, bT, transposeA: true, transposeB: true).scalars == [11, -5])
    }

    @Test("k = 0 gives zeros; an empty batch gives an empty result")
    func emptyDimensions() {
        let c = Tensor.batchedMatmul(Tensor<Float>(shape: [2, 3, 0], scalars: []), Tensor<Float>(shape: [2, 0, 4], scalars: []))
        #expect(c.shape == [2, 3, 4] && c.scalars.allSatisfy { $0 == 0 })
        let e = Tensor.batchedMatmul(Tensor<Double>(shape: [0, 3, 2], scalars: []), Tensor<Double>(shape: [0, 2, 4], scalars: []))
        #expect(e.shape == [0, 3, 4] && e.count == 0)
    }

    @Test("permuted equals the index formula", arguments: Precision.allCases)
    func permutedValues(precision: Precision) {
        let cases: [(shape: [Int], axes: [Int])] = [
            ([2, 3, 4, 5], [2, 0, 3, 1]),     // rank 4
            ([3, 4, 2], [1, 2, 0]),           // rank 3
            ([2, 3, 4], [0, 2, 1]),           // the last two axes (a batch of transposes)
            ([4, 5], [1, 0]),                 // a matrix transpose
            ([2, 1, 3, 2, 2, 3], [5, 3, 0, 4, 2, 1]),   // rank 6
            ([3, 2, 4], [0, 1, 2]),           // the identity
        ]
        for (index, c) in cases.enumerated() {
            let seed = Self.seed &+ 10 &+ UInt64(index)
            let failure: String?
            switch precision {
            case .float: failure = permutationMismatch(Float.self, shape: c.shape, axes: c.axes, seed: seed)
            case .double: failure = permutationMismatch(Double.self, shape: c.shape, axes: c.axes, seed: seed)
            }
            #expect(failure == nil, "seed \(seed), shape \(c.shape), axes \(c.axes): \(failure ?? "")")
        }
    }

    @Test("⟨permuted(x), y⟩ = ⟨x, y permuted by the inverse axes⟩; the inverse undoes it")
    func adjointIdentity() {
        let seed = Self.seed &+ 20
        var rng = SplitMix64(seed: seed)
        let shape = [3, 2, 5, 4], axes = [3, 1, 0, 2], inverse = [2, 1, 3, 0]   // axes[inverse[i]] = i
        let x = Tensor<Double>(shape: shape, scalars: randomScalars(120, in: -1...1, rng: &rng))
        let y = Tensor<Double>(shape: axes.map { shape[$0] }, scalars: randomScalars(120, in: -1...1, rng: &rng))
        let lhs = x.permuted(axes).dot(y), rhs = x.dot(y.permuted(inverse))
        #expect(abs(lhs - rhs) <= 1e-14 * max(abs(lhs), 1), "seed \(seed): \(lhs) vs \(rhs)")
        #expect(x.permuted(axes).permuted(inverse) == x, "seed \(seed)")
    }
}

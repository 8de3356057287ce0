import Foundation
import Tensors
import Testing

@Suite("Tensor construction, value semantics, slicing")
struct TensorBasicsTests {
    @Test("copies are independent: mutating a copy leaves the original unchanged", arguments: [UInt64(81), 82])
    func valueSemantics(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let original = Tensor<Float>(shape: [3, 4], scalars: randomScalars(12, in: -1...1, rng: &rng))
        let saved = original.scalars
        let delta = Tensor<Float>(shape: [3, 4], scalars: randomScalars(12, in: 0.5...1, rng: &rng))

        var viaAddScaled = original
        viaAddScaled.addScaled(delta, 2)
        #expect(original.scalars == saved, "seed \(seed): addScaled on a copy changed the original")
        #expect(viaAddScaled.scalars != saved, "seed \(seed): addScaled had no effect")

        var viaPointer = original
        viaPointer.withUnsafeMutablePointer { p in for i in 0..<12 { p[i] = Float(i) } }
        #expect(original.scalars == saved, "seed \(seed): withUnsafeMutablePointer on a copy changed the original")
        #expect(viaPointer.scalars == (0..<12).map { Float($0) }, "seed \(seed)")
        #expect(viaAddScaled.scalars != viaPointer.scalars)

        // A reshaped copy shares nothing observable either.
        var reshaped = original.reshaped([12])
        reshaped.withUnsafeMutablePointer { $0[0] = 99 }
        #expect(original.scalars == saved, "seed \(seed): mutating a reshaped copy changed the original")

        // Double, through addScaled on the original while a copy is held.
        var d = Tensor<Double>(converting: original)
        let copy = d
        d.addScaled(Tensor<Double>(converting: delta), -1)
        #expect(copy.scalars == saved.map { Double($0) }, "seed \(seed)")
    }

    @Test("init(shape:validating:) checks the count and the signs of the shape")
    func validating() throws {
        #expect(throws: TensorError.scalarCountMismatch(shape: [2, 3], expected: 6, actual: 5)) {
            try Tensor<Float>(shape: [2, 3], validating: [1, 2, 3, 4, 5])
        }
        #expect(throws: TensorError.scalarCountMismatch(shape: [], expected: 1, actual: 0)) {
            try Tensor<Double>(shape: [], validating: [])
        }
        #expect(throws: TensorError.scalarCountMismatch(shape: [0, 4], expected: 0, actual: 1)) {
            try Tensor<Double>(shape: [0, 4], validating: [1])
        }
        #expect(throws: TensorError.negativeDimension(shape: [2, -3])) {
            try Tensor<Float>(shape: [2, -3], validating: [])
        }
        // The product of the shape is 2 = count, but a dimension is negative.
        #expect(throws: TensorError.negativeDimension(shape: [-1, -2])) {
            try Tensor<Double>(shape: [-1, -2], validating: [1, 2])
        }
        let t = try Tensor<Double>(shape: [3, 1, 2], validating: [1, 2, 3, 4, 5, 6])
        #expect(t.shape == [3, 1, 2] && t.scalars == [1, 2, 3, 4, 5, 6] && t.rank == 3 && t.count == 6)
        let s = try Tensor<Float>(shape: [], validating: [7])
        #expect(s.scalar == 7 && s.rank == 0)
        let e = try Tensor<Float>(shape: [0, 5], validating: [])
        #expect(e.count == 0 && e.shape == [0, 5])
        // The error descriptions name the shape.
        #expect(TensorError.scalarCountMismatch(shape: [2, 3], expected: 6, actual: 5).description.contains("[2, 3]"))
        #expect(TensorError.negativeDimension(shape: [2, -3]).description.contains("[2, -3]"))
    }

    @Test("reshaped keeps the scalars in order")
    func reshape() {
        let t = Tensor<Double>(shape: [2, 3, 2], scalars: (0..<12).map { Double($0) })
        for shape in [[12], [3, 4], [4, 3, 1], [1, 12], [2, 2, 3]] {
            let r = t.reshaped(shape)
            #expect(r.shape == shape)
            #expect(r.scalars == t.scalars)
        }
        #expect(t.reshaped([12]).reshaped([2, 3, 2]) == t)
    }

    @Test("rows, gatherRows, flatSlice and concatenateFlat equal naive copies", arguments: [UInt64(91), 92, 93])
    func slicing(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let n = 1 + rng.next(below: 10), a = 1 + rng.next(below: 4), b = 1 + rng.next(below: 5)
        let inner = a * b
        let xs: [Float] = randomScalars(n * inner, in: -5...5, rng: &rng)
        let t = Tensor(shape: [n, a, b], scalars: xs)

        // rows(range)
        let lo = rng.next(below: n + 1)
        let hi = lo + rng.next(below: n - lo + 1)
        let r = t.rows(lo..<hi)
        var expectedRows = [Float]()
        for i in lo..<hi { for j in 0..<inner { expectedRows.append(xs[i * inner + j]) } }
        #expect(r.shape == [hi - lo, a, b], "seed \(seed)")
        #expect(r.scalars == expectedRows, "seed \(seed), rows \(lo)..<\(hi)")

        // gatherRows with repeats and arbitrary order
        let idx = (0..<(1 + rng.next(below: 12))).map { _ in rng.next(below: n) }
        let g = t.gatherRows(idx)
        var expectedGather = [Float]()
        for i in idx { for j in 0..<inner { expectedGather.append(xs[i * inner + j]) } }
        #expect(g.shape == [idx.count, a, b], "seed \(seed)")
        #expect(g.scalars == expectedGather, "seed \(seed), indices \(idx)")
        #expect(t.gatherRows([]).shape == [0, a, b])

        // flatSlice
        let total = n * inner
        let s0 = rng.next(below: total + 1)
        let s1 = s0 + rng.next(below: total - s0 + 1)
        let f = t.flatSlice(s0..<s1)
        #expect(f.shape == [s1 - s0], "seed \(seed)")
        #expect(f.scalars == (s0..<s1).map { xs[$0] }, "seed \(seed), slice \(s0)..<\(s1)")

        // concatenateFlat of the pieces [0, s0), [s0, s1), [s1, total) recovers the flattened tensor
        let parts = [t.flatSlice(0..<s0), f, t.flatSlice(s1..<total).reshaped([1, total - s1])]
        let c = Tensor.concatenateFlat(parts)
        #expect(c.shape == [total] && c.scalars == xs, "seed \(seed)")
        let mixed = Tensor<Float>.concatenateFlat([Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]), Tensor(5), Tensor([6, 7])])
        #expect(mixed.shape == [7] && mixed.scalars == [1, 2, 3, 4, 5, 6, 7])
        #expect(Tensor<Double>.concatenateFlat([]).shape == [0])
    }

    @Test("argmaxRows picks the first maximum, matching a naive scan", arguments: [UInt64(101), 102])
    func argmax(seed: UInt64) {
        let t = Tensor<Double>(shape: [6, 4], scalars: [
            1, 3, 3, 2,        // tie at 1 and 2 → 1
            5, 5, 5, 5,        // all equal → 0
            -1, -2, -1, -3,    // tie at 0 and 2 → 0
            0, 0, 0, 1,        // last → 3
            -0.0, 0, -5, -1,   // -0 == 0: first → 0
            2, 9, 1, 9,        // tie at 1 and 3 → 1
        ])
        #expect(t.argmaxRows() == [1, 0, 0, 3, 0, 1])
        #expect(Tensor<Float>(shape: [3, 1], scalars: [4, -4, 0]).argmaxRows() == [0, 0, 0])

        // Random rows with many ties (values from a small set).
        var rng = SplitMix64(seed: seed)
        let rows = 50, cols = 1 + rng.next(below: 8)
        let xs = (0..<(rows * cols)).map { _ in Float(rng.next(below: 4)) }
        var expected = [Int]()
        for i in 0..<rows {
            var best = 0
            for j in 0..<cols where xs[i * cols + j] > xs[i * cols + best] { best = j }
            expected.append(best)
        }
        #expect(Tensor(shape: [rows, cols], scalars: xs).argmaxRows() == expected, "seed \(seed)")
    }

    @Test("basic initializers and accessors")
    func initializers() {
        #expect(Tensor<Float>.zeros([2, 3]).scalars == [Float](repeating: 0, count: 6))
        #expect(Tensor<Double>(repeating: 2.5, shape: [3]).scalars == [2.5, 2.5, 2.5])
        #expect(Tensor<Double>(4).shape == [] && Tensor<Double>(4).scalar == 4)
        #expect(Tensor<Float>([1, 2]).shape == [2])
        let c = Tensor<Float>(converting: Tensor<Double>([0.1, 1e40, -2]))
        #expect(c.scalars == [Float(0.1), Float.infinity, -2])
        let u = Tensor<Double>(shape: [2, 2]) { p, n in for i in 0..<n { p[i] = Double(i * i) } }
        #expect(u.scalars == [0, 1, 4, 9])
    }
}

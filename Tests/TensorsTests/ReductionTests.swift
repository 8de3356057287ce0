import Foundation
import Tensors
import Testing

/// Broadcasts, reductions, dot/norm and addScaled against naive loops, for one element type.
func reductionMismatches<E: TensorScalar>(_: E.Type, rows: Int, cols: Int, seed: UInt64) -> [String] {
    var rng = SplitMix64(seed: seed)
    var failures = [String]()
    let eps = epsilon(E.self)
    let xs: [E] = randomScalars(rows * cols, in: -2...2, rng: &rng)
    let x = Tensor(shape: [rows, cols], scalars: xs)
    let bias: [E] = randomScalars(cols, in: -2...2, rng: &rng)
    let colVec: [E] = randomScalars(rows, in: -2...2, rng: &rng)

    // addingRowBroadcast: y[i, j] = x[i, j] + bias[j]; compared with E arithmetic of the same two numbers.
    var expected = [E](repeating: 0, count: rows * cols)
    for i in 0..<rows { for j in 0..<cols { expected[i * cols + j] = xs[i * cols + j] + bias[j] } }
    let added = x.addingRowBroadcast(Tensor(bias))
    if added.shape != [rows, cols] || added.scalars != expected { failures.append("addingRowBroadcast") }

    // broadcastRows: y[i, j] = v[j]
    var br = [E]()
    for _ in 0..<rows { br.append(contentsOf: bias) }
    let bRows = Tensor(bias).broadcastRows(rows)
    if bRows.shape != [rows, cols] || bRows.scalars != br { failures.append("broadcastRows \(bRows.shape)") }

    // broadcastColumns: y[i, j] = v[i]
    var bc = [E]()
    for i in 0..<rows { for _ in 0..<cols { bc.append(colVec[i]) } }
    let bCols = Tensor(colVec).broadcastColumns(cols)
    if bCols.shape != [rows, cols] || bCols.scalars != bc { failures.append("broadcastColumns \(bCols.shape)") }

    // sumRows: y[j] = Σ_i x[i, j]; sumColumns: y[i] = Σ_j x[i, j] (accumulated in E: tolerance n·eps·Σ|x|).
    var colSums = [Double](repeating: 0, count: cols), colAbs = [Double](repeating: 0, count: cols)
    var rowSums = [Double](repeating: 0, count: rows), rowAbs = [Double](repeating: 0, count: rows)
    var total = 0.0, totalAbs = 0.0
    for i in 0..<rows {
        for j in 0..<cols {
            let v = Double(xs[i * cols + j])
            colSums[j] += v; colAbs[j] += Swift.abs(v)
            rowSums[i] += v; rowAbs[i] += Swift.abs(v)
            total += v; totalAbs += Swift.abs(v)
        }
    }
    let sr = x.sumRows()
    if sr.shape != [cols] { failures.append("sumRows shape \(sr.shape)") }
    else if let m = firstMismatch(doubles(sr), colSums, tolerance: { Double(rows + 1) * eps * colAbs[$0] }) { failures.append("sumRows: \(m)") }
    let sc = x.sumColumns()
    if sc.shape != [rows] { failures.append("sumColumns shape \(sc.shape)") }
    else if let m = firstMismatch(doubles(sc), rowSums, tolerance: { Double(cols + 1) * eps * rowAbs[$0] }) { failures.append("sumColumns: \(m)") }

    // sumAsDouble accumulates in Double.
    let s = x.sumAsDouble()
    if Swift.abs(s - total) > 1e-13 * (totalAbs + 1) { failures.append("sumAsDouble \(s) vs \(total)") }

    // dot and norm accumulate in Double.
    let ys: [E] = randomScalars(rows * cols, in: -2...2, rng: &rng)
    let y = Tensor(shape: [rows * cols], scalars: ys)   // dot is over flattened elements; shapes may differ
    var d = 0.0, dAbs = 0.0, sq = 0.0
    for i in 0..<(rows * cols) {
        d += Double(xs[i]) * Double(ys[i]); dAbs += Swift.abs(Double(xs[i]) * Double(ys[i]))
        sq += Double(xs[i]) * Double(xs[i])
    }
    let gotDot = x.dot(y)
    if Swift.abs(gotDot - d) > 1e-13 * (dAbs + 1) { failures.append("dot \(gotDot) vs \(d)") }
    let gotNorm = x.norm()
    if Swift.abs(gotNorm - sq.squareRoot()) > 1e-13 * (sq.squareRoot() + 1) { failures.append("norm \(gotNorm) vs \(sq.squareRoot())") }

    // addScaled: self ← self + α·x
    let alpha = E(4 * rng.nextUnitDouble() - 2)
    var z = x
    z.addScaled(y, alpha)
    let expectedZ = (0..<(rows * cols)).map { Double(xs[$0]) + Double(alpha) * Double(ys[$0]) }
    if z.shape != [rows, cols] { failures.append("addScaled changed shape to \(z.shape)") }
    if let m = firstMismatch(doubles(z), expectedZ, tolerance: {
        2 * eps * (Swift.abs(Double(xs[$0])) + Swift.abs(Double(alpha) * Double(ys[$0])))
    }) { failures.append("addScaled: \(m)") }
    return failures
}

/// log-softmax against the naive formula log(exp(x_j) / Σ_k exp(x_k)).
func logSoftmaxMismatches<E: TensorScalar>(_: E.Type, rows: Int, cols: Int, seed: UInt64) -> [String] {
    var rng = SplitMix64(seed: seed)
    var failures = [String]()
    let xs: [E] = randomScalars(rows * cols, in: -8...8, rng: &rng)
    let y = Tensor(shape: [rows, cols], scalars: xs).logSoftmaxRows()
    guard y.shape == [rows, cols] else { return ["shape \(y.shape)"] }
    let tol = E.self == Float.self ? 2e-5 : 1e-12
    var expected = [Double]()
    for i in 0..<rows {
        var denominator = 0.0
        for j in 0..<cols { denominator += Foundation.exp(Double(xs[i * cols + j])) }
        for j in 0..<cols { expected.append(Foundation.log(Foundation.exp(Double(xs[i * cols + j])) / denominator)) }
        // Each row's probabilities sum to 1.
        var p = 0.0
        for j in 0..<cols { p += Foundation.exp(Double(y.scalars[i * cols + j])) }
        if Swift.abs(p - 1) > Double(cols) * tol { failures.append("row \(i): Σ exp = \(p)") }
    }
    if let m = firstMismatch(doubles(y), expected, tolerance: { _ in tol }) { failures.append("naive formula: \(m)") }
    return failures
}

@Suite("Broadcasts, reductions and log-softmax")
struct ReductionTests {
    static let shapes: [(rows: Int, cols: Int)] = [(1, 1), (1, 9), (9, 1), (4, 7), (16, 3), (31, 33)]

    @Test("broadcasts, sums, dot, norm and addScaled equal naive loops", arguments: Precision.allCases)
    func againstNaive(precision: Precision) {
        for (index, s) in Self.shapes.enumerated() {
            let seed = UInt64(500 + index)
            let failures = precision == .float
                ? reductionMismatches(Float.self, rows: s.rows, cols: s.cols, seed: seed)
                : reductionMismatches(Double.self, rows: s.rows, cols: s.cols, seed: seed)
            #expect(failures.isEmpty, "seed \(seed), shape \([s.rows, s.cols]): \(failures)")
        }
    }

    @Test("hand-computed sums and broadcasts")
    func handComputed() {
        let x = Tensor<Double>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(x.sumRows().scalars == [5, 7, 9])
        #expect(x.sumColumns().scalars == [6, 15])
        #expect(x.sumAsDouble() == 21)
        #expect(x.addingRowBroadcast(Tensor([10, 20, 30])).scalars == [11, 22, 33, 14, 25, 36])
        #expect(Tensor<Double>([1, 2]).broadcastColumns(3).scalars == [1, 1, 1, 2, 2, 2])
        #expect(Tensor<Double>([1, 2]).broadcastRows(3).scalars == [1, 2, 1, 2, 1, 2])
        #expect(Tensor<Double>([3, 4]).norm() == 5)
        #expect(Tensor<Float>([1, 2, 3]).dot(Tensor<Float>([4, -5, 6])) == 12)
        // A length that is not a multiple of the kernels' unroll factors.
        let odd = Tensor<Float>((1...7).map { Float($0) })
        #expect(odd.sumAsDouble() == 28)
        #expect(odd.dot(odd) == 140)
    }

    @Test("log-softmax rows: probabilities sum to 1 and match the naive formula", arguments: Precision.allCases)
    func logSoftmaxNaive(precision: Precision) {
        for (index, s) in [(1, 1), (1, 10), (7, 3), (20, 17)].enumerated() {
            let seed = UInt64(600 + index)
            let failures = precision == .float
                ? logSoftmaxMismatches(Float.self, rows: s.0, cols: s.1, seed: seed)
                : logSoftmaxMismatches(Double.self, rows: s.0, cols: s.1, seed: seed)
            #expect(failures.isEmpty, "seed \(seed), shape \([s.0, s.1]): \(failures)")
        }
    }

    @Test("log-softmax is finite and exact for [1000, 0, -1000]")
    func logSoftmaxExtreme() {
        let d = Tensor<Double>(shape: [2, 3], scalars: [1000, 0, -1000, -1000, 0, 1000]).logSoftmaxRows()
        #expect(d.scalars == [0, -1000, -2000, -2000, -1000, 0])
        let f = Tensor<Float>(shape: [1, 3], scalars: [1000, 0, -1000]).logSoftmaxRows()
        #expect(f.scalars == [0, -1000, -2000])
        // A constant row is uniform: log(1/4) each.
        let u = Tensor<Double>(shape: [1, 4], scalars: [7, 7, 7, 7]).logSoftmaxRows()
        #expect(u.scalars.allSatisfy { Swift.abs($0 - Foundation.log(0.25)) < 1e-14 }, "\(u.scalars)")
    }

    @Test("gatherColumns/scatterColumns equal naive loops, and scatter is the adjoint of gather",
          arguments: [UInt64(71), 72, 73])
    func gatherScatter(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let rows = 1 + rng.next(below: 20), cols = 1 + rng.next(below: 12)
        let xs: [Double] = randomScalars(rows * cols, in: -3...3, rng: &rng)
        let index = (0..<rows).map { _ in rng.next(below: cols) }
        let x = Tensor(shape: [rows, cols], scalars: xs)
        let g = x.gatherColumns(index)
        #expect(g.shape == [rows], "seed \(seed)")
        #expect(g.scalars == (0..<rows).map { xs[$0 * cols + index[$0]] }, "seed \(seed)")

        let vs: [Double] = randomScalars(rows, in: -3...3, rng: &rng)
        let sc = Tensor(vs).scatterColumns(index, width: cols)
        var expected = [Double](repeating: 0, count: rows * cols)
        for i in 0..<rows { expected[i * cols + index[i]] = vs[i] }
        #expect(sc.shape == [rows, cols], "seed \(seed)")
        #expect(sc.scalars == expected, "seed \(seed)")

        // <gather(x), v> == <x, scatter(v)>
        var lhs = 0.0, rhs = 0.0
        for i in 0..<rows { lhs += g.scalars[i] * vs[i] }
        for i in 0..<(rows * cols) { rhs += xs[i] * sc.scalars[i] }
        #expect(Swift.abs(lhs - rhs) <= 1e-12 * (Swift.abs(lhs) + 1), "seed \(seed): \(lhs) vs \(rhs)")

        // Float, with the same indices.
        let xf = Tensor<Float>(converting: x)
        #expect(xf.gatherColumns(index).scalars == (0..<rows).map { Float(xs[$0 * cols + index[$0]]) }, "seed \(seed)")
        #expect(Tensor<Float>(converting: Tensor(vs)).scatterColumns(index, width: cols).scalars == expected.map { Float($0) }, "seed \(seed)")
    }
}

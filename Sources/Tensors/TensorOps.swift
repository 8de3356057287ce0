/// Arithmetic on concrete tensors. Every loop runs in a ``TensorScalar`` kernel.
extension Tensor {
    @inlinable
    func checkSameShape(_ other: Tensor, _ op: String) {
        precondition(shape == other.shape, "\(op): incompatible shapes \(shape) and \(other.shape)")
    }

    /// Elementwise `f(self)`, one loop per tensor: the primal of an elementwise rule. Users call
    /// the named operations (`Tensor.exp`, …) of the algebra instead.
    @inlinable
    package func map<F: ScalarFunction>(_ f: F) -> Tensor {
        Tensor(shape: shape) { y, n in withUnsafePointer { x in Element.map(f, x, y, count: n) } }
    }

    /// Elementwise `f(self, other)`. - Precondition: equal shapes.
    @inlinable
    package func zip<F: BinaryScalarFunction>(_ other: Tensor, _ f: F) -> Tensor {
        checkSameShape(other, "\(F.self)")
        return Tensor(shape: shape) { c, n in
            withUnsafePointer { a in other.withUnsafePointer { b in Element.zip(f, a, b, c, count: n) } }
        }
    }

    /// `max(self, 0)` elementwise.
    @inlinable
    package func reluKernel() -> Tensor {
        Tensor(shape: shape) { y, n in withUnsafePointer { x in Element.relu(x, y, count: n) } }
    }

    /// `condition > 0 ? a : b` elementwise (a nan condition picks `b`). - Precondition: equal shapes.
    @inlinable
    package static func selectKernel(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        condition.checkSameShape(a, "select"); condition.checkSameShape(b, "select")
        return Tensor(shape: a.shape) { y, n in
            condition.withUnsafePointer { c in a.withUnsafePointer { ap in b.withUnsafePointer { bp in
                Element.select(c, ap, bp, y, count: n)
            } } }
        }
    }

    /// `t·d` elementwise, except that an exact-zero `t` gives 0 whatever `d` is (0·∞ = 0).
    @inlinable
    package static func strongZeroProductKernel(_ t: Tensor, _ d: Tensor) -> Tensor {
        t.checkSameShape(d, "strongZeroProduct")
        return Tensor(shape: t.shape) { y, n in
            t.withUnsafePointer { tp in d.withUnsafePointer { dp in Element.strongZeroProduct(tp, dp, y, count: n) } }
        }
    }

    /// The largest element of each row of a `[N, C]` tensor: shape `[N]` (nan if the row holds one).
    @inlinable
    package func maxColumnsKernel() -> Tensor {
        precondition(rank == 2, "maxColumns: expected a rank-2 tensor, got \(shape)")
        return Tensor(shape: [shape[0]]) { y, _ in withUnsafePointer { x in Element.maxColumns(x, y, rows: shape[0], cols: shape[1]) } }
    }

    /// Elementwise `self op other`. - Precondition: equal shapes.
    @inlinable
    package func zip(_ other: Tensor, _ op: BinaryOperation) -> Tensor {
        checkSameShape(other, "\(op)")
        return Tensor(shape: shape) { c, n in
            withUnsafePointer { a in other.withUnsafePointer { b in Element.applyBinary(op, a, b, c, count: n) } }
        }
    }

    /// Elementwise `scale·self + shift`.
    @inlinable
    public func affine(scale: Element, shift: Element) -> Tensor {
        Tensor(shape: shape) { y, n in withUnsafePointer { x in Element.affine(x, scale: scale, shift: shift, y, count: n) } }
    }

    /// `self` where `mask > 0`, else 0 (the ReLU pullback; ReLU'(0) = 0). - Precondition: equal shapes.
    @inlinable
    public func masked(wherePositive mask: Tensor) -> Tensor {
        checkSameShape(mask, "masked(wherePositive:)")
        return Tensor(shape: shape) { y, n in
            withUnsafePointer { g in mask.withUnsafePointer { x in Element.maskPositive(g, where: x, y, count: n) } }
        }
    }

    /// `Σ self` accumulated in `Double`.
    @inlinable
    public func sumAsDouble() -> Double { withUnsafePointer { Element.sum($0, count: count) } }

    /// `Σ self[i]·other[i]` accumulated in `Double`. - Precondition: equal counts.
    @inlinable
    public func dot(_ other: Tensor) -> Double {
        precondition(count == other.count, "dot: \(count) vs \(other.count) elements")
        return withUnsafePointer { a in other.withUnsafePointer { b in Element.dot(a, b, count: count) } }
    }

    /// Euclidean norm of the flattened tensor.
    @inlinable
    public func norm() -> Double { dot(self).squareRoot() }

    /// `self + α·x` in place (flattened). - Precondition: equal counts.
    @inlinable
    public mutating func addScaled(_ x: Tensor, _ alpha: Element) {
        precondition(count == x.count, "addScaled: \(count) vs \(x.count) elements")
        let n = count
        withUnsafeMutablePointer { y in x.withUnsafePointer { xp in Element.affineAccumulate(xp, alpha, y, n) } }
    }

    /// Rank-2 matrix product `op(a)·op(b)` through `cblas_?gemm` (transposes are BLAS flags, not copies).
    /// - Precondition: both rank 2; inner dimensions agree.
    @inlinable
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul: operands must be rank 2, got \(a.shape) and \(b.shape)")
        let m = transposeA ? a.shape[1] : a.shape[0]
        let ka = transposeA ? a.shape[0] : a.shape[1]
        let kb = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        precondition(ka == kb, "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        return Tensor(shape: [m, n]) { c, count in
            if ka == 0 { Element.fill(c, value: 0, count: count); return }
            a.withUnsafePointer { ap in b.withUnsafePointer { bp in
                Element.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: ka, alpha: 1,
                             a: ap, lda: a.shape[1], b: bp, ldb: b.shape[1], beta: 0, c: c, ldc: n)
            } }
        }
    }

    /// Batched matrix product of rank-3 tensors: `op(a[i])·op(b[i])` for each `i` (`a` `[B, M, K]`,
    /// `b` `[B, K, N]` → `[B, M, N]`, `op` the transpose of each `[M, K]` slice where flagged, so a
    /// flagged `a` is `[B, K, M]`). One `cblas_?gemm` per batch element on the slices in place (no copies).
    /// - Precondition: both rank 3, equal batch sizes, inner dimensions agree (the message names the shapes).
    @inlinable
    public static func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank == 3 && b.rank == 3, "batchedMatmul: operands must be rank 3, got \(a.shape) and \(b.shape)")
        let batch = a.shape[0]
        precondition(b.shape[0] == batch, "batchedMatmul: batch sizes differ: \(a.shape) and \(b.shape)")
        let m = transposeA ? a.shape[2] : a.shape[1]
        let ka = transposeA ? a.shape[1] : a.shape[2]
        let kb = transposeB ? b.shape[2] : b.shape[1]
        let n = transposeB ? b.shape[1] : b.shape[2]
        precondition(ka == kb, "batchedMatmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        return Tensor(shape: [batch, m, n]) { c, count in
            if count == 0 { return }
            if ka == 0 { Element.fill(c, value: 0, count: count); return }
            let aStride = a.shape[1] * a.shape[2], bStride = b.shape[1] * b.shape[2]
            a.withUnsafePointer { ap in b.withUnsafePointer { bp in
                for i in 0..<batch {
                    Element.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: ka, alpha: 1,
                                 a: ap + i * aStride, lda: a.shape[2], b: bp + i * bStride, ldb: b.shape[2],
                                 beta: 0, c: c + i * m * n, ldc: n)
                }
            } }
        }
    }

    /// The axes permuted: `result.shape[i] == shape[axes[i]]` and
    /// `result[j₀, …] = self[k…]` with `k[axes[i]] = j[i]` (NumPy's `transpose(axes)`), rank ≤ 6.
    /// Its adjoint is the permutation by the inverse axes.
    /// - Precondition: `axes` is a permutation of `0..<rank` and rank ≤ 6 (the message names both).
    @inlinable
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.count == rank && axes.sorted() == Array(0..<rank),
                     "permuted: axes \(axes) are not a permutation of the axes of a tensor of shape \(shape)")
        precondition(rank <= AxisPermutation.maximumRank,
                     "permuted: rank \(rank) (shape \(shape), axes \(axes)) is above \(AxisPermutation.maximumRank)")
        if axes == Array(0..<rank) { return self }
        let p = AxisPermutation(shape: shape, axes: axes)
        return Tensor(shape: axes.map { shape[$0] }) { y, _ in withUnsafePointer { x in Element.permute(x, y, p) } }
    }

    /// `self[i, j] + bias[j]` for `self` of shape `[N, C]` and `bias` of shape `[C]`.
    @inlinable
    public func addingRowBroadcast(_ bias: Tensor) -> Tensor {
        precondition(rank == 2 && bias.rank == 1 && bias.shape[0] == shape[1], "addingRowBroadcast: cannot add bias \(bias.shape) to rows of \(shape)")
        return Tensor(shape: shape) { y, _ in
            withUnsafePointer { x in bias.withUnsafePointer { b in Element.addRowBroadcast(x, b, y, rows: shape[0], cols: shape[1]) } }
        }
    }

    /// Repeats a `[C]` vector as `rows` rows: shape `[rows, C]`.
    @inlinable
    public func broadcastRows(_ rows: Int) -> Tensor {
        precondition(rank == 1, "broadcastRows: expected a rank-1 tensor, got \(shape)")
        return Tensor(shape: [rows, shape[0]]) { y, _ in withUnsafePointer { v in Element.broadcastRows(v, y, rows: rows, cols: shape[0]) } }
    }

    /// Repeats each element of a `[N]` vector across `cols` columns: shape `[N, cols]`.
    @inlinable
    public func broadcastColumns(_ cols: Int) -> Tensor {
        precondition(rank == 1, "broadcastColumns: expected a rank-1 tensor, got \(shape)")
        return Tensor(shape: [shape[0], cols]) { y, _ in withUnsafePointer { v in Element.broadcastColumns(v, y, rows: shape[0], cols: cols) } }
    }

    /// Sum over the first axis of a `[N, C]` tensor: shape `[C]`.
    @inlinable
    public func sumRows() -> Tensor {
        precondition(rank == 2, "sumRows: expected a rank-2 tensor, got \(shape)")
        return Tensor(shape: [shape[1]]) { y, _ in withUnsafePointer { x in Element.sumRows(x, y, rows: shape[0], cols: shape[1]) } }
    }

    /// Sum over the second axis of a `[N, C]` tensor: shape `[N]`.
    @inlinable
    public func sumColumns() -> Tensor {
        precondition(rank == 2, "sumColumns: expected a rank-2 tensor, got \(shape)")
        return Tensor(shape: [shape[0]]) { y, _ in withUnsafePointer { x in Element.sumColumns(x, y, rows: shape[0], cols: shape[1]) } }
    }

    /// Stable row-wise log-softmax of a `[N, C]` tensor (max-shifted log-sum-exp; finite for logits like [1000, 0, -1000]).
    @inlinable
    package func logSoftmaxRows() -> Tensor {
        precondition(rank == 2, "logSoftmax: expected logits of shape [N, C], got \(shape)")
        return Tensor(shape: shape) { y, _ in withUnsafePointer { x in Element.logSoftmaxRows(x, y, rows: shape[0], cols: shape[1]) } }
    }

    /// `self[i, index[i]]` for `self` of shape `[N, C]`: shape `[N]`.
    /// - Precondition: `index.count == N` and every index in `0..<C`.
    @inlinable
    public func gatherColumns(_ index: [Int]) -> Tensor {
        precondition(rank == 2 && index.count == shape[0], "gatherColumns: \(index.count) indices for a tensor of shape \(shape)")
        precondition(index.allSatisfy { $0 >= 0 && $0 < shape[1] }, "gatherColumns: an index is outside 0..<\(shape[1])")
        return Tensor(shape: [shape[0]]) { y, _ in
            withUnsafePointer { x in index.withUnsafeBufferPointer { ip in Element.gatherColumns(x, ip.baseAddress!, y, rows: shape[0], cols: shape[1]) } }
        }
    }

    /// The adjoint of ``gatherColumns(_:)``: `[N]` values placed at `(i, index[i])` of a zero `[N, width]` tensor.
    @inlinable
    public func scatterColumns(_ index: [Int], width: Int) -> Tensor {
        precondition(rank == 1 && index.count == shape[0], "scatterColumns: \(index.count) indices for a tensor of shape \(shape)")
        precondition(index.allSatisfy { $0 >= 0 && $0 < width }, "scatterColumns: an index is outside 0..<\(width)")
        return Tensor(shape: [shape[0], width]) { y, _ in
            withUnsafePointer { v in index.withUnsafeBufferPointer { ip in Element.scatterColumns(v, ip.baseAddress!, y, rows: shape[0], cols: width) } }
        }
    }

    /// Index of the largest element in each row of a `[N, C]` tensor (first maximum on ties).
    public func argmaxRows() -> [Int] {
        precondition(rank == 2, "argmaxRows: expected a rank-2 tensor, got \(shape)")
        let c = shape[1]
        return (0..<shape[0]).map { r in
            var best = 0
            for j in 1..<max(c, 1) where scalars[r * c + j] > scalars[r * c + best] { best = j }
            return best
        }
    }

    /// Elementwise sum. - Precondition: equal shapes.
    @inlinable public static func + (a: Tensor, b: Tensor) -> Tensor { a.zip(b, .add) }
    /// Elementwise difference. - Precondition: equal shapes.
    @inlinable public static func - (a: Tensor, b: Tensor) -> Tensor { a.zip(b, .subtract) }
    /// Elementwise (Hadamard) product. - Precondition: equal shapes.
    @inlinable public static func * (a: Tensor, b: Tensor) -> Tensor { a.zip(b, .multiply) }
    /// Elementwise quotient. - Precondition: equal shapes.
    @inlinable public static func / (a: Tensor, b: Tensor) -> Tensor { a.zip(b, .divide) }
    /// Elementwise negation.
    @inlinable public static prefix func - (a: Tensor) -> Tensor {
        Tensor(shape: a.shape) { y, n in a.withUnsafePointer { x in Element.negate(x, y, count: n) } }
    }
    /// Multiplies every element by a scalar.
    @inlinable public static func * (a: Tensor, s: Element) -> Tensor { a.affine(scale: s, shift: 0) }
}

extension TensorScalar {
    /// `y[i] += α·x[i]`.
    @inlinable
    public static func affineAccumulate(_ x: UnsafePointer<Self>, _ alpha: Self, _ y: UnsafeMutablePointer<Self>, _ n: Int) {
        Self.axpy(n, alpha, x, y)
    }
}

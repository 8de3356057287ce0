import Tensors

/// `count` rows of a data set in consecutive chunks of at most `size` rows (0: one chunk), each
/// weighted by its share of the rows, n_i/n: the one place where a mean over data is split into
/// chunks. A mean loss, its gradient, a curvature product or an accuracy over the rows is the
/// weighted sum of the chunks' (`weightedSum`), so only one chunk's intermediates
/// exist at a time (as curvlinops' `_loop_over_data`).
public struct RowChunks: Sendable, Equatable, RandomAccessCollection {
    /// N, the rows split into chunks.
    public let rows: Int
    /// Rows per chunk; the last may be shorter.
    public let size: Int

    /// - Precondition: `rows ≥ 1` and `size ≥ 0`.
    public init(rows: Int, size: Int) {
        precondition(rows >= 1 && size >= 0, "RowChunks: need rows ≥ 1 and size ≥ 0, got \(rows) rows in chunks of \(size)")
        self.rows = rows
        self.size = size == 0 ? rows : Swift.min(size, rows)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { (rows + size - 1) / size }
    public subscript(i: Int) -> Range<Int> { (i * size)..<Swift.min((i + 1) * size, rows) }

    /// The weight n_i/n of chunk `i`.
    public func weight(_ i: Int) -> Double { Double(self[i].count) / Double(rows) }

    /// Σ_i w_i · body(i, rows_i), chunk by chunk; one chunk's value is returned as it is.
    public func weightedSum<E: TensorScalar>(_ body: (Int, Range<Int>) throws -> Tensor<E>) rethrows -> Tensor<E> {
        try weightedSum { (0.0, try body($0, $1)) }.1
    }

    /// Σ_i w_i · body(i, rows_i) for a value and a tensor (a loss and its gradient), chunk by chunk.
    public func weightedSum<E: TensorScalar>(_ body: (Int, Range<Int>) throws -> (Double, Tensor<E>)) rethrows -> (Double, Tensor<E>) {
        if count == 1 { return try body(0, self[0]) }
        var value = 0.0, total: Tensor<E>? = nil
        for i in indices {
            let (v, t) = try body(i, self[i])
            value += weight(i) * v
            if total == nil { total = t.scaled(by: weight(i)) } else { total!.addScaled(t, E(weight(i))) }
        }
        return (value, total!)
    }
}

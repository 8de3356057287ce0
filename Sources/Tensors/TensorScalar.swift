import CBLAS
import Foundation

/// Elementwise binary operations on two buffers of equal length.
public enum BinaryOperation: Sendable {
    /// `a + b`, `a − b`, `a · b`, `a / b` elementwise (IEEE 754).
    case add, subtract, multiply, divide
}

/// The element type of a ``Tensor``: `Float` or `Double`.
///
/// Every loop over tensor elements is a requirement of this protocol, so that a
/// call from generic code (for example a `Dual<Tensor<Float>>` pullback) runs a
/// loop specialized for the concrete element type rather than unspecialized
/// generic arithmetic. The default implementations live in a protocol extension
/// and are specialized in the conformances of `Float` and `Double`.
///
/// Pointers passed to these kernels must address at least the stated number of
/// elements; output buffers may alias inputs only where said.
public protocol TensorScalar: BinaryFloatingPoint, Sendable, CustomStringConvertible
where Self.RawSignificand: FixedWidthInteger {
    /// The safetensors dtype string of this type ("F32" or "F64").
    static var dtypeName: String { get }
    /// Converts from `Double` (rounding to nearest for `Float`).
    init(_ value: Double)

    /// `f(x)`: the `Float` or `Double` overload of a primal kernel.
    static func evaluate<F: ScalarFunction>(_ f: F, _ x: Self) -> Self
    /// `f(a, b)`: the `Float` or `Double` overload of a binary primal kernel.
    static func evaluate<F: BinaryScalarFunction>(_ f: F, _ a: Self, _ b: Self) -> Self

    /// Row-major GEMM `C ← α·op(A)·op(B) + β·C` through OpenBLAS (`cblas_sgemm`/`cblas_dgemm`).
    /// `op(A)` is m×k, `op(B)` is k×n, `C` is m×n; `lda`, `ldb`, `ldc` are row strides.
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// `y[i] = f(x[i])` for `i < count`; `y` may alias `x`.
    static func map<F: ScalarFunction>(_ f: F, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// `c[i] = f(a[i], b[i])`; `c` may alias `a` or `b`.
    static func zip<F: BinaryScalarFunction>(_ f: F, _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ c: UnsafeMutablePointer<Self>, count: Int)
    /// `y[i] = −x[i]` (IEEE negation: −0 for 0); `y` may alias `x`.
    static func negate(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// `y[i] = max(x[i], 0)`, nan kept; `y` may alias `x`.
    static func relu(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// `y[i] = c[i] > 0 ? a[i] : b[i]`; a nan condition picks `b`.
    static func select(_ c: UnsafePointer<Self>, _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// `y[i] = t[i] == 0 || d[i] == 0 ? 0 : t[i]·d[i]`: the chain-rule product of a (co)tangent
    /// and a derivative, where an exact zero on either side gives 0 even if the other is ±∞ or nan.
    static func strongZeroProduct(_ t: UnsafePointer<Self>, _ d: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// `y[i] = max_j x[i, j]` for an `rows × cols` matrix (nan if the row holds a nan).
    static func maxColumns(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int)
    /// `c[i] = a[i] op b[i]`; `c` may alias `a` or `b`.
    static func applyBinary(_ op: BinaryOperation, _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ c: UnsafeMutablePointer<Self>, count: Int)
    /// `y[i] = scale·x[i] + shift`; `y` may alias `x`.
    static func affine(_ x: UnsafePointer<Self>, scale: Self, shift: Self, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// `y[i] = g[i]` where `x[i] > 0`, else `0` (the ReLU mask; ReLU'(0) = 0).
    static func maskPositive(_ g: UnsafePointer<Self>, where x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// `Σ x[i]`, accumulated in `Double`.
    static func sum(_ x: UnsafePointer<Self>, count: Int) -> Double
    /// `Σ a[i]·b[i]`, accumulated in `Double`.
    static func dot(_ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, count: Int) -> Double
    /// `y[i, j] = x[i, j] + bias[j]` for an `rows × cols` matrix `x`.
    static func addRowBroadcast(_ x: UnsafePointer<Self>, _ bias: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int)
    /// `y[i, j] = v[j]`: repeats a length-`cols` vector as `rows` rows.
    static func broadcastRows(_ v: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int)
    /// `y[i, j] = v[i]`: repeats each element of a length-`rows` vector across `cols` columns.
    static func broadcastColumns(_ v: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int)
    /// `y[j] = Σ_i x[i, j]` (sum over rows, giving a length-`cols` vector).
    static func sumRows(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int)
    /// `y[i] = Σ_j x[i, j]` (sum over columns, giving a length-`rows` vector).
    static func sumColumns(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int)
    /// Row-wise `y[i, j] = x[i, j] − max_k x[i, k] − log Σ_k exp(x[i, k] − max_k x[i, k])` (stable log-softmax).
    static func logSoftmaxRows(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int)
    /// `y[i] = x[i, index[i]]`.
    static func gatherColumns(_ x: UnsafePointer<Self>, _ index: UnsafePointer<Int>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int)
    /// `y[i, j] = (j == index[i]) ? v[i] : 0`.
    static func scatterColumns(_ v: UnsafePointer<Self>, _ index: UnsafePointer<Int>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int)
    /// Fills `y[0..<count]` with `value`.
    static func fill(_ y: UnsafeMutablePointer<Self>, value: Self, count: Int)
    /// Copies `count` elements from `x` to `y` (non-overlapping).
    static func copy(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    /// Copies `[N, C, H, W]` images into the interior of a zero-bordered `[N, C, H + 2p, W + 2p]` buffer.
    static func padImages(_ x: UnsafePointer<Self>, _ padded: UnsafeMutablePointer<Self>, _ g: ConvolutionGeometry)
    /// The interior of `[N, C, H + 2p, W + 2p]` images copied to `[N, C, H, W]`.
    static func cropImages(_ padded: UnsafePointer<Self>, _ x: UnsafeMutablePointer<Self>, _ g: ConvolutionGeometry)
    /// im2col of zero-padded images; `cols` is `C·kH·kW × N·Ho·Wo`.
    static func im2colPadded(_ padded: UnsafePointer<Self>, _ cols: UnsafeMutablePointer<Self>, _ g: ConvolutionGeometry)
    /// The adjoint of im2colPadded (accumulating into `padded`).
    static func col2imPadded(_ cols: UnsafePointer<Self>, _ padded: UnsafeMutablePointer<Self>, _ g: ConvolutionGeometry)
    /// `y[b, a, k] = x[a, b, k]`.
    static func swapLeadingAxes(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, a: Int, b: Int, k: Int)
    /// `y[i₀, …, i₅] = x[Σ iⱼ·strides[j]]` over the result's `extents` (row-major): an axis permutation.
    static func permute(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, _ p: AxisPermutation)
    /// `y[n, c, q] = x[n, c, q] + bias[c]`.
    static func addChannelBias(_ x: UnsafePointer<Self>, _ bias: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, n: Int, c: Int, q: Int)
    /// `y[c] = Σ_{n,q} x[n, c, q]`.
    static func sumChannels(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, n: Int, c: Int, q: Int)
    /// `y[n, c, q] = v[c]`.
    static func broadcastChannels(_ v: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, n: Int, c: Int, q: Int)
    /// 2×2/stride-2 max-pool routing of `t` by the argmax of `x` (first maximum in scan order).
    static func maxPool2Gather(_ t: UnsafePointer<Self>, by x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, planes: Int, h: Int, w: Int)
    /// The adjoint of maxPool2Gather.
    static func maxPool2Scatter(_ g: UnsafePointer<Self>, by x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, planes: Int, h: Int, w: Int)
}

extension TensorScalar {
    @inlinable
    public static func map<F: ScalarFunction>(_ f: F, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count { y[i] = evaluate(f, x[i]) }
    }

    @inlinable
    public static func zip<F: BinaryScalarFunction>(_ f: F, _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ c: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count { c[i] = evaluate(f, a[i], b[i]) }
    }

    @inlinable
    public static func negate(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count { y[i] = -x[i] }
    }

    @inlinable
    public static func relu(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count { let v = x[i]; y[i] = v <= 0 ? 0 : v }
    }

    @inlinable
    public static func select(_ c: UnsafePointer<Self>, _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count { y[i] = c[i] > 0 ? a[i] : b[i] }
    }

    @inlinable
    public static func strongZeroProduct(_ t: UnsafePointer<Self>, _ d: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count { let ti = t[i], di = d[i]; y[i] = ti == 0 || di == 0 ? 0 : ti * di }
    }

    @inlinable
    public static func maxColumns(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let xr = x + r * cols
            var m = -Self.infinity
            for j in 0..<cols {
                let v = xr[j]
                if v.isNaN { m = v; break }
                if v > m { m = v }
            }
            y[r] = m
        }
    }

    @inlinable
    public static func applyBinary(_ op: BinaryOperation, _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ c: UnsafeMutablePointer<Self>, count: Int) {
        switch op {
        case .add: for i in 0..<count { c[i] = a[i] + b[i] }
        case .subtract: for i in 0..<count { c[i] = a[i] - b[i] }
        case .multiply: for i in 0..<count { c[i] = a[i] * b[i] }
        case .divide: for i in 0..<count { c[i] = a[i] / b[i] }
        }
    }

    @inlinable
    public static func affine(_ x: UnsafePointer<Self>, scale: Self, shift: Self, _ y: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count { y[i] = scale * x[i] + shift }
    }

    @inlinable
    public static func maskPositive(_ g: UnsafePointer<Self>, where x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int) {
        for i in 0..<count { y[i] = x[i] > 0 ? g[i] : 0 }
    }

    @inlinable
    public static func sum(_ x: UnsafePointer<Self>, count: Int) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var i = 0
        while i + 4 <= count {
            s0 += Double(x[i]); s1 += Double(x[i + 1]); s2 += Double(x[i + 2]); s3 += Double(x[i + 3])
            i += 4
        }
        while i < count { s0 += Double(x[i]); i += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    @inlinable
    public static func dot(_ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, count: Int) -> Double {
        var s0 = 0.0, s1 = 0.0
        var i = 0
        while i + 2 <= count {
            s0 += Double(a[i]) * Double(b[i]); s1 += Double(a[i + 1]) * Double(b[i + 1])
            i += 2
        }
        if i < count { s0 += Double(a[i]) * Double(b[i]) }
        return s0 + s1
    }

    @inlinable
    public static func addRowBroadcast(_ x: UnsafePointer<Self>, _ bias: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let xr = x + r * cols, yr = y + r * cols
            for j in 0..<cols { yr[j] = xr[j] + bias[j] }
        }
    }

    @inlinable
    public static func broadcastRows(_ v: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int) {
        for r in 0..<rows { (y + r * cols).update(from: v, count: cols) }
    }

    @inlinable
    public static func broadcastColumns(_ v: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let value = v[r], yr = y + r * cols
            for j in 0..<cols { yr[j] = value }
        }
    }

    @inlinable
    public static func sumRows(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int) {
        for j in 0..<cols { y[j] = 0 }
        for r in 0..<rows {
            let xr = x + r * cols
            for j in 0..<cols { y[j] += xr[j] }
        }
    }

    @inlinable
    public static func sumColumns(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let xr = x + r * cols
            var s: Self = 0
            for j in 0..<cols { s += xr[j] }
            y[r] = s
        }
    }

    @inlinable
    public static func logSoftmaxRows(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let xr = x + r * cols, yr = y + r * cols
            var m = -Self.infinity
            for j in 0..<cols where xr[j] > m { m = xr[j] }
            if m == -Self.infinity { for j in 0..<cols { yr[j] = .nan }; continue }   // no finite logit: undefined
            if m == Self.infinity {
                // softmax puts all mass on the +∞ logits, equally: log(1/count) there, −∞ elsewhere.
                var count: Self = 0
                for j in 0..<cols where xr[j] == m { count += 1 }
                let logShare = -evaluate(Log(), count)
                for j in 0..<cols { yr[j] = xr[j] == m ? logShare : (xr[j].isNaN ? .nan : -Self.infinity) }
                continue
            }
            // (x − m) − log Σ exp(x − m), not x − (m + log Σ): at equal huge logits the second form
            // loses every digit of log Σ to the rounding of m + log Σ (3e7 + log 3 = 3e7 in Float).
            var s: Self = 0
            for j in 0..<cols { s += evaluate(Exp(), xr[j] - m) }
            let logSum = evaluate(Log(), s)
            for j in 0..<cols { yr[j] = (xr[j] - m) - logSum }
        }
    }

    @inlinable
    public static func gatherColumns(_ x: UnsafePointer<Self>, _ index: UnsafePointer<Int>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int) {
        for r in 0..<rows { y[r] = x[r * cols + index[r]] }
    }

    @inlinable
    public static func scatterColumns(_ v: UnsafePointer<Self>, _ index: UnsafePointer<Int>, _ y: UnsafeMutablePointer<Self>, rows: Int, cols: Int) {
        for i in 0..<(rows * cols) { y[i] = 0 }
        for r in 0..<rows { y[r * cols + index[r]] = v[r] }
    }

    @inlinable
    public static func fill(_ y: UnsafeMutablePointer<Self>, value: Self, count: Int) {
        for i in 0..<count { y[i] = value }
    }

    @inlinable
    public static func copy(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int) {
        y.update(from: x, count: count)
    }
}

extension Float: TensorScalar {
    public static var dtypeName: String { "F32" }
    @inlinable public static func evaluate<F: ScalarFunction>(_ f: F, _ x: Float) -> Float { f(x) }
    @inlinable public static func evaluate<F: BinaryScalarFunction>(_ f: F, _ a: Float, _ b: Float) -> Float { f(a, b) }

    /// The ReLU mask as bit operations (a select on random signs mispredicts; measured 50× slower).
    @inlinable
    public static func maskPositive(_ g: UnsafePointer<Float>, where x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let keep: UInt32 = 0 &- UInt32(unsafeBitCast(x[i] > 0, to: UInt8.self))
            y[i] = Float(bitPattern: g[i].bitPattern & keep)
        }
    }

    /// Row-major GEMM through OpenBLAS (see the requirement).
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        // The thread policy: large products in blocks over the process's threads (GEMMThreads).
        GEMMThreads.run(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc) { m, n, ao, bo, co in
            cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        blasint(m), blasint(n), blasint(k), alpha, a + ao, blasint(lda), b + bo, blasint(ldb), beta, c + co, blasint(ldc))
        }
    }
}

extension Double: TensorScalar {
    public static var dtypeName: String { "F64" }
    @inlinable public static func evaluate<F: ScalarFunction>(_ f: F, _ x: Double) -> Double { f(x) }
    @inlinable public static func evaluate<F: BinaryScalarFunction>(_ f: F, _ a: Double, _ b: Double) -> Double { f(a, b) }

    /// The ReLU mask as bit operations (a select on random signs mispredicts).
    @inlinable
    public static func maskPositive(_ g: UnsafePointer<Double>, where x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, count: Int) {
        for i in 0..<count {
            let keep: UInt64 = 0 &- UInt64(unsafeBitCast(x[i] > 0, to: UInt8.self))
            y[i] = Double(bitPattern: g[i].bitPattern & keep)
        }
    }

    /// Row-major GEMM through OpenBLAS (see the requirement).
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        // The thread policy: large products in blocks over the process's threads (GEMMThreads).
        GEMMThreads.run(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc) { m, n, ao, bo, co in
            cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        blasint(m), blasint(n), blasint(k), alpha, a + ao, blasint(lda), b + bo, blasint(ldb), beta, c + co, blasint(ldc))
        }
    }
}

extension TensorScalar {
    /// `y ← α·x + y` over `n` elements, through `cblas_saxpy`/`cblas_daxpy`.
    @inlinable
    public static func axpy(_ n: Int, _ alpha: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>) {
        if Self.self == Float.self {
            cblas_saxpy(blasint(n), Float(alpha), UnsafeRawPointer(x).assumingMemoryBound(to: Float.self), 1,
                        UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self), 1)
        } else if Self.self == Double.self {
            cblas_daxpy(blasint(n), Double(alpha), UnsafeRawPointer(x).assumingMemoryBound(to: Double.self), 1,
                        UnsafeMutableRawPointer(y).assumingMemoryBound(to: Double.self), 1)
        } else {
            for i in 0..<n { y[i] += alpha * x[i] }
        }
    }
}

// MARK: - Convolution, pooling and layout kernels

/// The geometry of a 2-D convolution over N×C×H×W inputs with O×C×kH×kW filters,
/// stride `stride` and zero padding `padding` on every side.
public struct ConvolutionGeometry: Sendable, Equatable {
    /// The input's N, C, H, W.
    public let batch: Int, channels: Int, height: Int, width: Int
    /// The filter's O, kH, kW.
    public let outputChannels: Int, kernelHeight: Int, kernelWidth: Int
    /// The same stride and zero padding on both spatial axes.
    public let stride: Int, padding: Int
    /// ⌊(H + 2p − kH)/s⌋ + 1
    public var outputHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    /// ⌊(W + 2p − kW)/s⌋ + 1
    public var outputWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
    /// C·kH·kW: the rows of an im2col matrix.
    public var patchSize: Int { channels * kernelHeight * kernelWidth }
    /// Ho·Wo.
    public var outputPixels: Int { outputHeight * outputWidth }
    /// H + 2p and W + 2p: the zero-padded image.
    public var paddedHeight: Int { height + 2 * padding }
    /// W + 2p.
    public var paddedWidth: Int { width + 2 * padding }

    /// The geometry of a convolution of `batch` images [C, H, W] with `outputChannels` filters [C, kH, kW]; not validated (``Tensor`` validates when it convolves).
    public init(batch: Int, channels: Int, height: Int, width: Int, outputChannels: Int,
                kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Int) {
        self.batch = batch; self.channels = channels; self.height = height; self.width = width
        self.outputChannels = outputChannels; self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.stride = stride; self.padding = padding
    }
}

/// The index arithmetic of an axis permutation of a row-major tensor of rank ≤ 6
/// (``Tensor/permuted(_:)``): the result's shape and, for each result axis, the stride of the
/// source axis it reads, both padded at the front to six axes (extent 1, stride 0).
public struct AxisPermutation: Sendable, Equatable {
    /// The largest rank a permutation handles.
    public static let maximumRank = 6
    /// The result's shape, six axes.
    public let extents: [Int]
    /// The source stride (in elements) of each result axis, six axes.
    public let strides: [Int]

    /// The permutation of a tensor of shape `shape` with `result.shape[i] == shape[axes[i]]`; not
    /// validated (``Tensor/permuted(_:)`` validates).
    public init(shape: [Int], axes: [Int]) {
        var sourceStrides = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { sourceStrides[i] = sourceStrides[i + 1] * shape[i + 1] }
        let pad = Self.maximumRank - axes.count
        extents = [Int](repeating: 1, count: pad) + axes.map { shape[$0] }
        strides = [Int](repeating: 0, count: pad) + axes.map { sourceStrides[$0] }
    }
}

extension TensorScalar {
    /// Copies `nb` images `[nb, C, H, W]` into the interior of the zero-bordered buffer
    /// `[nb, C, H + 2p, W + 2p]`, whose border must already be zero.
    @inlinable
    public static func padImages(_ x: UnsafePointer<Self>, _ padded: UnsafeMutablePointer<Self>, _ g: ConvolutionGeometry) {
        let (H, W, p) = (g.height, g.width, g.padding), (Hp, Wp) = (g.paddedHeight, g.paddedWidth)
        parallelRanges(g.batch * g.channels, minimumPerThread: max(1, 32_768 / max(Hp * Wp, 1))) { planes in
            for q in planes {
                let src = x + q * H * W, dst = padded + q * Hp * Wp + p * Wp + p
                for r in 0..<H { let s = src + r * W, d = dst + r * Wp; for c in 0..<W { d[c] = s[c] } }
            }
        }
    }

    /// The adjoint of ``padImages(_:_:_:)``: the interior of `padded` `[nb, C, H + 2p, W + 2p]`
    /// copied to `x` `[nb, C, H, W]` (the border is dropped).
    @inlinable
    public static func cropImages(_ padded: UnsafePointer<Self>, _ x: UnsafeMutablePointer<Self>, _ g: ConvolutionGeometry) {
        let (H, W, p) = (g.height, g.width, g.padding), (Hp, Wp) = (g.paddedHeight, g.paddedWidth)
        parallelRanges(g.batch * g.channels, minimumPerThread: max(1, 32_768 / max(Hp * Wp, 1))) { planes in
            for q in planes {
                let src = padded + q * Hp * Wp + p * Wp + p, dst = x + q * H * W
                for r in 0..<H { let s = src + r * Wp, d = dst + r * W; for c in 0..<W { d[c] = s[c] } }
            }
        }
    }

    /// im2col of zero-padded images: `cols[(c·kH + i)·kW + j, n·Ho·Wo + oy·Wo + ox] =
    /// padded[n, c, oy·s + i, ox·s + j]` for `padded` `[N, C, H + 2p, W + 2p]`
    /// (``padImages(_:_:_:)``); `cols` is `patchSize × (N·Ho·Wo)`.
    ///
    /// Padding first leaves a branch-free inner loop (one output row: a contiguous copy when
    /// s = 1), which is what makes the unfolding cheap next to the GEMM that reads it.
    @inlinable
    public static func im2colPadded(_ padded: UnsafePointer<Self>, _ cols: UnsafeMutablePointer<Self>, _ g: ConvolutionGeometry) {
        let (ho, wo, s) = (g.outputHeight, g.outputWidth, g.stride), P = ho * wo, NP = g.batch * P
        let (Hp, Wp, C, kh, kw) = (g.paddedHeight, g.paddedWidth, g.channels, g.kernelHeight, g.kernelWidth)
        parallelRanges(g.patchSize, minimumPerThread: max(1, 32_768 / max(NP, 1))) { rows in
            for k in rows {
                let (c, i, j) = (k / (kh * kw), (k / kw) % kh, k % kw)
                let row = cols + k * NP
                for n in 0..<g.batch {
                    let src = padded + (n * C + c) * Hp * Wp + i * Wp + j, dst = row + n * P
                    for oy in 0..<ho {
                        let a = src + oy * s * Wp, b = dst + oy * wo
                        if s == 1 { for ox in 0..<wo { b[ox] = a[ox] } } else { for ox in 0..<wo { b[ox] = a[ox * s] } }
                    }
                }
            }
        }
    }

    /// col2im, the adjoint of ``im2colPadded(_:_:_:)``: adds `cols` into `padded`
    /// `[N, C, H + 2p, W + 2p]` (which the caller zeroes; ``cropImages(_:_:_:)`` then drops the
    /// border). Parallel over image planes, so no two threads write the same element.
    @inlinable
    public static func col2imPadded(_ cols: UnsafePointer<Self>, _ padded: UnsafeMutablePointer<Self>, _ g: ConvolutionGeometry) {
        let (ho, wo, s) = (g.outputHeight, g.outputWidth, g.stride), P = ho * wo, NP = g.batch * P
        let (Hp, Wp, C, kh, kw) = (g.paddedHeight, g.paddedWidth, g.channels, g.kernelHeight, g.kernelWidth)
        parallelRanges(g.batch * C, minimumPerThread: max(1, 32_768 / max(kh * kw * P, 1))) { planes in
            for q in planes {
                let (n, c) = (q / C, q % C)
                for i in 0..<kh {
                    for j in 0..<kw {
                        let src = cols + ((c * kh + i) * kw + j) * NP + n * P
                        let dst = padded + q * Hp * Wp + i * Wp + j
                        for oy in 0..<ho {
                            let a = src + oy * wo, b = dst + oy * s * Wp
                            if s == 1 { for ox in 0..<wo { b[ox] += a[ox] } } else { for ox in 0..<wo { b[ox * s] += a[ox] } }
                        }
                    }
                }
            }
        }
    }

    /// `y[b, a, k] = x[a, b, k]` for `x` of shape `[A, B, K]`.
    @inlinable
    public static func swapLeadingAxes(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, a: Int, b: Int, k: Int) {
        parallelRanges(a, minimumPerThread: max(1, 32_768 / max(b * k, 1))) { rows in
            for i in rows {
                for j in 0..<b {
                    (y + (j * a + i) * k).update(from: x + (i * b + j) * k, count: k)
                }
            }
        }
    }

    /// A stride walk over the result in row-major order; the innermost axis reads with its stride.
    @inlinable
    public static func permute(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, _ p: AxisPermutation) {
        let e = p.extents, s = p.strides
        let (n0, n1, n2, n3, n4, n5) = (e[0], e[1], e[2], e[3], e[4], e[5])
        let (s0, s1, s2, s3, s4, s5) = (s[0], s[1], s[2], s[3], s[4], s[5])
        var o = 0
        for i0 in 0..<n0 { let b0 = i0 * s0
            for i1 in 0..<n1 { let b1 = b0 + i1 * s1
                for i2 in 0..<n2 { let b2 = b1 + i2 * s2
                    for i3 in 0..<n3 { let b3 = b2 + i3 * s3
                        for i4 in 0..<n4 { let b4 = b3 + i4 * s4
                            for i5 in 0..<n5 { y[o] = x[b4 + i5 * s5]; o += 1 }
                        }
                    }
                }
            }
        }
    }

    /// `y[n, c, q] = x[n, c, q] + bias[c]` for `x` of shape `[N, C, Q]`.
    @inlinable
    public static func addChannelBias(_ x: UnsafePointer<Self>, _ bias: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, n: Int, c: Int, q: Int) {
        for i in 0..<n { for ch in 0..<c {
            let off = (i * c + ch) * q, b = bias[ch]
            for k in 0..<q { y[off + k] = x[off + k] + b }
        } }
    }

    /// `y[c] = Σ_{n,q} x[n, c, q]` for `x` of shape `[N, C, Q]`.
    @inlinable
    public static func sumChannels(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, n: Int, c: Int, q: Int) {
        for ch in 0..<c { y[ch] = 0 }
        for i in 0..<n { for ch in 0..<c {
            let off = (i * c + ch) * q
            var s: Self = 0
            for k in 0..<q { s += x[off + k] }
            y[ch] += s
        } }
    }

    /// Repeats each channel's value over the batch and the positions of `[N, C, Q]`.
    @inlinable
    public static func broadcastChannels(_ v: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, n: Int, c: Int, q: Int) {
        for i in 0..<n { for ch in 0..<c {
            let off = (i * c + ch) * q, b = v[ch]
            for k in 0..<q { y[off + k] = b }
        } }
    }

    /// 2×2 max-pool routing, stride 2, over `planes` planes of `h × w` (h, w even):
    /// `y[pl, oy, ox] = t[pl, 2oy + a*, 2ox + b*]` where `(a*, b*)` is the position of the
    /// maximum of `x` in the window, the first in scan order (row-major) on ties.
    @inlinable
    public static func maxPool2Gather(_ t: UnsafePointer<Self>, by x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, planes: Int, h: Int, w: Int) {
        let ho = h / 2, wo = w / 2
        parallelRanges(planes, minimumPerThread: max(1, 32_768 / max(h * w, 1))) { range in
        for pl in range {
            let xp = x + pl * h * w, tp = t + pl * h * w, yp = y + pl * ho * wo
            for oy in 0..<ho {
                let r0 = 2 * oy * w, r1 = r0 + w
                for ox in 0..<wo {
                    yp[oy * wo + ox] = tp[argmax2x2(xp, r0 + 2 * ox, r1 + 2 * ox)]
                }
            }
        }
        }
    }

    /// The flat index of the maximum of the 2×2 window `x[a], x[a+1], x[b], x[b+1]`, the first in
    /// scan order on ties (strict `>`), computed with selects rather than branches.
    @inlinable @inline(__always)
    static func argmax2x2(_ x: UnsafePointer<Self>, _ a: Int, _ b: Int) -> Int {
        let v0 = x[a], v1 = x[a + 1], v2 = x[b], v3 = x[b + 1]
        // Integer arithmetic on comparison bits: the compiler otherwise emits branches that
        // mispredict half the time on real activations (measured 8× slower).
        let top = a &+ bit(v1 > v0)
        let bottom = b &+ bit(v3 > v2)
        let topValue = v1 > v0 ? v1 : v0
        let bottomValue = v3 > v2 ? v3 : v2
        return top &+ (bottom &- top) &* bit(bottomValue > topValue)
    }

    @inlinable @inline(__always)
    static func bit(_ condition: Bool) -> Int { Int(unsafeBitCast(condition, to: UInt8.self)) }

    /// The adjoint of ``maxPool2Gather(_:by:_:planes:h:w:)``: `y` (shape of `x`) is zero except
    /// `g[pl, oy, ox]` at each window's argmax of `x`.
    @inlinable
    public static func maxPool2Scatter(_ g: UnsafePointer<Self>, by x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, planes: Int, h: Int, w: Int) {
        let ho = h / 2, wo = w / 2
        parallelRanges(planes, minimumPerThread: max(1, 32_768 / max(h * w, 1))) { range in
        for k in (range.lowerBound * h * w)..<(range.upperBound * h * w) { y[k] = 0 }
        for pl in range {
            let xp = x + pl * h * w, yp = y + pl * h * w, gp = g + pl * ho * wo
            for oy in 0..<ho {
                let r0 = 2 * oy * w, r1 = r0 + w
                for ox in 0..<wo {
                    yp[argmax2x2(xp, r0 + 2 * ox, r1 + 2 * ox)] = gp[oy * wo + ox]
                }
            }
        }
        }
    }
}

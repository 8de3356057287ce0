import Foundation

/// Errors of convolution and pooling geometry, each naming the offending sizes.
public enum ConvolutionError: Error, CustomStringConvertible, Equatable {
    case inputRank([Int])
    case filterRank([Int])
    case channelMismatch(inputChannels: Int, filterChannels: Int)
    case kernelLargerThanPaddedInput(kernel: [Int], paddedInput: [Int])
    case invalidStride(Int)
    case invalidPadding(Int)
    case oddPoolingInput([Int])

    public var description: String {
        switch self {
        case let .inputRank(s): return "conv2d: input must be N×C×H×W (rank 4), got shape \(s)"
        case let .filterRank(s): return "conv2d: filter must be O×C×kH×kW (rank 4), got shape \(s)"
        case let .channelMismatch(i, f): return "conv2d: input has \(i) channels but the filter expects \(f)"
        case let .kernelLargerThanPaddedInput(k, p): return "conv2d: kernel \(k[0])×\(k[1]) is larger than the padded input \(p[0])×\(p[1])"
        case let .invalidStride(s): return "conv2d: stride must be at least 1, got \(s)"
        case let .invalidPadding(p): return "conv2d: padding must be ≥ 0, got \(p)"
        case let .oddPoolingInput(s): return "max-pool 2×2: height and width must be even, got input shape \(s)"
        }
    }
}

extension ConvolutionGeometry {
    /// The geometry of `conv2d(input, filter)`, checked.
    /// - Parameters: `input` `[N, C, H, W]`, `filter` `[O, C, kH, kW]`.
    /// - Throws: ``ConvolutionError`` naming the problem (rank, channel mismatch, kernel
    ///   larger than the padded input, stride < 1, padding < 0).
    public static func checked(input: [Int], filter: [Int], stride: Int, padding: Int) throws -> ConvolutionGeometry {
        guard input.count == 4 else { throw ConvolutionError.inputRank(input) }
        guard filter.count == 4 else { throw ConvolutionError.filterRank(filter) }
        guard stride >= 1 else { throw ConvolutionError.invalidStride(stride) }
        guard padding >= 0 else { throw ConvolutionError.invalidPadding(padding) }
        guard input[1] == filter[1] else { throw ConvolutionError.channelMismatch(inputChannels: input[1], filterChannels: filter[1]) }
        guard filter[2] <= input[2] + 2 * padding, filter[3] <= input[3] + 2 * padding else {
            throw ConvolutionError.kernelLargerThanPaddedInput(kernel: [filter[2], filter[3]], paddedInput: [input[2] + 2 * padding, input[3] + 2 * padding])
        }
        return ConvolutionGeometry(batch: input[0], channels: input[1], height: input[2], width: input[3], outputChannels: filter[0],
                                   kernelHeight: filter[2], kernelWidth: filter[3], stride: stride, padding: padding)
    }

    @usableFromInline
    static func require(input: [Int], filter: [Int], stride: Int, padding: Int) -> ConvolutionGeometry {
        do { return try checked(input: input, filter: filter, stride: stride, padding: padding) } catch { preconditionFailure("\(error)") }
    }

    /// `[N, O, Ho, Wo]`.
    public var outputShape: [Int] { [batch, outputChannels, outputHeight, outputWidth] }
}

extension Tensor {
    /// Samples per im2col chunk, so that one chunk's column matrix stays near 4 M elements
    /// (cache- and memory-friendly; the GEMMs stay large).
    @inlinable
    static func chunkSize(_ g: ConvolutionGeometry) -> Int {
        let perSample = max(g.patchSize * g.outputPixels, 1)
        // A whole batch of up to 8 M column elements is unfolded at once (and cached); larger
        // batches go in chunks of ~1 M elements (4 MiB of Float), which stay in cache between
        // im2col and the GEMM that reads them.
        if g.batch * perSample <= 1 << 23 { return g.batch }
        return max(1, min(g.batch, (1 << 20) / perSample))
    }

    /// The im2col matrix of the whole batch when it fits in one chunk, from ``Im2colCache``
    /// when this very input (same storage, same geometry) was unfolded recently; `nil` when the
    /// batch is processed in chunks. Forward and filter-gradient passes of the same input, and
    /// the several products of a dual number's parts, then share one im2col.
    @inlinable
    static func wholeBatchColumns(_ x: Tensor, _ g: ConvolutionGeometry) -> Tensor? {
        guard chunkSize(g) >= g.batch else { return nil }
        if let cached: Tensor = Im2colCache.shared.lookup(x, g) { return cached }
        let cols = x.im2col(g)
        Im2colCache.shared.insert(x, g, cols)
        return cols
    }

    @inlinable
    static func subGeometry(_ g: ConvolutionGeometry, batch: Int) -> ConvolutionGeometry {
        ConvolutionGeometry(batch: batch, channels: g.channels, height: g.height, width: g.width, outputChannels: g.outputChannels,
                            kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth, stride: g.stride, padding: g.padding)
    }

    /// Runs `body(n0, nb, geometry, columns, outputs)` for consecutive chunks of at most
    /// ``chunkSize(_:)`` samples starting at n0, with scratch buffers for one chunk's im2col
    /// matrix `[K, nb·P]` and its `[O, nb·P]` GEMM operand/result (allocated once).
    @inlinable
    static func forEachChunk(_ g: ConvolutionGeometry,
                             _ body: (_ n0: Int, _ nb: Int, _ geometry: ConvolutionGeometry,
                                      _ columns: UnsafeMutablePointer<Element>, _ outputs: UnsafeMutablePointer<Element>) -> Void) {
        let chunk = chunkSize(g), P = g.outputPixels
        let columns = UnsafeMutablePointer<Element>.allocate(capacity: g.patchSize * chunk * P)
        defer { columns.deallocate() }
        let outputs = UnsafeMutablePointer<Element>.allocate(capacity: g.outputChannels * chunk * P)
        defer { outputs.deallocate() }
        var n0 = 0
        while n0 < g.batch {
            let nb = min(chunk, g.batch - n0)
            body(n0, nb, subGeometry(g, batch: nb), columns, outputs)
            n0 += nb
        }
    }

    /// 2-D cross-correlation (PyTorch's `conv2d`, no bias) by im2col + GEMM, in chunks of samples.
    /// - Parameters: `x` `[N, C, H, W]`, `w` `[O, C, kH, kW]`; returns `[N, O, Ho, Wo]` with
    ///   `Ho = ⌊(H + 2p − kH)/s⌋ + 1` (zero padding `p`, stride `s`).
    /// - Precondition: shapes as ``ConvolutionGeometry/checked(input:filter:stride:padding:)`` requires.
    @inlinable
    public static func conv2d(_ x: Tensor, _ w: Tensor, stride: Int, padding: Int) -> Tensor {
        let g = ConvolutionGeometry.require(input: x.shape, filter: w.shape, stride: stride, padding: padding)
        let (O, K, P) = (g.outputChannels, g.patchSize, g.outputPixels)
        if let cols = wholeBatchColumns(x, g) {
            let y = matmul(w.reshaped([O, K]), cols)          // [O, N·P]
            return y.swappingLeadingAxes(O, g.batch).reshaped(g.outputShape)
        }
        let inPlane = g.channels * g.height * g.width
        return Tensor(shape: g.outputShape) { y, _ in
            x.withUnsafePointer { xp in w.withUnsafePointer { wp in
                forEachChunk(g) { n0, nb, sg, cols, tmp in
                    Element.im2col(xp + n0 * inPlane, cols, sg)
                    // tmp[O, nb·P] = W[O, K] · cols[K, nb·P]
                    Element.gemm(transposeA: false, transposeB: false, m: O, n: nb * P, k: K, alpha: 1, a: wp, lda: K,
                                 b: cols, ldb: nb * P, beta: 0, c: tmp, ldc: nb * P)
                    Element.swapLeadingAxes(tmp, y + n0 * O * P, a: O, b: nb, k: P)
                }
            } }
        }
    }

    /// The gradient of `conv2d` with respect to its input: `x̄ = col2im(Wᵀ ḡ)`, shape `inputShape`.
    /// Linear in `g`; the adjoint of `conv2d(·, w)`.
    @inlinable
    public static func conv2dBackwardInput(_ g: Tensor, _ w: Tensor, inputShape: [Int], stride: Int, padding: Int) -> Tensor {
        let geo = ConvolutionGeometry.require(input: inputShape, filter: w.shape, stride: stride, padding: padding)
        precondition(g.shape == geo.outputShape, "conv2dBackwardInput: cotangent has shape \(g.shape), expected \(geo.outputShape)")
        let (O, K, P) = (geo.outputChannels, geo.patchSize, geo.outputPixels)
        let inPlane = geo.channels * geo.height * geo.width
        return Tensor(shape: inputShape) { dx, _ in
            g.withUnsafePointer { gp in w.withUnsafePointer { wp in
                forEachChunk(geo) { n0, nb, sg, cols, gt in
                    Element.swapLeadingAxes(gp + n0 * O * P, gt, a: nb, b: O, k: P)   // [O, nb·P]
                    // cols[K, nb·P] = Wᵀ[K, O] · gt[O, nb·P]
                    Element.gemm(transposeA: true, transposeB: false, m: K, n: nb * P, k: O, alpha: 1, a: wp, lda: K,
                                 b: gt, ldb: nb * P, beta: 0, c: cols, ldc: nb * P)
                    Element.col2im(cols, dx + n0 * inPlane, sg)
                }
            } }
        }
    }

    /// The gradient of `conv2d` with respect to its filter: `W̄ = Σ_chunks ḡ · im2col(x)ᵀ`, shape `filterShape`.
    /// Linear in `g` and in `x`.
    @inlinable
    public static func conv2dBackwardFilter(_ x: Tensor, _ g: Tensor, filterShape: [Int], stride: Int, padding: Int) -> Tensor {
        let geo = ConvolutionGeometry.require(input: x.shape, filter: filterShape, stride: stride, padding: padding)
        precondition(g.shape == geo.outputShape, "conv2dBackwardFilter: cotangent has shape \(g.shape), expected \(geo.outputShape)")
        let (O, K, P) = (geo.outputChannels, geo.patchSize, geo.outputPixels)
        if let cols = wholeBatchColumns(x, geo) {
            let gt = g.swappingLeadingAxes(geo.batch, O).reshaped([O, geo.batch * P])
            return matmul(gt, cols, transposeB: true).reshaped(filterShape)
        }
        let inPlane = geo.channels * geo.height * geo.width
        return Tensor(shape: filterShape) { dw, count in
            Element.fill(dw, value: 0, count: count)
            x.withUnsafePointer { xp in g.withUnsafePointer { gp in
                forEachChunk(geo) { n0, nb, sg, cols, gt in
                    Element.im2col(xp + n0 * inPlane, cols, sg)
                    Element.swapLeadingAxes(gp + n0 * O * P, gt, a: nb, b: O, k: P)
                    // dW[O, K] += gt[O, nb·P] · cols[K, nb·P]ᵀ
                    Element.gemm(transposeA: false, transposeB: true, m: O, n: K, k: nb * P, alpha: 1, a: gt, lda: nb * P,
                                 b: cols, ldb: nb * P, beta: 1, c: dw, ldc: K)
                }
            } }
        }
    }

    /// The im2col matrix `[C·kH·kW, N·Ho·Wo]` of a `[N, C, H, W]` tensor.
    @inlinable
    public func im2col(_ g: ConvolutionGeometry) -> Tensor {
        Tensor(shape: [g.patchSize, g.batch * g.outputPixels]) { cols, _ in withUnsafePointer { Element.im2col($0, cols, g) } }
    }

    /// Views the tensor as `[a, b, rest]` and returns `[b, a, rest]` (a copy).
    @inlinable
    public func swappingLeadingAxes(_ a: Int, _ b: Int) -> Tensor {
        let k = count / max(a * b, 1)
        precondition(a * b * k == count, "swappingLeadingAxes: \(shape) is not divisible into [\(a), \(b), …]")
        return Tensor(shape: [b, a, k]) { y, _ in withUnsafePointer { Element.swapLeadingAxes($0, y, a: a, b: b, k: k) } }
    }

    /// `self[n, c, …] + bias[c]` for `self` `[N, C, …]` and `bias` `[C]`.
    @inlinable
    public func addingChannelBias(_ bias: Tensor) -> Tensor {
        precondition(rank >= 2 && bias.rank == 1 && bias.shape[0] == shape[1], "addingChannelBias: cannot add bias \(bias.shape) to channels of \(shape)")
        let q = count / max(shape[0] * shape[1], 1)
        return Tensor(shape: shape) { y, _ in withUnsafePointer { x in bias.withUnsafePointer { b in Element.addChannelBias(x, b, y, n: shape[0], c: shape[1], q: q) } } }
    }

    /// `Σ_{n, …} self[n, c, …]`: shape `[C]` (the adjoint of ``broadcastChannels(to:)``).
    @inlinable
    public func sumChannels() -> Tensor {
        precondition(rank >= 2, "sumChannels: expected [N, C, …], got \(shape)")
        let q = count / max(shape[0] * shape[1], 1)
        return Tensor(shape: [shape[1]]) { y, _ in withUnsafePointer { Element.sumChannels($0, y, n: shape[0], c: shape[1], q: q) } }
    }

    /// Repeats a `[C]` vector over the other axes of `shape` (`[N, C, …]`).
    @inlinable
    public func broadcastChannels(to shape: [Int]) -> Tensor {
        precondition(rank == 1 && shape.count >= 2 && shape[1] == self.shape[0], "broadcastChannels: cannot broadcast \(self.shape) to channels of \(shape)")
        let q = shape.reduce(1, *) / max(shape[0] * shape[1], 1)
        return Tensor(shape: shape) { y, _ in withUnsafePointer { Element.broadcastChannels($0, y, n: shape[0], c: shape[1], q: q) } }
    }

    /// Checks that a `[N, C, H, W]` shape can be max-pooled 2×2 with stride 2.
    /// - Throws: ``ConvolutionError/oddPoolingInput(_:)`` or ``ConvolutionError/inputRank(_:)``.
    public static func checkMaxPool2x2(_ shape: [Int]) throws {
        guard shape.count == 4 else { throw ConvolutionError.inputRank(shape) }
        guard shape[2] % 2 == 0, shape[3] % 2 == 0 else { throw ConvolutionError.oddPoolingInput(shape) }
    }

    /// 2×2, stride-2 max-pool routing: `self` (any values of the same shape as `x`) taken at
    /// each window's argmax of `x` (the first maximum in scan order on ties). `[N, C, H, W] → [N, C, H/2, W/2]`.
    @inlinable
    public func gatherMaxPool2x2(argmaxOf x: Tensor) -> Tensor {
        do { try Tensor.checkMaxPool2x2(x.shape) } catch { preconditionFailure("\(error)") }
        precondition(shape == x.shape, "gatherMaxPool2x2: values \(shape) and selector \(x.shape) differ")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        return Tensor(shape: [n, c, h / 2, w / 2]) { y, _ in
            withUnsafePointer { t in x.withUnsafePointer { xp in Element.maxPool2Gather(t, by: xp, y, planes: n * c, h: h, w: w) } }
        }
    }

    /// The adjoint of ``gatherMaxPool2x2(argmaxOf:)``: `[N, C, H/2, W/2]` values placed at each
    /// window's argmax of `x`, zeros elsewhere; shape of `x`.
    @inlinable
    public func scatterMaxPool2x2(argmaxOf x: Tensor) -> Tensor {
        do { try Tensor.checkMaxPool2x2(x.shape) } catch { preconditionFailure("\(error)") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(shape == [n, c, h / 2, w / 2], "scatterMaxPool2x2: values \(shape) do not match pooled \(x.shape)")
        return Tensor(shape: x.shape) { y, _ in
            withUnsafePointer { g in x.withUnsafePointer { xp in Element.maxPool2Scatter(g, by: xp, y, planes: n * c, h: h, w: w) } }
        }
    }
}


/// A small least-recently-used cache of im2col matrices, keyed by the identity of the input's
/// storage and the convolution geometry.
///
/// Tensors are values whose storage is shared copy-on-write, so storage that is still alive
/// never changes its contents; each entry keeps its input alive, so a storage address cannot be
/// reused while the entry exists. At most ``capacity`` entries and ``maximumElements`` elements
/// are kept. Thread-safe.
public final class Im2colCache: @unchecked Sendable {
    /// The process-wide cache used by ``Tensor/conv2d(_:_:stride:padding:)`` and
    /// ``Tensor/conv2dBackwardFilter(_:_:filterShape:stride:padding:)``.
    public static let shared = Im2colCache()
    /// Entries kept.
    public let capacity = 4
    /// Total elements of cached matrices kept (128 MiB of Float).
    public let maximumElements = 1 << 25

    struct Entry {
        let input: Any
        let address: UnsafeRawPointer?
        let count: Int
        let geometry: ConvolutionGeometry
        let columns: Any
        let elements: Int
    }
    private var entries: [Entry] = []
    private let lock = NSLock()

    /// The cached im2col matrix of `x` under `g`, if present.
    public func lookup<E: TensorScalar>(_ x: Tensor<E>, _ g: ConvolutionGeometry) -> Tensor<E>? {
        let address = x.withUnsafePointer { UnsafeRawPointer($0) }
        lock.lock(); defer { lock.unlock() }
        guard let i = entries.firstIndex(where: { $0.address == address && $0.count == x.count && $0.geometry == g && $0.input is Tensor<E> }) else { return nil }
        let e = entries.remove(at: i)
        entries.append(e)
        return e.columns as? Tensor<E>
    }

    /// Stores the im2col matrix `columns` of `x` under `g` (when it fits the limits).
    public func insert<E: TensorScalar>(_ x: Tensor<E>, _ g: ConvolutionGeometry, _ columns: Tensor<E>) {
        guard columns.count <= maximumElements / 2, x.count > 0 else { return }
        let address = x.withUnsafePointer { UnsafeRawPointer($0) }
        lock.lock(); defer { lock.unlock() }
        entries.append(Entry(input: x, address: address, count: x.count, geometry: g, columns: columns, elements: columns.count))
        while entries.count > capacity || entries.reduce(0, { $0 + $1.elements }) > maximumElements { entries.removeFirst() }
    }

    /// Drops every entry (releasing their memory).
    public func removeAll() {
        lock.lock(); defer { lock.unlock() }
        entries.removeAll()
    }
}

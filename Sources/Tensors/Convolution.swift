import CKernels
import Foundation

/// Errors of convolution and pooling geometry, each naming the offending sizes.
public enum ConvolutionError: Error, CustomStringConvertible, Equatable {
    /// The input is not [N, C, H, W] (its shape).
    case inputRank([Int])
    /// The filter is not [O, C, kH, kW] (its shape).
    case filterRank([Int])
    /// The input and the filter have different channel counts.
    case channelMismatch(inputChannels: Int, filterChannels: Int)
    /// The kernel [kH, kW] does not fit the padded input [H + 2p, W + 2p].
    case kernelLargerThanPaddedInput(kernel: [Int], paddedInput: [Int])
    /// A stride below 1.
    case invalidStride(Int)
    /// A negative padding.
    case invalidPadding(Int)
    /// 2×2 max-pooling of an input whose height or width is odd (its shape).
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

/// Scratch memory for one convolution call, processed in tiles of images: the zero-bordered
/// copy of a tile, its im2col matrix and one GEMM operand or result. Scoped to the call (no
/// state survives it), so concurrent calls share nothing.
@usableFromInline
struct ConvolutionTiles<Element: TensorScalar> {
    /// The geometry of the whole batch.
    @usableFromInline let geometry: ConvolutionGeometry
    /// Images per tile (the last tile may be shorter).
    @usableFromInline let tile: Int
    /// `[tile, C, H + 2p, W + 2p]`, border kept zero; unused (empty) when p = 0.
    @usableFromInline let padded: UnsafeMutablePointer<Element>
    /// `[K, tile · P]`: one tile's im2col matrix.
    @usableFromInline let columns: UnsafeMutablePointer<Element>
    /// `[O, tile · P]`: one tile's GEMM result or cotangent.
    @usableFromInline let outputs: UnsafeMutablePointer<Element>
    @usableFromInline let paddedCount: Int

    /// Column elements per tile: 2²⁰ (4 MiB of Float). One tile's unfolded
    /// matrix then stays in the 32 MiB L3 between the unfolding and the GEMM that reads it, and
    /// the GEMM's N = tile·P stays wide (conv2 of the study: 13 images, N = 2548). OpenBLAS ran
    /// these products at 200–230 GFLOP/s for 4–32 images, 180 for one, 170 for the whole
    /// 512-image matrix (AVX2 EPYC, 2 threads).
    @usableFromInline static var columnElementsPerTile: Int { 1 << 20 }

    @inlinable
    init(_ g: ConvolutionGeometry) {
        geometry = g
        let perImage = max(g.patchSize * g.outputPixels, 1)
        let limit = max(1, Self.columnElementsPerTile / perImage)
        let tiles = max(1, (g.batch + limit - 1) / limit)
        tile = max(1, (g.batch + tiles - 1) / tiles)           // even tiles: no short last GEMM
        paddedCount = g.padding > 0 ? tile * g.channels * g.paddedHeight * g.paddedWidth : 0
        padded = .allocate(capacity: max(paddedCount, 1))
        Element.fill(padded, value: 0, count: paddedCount)
        columns = .allocate(capacity: max(g.patchSize * tile * g.outputPixels, 1))
        outputs = .allocate(capacity: max(g.outputChannels * tile * g.outputPixels, 1))
    }

    @inlinable
    func deallocate() { padded.deallocate(); columns.deallocate(); outputs.deallocate() }

    /// Runs `body(n0, nb, tileGeometry)` for consecutive tiles of `nb` images from `n0`.
    @inlinable
    func forEach(_ body: (_ n0: Int, _ nb: Int, _ geometry: ConvolutionGeometry) -> Void) {
        var n0 = 0
        while n0 < geometry.batch {
            let nb = min(tile, geometry.batch - n0)
            body(n0, nb, geometry.withBatch(nb))
            n0 += nb
        }
    }

    /// The im2col matrix `[K, nb·P]` of images `x[n0 ..< n0 + nb]`, written to `columns`.
    @inlinable
    func unfold(_ x: UnsafePointer<Element>, n0: Int, _ sg: ConvolutionGeometry) {
        let image = x + n0 * geometry.channels * geometry.height * geometry.width
        if geometry.padding == 0 {
            Element.im2colPadded(image, columns, sg)
        } else {
            Element.padImages(image, padded, sg)
            Element.im2colPadded(padded, columns, sg)
        }
    }

    /// col2im of `cols` `[K, nb·P]` into images `dx[n0 ..< n0 + nb]` (overwriting them).
    @inlinable
    func fold(_ cols: UnsafePointer<Element>, into dx: UnsafeMutablePointer<Element>, n0: Int, _ sg: ConvolutionGeometry) {
        let image = dx + n0 * geometry.channels * geometry.height * geometry.width
        if geometry.padding == 0 {
            Element.fill(image, value: 0, count: sg.batch * sg.channels * sg.height * sg.width)
            Element.col2imPadded(cols, image, sg)
        } else {
            Element.fill(padded, value: 0, count: sg.batch * sg.channels * sg.paddedHeight * sg.paddedWidth)
            Element.col2imPadded(cols, padded, sg)
            Element.cropImages(padded, image, sg)
        }
    }
}

extension ConvolutionGeometry {
    /// The same convolution on `batch` images.
    @inlinable
    public func withBatch(_ batch: Int) -> ConvolutionGeometry {
        ConvolutionGeometry(batch: batch, channels: channels, height: height, width: width, outputChannels: outputChannels,
                            kernelHeight: kernelHeight, kernelWidth: kernelWidth, stride: stride, padding: padding)
    }
}

extension Tensor {
    /// 2-D cross-correlation (PyTorch's `conv2d`, no bias): per tile of images, im2col and one GEMM.
    /// - Parameters: `x` `[N, C, H, W]`, `w` `[O, C, kH, kW]`; returns `[N, O, Ho, Wo]` with
    ///   `Ho = ⌊(H + 2p − kH)/s⌋ + 1` (zero padding `p`, stride `s`).
    /// - Precondition: shapes as ``ConvolutionGeometry/checked(input:filter:stride:padding:)`` requires.
    @inlinable
    public static func conv2d(_ x: Tensor, _ w: Tensor, stride: Int, padding: Int) -> Tensor {
        conv2dSum([(x, w)], stride: stride, padding: padding)
    }

    /// The gradient of `conv2d` with respect to its input: `x̄ = col2im(Wᵀ ḡ)`, shape `inputShape`.
    /// Linear in `g`; the adjoint of `conv2d(·, w)`.
    @inlinable
    public static func conv2dBackwardInput(_ g: Tensor, _ w: Tensor, inputShape: [Int], stride: Int, padding: Int) -> Tensor {
        conv2dBackwardInputSum([(g, w)], inputShape: inputShape, stride: stride, padding: padding)
    }

    /// The gradient of `conv2d` with respect to its filter: `W̄ = Σ_tiles ḡ · im2col(x)ᵀ`, shape `filterShape`.
    /// Linear in `g` and in `x`.
    @inlinable
    public static func conv2dBackwardFilter(_ x: Tensor, _ g: Tensor, filterShape: [Int], stride: Int, padding: Int) -> Tensor {
        conv2dBackwardFilterSum([(x, g)], filterShape: filterShape, stride: stride, padding: padding)
    }

    /// ``conv2d(_:_:stride:padding:)`` with the direct kernels' variant chosen by the caller (tests,
    /// benchmarks); the same GEMM path as the default where `kernel` does not apply
    /// (``ConvolutionKernel/runsDirectly(_:)``: Double, stride > 1, large patches).
    /// - Precondition: `kernel.isSupported`.
    @inlinable
    public static func conv2d(_ x: Tensor, _ w: Tensor, stride: Int, padding: Int, kernel: ConvolutionKernel) -> Tensor {
        precondition(kernel.isSupported, "conv2d: kernel variant \(kernel) does not run on this CPU")
        return conv2dSum([(x, w)], stride: stride, padding: padding, kernel: kernel)
    }

    /// ``conv2dBackwardFilter(_:_:filterShape:stride:padding:)`` with an explicit direct-kernel variant.
    /// - Precondition: `kernel.isSupported`.
    @inlinable
    public static func conv2dBackwardFilter(_ x: Tensor, _ g: Tensor, filterShape: [Int], stride: Int, padding: Int,
                                            kernel: ConvolutionKernel) -> Tensor {
        precondition(kernel.isSupported, "conv2dBackwardFilter: kernel variant \(kernel) does not run on this CPU")
        return conv2dBackwardFilterSum([(x, g)], filterShape: filterShape, stride: stride, padding: padding, kernel: kernel)
    }

    /// Calls `body` with a pointer to the scalars of each tensor, in order.
    @inlinable
    static func withUnsafePointers<R>(_ tensors: ArraySlice<Tensor>, _ pointers: [UnsafePointer<Element>] = [],
                                      _ body: ([UnsafePointer<Element>]) -> R) -> R {
        guard let first = tensors.first else { return body(pointers) }
        return first.withUnsafePointer { withUnsafePointers(tensors.dropFirst(), pointers + [$0], body) }
    }

    /// `Σ_t conv2d(x_t, w_t)` over terms of one shape: per tile, each term's unfolding and GEMM
    /// accumulate into one tile result (the primal has one term, its tangent two).
    @inlinable
    static func conv2dSum(_ terms: [(input: Tensor, filter: Tensor)], stride: Int, padding: Int,
                          kernel: ConvolutionKernel = .selected) -> Tensor {
        let g = ConvolutionGeometry.require(input: terms[0].input.shape, filter: terms[0].filter.shape, stride: stride, padding: padding)
        precondition(terms.allSatisfy { $0.input.shape == terms[0].input.shape && $0.filter.shape == terms[0].filter.shape },
                     "conv2d: terms of different shapes \(terms.map { ($0.input.shape, $0.filter.shape) })")
        let (O, K, P) = (g.outputChannels, g.patchSize, g.outputPixels)
        return Tensor(shape: g.outputShape) { y, _ in
            withUnsafePointers(ArraySlice(terms.flatMap { [$0.input, $0.filter] })) { p in
                if Element.self == Float.self, kernel.runsDirectly(g) {
                    for t in terms.indices {
                        DirectConvolution.forward(UnsafeRawPointer(p[2 * t]), UnsafeRawPointer(p[2 * t + 1]), UnsafeMutableRawPointer(y),
                                                  g, accumulate: t > 0, kernel: kernel)
                    }
                    return
                }
                let tiles = ConvolutionTiles<Element>(g)
                defer { tiles.deallocate() }
                tiles.forEach { n0, nb, sg in
                    for t in terms.indices {
                        tiles.unfold(p[2 * t], n0: n0, sg)
                        // outputs[O, nb·P] (+)= W_t[O, K] · cols_t[K, nb·P]
                        Element.gemm(transposeA: false, transposeB: false, m: O, n: nb * P, k: K, alpha: 1, a: p[2 * t + 1], lda: K,
                                     b: tiles.columns, ldb: nb * P, beta: t == 0 ? 0 : 1, c: tiles.outputs, ldc: nb * P)
                    }
                    Element.swapLeadingAxes(tiles.outputs, y + n0 * O * P, a: O, b: nb, k: P)
                }
            }
        }
    }

    /// `Σ_t conv2dBackwardInput(g_t, w_t)`: per tile, the terms' GEMMs accumulate into one
    /// column matrix, folded once.
    @inlinable
    static func conv2dBackwardInputSum(_ terms: [(cotangent: Tensor, filter: Tensor)], inputShape: [Int], stride: Int, padding: Int) -> Tensor {
        let geo = ConvolutionGeometry.require(input: inputShape, filter: terms[0].filter.shape, stride: stride, padding: padding)
        precondition(terms.allSatisfy { $0.cotangent.shape == geo.outputShape && $0.filter.shape == terms[0].filter.shape },
                     "conv2dBackwardInput: cotangents \(terms.map(\.cotangent.shape)) or filters do not match \(geo.outputShape)")
        let (O, K, P) = (geo.outputChannels, geo.patchSize, geo.outputPixels)
        return Tensor(shape: inputShape) { dx, _ in
            withUnsafePointers(ArraySlice(terms.flatMap { [$0.cotangent, $0.filter] })) { p in
                let tiles = ConvolutionTiles<Element>(geo)
                defer { tiles.deallocate() }
                tiles.forEach { n0, nb, sg in
                    for t in terms.indices {
                        Element.swapLeadingAxes(p[2 * t] + n0 * O * P, tiles.outputs, a: nb, b: O, k: P)   // [O, nb·P]
                        // cols[K, nb·P] (+)= W_tᵀ[K, O] · ḡ_t[O, nb·P]
                        Element.gemm(transposeA: true, transposeB: false, m: K, n: nb * P, k: O, alpha: 1, a: p[2 * t + 1], lda: K,
                                     b: tiles.outputs, ldb: nb * P, beta: t == 0 ? 0 : 1, c: tiles.columns, ldc: nb * P)
                    }
                    tiles.fold(tiles.columns, into: dx, n0: n0, sg)
                }
            }
        }
    }

    /// `Σ_t conv2dBackwardFilter(x_t, g_t)`: every tile's GEMMs accumulate into the one result.
    @inlinable
    static func conv2dBackwardFilterSum(_ terms: [(input: Tensor, cotangent: Tensor)], filterShape: [Int], stride: Int, padding: Int,
                                        kernel: ConvolutionKernel = .selected) -> Tensor {
        let geo = ConvolutionGeometry.require(input: terms[0].input.shape, filter: filterShape, stride: stride, padding: padding)
        precondition(terms.allSatisfy { $0.input.shape == terms[0].input.shape && $0.cotangent.shape == geo.outputShape },
                     "conv2dBackwardFilter: cotangents \(terms.map(\.cotangent.shape)) or inputs do not match \(geo.outputShape)")
        let (O, K, P) = (geo.outputChannels, geo.patchSize, geo.outputPixels)
        return Tensor(shape: filterShape) { dw, count in
            Element.fill(dw, value: 0, count: count)
            withUnsafePointers(ArraySlice(terms.flatMap { [$0.input, $0.cotangent] })) { p in
                if Element.self == Float.self, kernel.runsDirectly(geo) {
                    for t in terms.indices {
                        DirectConvolution.filterGradient(UnsafeRawPointer(p[2 * t]), UnsafeRawPointer(p[2 * t + 1]), UnsafeMutableRawPointer(dw),
                                                         geo, kernel: kernel)
                    }
                    return
                }
                let tiles = ConvolutionTiles<Element>(geo)
                defer { tiles.deallocate() }
                tiles.forEach { n0, nb, sg in
                    for t in terms.indices {
                        tiles.unfold(p[2 * t], n0: n0, sg)
                        Element.swapLeadingAxes(p[2 * t + 1] + n0 * O * P, tiles.outputs, a: nb, b: O, k: P)
                        // dW[O, K] += ḡ_t[O, nb·P] · cols_t[K, nb·P]ᵀ
                        Element.gemm(transposeA: false, transposeB: true, m: O, n: K, k: nb * P, alpha: 1, a: tiles.outputs, lda: nb * P,
                                     b: tiles.columns, ldb: nb * P, beta: 1, c: dw, ldc: K)
                    }
                }
            }
        }
    }

    /// The im2col matrix `[C·kH·kW, N·Ho·Wo]` of a `[N, C, H, W]` tensor:
    /// `cols[(c·kH + i)·kW + j, n·Ho·Wo + oy·Wo + ox] = x[n, c, oy·s − p + i, ox·s − p + j]` (0 outside the image).
    @inlinable
    public func im2col(_ g: ConvolutionGeometry) -> Tensor {
        precondition(shape == [g.batch, g.channels, g.height, g.width], "im2col: input \(shape) does not match the geometry")
        let (K, P) = (g.patchSize, g.outputPixels)
        return Tensor(shape: [K, g.batch * P]) { cols, _ in
            withUnsafePointer { xp in
                let tiles = ConvolutionTiles<Element>(g)
                defer { tiles.deallocate() }
                tiles.forEach { n0, nb, sg in
                    tiles.unfold(xp, n0: n0, sg)
                    // A tile's rows are `[K, nb·P]`; in the batch matrix they start at column n0·P.
                    for k in 0..<K {
                        (cols + k * g.batch * P + n0 * P).update(from: tiles.columns + k * nb * P, count: nb * P)
                    }
                }
            }
        }
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



// MARK: - Direct kernels (Sources/CKernels)

/// The SIMD variant of the direct convolution kernels (`Sources/CKernels`), which compute the
/// forward convolution and the filter gradient of layers with few input channels (the CNN's
/// conv1: one channel, 5×5) without im2col or GEMM. Chosen once per process, as OpenBLAS picks
/// its kernel: the widest variant CPUID and the OS allow, or `LANDSCAPE_KERNEL`
/// (`generic`, `avx2`, `avx512`) when set to a variant this CPU runs.
public enum ConvolutionKernel: String, CaseIterable, Sendable {
    /// The build target's baseline vectors (4 floats: SSE2 on x86-64, NEON on arm64).
    case generic
    /// AVX2 + FMA, 8 floats per vector.
    case avx2
    /// AVX-512F (+VL), 16 floats per vector.
    case avx512

    @usableFromInline var code: Int32 {
        switch self {
        case .generic: return Int32(LK_KERNEL_GENERIC)
        case .avx2: return Int32(LK_KERNEL_AVX2)
        case .avx512: return Int32(LK_KERNEL_AVX512)
        }
    }

    /// Whether this CPU and OS run the variant (CPUID feature bits and XGETBV register state).
    public var isSupported: Bool { lk_kernel_supported(code) != 0 }

    /// The variants this machine runs, narrowest first.
    public static var supported: [ConvolutionKernel] { allCases.filter(\.isSupported) }

    /// The variant every convolution uses: `LANDSCAPE_KERNEL` when it names a supported variant,
    /// else the widest supported one. An unknown or unsupported `LANDSCAPE_KERNEL` is reported on
    /// standard error, naming the value and the variants available, and ignored.
    public static let selected: ConvolutionKernel = {
        let best = supported.last ?? .generic
        guard let value = ProcessInfo.processInfo.environment["LANDSCAPE_KERNEL"], !value.isEmpty else { return best }
        guard let kernel = ConvolutionKernel(rawValue: value.lowercased()), kernel.isSupported else {
            FileHandle.standardError.write(Data(("LANDSCAPE_KERNEL=\(value) is not a kernel variant this CPU runs (\(supported.map(\.rawValue).joined(separator: ", "))); using \(best.rawValue)\n").utf8))
            return best
        }
        return kernel
    }()

    /// What runs, for logs and benchmark headers (like `BLASRuntime.summary`), e.g.
    /// `"direct conv: avx512 (supported: generic, avx2, avx512)"`.
    public static var coreName: String {
        "direct conv: \(selected.rawValue) (supported: \(supported.map(\.rawValue).joined(separator: ", ")))"
    }

    /// Whether a Float convolution of geometry `g` runs the direct kernels: stride 1 and at most
    /// 32 taps per output (C·kH·kW; conv1 has 25). Larger patches (conv2: 400) keep im2col + GEMM,
    /// which the direct kernel does not beat there (AVX2, conv2 at batch 64: 18 GFLOP/s direct).
    @inlinable
    public func runsDirectly(_ g: ConvolutionGeometry) -> Bool {
        // An empty dimension anywhere (a zero-sized buffer in the C kernels) takes the GEMM path.
        g.stride == 1 && g.patchSize > 0 && g.patchSize <= 32 && g.batch > 0 && g.outputChannels > 0
            && g.height > 0 && g.width > 0 && g.outputHeight > 0 && g.outputWidth > 0
    }
}

/// The Float direct kernels over a batch, split over ``ParallelLoop/threadCount`` threads by images.
@usableFromInline
enum DirectConvolution {
    /// Images per thread below which one thread does all.
    static let minimumImagesPerThread = 4

    /// `y (+)= conv2d(x, w)` for Float `x` `[N, C, H, W]`, `w` `[O, C, kH, kW]`, `y` `[N, O, Ho, Wo]`, stride 1.
    @usableFromInline
    static func forward(_ x: UnsafeRawPointer, _ w: UnsafeRawPointer, _ y: UnsafeMutableRawPointer, _ g: ConvolutionGeometry,
                        accumulate: Bool, kernel: ConvolutionKernel) {
        let (xf, wf, yf) = (x.assumingMemoryBound(to: Float.self), w.assumingMemoryBound(to: Float.self), y.assumingMemoryBound(to: Float.self))
        parallelRanges(g.batch, minimumPerThread: minimumImagesPerThread) { images in
            lk_conv2d_forward_f32(kernel.code, xf, wf, yf, images.lowerBound, images.upperBound, g.channels, g.height, g.width,
                                  g.outputChannels, g.kernelHeight, g.kernelWidth, g.padding, accumulate ? 1 : 0)
        }
    }

    /// `dw += conv2dBackwardFilter(x, g)` (Float, stride 1): each thread sums its images into its
    /// own partial `[O, C, kH, kW]`, added in thread order.
    @usableFromInline
    static func filterGradient(_ x: UnsafeRawPointer, _ cotangent: UnsafeRawPointer, _ dw: UnsafeMutableRawPointer, _ g: ConvolutionGeometry,
                               kernel: ConvolutionKernel) {
        let (xf, gf, dwf) = (x.assumingMemoryBound(to: Float.self), cotangent.assumingMemoryBound(to: Float.self), dw.assumingMemoryBound(to: Float.self))
        let count = g.outputChannels * g.patchSize
        let threads = min(ParallelLoop.threadCount, max(1, g.batch / minimumImagesPerThread))
        if threads == 1 {
            lk_conv2d_filter_f32(kernel.code, xf, gf, dwf, 0, g.batch, g.channels, g.height, g.width,
                                 g.outputChannels, g.kernelHeight, g.kernelWidth, g.padding)
            return
        }
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: threads * count)
        defer { partials.deallocate() }
        partials.initialize(repeating: 0, count: threads * count)
        parallelRanges(threads, minimumPerThread: 1) { ts in
            for t in ts {
                lk_conv2d_filter_f32(kernel.code, xf, gf, partials + t * count, g.batch * t / threads, g.batch * (t + 1) / threads,
                                     g.channels, g.height, g.width, g.outputChannels, g.kernelHeight, g.kernelWidth, g.padding)
            }
        }
        for t in 0..<threads { for i in 0..<count { dwf[i] += partials[t * count + i] } }
    }
}

// MARK: - Forward-mode rules with shared work

extension Tensor {
    /// The tangent of `conv2d` at `(x, w)` along `(ẋ, ẇ)`: `conv2d(ẋ, w) + conv2d(x, ẇ)`, `nil`
    /// tangents exact zeros (`nil` when both are). One pass over the tiles, both GEMMs
    /// accumulating into one result, so the sum costs nothing.
    @inlinable
    public static func conv2dTangent(_ x: Tensor, _ ẋ: Tensor?, _ w: Tensor, _ ẇ: Tensor?, stride: Int, padding: Int) -> Tensor? {
        precondition((ẋ?.shape ?? x.shape) == x.shape && (ẇ?.shape ?? w.shape) == w.shape,
                     "conv2dTangent: tangents \(ẋ?.shape ?? []), \(ẇ?.shape ?? []) do not match \(x.shape), \(w.shape)")
        let terms = [ẋ.map { (input: $0, filter: w) }, ẇ.map { (input: x, filter: $0) }].compactMap { $0 }
        return terms.isEmpty ? nil : conv2dSum(terms, stride: stride, padding: padding)
    }

    /// The tangent of `conv2dBackwardInput` at `(g, w)` along `(ġ, ẇ)`: `col2im(Wᵀ ġ + Ẇᵀ g)`,
    /// one fold per tile for both terms.
    @inlinable
    public static func conv2dBackwardInputTangent(_ g: Tensor, _ ġ: Tensor?, _ w: Tensor, _ ẇ: Tensor?,
                                                  inputShape: [Int], stride: Int, padding: Int) -> Tensor? {
        precondition((ġ?.shape ?? g.shape) == g.shape && (ẇ?.shape ?? w.shape) == w.shape,
                     "conv2dBackwardInputTangent: tangents \(ġ?.shape ?? []), \(ẇ?.shape ?? []) do not match \(g.shape), \(w.shape)")
        let terms = [ġ.map { (cotangent: $0, filter: w) }, ẇ.map { (cotangent: g, filter: $0) }].compactMap { $0 }
        return terms.isEmpty ? nil : conv2dBackwardInputSum(terms, inputShape: inputShape, stride: stride, padding: padding)
    }

    /// The tangent of `conv2dBackwardFilter` at `(x, g)` along `(ẋ, ġ)`:
    /// `Σ_tiles g · im2col(ẋ)ᵀ + ġ · im2col(x)ᵀ`, both products accumulating into one result.
    @inlinable
    public static func conv2dBackwardFilterTangent(_ x: Tensor, _ ẋ: Tensor?, _ g: Tensor, _ ġ: Tensor?,
                                                   filterShape: [Int], stride: Int, padding: Int) -> Tensor? {
        precondition((ẋ?.shape ?? x.shape) == x.shape && (ġ?.shape ?? g.shape) == g.shape,
                     "conv2dBackwardFilterTangent: tangents \(ẋ?.shape ?? []), \(ġ?.shape ?? []) do not match \(x.shape), \(g.shape)")
        let terms = [ẋ.map { (input: $0, cotangent: g) }, ġ.map { (input: x, cotangent: $0) }].compactMap { $0 }
        return terms.isEmpty ? nil : conv2dBackwardFilterSum(terms, filterShape: filterShape, stride: stride, padding: padding)
    }
}

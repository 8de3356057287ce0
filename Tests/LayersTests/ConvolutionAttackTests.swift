import Dispatch
import Foundation
import Testing
import Autodiff
import Layers
import Tensors

// Review probes of the tiled convolution (ConvolutionTiles, the padded kernels and the fused
// forward-mode rules). Expected values come from the loop nests below (or `referenceConv2d` of
// CNNTests.swift) and from mathematics, never from the code under test. Seeded randomness.

/// Loop-nest adjoint of `referenceConv2d` in x: x̄[n, c, iy, ix] = Σ g[n, o, oy, ox] w[o, c, i, j].
func referenceConv2dBackwardInput(_ g: Tensor<Double>, _ w: Tensor<Double>, inputShape: [Int], stride s: Int, padding p: Int) -> Tensor<Double> {
    let (n, c, h, wd) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
    let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
    let (ho, wo) = (g.shape[2], g.shape[3])
    var dx = [Double](repeating: 0, count: n * c * h * wd)
    for b in 0..<n { for oc in 0..<o { for oy in 0..<ho { for ox in 0..<wo {
        let gv = g.scalars[((b * o + oc) * ho + oy) * wo + ox]
        for ic in 0..<c { for i in 0..<kh { for j in 0..<kw {
            let iy = oy * s - p + i, ix = ox * s - p + j
            if iy >= 0 && iy < h && ix >= 0 && ix < wd {
                dx[((b * c + ic) * h + iy) * wd + ix] += gv * w.scalars[((oc * c + ic) * kh + i) * kw + j]
            }
        } } }
    } } } }
    return Tensor(shape: inputShape, scalars: dx)
}

/// Loop-nest adjoint of `referenceConv2d` in w: w̄[o, c, i, j] = Σ g[n, o, oy, ox] x[n, c, oy·s − p + i, ox·s − p + j].
func referenceConv2dBackwardFilter(_ x: Tensor<Double>, _ g: Tensor<Double>, filterShape: [Int], stride s: Int, padding p: Int) -> Tensor<Double> {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, kh, kw) = (filterShape[0], filterShape[2], filterShape[3])
    let (ho, wo) = (g.shape[2], g.shape[3])
    var dw = [Double](repeating: 0, count: o * c * kh * kw)
    for b in 0..<n { for oc in 0..<o { for oy in 0..<ho { for ox in 0..<wo {
        let gv = g.scalars[((b * o + oc) * ho + oy) * wo + ox]
        for ic in 0..<c { for i in 0..<kh { for j in 0..<kw {
            let iy = oy * s - p + i, ix = ox * s - p + j
            if iy >= 0 && iy < h && ix >= 0 && ix < wd {
                dw[((oc * c + ic) * kh + i) * kw + j] += gv * x.scalars[((b * c + ic) * h + iy) * wd + ix]
            }
        } } }
    } } } }
    return Tensor(shape: filterShape, scalars: dw)
}

func asDouble(_ t: Tensor<Float>) -> Tensor<Double> { Tensor(shape: t.shape, scalars: t.scalars.map(Double.init)) }
func asFloat(_ t: Tensor<Double>) -> Tensor<Float> { Tensor(shape: t.shape, scalars: t.scalars.map { Float($0) }) }

/// max |a − b| / max(1, max |b|).
func relativeMaxDiff(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Double {
    precondition(a.shape == b.shape, "shapes \(a.shape) vs \(b.shape)")
    let scale = max(1, b.scalars.map(abs).max() ?? 0)
    return (zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0) / scale
}

/// One convolution: input [n, c, h, w], filter [o, c, kh, kw], stride s, padding p.
struct ConvCase: CustomStringConvertible, Sendable {
    let n, c, h, w, o, kh, kw, s, p: Int
    var input: [Int] { [n, c, h, w] }
    var filter: [Int] { [o, c, kh, kw] }
    var ho: Int { (h + 2 * p - kh) / s + 1 }
    var wo: Int { (w + 2 * p - kw) / s + 1 }
    var output: [Int] { [n, o, ho, wo] }
    /// Images per tile in ConvolutionTiles (documented rule: ~2²⁰ column elements per tile, even tiles).
    var tileSizes: [Int] {
        let per = max(c * kh * kw * ho * wo, 1), limit = max(1, (1 << 20) / per)
        let tiles = max(1, (n + limit - 1) / limit), tile = max(1, (n + tiles - 1) / tiles)
        var out: [Int] = [], n0 = 0
        while n0 < n { out.append(min(tile, n - n0)); n0 += tile }
        return out
    }
    var description: String { "x\(input) w\(filter) s\(s) p\(p) tiles \(tileSizes.count)" }
}

/// Hostile but legal geometries. Tiles are computed from C·kH·kW·Ho·Wo per image.
let attackCases: [ConvCase] = [
    ConvCase(n: 1, c: 1, h: 1, w: 1, o: 1, kh: 1, kw: 1, s: 1, p: 0),        // smallest
    ConvCase(n: 1, c: 1, h: 1, w: 1, o: 2, kh: 3, kw: 3, s: 1, p: 1),        // 1×1 image, kernel = padded size
    ConvCase(n: 2, c: 3, h: 1, w: 9, o: 2, kh: 1, kw: 3, s: 2, p: 0),        // one row, stride 2
    ConvCase(n: 3, c: 2, h: 5, w: 1, o: 2, kh: 3, kw: 1, s: 1, p: 2),        // one column, padding > kernel/2
    ConvCase(n: 2, c: 2, h: 4, w: 6, o: 3, kh: 6, kw: 8, s: 1, p: 1),        // kernel = padded size (non-square)
    ConvCase(n: 2, c: 2, h: 7, w: 5, o: 3, kh: 2, kw: 2, s: 3, p: 0),        // stride > kernel
    ConvCase(n: 2, c: 1, h: 9, w: 8, o: 2, kh: 2, kw: 3, s: 4, p: 3),        // stride > kernel, padding > kernel
    ConvCase(n: 2, c: 2, h: 3, w: 4, o: 2, kh: 2, kw: 2, s: 1, p: 4),        // padding ≫ kernel (border-only outputs)
    ConvCase(n: 1, c: 3, h: 6, w: 11, o: 4, kh: 3, kw: 5, s: 2, p: 2),       // non-square, stride 2 with padding
    ConvCase(n: 2, c: 64, h: 3, w: 3, o: 5, kh: 3, kw: 3, s: 1, p: 0),       // many channels, 1 output pixel
    ConvCase(n: 3, c: 40, h: 2, w: 2, o: 7, kh: 1, kw: 1, s: 5, p: 0),       // 1×1 kernel, stride skips pixels
    ConvCase(n: 4, c: 1, h: 10, w: 3, o: 1, kh: 4, kw: 3, s: 3, p: 1),       // rows not covered by the stride
    // Tiled: ~2²⁰/3 column elements per image → tiles of 2 (5 = 2 + 2 + 1: short last tile).
    ConvCase(n: 5, c: 1, h: 592, w: 592, o: 2, kh: 1, kw: 1, s: 1, p: 0),
    // Tiled with padding: 3 per tile, 7 = 3 + 3 + 1.
    ConvCase(n: 7, c: 2, h: 240, w: 150, o: 2, kh: 2, kw: 2, s: 1, p: 1),
    // More column elements per image than a tile holds: one image per tile (3 tiles), stride 2 + padding.
    ConvCase(n: 3, c: 3, h: 420, w: 410, o: 2, kh: 3, kw: 3, s: 2, p: 3),
    // Many tiles: 6 images per tile → 40 = 6·6 + 4 (7 tiles, the last short).
    ConvCase(n: 40, c: 4, h: 40, w: 40, o: 3, kh: 5, kw: 5, s: 1, p: 2),
    ConvCase(n: 1, c: 3, h: 5, w: 7, o: 2, kh: 3, kw: 3, s: 100, p: 2),      // stride ≫ image: one output pixel
    ConvCase(n: 2, c: 300, h: 1, w: 1, o: 3, kh: 1, kw: 1, s: 1, p: 0),      // many channels, 1×1 everything
    ConvCase(n: 2, c: 2, h: 1, w: 2, o: 2, kh: 7, kw: 8, s: 1, p: 3),        // kernel = padded size, padding > image
    ConvCase(n: 30, c: 3, h: 128, w: 96, o: 2, kh: 3, kw: 3, s: 2, p: 0),    // even tiles 10 + 10 + 10, stride 2, no padding
    ConvCase(n: 2, c: 1, h: 1024, w: 1024, o: 1, kh: 1, kw: 1, s: 1, p: 0),  // exactly 2²⁰ column elements per image
    ConvCase(n: 3, c: 1, h: 1, w: 1, o: 1, kh: 1, kw: 1, s: 1, p: 700),      // padding ≫ image: 1401×1401 output, one image per tile
]

@Suite struct ConvolutionAttackTests {
    @Test func tileSizesOfTheCasesAreAsIntended() {
        #expect(attackCases[12].tileSizes == [2, 2, 1])
        #expect(attackCases[13].tileSizes == [3, 3, 1])
        #expect(attackCases[14].tileSizes == [1, 1, 1])
        #expect(attackCases[15].tileSizes == [6, 6, 6, 6, 6, 6, 4])
        #expect(attackCases[19].tileSizes == [10, 10, 10])
        #expect(attackCases[20].tileSizes == [1, 1])
        #expect(attackCases[21].tileSizes == [1, 1, 1])
    }

    /// conv2d, both adjoints, in Double against the loop nests, element by element.
    @Test(arguments: 0..<attackCases.count) func doubleMatchesLoopNests(index: Int) throws {
        let t = attackCases[index]
        _ = try ConvolutionGeometry.checked(input: t.input, filter: t.filter, stride: t.s, padding: t.p)
        var rng = SplitMix64(seed: UInt64(7000 + index))
        let x = Tensor<Double>.randomNormal(t.input, using: &rng), w = Tensor<Double>.randomNormal(t.filter, using: &rng)
        let g = Tensor<Double>.randomNormal(t.output, using: &rng)
        let y = Tensor.conv2d(x, w, stride: t.s, padding: t.p)
        #expect(y.shape == t.output)
        #expect(relativeMaxDiff(y, referenceConv2d(x, w, stride: t.s, padding: t.p)) < 1e-12, "conv2d \(t)")
        let dx = Tensor.conv2dBackwardInput(g, w, inputShape: t.input, stride: t.s, padding: t.p)
        #expect(relativeMaxDiff(dx, referenceConv2dBackwardInput(g, w, inputShape: t.input, stride: t.s, padding: t.p)) < 1e-12, "x̄ \(t)")
        let dw = Tensor.conv2dBackwardFilter(x, g, filterShape: t.filter, stride: t.s, padding: t.p)
        #expect(relativeMaxDiff(dw, referenceConv2dBackwardFilter(x, g, filterShape: t.filter, stride: t.s, padding: t.p)) < 1e-11, "w̄ \(t)")
        // im2col · W equals the output (im2col's own layout, via the reference).
        let geo = ConvolutionGeometry(batch: t.n, channels: t.c, height: t.h, width: t.w, outputChannels: t.o,
                                      kernelHeight: t.kh, kernelWidth: t.kw, stride: t.s, padding: t.p)
        let cols = x.im2col(geo)
        let P = t.ho * t.wo
        let viaCols = Tensor.matmul(w.reshaped([t.o, t.c * t.kh * t.kw]), cols)   // [O, N·P]
        let ref = referenceConv2d(x, w, stride: t.s, padding: t.p)
        var worst = 0.0
        for b in 0..<t.n { for oc in 0..<t.o { for q in 0..<P {
            worst = max(worst, abs(viaCols.scalars[oc * t.n * P + b * P + q] - ref.scalars[(b * t.o + oc) * P + q]))
        } } }
        #expect(worst < 1e-11, "im2col \(t)")
    }

    /// The same in Float, against the Double loop nests, plus the adjoint identities.
    @Test(arguments: 0..<attackCases.count) func floatMatchesLoopNestsAndAdjoints(index: Int) {
        let t = attackCases[index]
        var rng = SplitMix64(seed: UInt64(8000 + index))
        let x = asFloat(Tensor<Double>.randomNormal(t.input, using: &rng)), w = asFloat(Tensor<Double>.randomNormal(t.filter, using: &rng))
        let g = asFloat(Tensor<Double>.randomNormal(t.output, using: &rng))
        let (xd, wd, gd) = (asDouble(x), asDouble(w), asDouble(g))
        let tol = 1e-5 * Double(max(1, t.c * t.kh * t.kw)).squareRoot()
        let y = Tensor.conv2d(x, w, stride: t.s, padding: t.p)
        #expect(relativeMaxDiff(asDouble(y), referenceConv2d(xd, wd, stride: t.s, padding: t.p)) < tol, "conv2d \(t)")
        let dx = Tensor.conv2dBackwardInput(g, w, inputShape: t.input, stride: t.s, padding: t.p)
        #expect(relativeMaxDiff(asDouble(dx), referenceConv2dBackwardInput(gd, wd, inputShape: t.input, stride: t.s, padding: t.p)) < tol, "x̄ \(t)")
        let dw = Tensor.conv2dBackwardFilter(x, g, filterShape: t.filter, stride: t.s, padding: t.p)
        let dwRef = referenceConv2dBackwardFilter(xd, gd, filterShape: t.filter, stride: t.s, padding: t.p)
        // w̄ sums N·P terms: scale the tolerance by their magnitude.
        let dwTol = 1e-6 * Double(t.n * t.ho * t.wo).squareRoot() * 10
        #expect(relativeMaxDiff(asDouble(dw), dwRef) < max(tol, dwTol), "w̄ \(t)")
        // ⟨conv(x, w), g⟩ = ⟨x, convᵀ_x(g, w)⟩ = ⟨w, convᵀ_w(x, g)⟩ (in Double from Float results).
        let lhs = asDouble(y).dot(gd), viaX = asDouble(dx).dot(xd), viaW = asDouble(dw).dot(wd)
        let magnitude = max(1, zip(referenceConv2d(xd, wd, stride: t.s, padding: t.p).scalars, gd.scalars).reduce(0) { $0 + abs($1.0 * $1.1) })
        #expect(abs(lhs - viaX) <= 1e-5 * magnitude, "⟨x, x̄⟩ \(t)")
        #expect(abs(lhs - viaW) <= 1e-5 * magnitude, "⟨w, w̄⟩ \(t)")
    }

    /// The three fused forward-mode rules with every pattern of nil tangents, against the
    /// two-term definitions from the loop nests.
    @Test(arguments: 0..<attackCases.count) func fusedRulesWithEveryNilPattern(index: Int) throws {
        let t = attackCases[index]
        var rng = SplitMix64(seed: UInt64(9000 + index))
        let x = Tensor<Double>.randomNormal(t.input, using: &rng), ẋ = Tensor<Double>.randomNormal(t.input, using: &rng)
        let w = Tensor<Double>.randomNormal(t.filter, using: &rng), ẇ = Tensor<Double>.randomNormal(t.filter, using: &rng)
        let g = Tensor<Double>.randomNormal(t.output, using: &rng), ġ = Tensor<Double>.randomNormal(t.output, using: &rng)
        let (s, p) = (t.s, t.p)
        let conv = { (a: Tensor<Double>, b: Tensor<Double>) in referenceConv2d(a, b, stride: s, padding: p) }
        let bi = { (a: Tensor<Double>, b: Tensor<Double>) in referenceConv2dBackwardInput(a, b, inputShape: t.input, stride: s, padding: p) }
        let bf = { (a: Tensor<Double>, b: Tensor<Double>) in referenceConv2dBackwardFilter(a, b, filterShape: t.filter, stride: s, padding: p) }

        #expect(Tensor.conv2dTangent(x, nil, w, nil, stride: s, padding: p) == nil)
        #expect(relativeMaxDiff(try #require(Tensor.conv2dTangent(x, ẋ, w, nil, stride: s, padding: p)), conv(ẋ, w)) < 1e-11, "\(t)")
        #expect(relativeMaxDiff(try #require(Tensor.conv2dTangent(x, nil, w, ẇ, stride: s, padding: p)), conv(x, ẇ)) < 1e-11, "\(t)")
        #expect(relativeMaxDiff(try #require(Tensor.conv2dTangent(x, ẋ, w, ẇ, stride: s, padding: p)), conv(ẋ, w) + conv(x, ẇ)) < 1e-11, "\(t)")

        let shape = t.input
        #expect(Tensor.conv2dBackwardInputTangent(g, nil, w, nil, inputShape: shape, stride: s, padding: p) == nil)
        #expect(relativeMaxDiff(try #require(Tensor.conv2dBackwardInputTangent(g, ġ, w, nil, inputShape: shape, stride: s, padding: p)), bi(ġ, w)) < 1e-11, "\(t)")
        #expect(relativeMaxDiff(try #require(Tensor.conv2dBackwardInputTangent(g, nil, w, ẇ, inputShape: shape, stride: s, padding: p)), bi(g, ẇ)) < 1e-11, "\(t)")
        #expect(relativeMaxDiff(try #require(Tensor.conv2dBackwardInputTangent(g, ġ, w, ẇ, inputShape: shape, stride: s, padding: p)), bi(ġ, w) + bi(g, ẇ)) < 1e-11, "\(t)")

        let fs = t.filter
        #expect(Tensor.conv2dBackwardFilterTangent(x, nil, g, nil, filterShape: fs, stride: s, padding: p) == nil)
        #expect(relativeMaxDiff(try #require(Tensor.conv2dBackwardFilterTangent(x, ẋ, g, nil, filterShape: fs, stride: s, padding: p)), bf(ẋ, g)) < 1e-11, "\(t)")
        #expect(relativeMaxDiff(try #require(Tensor.conv2dBackwardFilterTangent(x, nil, g, ġ, filterShape: fs, stride: s, padding: p)), bf(x, ġ)) < 1e-11, "\(t)")
        #expect(relativeMaxDiff(try #require(Tensor.conv2dBackwardFilterTangent(x, ẋ, g, ġ, filterShape: fs, stride: s, padding: p)), bf(ẋ, g) + bf(x, ġ)) < 1e-11, "\(t)")
    }

    /// Float fused rules on the tiled cases (the stacked columns `columns + offset` and the
    /// second GEMM operand at `outputs + O·tile·P`).
    @Test(arguments: [12, 13, 14, 15]) func floatFusedRulesOnTiledCases(index: Int) throws {
        let t = attackCases[index]
        var rng = SplitMix64(seed: UInt64(9500 + index))
        let (s, p) = (t.s, t.p)
        let xd = Tensor<Double>.randomNormal(t.input, using: &rng), ẋd = Tensor<Double>.randomNormal(t.input, using: &rng)
        let wd = Tensor<Double>.randomNormal(t.filter, using: &rng), ẇd = Tensor<Double>.randomNormal(t.filter, using: &rng)
        let gd = Tensor<Double>.randomNormal(t.output, using: &rng), ġd = Tensor<Double>.randomNormal(t.output, using: &rng)
        let (x, ẋ, w, ẇ, g, ġ) = (asFloat(xd), asFloat(ẋd), asFloat(wd), asFloat(ẇd), asFloat(gd), asFloat(ġd))
        let (xr, ẋr, wr, ẇr, gr, ġr) = (asDouble(x), asDouble(ẋ), asDouble(w), asDouble(ẇ), asDouble(g), asDouble(ġ))
        let ct = try #require(Tensor.conv2dTangent(x, ẋ, w, ẇ, stride: s, padding: p))
        let ctRef = referenceConv2d(ẋr, wr, stride: s, padding: p) + referenceConv2d(xr, ẇr, stride: s, padding: p)
        #expect(relativeMaxDiff(asDouble(ct), ctRef) < 1e-4, "\(t)")
        let bt = try #require(Tensor.conv2dBackwardInputTangent(g, ġ, w, ẇ, inputShape: t.input, stride: s, padding: p))
        let btRef = referenceConv2dBackwardInput(ġr, wr, inputShape: t.input, stride: s, padding: p)
            + referenceConv2dBackwardInput(gr, ẇr, inputShape: t.input, stride: s, padding: p)
        #expect(relativeMaxDiff(asDouble(bt), btRef) < 1e-4, "\(t)")
        let ft = try #require(Tensor.conv2dBackwardFilterTangent(x, ẋ, g, ġ, filterShape: t.filter, stride: s, padding: p))
        let ftRef = referenceConv2dBackwardFilter(ẋr, gr, filterShape: t.filter, stride: s, padding: p)
            + referenceConv2dBackwardFilter(xr, ġr, filterShape: t.filter, stride: s, padding: p)
        #expect(relativeMaxDiff(asDouble(ft), ftRef) < 1e-3, "\(t)")
    }

    /// Dual and Linearized carriers go through `bilinear(…, tangent:, …)`: each nil pattern of
    /// the three convolutions against the loop nests, at a tiled geometry with a short last tile.
    @Test(arguments: [7, 8, 13]) func dualAndLinearizedCarriersOfTheThreeConvolutions(index: Int) throws {
        let t = attackCases[index]
        var rng = SplitMix64(seed: UInt64(9700 + index))
        let (s, p) = (t.s, t.p)
        let x = Tensor<Double>.randomNormal(t.input, using: &rng), ẋ = Tensor<Double>.randomNormal(t.input, using: &rng)
        let w = Tensor<Double>.randomNormal(t.filter, using: &rng), ẇ = Tensor<Double>.randomNormal(t.filter, using: &rng)
        let g = Tensor<Double>.randomNormal(t.output, using: &rng), ġ = Tensor<Double>.randomNormal(t.output, using: &rng)
        let conv = { (a: Tensor<Double>, b: Tensor<Double>) in referenceConv2d(a, b, stride: s, padding: p) }
        let bi = { (a: Tensor<Double>, b: Tensor<Double>) in referenceConv2dBackwardInput(a, b, inputShape: t.input, stride: s, padding: p) }
        let bf = { (a: Tensor<Double>, b: Tensor<Double>) in referenceConv2dBackwardFilter(a, b, filterShape: t.filter, stride: s, padding: p) }
        for (ta, tb) in [(true, true), (true, false), (false, true), (false, false)] {
            let label = "\(t) tangents \(ta) \(tb)"
            // Dual
            let y = Dual.conv2d(Dual(primal: x, tangent: ta ? ẋ : nil), Dual(primal: w, tangent: tb ? ẇ : nil), stride: s, padding: p)
            #expect(relativeMaxDiff(y.primal, conv(x, w)) < 1e-12, "\(label)")
            let yExpected: Tensor<Double>? = ta && tb ? conv(ẋ, w) + conv(x, ẇ) : ta ? conv(ẋ, w) : tb ? conv(x, ẇ) : nil
            #expect((y.tangent == nil) == (yExpected == nil), "\(label)")
            if let yt = y.tangent, let e = yExpected { #expect(relativeMaxDiff(yt, e) < 1e-11, "\(label)") }

            let dx = Dual.conv2dBackwardInput(Dual(primal: g, tangent: ta ? ġ : nil), Dual(primal: w, tangent: tb ? ẇ : nil),
                                              inputShape: t.input, stride: s, padding: p)
            #expect(relativeMaxDiff(dx.primal, bi(g, w)) < 1e-12, "\(label)")
            let dxExpected: Tensor<Double>? = ta && tb ? bi(ġ, w) + bi(g, ẇ) : ta ? bi(ġ, w) : tb ? bi(g, ẇ) : nil
            #expect((dx.tangent == nil) == (dxExpected == nil), "\(label)")
            if let a = dx.tangent, let e = dxExpected { #expect(relativeMaxDiff(a, e) < 1e-11, "\(label)") }

            let dw = Dual.conv2dBackwardFilter(Dual(primal: x, tangent: ta ? ẋ : nil), Dual(primal: g, tangent: tb ? ġ : nil),
                                               filterShape: t.filter, stride: s, padding: p)
            #expect(relativeMaxDiff(dw.primal, bf(x, g)) < 1e-11, "\(label)")
            let dwExpected: Tensor<Double>? = ta && tb ? bf(ẋ, g) + bf(x, ġ) : ta ? bf(ẋ, g) : tb ? bf(x, ġ) : nil
            #expect((dw.tangent == nil) == (dwExpected == nil), "\(label)")
            if let a = dw.tangent, let e = dwExpected { #expect(relativeMaxDiff(a, e) < 1e-11, "\(label)") }

            // Linearized: record, then replay with the same operations; the tangents must still
            // be the ones of the replay's inputs.
            let record = PrimalRecord<Tensor<Double>>()
            let l1 = Linearized.conv2d(Linearized(primal: x, tangent: ta ? ẋ : nil, record: record),
                                       Linearized(primal: w, tangent: tb ? ẇ : nil, record: record), stride: s, padding: p)
            #expect(relativeMaxDiff(l1.primal, conv(x, w)) < 1e-12, "\(label)")
            #expect((l1.tangent == nil) == (yExpected == nil), "\(label)")
            if let a = l1.tangent, let e = yExpected { #expect(relativeMaxDiff(a, e) < 1e-11, "\(label)") }
            let l2 = Linearized.conv2dBackwardInput(Linearized(primal: g, tangent: ta ? ġ : nil, record: record),
                                                    Linearized(primal: w, tangent: tb ? ẇ : nil), inputShape: t.input, stride: s, padding: p)
            if let a = l2.tangent, let e = dxExpected { #expect(relativeMaxDiff(a, e) < 1e-11, "\(label)") } else { #expect((l2.tangent == nil) == (dxExpected == nil), "\(label)") }
            let l3 = Linearized.conv2dBackwardFilter(Linearized(primal: x, tangent: ta ? ẋ : nil),
                                                     Linearized(primal: g, tangent: tb ? ġ : nil, record: record), filterShape: t.filter, stride: s, padding: p)
            if let a = l3.tangent, let e = dwExpected { #expect(relativeMaxDiff(a, e) < 1e-11, "\(label)") } else { #expect((l3.tangent == nil) == (dwExpected == nil), "\(label)") }
        }
    }

    /// No shared state: many convolution calls at once (different shapes and inputs, tiled and
    /// not, Float and Double) equal the loop nests computed beforehand.
    @Test func concurrentCallsDoNotInterfere() {
        let picks = [2, 5, 8, 9, 11, 13, 15, 6]
        struct Job: @unchecked Sendable {
            let t: ConvCase; let x, w, g, ẋ: Tensor<Double>
            let y, dx, dw, yt: Tensor<Double>
        }
        let jobs: [Job] = picks.enumerated().map { k, i in
            let t = attackCases[i]
            var rng = SplitMix64(seed: UInt64(11_000 + k))
            let x = Tensor<Double>.randomNormal(t.input, using: &rng), w = Tensor<Double>.randomNormal(t.filter, using: &rng)
            let g = Tensor<Double>.randomNormal(t.output, using: &rng), ẋ = Tensor<Double>.randomNormal(t.input, using: &rng)
            return Job(t: t, x: x, w: w, g: g, ẋ: ẋ,
                       y: referenceConv2d(x, w, stride: t.s, padding: t.p),
                       dx: referenceConv2dBackwardInput(g, w, inputShape: t.input, stride: t.s, padding: t.p),
                       dw: referenceConv2dBackwardFilter(x, g, filterShape: t.filter, stride: t.s, padding: t.p),
                       yt: referenceConv2d(ẋ, w, stride: t.s, padding: t.p) + referenceConv2d(x, w, stride: t.s, padding: t.p))
        }
        let errors = UnsafeMutableBufferPointer<Double>.allocate(capacity: jobs.count * 4 * 3)
        defer { errors.deallocate() }
        let box = UncheckedBox(errors)
        DispatchQueue.concurrentPerform(iterations: jobs.count * 3) { it in
            let j = jobs[it % jobs.count], t = j.t, rep = it / jobs.count
            let y = Tensor.conv2d(j.x, j.w, stride: t.s, padding: t.p)
            let dx = Tensor.conv2dBackwardInput(j.g, j.w, inputShape: t.input, stride: t.s, padding: t.p)
            let dw = Tensor.conv2dBackwardFilter(j.x, j.g, filterShape: t.filter, stride: t.s, padding: t.p)
            let yt = Tensor.conv2dTangent(j.x, j.ẋ, j.w, j.w, stride: t.s, padding: t.p)!
            let base = ((it % jobs.count) * 3 + rep) * 4
            box.value[base] = relativeMaxDiff(y, j.y)
            box.value[base + 1] = relativeMaxDiff(dx, j.dx)
            box.value[base + 2] = relativeMaxDiff(dw, j.dw)
            box.value[base + 3] = relativeMaxDiff(yt, j.yt)
        }
        for (i, e) in errors.enumerated() { #expect(e < 1e-10, "job \(i / 12) (\(jobs[i / 12].t)), op \(i % 4): \(e)") }
    }

    /// Batch 0: empty outputs and a zero filter gradient, in every entry point.
    @Test func emptyBatch() throws {
        let x = Tensor<Double>.zeros([0, 2, 5, 5]), w = Tensor<Double>(shape: [3, 2, 3, 3], scalars: (0..<54).map(Double.init))
        let y = Tensor.conv2d(x, w, stride: 1, padding: 1)
        #expect(y.shape == [0, 3, 5, 5])
        let dx = Tensor.conv2dBackwardInput(y, w, inputShape: x.shape, stride: 1, padding: 1)
        #expect(dx.shape == x.shape)
        let dw = Tensor.conv2dBackwardFilter(x, y, filterShape: w.shape, stride: 1, padding: 1)
        #expect(dw.shape == w.shape && dw.scalars.allSatisfy { $0 == 0 })
        let ft = try #require(Tensor.conv2dBackwardFilterTangent(x, x, y, y, filterShape: w.shape, stride: 1, padding: 1))
        #expect(ft.shape == w.shape && ft.scalars.allSatisfy { $0 == 0 })
        #expect(try #require(Tensor.conv2dTangent(x, x, w, w, stride: 1, padding: 1)).shape == [0, 3, 5, 5])
    }

    /// Zero input channels pass `ConvolutionGeometry.checked` ([N, 0, H, W] with an [O, 0, k, k]
    /// filter): the output is an empty sum, 0, although the tiled code calls GEMM with K = 0.
    @Test func zeroInputChannelsGiveZeros() {
        // Dirty the allocator so that uninitialized memory is unlikely to be zero.
        for _ in 0..<4 { _ = Tensor<Double>(repeating: 123.25, shape: [3, 4, 6, 6]).scalars.count }
        let x = Tensor<Double>.zeros([3, 0, 6, 6]), w = Tensor<Double>.zeros([4, 0, 3, 3])
        let y = Tensor.conv2d(x, w, stride: 1, padding: 0)
        #expect(y.shape == [3, 4, 4, 4])
        #expect(y.scalars.allSatisfy { $0 == 0 }, "conv2d with 0 channels: \(Array(y.scalars.prefix(4)))")
        let yt = Tensor.conv2dTangent(x, x, w, w, stride: 1, padding: 0)
        #expect(yt?.scalars.allSatisfy { $0 == 0 } ?? false, "conv2dTangent with 0 channels: \(Array((yt?.scalars ?? []).prefix(4)))")
    }

    /// Zero output channels: x̄ is an empty sum, 0 (GEMM with k = O = 0, β = 0).
    @Test func zeroOutputChannelsGiveZeroInputGradient() {
        for _ in 0..<4 { _ = Tensor<Double>(repeating: 77.5, shape: [2, 3, 5, 5]).scalars.count }
        let w = Tensor<Double>.zeros([0, 3, 3, 3]), g = Tensor<Double>.zeros([2, 0, 5, 5])
        let dx = Tensor.conv2dBackwardInput(g, w, inputShape: [2, 3, 5, 5], stride: 1, padding: 1)
        #expect(dx.scalars.allSatisfy { $0 == 0 }, "x̄ with 0 output channels: \(Array(dx.scalars.prefix(4)))")
    }
}

struct UncheckedBox<T>: @unchecked Sendable { let value: T; init(_ v: T) { value = v } }

/// Second-order derivatives of small CNNs with hostile stage geometries, against finite
/// differences and each other.
@Suite struct CNNAttackTests {
    /// (height, width, channels, kernel, padding, batch)
    static let models: [(h: Int, w: Int, ch: [Int], k: Int, p: Int, n: Int)] = [
        (4, 12, [2, 3], 3, 1, 1),        // non-square, batch 1
        (6, 6, [2, 2], 5, 3, 2),         // padding > kernel/2
        (4, 4, [3], 5, 1, 3),            // kernel = padded size − 1 (2×2 output)
        (2, 2, [2], 1, 0, 2),            // 1×1 kernels
        (48, 48, [2], 5, 2, 27),         // conv1 tiles: 18 images per tile at most → 27 = 14 + 13
    ]

    static func loss(_ i: Int) throws -> (ModelLoss<CNN, Double>, Tensor<Double>) {
        let m = models[i]
        let model = try CNN(inputChannels: 1, height: m.h, width: m.w, channels: m.ch, kernelSize: m.k, padding: m.p, hiddenSize: 3, classCount: 3)
        var rng = SplitMix64(seed: UInt64(300 + i))
        let x = Tensor<Double>.randomNormal([m.n, m.h * m.w], using: &rng)
        let labels = (0..<m.n).map { _ in rng.next(below: 3) }
        return (try model.loss(on: x, labels: labels), model.initialParameters(Double.self, seed: UInt64(i + 1)).scaled(by: 2))
    }

    @Test(arguments: 0..<models.count) func gradientAndHVPAgainstFiniteDifferences(index: Int) throws {
        let (f, θ) = try Self.loss(index)
        let gc = try checkGradient(of: f, at: θ, components: 40, seed: 3)
        #expect(gc.worstRelativeError <= 1e-6, "model \(Self.models[index]): \(gc)")
        let hc = try checkHessianVectorProduct(of: f, at: θ, seed: 5)
        #expect(hc.worstRelativeError <= 1e-5, "model \(Self.models[index]): \(hc)")
    }

    /// vᵀHv three ways: reverse-over-forward HVP, forward-over-forward, and Taylor (2·c₂); and the
    /// first Taylor coefficient is the JVP.
    @Test(arguments: 0..<models.count) func hvpForwardOverForwardAndTaylorAgree(index: Int) throws {
        let (f, θ) = try Self.loss(index)
        var rng = SplitMix64(seed: UInt64(600 + index))
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let (value, grad, hv) = try valueGradientAndHVP(of: f, at: θ, along: v)
        let vHv = v.dot(hv)
        let fof = try bilinearHessian(of: f, at: θ, v, v)
        #expect(abs(fof - vHv) <= 1e-9 * max(1, abs(vHv)), "model \(Self.models[index]): \(fof) vs \(vHv)")
        let c = try taylorCoefficients(of: f, at: θ, along: v, order: 2)
        #expect(abs(c[0] - value) <= 1e-12 * max(1, abs(value)))
        #expect(abs(c[1] - grad.dot(v)) <= 1e-9 * max(1, abs(c[1])), "model \(Self.models[index])")
        #expect(abs(2 * c[2] - vHv) <= 1e-8 * max(1, abs(vHv)), "model \(Self.models[index]): 2c₂ \(2 * c[2]) vs \(vHv)")
        let (_, jv) = try jvp(of: f, at: θ, along: v)
        #expect(abs(jv - grad.dot(v)) <= 1e-10 * max(1, abs(jv)))
    }
}

import Foundation
import Testing
import Autodiff
import Layers
import Tensors

// What each layer computes, against loop-nest references written from the definitions
// (PyTorch's conventions) on one sample at a time: the registry tests check that the number
// systems agree with each other and with finite differences; these check the function itself.

/// One sample `[C, H, W]` as nested arrays, indexed [c][y][x].
typealias Image = [[[Double]]]

func image(_ flat: ArraySlice<Double>, _ c: Int, _ h: Int, _ w: Int) -> Image {
    let a = Array(flat)
    return (0..<c).map { ci in (0..<h).map { y in (0..<w).map { x in a[(ci * h + y) * w + x] } } }
}

/// Cross-correlation of one sample with zero padding (PyTorch `conv2d`), plus the bias.
func referenceConvolution(_ x: Image, weight: [Double], bias: [Double], out: Int, kernel k: Int, stride s: Int, padding p: Int) -> Image {
    let (c, h, w) = (x.count, x[0].count, x[0][0].count)
    let ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1
    return (0..<out).map { o in (0..<ho).map { oy in (0..<wo).map { ox in
        var acc = bias[o]
        for ci in 0..<c { for i in 0..<k { for j in 0..<k {
            let y = oy * s - p + i, xx = ox * s - p + j
            if y >= 0 && y < h && xx >= 0 && xx < w { acc += x[ci][y][xx] * weight[((o * c + ci) * k + i) * k + j] }
        } } }
        return acc
    } } }
}

/// `x Wᵀ + b` for one row.
func referenceLinear(_ x: [Double], weight: [Double], bias: [Double]) -> [Double] {
    bias.indices.map { o in bias[o] + x.indices.reduce(0) { $0 + x[$1] * weight[o * x.count + $1] } }
}

/// (x − mean)/√(var + 1e-5)·w + b over all of `x` (biased variance).
func referenceNormalize(_ x: [Double], weight: [Double], bias: [Double]) -> [Double] {
    let mean = x.reduce(0, +) / Double(x.count)
    let variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count)
    return x.indices.map { (x[$0] - mean) / (variance + 1e-5).squareRoot() * weight[$0] + bias[$0] }
}

struct SemanticsCase {
    let model: SpecModel
    let θ: Tensor<Double>
    let x: Tensor<Double>
    let logits: [[Double]]

    init(_ layers: [LayerSpec], input: [Int], rows: Int = 3, seed: UInt64 = 31, configure: (SpecModel) throws -> SpecModel = { $0 }) throws {
        let base = try ModelSpec(name: "case", input: input, layers: layers).make()
        var rng = SplitMix64(seed: seed)
        var θ = base.initialParameters(Double.self, seed: seed)
        θ.addScaled(Tensor.randomNormal([θ.count], using: &rng), 0.3)
        let x = Tensor<Double>.randomNormal([rows, base.inputSize], using: &rng)
        model = try configure(base)
        self.θ = θ; self.x = x
        let z: Tensor<Double> = model.logits(try model.layout.split(θ), input: x)
        let k = z.shape[1]
        logits = (0..<rows).map { Array(z.scalars[($0 * k)..<(($0 + 1) * k)]) }
    }

    /// The parameter named `name`, flat.
    func p(_ name: String) -> [Double] { Array(θ.scalars[model.layout.entry(named: name)!.range]) }
    /// Sample `i`'s input, flat.
    func sample(_ i: Int) -> ArraySlice<Double> { x.scalars[(i * model.inputSize)..<((i + 1) * model.inputSize)] }

    func expect(_ reference: [[Double]], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let diff = zip(logits.joined(), reference.joined()).map { abs($0 - $1) }.max() ?? .infinity
        #expect(logits.joined().count == reference.joined().count && diff <= 1e-12, "\(what): differs by \(diff)", sourceLocation: sourceLocation)
    }
}

@Suite struct LayerSemanticsTests {
    @Test func poolsAndGELU() throws {
        let avg = try SemanticsCase([.avgPool(kernel: 2), .flatten], input: [2, 4, 5])
        avg.expect((0..<3).map { i in
            let im = image(avg.sample(i), 2, 4, 5)
            var out: [Double] = []
            for c in 0..<2 { for oy in 0..<2 { for ox in 0..<2 {
                let top: Double = im[c][2 * oy][2 * ox] + im[c][2 * oy][2 * ox + 1]
                let bottom: Double = im[c][2 * oy + 1][2 * ox] + im[c][2 * oy + 1][2 * ox + 1]
                out.append((top + bottom) / 4)
            } } }
            return out
        }, "avgPool(2) of [2, 4, 5] (floor: the last column dropped)")
        let global = try SemanticsCase([.globalAvgPool], input: [3, 3, 4])
        global.expect((0..<3).map { i in image(global.sample(i), 3, 3, 4).map { $0.joined().reduce(0, +) / 12 } }, "globalAvgPool")
        let gelu = try SemanticsCase([.gelu], input: [5])
        gelu.expect((0..<3).map { i in gelu.sample(i).map { $0 / 2 * (1 + erf($0 / 2.squareRoot())) } }, "GELU")
    }

    @Test func normalizations() throws {
        let features = try SemanticsCase([.layerNorm], input: [6])
        features.expect((0..<3).map { referenceNormalize(Array(features.sample($0)), weight: features.p("ln1.weight"), bias: features.p("ln1.bias")) },
                        "layerNorm over [6]")
        let im = try SemanticsCase([.layerNorm, .flatten], input: [2, 3, 3])
        im.expect((0..<3).map { referenceNormalize(Array(im.sample($0)), weight: im.p("ln1.weight"), bias: im.p("ln1.bias")) }, "layerNorm over [2, 3, 3]")

        // BatchNorm2d in train mode: per channel over the 3 samples and 2 × 2 positions.
        let bn = try SemanticsCase([.batchNorm, .flatten], input: [2, 2, 2], configure: { $0.training(seed: 0) })
        let w = bn.p("bn1.weight"), b = bn.p("bn1.bias")
        var expected = [[Double]](repeating: [Double](repeating: 0, count: 8), count: 3)
        for c in 0..<2 {
            let values = (0..<3).flatMap { i in (0..<4).map { bn.sample(i)[bn.sample(i).startIndex + c * 4 + $0] } }
            let normalized = referenceNormalize(values, weight: Array(repeating: w[c], count: 12), bias: Array(repeating: b[c], count: 12))
            for i in 0..<3 { for j in 0..<4 { expected[i][c * 4 + j] = normalized[i * 4 + j] } }
        }
        bn.expect(expected, "BatchNorm2d, train mode")

        // Eval mode with given statistics: (x − μ)/√(σ² + ε)·w + b per feature.
        let stats = (mean: Tensor<Double>([0.5, -1, 2]), variance: Tensor<Double>([4, 0.25, 1]))
        let eval = try SemanticsCase([.batchNorm], input: [3], configure: { m in var m = m; m.statistics["bn1"] = stats; return m })
        let we = eval.p("bn1.weight"), be = eval.p("bn1.bias")
        eval.expect((0..<3).map { i in (0..<3).map { f in
            (eval.sample(i)[eval.sample(i).startIndex + f] - stats.mean.scalars[f]) / (stats.variance.scalars[f] + 1e-5).squareRoot() * we[f] + be[f]
        } }, "BatchNorm1d, eval mode")
    }

    @Test func residualWithStridedProjection() throws {
        let r = try SemanticsCase([.residual(body: [.conv2d(out: 3, kernel: 3, stride: 2, padding: 1), .tanh], projection: true), .flatten], input: [2, 5, 5])
        #expect(r.model.layout.entry(named: "res1.proj.weight")?.shape == [3, 2, 1, 1])
        r.expect((0..<3).map { i in
            let x = image(r.sample(i), 2, 5, 5)
            let body = referenceConvolution(x, weight: r.p("conv1.weight"), bias: r.p("conv1.bias"), out: 3, kernel: 3, stride: 2, padding: 1)
            let proj = referenceConvolution(x, weight: r.p("res1.proj.weight"), bias: r.p("res1.proj.bias"), out: 3, kernel: 1, stride: 2, padding: 0)
            return (0..<3).flatMap { c in (0..<3).flatMap { y in (0..<3).map { xx in proj[c][y][xx] + Foundation.tanh(body[c][y][xx]) } } }
        }, "x ↦ P x + tanh(conv(x))")
    }

    /// Patch tokens (row-major patch order) plus position embedding, one pre-norm encoder block,
    /// final LayerNorm per token, mean over tokens.
    @Test func patchEmbeddingTransformerBlockAndTokenMean() throws {
        let (dim, heads, hidden) = (4, 2, 6)
        let t = try SemanticsCase([.patchEmbed(patch: 2, dim: dim), .transformerBlock(heads: heads, mlp: hidden), .layerNorm, .tokenMean], input: [1, 4, 6])
        let tokens = 6, dh = dim / heads
        func linear(_ rows: [[Double]], _ name: String) -> [[Double]] { rows.map { referenceLinear($0, weight: t.p("\(name).weight"), bias: t.p("\(name).bias")) } }
        func norm(_ rows: [[Double]], _ name: String) -> [[Double]] { rows.map { referenceNormalize($0, weight: t.p("\(name).weight"), bias: t.p("\(name).bias")) } }
        let reference: [[Double]] = (0..<3).map { i in
            let conv = referenceConvolution(image(t.sample(i), 1, 4, 6), weight: t.p("patch.weight"), bias: t.p("patch.bias"), out: dim, kernel: 2, stride: 2, padding: 0)
            let position = t.p("pos_embedding")
            // Token n = patch (row n / 3, column n % 3).
            var x = (0..<tokens).map { n in (0..<dim).map { d in conv[d][n / 3][n % 3] + position[n * dim + d] } }
            let a = norm(x, "block1.norm1")
            let q = linear(a, "block1.attn.q"), k = linear(a, "block1.attn.k"), v = linear(a, "block1.attn.v")
            var attended = [[Double]](repeating: [Double](repeating: 0, count: dim), count: tokens)
            for h in 0..<heads {
                let cols = (h * dh)..<((h + 1) * dh)
                for n in 0..<tokens {
                    let scores = (0..<tokens).map { m in cols.reduce(0) { $0 + q[n][$1] * k[m][$1] } / Double(dh).squareRoot() }
                    let top = scores.max()!
                    let e = scores.map { Foundation.exp($0 - top) }, total = e.reduce(0, +)
                    for c in cols { attended[n][c] = (0..<tokens).reduce(0) { $0 + e[$1] / total * v[$1][c] } }
                }
            }
            let o = linear(attended, "block1.attn.out")
            x = x.indices.map { n in zip(x[n], o[n]).map(+) }
            let f = linear(linear(norm(x, "block1.norm2"), "block1.mlp.fc1").map { $0.map { $0 / 2 * (1 + erf($0 / 2.squareRoot())) } }, "block1.mlp.fc2")
            x = x.indices.map { n in zip(x[n], f[n]).map(+) }
            let final = norm(x, "ln1")
            return (0..<dim).map { d in final.reduce(0) { $0 + $1[d] } / Double(tokens) }
        }
        t.expect(reference, "patchEmbed → transformerBlock → layerNorm → tokenMean")
    }
}

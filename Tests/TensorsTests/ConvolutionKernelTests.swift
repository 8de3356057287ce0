import Foundation
import Tensors
import Testing

/// The direct convolution kernels (`Sources/CKernels`), every variant this CPU runs, against a
/// plain loop nest in Double: forward convolution and filter gradient, odd sizes, non-square
/// kernels, paddings 0–3, a batch that splits over threads, and NaN/∞ propagation.
@Suite struct ConvolutionKernelTests {
    /// (N, C, H, W, O, kH, kW, p); all with C·kH·kW ≤ 32, so the direct kernels run.
    static let cases: [(n: Int, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int, p: Int)] = [
        (3, 1, 28, 28, 16, 5, 5, 2),   // the CNN's conv1
        (2, 1, 7, 9, 3, 3, 3, 1), (2, 3, 8, 6, 5, 3, 2, 0), (1, 2, 9, 11, 7, 3, 5, 2),
        (4, 1, 13, 5, 6, 4, 4, 3), (9, 1, 6, 17, 1, 1, 1, 0), (1, 1, 3, 3, 9, 5, 5, 2),
    ]

    /// The variants to test: every supported one; AVX-512 (or AVX2) is skipped with a note where
    /// the CPU lacks it.
    static var kernels: [ConvolutionKernel] {
        for k in ConvolutionKernel.allCases where !k.isSupported {
            print("ConvolutionKernelTests: skipping the \(k.rawValue) variant, which this CPU does not run")
        }
        return ConvolutionKernel.supported
    }

    /// y[n, o, a, b] = Σ w[o, c, i, j]·x[n, c, a + i − p, b + j − p] over taps inside the image,
    /// and the sum of the terms' magnitudes (for the round-off bound).
    static func reference(_ x: [Double], _ w: [Double], _ t: (n: Int, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int, p: Int))
        -> (value: [Double], magnitude: [Double]) {
        let (ho, wo) = (t.h + 2 * t.p - t.kh + 1, t.w + 2 * t.p - t.kw + 1)
        var y = [Double](repeating: 0, count: t.n * t.o * ho * wo), m = y
        for n in 0..<t.n { for o in 0..<t.o { for a in 0..<ho { for b in 0..<wo {
            var s = 0.0, abs = 0.0
            for c in 0..<t.c { for i in 0..<t.kh { for j in 0..<t.kw {
                let (r, q) = (a + i - t.p, b + j - t.p)
                guard r >= 0, r < t.h, q >= 0, q < t.w else { continue }
                let term = w[((o * t.c + c) * t.kh + i) * t.kw + j] * x[((n * t.c + c) * t.h + r) * t.w + q]
                s += term; abs += Swift.abs(term)
            } } }
            y[((n * t.o + o) * ho + a) * wo + b] = s; m[((n * t.o + o) * ho + a) * wo + b] = abs
        } } } }
        return (y, m)
    }

    /// dw[o, c, i, j] = Σ_{n, a, b} g[n, o, a, b]·x[n, c, a + i − p, b + j − p] over taps inside the image.
    static func referenceFilter(_ x: [Double], _ g: [Double], _ t: (n: Int, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int, p: Int))
        -> (value: [Double], magnitude: [Double]) {
        let (ho, wo) = (t.h + 2 * t.p - t.kh + 1, t.w + 2 * t.p - t.kw + 1)
        var dw = [Double](repeating: 0, count: t.o * t.c * t.kh * t.kw), m = dw
        for o in 0..<t.o { for c in 0..<t.c { for i in 0..<t.kh { for j in 0..<t.kw {
            var s = 0.0, abs = 0.0
            for n in 0..<t.n { for a in 0..<ho { for b in 0..<wo {
                let (r, q) = (a + i - t.p, b + j - t.p)
                guard r >= 0, r < t.h, q >= 0, q < t.w else { continue }
                let term = g[((n * t.o + o) * ho + a) * wo + b] * x[((n * t.c + c) * t.h + r) * t.w + q]
                s += term; abs += Swift.abs(term)
            } } }
            dw[((o * t.c + c) * t.kh + i) * t.kw + j] = s; m[((o * t.c + c) * t.kh + i) * t.kw + j] = abs
        } } } }
        return (dw, m)
    }

    /// Float sums of `terms` products in any order are within terms·ε·Σ|products| of the exact sum
    /// (Higham, Accuracy and Stability of Numerical Algorithms, eq. 3.5 with γ_n ≈ n·u), plus the
    /// rounding of the inputs, already Float here.
    static func check(_ got: Tensor<Float>, _ expected: (value: [Double], magnitude: [Double]), terms: Int, _ label: String) {
        let eps = Double(Float.ulpOfOne)
        let mismatch = firstMismatch(got.scalars.map(Double.init), expected.value) { i in Double(terms + 2) * eps * expected.magnitude[i] + 1e-30 }
        #expect(mismatch == nil, "\(label): \(mismatch ?? "")")
    }

    @Test(arguments: 0..<cases.count) func forwardAndFilterGradientMatchTheLoopNest(index: Int) {
        let t = Self.cases[index]
        let seed = UInt64(7100 + index)
        var rng = SplitMix64(seed: seed)
        let x = Tensor<Float>.randomNormal([t.n, t.c, t.h, t.w], using: &rng)
        let w = Tensor<Float>.randomNormal([t.o, t.c, t.kh, t.kw], using: &rng)
        let (ho, wo) = (t.h + 2 * t.p - t.kh + 1, t.w + 2 * t.p - t.kw + 1)
        let g = Tensor<Float>.randomNormal([t.n, t.o, ho, wo], using: &rng)
        let (xd, wd, gd) = (x.scalars.map(Double.init), w.scalars.map(Double.init), g.scalars.map(Double.init))
        let forward = Self.reference(xd, wd, t), filter = Self.referenceFilter(xd, gd, t)
        for kernel in Self.kernels {
            #expect(kernel.runsDirectly(ConvolutionGeometry(batch: t.n, channels: t.c, height: t.h, width: t.w, outputChannels: t.o,
                                                            kernelHeight: t.kh, kernelWidth: t.kw, stride: 1, padding: t.p)))
            let y = Tensor.conv2d(x, w, stride: 1, padding: t.p, kernel: kernel)
            #expect(y.shape == [t.n, t.o, ho, wo])
            Self.check(y, forward, terms: t.c * t.kh * t.kw, "forward \(kernel), case \(t), seed \(seed)")
            let dw = Tensor.conv2dBackwardFilter(x, g, filterShape: w.shape, stride: 1, padding: t.p, kernel: kernel)
            Self.check(dw, filter, terms: t.n * ho * wo, "filter gradient \(kernel), case \(t), seed \(seed)")
        }
    }

    /// A batch of 37 images split over threads (uneven ranges, per-thread partial filter
    /// gradients) gives what the loop nest gives.
    @Test func aBatchSplitOverThreadsMatchesTheLoopNest() {
        let t = (n: 37, c: 1, h: 28, w: 28, o: 16, kh: 5, kw: 5, p: 2)
        var rng = SplitMix64(seed: 7200)
        let x = Tensor<Float>.randomNormal([t.n, 1, 28, 28], using: &rng), w = Tensor<Float>.randomNormal([16, 1, 5, 5], using: &rng)
        let g = Tensor<Float>.randomNormal([t.n, 16, 28, 28], using: &rng)
        let (xd, wd, gd) = (x.scalars.map(Double.init), w.scalars.map(Double.init), g.scalars.map(Double.init))
        for kernel in Self.kernels {
            Self.check(Tensor.conv2d(x, w, stride: 1, padding: 2, kernel: kernel), Self.reference(xd, wd, t), terms: 25, "forward \(kernel), seed 7200")
            Self.check(Tensor.conv2dBackwardFilter(x, g, filterShape: w.shape, stride: 1, padding: 2, kernel: kernel),
                       Self.referenceFilter(xd, gd, t), terms: t.n * 784, "filter gradient \(kernel), seed 7200")
        }
    }

    /// A NaN and an infinity in the input reach exactly the outputs and filter taps whose sums
    /// contain them, as in the loop nest. With p ≤ 1 the NaN in the last column is read by no
    /// output of the first kernel column (the taps `[·, ·, ·, 0]` stay finite), which the kernels'
    /// dropped columns (computed past the row's end) must not change.
    @Test(arguments: [0, 1]) func nanAndInfinityReachWhatTheLoopNestSays(padding: Int) {
        let t = (n: 2, c: 1, h: 9, w: 11, o: 3, kh: 3, kw: 3, p: padding)
        var rng = SplitMix64(seed: 7300)
        var xs = Tensor<Float>.randomNormal([t.n, 1, t.h, t.w], using: &rng).scalars
        xs[4 * t.w + (t.w - 1)] = .nan                       // image 0, row 4, last column
        xs[t.h * t.w] = .infinity                            // image 1, row 0, column 0
        let x = Tensor<Float>(shape: [t.n, 1, t.h, t.w], scalars: xs)
        let w = Tensor<Float>.randomUniform([t.o, 1, 3, 3], bound: 1, using: &rng)
        let (ho, wo) = (t.h + 2 * t.p - 2, t.w + 2 * t.p - 2)
        let g = Tensor<Float>.randomUniform([t.n, t.o, ho, wo], bound: 1, using: &rng)
        let forward = Self.reference(xs.map(Double.init), w.scalars.map(Double.init), t)
        let filter = Self.referenceFilter(xs.map(Double.init), g.scalars.map(Double.init), t)
        for kernel in Self.kernels {
            let y = Tensor.conv2d(x, w, stride: 1, padding: t.p, kernel: kernel).scalars
            let dw = Tensor.conv2dBackwardFilter(x, g, filterShape: w.shape, stride: 1, padding: t.p, kernel: kernel).scalars
            for (got, expected, name) in [(y, forward.value, "forward"), (dw, filter.value, "filter gradient")] {
                let gotClass = got.map { $0.isNaN ? "nan" : $0.isInfinite ? "\($0)" : "finite" }
                let expectedClass = expected.map { $0.isNaN ? "nan" : $0.isInfinite ? "\(Float($0))" : "finite" }
                #expect(gotClass == expectedClass, "\(name) \(kernel), padding \(padding): non-finite pattern differs")
            }
            #expect(dw.contains { $0.isFinite } && dw.contains { $0.isNaN }, "the case must mix finite and NaN taps")
        }
    }

    /// The default path (`conv2d` without a variant, and the two-term tangent that accumulates
    /// into one result) runs the selected variant and agrees with the explicit call.
    @Test func theDefaultPathRunsTheSelectedVariant() throws {
        var rng = SplitMix64(seed: 7400)
        let x = Tensor<Float>.randomNormal([5, 1, 12, 10], using: &rng), ẋ = Tensor<Float>.randomNormal([5, 1, 12, 10], using: &rng)
        let w = Tensor<Float>.randomNormal([4, 1, 5, 5], using: &rng), ẇ = Tensor<Float>.randomNormal([4, 1, 5, 5], using: &rng)
        let k = ConvolutionKernel.selected
        #expect(k.isSupported && ConvolutionKernel.coreName.contains(k.rawValue))
        #expect(Tensor.conv2d(x, w, stride: 1, padding: 2).scalars == Tensor.conv2d(x, w, stride: 1, padding: 2, kernel: k).scalars)
        let tangent = try #require(Tensor.conv2dTangent(x, ẋ, w, ẇ, stride: 1, padding: 2))
        let sum = Tensor.conv2d(ẋ, w, stride: 1, padding: 2, kernel: k) + Tensor.conv2d(x, ẇ, stride: 1, padding: 2, kernel: k)
        #expect(tangent.scalars == sum.scalars, "y = conv(ẋ, w), then y += conv(x, ẇ): the same two roundings as the sum")
    }
}

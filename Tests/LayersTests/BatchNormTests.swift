import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

/// The dense Hessian by central differences of the reverse-mode gradient, symmetrized.
func finiteDifferenceHessian<O: Objective>(of f: O, at θ: Tensor<Double>, step h: Double = 1e-5) throws -> [[Double]] where O.Scalar == Double {
    let d = θ.count
    var columns: [[Double]] = []
    for i in 0..<d {
        var plus = θ.scalars, minus = θ.scalars
        plus[i] += h; minus[i] -= h
        let gp = try gradient(of: f, at: Tensor(plus)).scalars, gm = try gradient(of: f, at: Tensor(minus)).scalars
        columns.append(zip(gp, gm).map { ($0 - $1) / (2 * h) })
    }
    return (0..<d).map { i in (0..<d).map { j in (columns[i][j] + columns[j][i]) / 2 } }
}

/// max |a_ij − b_ij| over rows `r` and columns `c`.
func blockDifference(_ a: [[Double]], _ b: [[Double]], _ r: Range<Int>, _ c: Range<Int>) -> Double {
    r.flatMap { i in c.map { j in abs(a[i][j] - b[i][j]) } }.max() ?? 0
}

@Suite struct BatchNormTests {
    static let spec = ModelSpec(name: "bn", input: [3], layers: [.linear(out: 4), .batchNorm, .tanh, .linear(out: 2)])
    static let seed: UInt64 = 77

    static func setUp() throws -> (SpecModel, Tensor<Double>, Tensor<Double>, [Int]) {
        let model = try spec.make()
        var rng = SplitMix64(seed: seed)
        var θ = model.initialParameters(Double.self, seed: seed)
        θ.addScaled(Tensor.randomNormal([θ.count], using: &rng), 0.3)
        let x = Tensor<Double>.randomNormal([6, 3], using: &rng)
        return (model, θ, x, [0, 1, 1, 0, 1, 0])
    }

    /// Train mode (batch statistics) and eval mode with the statistics set to the batch's at θ:
    /// equal losses; each dense Hessian (forward-over-reverse) matches finite differences of its
    /// gradient; the blocks of the parameters after the BatchNorm agree, those of the linear
    /// layer before it do not (in train mode the loss is even invariant to fc1.bias, which the
    /// normalization subtracts).
    @Test func trainAndEvalHessians() throws {
        let (base, θ, x, y) = try Self.setUp()
        let train = base.training(seed: 0)
        let eval = try base.withPopulationStatistics(at: θ, input: x, chunk: 4)
        #expect(train.normalization == .train && train.couplesSamples && eval.normalization == .eval && !eval.couplesSamples)
        let lt = try train.loss(on: x, labels: y), le = try eval.loss(on: x, labels: y)
        let vt = try value(of: lt, at: θ), ve = try value(of: le, at: θ)
        #expect(abs(vt - ve) <= 1e-12, "train \(vt) vs eval \(ve) (seed \(Self.seed))")
        let ht = try hessian(of: lt, at: θ), he = try hessian(of: le, at: θ)
        let d = θ.count
        let Ht = (0..<d).map { i in Array(ht.scalars[(i * d)..<((i + 1) * d)]) }, He = (0..<d).map { i in Array(he.scalars[(i * d)..<((i + 1) * d)]) }
        let ft = try finiteDifferenceHessian(of: lt, at: θ), fe = try finiteDifferenceHessian(of: le, at: θ)
        let all = 0..<d
        let fdError = max(blockDifference(Ht, ft, all, all), blockDifference(He, fe, all, all))
        let scale = Ht.flatMap { $0 }.map(abs).max()!
        #expect(fdError <= 1e-7 * scale, "AD vs FD Hessian: \(fdError) (scale \(scale))")

        let layout = base.layout
        func range(_ names: [String]) -> Range<Int> {
            let entries = names.map { layout.entry(named: $0)! }
            return entries.first!.range.lowerBound..<entries.last!.range.upperBound
        }
        let before = range(["fc1.weight", "fc1.bias"]), after = range(["bn1.weight", "bn1.bias", "fc2.weight", "fc2.bias"])
        #expect(blockDifference(Ht, He, after, after) <= 1e-12 * scale, "the blocks after the BatchNorm must agree")
        let differs = blockDifference(Ht, He, before, before)
        #expect(differs >= 1e4 * fdError && differs >= 1e-2 * scale, "fc1 blocks differ by \(differs), FD error \(fdError)")
        let bias = layout.entry(named: "fc1.bias")!.range
        #expect(blockDifference(Ht, Ht.map { $0.map { _ in 0 } }, bias, all) <= 1e-12 * scale, "train mode: fc1.bias rows vanish")
        #expect(blockDifference(He, He.map { $0.map { _ in 0 } }, bias, all) >= 1e-2 * scale, "eval mode: fc1.bias rows do not")
    }

    /// The population statistics are the mean and biased variance of each BatchNorm input over
    /// all rows, whatever the chunking, the second layer's with the first in eval mode.
    @Test func populationStatisticsLayerByLayer() throws {
        let spec = ModelSpec(name: "bn2", input: [3], layers: [.linear(out: 4), .batchNorm, .tanh, .linear(out: 3), .batchNorm, .linear(out: 2)])
        let model = try spec.make()
        var rng = SplitMix64(seed: 5)
        let θ = model.initialParameters(Double.self, seed: 5)
        let x = Tensor<Double>.randomNormal([11, 3], using: &rng).scaled(by: 3).shifted(by: 1)
        let whole = try model.withPopulationStatistics(at: θ, input: x, chunk: 0)
        let chunked = try model.withPopulationStatistics(at: θ, input: x, chunk: 4)
        for name in ["bn1", "bn2"] {
            let (a, b) = (whole.statistics[name]!, chunked.statistics[name]!)
            #expect(zip(a.mean.scalars + a.variance.scalars, b.mean.scalars + b.variance.scalars).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($0)) }, "\(name)")
        }
        // Reference: the inputs of each BatchNorm from a prefix model, moments by a two-pass loop.
        func moments(_ z: Tensor<Double>) -> ([Double], [Double]) {
            let (n, f) = (z.shape[0], z.shape[1])
            let mean = (0..<f).map { j in (0..<n).map { z.scalars[$0 * f + j] }.reduce(0, +) / Double(n) }
            let variance = (0..<f).map { j in (0..<n).map { let d = z.scalars[$0 * f + j] - mean[j]; return d * d }.reduce(0, +) / Double(n) }
            return (mean, variance)
        }
        let p = try model.layout.split(θ)
        let first = try ModelSpec(name: "p1", input: [3], layers: [.linear(out: 4)]).make()
        let (m1, v1) = moments(first.logits(Array(p[0..<2]), input: x))
        #expect(zip(m1 + v1, whole.statistics["bn1"]!.mean.scalars + whole.statistics["bn1"]!.variance.scalars).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($0)) })
        var second = try ModelSpec(name: "p2", input: [3], layers: Array(spec.layers[0..<4])).make()
        second.statistics["bn1"] = whole.statistics["bn1"]
        let (m2, v2) = moments(second.logits(Array(p[0..<6]), input: x))
        #expect(zip(m2 + v2, whole.statistics["bn2"]!.mean.scalars + whole.statistics["bn2"]!.variance.scalars).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($0)) })
    }

    @Test func evalModeWithoutStatisticsIsAnError() throws {
        let (model, θ, x, y) = try Self.setUp()
        #expect(throws: ModelError.missingStatistics(model: "bn", layers: ["bn1"])) { try model.loss(on: x, labels: y) }
        #expect(throws: ModelError.missingStatistics(model: "bn", layers: ["bn1"])) { try model.evaluate(θ, input: x, labels: y, batchSize: 2) }
        #expect(throws: Never.self) { try model.training(seed: 0).loss(on: x, labels: y) }
    }

    /// A train-mode BatchNorm loss is never split into chunks, and per-sample quantities are refused.
    @Test func coupledLossesAreNotChunked() throws {
        let (base, θ, x, y) = try Self.setUp()
        let train = base.training(seed: 0)
        var chunked = try train.loss(on: x, labels: y)
        chunked.chunkRows = 2
        #expect(try value(of: chunked, at: θ) == value(of: try train.loss(on: x, labels: y), at: θ))
        let v = Tensor<Double>(repeating: 0.1, shape: [θ.count])
        let whole = try CurvatureKind.hessian.matrix(of: train, at: θ, input: x, labels: y).apply(v)
        let inChunks = try CurvatureKind.hessian.matrix(of: train, at: θ, input: x, labels: y, chunkSize: 2).apply(v)
        #expect(whole == inChunks)
        let mean = try train.meanLoss(on: x, labels: y, chunkSize: 2)
        #expect(try mean.value(at: θ) == Double(value(of: try train.loss(on: x, labels: y), at: θ)))
        #expect(throws: ModelError.couplesSamples(model: "bn", operation: "per-sample losses")) { try train.perSampleLosses(on: x, labels: y) }
        #expect(throws: ModelError.self) { try train.perSampleExpansion(at: θ, along: v, input: x, labels: y, order: 2) }
        #expect(throws: ModelError.self) { try EmpiricalFisherOperator(model: train, at: θ, input: x, labels: y) }
        #expect(throws: ModelError.self) { try CurvatureKind.fisher.matrix(of: train, at: θ, input: x, labels: y) }
    }
}

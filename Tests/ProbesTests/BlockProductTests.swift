import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

/// k Hessian-vector products in one replay (`HessianOperator.apply(block:)` on
/// `Tracked<LinearizedSlots<Tensor>>`) against the full forward-over-reverse HVP of each vector
/// (`hessianVectorProduct`, an independent pass on `Tracked<Dual<Tensor>>`) and against the
/// linearized product of each vector alone; and Lanczos runs in lockstep against the same runs
/// one by one.
@Suite struct BlockProductTests {
    /// The Hessian of `model`'s loss on `inputs` random rows (Double) at θ₀ + 0.3·noise, applied to k = 1,
    /// 3, 8 and 11 random vectors at once (through `HessianOperator`, in replays of at most
    /// `ProbeLimits.tangentsPerPass`, and all k in one `LinearizedHessian` replay): each product
    /// within 1e-12 (relative, in norm) of the full HVP of its vector and within 1e-13 of the
    /// single linearized product. (Observed: equal to the single product bit for bit — each slot
    /// runs the same kernels on the same operands.)
    func check<M: Model>(_ model: M, inputs: Int, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var θ = model.initialParameters(Double.self, seed: seed)
        θ.addScaled(Tensor.randomNormal([θ.count], using: &rng), 0.05)
        let x = Tensor<Double>.randomUniform([inputs, model.inputSize], bound: 1, using: &rng)
        let loss = try model.loss(on: x, labels: (0..<inputs).map { ($0 * 3 + Int(seed)) % model.classCount })
        let op = try HessianOperator(of: loss, at: θ)
        for k in [1, 3, 8, 11] {
            let vs = (0..<k).map { _ in Tensor<Double>.randomNormal([θ.count], using: &rng) }
            // Split into replays of ProbeLimits.tangentsPerPass, and all k in one replay.
            for block in [try op.apply(block: vs), try op.linearization.apply(block: vs)] {
                #expect(block.count == k)
                for (j, v) in vs.enumerated() {
                    let full = try hessianVectorProduct(of: loss, at: θ, along: v), single = try op.apply(v)
                    #expect((block[j] - full).norm() <= 1e-12 * full.norm(),
                            "seed \(seed) \(model.name) k \(k) slot \(j): vs full HVP \((block[j] - full).norm() / full.norm())")
                    #expect((block[j] - single).norm() <= 1e-13 * single.norm(),
                            "seed \(seed) \(model.name) k \(k) slot \(j): vs single \((block[j] - single).norm() / single.norm())")
                }
            }
        }
        #expect(try op.apply(block: []).isEmpty)
        #expect(throws: AutodiffError.self) { try op.apply(block: [Tensor<Double>.zeros([θ.count]), Tensor<Double>.zeros([θ.count + 1])]) }
    }

    @Test(arguments: [UInt64(1), 2]) func mlp(seed: UInt64) throws { try check(MLP(sizes: [12, 6, 5, 3]), inputs: 7, seed: seed) }
    @Test(arguments: [UInt64(3), 4]) func cnn(seed: UInt64) throws {
        try check(try CNN(inputChannels: 1, height: 8, width: 8, channels: [2, 3], kernelSize: 3, padding: 1, hiddenSize: 4, classCount: 3),
                  inputs: 5, seed: seed)
    }
    /// Registry models: a residual MLP with LayerNorm and GELU, an MLP with BatchNorm in eval
    /// mode (population statistics at θ₀), and a small ViT.
    @Test(arguments: ["mlp:12-8x2-3+res+ln+gelu", "mlp:12-8-6-3+bn", "vit:patch7-dim32-depth2-heads4-mlp64"])
    func registry(form: String) throws {
        var model = try ModelSpec(parsing: form).make()
        if form.hasSuffix("+bn") {   // BatchNorm: eval mode with the statistics of some rows at θ₀
            var rng = SplitMix64(seed: 5)
            let rows = Tensor<Double>.randomUniform([6, model.inputSize], bound: 1, using: &rng)
            model = try model.withPopulationStatistics(at: model.initialParameters(Double.self, seed: 6), input: rows, chunk: 0)
            #expect(!model.couplesSamples && model.normalization == .eval)
        }
        try check(model, inputs: 3, seed: 6)
    }

    /// The CNN preset's BatchNorm variant in eval mode, on 2 images.
    @Test func cnnWithBatchNorm() throws {
        var model = try ModelSpec(parsing: "cnn:4-8/16+bn").make()
        var rng = SplitMix64(seed: 8)
        let rows = Tensor<Double>.randomUniform([4, model.inputSize], bound: 1, using: &rng)
        model = try model.withPopulationStatistics(at: model.initialParameters(Double.self, seed: 9), input: rows, chunk: 0)
        try check(model, inputs: 2, seed: 9)
    }

    /// A matrix operator that counts its products and block products.
    final class Counting: SymmetricOperator {
        let base: SymmetricMatrix<Double>
        var singles = 0, blocks: [Int] = []
        init(_ base: SymmetricMatrix<Double>) { self.base = base }
        var dimension: Int { base.dimension }
        func apply(_ v: Tensor<Double>) throws -> Tensor<Double> { singles += 1; return try base.apply(v) }
        func apply(block vectors: [Tensor<Double>]) throws -> [Tensor<Double>] { blocks.append(vectors.count); return try vectors.map(base.apply) }
    }

    /// Lockstep runs (different seeds, targets and a given start vector) equal the runs one by
    /// one (Ritz values, weights and vectors to 1e-12), and each step is one block product; a
    /// run that ends early (an invariant subspace of a matrix with 3 distinct eigenvalues, from a
    /// start vector in it) leaves the block.
    @Test(arguments: [UInt64(31), 32]) func lanczosInLockstepEqualsRunsOneByOne(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let d = 12
        let a = try SymmetricMatrix(Quadratic(spectrum: (0..<d).map { Double($0) - 4.5 }, seed: seed).a)
        let early = Tensor<Double>(shape: [d], scalars: (0..<d).map { $0 < 2 ? 1 : 0 })   // e₁ + e₂: eigenvalues 0 and 1 of the diagonal matrix below
        for (op, starts) in [(a, [LanczosStart<Double>(seed: seed), LanczosStart(seed: seed &+ 1, target: .smallestAlgebraic),
                                  LanczosStart(initialVector: Tensor.randomNormal([d], using: &rng), seed: 0, target: .largestMagnitude)]),
                             (try SymmetricMatrix(diagonal: (0..<d).map { Double($0 % 3) }), [LanczosStart(initialVector: early), LanczosStart(seed: seed)])] {
            let counting = Counting(op)
            let together = try lanczos(of: counting, starts: starts, count: 2, steps: 8)
            #expect(counting.singles == 0 && counting.blocks.count == together.map(\.steps).max())
            #expect(counting.blocks.reduce(0, +) == together.map(\.steps).reduce(0, +))
            for (start, run) in zip(starts, together) {
                let alone = try lanczos(of: op, count: 2, target: start.target, steps: 8, seed: start.seed, initialVector: start.initialVector)
                #expect(run.steps == alone.steps && zip(run.ritzValues, alone.ritzValues).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($1)) },
                        "seed \(seed): \(run.ritzValues) vs \(alone.ritzValues)")
                #expect(zip(run.quadratureWeights, alone.quadratureWeights).allSatisfy { abs($0 - $1) <= 1e-12 })
                for (p, q) in zip(run.pairs, alone.pairs) { #expect((p.vector - q.vector).norm() <= 1e-12 && p.value == q.value) }
            }
        }
    }

    /// SLQ on the Hessian of a small MLP: its runs go in lockstep (one block product per
    /// step) and give the nodes and weights of the runs one by one from the same Rademacher starts.
    @Test func slqRunsInLockstepOnTheHessian() throws {
        let model = MLP(sizes: [6, 5, 3])
        var rng = SplitMix64(seed: 40)
        let θ = model.initialParameters(Double.self, seed: 40)
        let x = Tensor<Double>.randomUniform([5, 6], bound: 1, using: &rng)
        let op = try HessianOperator(of: try model.loss(on: x, labels: [0, 1, 2, 0, 1]), at: θ)
        let density = try spectralDensity(of: op, probes: 3, steps: 10, seed: 41)
        var starts = SplitMix64(seed: 41)
        var nodes: [Double] = [], weights: [Double] = []
        for p in 0..<3 {
            let z = Tensor<Double>.randomRademacher([op.dimension], using: &starts)
            let run = try lanczos(of: op, count: 1, steps: 10, seed: 41 &+ UInt64(p), initialVector: z)
            nodes += run.ritzValues; weights += run.quadratureWeights.map { $0 / 3 }
        }
        #expect(density.nodes.count == nodes.count)
        #expect(zip(density.nodes, nodes).allSatisfy { abs($0 - $1) <= 1e-10 * max(1, abs($1)) }, "\(density.nodes) vs \(nodes)")
        #expect(zip(density.weights, weights).allSatisfy { abs($0 - $1) <= 1e-10 })
    }
}

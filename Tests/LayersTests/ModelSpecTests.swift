import Foundation
import Testing
import Autodiff
import Layers
import Optimizers
import Probes
import Tensors

/// `text` throws a ``ModelError`` whose message contains every one of `parts`.
func expectError(_ text: String, naming parts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let spec = try ModelSpec(parsing: text)
        _ = try spec.make()
        Issue.record("'\(text)' was accepted", sourceLocation: sourceLocation)
    } catch {
        let message = "\(error)"
        for part in parts { #expect(message.contains(part), "'\(text)': the error does not name '\(part)': \(message)", sourceLocation: sourceLocation) }
    }
}

@Suite struct CompactFormTests {
    @Test func presetsAreTheirCompactForms() throws {
        #expect(try ModelSpec(parsing: "mlp:784-256-256-10").layers == ModelSpec.mlp.layers)
        #expect(try ModelSpec(parsing: "cnn:16-32/128").layers == ModelSpec.cnn.layers)
        #expect(ModelSpec.mlp.compactForm == "mlp:784-256-256-10" && ModelSpec.mlp.description == "mlp")
        #expect(ModelSpec.cnn.layers == [.conv2d(out: 16, kernel: 5, stride: 1, padding: 2), .relu, .maxPool,
                                         .conv2d(out: 32, kernel: 5, stride: 1, padding: 2), .relu, .maxPool,
                                         .flatten, .linear(out: 128), .relu, .linear(out: 10)])
        #expect(ModelSpec.cnn.input == [1, 28, 28] && ModelSpec.mlp.input == [784])
        #expect(try ModelSpec.mlp.parameterCount == 269_322 && ModelSpec.cnn.parameterCount == 215_370)
    }

    @Test func suffixesExpand() throws {
        let cnn = try ModelSpec(parsing: "cnn:8-8+bn+gelu+res")
        #expect(cnn.layers == [.conv2d(out: 8, kernel: 5, stride: 1, padding: 2), .batchNorm, .gelu, .maxPool,
                               .residual(body: [.conv2d(out: 8, kernel: 5, stride: 1, padding: 2), .batchNorm, .gelu], projection: false), .maxPool,
                               .flatten, .linear(out: 10)])
        let mlp = try ModelSpec(parsing: "mlp:784-64-32-10+res+tanh")
        #expect(mlp.layers == [.linear(out: 64), .tanh, .residual(body: [.linear(out: 32), .tanh], projection: false), .linear(out: 10)])
        // 64 → 32 differ, so the residual block gets a learned projection res1.proj.
        let model = try mlp.make()
        #expect(model.layout.entries.map(\.name) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "res1.proj.weight", "res1.proj.bias",
                                                     "fc3.weight", "fc3.bias"])
        #expect(model.layout.entry(named: "res1.proj.weight")?.shape == [32, 64])
    }

    @Test func vitExpandsWithModules() throws {
        let spec = try ModelSpec(parsing: "vit:patch7-dim32-depth2-heads4-mlp64")
        #expect(spec.layers == [.patchEmbed(patch: 7, dim: 32), .transformerBlock(heads: 4, mlp: 64), .transformerBlock(heads: 4, mlp: 64),
                                .layerNorm, .tokenMean, .linear(out: 10)])
        let model = try spec.make()
        // patch: 32·1·49 + 32 + 16·32 position; per block: 2 norms 4·32, 4 attention linears 4·(32·32 + 32), mlp 64·32 + 64 + 32·64 + 32; final LN 64; head 32·10 + 10.
        let block = 4 * 32 + 4 * (32 * 32 + 32) + (64 * 32 + 64) + (32 * 64 + 32)
        #expect(model.layout.parameterCount == 32 * 49 + 32 + 16 * 32 + 2 * block + 64 + 330)
        #expect(model.modules.map(\.name) == ["patch", "block1.norm", "block1.attn", "block1.mlp", "block2.norm", "block2.attn", "block2.mlp", "ln1", "fc1"])
        #expect(model.modules.first { $0.name == "block1.attn" }?.entries.count == 8)
        #expect(Set(model.modules.flatMap(\.entries)) == Set(model.layout.entries.map(\.name)))
        #expect(model.modules.flatMap(\.entries).count == model.layout.entries.count)
        let θ = model.initialParameters(Float.self, seed: 1)
        let z: Tensor<Float> = model.logits(try model.layout.split(θ), input: Tensor(repeating: 0.5, shape: [3, 784]))
        #expect(z.shape == [3, 10] && z.scalars.allSatisfy(\.isFinite))
        // Position embedding normal(0, 0.02): its sample standard deviation within a few percent.
        let pos = model.layout.entry(named: "pos_embedding")!
        let p = Tensor<Double>(converting: θ).flatSlice(pos.range).scalars
        let sd = (p.map { $0 * $0 }.reduce(0, +) / Double(p.count)).squareRoot()
        #expect(abs(sd - 0.02) < 0.002, "position embedding sd \(sd)")
    }

    @Test func compactNamesAreCanonical() throws {
        let spec = try ModelSpec(parsing: "mlp:784-128-128-10+ln")
        #expect(spec.name == "mlp-784-128x2-10+ln" && spec.description == "mlp:784-128x2-10+ln")
        #expect(try ModelSpec(parsing: spec.description) == spec)
        #expect(try ModelSpec(parsing: "  cnn:16-32/128  ").layers == ModelSpec.cnn.layers)
    }

    @Test func badTextNamesThePartAndShowsTheGrammar() {
        let grammar = "mlp:784-256-256-10"
        expectError("mlp:784-12a-10", naming: ["'12a'", grammar])
        expectError("mlp:784", naming: ["at least an input and an output", grammar])
        expectError("mlp:784-10+foo", naming: ["'+foo'", grammar])
        expectError("mlp:784-10+drop1.5", naming: ["'+drop1.5'", "[0, 1)"])
        expectError("mlp:784-10+ln+bn", naming: ["'+bn'", "conflicts"])
        expectError("cnn:16/128/3", naming: ["more than one '/'"])
        expectError("cnn:16-0/128", naming: ["'0'"])
        expectError("vit:patch7-dim30-depth2-heads4-mlp64", naming: ["dim 30", "heads 4"])
        expectError("vit:patch7-dim32-depth2-heads4", naming: ["missing mlp"])
        expectError("vit:patch5-dim32-depth1-heads4-mlp64", naming: ["layers[0] (patchEmbed)", "patch 5", "[1, 28, 28]"])
        expectError("rnn:1-2", naming: ["unknown family 'rnn'"])
        expectError("mlp:9999999999-9999999999-10", naming: ["fc1.weight", "2^40"])
        expectError(#"{"input": [4000000000, 4000000000, 1], "layers": ["flatten"]}"#, naming: ["input shape"])
        expectError("resnet", naming: ["unknown model 'resnet'", "mlp, cnn", grammar])
    }
}

@Suite struct SpecJSONTests {
    @Test func objectsParseAndRoundTrip() throws {
        let text = #"{"name": "small", "input": [1, 8, 8], "layers": [{"conv2d": {"out": 4, "kernel": 3, "padding": 1}}, "relu", {"avgPool": {"kernel": 2}}, {"residual": {"body": [{"conv2d": {"out": 4, "kernel": 3, "padding": 1}}, "batchNorm", "tanh"]}}, "globalAvgPool", {"dropout": {"p": 0.5}}, {"linear": {"out": 10}}]}"#
        let spec = try ModelSpec(parsing: text)
        #expect(spec.layers[0] == .conv2d(out: 4, kernel: 3, stride: 1, padding: 1))
        #expect(spec.layers[3] == .residual(body: [.conv2d(out: 4, kernel: 3, stride: 1, padding: 1), .batchNorm, .tanh], projection: false))
        #expect(spec.compactForm == nil && spec.description == "small")
        let encoded = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(ModelSpec.self, from: encoded) == spec)
        let model = try spec.make()
        #expect(model.layout.entries.map(\.name) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "bn1.weight", "bn1.bias", "fc1.weight", "fc1.bias"])
        #expect(model.hasBatchNorm && model.hasDropout && model.inputSize == 64 && model.classCount == 10)
        // A JSON object without name and input: "custom" on MNIST images.
        let bare = try ModelSpec(parsing: #"{"layers": ["flatten", {"linear": {"out": 10}}]}"#)
        #expect(bare.name == "custom" && bare.input == [1, 28, 28])
    }

    /// The JSON example of the Layers documentation is a valid model.
    @Test func documentedExampleBuilds() throws {
        let article = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/Layers/Layers.docc/Layers.md")
        let text = try String(contentsOf: article, encoding: .utf8)
        let start = try #require(text.range(of: "```json\n")), end = try #require(text.range(of: "\n```", range: start.upperBound..<text.endIndex))
        let model = try ModelSpec(parsing: String(text[start.upperBound..<end.lowerBound])).make()
        #expect(model.classCount == 10 && model.inputSize == 784 && model.hasBatchNorm && model.hasDropout)
    }

    @Test func badJSONNamesThePath() {
        expectError(#"{"layers": [{"conv3d": {"out": 2}}]}"#, naming: ["layers[0]", "'conv3d'", "conv2d"])
        expectError(#"{"layers": ["flatten", {"linear": {}}]}"#, naming: ["layers[1]", "out"])
        expectError(#"{"layers": ["flatten", {"linear": {"out": 10, "bias": false}}]}"#, naming: ["'bias'"])
        expectError(#"{"layers": ["linear"]}"#, naming: ["'linear' needs settings"])
        expectError(#"{"layers": [], "inputs": [3]}"#, naming: ["'inputs'"])
        expectError(#"{"layers": [{"linear": {"out": 10}}]}"#, naming: ["layers[0] (linear)", "[1, 28, 28]", "flatten"])
        expectError(#"{"input": [4], "layers": [{"residual": {"body": [{"conv2d": {"out": 2, "kernel": 3}}]}}]}"#,
                    naming: ["layers[0].residual.body[0] (conv2d)", "[4]"])
        expectError(#"{"input": [1, 5, 5], "layers": ["maxPool"]}"#, naming: ["layers[0] (maxPool)", "even", "[1, 5, 5]"])
        expectError(#"{"input": [1, 4, 4], "layers": [{"conv2d": {"out": 2, "kernel": 7}}]}"#, naming: ["layers[0] (conv2d)", "[1, 4, 4]", "[2, 1, 7, 7]"])
        expectError(#"{"input": [4], "layers": [{"linear": {"out": 3}}, "tanh"]}"#.replacingOccurrences(of: "\"tanh\"", with: #"{"dropout": {"p": 1}}"#),
                    naming: ["layers[1] (dropout)", "[0, 1)"])
        expectError(#"{"input": [1, 4, 4], "layers": [{"conv2d": {"out": 2, "kernel": 3}}]}"#, naming: ["logits", "[2, 2, 2]"])
    }
}

@Suite struct SizingTests {
    @Test(arguments: [("mlp", 100_000), ("mlp:784-128x4-10+res+ln", 400_000), ("cnn", 50_000), ("cnn:16-32/128+bn", 1_000_000),
                      ("vit:patch7-dim32-depth2-heads4-mlp64", 60_000)])
    func sizedWithinTolerance(text: String, target: Int) throws {
        let spec = try ModelSpec(parsing: text).sized(toParameters: target, tolerance: 0.05)
        let count = try spec.parameterCount
        #expect(abs(Double(count - target)) <= 0.05 * Double(target), "\(text) → \(spec): \(count) parameters for target \(target)")
        // The same family and suffixes, the input and output widths kept.
        let original = try ModelSpec(parsing: text)
        #expect(spec.input == original.input && spec.layers.count == original.layers.count)
        #expect(try spec.make().classCount == original.make().classCount)
        #expect(try ModelSpec(parsing: spec.description) == spec)
    }

    @Test func unreachableTargetsAndCustomSpecsAreRefused() {
        // mlp:784-1-10 has 784 + 1 + 10 + 10 = 805 parameters at the narrowest.
        #expect(throws: ModelError.self) { try ModelSpec(parsing: "mlp:784-256-10").sized(toParameters: 100) }
        do { _ = try ModelSpec(parsing: "mlp:784-256-10").sized(toParameters: 100) } catch {
            #expect("\(error)".contains("mlp:784-1-10 with 805"), "\(error)")
        }
        let custom = ModelSpec(name: "tiny", input: [4], layers: [.linear(out: 2)])
        #expect(throws: ModelError.self) { try custom.sized(toParameters: 100) }
    }
}

@Suite struct DropoutTests {
    static let spec = ModelSpec(name: "drop", input: [4000], layers: [.dropout(p: 0.3)])

    @Test func identityByDefaultMaskedInTraining() throws {
        let model = try Self.spec.make()
        var rng = SplitMix64(seed: 10)
        let x = Tensor<Double>.randomUniform([2, 4000], bound: 1, using: &rng).shifted(by: 2)    // in [1, 3)
        let z: Tensor<Double> = model.logits([], input: x)
        #expect(z == x, "dropout must be the identity outside training(seed:)")
        let m1: Tensor<Double> = model.training(seed: 11).logits([], input: x) / x
        let keep = 1 / 0.7
        #expect(m1.scalars.allSatisfy { $0 == 0 || abs($0 - keep) <= 1e-15 }, "mask values are 0 or 1/(1 − p)")
        let kept = m1.scalars.filter { $0 != 0 }.count
        // Binomial(8000, 0.7): mean 5600, sd √(8000·0.21) ≈ 41; five standard deviations.
        #expect(abs(Double(kept) - 5600) < 5 * (8000 * 0.21).squareRoot(), "kept \(kept) of 8000 (seed 11)")
        let again: Tensor<Double> = model.training(seed: 11).logits([], input: x) / x
        #expect(again == m1, "the same seed gives the same mask")
        let other: Tensor<Double> = model.training(seed: 12).logits([], input: x) / x
        #expect(other != m1, "another seed gives another mask")
        #expect(m1.scalars[0..<4000] != m1.scalars[4000...], "two samples get different masks")
        #expect(!model.training(seed: 11).couplesSamples)
    }

    /// A sample's mask depends on the seed, the sample and the layer only: the rows of a batch
    /// get the masks they get alone, so a chunked loss is the same function as the whole.
    @Test func masksDoNotDependOnTheBatch() throws {
        let spec = ModelSpec(name: "drop2", input: [5], layers: [.linear(out: 6), .tanh, .dropout(p: 0.5), .linear(out: 6), .tanh, .dropout(p: 0.5), .linear(out: 3)])
        let model = try spec.make().training(seed: 4)
        var rng = SplitMix64(seed: 6)
        let x = Tensor<Double>.randomNormal([6, 5], using: &rng), y = [0, 1, 2, 2, 1, 0]
        let θ = model.initialParameters(Double.self, seed: 6)
        let p = try model.layout.split(θ)
        let whole: Tensor<Double> = model.logits(p, input: x)
        for r in [0..<1, 1..<4, 4..<6] {
            let part: Tensor<Double> = model.logits(p, input: x.rows(r))
            let diff = zip(part.scalars, whole.rows(r).scalars).map { abs($0 - $1) }.max()!
            #expect(diff <= 1e-15, "rows \(r): logits alone differ from the batch's by \(diff)")
        }
        var chunked = try model.loss(on: x, labels: y)
        chunked.chunkRows = 4
        let a = try value(of: chunked, at: θ), b = try value(of: try model.loss(on: x, labels: y), at: θ)
        #expect(abs(a - b) <= 1e-14, "chunked \(a) vs whole \(b)")
        // Another seed changes the masks, and so the logits.
        let other: Tensor<Double> = try spec.make().training(seed: 5).logits(p, input: x)
        #expect(other != whole)
    }

    @Test func trainingLeavesModelsWithoutDropoutOrBatchNormAlone() throws {
        let model = try ModelSpec.mlp.make().training(seed: 3)
        #expect(model.normalization == .eval && model.dropoutSeed == nil)
        #expect(MLP().training(seed: 3).layout == MLP().layout)
    }
}

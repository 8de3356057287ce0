import Foundation
import Testing
import Autodiff
import Layers
import Tensors

/// `make()` of `spec` throws a ``ModelError`` whose message contains every one of `parts`.
private func expectRefused(_ spec: ModelSpec, naming parts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        _ = try spec.make()
        Issue.record("\(spec.name) was accepted", sourceLocation: sourceLocation)
    } catch {
        for part in parts { #expect("\(error)".contains(part), "\(spec.name): the error does not name '\(part)': \(error)", sourceLocation: sourceLocation) }
    }
}

@Suite struct SpecLimitsTests {
    @Test func hugeRepeatCountsAndDepthsAreRefusedBeforeBuilding() {
        let limit = "\(ModelSpec.layerLimit)"
        expectError("mlp:784-128x1000000000000-10", naming: ["128x1000000000000", limit])
        expectError("cnn:16x20000/128", naming: ["16x20000", limit])
        expectError("cnn:16/8-8x99999", naming: ["8x99999", limit])
        expectError("vit:patch7-dim32-depth1000000000000-heads4-mlp64", naming: ["depth 1000000000000", limit])
        // The repeats of a list add up: 6000 + 6000 > the limit though each is below it.
        expectError("mlp:784-8x6000-8x6000-10", naming: ["8x6000", limit])
    }

    @Test func specsWithTooManyLayersAreRefusedIncludingResidualBodies() throws {
        let limit = ModelSpec.layerLimit
        let flat = ModelSpec(name: "deep", input: [4], layers: [.linear(out: 4)] + Array(repeating: .relu, count: limit) + [.linear(out: 2)])
        expectRefused(flat, naming: ["more than \(limit) layers"])
        // limit − 1 relus inside one residual body: with the residual and the head, limit + 1 layers.
        let nested = ModelSpec(name: "nested", input: [4], layers: [.residual(body: Array(repeating: .relu, count: limit - 1), projection: false), .linear(out: 2)])
        expectRefused(nested, naming: ["more than \(limit) layers", "residual"])
        // Exactly the limit is accepted.
        let atLimit = ModelSpec(name: "at-limit", input: [4], layers: [.residual(body: Array(repeating: .relu, count: limit - 2), projection: false), .linear(out: 2)])
        #expect(try atLimit.parameterCount == 4 * 2 + 2)
    }

    @Test func sizingReachesABillionParameters() throws {
        let spec = try ModelSpec(parsing: "mlp:784-64-10").sized(toParameters: 1_000_000_000, tolerance: 0.01)
        guard case let .linear(w) = spec.layers.first else { Issue.record("no first linear layer: \(spec.layers)"); return }
        // 784→w→10: (784 + 1)·w + (w + 1)·10 = 795 w + 10 parameters.
        #expect(spec.layers == [.linear(out: w), .relu, .linear(out: 10)])
        let count = try spec.parameterCount
        #expect(count == 795 * w + 10)
        #expect(abs(Double(count) / 1e9 - 1) <= 0.01, "\(spec): \(count)")
        // Beyond the 2^40 limit of θ: a clear error, not a crash.
        #expect(throws: ModelError.self) { try ModelSpec(parsing: "mlp:784-64-10").sized(toParameters: 1 << 50) }
    }

    @Test func trainModeBatchNormRefusesOneValuePerChannel() throws {
        let features = try ModelSpec(parsing: "mlp:4-3-2+bn").make()
        let train = features.training(seed: 1)
        let θ = features.initialParameters(Double.self, seed: 2)
        let one = Tensor<Double>(shape: [1, 4], scalars: [0.1, 0.2, 0.3, 0.4])
        #expect(throws: ModelError.batchTooSmall(model: features.name, layer: "bn1", rows: 1)) { try train.loss(on: one, labels: [0]) }
        let two = Tensor<Double>(shape: [2, 4], scalars: [0.1, 0.2, 0.3, 0.4, -0.5, 0.6, 0.7, 0.8])
        #expect(throws: Never.self) { try train.loss(on: two, labels: [0, 1]) }
        // Evaluated in chunks of 2 rows, three rows leave a last chunk of one.
        let three = Tensor<Double>(shape: [3, 4], scalars: two.scalars + one.scalars)
        #expect(throws: ModelError.batchTooSmall(model: features.name, layer: "bn1", rows: 1)) {
            try train.evaluate(θ, input: three, labels: [0, 1, 0], batchSize: 2)
        }
        // Images: a 2×2 convolution of a 2×2 image leaves 1 position per channel, so N = 1 is refused;
        // a 1×1 convolution leaves 4 positions, so N = 1 gives 4 values per channel.
        let single = ModelSpec(name: "single", input: [1, 2, 2], layers: [.conv2d(out: 2, kernel: 2, stride: 1, padding: 0), .batchNorm, .flatten, .linear(out: 2)])
        let spatial = ModelSpec(name: "spatial", input: [1, 2, 2], layers: [.conv2d(out: 2, kernel: 1, stride: 1, padding: 0), .batchNorm, .flatten, .linear(out: 2)])
        #expect(throws: ModelError.batchTooSmall(model: "single", layer: "bn1", rows: 1)) { try single.make().training(seed: 1).loss(on: one, labels: [0]) }
        #expect(throws: Never.self) { try spatial.make().training(seed: 1).loss(on: one, labels: [0]) }
        // Eval mode uses fixed statistics: one row is fine.
        let eval = try features.withPopulationStatistics(at: θ, input: two, chunk: 0)
        #expect(throws: Never.self) { try eval.loss(on: one, labels: [0]) }
    }

    @Test func residualProjectionOnTokensSaysItIsNotAvailable() {
        let spec = ModelSpec(name: "tokens", input: [1, 28, 28],
                             layers: [.patchEmbed(patch: 7, dim: 8), .residual(body: [.gelu], projection: true), .tokenMean, .linear(out: 10)])
        expectRefused(spec, naming: ["a projection is not available for [T, D] tokens", "[16, 8]"])
    }

    @Test func suffixesWithNothingToActOnAreRefused() throws {
        expectError("mlp:784-10+res", naming: ["'+res'", "nothing to apply to"])
        expectError("mlp:784-64-10+res", naming: ["'+res'", "nothing to apply to"])
        expectError("mlp:784-10+ln", naming: ["'+ln'", "nothing to apply to"])
        expectError("mlp:784-10+drop0.1", naming: ["'+drop0.1'", "nothing to apply to"])
        expectError("cnn:8+res", naming: ["'+res'", "nothing to apply to"])
        expectError("cnn:8+drop0.1", naming: ["'+drop0.1'", "nothing to apply to"])
        #expect(try ModelSpec(parsing: "cnn:8/16+drop0.1").layers == [.conv2d(out: 8, kernel: 5, stride: 1, padding: 2), .relu, .maxPool, .flatten,
                                                                      .linear(out: 16), .relu, .dropout(p: 0.1), .linear(out: 10)])
        #expect(try ModelSpec(parsing: "cnn:8+bn").layers.contains(.batchNorm))
        #expect(try ModelSpec(parsing: "cnn:8/16-16+res").layers.contains(.residual(body: [.linear(out: 16), .relu], projection: false)))
    }

    @Test func presetsAndSuffixesAreListedOnceInTheHelp() throws {
        let help = ModelSpec.compactFormHelp
        #expect(help.contains("mlp = mlp:784-256-256-10") && help.contains("cnn = cnn:16-32/128"))
        for suffix in ["+res", "+ln", "+bn", "+tanh", "+gelu", "+drop0.1"] { #expect(help.contains(suffix), "\(suffix) missing from the help") }
        #expect(help.contains("P·x + f(x)"))
        // Suffixes in any order give one canonical text, in the table's order.
        let spec = try ModelSpec(parsing: "mlp:784-64-64-10+drop0.1+gelu+bn+res")
        #expect(spec.description == "mlp:784-64x2-10+res+bn+gelu+drop0.1")
        #expect(try ModelSpec(parsing: "vit:mlp64-heads4-depth2-dim32-patch7").description == "vit:patch7-dim32-depth2-heads4-mlp64")
    }
}

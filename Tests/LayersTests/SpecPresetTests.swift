import Foundation
import Testing
import Autodiff
import Layers
import Tensors

/// The presets reproduce the reference structs bit for bit: layout, initial θ (the same
/// SplitMix64 draws in the same order), logits and gradients in Float and Double.
@Suite struct SpecPresetTests {
    static func inputs<E: TensorScalar>(_: E.Type, rows: Int, seed: UInt64) -> (Tensor<E>, [Int]) {
        var rng = SplitMix64(seed: seed)
        let x = Tensor<Double>.randomUniform([rows, 784], bound: 1, using: &rng).shifted(by: 1).scaled(by: 0.5)   // in [0, 1)
        let y = (0..<rows).map { _ in Int(rng.next(below: 10)) }
        return (Tensor(converting: x), y)
    }

    func checkSame<M: Model, E: TensorScalar>(_ reference: M, _ spec: ModelSpec, _: E.Type, seed: UInt64) throws {
        let model = try spec.make()
        #expect(model.layout == reference.layout, "layout of \(spec)")
        #expect(model.inputSize == reference.inputSize && model.classCount == reference.classCount)
        let θ = reference.initialParameters(E.self, seed: seed)
        #expect(model.initialParameters(E.self, seed: seed) == θ, "initial θ of \(spec), seed \(seed)")
        let (x, y) = Self.inputs(E.self, rows: 6, seed: seed &+ 1)
        let p = try reference.layout.split(θ)
        let z0: Tensor<E> = reference.logits(p, input: x), z1: Tensor<E> = model.logits(p, input: x)
        #expect(z0 == z1, "logits of \(spec), seed \(seed)")
        let (v0, g0) = try valueWithGradient(of: try reference.loss(on: x, labels: y), at: θ)
        let (v1, g1) = try valueWithGradient(of: try model.loss(on: x, labels: y), at: θ)
        #expect(v0 == v1 && g0 == g1, "loss and Tracked gradient of \(spec), seed \(seed)")
    }

    @Test func mlpPresetMatchesMLP() throws {
        try checkSame(MLP(), .mlp, Float.self, seed: 3)
        try checkSame(MLP(), .mlp, Double.self, seed: 4)
    }

    @Test func cnnPresetMatchesCNN() throws {
        try checkSame(try CNN(), .cnn, Float.self, seed: 5)
        try checkSame(try CNN(), .cnn, Double.self, seed: 6)
    }

    @Test func presetModulesAreLayerBlocks() throws {
        for spec in ModelSpec.presets {
            let model = try spec.make()
            #expect(model.modules.map(\.name) == layerBlocksNames(model.layout), "\(spec)")
        }
    }

    func layerBlocksNames(_ layout: ParameterLayout) -> [String] {
        var names: [String] = []
        for e in layout.entries {
            let n = String(e.name.split(separator: ".").first!)
            if names.last != n { names.append(n) }
        }
        return names
    }
}

@Suite struct SpecEncodingTests {
    func json(_ spec: ModelSpec) throws -> String {
        let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode([spec]), as: UTF8.self)
    }

    @Test func presetsEncodeAsTheirNames() throws {
        #expect(try json(.mlp) == #"["mlp"]"#)
        #expect(try json(.cnn) == #"["cnn"]"#)
        for spec in ModelSpec.presets {
            #expect(try JSONDecoder().decode([ModelSpec].self, from: Data(try json(spec).utf8)) == [spec])
            #expect(try ModelSpec(parsing: spec.name.uppercased()) == spec)
        }
    }

    @Test func compactFormsEncodeAsText() throws {
        let spec = try ModelSpec(parsing: "mlp:784-128x2-10+res+ln+drop0.1")
        #expect(spec.name == "mlp-784-128x2-10+res+ln+drop0.1")
        #expect(try json(spec) == #"["mlp:784-128x2-10+res+ln+drop0.1"]"#)
        #expect(try JSONDecoder().decode([ModelSpec].self, from: Data(try json(spec).utf8)) == [spec])
        #expect(spec.layers == [.linear(out: 128), .layerNorm, .relu, .dropout(p: 0.1),
                                .residual(body: [.linear(out: 128), .layerNorm, .relu, .dropout(p: 0.1)], projection: false),
                                .linear(out: 10)])
    }

    @Test func customSpecsEncodeAsObjects() throws {
        let spec = ModelSpec(name: "tiny", input: [4], layers: [.linear(out: 3), .tanh, .batchNorm, .linear(out: 2)])
        let text = try json(spec)
        #expect(text == #"[{"input":[4],"layers":[{"linear":{"out":3}},"tanh","batchNorm",{"linear":{"out":2}}],"name":"tiny"}]"#)
        #expect(try JSONDecoder().decode([ModelSpec].self, from: Data(text.utf8)) == [spec])
    }
}

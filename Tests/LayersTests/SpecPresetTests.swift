import Foundation
import Testing
import Autodiff
import Layers
import Optimizers
import Tensors

/// The presets reproduce the reference structs bit for bit: layout, initial θ (the same
/// SplitMix64 draws in the same order), logits, gradients, HVPs and Taylor coefficients in
/// Float and Double.
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
        var rng = SplitMix64(seed: seed &+ 2)
        let v = Tensor<E>(converting: Tensor<Double>.randomNormal([θ.count], using: &rng))
        #expect(try hessianVectorProduct(of: try reference.loss(on: x, labels: y), at: θ, along: v)
                == hessianVectorProduct(of: try model.loss(on: x, labels: y), at: θ, along: v), "HVP (Tracked<Dual>) of \(spec)")
        #expect(try taylorCoefficients(of: try reference.loss(on: x, labels: y), at: θ, along: v, order: 3)
                == taylorCoefficients(of: try model.loss(on: x, labels: y), at: θ, along: v, order: 3), "Jet coefficients of \(spec)")
    }

    @Test func mlpPresetMatchesMLP() throws {
        try checkSame(MLP(), .mlp, Float.self, seed: 3)
        try checkSame(MLP(), .mlp, Double.self, seed: 4)
    }

    @Test func cnnPresetMatchesCNN() throws {
        try checkSame(try CNN(), .cnn, Float.self, seed: 5)
        try checkSame(try CNN(), .cnn, Double.self, seed: 6)
    }

    /// 20 SGD steps (momentum 0.9) on random batches: the same θ bit for bit.
    func checkSameTraining<M: Model>(_ reference: M, _ spec: ModelSpec, seed: UInt64) throws {
        let model = try spec.make()
        let (pool, labels) = Self.inputs(Float.self, rows: 64, seed: seed)
        var a = reference.initialParameters(Float.self, seed: seed), b = model.initialParameters(Float.self, seed: seed)
        var sa = try SGD<Float>(parameterCount: a.count, learningRate: 0.05, momentum: 0.9)
        var sb = try SGD<Float>(parameterCount: b.count, learningRate: 0.05, momentum: 0.9)
        var rng = SplitMix64(seed: seed)
        for step in 0..<20 {
            let rows = (0..<16).map { _ in rng.next(below: 64) }
            let x = pool.gatherRows(rows), y = rows.map { labels[$0] }
            let ga = try gradient(of: try reference.loss(on: x, labels: y), at: a)
            let gb = try gradient(of: try model.training(seed: UInt64(step)).loss(on: x, labels: y), at: b)
            try sa.update(&a, gradient: ga)
            try sb.update(&b, gradient: gb)
        }
        #expect(a == b, "θ after 20 SGD steps of \(spec), seed \(seed)")
    }

    @Test func presetsTrainAsTheStructs() throws {
        try checkSameTraining(MLP(), .mlp, seed: 8)
        try checkSameTraining(try CNN(), .cnn, seed: 9)
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

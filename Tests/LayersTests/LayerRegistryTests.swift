import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

// One test over every layer kind (as RuleTableTests over the rule table): each kind has a tiny
// registered model — the layer in a smooth surrounding (tanh), a batch of 4 random inputs — and
// every model is walked through every number system against finite differences in Double. A new
// LayerSpec kind is tested by being registered here; `everyKindIsRegistered` fails until it is.

/// A tiny model that exercises one layer kind.
struct RegisteredModel: CustomStringConvertible, Sendable {
    /// The kind under test (the spec must contain it).
    let kind: LayerSpec.Kind
    let spec: ModelSpec
    /// The model as tested (e.g. in train mode, with statistics, with dropout masks).
    var configure: @Sendable (SpecModel) throws -> SpecModel = { $0 }
    var description: String { "\(kind.rawValue): \(spec.name)" }

    static let seed: UInt64 = 20261205

    /// θ: the initialization plus a seeded perturbation (so norm weights are not all 1 and
    /// biases not all 0), the batch (standard normal rows) and labels. Before a ReLU the point
    /// keeps a margin: every pre-activation at least 0.01 from the kink (the first seed that
    /// gives one), so that finite differences of step ≤ 1e-3 along a unit direction stay on one side.
    func setUp() throws -> (model: SpecModel, θ: Tensor<Double>, x: Tensor<Double>, y: [Int]) {
        let base = try spec.make()
        for attempt in 0..<100 as Range<UInt64> {
            var rng = SplitMix64(seed: Self.seed &+ attempt)
            var θ = base.initialParameters(Double.self, seed: Self.seed)
            θ.addScaled(Tensor.randomNormal([θ.count], using: &rng), 0.2)
            let x = Tensor<Double>.randomNormal([4, base.inputSize], using: &rng)
            let y = (0..<4).map { _ in rng.next(below: base.classCount) }
            if try margin(θ, x) >= 0.01 { return (try configure(base), θ, x, y) }
        }
        throw ModelError.specification("\(self): no seed gives a point with margins")
    }

    /// The smallest |pre-activation| entering a top-level ReLU (∞ without one).
    func margin(_ θ: Tensor<Double>, _ x: Tensor<Double>) throws -> Double {
        guard let relu = spec.layers.firstIndex(of: .relu) else { return .infinity }
        let prefix = try ModelSpec(name: "prefix", input: spec.input, layers: Array(spec.layers[..<relu])).make()
        let z: Tensor<Double> = prefix.logits(try prefix.layout.split(θ.flatSlice(0..<prefix.layout.parameterCount)), input: x)
        return z.scalars.map(abs).min()!
    }
}

/// Eval-mode statistics from other data than the batch under test, so that they are not the batch's.
@Sendable func withOtherStatistics(_ model: SpecModel) throws -> SpecModel {
    var rng = SplitMix64(seed: 99)
    let θ = model.initialParameters(Double.self, seed: RegisteredModel.seed)
    return try model.withPopulationStatistics(at: θ, input: Tensor<Double>.randomNormal([7, model.inputSize], using: &rng), chunk: 3)
}

enum LayerRegistry {
    static func spec(_ name: String, _ input: [Int], _ layers: [LayerSpec]) -> ModelSpec { ModelSpec(name: name, input: input, layers: layers) }
    static let image = [2, 6, 6]

    static let models: [RegisteredModel] = [
        .init(kind: .linear, spec: spec("linear", [5], [.linear(out: 4), .tanh, .linear(out: 3)])),
        .init(kind: .conv2d, spec: spec("conv2d", image, [.conv2d(out: 3, kernel: 3, stride: 2, padding: 1), .tanh, .flatten, .linear(out: 3)])),
        .init(kind: .relu, spec: spec("relu", [5], [.linear(out: 6), .relu, .linear(out: 3)])),
        .init(kind: .tanh, spec: spec("tanh", [5], [.linear(out: 4), .tanh, .linear(out: 3)])),
        .init(kind: .gelu, spec: spec("gelu", [5], [.linear(out: 4), .gelu, .linear(out: 3)])),
        .init(kind: .maxPool, spec: spec("maxPool", image, [.conv2d(out: 2, kernel: 3, stride: 1, padding: 1), .tanh, .maxPool, .flatten, .linear(out: 3)])),
        .init(kind: .avgPool, spec: spec("avgPool", image, [.conv2d(out: 2, kernel: 3, stride: 1, padding: 1), .tanh, .avgPool(kernel: 3), .flatten, .linear(out: 3)])),
        .init(kind: .globalAvgPool, spec: spec("globalAvgPool", image, [.conv2d(out: 3, kernel: 3, stride: 1, padding: 0), .tanh, .globalAvgPool, .linear(out: 3)])),
        .init(kind: .flatten, spec: spec("flatten", [2, 2, 2], [.flatten, .linear(out: 3), .tanh, .linear(out: 2)])),
        .init(kind: .residual, spec: spec("residual-identity", [5], [.linear(out: 4), .tanh, .residual(body: [.linear(out: 4), .tanh], projection: false), .linear(out: 3)])),
        .init(kind: .residual, spec: spec("residual-linear", [5], [.linear(out: 4), .tanh, .residual(body: [.linear(out: 3), .tanh], projection: false), .linear(out: 3)])),
        .init(kind: .residual, spec: spec("residual-conv", image, [.residual(body: [.conv2d(out: 3, kernel: 3, stride: 2, padding: 1), .tanh], projection: true),
                                                                  .flatten, .linear(out: 3)])),
        .init(kind: .layerNorm, spec: spec("layerNorm-features", [5], [.linear(out: 4), .layerNorm, .tanh, .linear(out: 3)])),
        .init(kind: .layerNorm, spec: spec("layerNorm-image", image, [.conv2d(out: 2, kernel: 3, stride: 2, padding: 1), .layerNorm, .tanh, .flatten, .linear(out: 3)])),
        .init(kind: .batchNorm, spec: spec("batchNorm-train", [5], [.linear(out: 4), .batchNorm, .tanh, .linear(out: 3)]), configure: { $0.training(seed: 1) }),
        .init(kind: .batchNorm, spec: spec("batchNorm-eval", [5], [.linear(out: 4), .batchNorm, .tanh, .linear(out: 3)]), configure: withOtherStatistics),
        .init(kind: .batchNorm, spec: spec("batchNorm2d-train", image, [.conv2d(out: 2, kernel: 3, stride: 2, padding: 1), .batchNorm, .tanh, .flatten, .linear(out: 3)]),
              configure: { $0.training(seed: 1) }),
        .init(kind: .batchNorm, spec: spec("batchNorm2d-eval", image, [.conv2d(out: 2, kernel: 3, stride: 2, padding: 1), .batchNorm, .tanh, .flatten, .linear(out: 3)]),
              configure: withOtherStatistics),
        .init(kind: .dropout, spec: spec("dropout", [5], [.linear(out: 6), .tanh, .dropout(p: 0.4), .linear(out: 3)]), configure: { $0.training(seed: 3) }),
        .init(kind: .patchEmbed, spec: spec("patchEmbed", image, [.patchEmbed(patch: 3, dim: 4), .tanh, .flatten, .linear(out: 3)])),
        .init(kind: .transformerBlock, spec: spec("transformerBlock", image, [.patchEmbed(patch: 3, dim: 4), .transformerBlock(heads: 2, mlp: 6), .flatten, .linear(out: 3)])),
        .init(kind: .tokenMean, spec: spec("tokenMean", image, [.patchEmbed(patch: 2, dim: 4), .tanh, .tokenMean, .linear(out: 3)])),
    ]
}

/// Every kind a spec's layers use, residual bodies included.
func kinds(of layers: [LayerSpec]) -> Set<LayerSpec.Kind> {
    layers.reduce(into: Set<LayerSpec.Kind>()) { set, layer in
        set.insert(layer.kind)
        if case let .residual(body, _) = layer { set.formUnion(kinds(of: body)) }
    }
}

@Suite struct LayerRegistryTests {
    @Test func everyKindIsRegistered() {
        let registered = Set(LayerRegistry.models.map(\.kind))
        let missing = LayerSpec.Kind.allCases.filter { !registered.contains($0) }
        #expect(missing.isEmpty, "layer kinds without a registered model: \(missing)")
        for m in LayerRegistry.models { #expect(kinds(of: m.spec.layers).contains(m.kind), "\(m) does not use its kind") }
    }

    /// Float and Double logits agree to Float's rounding.
    @Test(arguments: LayerRegistry.models.indices) func plainValuesInFloatAndDouble(index: Int) throws {
        let m = LayerRegistry.models[index]
        let (model, θ, x, _) = try m.setUp()
        let zd: Tensor<Double> = model.logits(try model.layout.split(θ), input: x)
        let zf: Tensor<Float> = model.logits(try model.layout.split(Tensor<Float>(converting: θ)), input: Tensor<Float>(converting: x))
        #expect(zd.shape == [4, model.classCount] && zf.shape == zd.shape, "\(m)")
        let scale = zd.scalars.map(abs).max()!
        let diff = zip(zd.scalars, zf.scalars).map { abs($0 - Double($1)) }.max()!
        #expect(diff <= 1e-5 * max(scale, 1), "\(m): Float vs Double logits differ by \(diff) (scale \(scale))")
    }

    /// Dual JVP and Tracked gradient against central differences of the loss.
    @Test(arguments: LayerRegistry.models.indices) func firstDerivatives(index: Int) throws {
        let m = LayerRegistry.models[index]
        let (model, θ, x, y) = try m.setUp()
        let loss = try model.loss(on: x, labels: y)
        var rng = SplitMix64(seed: RegisteredModel.seed &+ UInt64(index))
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng).normalized()
        let jvp = try Autodiff.jvp(of: loss, at: θ, along: v).derivative
        let h = 1e-5
        var plus = θ, minus = θ
        plus.addScaled(v, h); minus.addScaled(v, -h)
        let fd = (try value(of: loss, at: plus) - value(of: loss, at: minus)) / (2 * h)
        #expect(abs(jvp - fd) <= 1e-7 * max(abs(fd), 1e-2), "\(m): Dual JVP \(jvp) vs central difference \(fd)")
        let check = try checkGradient(of: loss, at: θ)
        #expect(check.passes(tolerance: 1e-6), "\(m): Tracked gradient: \(check)")
    }

    /// The forward-over-reverse HVP (through the API and through the linearized Hessian operator)
    /// against central differences of the gradient.
    @Test(arguments: LayerRegistry.models.indices) func hessianVectorProducts(index: Int) throws {
        let m = LayerRegistry.models[index]
        let (model, θ, x, y) = try m.setUp()
        let loss = try model.loss(on: x, labels: y)
        let direct = try checkHessianVectorProduct(of: loss, at: θ, seed: 5)
        #expect(direct.passes(tolerance: 1e-6), "\(m): hessianVectorProduct: \(direct)")
        let op = try HessianOperator(of: loss, at: θ)
        let linearized = try checkHessianVectorProduct(hvp: { try op.apply($0) }, gradient: { try gradient(of: loss, at: $0) }, at: θ, seed: 6)
        #expect(linearized.passes(tolerance: 1e-6), "\(m): HessianOperator: \(linearized)")
    }

    /// The Jet's order-2 coefficient c₂ = ½ vᵀHv against the second directional difference of
    /// the loss (Richardson-extrapolated), and c₁ against the first.
    @Test(arguments: LayerRegistry.models.indices) func jetCoefficients(index: Int) throws {
        let m = LayerRegistry.models[index]
        let (model, θ, x, y) = try m.setUp()
        let loss = try model.loss(on: x, labels: y)
        var rng = SplitMix64(seed: RegisteredModel.seed &+ 100 &+ UInt64(index))
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng).normalized()
        let c = try taylorCoefficients(of: loss, at: θ, along: v, order: 2)
        func f(_ t: Double) throws -> Double { var p = θ; p.addScaled(v, t); return try value(of: loss, at: p) }
        let f0 = try f(0)
        #expect(abs(c[0] - f0) <= 1e-12 * abs(f0), "\(m): c₀ \(c[0]) vs L(θ) \(f0)")
        func second(_ h: Double) throws -> Double { (try f(h) - 2 * f0 + (try f(-h))) / (h * h) }
        let h = 1e-3
        let d2 = (4 * (try second(h / 2)) - (try second(h))) / 3       // error O(h⁴) + rounding ε·L/h²
        #expect(abs(2 * c[2] - d2) <= 1e-6 * max(abs(d2), 1e-1), "\(m): 2c₂ \(2 * c[2]) vs second difference \(d2)")
    }

    /// Watched<Jet<Tensor>>: the same Taylor coefficients as the Jet; no routing change (an
    /// infinite radius) without ReLU or max-pool; for the ReLU model the exact forward distance
    /// to the first sign change of a first-layer pre-activation, which is affine in t.
    @Test(arguments: LayerRegistry.models.indices) func smoothnessRadii(index: Int) throws {
        let m = LayerRegistry.models[index]
        let (model, θ, x, y) = try m.setUp()
        let loss = try model.loss(on: x, labels: y)
        var rng = SplitMix64(seed: RegisteredModel.seed &+ 200 &+ UInt64(index))
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng).normalized()
        let radius = try smoothnessRadius(of: loss, at: θ, along: v, order: 3)
        let c = try taylorCoefficients(of: loss, at: θ, along: v, order: 3)
        for k in 0...3 { #expect(abs(radius.coefficients[k] - c[k]) <= 1e-12 * max(1, abs(c[k])), "\(m): c\(k) \(radius.coefficients[k]) vs \(c[k])") }
        let routed = kinds(of: m.spec.layers).intersection([.relu, .maxPool])
        if routed.isEmpty {
            #expect(radius.radius == .infinity, "\(m): a smooth model has no routing change, got \(radius.radius)")
        } else {
            #expect(radius.radius > 0 && radius.radius.isFinite, "\(m): radius \(radius.radius)")
        }
        if m.kind == .relu {
            let prefix = try ModelSpec(name: "prefix", input: m.spec.input, layers: [m.spec.layers[0]]).make()
            let n = prefix.layout.parameterCount
            var moved = θ; moved.addScaled(v, 1)
            let z0: Tensor<Double> = prefix.logits(try prefix.layout.split(θ.flatSlice(0..<n)), input: x)
            let z1: Tensor<Double> = prefix.logits(try prefix.layout.split(moved.flatSlice(0..<n)), input: x)
            let roots = zip(z0.scalars, z1.scalars).map { -$0 / ($1 - $0) }.filter { $0 > 0 }
            let expected = roots.min() ?? .infinity
            #expect(abs(radius.forward - expected) <= 1e-9 * expected, "\(m): forward radius \(radius.forward) vs \(expected)")
        }
    }
}

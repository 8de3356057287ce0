import Autodiff
import Tensors

/// Compiles ``LayerSpec``s into ``SpecModel``'s plan: checks each layer against its per-sample
/// input shape, names and lays out the parameters (PyTorch names, numbered per kind), and
/// records their initializers and modules.
struct SpecCompiler {
    typealias Slot = SpecModel.Slot
    let model: String
    var steps: [SpecModel.Step] = []
    var entries: [(name: String, shape: [Int])] = []
    var initializers: [SpecModel.Initializer] = []
    var modules: [(name: String, entries: [String])] = []
    /// Each BatchNorm's name, feature or channel count, and positions per channel (H·W, or 1 for features).
    var batchNorms: [(name: String, width: Int, positions: Int)] = []
    var hasDropout = false
    private var counters: [String: Int] = [:]

    init(model: String) { self.model = model }

    /// `prefix1`, `prefix2`, … in order of appearance.
    private mutating func next(_ prefix: String) -> String {
        counters[prefix, default: 0] += 1
        return "\(prefix)\(counters[prefix]!)"
    }

    /// The most elements of one per-sample activation or of θ (2⁴⁰): beyond it a spec is refused
    /// rather than overflowing a count.
    static let elementLimit = 1 << 40

    /// ∏ shape, or `nil` when it exceeds ``elementLimit``.
    static func count(_ shape: [Int]) -> Int? {
        var p = 1
        for d in shape {
            let (r, overflow) = p.multipliedReportingOverflow(by: d)
            if overflow || r > elementLimit { return nil }
            p = r
        }
        return p
    }

    private var parameterTotal = 0
    /// The layers compiled so far, those inside residual bodies included.
    private var layerTotal = 0

    private mutating func add(_ name: String, _ shape: [Int], _ initializer: SpecModel.Initializer) throws -> Int {
        guard let c = Self.count(shape), parameterTotal + c <= Self.elementLimit else {
            throw ModelError.specification("model \(model): \(name) \(shape) takes the parameter count over 2^40")
        }
        parameterTotal += c
        entries.append((name: name, shape: shape))
        initializers.append(initializer)
        return entries.count - 1
    }

    /// `name.weight` and `name.bias`, both uniform in ±1/√fan_in (PyTorch's Linear and Conv2d).
    private mutating func affine(_ name: String, weight: [Int], fanIn: Int, module: Bool = true) throws -> Slot {
        let bound = 1 / Double(fanIn).squareRoot()
        let w = try add("\(name).weight", weight, .uniform(bound)), b = try add("\(name).bias", [weight[0]], .uniform(bound))
        if module { modules.append((name: name, entries: ["\(name).weight", "\(name).bias"])) }
        return Slot(weight: w, bias: b)
    }

    /// A norm's `name.weight` (ones) and `name.bias` (zeros) of `shape`.
    private mutating func norm(_ name: String, shape: [Int], module: Bool = true) throws -> Slot {
        let w = try add("\(name).weight", shape, .constant(1)), b = try add("\(name).bias", shape, .constant(0))
        if module { modules.append((name: name, entries: ["\(name).weight", "\(name).bias"])) }
        return Slot(weight: w, bias: b)
    }

    /// Compiles `layers` applied to per-sample shape `input`; returns the output shape.
    /// - Throws: ``ModelError/specification(_:)`` also when the layers, counting those inside
    ///   residual bodies, number more than ``ModelSpec/layerLimit``.
    mutating func compile(_ layers: [LayerSpec], input: [Int], path: String) throws -> [Int] {
        var shape = input
        for (i, layer) in layers.enumerated() {
            layerTotal += 1
            guard layerTotal <= ModelSpec.layerLimit else {
                throw ModelError.specification("model \(model): \(path)[\(i)]: more than \(ModelSpec.layerLimit) layers (counting those inside residual bodies)")
            }
            shape = try compile(layer, shape, path: "\(path)[\(i)]")
            guard Self.count(shape) != nil else {
                throw ModelError.specification("model \(model): \(path)[\(i)] (\(layer.kind.rawValue)): the output \(shape) has more than 2^40 elements per sample")
            }
        }
        return shape
    }

    private mutating func compile(_ layer: LayerSpec, _ shape: [Int], path: String) throws -> [Int] {
        func fail(_ message: String) -> ModelError { .specification("model \(model): \(path) (\(layer.kind.rawValue)): \(message)") }
        func image() throws -> (c: Int, h: Int, w: Int) {
            guard shape.count == 3 else { throw fail("needs a per-sample input [C, H, W], got \(shape)") }
            return (shape[0], shape[1], shape[2])
        }
        func tokens() throws -> (t: Int, d: Int) {
            guard shape.count == 2 else { throw fail("needs tokens [T, D] (after patchEmbed), got \(shape)") }
            return (shape[0], shape[1])
        }
        switch layer {
        case let .linear(out):
            guard out > 0 else { throw fail("out must be positive, got \(out)") }
            guard shape.count == 1 else { throw fail("needs a per-sample input [F], got \(shape) (add flatten, globalAvgPool or tokenMean before it)") }
            steps.append(.linear(try affine(next("fc"), weight: [out, shape[0]], fanIn: shape[0])))
            return [out]
        case let .conv2d(out, kernel, stride, padding):
            guard out > 0, kernel > 0, stride > 0, padding >= 0 else {
                throw fail("need out, kernel, stride > 0 and padding ≥ 0, got out \(out), kernel \(kernel), stride \(stride), padding \(padding)")
            }
            let (c, _, _) = try image()
            let filter = [out, c, kernel, kernel]
            let geometry: ConvolutionGeometry
            do { geometry = try ConvolutionGeometry.checked(input: [1] + shape, filter: filter, stride: stride, padding: padding) } catch {
                throw fail("input \(shape), filter \(filter), stride \(stride), padding \(padding): \(error)")
            }
            steps.append(.conv2d(try affine(next("conv"), weight: filter, fanIn: c * kernel * kernel), stride: stride, padding: padding))
            return Array(geometry.outputShape.dropFirst())
        case .relu:
            steps.append(.relu); return shape
        case .tanh:
            steps.append(.tanh); return shape
        case .gelu:
            steps.append(.gelu); return shape
        case .maxPool:
            let (c, h, w) = try image()
            guard h % 2 == 0, w % 2 == 0 else { throw fail("a 2×2 max-pool needs even height and width, got \(shape)") }
            steps.append(.maxPool); return [c, h / 2, w / 2]
        case let .avgPool(k):
            let (c, h, w) = try image()
            guard k > 0, k <= h, k <= w else { throw fail("kernel \(k) must be in 1…min(H, W) for input \(shape)") }
            steps.append(.avgPool(kernel: k)); return [c, h / k, w / k]
        case .globalAvgPool:
            let (c, _, _) = try image()
            steps.append(.globalAvgPool); return [c]
        case .flatten:
            steps.append(.flatten); return [shape.reduce(1, *)]
        case let .residual(body, projection):
            guard !body.isEmpty else { throw fail("the body is empty") }
            let name = next("res")
            steps.append(.residualStart)
            let out = try compile(body, input: shape, path: "\(path).residual.body")
            if out == shape && !projection { steps.append(.residualEnd(nil)); return out }
            if shape.count == 2 || out.count == 2 {
                throw fail("the body maps \(shape) to \(out)\(projection ? " and a projection is asked for" : ""): a projection is not available for [T, D] tokens")
            }
            if shape.count == 1 && out.count == 1 {
                steps.append(.residualEnd(.init(slot: try affine("\(name).proj", weight: [out[0], shape[0]], fanIn: shape[0]), convolutionStride: nil)))
            } else if shape.count == 3 && out.count == 3,
                      let stride = (1...shape[1]).first(where: { (shape[1] - 1) / $0 + 1 == out[1] && (shape[2] - 1) / $0 + 1 == out[2] }) {
                steps.append(.residualEnd(.init(slot: try affine("\(name).proj", weight: [out[0], shape[0], 1, 1], fanIn: shape[0]), convolutionStride: stride)))
            } else {
                throw fail("the body maps \(shape) to \(out): no projection fits (a linear map between [F] shapes, or a strided 1×1 convolution between [C, H, W] shapes)")
            }
            return out
        case .layerNorm:
            // Tokens: over D per token (weight [D]); otherwise over the whole sample (weight of its shape).
            let weight = shape.count == 2 ? [shape[1]] : shape
            steps.append(.layerNorm(try norm(next("ln"), shape: weight), features: weight.reduce(1, *)))
            return shape
        case .batchNorm:
            guard shape.count == 1 || shape.count == 3 else { throw fail("needs features [F] or images [C, H, W], got \(shape)") }
            let name = next("bn")
            let index = batchNorms.count
            batchNorms.append((name: name, width: shape[0], positions: shape.dropFirst().reduce(1, *)))
            steps.append(.batchNorm(.init(name: name, index: index, slot: try norm(name, shape: [shape[0]]), perChannel: shape.count == 3)))
            return shape
        case let .dropout(p):
            guard p >= 0, p < 1 else { throw fail("p must be in [0, 1), got \(p)") }
            if p > 0 { hasDropout = true }
            steps.append(.dropout(p: p)); return shape
        case let .patchEmbed(patch, dim):
            let (c, h, w) = try image()
            guard patch > 0, dim > 0, h % patch == 0, w % patch == 0 else {
                throw fail("need patch > 0 dividing H and W and dim > 0, got patch \(patch), dim \(dim) for input \(shape)")
            }
            let count = counters["patch", default: 0] + 1
            counters["patch"] = count
            let name = count == 1 ? "patch" : "patch\(count)", position = count == 1 ? "pos_embedding" : "pos_embedding\(count)"
            let tokens = (h / patch) * (w / patch)
            let slot = try affine(name, weight: [dim, c, patch, patch], fanIn: c * patch * patch, module: false)
            let p = try add(position, [tokens, dim], .normal(0.02))
            modules.append((name: name, entries: ["\(name).weight", "\(name).bias", position]))
            steps.append(.patchEmbed(slot, position: p, patch: patch))
            return [tokens, dim]
        case let .transformerBlock(heads, mlp):
            let (_, d) = try tokens()
            guard heads > 0, mlp > 0, d % heads == 0 else { throw fail("need heads > 0 dividing D = \(d) and mlp > 0, got heads \(heads), mlp \(mlp)") }
            let name = next("block")
            let norm1 = try norm("\(name).norm1", shape: [d], module: false)
            // q, k, v and out are four separate Linear layers with Linear's default initialization
            // (uniform ±1/√D for weights and biases), not nn.MultiheadAttention's (Xavier-uniform
            // in_proj_weight, zero in_proj_bias and out_proj.bias).
            let q = try affine("\(name).attn.q", weight: [d, d], fanIn: d, module: false)
            let k = try affine("\(name).attn.k", weight: [d, d], fanIn: d, module: false)
            let v = try affine("\(name).attn.v", weight: [d, d], fanIn: d, module: false)
            let out = try affine("\(name).attn.out", weight: [d, d], fanIn: d, module: false)
            let norm2 = try norm("\(name).norm2", shape: [d], module: false)
            let fc1 = try affine("\(name).mlp.fc1", weight: [mlp, d], fanIn: d, module: false)
            let fc2 = try affine("\(name).mlp.fc2", weight: [d, mlp], fanIn: mlp, module: false)
            func pair(_ n: String) -> [String] { ["\(name).\(n).weight", "\(name).\(n).bias"] }
            modules.append((name: "\(name).norm", entries: pair("norm1") + pair("norm2")))
            modules.append((name: "\(name).attn", entries: pair("attn.q") + pair("attn.k") + pair("attn.v") + pair("attn.out")))
            modules.append((name: "\(name).mlp", entries: pair("mlp.fc1") + pair("mlp.fc2")))
            steps.append(.transformerBlock(.init(heads: heads, norm1: norm1, q: q, k: k, v: v, out: out, norm2: norm2, fc1: fc1, fc2: fc2)))
            return shape
        case .tokenMean:
            let (_, d) = try tokens()
            steps.append(.tokenMean); return [d]
        }
    }
}

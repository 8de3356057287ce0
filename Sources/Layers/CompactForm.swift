import Foundation

/// The families of compact forms (`mlp:`, `cnn:`, `vit:`).
enum CompactKind: String, CaseIterable {
    case mlp, cnn, vit
}

/// The suffixes of the `mlp:` and `cnn:` forms (`+res`, …): their spelling, conflicts, help,
/// effect and canonical text in one table.
enum CompactSuffix: String, CaseIterable {
    // Declaration order is the canonical order of ``CompactForm/text``.
    case res, ln, bn, tanh, gelu, drop

    /// Suffixes of one group exclude each other (one normalization, one activation).
    var group: String {
        switch self {
        case .ln, .bn: return "normalization"
        case .tanh, .gelu: return "activation"
        case .res, .drop: return rawValue
        }
    }

    /// As written in lists of the known suffixes.
    var spelling: String { self == .drop ? "+dropP" : "+\(rawValue)" }

    /// What it does, for ``ModelSpec/compactFormHelp``.
    var help: String {
        switch self {
        case .res: return "+res: hidden layers after the first as residual blocks x + f(x); a block whose width or channels change adds a learned projection, P·x + f(x) (linear, or 1×1 convolution)"
        case .ln: return "+ln: LayerNorm before each hidden activation"
        case .bn: return "+bn: BatchNorm before each hidden activation"
        case .tanh: return "+tanh: tanh as the activation (default ReLU)"
        case .gelu: return "+gelu: GELU as the activation (default ReLU)"
        case .drop: return "+drop0.1: dropout with p in [0, 1) after each hidden fully connected activation"
        }
    }

    /// The suffix of `text` (`"res"`, `"drop0.1"`), or `nil` when it is none of the table's.
    init?(text: String) {
        if text.hasPrefix(Self.drop.rawValue) { self = .drop } else if let s = Self(rawValue: text), s != .drop { self = s } else { return nil }
    }

    /// Sets this suffix on `form`; `text` is the suffix as written. `false`: a `+dropP` whose P
    /// is not a number in [0, 1).
    func apply(_ text: String, to form: inout CompactForm) -> Bool {
        switch self {
        case .res: form.residual = true
        case .ln: form.norm = .layerNorm
        case .bn: form.norm = .batchNorm
        case .tanh: form.activation = .tanh
        case .gelu: form.activation = .gelu
        case .drop:
            guard let p = Double(text.dropFirst(rawValue.count)), p >= 0, p < 1 else { return false }
            form.dropout = p
        }
        return true
    }

    /// This suffix as `form` has it, or `nil` when `form` does not have it.
    func written(by form: CompactForm) -> String? {
        switch self {
        case .res: return form.residual ? "+res" : nil
        case .ln: return form.norm == .layerNorm ? "+ln" : nil
        case .bn: return form.norm == .batchNorm ? "+bn" : nil
        case .tanh: return form.activation == .tanh ? "+tanh" : nil
        case .gelu: return form.activation == .gelu ? "+gelu" : nil
        case .drop: return form.dropout.map { "+drop\($0)" }
        }
    }

    /// Whether `form`'s layers give this suffix something to act on: `+res` a hidden layer after
    /// the first (convolution stage or fully connected), `+drop` a hidden fully connected layer,
    /// the others a hidden layer.
    func applies(to form: CompactForm) -> Bool {
        let convolutions = form.kind == .cnn ? form.widths.count : 0
        let connected = form.kind == .cnn ? form.hidden.count : max(form.widths.count - 2, 0)
        switch self {
        case .res: return convolutions >= 2 || connected >= 2
        case .drop: return connected >= 1
        case .ln, .bn, .tanh, .gelu: return convolutions + connected >= 1
        }
    }
}

/// A parsed compact form: the grammar of ``ModelSpec/compactFormHelp`` in one place, its
/// expansion into layers, its canonical text, and its scaling (``ModelSpec/sized(toParameters:tolerance:)``).
struct CompactForm: Equatable {
    var kind: CompactKind
    /// mlp: all widths, input first; cnn: the convolutions' channel counts; vit: unused.
    var widths: [Int] = []
    /// cnn: the hidden fully connected widths after '/'.
    var hidden: [Int] = []
    /// vit settings.
    var patch = 0, dim = 0, depth = 0, heads = 0, mlp = 0
    var residual = false
    var norm: LayerSpec? = nil
    var activation: LayerSpec = .relu
    var dropout: Double? = nil

    /// The settings of a `vit:` form, in their canonical order: key, and where it is stored.
    static var vitSettings: [(key: String, value: WritableKeyPath<CompactForm, Int>)] {
        [("patch", \.patch), ("dim", \.dim), ("depth", \.depth), ("heads", \.heads), ("mlp", \.mlp)]
    }

    /// The classes of the `cnn:` and `vit:` forms (MNIST).
    static let classCount = 10
    /// The `cnn:` convolutions: 5×5, padding 2, stride 1 (the study's CNN).
    static let cnnKernel = 5, cnnPadding = 2

    static func fail(_ text: String, _ problem: String) -> ModelError {
        .specification("compact form '\(text)': \(problem)\n\(ModelSpec.compactFormHelp)")
    }

    /// Parses `kind:body+suffix+…`.
    init(parsing text: String) throws {
        guard let colon = text.firstIndex(of: ":") else { throw Self.fail(text, "expected 'mlp:', 'cnn:' or 'vit:' before the sizes") }
        let head = text[..<colon].lowercased()
        guard let kind = CompactKind(rawValue: head) else {
            throw Self.fail(text, "unknown family '\(head)' (known: \(CompactKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.kind = kind
        let parts = text[text.index(after: colon)...].split(separator: "+", omittingEmptySubsequences: false).map(String.init)
        let body = parts[0]
        guard !body.isEmpty else { throw Self.fail(text, "no sizes after '\(head):'") }

        func widthList(_ s: String, what: String) throws -> [Int] {
            var out: [Int] = []
            for item in s.split(separator: "-", omittingEmptySubsequences: false) {
                let pieces = item.split(separator: "x", omittingEmptySubsequences: false)
                guard pieces.count <= 2, let w = Int(pieces[0]), w > 0 else {
                    throw Self.fail(text, "\(what) '\(item)' is not a positive integer (or WxK: width W repeated K times)")
                }
                var repeats = 1
                if pieces.count == 2 {
                    guard let k = Int(pieces[1]), k > 0 else { throw Self.fail(text, "repeat count in '\(item)' is not a positive integer") }
                    repeats = k
                }
                guard repeats <= ModelSpec.layerLimit - out.count else {
                    throw Self.fail(text, "'\(s)' asks for more than \(ModelSpec.layerLimit) \(what)s (at '\(item)')")
                }
                out += Array(repeating: w, count: repeats)
            }
            return out
        }

        switch kind {
        case .mlp:
            widths = try widthList(body, what: "width")
            guard widths.count >= 2 else { throw Self.fail(text, "an mlp needs at least an input and an output width, got '\(body)'") }
        case .cnn:
            let halves = body.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard halves.count <= 2 else { throw Self.fail(text, "more than one '/' in '\(body)'") }
            widths = try widthList(halves[0], what: "channel count")
            if halves.count == 2 { hidden = try widthList(halves[1], what: "hidden width") }
        case .vit:
            var seen = Set<String>()
            let keys = Self.vitSettings.map(\.key)
            for item in body.split(separator: "-", omittingEmptySubsequences: false).map(String.init) {
                guard let setting = Self.vitSettings.first(where: { item.hasPrefix($0.key) }),
                      let v = Int(item.dropFirst(setting.key.count)), v > 0 else {
                    throw Self.fail(text, "'\(item)' is not one of \(keys.map { "\($0)N" }.joined(separator: ", ")) with a positive integer N")
                }
                guard seen.insert(setting.key).inserted else { throw Self.fail(text, "'\(setting.key)' is given twice") }
                self[keyPath: setting.value] = v
            }
            let missing = keys.filter { !seen.contains($0) }
            guard missing.isEmpty else { throw Self.fail(text, "missing \(missing.joined(separator: ", "))") }
            guard dim % heads == 0 else { throw Self.fail(text, "dim \(dim) is not divisible by heads \(heads)") }
            guard depth <= ModelSpec.layerLimit else { throw Self.fail(text, "depth \(depth) is more than \(ModelSpec.layerLimit) blocks") }
        }

        var seenGroups = Set<String>()
        var given: [(CompactSuffix, String)] = []
        for written in parts.dropFirst() {
            guard let suffix = CompactSuffix(text: written) else {
                throw Self.fail(text, "unknown suffix '+\(written)' (known: \(CompactSuffix.allCases.map(\.spelling).joined(separator: ", ")))")
            }
            guard seenGroups.insert(suffix.group).inserted else { throw Self.fail(text, "suffix '+\(written)' conflicts with an earlier one") }
            if kind == .vit { throw Self.fail(text, "suffix '+\(written)': vit takes no suffixes") }
            guard suffix.apply(written, to: &self) else {
                throw Self.fail(text, "suffix '+\(written)': the dropout probability must be a number in [0, 1), e.g. +drop0.1")
            }
            given.append((suffix, written))
        }
        // After all suffixes are read, so that unknown and conflicting ones are named first.
        for (suffix, written) in given where !suffix.applies(to: self) {
            throw Self.fail(text, "suffix '+\(written)' has nothing to apply to (\(suffix == .res ? "it needs two hidden layers or convolution stages" : suffix == .drop ? "it needs a hidden fully connected layer" : "it needs a hidden layer"))")
        }
    }

    /// The canonical text: runs of equal hidden widths as WxK, suffixes in a fixed order.
    var text: String {
        func run(_ ws: [Int]) -> String {
            var items: [String] = []
            var i = 0
            while i < ws.count {
                var j = i
                while j + 1 < ws.count, ws[j + 1] == ws[i] { j += 1 }
                items.append(j > i ? "\(ws[i])x\(j - i + 1)" : "\(ws[i])")
                i = j + 1
            }
            return items.joined(separator: "-")
        }
        var body: String
        switch kind {
        case .mlp: body = ([String(widths[0])] + (widths.count > 2 ? [run(Array(widths.dropFirst().dropLast()))] : []) + [String(widths.last!)]).joined(separator: "-")
        case .cnn: body = run(widths) + (hidden.isEmpty ? "" : "/" + run(hidden))
        case .vit: body = Self.vitSettings.map { "\($0.key)\(self[keyPath: $0.value])" }.joined(separator: "-")
        }
        body += CompactSuffix.allCases.compactMap { $0.written(by: self) }.joined()
        return "\(kind.rawValue):\(body)"
    }

    /// A hidden layer: the map, the normalization, the activation, dropout; as a residual block
    /// when asked for (`residual` and not the first hidden layer).
    func hiddenLayer(_ map: LayerSpec, residual: Bool, withDropout: Bool) -> [LayerSpec] {
        var body = [map] + (norm.map { [$0] } ?? []) + [activation]
        if withDropout, let p = dropout { body.append(.dropout(p: p)) }
        return residual ? [.residual(body: body, projection: false)] : body
    }

    /// The input shape and the layers.
    var expansion: (input: [Int], layers: [LayerSpec]) {
        switch kind {
        case .mlp:
            var layers: [LayerSpec] = []
            let hiddenWidths = widths.dropFirst().dropLast()
            for (i, w) in hiddenWidths.enumerated() {
                layers += hiddenLayer(.linear(out: w), residual: residual && i > 0, withDropout: true)
            }
            layers.append(.linear(out: widths.last!))
            return ([widths[0]], layers)
        case .cnn:
            var layers: [LayerSpec] = []
            for (i, c) in widths.enumerated() {
                layers += hiddenLayer(.conv2d(out: c, kernel: Self.cnnKernel, stride: 1, padding: Self.cnnPadding), residual: residual && i > 0, withDropout: false)
                layers.append(.maxPool)
            }
            layers.append(.flatten)
            for (i, w) in hidden.enumerated() {
                layers += hiddenLayer(.linear(out: w), residual: residual && i > 0, withDropout: true)
            }
            layers.append(.linear(out: Self.classCount))
            return (ModelSpec.mnistInput, layers)
        case .vit:
            var layers: [LayerSpec] = [.patchEmbed(patch: patch, dim: dim)]
            layers += Array(repeating: .transformerBlock(heads: heads, mlp: mlp), count: depth)
            layers += [.layerNorm, .tokenMean, .linear(out: Self.classCount)]
            return (ModelSpec.mnistInput, layers)
        }
    }

    /// The form with its hidden sizes scaled by `s` (each at least 1 and at most
    /// ``SpecCompiler/elementLimit``, beyond which the spec is refused anyway; a vit's dim a multiple of heads).
    func scaled(by s: Double) -> CompactForm {
        func clamped(_ x: Double) -> Int { Int(min(max(x.rounded(), 1), Double(SpecCompiler.elementLimit))) }
        func scale(_ w: Int) -> Int { clamped(Double(w) * s) }
        var f = self
        switch kind {
        case .mlp: f.widths = [widths[0]] + widths.dropFirst().dropLast().map(scale) + [widths.last!]
        case .cnn: f.widths = widths.map(scale); f.hidden = hidden.map(scale)
        case .vit: f.dim = heads * clamped(Double(dim) * s / Double(heads)); f.mlp = scale(mlp)
        }
        return f
    }

    /// The spec, named by the text with its first ':' written '-'.
    var spec: ModelSpec {
        let (input, layers) = expansion
        return ModelSpec(name: text.replacingOccurrences(of: ":", with: "-"), input: input, layers: layers)
    }
}

extension ModelSpec {
    /// The grammar of the compact forms, for `--help` and error messages.
    public static let compactFormHelp = """
    Models: a preset (\(presetForms.map { "\($0.name) = \($0.form)" }.joined(separator: ", "))), a compact form, or a JSON object.
      mlp:784-256-256-10        linear layers of these widths (input first), the activation between; WxK repeats a width (784-128x4-10)
      cnn:16-32/128             per channel count a 5×5 convolution (padding 2), the activation and a 2×2 max-pool; flatten;
                                linear layers of the widths after '/' (optional) with the activation; linear → 10
      vit:patch7-dim32-depth2-heads4-mlp64
                                patch embedding (kernel = stride = patch) and a position embedding, depth pre-norm encoder
                                blocks (heads divides dim, FFN width mlp, GELU), LayerNorm, mean over tokens, linear → 10
      at most \(layerLimit) widths per list and \(layerLimit) blocks; suffixes for mlp and cnn, joined by '+', each needing a layer to act on:
    \(CompactSuffix.allCases.map { "    " + $0.help }.joined(separator: "\n"))
    """

    /// A compact form's spec.
    init(compact text: String) throws {
        self = try CompactForm(parsing: text).spec
    }

    /// This spec's compact form with its hidden widths (mlp), channels and hidden widths (cnn) or
    /// dim and FFN width (vit) scaled by one factor so that the parameter count is within
    /// `tolerance` (relative) of `target`: the closest count found by bisection on the factor.
    /// - Throws: ``ModelError/specification(_:)`` for a spec without a compact form, a target < 1,
    ///   or when no scaling comes within the tolerance (naming the closest count).
    public func sized(toParameters target: Int, tolerance: Double = 0.1) throws -> ModelSpec {
        guard let text = compactForm else {
            throw ModelError.specification("model \(name): only a preset or a compact form can be sized (this one is a JSON object)")
        }
        guard target >= 1, tolerance >= 0 else { throw ModelError.specification("sizing \(description): need a target ≥ 1 and a tolerance ≥ 0, got \(target) and \(tolerance)") }
        let form = try CompactForm(parsing: text)
        // A count over the compiler's limit (a ModelError) is "too many".
        func count(_ s: Double) -> (Int, CompactForm) {
            let f = form.scaled(by: s)
            return ((try? f.spec.parameterCount) ?? Int.max, f)
        }
        var best = count(1)
        func consider(_ c: (Int, CompactForm)) { if abs(c.0 - target) < abs(best.0 - target) { best = c } }
        // log₂ of the factor: widen [lo, hi] by 12 at a time (to ±60) until it brackets the target, then bisect.
        var lo = -12.0, hi = 12.0
        while hi < 60, count(Foundation.pow(2, hi)).0 < target { lo = hi; hi += 12 }
        while lo > -60, count(Foundation.pow(2, lo)).0 > target { hi = lo; lo -= 12 }
        for _ in 0..<80 {
            let mid = (lo + hi) / 2
            let c = count(Foundation.pow(2, mid))
            consider(c)
            if c.0 == target { break }
            if c.0 < target { lo = mid } else { hi = mid }
        }
        let relative = Double(abs(best.0 - target)) / Double(target)
        guard relative <= tolerance else {
            throw ModelError.specification("sizing \(description) to \(target) parameters: the closest is \(best.1.text) with \(best.0) (off by \(String(format: "%.1f", 100 * relative)) %, tolerance \(String(format: "%.1f", 100 * tolerance)) %)")
        }
        return best.1.spec
    }
}

import Foundation

/// A model as data: the per-sample input shape and the layers, from which ``make()`` builds a
/// ``SpecModel`` (parameter layout with PyTorch names, initialization, logits in every number
/// system).
///
/// Written three ways, all accepted by ``init(parsing:)`` and by decoding: a preset name
/// (`"mlp"`, `"cnn"`), a compact form (`"mlp:784-512-512-10+res"`, ``compactFormHelp``), or a
/// JSON object `{"name": …, "input": [1, 28, 28], "layers": [...]}` (``LayerSpec``). Encoding
/// writes the shortest of the three that the spec has, so a configuration naming a preset
/// writes the bytes it wrote when models were named by the enum `ModelKind` (`"mlp"`).
public struct ModelSpec: Hashable, Sendable, CustomStringConvertible {
    /// The name used by configurations, CSV columns and per-model maps: the preset's name, the
    /// compact form with its first ':' written '-' (`"mlp-784-512-512-10"`), or the JSON's "name".
    public var name: String
    /// The per-sample input shape: `[F]` or `[C, H, W]`; a batch is given as rows `[N, ∏input]`.
    public var input: [Int]
    /// The layers, in order; the last one's output `[classes]` are the logits.
    public var layers: [LayerSpec]

    /// A spec from its parts; nothing is checked until ``make()``.
    public init(name: String, input: [Int], layers: [LayerSpec]) {
        self.name = name; self.input = input; self.layers = layers
    }

    /// The MNIST image shape, the input of the compact `cnn:` and `vit:` forms and of a JSON object without "input".
    public static let mnistInput = [1, 28, 28]

    /// The presets' names and defining compact forms: the one table from which ``mlp``, ``cnn``,
    /// ``presets``, ``compactForm`` and ``compactFormHelp`` follow.
    static let presetForms: [(name: String, form: String)] = [("mlp", "mlp:784-256-256-10"), ("cnn", "cnn:16-32/128")]

    /// The MLP of the study, 784→256→256→10 with ReLU: the same layout, initial θ and logits as ``MLP``.
    public static let mlp = preset("mlp")
    /// The CNN of the study: the same layout, initial θ and logits as ``CNN``.
    public static let cnn = preset("cnn")
    /// The presets, the one list of preset names.
    public static let presets: [ModelSpec] = presetForms.map { preset($0.name) }

    /// The most hidden widths (or channel counts, or transformer blocks) of a compact form, and
    /// the most layers of a spec counting those inside residual bodies: beyond it a spec is
    /// refused before anything is built.
    public static let layerLimit = 10_000

    private static func preset(_ name: String) -> ModelSpec {
        guard let form = presetForms.first(where: { $0.name == name })?.form else { preconditionFailure("ModelSpec: no preset \(name)") }
        do {
            var spec = try ModelSpec(compact: form)
            spec.name = name
            return spec
        } catch { preconditionFailure("ModelSpec: the preset \(name) does not parse: \(error)") }
    }

    /// Whether this is one of the ``presets``.
    public var isPreset: Bool { Self.presets.contains(self) }

    /// The compact text of this spec when it has one (a preset's defining form,
    /// `"mlp:784-256-256-10"` for ``mlp``), else `nil`.
    public var compactForm: String? {
        if isPreset, let form = Self.presetForms.first(where: { $0.name == name })?.form { return form }
        guard let dash = name.firstIndex(of: "-"), CompactKind(rawValue: String(name[..<dash])) != nil else { return nil }
        var text = name
        text.replaceSubrange(dash...dash, with: ":")
        return (try? ModelSpec(compact: text)) == self ? text : nil
    }

    /// The preset's name, the compact form, or the name.
    public var description: String {
        if isPreset { return name }
        return compactForm ?? name
    }

    /// A preset name (any case), a compact form (``compactFormHelp``), or a JSON object (text
    /// starting with `{`).
    /// - Throws: ``ModelError/specification(_:)`` naming the part of the text that is wrong,
    ///   with the grammar.
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if let preset = Self.presets.first(where: { $0.name == t.lowercased() }) { self = preset; return }
        if t.hasPrefix("{") {
            do { self = try JSONDecoder().decode(ModelSpec.self, from: Data(t.utf8)) } catch let error as ModelError { throw error } catch {
                throw ModelError.specification("model JSON: \(Self.describe(error))")
            }
            return
        }
        if t.contains(":") { self = try ModelSpec(compact: t); return }
        throw ModelError.specification("unknown model '\(t)'; known presets: \(Self.presets.map(\.name).joined(separator: ", ")), or a compact form or a JSON object:\n\(Self.compactFormHelp)")
    }

    /// The layers built: layout, initialization and logits.
    /// - Throws: ``ModelError/specification(_:)`` naming the layer (its index, e.g. `layer 3` or
    ///   `layer 2.body.1`, and kind) and the shapes when a layer does not fit its input.
    public func make() throws -> SpecModel { try SpecModel(spec: self) }

    /// The number of parameters d (the length of θ).
    /// - Throws: as ``make()``.
    public var parameterCount: Int { get throws { try make().layout.parameterCount } }

    /// A decoding error's message with its path (`layers[2].conv2d: …`).
    static func describe(_ error: Error) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case let DecodingError.dataCorrupted(c): return (c.codingPath.isEmpty ? "" : "\(path(c.codingPath)): ") + c.debugDescription
        case let DecodingError.keyNotFound(key, c): return "\(path(c.codingPath + [key])): missing" + (c.debugDescription.isEmpty ? "" : " (\(c.debugDescription))")
        case let DecodingError.typeMismatch(type, c): return "\(path(c.codingPath)): expected \(type)"
        case let DecodingError.valueNotFound(type, c): return "\(path(c.codingPath)): expected \(type), got null"
        default: return "\(error)"
        }
    }
}

extension ModelSpec: Codable {
    private enum Keys: String, CodingKey { case name, input, layers }

    /// Decodes a string (``init(parsing:)``: a preset or a compact form) or an object with
    /// "layers" and optional "name" (default "custom") and "input" (default ``mnistInput``).
    public init(from decoder: Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let text = try? single.decode(String.self) {
            do { self = try ModelSpec(parsing: text) } catch {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
            }
            return
        }
        let c = try decoder.container(keyedBy: Keys.self)
        let allowed = Set(["name", "input", "layers"])
        if let extra = try decoder.container(keyedBy: AnyKey.self).allKeys.first(where: { !allowed.contains($0.stringValue) }) {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "a model object has no key '\(extra.stringValue)'; its keys: name, input, layers"))
        }
        self.init(name: try c.decodeIfPresent(String.self, forKey: .name) ?? "custom",
                  input: try c.decodeIfPresent([Int].self, forKey: .input) ?? Self.mnistInput,
                  layers: try c.decode([LayerSpec].self, forKey: .layers))
    }

    /// A preset as its name, a spec with a compact form as that form, anything else as an object.
    public func encode(to encoder: Encoder) throws {
        if isPreset {
            var c = encoder.singleValueContainer(); try c.encode(name)
        } else if let form = compactForm {
            var c = encoder.singleValueContainer(); try c.encode(form)
        } else {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(name, forKey: .name)
            try c.encode(input, forKey: .input)
            try c.encode(layers, forKey: .layers)
        }
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { stringValue = "\(intValue)"; self.intValue = intValue }
}

extension ModelSpec {
    /// The ``presets`` whose parameter layout is exactly `tensors` (``layoutMismatch(_:)`` is
    /// `nil`): a parameter file written by `train` (``/Autodiff/ParameterLayout`` names and
    /// shapes, PyTorch's) matches at most one; an empty result means it is no preset's.
    /// - Throws: ``ModelError`` when a preset cannot be built (not expected).
    public static func presets(matching tensors: [(name: String, shape: [Int])]) throws -> [ModelSpec] {
        try presets.filter { try $0.layoutMismatch(tensors) == nil }
    }

    /// How `tensors` differ from this spec's parameter layout: the first missing tensor
    /// (`no tensor fc3.bias (mlp has fc3.bias [10])`), one of another shape
    /// (`fc1.weight is [4, 784], mlp has [256, 784]`), or one the layout does not have
    /// (`mlp has no tensor extra`); `nil` when they are its layout.
    /// - Throws: ``ModelError`` when the specification cannot be built.
    public func layoutMismatch(_ tensors: [(name: String, shape: [Int])]) throws -> String? {
        let layout = try make().layout
        let given = Dictionary(tensors.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
        for e in layout.entries {
            guard let shape = given[e.name] else { return "no tensor \(e.name) (\(name) has \(e.name) \(e.shape))" }
            guard shape == e.shape else { return "\(e.name) is \(shape), \(name) has \(e.shape)" }
        }
        let names = Set(layout.entries.map(\.name))
        if let extra = tensors.first(where: { !names.contains($0.name) }) { return "\(name) has no tensor \(extra.name)" }
        return nil
    }

    /// The parameter layout as `name [shape], …` (for messages listing what a model expects).
    /// - Throws: ``ModelError`` when the specification cannot be built.
    public func layoutSummary() throws -> String {
        try make().layout.entries.map { "\($0.name) \($0.shape)" }.joined(separator: ", ")
    }
}

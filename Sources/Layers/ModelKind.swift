/// The two reference structs ``MLP`` and ``CNN`` by name. Not the list of model names: models are
/// ``ModelSpec``s and their preset names are ``ModelSpec/presets``; this enum remains only for
/// `BatchChunking.rows(for: ModelKind)`, the benchmarks and tests.
public enum ModelKind: String, CaseIterable, Codable, CodingKeyRepresentable, Sendable {
    /// The MLP, 784→256→256→10 (``MLP``).
    case mlp
    /// The CNN of the study (``CNN``).
    case cnn

    /// The model with its default sizes (``MLP/init(sizes:)``, ``CNN``).
    /// - Throws: ``ModelError`` (not expected for the defaults).
    public func make() throws -> any Model {
        switch self {
        case .mlp: return MLP()
        case .cnn: return try CNN()
        }
    }

    /// Rows per chunk of a probe batch in Hessian-vector products when the model has a measured
    /// preference (`nil`: none): the CNN's HVP costs less per sample in chunks of 64.
    public var probeChunkRows: Int? {
        switch self {
        case .mlp: return nil
        case .cnn: return 64
        }
    }
}

/// Looks up a model by name (case-insensitive) and builds it with its default sizes.
/// - Throws: ``ModelError/unknownModel(_:known:)`` listing the known names.
public func makeModel(named name: String) throws -> any Model {
    guard let kind = ModelKind(rawValue: name.lowercased()) else {
        throw ModelError.unknownModel(name, known: ModelKind.allCases.map(\.rawValue))
    }
    return try kind.make()
}

extension ModelKind {
    /// The models whose parameter layout (default sizes) is exactly `tensors`: the same names,
    /// each with the layout's shape, and no other tensor. A parameter file written by `train`
    /// (``/Autodiff/ParameterLayout`` names and shapes, PyTorch's) matches one model; an empty result means
    /// the file is no model's (``layoutMismatch(_:)`` says why).
    /// - Throws: ``ModelError`` when a model cannot be built with its default sizes (not expected).
    public static func matching(tensors: [(name: String, shape: [Int])]) throws -> [ModelKind] {
        try allCases.filter { try $0.layoutMismatch(tensors) == nil }
    }

    /// How `tensors` differ from this model's parameter layout (default sizes): the first missing
    /// tensor, one of another shape, or one the layout does not have; `nil` when they are its layout.
    /// - Throws: ``ModelError`` when the model cannot be built with its default sizes (not expected).
    public func layoutMismatch(_ tensors: [(name: String, shape: [Int])]) throws -> String? {
        let layout = try make().layout
        let given = Dictionary(tensors.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
        for e in layout.entries {
            guard let shape = given[e.name] else { return "no tensor \(e.name) (\(rawValue) has \(e.name) \(e.shape))" }
            guard shape == e.shape else { return "\(e.name) is \(shape), \(rawValue) has \(e.shape)" }
        }
        let names = Set(layout.entries.map(\.name))
        if let extra = tensors.first(where: { !names.contains($0.name) }) { return "\(rawValue) has no tensor \(extra.name)" }
        return nil
    }

    /// The layout as `name [shape], …` (for messages listing what a model expects).
    /// - Throws: ``ModelError`` when the model cannot be built with its default sizes (not expected).
    public func layoutSummary() throws -> String {
        try make().layout.entries.map { "\($0.name) \($0.shape)" }.joined(separator: ", ")
    }
}

/// The models of this package by name: the one list of model names (CLI options, configuration
/// files, run.json, the study's `models`).
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

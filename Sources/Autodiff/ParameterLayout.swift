import Tensors

/// Errors of the differentiation API: wrong lengths, non-scalar outputs, sizes over a limit.
public enum AutodiffError: Error, CustomStringConvertible, Equatable {
    /// A flat vector has the wrong number of elements.
    case lengthMismatch(what: String, expected: Int, actual: Int)
    /// The function's output is not a scalar (rank 0 or one element).
    case nonScalarOutput(shape: [Int])
    /// A dense Hessian was requested above the size limit.
    case tooLarge(parameters: Int, limit: Int)
    /// An argument is out of its valid range.
    case invalidArgument(String)
    /// The Taylor expansion at the point exists only through order `knownOrder` (a power such as
    /// t^1.5 or a pole at t = 0), and order `requested` was asked for.
    case noTaylorExpansion(knownOrder: Int, requested: Int)

    public var description: String {
        switch self {
        case let .lengthMismatch(what, expected, actual):
            return "\(what) has \(actual) elements, expected \(expected)"
        case let .nonScalarOutput(shape):
            return "the function must return a scalar (shape [] or one element), got shape \(shape)"
        case let .tooLarge(parameters, limit):
            return "a dense Hessian of \(parameters) parameters exceeds the limit of \(limit) (raise the limit to allow it: it needs \(parameters) HVPs and \(parameters)² values)"
        case let .invalidArgument(message):
            return message
        case let .noTaylorExpansion(knownOrder, requested):
            return "the Taylor expansion at this point exists only through order \(knownOrder) (the function is not smooth there, e.g. t^1.5 or √t at t = 0); order \(requested) was requested"
        }
    }
}

/// The layout of a model's parameters inside one flat vector θ of length ``parameterCount``
/// (`Notes/architecture.md`, "Parameters are one flat vector").
///
/// Entries are stored back to back in the order given, each row-major. Gradients,
/// HVPs, directions and optimizer state use the same layout.
public struct ParameterLayout: Sendable, Equatable {
    /// One named parameter tensor.
    public struct Entry: Sendable, Equatable {
        /// The tensor's name, e.g. "fc1.weight" (PyTorch naming).
        public let name: String
        /// Its shape, e.g. `[out, in]` for a linear weight.
        public let shape: [Int]
        /// The index of its first element in θ.
        public let offset: Int
        /// The number of elements.
        public var count: Int { shape.reduce(1, *) }
        /// The range of θ it occupies.
        public var range: Range<Int> { offset..<(offset + count) }
    }

    /// The entries, in θ order.
    public let entries: [Entry]
    /// The length d of θ.
    public let parameterCount: Int

    /// Lays out the given tensors back to back.
    /// - Precondition: names are unique and dimensions non-negative.
    public init(_ items: [(name: String, shape: [Int])]) {
        var offset = 0
        var entries: [Entry] = []
        for item in items {
            precondition(item.shape.allSatisfy { $0 >= 0 }, "ParameterLayout: \(item.name) has a negative dimension \(item.shape)")
            entries.append(Entry(name: item.name, shape: item.shape, offset: offset))
            offset += item.shape.reduce(1, *)
        }
        precondition(Set(entries.map(\.name)).count == entries.count, "ParameterLayout: duplicate names in \(entries.map(\.name))")
        self.entries = entries
        self.parameterCount = offset
    }

    /// A layout of a single rank-1 block of length `count`, named `name`.
    public init(vectorOf count: Int, name: String = "x") { self.init([(name: name, shape: [count])]) }

    /// The entry named `name`, if any.
    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// The position of the entry named `name` among ``entries`` (and so among the per-entry
    /// values an ``Objective`` receives).
    /// - Precondition: the layout has such an entry.
    public func index(of name: String) -> Int {
        guard let i = entries.firstIndex(where: { $0.name == name }) else { preconditionFailure("ParameterLayout: no entry named \(name)") }
        return i
    }

    /// Checks that `θ` has ``parameterCount`` elements.
    /// - Throws: ``AutodiffError/lengthMismatch(what:expected:actual:)`` naming `what`.
    public func validate<E>(_ θ: Tensor<E>, as what: String = "the parameter vector") throws {
        guard θ.count == parameterCount else { throw AutodiffError.lengthMismatch(what: what, expected: parameterCount, actual: θ.count) }
    }

    /// Splits θ into one tensor per entry, shaped as the entry.
    /// - Throws: ``AutodiffError/lengthMismatch(what:expected:actual:)`` if θ has the wrong length.
    public func split<E>(_ θ: Tensor<E>, as what: String = "the parameter vector") throws -> [Tensor<E>] {
        try validate(θ, as: what)
        return entries.map { θ.flatSlice($0.range).reshaped($0.shape) }
    }

    /// Concatenates per-entry tensors back into a flat vector of length ``parameterCount``.
    /// - Precondition: one tensor per entry, each with the entry's element count.
    public func flatten<E>(_ blocks: [Tensor<E>]) -> Tensor<E> {
        precondition(blocks.count == entries.count, "ParameterLayout.flatten: \(blocks.count) blocks for \(entries.count) entries")
        for (b, e) in zip(blocks, entries) {
            precondition(b.count == e.count, "ParameterLayout.flatten: \(e.name) has \(b.count) elements, expected \(e.count)")
        }
        return Tensor.concatenateFlat(blocks)
    }
}

/// Errors raised by tensor construction and shape checks at API boundaries.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    /// The number of scalars does not match the product of the shape.
    case scalarCountMismatch(shape: [Int], expected: Int, actual: Int)
    /// A dimension is negative.
    case negativeDimension(shape: [Int])
    /// Two operands of an operation have incompatible shapes.
    case shapeMismatch(operation: String, lhs: [Int], rhs: [Int])

    public var description: String {
        switch self {
        case let .scalarCountMismatch(shape, expected, actual):
            return "tensor of shape \(shape) needs \(expected) scalars, got \(actual)"
        case let .negativeDimension(shape):
            return "tensor shape \(shape) has a negative dimension"
        case let .shapeMismatch(operation, lhs, rhs):
            return "\(operation): incompatible shapes \(lhs) and \(rhs)"
        }
    }
}

/// A dense, row-major, contiguous n-dimensional array of `Float` or `Double`.
///
/// `Tensor` has value semantics: its storage is a Swift array, copied on write.
/// A rank-0 tensor (shape `[]`) holds one scalar. Operations check shapes with a
/// precondition whose message names the operation and both shapes; API entry
/// points that take user data (``init(shape:validating:)``) throw ``TensorError``.
public struct Tensor<Element: TensorScalar>: Sendable, Equatable {
    /// The dimensions, outermost first. `[]` for a scalar.
    @inlinable public var shape: [Int] { _shape }
    /// The elements in row-major order; `scalars.count == shape.reduce(1, *)`.
    @inlinable public var scalars: [Element] { _scalars }
    @usableFromInline var _shape: [Int]
    @usableFromInline var _scalars: [Element]

    /// Creates a tensor, trapping with a clear message if `scalars.count` is not the product of `shape`.
    /// Use ``init(shape:validating:)`` for untrusted input.
    @inlinable
    public init(shape: [Int], scalars: [Element]) {
        let n = shape.reduce(1, *)
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: shape \(shape) has a negative dimension")
        precondition(n == scalars.count, "Tensor: shape \(shape) needs \(n) scalars, got \(scalars.count)")
        self._shape = shape
        self._scalars = scalars
    }

    /// Creates a tensor from untrusted input.
    /// - Throws: ``TensorError/negativeDimension(shape:)`` or ``TensorError/scalarCountMismatch(shape:expected:actual:)``.
    public init(shape: [Int], validating scalars: [Element]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw TensorError.negativeDimension(shape: shape) }
        let n = shape.reduce(1, *)
        guard n == scalars.count else { throw TensorError.scalarCountMismatch(shape: shape, expected: n, actual: scalars.count) }
        self._shape = shape
        self._scalars = scalars
    }

    /// A rank-0 tensor holding `value`.
    @inlinable
    public init(_ value: Element) { self.init(shape: [], scalars: [value]) }

    /// A rank-1 tensor of shape `[values.count]`.
    @inlinable
    public init(_ values: [Element]) { self.init(shape: [values.count], scalars: values) }

    /// A tensor of the given shape with every element equal to `value`.
    @inlinable
    public init(repeating value: Element, shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: shape \(shape) has a negative dimension")
        self.init(shape: shape) { y, n in Element.fill(y, value: value, count: n) }
    }

    /// A tensor of zeros.
    @inlinable
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }

    /// Allocates an uninitialized tensor and lets `body` fill all `count` elements.
    @inlinable
    public init(shape: [Int], unsafeUninitialized body: (UnsafeMutablePointer<Element>, Int) -> Void) {
        let n = shape.reduce(1, *)
        let s = [Element](unsafeUninitializedCapacity: n) { buffer, initialized in
            if n > 0 { body(buffer.baseAddress!, n) }
            initialized = n
        }
        self._shape = shape
        self._scalars = s
    }

    /// Converts the elements of another tensor (rounding to nearest).
    @inlinable
    public init<Other: TensorScalar>(converting other: Tensor<Other>) {
        self.init(shape: other.shape, scalars: other.scalars.map { Element(Double($0)) })
    }

    /// The number of elements.
    @inlinable public var count: Int { scalars.count }
    /// The number of dimensions.
    @inlinable public var rank: Int { shape.count }
    /// The single value of a tensor with one element (rank 0 or all dimensions 1).
    @inlinable public var scalar: Element {
        precondition(scalars.count == 1, "Tensor.scalar: tensor of shape \(shape) has \(scalars.count) elements, not 1")
        return scalars[0]
    }

    /// Reads the scalars through a pointer.
    @inlinable
    public func withUnsafePointer<R>(_ body: (UnsafePointer<Element>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer { try body($0.baseAddress ?? UnsafePointer(bitPattern: 8)!) }
    }

    /// Mutates the scalars in place through a pointer (copying first if the storage is shared).
    @inlinable
    public mutating func withUnsafeMutablePointer<R>(_ body: (UnsafeMutablePointer<Element>) throws -> R) rethrows -> R {
        try _scalars.withUnsafeMutableBufferPointer { try body($0.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!) }
    }

    /// The same scalars under a new shape with the same element count.
    /// - Precondition: `newShape.reduce(1, *) == count`.
    @inlinable
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "reshape: cannot view \(shape) (\(count) elements) as \(newShape)")
        var t = self
        t._shape = newShape
        return t
    }

    /// Elements `range` of the flattened tensor as a rank-1 tensor (a copy).
    @inlinable
    public func flatSlice(_ range: Range<Int>) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "flatSlice: range \(range) outside 0..<\(count)")
        return Tensor(shape: [range.count]) { y, n in withUnsafePointer { Element.copy($0 + range.lowerBound, y, count: n) } }
    }

    /// Concatenates the flattened scalars of `parts` into one rank-1 tensor.
    public static func concatenateFlat(_ parts: [Tensor]) -> Tensor {
        return Tensor(shape: [parts.reduce(0) { $0 + $1.count }]) { y, _ in
            var offset = 0
            for p in parts {
                p.withUnsafePointer { Element.copy($0, y + offset, count: p.count) }
                offset += p.count
            }
        }
    }

    /// Row `i` of a rank-2 tensor... or generally the sub-tensor at index `i` of the first axis.
    @inlinable
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "rows: range \(range) outside the first axis of \(shape)")
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(shape: [range.count] + shape.dropFirst()) { y, n in withUnsafePointer { Element.copy($0 + range.lowerBound * inner, y, count: n) } }
    }

    /// Gathers the sub-tensors at `indices` along the first axis (e.g. a mini-batch of images).
    public func gatherRows(_ indices: [Int]) -> Tensor {
        precondition(rank >= 1, "gatherRows: rank-0 tensor")
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(shape: [indices.count] + shape.dropFirst()) { out, _ in
            self.withUnsafePointer { src in
                for (r, i) in indices.enumerated() {
                    precondition(i >= 0 && i < shape[0], "gatherRows: index \(i) outside 0..<\(shape[0])")
                    Element.copy(src + i * inner, out + r * inner, count: inner)
                }
            }
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        if count <= 16 { return "Tensor\(shape)(\(scalars.map { "\($0)" }.joined(separator: ", ")))" }
        return "Tensor\(shape)(\(scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")), …)"
    }
}

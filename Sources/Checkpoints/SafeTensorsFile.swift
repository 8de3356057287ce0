import Foundation

/// One tensor's header entry in a safetensors file (format by Hugging Face).
public struct SafeTensorsEntry: Sendable, Hashable {
    /// The element type of a tensor in the file.
    public typealias DType = SafeTensorsDType

    /// The tensor's name (the header key).
    public let name: String
    /// Dimensions, outermost first (row-major / C order). `[]` is a scalar.
    public let shape: [Int]
    /// Element type.
    public let dtype: DType
    /// Byte range `begin ..< end` of the data, relative to the start of the byte
    /// buffer that follows the header (the header's `"data_offsets"`).
    public let dataOffsets: Range<Int>

    /// Number of elements: the product of `shape` (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
    /// Number of data bytes: `elementCount * dtype.byteSize`.
    public var byteCount: Int { dataOffsets.count }

    /// An entry: `name`, `shape`, `dtype` and its byte range in the data buffer (relative to the end of the header).
    public init(name: String, shape: [Int], dtype: DType, dataOffsets: Range<Int>) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.dataOffsets = dataOffsets
    }
}

/// A validated safetensors file (format by Hugging Face), as returned by
/// ``SafeTensors/read(from:)`` or ``SafeTensors/parse(_:path:)``.
///
/// Construction has already checked the whole header and offset layout, so the
/// accessors below only fail for a missing name or an incompatible dtype.
public struct SafeTensorsFile: Sendable {
    /// The file path the data came from (or `"<memory>"`), used in error messages.
    public let path: String
    /// The `"__metadata__"` string pairs; empty if the header has none.
    public let metadata: [String: String]
    /// All tensors, in increasing data-offset order (the on-disk data order).
    public let entries: [SafeTensorsEntry]
    /// Length N in bytes of the JSON header, including any trailing space padding.
    public let headerByteCount: Int

    private let storage: Data
    private let bufferStart: Int
    private let indexByName: [String: Int]

    init(path: String, metadata: [String: String], entries: [SafeTensorsEntry],
         headerByteCount: Int, storage: Data, bufferStart: Int) {
        self.path = path
        self.metadata = metadata
        self.entries = entries
        self.headerByteCount = headerByteCount
        self.storage = storage
        self.bufferStart = bufferStart
        var index: [String: Int] = [:]
        for (i, e) in entries.enumerated() { index[e.name] = i }
        self.indexByName = index
    }

    /// Tensor names in data-offset order.
    public var names: [String] { entries.map(\.name) }

    /// Size in bytes of the data buffer after the header.
    public var bufferByteCount: Int { storage.count - bufferStart }

    /// Calls `body` with the raw data buffer after the header (every tensor's bytes, in file order).
    public func withDataBuffer<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[bufferStart...])) }
    }

    /// The header entry of the named tensor.
    /// - Throws: ``CheckpointError/tensorNotFound(path:tensor:)``.
    public func entry(named name: String) throws -> SafeTensorsEntry {
        guard let i = indexByName[name] else {
            throw CheckpointError.tensorNotFound(path: path, tensor: name)
        }
        return entries[i]
    }

    /// The shape of the named tensor (outermost dimension first).
    /// - Throws: ``CheckpointError/tensorNotFound(path:tensor:)``.
    public func shape(named name: String) throws -> [Int] {
        try entry(named: name).shape
    }

    /// The named tensor's values as `Float`, row-major, `elementCount` of them.
    ///
    /// `F32` tensors are returned exactly. `F64` tensors are rounded to nearest
    /// `Float` only when `allowingNarrowing` is true; the conversion is never silent.
    /// - Throws: ``CheckpointError/tensorNotFound(path:tensor:)``;
    ///   ``CheckpointError/lossyConversion(path:tensor:stored:requested:)`` for `F64`
    ///   without `allowingNarrowing`; ``CheckpointError/dtypeMismatch(path:tensor:stored:requested:)``
    ///   for any other dtype.
    public func floats(named name: String, allowingNarrowing: Bool = false) throws -> [Float] {
        let e = try entry(named: name)
        switch e.dtype {
        case .f32:
            return load(e, UInt32.self).map { Float(bitPattern: $0) }
        case .f64:
            guard allowingNarrowing else {
                throw CheckpointError.lossyConversion(path: path, tensor: name, stored: .f64, requested: .f32)
            }
            return load(e, UInt64.self).map { Float(Double(bitPattern: $0)) }
        default:
            throw CheckpointError.dtypeMismatch(path: path, tensor: name, stored: e.dtype, requested: .f32)
        }
    }

    /// The named tensor's values as `Float` (``floats(named:allowingNarrowing:)``), which must all
    /// be finite: the one check for tensors read as parameters, directions or optimizer state.
    /// - Throws: as ``floats(named:allowingNarrowing:)``, and
    ///   ``CheckpointError/nonFiniteValue(path:tensor:shape:index:value:)`` naming the first NaN
    ///   or infinity.
    public func finiteFloats(named name: String) throws -> [Float] {
        let values = try floats(named: name)
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw CheckpointError.nonFiniteValue(path: path, tensor: name, shape: try shape(named: name),
                                                 index: index, value: Double(values[index]))
        }
        return values
    }

    /// The named tensor's values as `Double`, row-major, `elementCount` of them.
    ///
    /// `F64` tensors are returned exactly; `F32` tensors are widened, which is exact.
    /// - Throws: ``CheckpointError/tensorNotFound(path:tensor:)``;
    ///   ``CheckpointError/dtypeMismatch(path:tensor:stored:requested:)`` for other dtypes.
    public func doubles(named name: String) throws -> [Double] {
        let e = try entry(named: name)
        switch e.dtype {
        case .f64:
            return load(e, UInt64.self).map { Double(bitPattern: $0) }
        case .f32:
            return load(e, UInt32.self).map { Double(Float(bitPattern: $0)) }
        default:
            throw CheckpointError.dtypeMismatch(path: path, tensor: name, stored: e.dtype, requested: .f64)
        }
    }

    /// The named `I64` tensor's values, row-major.
    /// - Throws: ``CheckpointError/tensorNotFound(path:tensor:)``;
    ///   ``CheckpointError/dtypeMismatch(path:tensor:stored:requested:)`` if not `I64`.
    public func int64s(named name: String) throws -> [Int64] {
        let e = try entry(named: name)
        guard e.dtype == .i64 else {
            throw CheckpointError.dtypeMismatch(path: path, tensor: name, stored: e.dtype, requested: .i64)
        }
        return load(e, UInt64.self).map { Int64(bitPattern: $0) }
    }

    /// The named tensor's raw little-endian bytes (any dtype), `byteCount` of them.
    /// - Throws: ``CheckpointError/tensorNotFound(path:tensor:)``.
    public func rawBytes(named name: String) throws -> Data {
        let e = try entry(named: name)
        return storage.subdata(in: bufferStart + e.dataOffsets.lowerBound ..< bufferStart + e.dataOffsets.upperBound)
    }

    /// Copies the entry's bytes out as host-order integers of type `T`.
    private func load<T: FixedWidthInteger>(_ e: SafeTensorsEntry, _: T.Type) -> [T] {
        let count = e.byteCount / MemoryLayout<T>.size
        let begin = bufferStart + e.dataOffsets.lowerBound
        let values = [T](unsafeUninitializedCapacity: count) { out, initialized in
            storage.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(out).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: raw[begin ..< begin + e.byteCount]))
            }
            initialized = count
        }
        #if _endian(little)
        return values
        #else
        return values.map { T(littleEndian: $0) }
        #endif
    }
}

import Foundation

// Reader and writer for the safetensors format, Hugging Face
// (https://github.com/huggingface/safetensors, README "Format"):
//
//   [8 bytes]  N, little-endian UInt64: byte length of the JSON header
//   [N bytes]  UTF-8 JSON object: tensor name -> {"dtype", "shape", "data_offsets": [begin, end]},
//              plus optional "__metadata__": {string: string}; may be padded with trailing
//              spaces (this writer pads so that N, and hence 8 + N, is a multiple of 8)
//   [rest]     byte buffer; tensors little-endian, row-major (C order), offsets relative to
//              the buffer start, contiguous, non-overlapping, covering the buffer exactly.

/// Values of one tensor to be written, tagged with their element type.
public enum SafeTensorsPayload: Sendable, Equatable {
    /// IEEE 754 binary32 values, stored as `F32`.
    case f32([Float])
    /// IEEE 754 binary64 values, stored as `F64`.
    case f64([Double])
    /// Two's-complement 64-bit integers, stored as `I64`.
    case i64([Int64])

    /// The safetensors dtype this payload is stored as.
    public var dtype: SafeTensorsDType {
        switch self {
        case .f32: return .f32
        case .f64: return .f64
        case .i64: return .i64
        }
    }

    /// Number of elements.
    public var count: Int {
        switch self {
        case .f32(let v): return v.count
        case .f64(let v): return v.count
        case .i64(let v): return v.count
        }
    }
}

/// Namespace for reading and writing safetensors files (format by Hugging Face).
public enum SafeTensors {
    /// The reserved header key holding string-to-string metadata.
    public static let metadataKey = "__metadata__"

    // MARK: Writing

    /// Atomically writes `F32` tensors to a safetensors file.
    ///
    /// - Parameters:
    ///   - tensors: in the order to store them (header and data keep this order).
    ///     `shape` lists dimensions outermost first (row-major); `[]` is a scalar
    ///     holding one value. `values.count` must equal the product of `shape`.
    ///   - metadata: free-form string pairs stored under `"__metadata__"`
    ///     (omitted from the header when empty; keys written sorted).
    ///   - url: destination `file:` URL; an existing file is replaced atomically
    ///     via ``AtomicFile/write(_:to:)-(Data,_)``.
    /// - Throws: ``CheckpointError`` — `.invalidTensorName` (empty, `"__metadata__"`
    ///   or duplicate), `.invalidShape` (negative dimension, overflowing size),
    ///   `.valueCountMismatch`, or `.ioFailure`.
    public static func write(_ tensors: [(name: String, shape: [Int], values: [Float])],
                             metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors.map { (name: $0.name, shape: $0.shape, payload: .f32($0.values)) },
                  metadata: metadata, to: url)
    }

    /// Atomically writes `F64` tensors to a safetensors file.
    /// Parameters and errors as for the `F32` variant `write(_:metadata:to:)`.
    public static func write(_ tensors: [(name: String, shape: [Int], values: [Double])],
                             metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors.map { (name: $0.name, shape: $0.shape, payload: .f64($0.values)) },
                  metadata: metadata, to: url)
    }

    /// Atomically writes tensors of mixed dtypes (`F32`, `F64`, `I64`) to a safetensors file.
    /// Parameters and errors as for the `F32` variant; each tensor's dtype comes from its payload.
    public static func write(_ tensors: [(name: String, shape: [Int], payload: SafeTensorsPayload)],
                             metadata: [String: String] = [:], to url: URL) throws {
        let data = try encode(tensors, metadata: metadata, path: url.path)
        try AtomicFile.write(data, to: url)
    }

    /// Encodes tensors as the bytes of a safetensors file, without touching disk.
    /// Parameters and errors as for `write(_:metadata:to:)`
    /// (errors name the path `"<memory>"`).
    public static func encode(_ tensors: [(name: String, shape: [Int], payload: SafeTensorsPayload)],
                              metadata: [String: String] = [:]) throws -> Data {
        try encode(tensors, metadata: metadata, path: "<memory>")
    }

    static func encode(_ tensors: [(name: String, shape: [Int], payload: SafeTensorsPayload)],
                       metadata: [String: String], path: String) throws -> Data {
        // Validate and lay out.
        var seen = Set<String>()
        var header = "{"
        var first = true
        if !metadata.isEmpty {
            header += jsonStringLiteral(metadataKey) + ":{"
            header += metadata.keys.sorted().map { key in
                jsonStringLiteral(key) + ":" + jsonStringLiteral(metadata[key]!)
            }.joined(separator: ",")
            header += "}"
            first = false
        }
        var offset = 0
        for t in tensors {
            if t.name.isEmpty {
                throw CheckpointError.invalidTensorName(path: path, tensor: t.name, problem: "name is empty")
            }
            if t.name == metadataKey {
                throw CheckpointError.invalidTensorName(path: path, tensor: t.name,
                                                        problem: "\"\(metadataKey)\" is reserved for metadata")
            }
            if !seen.insert(t.name).inserted {
                throw CheckpointError.invalidTensorName(path: path, tensor: t.name, problem: "name is used twice")
            }
            guard let count = elementCount(of: t.shape) else {
                throw CheckpointError.invalidShape(path: path, tensor: t.name, shape: t.shape,
                                                   problem: t.shape.contains { $0 < 0 }
                                                       ? "dimensions must be non-negative"
                                                       : "element count overflows Int")
            }
            guard count == t.payload.count else {
                throw CheckpointError.valueCountMismatch(path: path, tensor: t.name, shape: t.shape,
                                                         expectedCount: count, actualCount: t.payload.count)
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: t.payload.dtype.byteSize)
            guard !overflow else {
                throw CheckpointError.invalidShape(path: path, tensor: t.name, shape: t.shape,
                                                   problem: "byte count overflows Int")
            }
            if !first { header += "," }
            first = false
            header += jsonStringLiteral(t.name)
            header += ":{\"dtype\":\"\(t.payload.dtype.rawValue)\",\"shape\":["
            header += t.shape.map(String.init).joined(separator: ",")
            header += "],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"

        var headerBytes = Array(header.utf8)
        let padding = (8 - headerBytes.count % 8) % 8
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))

        var data = Data()
        data.reserveCapacity(8 + headerBytes.count + offset)
        var lengthLE = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &lengthLE) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        for t in tensors {
            switch t.payload {
            case .f32(let v): appendLittleEndian(v.map(\.bitPattern), to: &data)
            case .f64(let v): appendLittleEndian(v.map(\.bitPattern), to: &data)
            case .i64(let v): appendLittleEndian(v, to: &data)
            }
        }
        return data
    }

    private static func appendLittleEndian<T: FixedWidthInteger>(_ values: [T], to data: inout Data) {
        #if _endian(little)
        values.withUnsafeBufferPointer { data.append($0) }
        #else
        values.map(\.littleEndian).withUnsafeBufferPointer { data.append($0) }
        #endif
    }

    /// Product of `shape` (1 for a scalar `[]`), or nil if a dimension is negative
    /// or the product overflows.
    static func elementCount(of shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            n = p
        }
        return n
    }

    // MARK: Reading

    /// Reads and fully validates a safetensors file.
    ///
    /// The file is read only if it is a regular file (``TextFile/readBytes(_:maximumBytes:)``: a FIFO
    /// or device is named, never opened); tensor values are decoded lazily by the accessors of
    /// ``SafeTensorsFile``.
    /// - Parameter url: a `file:` URL.
    /// - Throws: ``CheckpointError`` — `.ioFailure` if the file cannot be read, or
    ///   any validation error listed at ``parse(_:path:)``.
    public static func read(from url: URL) throws -> SafeTensorsFile {
        let data: Data
        do {
            data = Data(try TextFile.readBytes(url, maximumBytes: maximumFileBytes))
        } catch {
            throw CheckpointError.ioFailure(path: url.path, operation: "read", reason: error.problem)
        }
        return try parse(data, path: url.path)
    }

    /// The largest parameter file read (16 GiB: four billion Float32 parameters).
    public static let maximumFileBytes = 1 << 34

    /// Parses and fully validates the bytes of a safetensors file.
    ///
    /// - Parameters:
    ///   - data: the complete file contents.
    ///   - path: used only to name the source in error messages.
    /// - Throws: ``CheckpointError``:
    ///   `.fileTooShort` (< 8 bytes), `.headerLengthExceedsFile`, `.headerNotJSON`
    ///   (also for invalid UTF-8), `.headerNotObject`, `.invalidMetadata`,
    ///   `.entryNotObject`, `.missingField`, `.invalidField` (wrong JSON type, negative
    ///   or non-integer numbers, `data_offsets` not `[begin, end]` with begin ≤ end),
    ///   `.unknownDType`, `.sizeMismatch` (offsets span ≠ shape product × dtype size),
    ///   `.overlappingOffsets`, `.gapInOffsets` (including a first tensor not at 0),
    ///   `.bufferLengthMismatch` (tensors do not end exactly at the end of the file).
    ///   Entries are checked in name order, so the reported error is deterministic.
    public static func parse(_ data: Data, path: String = "<memory>") throws -> SafeTensorsFile {
        let storage = data.startIndex == 0 ? data : Data(data)
        guard storage.count >= 8 else {
            throw CheckpointError.fileTooShort(path: path, byteCount: storage.count)
        }
        let declared: UInt64 = storage.withUnsafeBytes { raw in
            UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        }
        let available = storage.count - 8
        guard declared <= UInt64(available) else {
            throw CheckpointError.headerLengthExceedsFile(path: path, declaredHeaderLength: declared,
                                                          availableBytes: available)
        }
        let headerLength = Int(declared)
        let json: JSONValue
        do {
            json = try JSONValue.parse(storage.subdata(in: 8 ..< 8 + headerLength))
        } catch {
            throw CheckpointError.headerNotJSON(path: path, detail: error.detail)
        }
        guard case .object(let object) = json else {
            throw CheckpointError.headerNotObject(path: path)
        }

        var metadata: [String: String] = [:]
        if let meta = object[metadataKey] {
            guard case .object(let pairs) = meta else {
                throw CheckpointError.invalidMetadata(path: path, problem: "expected an object, found \(meta.typeName)")
            }
            for key in pairs.keys.sorted() {
                guard case .string(let value) = pairs[key]! else {
                    throw CheckpointError.invalidMetadata(
                        path: path, problem: "value of key '\(key)' is \(pairs[key]!.typeName), expected a string")
                }
                metadata[key] = value
            }
        }

        var entries: [SafeTensorsEntry] = []
        entries.reserveCapacity(object.count)
        for name in object.keys.sorted() where name != metadataKey {
            entries.append(try parseEntry(name: name, value: object[name]!, path: path))
        }

        entries.sort { a, b in
            if a.dataOffsets.lowerBound != b.dataOffsets.lowerBound {
                return a.dataOffsets.lowerBound < b.dataOffsets.lowerBound
            }
            if a.dataOffsets.upperBound != b.dataOffsets.upperBound {
                return a.dataOffsets.upperBound < b.dataOffsets.upperBound
            }
            return a.name < b.name
        }
        var expected = 0
        var previous: String? = nil
        for e in entries {
            let begin = e.dataOffsets.lowerBound
            if begin > expected {
                throw CheckpointError.gapInOffsets(path: path, tensor: e.name, begin: begin, expectedBegin: expected)
            }
            if begin < expected {
                throw CheckpointError.overlappingOffsets(path: path, tensor: e.name, begin: begin,
                                                         previousTensor: previous ?? "", previousEnd: expected)
            }
            expected = e.dataOffsets.upperBound
            previous = e.name
        }
        let bufferBytes = available - headerLength
        guard expected == bufferBytes else {
            throw CheckpointError.bufferLengthMismatch(path: path, coveredBytes: expected, bufferBytes: bufferBytes)
        }
        return SafeTensorsFile(path: path, metadata: metadata, entries: entries,
                               headerByteCount: headerLength, storage: storage, bufferStart: 8 + headerLength)
    }

    private static func parseEntry(name: String, value: JSONValue, path: String) throws -> SafeTensorsEntry {
        guard case .object(let fields) = value else {
            throw CheckpointError.entryNotObject(path: path, tensor: name)
        }
        func field(_ key: String) throws -> JSONValue {
            guard let v = fields[key] else {
                throw CheckpointError.missingField(path: path, tensor: name, field: key)
            }
            return v
        }
        func nonNegativeInts(_ key: String) throws -> [Int] {
            guard case .array(let items) = try field(key) else {
                throw CheckpointError.invalidField(path: path, tensor: name, field: key,
                                                   problem: "expected an array of integers, found \(try field(key).typeName)")
            }
            return try items.map { item in
                switch item {
                case .integer(let i) where i >= 0 && i <= Int64(Int.max):
                    return Int(i)
                case .integer, .unsignedTooLarge:
                    throw CheckpointError.invalidField(path: path, tensor: name, field: key,
                                                       problem: "integer out of range (must be 0 ... \(Int.max))")
                default:
                    throw CheckpointError.invalidField(path: path, tensor: name, field: key,
                                                       problem: "expected non-negative integers, found \(item.typeName)")
                }
            }
        }

        let dtypeValue = try field("dtype")
        guard case .string(let dtypeString) = dtypeValue else {
            throw CheckpointError.invalidField(path: path, tensor: name, field: "dtype",
                                               problem: "expected a string, found \(dtypeValue.typeName)")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeString) else {
            throw CheckpointError.unknownDType(path: path, tensor: name, dtype: dtypeString)
        }
        let shape = try nonNegativeInts("shape")
        let offsets = try nonNegativeInts("data_offsets")
        guard offsets.count == 2 else {
            throw CheckpointError.invalidField(path: path, tensor: name, field: "data_offsets",
                                               problem: "expected exactly [begin, end], found \(offsets.count) numbers")
        }
        guard offsets[0] <= offsets[1] else {
            throw CheckpointError.invalidField(path: path, tensor: name, field: "data_offsets",
                                               problem: "begin \(offsets[0]) is after end \(offsets[1])")
        }
        let span = offsets[1] - offsets[0]
        guard let count = elementCount(of: shape) else {
            throw CheckpointError.invalidField(path: path, tensor: name, field: "shape",
                                               problem: "element count overflows Int")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes == span else {
            throw CheckpointError.sizeMismatch(path: path, tensor: name, dtype: dtype, shape: shape,
                                               expectedBytes: overflow ? Int.max : bytes, actualBytes: span)
        }
        return SafeTensorsEntry(name: name, shape: shape, dtype: dtype, dataOffsets: offsets[0] ..< offsets[1])
    }
}

import Foundation

/// An n-dimensional array of unsigned bytes as stored in an IDX file.
///
/// `bytes` holds the elements in row-major order (last index fastest), and
/// `bytes.count` always equals the product of `shape` (1 for an empty shape).
public struct IDXTensor: Sendable, Equatable {
    /// The dimensions, outermost first (e.g. `[60000, 28, 28]` for MNIST
    /// training images, `[60000]` for its labels).
    public let shape: [Int]
    /// The elements, row-major; `count` == product of `shape`.
    public let bytes: [UInt8]

    /// Creates a tensor; `shape` must be non-negative with product `bytes.count`
    /// (a precondition, since this is a programming error, not a data error).
    public init(shape: [Int], bytes: [UInt8]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "IDX dimensions must be non-negative")
        precondition(shape.reduce(1, *) == bytes.count,
                     "IDX shape \(shape) needs \(shape.reduce(1, *)) bytes, got \(bytes.count)")
        self.shape = shape
        self.bytes = bytes
    }

    /// The number of elements (product of `shape`).
    public var count: Int { bytes.count }
}

/// Reader and writer for LeCun's IDX format (LeCun, Cortes & Burges, "The
/// MNIST database of handwritten digits", http://yann.lecun.com/exdb/mnist/):
///
/// - 4-byte magic: `0x00 0x00 <type code> <number of dimensions>`;
/// - one big-endian `UInt32` per dimension;
/// - the data, row-major, exactly product(dimensions) elements.
///
/// Only type code 0x08 (unsigned byte) is supported. Files may be raw or
/// gzip-compressed (detected by the 0x1f 0x8b magic, not by the name).
public enum IDX {
    /// The IDX type code for unsigned bytes, the only supported element type.
    public static let unsignedByteTypeCode: UInt8 = 0x08

    /// Reads an IDX file (raw or gzip).
    ///
    /// - Parameters:
    ///   - url: the file.
    ///   - expectedDimensions: if given, the number of dimensions the header must declare.
    /// - Returns: the tensor.
    /// - Throws: `DatasetError` naming `url.path`: `.fileNotFound`,
    ///   `.readFailed`, `.corruptGzip`, `.truncatedHeader`, `.badMagic`,
    ///   `.unsupportedTypeCode`, `.wrongDimensionCount`, `.dimensionOverflow`,
    ///   `.truncated` (too few data bytes) or `.trailingData` (too many).
    public static func read(_ url: URL, expectedDimensions: Int? = nil) throws -> IDXTensor {
        let file = try FileIO.readBytes(url)
        return try decode(file, path: url.path, expectedDimensions: expectedDimensions)
    }

    /// Decodes the bytes of an IDX file (raw or gzip) held in memory.
    ///
    /// - Parameters:
    ///   - file: the file's bytes, gzip-compressed or not.
    ///   - path: the name to put in error messages.
    ///   - expectedDimensions: if given, the number of dimensions the header must declare.
    /// - Throws: as ``read(_:expectedDimensions:)``, except file-system errors.
    public static func decode(_ file: [UInt8], path: String, expectedDimensions: Int? = nil) throws -> IDXTensor {
        if Gzip.isGzip(file) {
            let raw = try Gzip.decompress(file, path: path)
            return try decodeRaw(raw, path: path, expectedDimensions: expectedDimensions)
        }
        return try decodeRaw(file, path: path, expectedDimensions: expectedDimensions)
    }

    /// Parses an IDX header: returns the shape and the header length in bytes.
    ///
    /// - Throws: `.truncatedHeader`, `.badMagic`, `.unsupportedTypeCode`,
    ///   `.wrongDimensionCount`, `.dimensionOverflow`, each naming `path`.
    public static func parseHeader(_ raw: UnsafeRawBufferPointer, path: String,
                                   expectedDimensions: Int? = nil) throws -> (shape: [Int], headerSize: Int) {
        guard raw.count >= 4 else {
            throw DatasetError.truncatedHeader(path: path, needed: 4, available: raw.count)
        }
        guard raw[0] == 0, raw[1] == 0 else {
            throw DatasetError.badMagic(path: path, bytes: Array(raw[0..<4]))
        }
        guard raw[2] == unsignedByteTypeCode else {
            throw DatasetError.unsupportedTypeCode(path: path, code: raw[2])
        }
        let ndims = Int(raw[3])
        if let expectedDimensions, expectedDimensions != ndims {
            throw DatasetError.wrongDimensionCount(path: path, expected: expectedDimensions, found: ndims)
        }
        let headerSize = 4 + 4 * ndims
        guard raw.count >= headerSize else {
            throw DatasetError.truncatedHeader(path: path, needed: headerSize, available: raw.count)
        }
        var shape = [Int]()
        shape.reserveCapacity(ndims)
        for d in 0..<ndims {
            let o = 4 + 4 * d
            shape.append(Int(raw[o]) << 24 | Int(raw[o + 1]) << 16 | Int(raw[o + 2]) << 8 | Int(raw[o + 3]))
        }
        var total = 1
        for dim in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: dim)
            if overflow || product > Int(Int32.max) * 1024 {
                throw DatasetError.dimensionOverflow(path: path, dimensions: shape)
            }
            total = product
        }
        return (shape, headerSize)
    }

    /// Decodes an uncompressed IDX byte stream.
    /// - Throws: as ``parseHeader(_:path:expectedDimensions:)``, plus
    ///   `.truncated` / `.trailingData` when the data length is not exactly
    ///   the product of the dimensions.
    static func decodeRaw(_ raw: [UInt8], path: String, expectedDimensions: Int?) throws -> IDXTensor {
        try raw.withUnsafeBytes { buffer in
            let (shape, headerSize) = try parseHeader(buffer, path: path, expectedDimensions: expectedDimensions)
            let expected = shape.reduce(1, *)
            let available = buffer.count - headerSize
            if available < expected {
                throw DatasetError.truncated(path: path, expected: expected, found: available)
            }
            if available > expected {
                throw DatasetError.trailingData(path: path, expected: expected, found: available)
            }
            let data = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[headerSize...]))
            return IDXTensor(shape: shape, bytes: data)
        }
    }

    /// Encodes a tensor as an uncompressed IDX byte stream (type code 0x08).
    /// Requires at most 255 dimensions, each below 2^32 (precondition).
    public static func encode(_ tensor: IDXTensor) -> [UInt8] {
        precondition(tensor.shape.count <= 255, "IDX supports at most 255 dimensions")
        let headerSize = 4 + 4 * tensor.shape.count
        var out = [UInt8](repeating: 0, count: headerSize + tensor.count)
        out[2] = unsignedByteTypeCode
        out[3] = UInt8(tensor.shape.count)
        for (d, dim) in tensor.shape.enumerated() {
            precondition(dim <= Int(UInt32.max), "IDX dimension \(dim) does not fit in 32 bits")
            let o = 4 + 4 * d
            out[o] = UInt8(truncatingIfNeeded: dim >> 24)
            out[o + 1] = UInt8(truncatingIfNeeded: dim >> 16)
            out[o + 2] = UInt8(truncatingIfNeeded: dim >> 8)
            out[o + 3] = UInt8(truncatingIfNeeded: dim)
        }
        out.withUnsafeMutableBytes { dst in
            tensor.bytes.withUnsafeBytes { src in
                if src.count > 0 {
                    (dst.baseAddress! + headerSize).copyMemory(from: src.baseAddress!, byteCount: src.count)
                }
            }
        }
        return out
    }

    /// Writes a tensor as an IDX file, atomically (temporary file + rename).
    ///
    /// - Parameters:
    ///   - tensor: the data.
    ///   - url: the destination; its directory must exist.
    ///   - compressed: gzip the file; when `nil`, gzip exactly when the name ends in `.gz`.
    /// - Throws: `DatasetError.writeFailed` naming `url.path`.
    public static func write(_ tensor: IDXTensor, to url: URL, compressed: Bool? = nil) throws {
        let gzip = compressed ?? (url.pathExtension == "gz")
        let raw = encode(tensor)
        if gzip {
            try FileIO.writeAtomically(try Gzip.compress(raw, path: url.path), to: url)
        } else {
            try FileIO.writeAtomically(raw, to: url)
        }
    }

    /// The file's contents, decompressed when it is gzip (detected by magic).
    /// Used to checksum data independently of how it was compressed.
    /// - Throws: `.fileNotFound`, `.readFailed`, `.corruptGzip`, naming `url.path`.
    public static func decompressedContents(of url: URL) throws -> [UInt8] {
        let file = try FileIO.readBytes(url)
        return Gzip.isGzip(file) ? try Gzip.decompress(file, path: url.path) : file
    }
}

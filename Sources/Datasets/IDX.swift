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
    /// A gzip file is decompressed as a stream: once the IDX header has been
    /// decompressed, it fixes the exact length the file must have (header +
    /// product of the dimensions), and decompression stops as soon as the
    /// output would exceed it, so a corrupt file or decompression bomb costs
    /// no more memory than the declared size (which is itself only reserved
    /// up to a bound derived from the compressed size, then grown as data
    /// actually arrives).
    ///
    /// - Parameters:
    ///   - url: the file.
    ///   - expectedDimensions: if given, the number of dimensions the header must declare.
    /// - Returns: the tensor.
    /// - Throws: `DatasetError` naming `url.path`: `.fileNotFound`,
    ///   `.readFailed`, `.corruptGzip`, `.truncatedHeader`, `.badMagic`,
    ///   `.unsupportedTypeCode`, `.wrongDimensionCount`, `.dimensionOverflow`,
    ///   `.truncated` (too few data bytes), `.trailingData` (too many), or,
    ///   for gzip data that goes on far past the declared length,
    ///   `.decompressedTooLarge` (a length mismatch whose exact size was not
    ///   worth decompressing).
    public static func read(_ url: URL, expectedDimensions: Int? = nil) throws -> IDXTensor {
        let file = try FileIO.readBytes(url)
        return try decode(file, path: url.path, expectedDimensions: expectedDimensions)
    }

    /// Decodes the bytes of an IDX file (raw or gzip) held in memory; gzip
    /// data is decompressed no further than the header's declared length
    /// (see ``read(_:expectedDimensions:)``).
    ///
    /// - Parameters:
    ///   - file: the file's bytes, gzip-compressed or not.
    ///   - path: the name to put in error messages.
    ///   - expectedDimensions: if given, the number of dimensions the header must declare.
    /// - Throws: as ``read(_:expectedDimensions:)``, except file-system errors.
    public static func decode(_ file: [UInt8], path: String, expectedDimensions: Int? = nil) throws -> IDXTensor {
        var stats = DecompressionStats()
        return try decodeChecked(file, path: path, expectedDimensions: expectedDimensions, stats: &stats).tensor
    }

    /// Decodes an IDX file (raw or gzip) and checks its length; also returns
    /// the raw header bytes (so callers can hash the decompressed file as
    /// header + data) and records the output memory reserved in `stats`.
    /// - Throws: as ``read(_:expectedDimensions:)``, except file-system errors.
    static func decodeChecked(_ file: [UInt8], path: String, expectedDimensions: Int?,
                              stats: inout DecompressionStats) throws -> (header: [UInt8], tensor: IDXTensor) {
        try file.withUnsafeBytes { buffer in
            if Gzip.isGzip(buffer) {
                return try decodeGzip(buffer, path: path, expectedDimensions: expectedDimensions, stats: &stats)
            }
            let (shape, headerSize) = try parseHeader(buffer, path: path, expectedDimensions: expectedDimensions)
            let expected = shape.reduce(1, *)
            let available = buffer.count - headerSize
            if available < expected {
                throw DatasetError.truncated(path: path, expected: expected, found: available)
            }
            if available > expected {
                throw DatasetError.trailingData(path: path, expected: expected, found: available)
            }
            let header = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[..<headerSize]))
            let data = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[headerSize...]))
            return (header, IDXTensor(shape: shape, bytes: data))
        }
    }

    /// Streams a gzip IDX file: header first, then exactly the declared
    /// number of data bytes, then checks that the stream ends there.
    ///
    /// Excess output is counted (without being stored) only up to
    /// ``Gzip/saneCapacity(compressedCount:)`` bytes: within that the error
    /// is an exact `.trailingData`, beyond it `.decompressedTooLarge`. An
    /// IDX-level error (bad header, too short) is reported only after the
    /// rest of the stream (within the same bound) has been checked, so a
    /// damaged gzip file is reported as `.corruptGzip`.
    private static func decodeGzip(_ file: UnsafeRawBufferPointer, path: String, expectedDimensions: Int?,
                                   stats: inout DecompressionStats) throws -> (header: [UInt8], tensor: IDXTensor) {
        let inflater = try Gzip.Inflater(file, path: path)
        let budget = Gzip.saneCapacity(compressedCount: file.count)
        do {
            var header: [UInt8] = []
            try inflater.append(to: &header, upTo: 4, initialCapacity: 4, stats: &stats)
            if header.count == 4 && header[0] == 0 && header[1] == 0 {
                try inflater.append(to: &header, upTo: 4 + 4 * Int(header[3]), stats: &stats)
            }
            let (shape, headerSize) = try header.withUnsafeBytes {
                try parseHeader($0, path: path, expectedDimensions: expectedDimensions)
            }
            let expected = shape.reduce(1, *)
            var data: [UInt8] = []
            try inflater.append(to: &data, upTo: expected, initialCapacity: min(expected, budget), stats: &stats)
            if data.count < expected {
                throw DatasetError.truncated(path: path, expected: expected, found: data.count)
            }
            if !inflater.isFinished {
                let extra = try inflater.skip(upTo: budget)
                if extra > 0 && inflater.isFinished {
                    throw DatasetError.trailingData(path: path, expected: expected, found: expected + extra)
                }
                if extra > 0 {
                    throw DatasetError.decompressedTooLarge(
                        path: path, limit: headerSize + expected,
                        detail: "length mismatch: its IDX header (shape \(shape)) declares \(expected) bytes of data"
                            + " after a \(headerSize)-byte header, but at least \(extra) more bytes follow;"
                            + " decompression stopped there")
                }
            }
            return (header, IDXTensor(shape: shape, bytes: data))
        } catch let error as DatasetError {
            switch error {
            case .corruptGzip, .decompressedTooLarge, .trailingData:
                throw error
            default:
                // Prefer reporting a damaged gzip stream over what its garbage decodes to.
                _ = try inflater.skip(upTo: budget)
                throw error
            }
        }
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
    /// - Parameter maxOutputBytes: the most decompressed bytes accepted
    ///   (default ``Gzip/defaultMaxOutputBytes``, 1 GiB).
    /// - Throws: `.fileNotFound`, `.readFailed`, `.corruptGzip`,
    ///   `.decompressedTooLarge`, naming `url.path`.
    public static func decompressedContents(of url: URL,
                                            maxOutputBytes: Int = Gzip.defaultMaxOutputBytes) throws -> [UInt8] {
        let file = try FileIO.readBytes(url)
        return Gzip.isGzip(file) ? try Gzip.decompress(file, path: url.path, maxOutputBytes: maxOutputBytes) : file
    }
}

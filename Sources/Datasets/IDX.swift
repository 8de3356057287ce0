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
/// A header may declare at most a ``Bound`` of data (``defaultBound``: 1 GiB);
/// more is refused before any memory is reserved for it or any of it is read.
public enum IDX {
    /// The IDX type code for unsigned bytes, the only supported element type.
    public static let unsignedByteTypeCode: UInt8 = 0x08

    /// The most data an IDX file may declare, and what that bound is.
    public struct Bound: Sendable, Equatable {
        /// Bytes of data after the header (one per element).
        public var bytes: Int
        /// What the bound is, for messages ("… more than the 47040000 bytes allowed (REASON)").
        public var reason: String

        /// A bound of `bytes` bytes of data; `reason` says what it is.
        public init(bytes: Int, reason: String) {
            self.bytes = bytes
            self.reason = reason
        }
    }

    /// The bound for any IDX file: 1 GiB of data, the gzip reader's own cap
    /// (``Gzip/defaultMaxOutputBytes``). The largest IDX data set in use, EMNIST ByClass's
    /// training images (697,932 × 28 × 28 = 547,178,688 bytes; Cohen et al. 2017), needs half
    /// of it. Readers that know their files bound them tighter (``MNISTFile/bound``).
    public static let defaultBound = Bound(bytes: Gzip.defaultMaxOutputBytes, reason: "the bound for any IDX file")

    /// Given a file's shape, the rows (indices along its first dimension) a read keeps, in the
    /// order wanted; repeats are allowed. Called once the header is read, before any data is.
    public typealias RowPicker = (_ shape: [Int]) throws -> [Int]

    /// Reads an IDX file (raw or gzip), the whole of it or only the rows `rows` picks.
    ///
    /// Nothing is reserved or read for data beyond `bound`: the header's declared size is
    /// checked first. A raw file's size is then checked against the header and only the picked
    /// rows are kept as the data is read. A gzip file is decompressed as a stream, no further
    /// than its header declares (so a decompression bomb costs no more than the declared size),
    /// keeping only the picked rows; the output is reserved up to a bound derived from the
    /// compressed size, then grown as data actually arrives.
    ///
    /// - Parameters:
    ///   - url: the file; it must be a regular file (a FIFO or a device is refused before it is opened).
    ///   - expectedDimensions: if given, the number of dimensions the header must declare.
    ///   - bound: the most data the header may declare (default ``defaultBound``).
    ///   - rows: picks the rows to keep (default: the whole file). The result then has shape
    ///     `[picked.count] + shape.dropFirst()`, its rows in the order picked.
    /// - Returns: the tensor.
    /// - Throws: `DatasetError` naming `url.path`: `.fileNotFound`, `.isDirectory`,
    ///   `.readFailed` (also for a file that is not a regular file), `.corruptGzip`,
    ///   `.truncatedHeader`, `.badMagic`, `.unsupportedTypeCode`, `.wrongDimensionCount`,
    ///   `.dimensionOverflow`, `.declaredTooLarge` (more than `bound`), `.truncated` (too few
    ///   data bytes), `.trailingData` (too many), `.invalidArgument` (a picked row outside the
    ///   file), or, for gzip data that goes on far past the declared length,
    ///   `.decompressedTooLarge`; and whatever `rows` throws.
    public static func read(_ url: URL, expectedDimensions: Int? = nil, bound: Bound = defaultBound,
                            rows: RowPicker? = nil) throws -> IDXTensor {
        let file = try FileIO.openForReading(url)
        if Gzip.isGzip(try file.read(count: 2, at: 0)) {
            var stats = DecompressionStats()
            return try decodeChecked(try file.readAll(), path: url.path, expectedDimensions: expectedDimensions,
                                     bound: bound, rows: rows, stats: &stats).tensor
        }
        var header = try file.read(count: 4, at: 0)
        if header.count == 4 && header[0] == 0 && header[1] == 0 {
            header += try file.read(count: 4 * Int(header[3]), at: 4)
        }
        let (shape, headerSize) = try header.withUnsafeBytes {
            try parseHeader($0, path: file.path, expectedDimensions: expectedDimensions, bound: bound)
        }
        let expected = shape.reduce(1, *)
        try checkLength(available: file.size - headerSize, expected: expected, path: file.path)
        var stats = DecompressionStats()
        var collector = try RowCollector(shape: shape, picked: try rows?(shape), path: file.path, bound: bound,
                                         initialCapacity: expected, stats: &stats)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: min(max(expected, 1), 1 << 20), alignment: 16)
        defer { scratch.deallocate() }
        while collector.received < expected {
            let want = UnsafeMutableRawBufferPointer(rebasing: scratch[..<min(scratch.count, expected - collector.received)])
            let n = try file.read(into: want, at: headerSize + collector.received)
            if n == 0 {
                throw DatasetError.truncated(path: file.path, expected: expected, found: collector.received)
            }
            collector.take(UnsafeRawBufferPointer(rebasing: scratch[..<n]), stats: &stats)
        }
        return collector.tensor
    }

    /// Decodes the bytes of an IDX file (raw or gzip) held in memory; gzip
    /// data is decompressed no further than the header's declared length
    /// (see ``read(_:expectedDimensions:bound:rows:)``).
    ///
    /// - Parameters:
    ///   - file: the file's bytes, gzip-compressed or not.
    ///   - path: the name to put in error messages.
    ///   - expectedDimensions: if given, the number of dimensions the header must declare.
    ///   - bound: the most data the header may declare (default ``defaultBound``).
    /// - Throws: as ``read(_:expectedDimensions:bound:rows:)``, except file-system errors.
    public static func decode(_ file: [UInt8], path: String, expectedDimensions: Int? = nil,
                              bound: Bound = defaultBound) throws -> IDXTensor {
        var stats = DecompressionStats()
        return try decodeChecked(file, path: path, expectedDimensions: expectedDimensions, bound: bound, stats: &stats).tensor
    }

    /// Decodes an IDX file (raw or gzip) and checks its length; also returns
    /// the raw header bytes (so callers can hash the decompressed file as
    /// header + data) and records the output memory reserved in `stats`.
    /// - Throws: as ``read(_:expectedDimensions:bound:rows:)``, except file-system errors.
    static func decodeChecked(_ file: [UInt8], path: String, expectedDimensions: Int?, bound: Bound = defaultBound,
                              rows: RowPicker? = nil,
                              stats: inout DecompressionStats) throws -> (header: [UInt8], tensor: IDXTensor) {
        try file.withUnsafeBytes { buffer in
            if Gzip.isGzip(buffer) {
                return try decodeGzip(buffer, path: path, expectedDimensions: expectedDimensions, bound: bound,
                                      rows: rows, stats: &stats)
            }
            let (shape, headerSize) = try parseHeader(buffer, path: path, expectedDimensions: expectedDimensions, bound: bound)
            let expected = shape.reduce(1, *)
            try checkLength(available: buffer.count - headerSize, expected: expected, path: path)
            var collector = try RowCollector(shape: shape, picked: try rows?(shape), path: path, bound: bound,
                                             initialCapacity: expected, stats: &stats)
            collector.take(UnsafeRawBufferPointer(rebasing: buffer[headerSize...]), stats: &stats)
            return ([UInt8](UnsafeRawBufferPointer(rebasing: buffer[..<headerSize])), collector.tensor)
        }
    }

    /// Throws `.truncated` or `.trailingData` unless `available` data bytes are the `expected` ones.
    private static func checkLength(available: Int, expected: Int, path: String) throws {
        if available < expected {
            throw DatasetError.truncated(path: path, expected: expected, found: available)
        }
        if available > expected {
            throw DatasetError.trailingData(path: path, expected: expected, found: available)
        }
    }

    /// Streams a gzip IDX file: header first, then exactly the declared
    /// number of data bytes (keeping the rows picked), then checks that the stream ends there.
    ///
    /// Excess output is counted (without being stored) only up to
    /// ``Gzip/saneCapacity(compressedCount:)`` bytes: within that the error
    /// is an exact `.trailingData`, beyond it `.decompressedTooLarge`. An
    /// IDX-level error (bad header, too short, too large) is reported only after the
    /// rest of the stream (within the same bound) has been checked, so a
    /// damaged gzip file is reported as `.corruptGzip`.
    private static func decodeGzip(_ file: UnsafeRawBufferPointer, path: String, expectedDimensions: Int?, bound: Bound,
                                   rows: RowPicker?, stats: inout DecompressionStats) throws -> (header: [UInt8], tensor: IDXTensor) {
        let inflater = try Gzip.Inflater(file, path: path)
        let budget = Gzip.saneCapacity(compressedCount: file.count)
        do {
            var header: [UInt8] = []
            try inflater.append(to: &header, upTo: 4, initialCapacity: 4, stats: &stats)
            if header.count == 4 && header[0] == 0 && header[1] == 0 {
                try inflater.append(to: &header, upTo: 4 + 4 * Int(header[3]), stats: &stats)
            }
            let (shape, headerSize) = try header.withUnsafeBytes {
                try parseHeader($0, path: path, expectedDimensions: expectedDimensions, bound: bound)
            }
            let expected = shape.reduce(1, *)
            var collector = try RowCollector(shape: shape, picked: try rows?(shape), path: path, bound: bound,
                                             initialCapacity: min(expected, budget), stats: &stats)
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
            defer { scratch.deallocate() }
            while collector.received < expected {
                let want = UnsafeMutableRawBufferPointer(rebasing: scratch[..<min(scratch.count, expected - collector.received)])
                let n = try inflater.read(into: want)
                if n == 0 { break }
                collector.take(UnsafeRawBufferPointer(rebasing: scratch[..<n]), stats: &stats)
            }
            if collector.received < expected {
                throw DatasetError.truncated(path: path, expected: expected, found: collector.received)
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
            return (header, collector.tensor)
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
    /// - Parameter bound: the most data the header may declare (default ``defaultBound``).
    /// - Throws: `.truncatedHeader`, `.badMagic`, `.unsupportedTypeCode`,
    ///   `.wrongDimensionCount`, `.dimensionOverflow`, `.declaredTooLarge`, each naming `path`.
    public static func parseHeader(_ raw: UnsafeRawBufferPointer, path: String,
                                   expectedDimensions: Int? = nil,
                                   bound: Bound = defaultBound) throws -> (shape: [Int], headerSize: Int) {
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
            if overflow { throw DatasetError.dimensionOverflow(path: path, dimensions: shape) }
            total = product
        }
        if total > bound.bytes {
            throw DatasetError.declaredTooLarge(path: path, dimensions: shape, bytes: total, limit: bound.bytes, reason: bound.reason)
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

    /// The SHA-256 (lowercase hex) of the file's contents, decompressed when it is gzip
    /// (detected by magic), hashed as they stream by without being kept; `nil` when they are
    /// longer than `maxBytes` (hashing stops there).
    /// - Throws: `.fileNotFound`, `.isDirectory`, `.readFailed` (also for a file that is not a
    ///   regular file), `.corruptGzip`, naming `url.path`.
    public static func contentsSHA256(of url: URL, maxBytes: Int) throws -> String? {
        let file = try FileIO.openForReading(url)
        var hasher = SHA256()
        var total = 0
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { scratch.deallocate() }
        if Gzip.isGzip(try file.read(count: 2, at: 0)) {
            let compressed = try file.readAll()
            try compressed.withUnsafeBytes { buffer in
                let inflater = try Gzip.Inflater(buffer, path: file.path)
                while total <= maxBytes {
                    let n = try inflater.read(into: scratch)
                    if n == 0 { break }
                    hasher.update(UnsafeRawBufferPointer(rebasing: scratch[..<n]))
                    total += n
                }
            }
        } else {
            guard file.size <= maxBytes else { return nil }
            while true {
                let n = try file.read(into: scratch, at: total)
                if n == 0 { break }
                hasher.update(UnsafeRawBufferPointer(rebasing: scratch[..<n]))
                total += n
            }
        }
        return total > maxBytes ? nil : SHA256.hex(hasher.finalize())
    }
}

/// The data of an IDX file as it arrives, in file order: every byte, or only the rows an
/// ``IDX/RowPicker`` picked (their output is reserved once, at its exact size).
struct RowCollector {
    /// The file's shape.
    let shape: [Int]
    /// The file's data bytes (product of `shape`).
    let expected: Int
    /// Data bytes taken so far.
    private(set) var received = 0
    private let rowSize: Int
    /// (row in the file, position in the output), by row; `nil` keeps every byte.
    private let picks: [(row: Int, slot: Int)]?
    private let pickedCount: Int
    private var nextPick = 0
    private var output: [UInt8] = []

    /// Prepares to collect a file of `shape`: the rows `picked` (each in `0..<shape[0]`), or all
    /// of it (`nil`), reserving `initialCapacity` bytes up front in that case.
    /// - Throws: `DatasetError.invalidArgument` naming `path` when a picked row is outside the
    ///   file, the file has no rows, or the picked rows are more than `bound`.
    init(shape: [Int], picked: [Int]?, path: String, bound: IDX.Bound, initialCapacity: Int,
         stats: inout DecompressionStats) throws {
        self.shape = shape
        expected = shape.reduce(1, *)
        guard let picked else {
            rowSize = 0
            picks = nil
            pickedCount = 0
            let first = min(initialCapacity, expected)
            if first > 0 {
                output.reserveCapacity(first)
                stats.record(first)
            }
            return
        }
        guard let count = shape.first else {
            throw DatasetError.invalidArgument(path: path, reason: "rows can be picked only from an IDX file of at least one dimension")
        }
        if let row = picked.first(where: { !(0..<count).contains($0) }) {
            throw DatasetError.invalidArgument(path: path, reason: "row \(row) is outside the file's rows 0..<\(count)")
        }
        rowSize = shape.dropFirst().reduce(1, *)
        let (size, overflow) = picked.count.multipliedReportingOverflow(by: rowSize)
        guard !overflow, size <= bound.bytes else {
            throw DatasetError.invalidArgument(
                path: path, reason: "\(picked.count) rows of \(rowSize) bytes are more than the \(bound.bytes) bytes allowed (\(bound.reason))")
        }
        picks = picked.enumerated().map { (row: $0.element, slot: $0.offset) }.sorted { $0.row < $1.row }
        pickedCount = picked.count
        output = [UInt8](repeating: 0, count: size)
        stats.record(size)
    }

    /// Takes the next data bytes of the file (at most `expected - received`).
    mutating func take(_ chunk: UnsafeRawBufferPointer, stats: inout DecompressionStats) {
        guard chunk.count > 0, let source = chunk.baseAddress else { return }
        let start = received, end = received + chunk.count
        received = end
        guard let picks else {
            if output.count + chunk.count > output.capacity {
                let grown = min(expected, max(output.count + chunk.count, 2 * output.capacity, 1 << 16))
                output.reserveCapacity(grown)
                stats.record(grown)
            }
            output.append(contentsOf: chunk)
            return
        }
        let rowSize = rowSize
        var i = nextPick
        output.withUnsafeMutableBytes { out in
            while i < picks.count, picks[i].row * rowSize < end {
                let rowStart = picks[i].row * rowSize
                let lo = max(rowStart, start), hi = min(rowStart + rowSize, end)
                if lo < hi {
                    (out.baseAddress! + picks[i].slot * rowSize + (lo - rowStart))
                        .copyMemory(from: source + (lo - start), byteCount: hi - lo)
                }
                i += 1
            }
        }
        while nextPick < picks.count, (picks[nextPick].row + 1) * rowSize <= end { nextPick += 1 }
    }

    /// What was collected: the whole file, or the picked rows in the order picked.
    var tensor: IDXTensor {
        picks == nil ? IDXTensor(shape: shape, bytes: output) : IDXTensor(shape: [pickedCount] + shape.dropFirst(), bytes: output)
    }
}

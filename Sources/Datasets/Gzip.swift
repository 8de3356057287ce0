import CZlib

/// In-memory gzip compression and decompression through the system zlib
/// (RFC 1952 gzip framing over RFC 1951 deflate).
public enum Gzip {
    /// The default cap on the decompressed size in `decompress(_:path:maxOutputBytes:)`:
    /// 1 GiB. Larger output is treated as a corrupt file or a decompression bomb.
    public static let defaultMaxOutputBytes = 1 << 30

    /// Whether `bytes` starts with the gzip magic number 0x1f 0x8b.
    public static func isGzip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    /// Whether `bytes` starts with the gzip magic number 0x1f 0x8b.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isGzip($0) }
    }

    /// Decompresses a complete gzip file held in memory.
    ///
    /// Concatenated gzip members (as produced by `cat a.gz b.gz`) are
    /// decompressed one after another. Uses `inflateInit2(..., 15 + 32)`
    /// (automatic zlib/gzip header detection) and streams the output in
    /// chunks. The output buffer starts at the size the gzip trailer's ISIZE
    /// field announces, but never above `saneCapacity(compressedCount:)`
    /// (8 × the compressed size + 1 MiB) nor `maxOutputBytes`, since the
    /// trailer of a corrupt or truncated file is garbage; it grows as needed.
    /// Decompression stops as soon as the output would exceed `maxOutputBytes`,
    /// so a decompression bomb never gets further than that.
    ///
    /// - Parameters:
    ///   - compressed: the gzip bytes.
    ///   - path: the file name to put in error messages.
    ///   - maxOutputBytes: the most decompressed bytes accepted (default
    ///     ``defaultMaxOutputBytes``, 1 GiB); must not be negative.
    /// - Returns: the decompressed bytes.
    /// - Throws: `DatasetError.corruptGzip` when the stream is invalid, fails
    ///   its CRC or length check, ends early, or is followed by non-gzip bytes;
    ///   `DatasetError.decompressedTooLarge` when it decompresses to more than
    ///   `maxOutputBytes` bytes. Both name `path`.
    public static func decompress(_ compressed: UnsafeRawBufferPointer, path: String,
                                  maxOutputBytes: Int = defaultMaxOutputBytes) throws -> [UInt8] {
        var stats = DecompressionStats()
        return try decompress(compressed, path: path, maxOutputBytes: maxOutputBytes, stats: &stats)
    }

    /// Decompresses a complete gzip file held in memory (array overload of
    /// the buffer-pointer version; same behaviour and errors).
    public static func decompress(_ compressed: [UInt8], path: String,
                                  maxOutputBytes: Int = defaultMaxOutputBytes) throws -> [UInt8] {
        try compressed.withUnsafeBytes { try decompress($0, path: path, maxOutputBytes: maxOutputBytes) }
    }

    /// ``decompress(_:path:maxOutputBytes:)`` that also records how much
    /// output memory it reserved in `stats`.
    static func decompress(_ compressed: UnsafeRawBufferPointer, path: String, maxOutputBytes: Int,
                           stats: inout DecompressionStats) throws -> [UInt8] {
        precondition(maxOutputBytes >= 0, "maxOutputBytes must not be negative")
        let inflater = try Inflater(compressed, path: path)
        var output: [UInt8] = []
        let capacity = initialCapacity(compressedCount: compressed.count,
                                       trailerSize: trailerSize(compressed),
                                       maxOutputBytes: maxOutputBytes)
        try inflater.append(to: &output, upTo: maxOutputBytes, initialCapacity: capacity, stats: &stats)
        if !inflater.isFinished, try inflater.skip(upTo: 1) > 0 {
            throw DatasetError.decompressedTooLarge(
                path: path, limit: maxOutputBytes,
                detail: "the limit for this file; it is corrupt or a decompression bomb")
        }
        return output
    }

    /// The largest output buffer reserved up front for `compressedCount`
    /// compressed bytes: 8 × `compressedCount` + 1 MiB (saturating). Deflate
    /// can expand ~1032:1, so bigger output is possible; the buffer then grows
    /// as data actually arrives rather than on the word of a (possibly
    /// corrupt) size field.
    static func saneCapacity(compressedCount: Int) -> Int {
        let (scaled, overflow) = compressedCount.multipliedReportingOverflow(by: 8)
        return overflow ? Int.max : scaled.addingReportingOverflow(1 << 20).overflow ? Int.max : scaled + (1 << 20)
    }

    /// The initial output capacity: the ISIZE hint (or 2 × the compressed
    /// size without one), clamped to ``saneCapacity(compressedCount:)`` and
    /// to `maxOutputBytes`.
    static func initialCapacity(compressedCount: Int, trailerSize: Int?, maxOutputBytes: Int) -> Int {
        let hint: Int
        if let trailerSize, trailerSize > 0 {
            hint = trailerSize
        } else {
            hint = compressedCount.multipliedReportingOverflow(by: 2).overflow ? Int.max : 2 * compressedCount
        }
        return max(0, min(hint, saneCapacity(compressedCount: compressedCount), maxOutputBytes))
    }

    /// The ISIZE field of the last gzip member's trailer (uncompressed length
    /// mod 2^32): a hint only, garbage for a truncated or corrupt file.
    static func trailerSize(_ compressed: UnsafeRawBufferPointer) -> Int? {
        let n = compressed.count
        guard n >= 18 else { return nil }
        return Int(compressed[n - 4]) | Int(compressed[n - 3]) << 8
            | Int(compressed[n - 2]) << 16 | Int(compressed[n - 1]) << 24
    }

    /// Compresses bytes into a single gzip member (deflate, 15-bit window,
    /// memory level 8, default strategy). The header carries no file name and
    /// a zero modification time, so equal input gives equal output.
    ///
    /// - Parameters:
    ///   - bytes: the data to compress.
    ///   - level: zlib compression level 0...9 (default 6).
    ///   - path: the file name to put in error messages.
    /// - Returns: the gzip bytes.
    /// - Throws: `DatasetError.writeFailed` if zlib reports an error.
    public static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = 6, path: String = "<memory>") throws -> [UInt8] {
        var stream = z_stream()
        var status = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                   zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw DatasetError.writeFailed(path: path, reason: "deflateInit2 failed (\(status))")
        }
        defer { deflateEnd(&stream) }

        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 64)
        var produced = 0
        var consumed = 0
        let total = bytes.count
        let chunkLimit = Int(UInt32.max / 2)
        while true {
            if produced == output.count {
                output.append(contentsOf: repeatElement(0, count: max(output.count / 2, 1 << 16)))
            }
            let inCount = min(total - consumed, chunkLimit)
            let outCount = min(output.count - produced, chunkLimit)
            let flush = consumed + inCount == total ? Z_FINISH : Z_NO_FLUSH
            if let base = bytes.baseAddress {
                stream.next_in = UnsafeMutablePointer(mutating: base.advanced(by: consumed).assumingMemoryBound(to: Bytef.self))
            }
            stream.avail_in = uInt(inCount)
            status = output.withUnsafeMutableBytes { out -> Int32 in
                stream.next_out = out.baseAddress!.advanced(by: produced).assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(outCount)
                return deflate(&stream, flush)
            }
            consumed += inCount - Int(stream.avail_in)
            produced += outCount - Int(stream.avail_out)
            stream.next_in = nil
            stream.next_out = nil
            if status == Z_STREAM_END {
                output.removeSubrange(produced...)
                return output
            }
            guard status == Z_OK || status == Z_BUF_ERROR else {
                let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw DatasetError.writeFailed(path: path, reason: "deflate: \(message)")
            }
        }
    }

    /// Compresses bytes into a single gzip member (array overload of the
    /// buffer-pointer version; same behaviour and errors).
    public static func compress(_ bytes: [UInt8], level: Int32 = 6, path: String = "<memory>") throws -> [UInt8] {
        try bytes.withUnsafeBytes { try compress($0, level: level, path: path) }
    }
}

/// How much memory a decompression reserved for its output, for tests of the
/// size limits (scratch buffers of fixed size are not counted).
struct DecompressionStats: Sendable {
    /// The sum of every output-buffer capacity requested (an upper bound on
    /// the output memory live at any one time).
    var reservedBytes = 0
    /// The largest single output-buffer capacity requested.
    var largestReservation = 0

    mutating func record(_ capacity: Int) {
        reservedBytes += capacity
        largestReservation = max(largestReservation, capacity)
    }
}

extension Gzip {
    /// A streaming gzip decoder over compressed bytes held in memory: each
    /// call produces the next chunk of output, so a caller can stop (or
    /// check sizes) at any point instead of decompressing everything first.
    ///
    /// The input buffer is borrowed: it must stay valid for the inflater's
    /// lifetime (use it inside `withUnsafeBytes`).
    final class Inflater {
        /// The file name for error messages.
        let path: String
        private let input: UnsafeRawBufferPointer
        private let stream: UnsafeMutablePointer<z_stream>
        private let scratch: UnsafeMutableRawBufferPointer
        private var consumed = 0
        /// Whether the last gzip member ended (its CRC and length checked)
        /// exactly at the end of the input.
        private(set) var isFinished = false

        /// Starts decoding `input` (a gzip file; concatenated members allowed).
        /// - Throws: `DatasetError.corruptGzip` for empty input or when zlib
        ///   cannot be initialised.
        init(_ input: UnsafeRawBufferPointer, path: String) throws {
            guard input.count > 0, input.baseAddress != nil else {
                throw DatasetError.corruptGzip(path: path, reason: "empty input")
            }
            self.path = path
            self.input = input
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            let status = inflateInit2_(stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
            guard status == Z_OK else {
                stream.deinitialize(count: 1)
                stream.deallocate()
                throw DatasetError.corruptGzip(path: path, reason: "inflateInit2 failed (\(status))")
            }
            self.stream = stream
            self.scratch = .allocate(byteCount: 1 << 16, alignment: 16)
        }

        deinit {
            inflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
            scratch.deallocate()
        }

        /// Decompresses the next bytes into `buffer`.
        /// - Returns: how many bytes were written: `buffer.count` unless the
        ///   stream ended first; 0 only at the end (or for an empty buffer).
        /// - Throws: `DatasetError.corruptGzip` for invalid data, a CRC or
        ///   length mismatch, input that ends inside the stream, or non-gzip
        ///   bytes after a member.
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            guard buffer.count > 0, let out = buffer.baseAddress else { return 0 }
            let chunkLimit = Int(UInt32.max / 2)
            var written = 0
            while !isFinished && written < buffer.count {
                let inCount = min(input.count - consumed, chunkLimit)
                let outCount = min(buffer.count - written, chunkLimit)
                stream.pointee.next_in = UnsafeMutablePointer(
                    mutating: input.baseAddress!.advanced(by: consumed).assumingMemoryBound(to: Bytef.self))
                stream.pointee.avail_in = uInt(inCount)
                stream.pointee.next_out = out.advanced(by: written).assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(outCount)
                let status = inflate(stream, Z_NO_FLUSH)
                let usedIn = inCount - Int(stream.pointee.avail_in)
                let madeOut = outCount - Int(stream.pointee.avail_out)
                consumed += usedIn
                written += madeOut
                stream.pointee.next_in = nil
                stream.pointee.next_out = nil

                switch status {
                case Z_STREAM_END:
                    if consumed == input.count {
                        isFinished = true
                        break
                    }
                    // Another gzip member may follow; anything else is garbage.
                    let rest = UnsafeRawBufferPointer(rebasing: input[consumed...])
                    guard isGzip(rest) else {
                        throw DatasetError.corruptGzip(
                            path: path, reason: "\(input.count - consumed) bytes of trailing garbage after the gzip stream")
                    }
                    guard inflateReset(stream) == Z_OK else {
                        throw DatasetError.corruptGzip(path: path, reason: "inflateReset failed")
                    }
                case Z_OK, Z_BUF_ERROR:
                    // Z_BUF_ERROR means no progress was possible; with room
                    // for output that means the input ran out mid-stream.
                    if usedIn == 0 && madeOut == 0 {
                        if consumed == input.count {
                            throw DatasetError.corruptGzip(
                                path: path, reason: "unexpected end of compressed data after \(input.count) bytes")
                        }
                        throw DatasetError.corruptGzip(path: path, reason: "inflate made no progress (\(status))")
                    }
                case Z_NEED_DICT:
                    throw DatasetError.corruptGzip(path: path, reason: "stream requires a preset dictionary")
                default:
                    let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw DatasetError.corruptGzip(path: path, reason: message)
                }
            }
            return written
        }

        /// Decompresses into `output` (appending) until it holds `limit`
        /// bytes or the stream ends; never lets `output` grow past `limit`.
        ///
        /// - Parameters:
        ///   - initialCapacity: capacity to reserve before the first byte
        ///     (capped at `limit`); afterwards the capacity doubles as needed,
        ///     again capped at `limit`.
        ///   - stats: receives every capacity reserved.
        /// - Throws: as ``read(into:)``.
        func append(to output: inout [UInt8], upTo limit: Int, initialCapacity: Int = 0,
                    stats: inout DecompressionStats) throws {
            guard output.count < limit else { return }
            let first = min(max(initialCapacity, output.count), limit)
            if first > output.capacity {
                output.reserveCapacity(first)
                stats.record(first)
            }
            while !isFinished && output.count < limit {
                let want = min(scratch.count, limit - output.count)
                let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[..<want]))
                guard n > 0 else { break }
                if output.count + n > output.capacity {
                    let grown = min(limit, max(output.count + n, 2 * output.capacity, 1 << 16))
                    output.reserveCapacity(grown)
                    stats.record(grown)
                }
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<n]))
            }
        }

        /// Decompresses and discards up to `limit` bytes (stopping early at
        /// the end of the stream); checks the stream as ``read(into:)`` does.
        /// - Returns: how many bytes were discarded.
        func skip(upTo limit: Int) throws -> Int {
            var skipped = 0
            while !isFinished && skipped < limit {
                let want = min(scratch.count, limit - skipped)
                let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[..<want]))
                if n == 0 { break }
                skipped += n
            }
            return skipped
        }
    }
}

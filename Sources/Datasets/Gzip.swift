import CZlib

/// In-memory gzip compression and decompression through the system zlib
/// (RFC 1952 gzip framing over RFC 1951 deflate).
public enum Gzip {
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
    /// (automatic zlib/gzip header detection) and streams into a buffer sized
    /// from the gzip trailer's ISIZE field.
    ///
    /// - Parameters:
    ///   - compressed: the gzip bytes.
    ///   - path: the file name to put in error messages.
    /// - Returns: the decompressed bytes.
    /// - Throws: `DatasetError.corruptGzip` when the stream is invalid, fails
    ///   its CRC or length check, ends early, or is followed by non-gzip bytes.
    public static func decompress(_ compressed: UnsafeRawBufferPointer, path: String) throws -> [UInt8] {
        guard compressed.count > 0, let base = compressed.baseAddress else {
            throw DatasetError.corruptGzip(path: path, reason: "empty input")
        }
        // ISIZE: uncompressed length mod 2^32 of the last member; a capacity hint only.
        var capacity = max(compressed.count * 2, 1 << 16)
        if compressed.count >= 18 {
            let n = compressed.count
            let isize = Int(compressed[n - 4]) | Int(compressed[n - 3]) << 8
                | Int(compressed[n - 2]) << 16 | Int(compressed[n - 1]) << 24
            // Deflate expands at most ~1032:1, so a larger ISIZE is bogus (corrupt file).
            if isize > 0 && isize / 1032 <= compressed.count { capacity = isize }
        }

        var stream = z_stream()
        var status = inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw DatasetError.corruptGzip(path: path, reason: "inflateInit2 failed (\(status))")
        }
        defer { inflateEnd(&stream) }

        var output = [UInt8](repeating: 0, count: capacity)
        var produced = 0
        var consumed = 0
        let total = compressed.count
        let chunkLimit = Int(UInt32.max / 2)

        while true {
            if produced == output.count {
                output.append(contentsOf: repeatElement(0, count: max(output.count, 1 << 16)))
            }
            let inCount = min(total - consumed, chunkLimit)
            let outCount = min(output.count - produced, chunkLimit)
            stream.next_in = UnsafeMutablePointer(mutating: base.advanced(by: consumed).assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(inCount)
            status = output.withUnsafeMutableBytes { out -> Int32 in
                stream.next_out = out.baseAddress!.advanced(by: produced).assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(outCount)
                return inflate(&stream, Z_NO_FLUSH)
            }
            consumed += inCount - Int(stream.avail_in)
            produced += outCount - Int(stream.avail_out)
            stream.next_in = nil
            stream.next_out = nil

            switch status {
            case Z_STREAM_END:
                if consumed == total {
                    output.removeSubrange(produced...)
                    return output
                }
                // Another gzip member may follow; anything else is garbage.
                let rest = UnsafeRawBufferPointer(rebasing: compressed[consumed...])
                guard isGzip(rest) else {
                    throw DatasetError.corruptGzip(
                        path: path, reason: "\(total - consumed) bytes of trailing garbage after the gzip stream")
                }
                guard inflateReset(&stream) == Z_OK else {
                    throw DatasetError.corruptGzip(path: path, reason: "inflateReset failed")
                }
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                // No progress possible: either output is full (grow and retry)
                // or the input is exhausted before the end of the stream.
                if produced < output.count && consumed == total {
                    throw DatasetError.corruptGzip(
                        path: path, reason: "unexpected end of compressed data after \(total) bytes")
                }
            case Z_NEED_DICT:
                throw DatasetError.corruptGzip(path: path, reason: "stream requires a preset dictionary")
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw DatasetError.corruptGzip(path: path, reason: message)
            }
        }
    }

    /// Decompresses a complete gzip file held in memory (array overload of
    /// the buffer-pointer version; same behaviour and errors).
    public static func decompress(_ compressed: [UInt8], path: String) throws -> [UInt8] {
        try compressed.withUnsafeBytes { try decompress($0, path: path) }
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

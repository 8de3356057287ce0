// Errors thrown by the Datasets module.
//
// Every case carries the path (or URL) of the file it is about, and every
// description starts with that path, so a message such as
// "/data/mnist/train-images-idx3-ubyte.gz: truncated: header says 47040000
// bytes of data, file has 1000" is enough to find and fix the problem.

/// An error from reading, writing, validating or fetching a data set file.
///
/// Every case names the file (or directory, or URL) it concerns; the
/// `description` begins with that path followed by a colon and the problem.
public enum DatasetError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file or directory does not exist.
    case fileNotFound(path: String)
    /// A directory was expected but `path` is something else (e.g. a regular file).
    case notADirectory(path: String)
    /// A file was expected but `path` is a directory.
    case isDirectory(path: String)
    /// The directory could not be created; `reason` says why (e.g. "a parent
    /// is not a directory (/data/file)" or the POSIX error).
    case cannotCreateDirectory(path: String, reason: String)
    /// None of the accepted names for a data set file exist in a directory
    /// (`tried` lists every path that was looked for, the first naming the
    /// preferred file).
    case missingDatasetFile(tried: [String])
    /// The file exists but could not be read (permissions, I/O error, ...).
    case readFailed(path: String, reason: String)
    /// The file could not be written, moved into place or removed.
    case writeFailed(path: String, reason: String)
    /// The file is shorter than the 4-byte IDX magic plus its dimension table.
    case truncatedHeader(path: String, needed: Int, available: Int)
    /// The first two bytes of the IDX magic number are not zero.
    case badMagic(path: String, bytes: [UInt8])
    /// The IDX type code (third magic byte) is not one this reader supports
    /// (only 0x08, unsigned byte, is supported).
    case unsupportedTypeCode(path: String, code: UInt8)
    /// The IDX header declares a different number of dimensions than expected.
    case wrongDimensionCount(path: String, expected: Int, found: Int)
    /// The product of the IDX dimensions overflows `Int`.
    case dimensionOverflow(path: String, dimensions: [Int])
    /// The IDX header declares `bytes` bytes of data (`dimensions`), more than the `limit`
    /// the reader accepts for this file (`reason` says what the limit is); refused before any
    /// memory is reserved for the data or any of it is read.
    case declaredTooLarge(path: String, dimensions: [Int], bytes: Int, limit: Int, reason: String)
    /// Fewer data bytes follow the header than the dimensions require.
    case truncated(path: String, expected: Int, found: Int)
    /// More data bytes follow the header than the dimensions require.
    case trailingData(path: String, expected: Int, found: Int)
    /// The gzip stream is corrupt (bad header, CRC/length mismatch, cut short,
    /// or followed by garbage). `reason` holds zlib's message when it gave one.
    case corruptGzip(path: String, reason: String)
    /// The gzip stream decompresses to more than `limit` bytes, so
    /// decompression was stopped there (a corrupt file, a decompression
    /// bomb, or an IDX file longer than its header declares). `detail` says
    /// where the limit came from.
    case decompressedTooLarge(path: String, limit: Int, detail: String)
    /// The tensor has the wrong shape for the data set (e.g. images that are
    /// not N×28×28).
    case wrongShape(path: String, expected: String, found: [Int])
    /// An images file and its labels file disagree on the number of samples.
    case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
    /// A label is outside the valid class range.
    case labelOutOfRange(path: String, index: Int, value: Int, validRange: ClosedRange<Int>)
    /// The SHA-256 of the file's (decompressed) contents is not the expected one.
    case checksumMismatch(path: String, expected: String, found: String)
    /// An argument is invalid (e.g. a validation split larger than the
    /// training set); `path` names the data the argument applied to.
    case invalidArgument(path: String, reason: String)
    /// An external command (curl, python3, pip) failed.
    case commandFailed(path: String, command: String, status: Int32, output: String)
    /// Every fetch route failed; `attempts` explains each route's failure.
    case fetchFailed(path: String, attempts: [String])
    /// A fetch destination (`directory`) already holds files under the MNIST
    /// names that are not the canonical MNIST files (or are not regular
    /// files); fetch refuses to touch them. `problems` holds one error per
    /// offending file, each naming it.
    case conflictingFiles(directory: String, problems: [DatasetError])

    /// The path (or URL) the error concerns.
    public var path: String {
        switch self {
        case .fileNotFound(let p), .notADirectory(let p), .isDirectory(let p),
             .cannotCreateDirectory(let p, _), .decompressedTooLarge(let p, _, _),
             .conflictingFiles(let p, _), .readFailed(let p, _), .writeFailed(let p, _),
             .truncatedHeader(let p, _, _), .badMagic(let p, _), .unsupportedTypeCode(let p, _),
             .wrongDimensionCount(let p, _, _), .dimensionOverflow(let p, _), .declaredTooLarge(let p, _, _, _, _),
             .truncated(let p, _, _), .trailingData(let p, _, _), .corruptGzip(let p, _),
             .wrongShape(let p, _, _), .labelOutOfRange(let p, _, _, _),
             .checksumMismatch(let p, _, _), .invalidArgument(let p, _),
             .commandFailed(let p, _, _, _), .fetchFailed(let p, _):
            return p
        case .missingDatasetFile(let tried):
            return tried.first ?? "<unknown>"
        case .countMismatch(let imagesPath, _, _, _):
            return imagesPath
        }
    }

    /// A one-line (for `fetchFailed` and `conflictingFiles`, multi-line)
    /// message: the path, a colon, then the problem.
    public var description: String {
        switch self {
        case .fileNotFound(let p):
            return "\(p): no such file or directory"
        case .notADirectory(let p):
            return "\(p): is not a directory"
        case .isDirectory(let p):
            return "\(p): is a directory, expected a file"
        case .cannotCreateDirectory(let p, let reason):
            return "\(p): cannot create directory: \(reason)"
        case .decompressedTooLarge(let p, let limit, let detail):
            return "\(p): decompresses to more than \(limit) bytes\(detail.isEmpty ? "" : " (\(detail))")"
        case .conflictingFiles(let p, let problems):
            return "\(p): refusing to install MNIST here: these files are not the canonical MNIST files"
                + " (fetch never replaces or deletes existing files; they were left untouched):\n"
                + problems.map { "  - \($0.description)" }.joined(separator: "\n")
                + "\nUse another data directory (--data-dir) or remove these files."
        case .missingDatasetFile(let tried):
            let first = tried.first ?? "<unknown>"
            let others = tried.dropFirst()
            return others.isEmpty
                ? "\(first): missing data set file"
                : "\(first): missing data set file (also tried \(others.joined(separator: ", ")))"
        case .readFailed(let p, let reason):
            return "\(p): cannot read: \(reason)"
        case .writeFailed(let p, let reason):
            return "\(p): cannot write: \(reason)"
        case .truncatedHeader(let p, let needed, let available):
            return "\(p): truncated IDX header: needs \(needed) bytes, file has \(available)"
        case .badMagic(let p, let bytes):
            let hex = bytes.map { hexByte($0) }.joined(separator: " ")
            return "\(p): not an IDX file: magic bytes are \(hex), expected 00 00 <type> <ndims>"
        case .unsupportedTypeCode(let p, let code):
            return "\(p): unsupported IDX type code 0x\(hexByte(code)) (\(idxTypeName(code))); only 0x08 (unsigned byte) is supported"
        case .wrongDimensionCount(let p, let expected, let found):
            return "\(p): wrong dimension count: expected \(expected), header says \(found)"
        case .dimensionOverflow(let p, let dims):
            return "\(p): IDX dimensions \(dims) overflow the addressable size"
        case .declaredTooLarge(let p, let dims, let bytes, let limit, let reason):
            return "\(p): the IDX header declares \(dims.map(String.init).joined(separator: "×")) = \(bytes) bytes of data,"
                + " more than the \(limit) bytes allowed (\(reason)); refused before any memory is reserved for it"
        case .truncated(let p, let expected, let found):
            return "\(p): truncated: header says \(expected) bytes of data, file has \(found)"
        case .trailingData(let p, let expected, let found):
            return "\(p): length mismatch: header says \(expected) bytes of data, file has \(found) (\(found - expected) trailing bytes)"
        case .corruptGzip(let p, let reason):
            return "\(p): corrupt gzip data: \(reason)"
        case .wrongShape(let p, let expected, let found):
            return "\(p): wrong shape: expected \(expected), file has \(found.map(String.init).joined(separator: "×"))"
        case .countMismatch(let ip, let ni, let lp, let nl):
            return "\(ip): \(ni) images but \(lp) has \(nl) labels"
        case .labelOutOfRange(let p, let index, let value, let range):
            return "\(p): label \(value) at index \(index) is outside \(range.lowerBound)...\(range.upperBound)"
        case .checksumMismatch(let p, let expected, let found):
            return "\(p): SHA-256 of decompressed contents is \(found), expected \(expected)"
        case .invalidArgument(let p, let reason):
            return "\(p): \(reason)"
        case .commandFailed(let p, let command, let status, let output):
            let trimmed = output.count > 2000 ? "…" + String(output.suffix(2000)) : output
            return "\(p): command `\(command)` failed with status \(status)\(trimmed.isEmpty ? "" : ": \(trimmed)")"
        case .fetchFailed(let p, let attempts):
            return "\(p): could not obtain MNIST; tried:\n" + attempts.map { "  - \($0)" }.joined(separator: "\n")
        }
    }
}

private func hexByte(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
}

private func idxTypeName(_ code: UInt8) -> String {
    switch code {
    case 0x08: return "unsigned byte"
    case 0x09: return "signed byte"
    case 0x0B: return "short"
    case 0x0C: return "int"
    case 0x0D: return "float"
    case 0x0E: return "double"
    default: return "not an IDX type"
    }
}

import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A text file that cannot be read, or whose bytes are not text: the path and the problem in
/// words (`is a named pipe (FIFO), not a regular file`).
public struct TextFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The path as given.
    public var path: String
    /// What is wrong, starting with a verb (`does not exist`, `is a directory, not a file`).
    public var problem: String
    /// Nothing is at the path (not even a broken symbolic link).
    public var isMissing: Bool

    /// An error about `path`.
    public init(path: String, problem: String, isMissing: Bool = false) {
        self.path = path
        self.problem = problem
        self.isMissing = isMissing
    }

    public var description: String { "\(path): \(problem)" }
}

/// The one reader of the text files landscape reads back — configurations, CSV tables, run.json,
/// study.json, failed.txt — and the one rule that splits them into lines.
///
/// ``read(_:maximumBytes:)`` looks at what is at the path before opening it, so a FIFO (which
/// would block until a writer comes), a device (`/dev/null`, `/dev/zero`) or a directory is
/// refused by what it is; then it reads at most `maximumBytes` and checks the bytes are UTF-8.
public enum TextFile {
    /// The default size limit: far above any file landscape writes (a metrics.csv of 100,000
    /// epochs is about 50 MB), far below what would exhaust memory.
    public static let defaultMaximumBytes = 1 << 28

    /// The file's text (a leading UTF-8 byte-order mark removed).
    /// - Throws: ``TextFileError`` naming the path and the problem: nothing there, a directory,
    ///   FIFO, device or socket, a symbolic link to nothing, no permission, more than
    ///   `maximumBytes`, or bytes that are not UTF-8 (with the offset of the first bad one).
    public static func read(_ url: URL, maximumBytes: Int = defaultMaximumBytes) throws(TextFileError) -> String {
        let bytes = try readBytes(url, maximumBytes: maximumBytes)
        guard var text = String(validating: bytes, as: UTF8.self) else {
            throw TextFileError(path: url.path, problem: "is not UTF-8 text: the bytes from offset \(JSONText.validUTF8Prefix(Data(bytes))) on are not valid UTF-8")
        }
        if text.first == "\u{FEFF}" { text.removeFirst() }
        return text
    }

    /// The bytes of a regular file (a checkpoint, a configuration), checked as ``read(_:maximumBytes:)``
    /// checks them before anything is opened, so that a FIFO never blocks and a device is never read.
    /// - Throws: ``TextFileError`` naming the path and the problem.
    public static func readBytes(_ url: URL, maximumBytes: Int) throws(TextFileError) -> [UInt8] {
        let path = url.path
        func fail(_ problem: String, missing: Bool = false) -> TextFileError { TextFileError(path: path, problem: problem, isMissing: missing) }
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT {
                var link = stat()
                if lstat(path, &link) == 0 { throw fail("is a symbolic link to a file that does not exist") }
                throw fail("does not exist", missing: true)
            }
            if code == ENOTDIR { throw fail("cannot be read: a component of the path is not a directory") }
            throw fail("cannot be read: \(SystemError.message(code))")
        }
        if let kind = nonRegularKind(info.st_mode) { throw fail(kind) }
        if Int(info.st_size) > maximumBytes { throw fail(tooLarge(Int(info.st_size), maximumBytes)) }
        // O_NONBLOCK: should the path be swapped for a FIFO after the check, open does not wait.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw fail("cannot be opened: \(SystemError.message(errno))") }
        defer { close(fd) }
        guard fstat(fd, &info) == 0 else { throw fail("cannot be read: \(SystemError.message(errno))") }
        if let kind = nonRegularKind(info.st_mode) { throw fail(kind) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("cannot be read: \(SystemError.message(errno))")
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
            if bytes.count > maximumBytes { throw fail(tooLarge(bytes.count, maximumBytes, growing: true)) }
        }
        return bytes
    }

    /// ``read(_:maximumBytes:)``, or `nil` when nothing is at the path.
    /// - Throws: ``TextFileError`` for everything else that keeps the file from being read.
    public static func readIfPresent(_ url: URL, maximumBytes: Int = defaultMaximumBytes) throws(TextFileError) -> String? {
        do { return try read(url, maximumBytes: maximumBytes) } catch where error.isMissing { return nil }
    }

    /// The lines of a text, split at `\n`, `\r\n` and a lone `\r` (Python's universal newlines,
    /// PEP 278), without their line ends.
    /// - Returns: the lines, and whether the text ends with a line end (a last line without one
    ///   may have been cut off while it was written). An empty text has no lines.
    public static func lines(of text: String) -> (lines: [Substring], terminated: Bool) {
        guard !text.isEmpty else { return ([], false) }
        // "\r\n" is one Character (one grapheme cluster), and a line end is never part of a larger one.
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        let terminated = lines.last?.isEmpty == true
        if terminated { lines.removeLast() }
        return (lines, terminated)
    }

    /// What a file of this mode is when it is not a regular file, as the problem to report.
    static func nonRegularKind(_ mode: mode_t) -> String? {
        guard let type = nonRegularFileType(mode) else { return nil }
        switch mode & mode_t(S_IFMT) {
        case mode_t(S_IFDIR): return "is a directory, not a file"
        case mode_t(S_IFIFO): return "is \(type), not a regular file (reading it would wait for a writer)"
        default: return "is \(type), not a regular file"
        }
    }

    static func tooLarge(_ size: Int, _ limit: Int, growing: Bool = false) -> String {
        "is \(growing ? "more than " : "")\(size) bytes\(growing ? " (it grew while being read)" : ""); at most \(limit) bytes are read from such a file"
    }
}

/// The POSIX `read(2)`, named apart from ``TextFile/read(_:maximumBytes:)``.
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// The operating system's reason for a failure, in plain words, in place of Foundation's
/// messages ("The operation could not be completed. (NSCocoaErrorDomain error 256.)", "You don’t
/// have permission" for a directory or a device).
public enum SystemError {
    /// `strerror(code)` with a lower-case first letter ("no space left on device").
    public static func message(_ code: Int32) -> String {
        let message = String(cString: strerror(code))
        return message.prefix(1).lowercased() + message.dropFirst()
    }

    /// The POSIX reason underneath a Foundation file error (its `NSUnderlyingErrorKey`), else the
    /// error's own description.
    public static func reason(of error: any Error) -> String {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return message(Int32(ns.code)) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? any Error, (underlying as NSError).domain == NSPOSIXErrorDomain {
            return message(Int32((underlying as NSError).code))
        }
        return "\(error)"
    }
}

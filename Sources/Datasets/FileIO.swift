import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and atomic writes with errors that name the path.
enum FileIO {
    /// Reads the entire file into memory.
    /// - Throws: as ``openForReading(_:)``; `DatasetError.readFailed` when a read fails.
    static func readBytes(_ url: URL) throws -> [UInt8] {
        try openForReading(url).readAll()
    }

    /// Throws unless a regular file (or a symbolic link to one) is at `url`: the check before
    /// any data file is opened, so that a FIFO or a device under a data file's name is refused
    /// instead of blocking `open(2)` or being read forever.
    /// - Throws: `DatasetError.fileNotFound`, `.isDirectory`, or `.readFailed` saying "a symbolic
    ///   link to nothing" or "it is a named pipe (FIFO), not a regular file" (or a character device, ...).
    static func checkRegularFile(_ url: URL) throws {
        switch entryKind(url) {
        case .regularFile: return
        case .missing: throw DatasetError.fileNotFound(path: url.path)
        case .directory: throw DatasetError.isDirectory(path: url.path)
        case .brokenSymbolicLink: throw DatasetError.readFailed(path: url.path, reason: "a symbolic link to nothing")
        case .other(let kind): throw DatasetError.readFailed(path: url.path, reason: "it is \(kind), not a regular file")
        }
    }

    /// Opens the regular file at `url` for reading, after ``checkRegularFile(_:)``. The open
    /// itself does not wait (`O_NONBLOCK`), and the opened file is checked again, so a FIFO
    /// put in its place meanwhile is refused too.
    /// - Throws: as ``checkRegularFile(_:)``; `DatasetError.readFailed` when it cannot be opened.
    static func openForReading(_ url: URL) throws -> ReadableFile {
        let path = url.path
        try checkRegularFile(url)
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw DatasetError.fileNotFound(path: path) }
            throw DatasetError.readFailed(path: path, reason: errorMessage(code))
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = errorMessage(errno)
            close(fd)
            throw DatasetError.readFailed(path: path, reason: reason)
        }
        guard info.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG) else {
            close(fd)
            throw DatasetError.readFailed(path: path, reason: "it is \(fileKind(info.st_mode)), not a regular file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return ReadableFile(path: path, descriptor: fd, size: Int(info.st_size))
    }

    /// A regular file open for reading (``openForReading(_:)``); closed when released.
    final class ReadableFile {
        /// The path, for error messages.
        let path: String
        /// The size in bytes when it was opened.
        let size: Int
        /// The open file descriptor (closed with the object).
        let descriptor: Int32

        init(path: String, descriptor: Int32, size: Int) {
            self.path = path
            self.descriptor = descriptor
            self.size = size
        }

        deinit { close(descriptor) }

        /// Reads from byte `offset` until `buffer` is full or the file ends.
        /// - Returns: the number of bytes read (less than `buffer.count` only at the end of the file).
        /// - Throws: `DatasetError.readFailed` naming the file.
        func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
            var done = 0
            while done < buffer.count {
                let n = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DatasetError.readFailed(path: path, reason: FileIO.errorMessage(errno))
                }
                if n == 0 { break }
                done += n
            }
            return done
        }

        /// Reads up to `count` bytes from byte `offset` (fewer at the end of the file).
        /// - Throws: `DatasetError.readFailed` naming the file.
        func read(count: Int, at offset: Int) throws -> [UInt8] {
            var failure: (any Error)?
            let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                do { initialized = try read(into: UnsafeMutableRawBufferPointer(buffer), at: offset) } catch {
                    failure = error
                    initialized = 0
                }
            }
            if let failure { throw failure }
            return bytes
        }

        /// The whole file (``size`` bytes).
        /// - Throws: `DatasetError.readFailed` naming the file, also when it shrank while being read.
        func readAll() throws -> [UInt8] {
            let bytes = try read(count: size, at: 0)
            if bytes.count != size {
                throw DatasetError.readFailed(path: path, reason: "file shrank while reading (\(bytes.count) of \(size) bytes)")
            }
            return bytes
        }
    }

    /// Writes `bytes` to `url` atomically: a uniquely named temporary file in
    /// the same directory is written, flushed, and renamed over the target, so
    /// readers see either the old file or the complete new one.
    /// - Throws: `DatasetError.writeFailed`.
    static func writeAtomically(_ bytes: UnsafeRawBufferPointer, to url: URL) throws {
        let path = url.path
        let directory = url.deletingLastPathComponent().path
        let temp = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else {
            throw DatasetError.writeFailed(path: path, reason: "cannot create \(temp): \(String(cString: strerror(errno)))")
        }
        var ok = false
        defer {
            if !ok { unlink(temp) }
        }
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd)
                throw DatasetError.writeFailed(path: path, reason: reason)
            }
            done += n
        }
        if fsync(fd) != 0 {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DatasetError.writeFailed(path: path, reason: "fsync: \(reason)")
        }
        if close(fd) != 0 {
            throw DatasetError.writeFailed(path: path, reason: "close: \(String(cString: strerror(errno)))")
        }
        try move(URL(fileURLWithPath: temp), to: url)
        ok = true
    }

    /// Writes `bytes` to `url` atomically; see `writeAtomically(_:to:)`.
    static func writeAtomically(_ bytes: [UInt8], to url: URL) throws {
        try bytes.withUnsafeBytes { try writeAtomically($0, to: url) }
    }

    /// Renames `source` to `destination`, atomically replacing any existing
    /// file there (rename(2); both must be on the same file system).
    /// - Throws: `DatasetError.writeFailed` naming the destination.
    static func move(_ source: URL, to destination: URL) throws {
        if rename(source.path, destination.path) != 0 {
            throw DatasetError.writeFailed(
                path: destination.path,
                reason: "rename from \(source.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Whether a regular file (not a directory) exists at `url`.
    static func isFile(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    /// Whether a directory exists at `url`.
    static func isDirectory(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    // MARK: - Directories, copies and installs with precise errors

    /// `strerror(code)` with a lower-case first letter, e.g. "no space left on device".
    static func errorMessage(_ code: Int32) -> String {
        let message = String(cString: strerror(code))
        return message.prefix(1).lowercased() + message.dropFirst()
    }

    /// What is at a path, without following a final symbolic link that
    /// leads nowhere.
    enum EntryKind: Equatable {
        /// Nothing (or nothing this process can see).
        case missing
        /// A regular file, or a symbolic link to one.
        case regularFile
        /// A directory, or a symbolic link to one.
        case directory
        /// A symbolic link whose target does not exist.
        case brokenSymbolicLink
        /// A FIFO, device or socket; `kind` names it (``nonRegularFileType(_:)``).
        case other(kind: String)
    }

    /// The kind of entry at `url` (following symbolic links that resolve).
    static func entryKind(_ url: URL) -> EntryKind {
        var info = stat()
        if stat(url.path, &info) == 0 {
            switch info.st_mode & mode_t(S_IFMT) {
            case mode_t(S_IFREG): return .regularFile
            case mode_t(S_IFDIR): return .directory
            default: return .other(kind: fileKind(info.st_mode))
            }
        }
        if lstat(url.path, &info) == 0 { return .brokenSymbolicLink }
        return .missing
    }

    /// What a file mode that is not a regular file is, for messages (``nonRegularFileType(_:)``).
    static func fileKind(_ mode: mode_t) -> String { nonRegularFileType(mode) ?? "a regular file" }

    /// Creates `url` and any missing parents (like `mkdir -p`).
    /// - Throws: `DatasetError.cannotCreateDirectory` naming `url.path`, with
    ///   the reason: "it exists and is not a directory", "a parent is not a
    ///   directory (<parent>)", or the POSIX error (e.g. "permission denied").
    static func createDirectory(_ url: URL) throws {
        let path = url.standardizedFileURL.path
        var prefixes: [String] = []
        var current = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + component
            prefixes.append(current)
        }
        for prefix in prefixes {
            var info = stat()
            if stat(prefix, &info) == 0 {
                if info.st_mode & mode_t(S_IFMT) == mode_t(S_IFDIR) { continue }
                throw DatasetError.cannotCreateDirectory(
                    path: path,
                    reason: prefix == path ? "it exists and is not a directory" : "a parent is not a directory (\(prefix))")
            }
            if mkdir(prefix, 0o777) == 0 { continue }
            let code = errno
            if code == EEXIST && isDirectory(URL(fileURLWithPath: prefix)) { continue }   // created concurrently
            if code == ENOTDIR {
                throw DatasetError.cannotCreateDirectory(path: path, reason: "a parent is not a directory")
            }
            throw DatasetError.cannotCreateDirectory(
                path: path, reason: prefix == path ? errorMessage(code) : "\(prefix): \(errorMessage(code))")
        }
    }

    /// Copies the regular file `source` to `destination`, which must not
    /// exist yet (it is created with mode 0644, never overwritten). A
    /// partial copy is removed.
    /// - Throws: `DatasetError.readFailed` naming `source` when it cannot be
    ///   opened or read; `DatasetError.writeFailed` naming `destination`
    ///   when it cannot be created or written (e.g. "no space left on device").
    static func copyFile(from source: URL, to destination: URL) throws {
        let input = try openForReading(source)
        let output = open(destination.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard output >= 0 else {
            throw DatasetError.writeFailed(path: destination.path, reason: errorMessage(errno))
        }
        var ok = false
        defer { if !ok { unlink(destination.path) } }
        do {
            // `input` closes its descriptor when released: keep it alive through the copy.
            try withExtendedLifetime(input) {
                try copyContents(from: input.descriptor, sourcePath: source.path, to: output, destinationPath: destination.path)
            }
        } catch {
            close(output)
            throw error
        }
        if close(output) != 0 {
            throw DatasetError.writeFailed(path: destination.path, reason: errorMessage(errno))
        }
        ok = true
    }

    /// Copies everything readable from `input` to `output` (open file
    /// descriptors). Errors name the side that failed: read errors
    /// `sourcePath` (`.readFailed`), write errors `destinationPath`
    /// (`.writeFailed`, e.g. "no space left on device").
    static func copyContents(from input: Int32, sourcePath: String, to output: Int32, destinationPath: String) throws {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(input, buffer, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw DatasetError.readFailed(path: sourcePath, reason: errorMessage(errno))
            }
            if n == 0 { return }
            var done = 0
            while done < n {
                let w = write(output, buffer + done, n - done)
                if w < 0 {
                    if errno == EINTR { continue }
                    throw DatasetError.writeFailed(path: destinationPath, reason: errorMessage(errno))
                }
                if w == 0 {
                    throw DatasetError.writeFailed(path: destinationPath, reason: errorMessage(ENOSPC))
                }
                done += w
            }
        }
    }

    /// Moves `source` to `destination` only if nothing is at `destination`
    /// (a hard link then unlink, so an existing file is never replaced,
    /// even one that appears concurrently; on file systems without hard
    /// links, a check then rename(2)). Both must be on the same file system.
    /// - Returns: `false` (leaving `source` in place) when `destination` exists.
    /// - Throws: `DatasetError.writeFailed` naming `destination`.
    static func moveWithoutReplacing(_ source: URL, to destination: URL) throws -> Bool {
        if link(source.path, destination.path) == 0 {
            unlink(source.path)
            return true
        }
        let code = errno
        if code == EEXIST { return false }
        if code == EPERM || code == ENOTSUP || code == EOPNOTSUPP || code == EMLINK || code == ENOSYS {
            var info = stat()
            if lstat(destination.path, &info) == 0 { return false }
            try move(source, to: destination)
            return true
        }
        throw DatasetError.writeFailed(path: destination.path,
                                       reason: "cannot link from \(source.path): \(errorMessage(code))")
    }
}

import Foundation
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
    /// - Throws: `DatasetError.fileNotFound` or `DatasetError.readFailed`.
    static func readBytes(_ url: URL) throws -> [UInt8] {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetError.fileNotFound(path: path)
        }
        if isDirectory.boolValue {
            throw DatasetError.readFailed(path: path, reason: "is a directory")
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw DatasetError.readFailed(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw DatasetError.readFailed(path: path, reason: String(cString: strerror(errno)))
        }
        let size = Int(info.st_size)
        var failure: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let n = read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    break
                }
                if n == 0 { break }
                done += n
            }
            // Bytes beyond `done` are never exposed: report what was read.
            initialized = done
        }
        if let failure { throw DatasetError.readFailed(path: path, reason: failure) }
        if bytes.count != size {
            throw DatasetError.readFailed(path: path, reason: "file shrank while reading (\(bytes.count) of \(size) bytes)")
        }
        return bytes
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
}

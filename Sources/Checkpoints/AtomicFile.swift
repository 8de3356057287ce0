import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic whole-file replacement: write to a temporary file in the destination's
/// directory, flush it to disk, then `rename(2)` it over the destination.
///
/// A reader (or a crash) therefore sees either the old file or the complete new
/// one, never a half-written file. If the destination already exists its
/// permission bits are carried over; otherwise the new file is created with mode
/// 0644 (minus the umask). On failure the temporary file is removed and the
/// destination is left untouched.
public enum AtomicFile {
    /// Atomically replaces the file at `url` with `data`.
    ///
    /// - Parameters:
    ///   - data: the complete new file contents.
    ///   - url: a `file:` URL; its directory must exist and be writable.
    /// - Throws: ``CheckpointError/ioFailure(path:operation:reason:)`` naming the
    ///   failed step (create, write, sync, rename) and the system's reason.
    public static func write(_ data: Data, to url: URL) throws {
        let destination = url.path
        let directory = url.deletingLastPathComponent().path
        let tempPath = (directory as NSString).appendingPathComponent(
            ".\(url.lastPathComponent).\(UUID().uuidString).tmp")

        let fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CheckpointError.ioFailure(path: destination, operation: "create temporary file '\(tempPath)'",
                                            reason: systemReason())
        }
        var closed = false
        var renamed = false
        defer {
            if !closed { _ = close(fd) }
            if !renamed { _ = unlink(tempPath) }
        }

        // Keep an existing destination's permission bits.
        var existing = stat()
        if stat(destination, &existing) == 0 {
            _ = fchmod(fd, existing.st_mode & 0o7777)
        }

        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CheckpointError.ioFailure(path: destination, operation: "write temporary file '\(tempPath)'",
                                                    reason: systemReason())
                }
                offset += n
            }
        }
        guard fsync(fd) == 0 else {
            throw CheckpointError.ioFailure(path: destination, operation: "sync temporary file '\(tempPath)'",
                                            reason: systemReason())
        }
        closed = true
        guard close(fd) == 0 else {
            throw CheckpointError.ioFailure(path: destination, operation: "close temporary file '\(tempPath)'",
                                            reason: systemReason())
        }
        guard rename(tempPath, destination) == 0 else {
            throw CheckpointError.ioFailure(path: destination, operation: "rename '\(tempPath)' over destination",
                                            reason: systemReason())
        }
        renamed = true

        // Best effort: make the rename itself durable.
        let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            _ = close(dirFD)
        }
    }

    /// Atomically replaces the file at `url` with `text` encoded as UTF-8.
    /// - Throws: as ``write(_:to:)-(Data,_)``.
    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }

    /// Removes the temporary files that writes into `directory` left behind when their process
    /// was killed. Only safe while no other process writes there (under the directory's lock).
    /// - Returns: the names removed.
    @discardableResult
    public static func removeStaleTemporaryFiles(in directory: URL) -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter(isTemporaryName)
        for name in names { _ = unlink(directory.appendingPathComponent(name).path) }
        return names.sorted()
    }

    /// Whether `name` is one of ``write(_:to:)-(Data,_)``'s temporary names (`.NAME.UUID.tmp`).
    public static func isTemporaryName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return name.hasPrefix(".") && parts.count >= 4 && parts.last == "tmp" && UUID(uuidString: String(parts[parts.count - 2])) != nil
    }

    private static func systemReason() -> String {
        String(cString: strerror(errno))
    }
}

/// The POSIX `write(2)`, named apart from ``AtomicFile/write(_:to:)``.
@inline(__always)
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

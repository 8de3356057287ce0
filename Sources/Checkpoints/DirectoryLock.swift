import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One process per run directory: an exclusive `flock(2)` on `DIR/.lock`, held until the
/// descriptor is closed (or the process ends, however it ends).
public enum DirectoryLock {
    /// The lock file's name inside the directory.
    public static let fileName = ".lock"

    /// Takes the lock without waiting.
    /// - Returns: the lock's file descriptor (pass it to ``release(_:)``), or `nil` when another
    ///   open file description holds it.
    /// - Throws: ``CheckpointError/ioFailure(path:operation:reason:)`` when the lock file cannot be created.
    public static func acquire(in directory: URL) throws -> Int32? {
        let path = directory.appendingPathComponent(fileName).path
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CheckpointError.ioFailure(path: path, operation: "create lock file", reason: String(cString: strerror(errno)))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Releases a lock taken by ``acquire(in:)``.
    public static func release(_ fd: Int32) { close(fd) }
}

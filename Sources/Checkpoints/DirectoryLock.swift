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

    /// Takes the lock without waiting. A lock file that is a symbolic link is refused, not
    /// followed (`O_NOFOLLOW`), so the lock never creates or locks a file outside the directory.
    /// - Returns: the lock's file descriptor (pass it to ``release(_:)``), or `nil` when another
    ///   open file description holds it.
    /// - Throws: ``CheckpointError/ioFailure(path:operation:reason:)`` naming the lock file when
    ///   it is a symbolic link or cannot be created.
    public static func acquire(in directory: URL) throws -> Int32? {
        let path = directory.appendingPathComponent(fileName).path
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            let code = errno
            var info = stat()
            let reason = code == ELOOP && lstat(path, &info) == 0 && info.st_mode & mode_t(S_IFMT) == mode_t(S_IFLNK)
                ? "it is a symbolic link, which a lock file must not be (remove it; the lock file is created anew)"
                : String(cString: strerror(code))
            throw CheckpointError.ioFailure(path: path, operation: "create lock file", reason: reason)
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

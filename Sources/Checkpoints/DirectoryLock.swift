import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One process per run directory: an exclusive `flock(2)` on `DIR/.lock`, held until the
/// descriptor is closed (or the process ends, however it ends). Other lock files of a directory
/// (a study's short lock around its shared files, `.files.lock`) use the same calls with their
/// own `name`; a shared lock lets several holders in at once and keeps an exclusive one out.
public enum DirectoryLock {
    /// The lock file's name inside the directory.
    public static let fileName = ".lock"

    /// Takes the lock on `directory/name`: without waiting (`wait` false), or waiting until it
    /// is free (`wait` true; a signal that interrupts the wait does not end it). `shared` takes a
    /// shared lock (`LOCK_SH`: any number of holders, none exclusive) instead of an exclusive one.
    /// A lock file that is a symbolic link is refused, not followed (`O_NOFOLLOW`), so the lock
    /// never creates or locks a file outside the directory. Locks are per open file description,
    /// so two threads of one process that each acquire exclude each other as two processes do.
    /// - Returns: the lock's file descriptor (pass it to ``release(_:)``), or `nil` when another
    ///   open file description holds it (never `nil` with `wait`).
    /// - Throws: ``CheckpointError/ioFailure(path:operation:reason:)`` naming the lock file when
    ///   it is a symbolic link, cannot be created or cannot be locked.
    public static func acquire(in directory: URL, name: String = fileName, shared: Bool = false, wait: Bool = false) throws -> Int32? {
        let path = directory.appendingPathComponent(name).path
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            let code = errno
            var info = stat()
            let reason = code == ELOOP && lstat(path, &info) == 0 && info.st_mode & mode_t(S_IFMT) == mode_t(S_IFLNK)
                ? "it is a symbolic link, which a lock file must not be (remove it; the lock file is created anew)"
                : String(cString: strerror(code))
            throw CheckpointError.ioFailure(path: path, operation: "create lock file", reason: reason)
        }
        let operation = (shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB)
        while flock(fd, operation) != 0 {
            let code = errno
            if code == EINTR { continue }
            close(fd)
            if code == EWOULDBLOCK { return nil }
            throw CheckpointError.ioFailure(path: path, operation: "lock", reason: String(cString: strerror(code)))
        }
        return fd
    }

    /// Releases a lock taken by ``acquire(in:name:shared:wait:)``.
    public static func release(_ fd: Int32) { close(fd) }
}

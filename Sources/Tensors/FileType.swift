import Foundation

/// What a file of mode `mode` (`stat`'s `st_mode`) is, for messages — "a named pipe (FIFO)",
/// "a directory", … — or `nil` for a regular file. Every reader that refuses what is not a
/// regular file (data files, checkpoints, configurations) names it with this one list.
public func nonRegularFileType(_ mode: mode_t) -> String? {
    switch mode & mode_t(S_IFMT) {
    case mode_t(S_IFREG): return nil
    case mode_t(S_IFDIR): return "a directory"
    case mode_t(S_IFIFO): return "a named pipe (FIFO)"
    case mode_t(S_IFCHR): return "a character device"
    case mode_t(S_IFBLK): return "a block device"
    case mode_t(S_IFSOCK): return "a socket"
    case mode_t(S_IFLNK): return "a symbolic link"
    default: return "of file type \(String(mode & mode_t(S_IFMT), radix: 8))"
    }
}

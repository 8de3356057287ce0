import Checkpoints
import Foundation

/// A command's output directory, what the command created for it, and its lock.
struct OutputDirectory {
    /// The directory.
    let url: URL
    /// The directories the command created: missing parents and the directory itself, outermost
    /// first. Only these are removed when the command fails (``removingIfEmptyOnError(_:_:)``).
    let created: [URL]
    /// The ``DirectoryLock`` taken on it (`probe`, `slice`), or `nil` (`train` and `study` lock
    /// their directories themselves).
    let lock: Int32?
}

/// Creates a command's output directory before any work starts.
///
/// An explicit directory must not already hold results (`run.json`, `metrics.csv`, a checkpoint,
/// a probe's or study's files): continuing into it would mix two runs. Without one,
/// `PREFIX-TIMESTAMP` is used, with `-2`, `-3`, … appended if another run took that name in the same second.
/// With `lock`, the directory's ``DirectoryLock`` is taken before the check for results, so of two
/// commands started into one directory the second is refused, whether the first is still running
/// or has written its results.
/// - Throws: ``CLIError`` naming the path and the reason (a file in the way, no permission, the
///   lock held, …).
func prepareOutputDirectory(_ explicit: String?, defaultPrefix: String, lock: Bool = false) throws -> OutputDirectory {
    let fm = FileManager.default
    func locked(_ url: URL) throws -> Int32? {
        guard lock else { return nil }
        let fd: Int32?
        do { fd = try DirectoryLock.acquire(in: url) } catch { throw CLIError(description: "output directory \(url.path): cannot take its lock: \(error)") }
        guard let fd else {
            throw CLIError(description: "output directory \(url.path): another landscape process is writing in it (its \(DirectoryLock.fileName) is held); choose another --output-dir or wait for it")
        }
        return fd
    }
    func create(_ url: URL) throws -> OutputDirectory {
        var isDir: ObjCBool = false
        var created: [URL] = []
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw CLIError(description: "output directory \(url.path) exists and is a file") }
            guard fm.isWritableFile(atPath: url.path) else { throw CLIError(description: "output directory \(url.path) is not writable") }
        } else {
            do { created = try makeDirectories(url) } catch let error as POSIXError {
                throw CLIError(description: "cannot create output directory \(url.path): \(String(cString: strerror(error.code.rawValue)))")
            }
        }
        let fd = try locked(url)
        let held = ((try? fm.contentsOfDirectory(atPath: url.path)) ?? []).filter {
            ["run.json", "metrics.csv", "probe.json", "density.csv", "slice1d.csv", "slice2d.csv", "config.json", "study.json", "runs"].contains($0)
                || ($0.hasPrefix("theta-epoch-") && $0.hasSuffix(".safetensors"))
        }
        if !held.isEmpty {
            if let fd { DirectoryLock.release(fd) }
            let resumable = held.contains("run.json") ? "continue it with `landscape train --resume \(url.path)`, " : held.contains("config.json") ? "continue it with `landscape study --resume \(url.path)`, " : ""
            throw CLIError(description: "output directory \(url.path) already holds a run (\(held.sorted().prefix(3).joined(separator: ", "))); \(resumable)choose another --output-dir or remove it")
        }
        return OutputDirectory(url: url, created: created, lock: fd)
    }
    if let explicit {
        guard !explicit.isEmpty else { throw CLIError(description: "--output-dir must not be empty") }
        return try create(URL(fileURLWithPath: explicit))
    }
    let f = DateFormatter()
    f.dateFormat = "yyyyMMdd-HHmmss"
    f.locale = Locale(identifier: "en_US_POSIX")
    let base = "\(defaultPrefix)-\(f.string(from: Date()))"
    for k in 1...1000 {
        let url = URL(fileURLWithPath: k == 1 ? base : "\(base)-\(k)")
        let parents: [URL]
        do { parents = try makeDirectories(url.deletingLastPathComponent()) } catch let error as POSIXError {
            throw CLIError(description: "cannot create output directory \(url.path): \(String(cString: strerror(error.code.rawValue)))")
        }
        // mkdir is atomic: the first process to create the name owns it.
        if mkdir(url.path, 0o755) == 0 { return OutputDirectory(url: url, created: parents + [url], lock: try locked(url)) }
        if errno == EEXIST { continue }
        throw CLIError(description: "cannot create output directory \(url.path): \(String(cString: strerror(errno)))")
    }
    throw CLIError(description: "cannot find a free run directory name under \(base)")
}

/// `mkdir -p`.
/// - Returns: the directories created, outermost first (none when `url` is a directory already).
/// - Throws: `POSIXError` (`ENOTDIR` for a file in the way, or mkdir's error).
func makeDirectories(_ url: URL) throws -> [URL] {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) {
        if isDir.boolValue { return [] }
        throw POSIXError(.ENOTDIR)
    }
    let parent = url.deletingLastPathComponent()
    let created = parent.path != url.path ? try makeDirectories(parent) : []
    if mkdir(url.path, 0o755) == 0 { return created + [url] }
    if errno == EEXIST { return created }
    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
}

/// Runs `body`; if it throws, removes the directories the command created for `directory` that
/// are left empty (but for the lock file), innermost first, and rethrows. A directory that
/// existed before the command is kept, even when empty (`--output-dir .` included).
func removingIfEmptyOnError(_ directory: OutputDirectory, _ body: () throws -> Void) throws {
    do { try body() } catch {
        for url in directory.created.reversed() {
            guard let contents = try? FileManager.default.contentsOfDirectory(atPath: url.path), contents.allSatisfy({ $0 == DirectoryLock.fileName }),
                  (try? FileManager.default.removeItem(at: url)) != nil else { break }
        }
        throw error
    }
}

/// Writes `text` to `dir/name` atomically.
func writeText(_ text: String, _ dir: URL, _ name: String) throws {
    try AtomicFile.write(text, to: dir.appendingPathComponent(name))
}

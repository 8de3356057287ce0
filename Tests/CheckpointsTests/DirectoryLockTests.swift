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

    /// Shared locks admit each other and keep an exclusive one out; a waiting acquire returns
    /// once the holder releases (another thread, another open file description).
    @Test func sharedLocksAndWaiting() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let run = dir.file("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let a = try #require(try DirectoryLock.acquire(in: run, shared: true))
        let b = try #require(try DirectoryLock.acquire(in: run, shared: true))
        #expect(try DirectoryLock.acquire(in: run) == nil)
        DirectoryLock.release(a)
        #expect(try DirectoryLock.acquire(in: run) == nil)
        DirectoryLock.release(b)
        let held = try #require(try DirectoryLock.acquire(in: run, name: ".files.lock"))
        #expect(try DirectoryLock.acquire(in: run, name: ".files.lock", shared: true) == nil)
        // The other lock file of the directory is independent.
        let other = try #require(try DirectoryLock.acquire(in: run))
        DirectoryLock.release(other)
        // A waiting acquire on another thread gets the lock only after this one is released.
        let released = Flag()
        let done = DispatchSemaphore(value: 0)
        let waited = Flag()
        Thread.detachNewThread {
            if let fd = try? DirectoryLock.acquire(in: run, name: ".files.lock", wait: true) {
                if released.value { waited.set() }
                DirectoryLock.release(fd)
            }
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.2)
        released.set()
        DirectoryLock.release(held)
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(waited.value, "the waiting acquire returned before the holder released the lock")
    }
}

/// A flag set by one thread and read by another.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var set_ = false
    var value: Bool { lock.withLock { set_ } }
    func set() { lock.withLock { set_ = true } }
}

import Foundation
import Testing
@testable import Datasets
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value set by another thread.
private final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?
    var value: T? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// What `body` returned, if it returned within `seconds`. Otherwise a reader stuck in open(2)
/// on `fifo` is released (by opening the FIFO for writing, then closing it), so that a
/// regression fails the test instead of hanging it, and `nil` is returned.
func finishing<T: Sendable>(within seconds: Double, unblocking fifo: URL, _ body: @escaping @Sendable () -> T) -> T? {
    let box = Box<T>()
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        box.value = body()
        done.signal()
    }
    if done.wait(timeout: .now() + seconds) == .success { return box.value }
    let fd = open(fifo.path, O_WRONLY | O_NONBLOCK)
    if fd >= 0 { close(fd) }
    _ = done.wait(timeout: .now() + 30)
    return nil
}

/// The description of the error `body` throws, or "no error".
func failure(_ body: () throws -> Void) -> String {
    do { try body() } catch { return "\(error)" }
    return "no error"
}

/// Issue 24, class 3: a FIFO or device under a data file's name used to block or be read.
@Suite struct NonRegularFileTests {
    @Test func aFIFOUnderADataFileNameIsRefusedInsteadOfBlockingTheRead() throws {
        let dir = try makeTemporaryDirectory("fifo")
        defer { removeTemporaryDirectory(dir) }
        try writeSyntheticMNIST(to: dir, trainCount: 20, testCount: 10)
        let fifo = dir.appendingPathComponent(MNISTFile.trainImages.gzipName)
        try FileManager.default.removeItem(at: fifo)
        try #require(mkfifo(fifo.path, 0o644) == 0)
        let expected = "\(fifo.path): cannot read: it is a named pipe (FIFO), not a regular file"

        let read = finishing(within: 10, unblocking: fifo) { failure { _ = try IDX.read(fifo) } }
        #expect(read == expected, "IDX.read: \(read ?? "blocked in open(2)")")
        let load = finishing(within: 10, unblocking: fifo) { failure { _ = try MNISTDataset(directory: dir, validationCount: 5) } }
        #expect(load == expected, "MNISTDataset: \(load ?? "blocked in open(2)")")

        // fetch copying from a local copy whose training images are the FIFO.
        let destination = dir.appendingPathComponent("destination")
        let fetch = finishing(within: 10, unblocking: fifo) {
            failure { try MNISTFetcher.fetch(into: destination, localCopy: dir, routes: [.localCopy], environment: [:]) }
        }
        #expect(fetch == expected, "fetch: \(fetch ?? "blocked in open(2)")")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: destination.path)) == [])
    }

    @Test func aCharacterDeviceUnderADataFileNameIsRefused() throws {
        let dir = try makeTemporaryDirectory("device")
        defer { removeTemporaryDirectory(dir) }
        let link = dir.appendingPathComponent(MNISTFile.trainLabels.rawName)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "/dev/zero")
        // Before: read as an empty file ("truncated IDX header: needs 4 bytes, file has 0").
        #expect(failure { _ = try IDX.read(link) } == "\(link.path): cannot read: it is a character device, not a regular file")
    }
}

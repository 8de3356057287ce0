import Foundation
import Testing
@testable import Datasets

@Suite("IDX reader and writer")
struct IDXTests {
    @Test("round trip of a random uint8 tensor, raw and gzip", arguments: [false, true])
    func roundTrip(compressed: Bool) throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let tensor = IDXTensor(shape: [7, 5, 3], bytes: randomBytes(105, seed: 42))
        let url = dir.appendingPathComponent(compressed ? "t.idx.gz" : "t.idx")
        try IDX.write(tensor, to: url, compressed: compressed)

        let file = try Data(contentsOf: url)
        #expect(Gzip.isGzip([UInt8](file)) == compressed)
        if !compressed {
            // Header: 00 00 08 03, then 7, 5, 3 as big-endian UInt32.
            #expect(Array(file.prefix(16)) == [0, 0, 8, 3, 0, 0, 0, 7, 0, 0, 0, 5, 0, 0, 0, 3])
            #expect(file.count == 16 + 105)
        }
        let back = try IDX.read(url, expectedDimensions: 3)
        #expect(back == tensor)
        #expect(back.shape == [7, 5, 3])
        // No temporary files are left next to the target.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [url.lastPathComponent])
    }

    @Test("gzip detection is by content, not by name")
    func gzipDetectedByMagic() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let tensor = IDXTensor(shape: [300], bytes: randomBytes(300, seed: 3))
        let url = dir.appendingPathComponent("labels-without-gz-suffix")
        try IDX.write(tensor, to: url, compressed: true)
        #expect(try IDX.read(url) == tensor)
    }

    @Test("gzip round trip of larger data and concatenated members")
    func gzipMembers() throws {
        let a = randomBytes(200_000, seed: 11).map { $0 & 0x0F }   // compressible
        let b = randomBytes(1_000, seed: 12)
        let ga = try Gzip.compress(a), gb = try Gzip.compress(b)
        #expect(ga.count < a.count)
        #expect(try Gzip.decompress(ga, path: "a") == a)
        #expect(try Gzip.decompress(ga + gb, path: "ab") == a + b)
        #expect(try Gzip.decompress(try Gzip.compress([UInt8]()), path: "empty") == [])
    }

    // MARK: errors

    /// Writes `bytes` to a file named `name` and returns the error reading it throws.
    private func readError(_ bytes: [UInt8], name: String, expectedDimensions: Int? = nil) throws -> (DatasetError?, String) {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        let error = #expect(throws: DatasetError.self) {
            _ = try IDX.read(url, expectedDimensions: expectedDimensions)
        }
        if let error {
            #expect(error.description.hasPrefix(url.path + ": "), "message must start with the path: \(error)")
            #expect(error.path == url.path)
        }
        return (error, url.path)
    }

    private let valid = IDX.encode(IDXTensor(shape: [4, 28, 28], bytes: randomBytes(4 * 784, seed: 5)))

    @Test("truncated data, raw and gzip")
    func truncated() throws {
        let cut = Array(valid.prefix(16 + 1000))
        for (bytes, name) in [(cut, "train-images-idx3-ubyte"), (try Gzip.compress(cut), "train-images-idx3-ubyte.gz")] {
            let (error, _) = try readError(bytes, name: name)
            guard case .truncated(_, let expected, let found)? = error else {
                Issue.record("expected .truncated, got \(String(describing: error))"); continue
            }
            #expect(expected == 4 * 784)
            #expect(found == 1000)
            #expect(error!.description.contains("truncated: header says 3136 bytes of data, file has 1000"))
            #expect(error!.description.contains(name))
        }
    }

    @Test("truncated header")
    func truncatedHeader() throws {
        let (error, _) = try readError(Array(valid.prefix(9)), name: "short.idx")
        guard case .truncatedHeader(_, let needed, let available)? = error else {
            Issue.record("expected .truncatedHeader, got \(String(describing: error))"); return
        }
        #expect(needed == 16)
        #expect(available == 9)
    }

    @Test("trailing bytes after the data are a length mismatch")
    func trailingData() throws {
        let (error, _) = try readError(valid + [1, 2, 3], name: "long.idx")
        guard case .trailingData(_, let expected, let found)? = error else {
            Issue.record("expected .trailingData, got \(String(describing: error))"); return
        }
        #expect(expected == 3136)
        #expect(found == 3139)
        #expect(error!.description.contains("3 trailing bytes"))
    }

    @Test("wrong magic")
    func wrongMagic() throws {
        var bytes = valid
        bytes[0] = 0x50; bytes[1] = 0x4B   // "PK"
        let (error, _) = try readError(bytes, name: "zip-not-idx")
        guard case .badMagic(_, let magic)? = error else {
            Issue.record("expected .badMagic, got \(String(describing: error))"); return
        }
        #expect(magic == [0x50, 0x4B, 0x08, 0x03])
        #expect(error!.description.contains("not an IDX file"))
    }

    @Test("unsupported type code")
    func unsupportedType() throws {
        var bytes = valid
        bytes[2] = 0x0D   // float
        let (error, _) = try readError(bytes, name: "floats.idx")
        guard case .unsupportedTypeCode(_, let code)? = error else {
            Issue.record("expected .unsupportedTypeCode, got \(String(describing: error))"); return
        }
        #expect(code == 0x0D)
        #expect(error!.description.contains("0x0d (float)"))
    }

    @Test("wrong dimension count")
    func wrongDimensionCount() throws {
        let (error, _) = try readError(valid, name: "images-as-labels.idx", expectedDimensions: 1)
        guard case .wrongDimensionCount(_, let expected, let found)? = error else {
            Issue.record("expected .wrongDimensionCount, got \(String(describing: error))"); return
        }
        #expect(expected == 1)
        #expect(found == 3)
    }

    @Test("corrupt gzip: damaged body and cut-off stream")
    func corruptGzip() throws {
        var damaged = try Gzip.compress(valid)
        for i in 20..<40 { damaged[i] ^= 0x5A }
        let (error1, _) = try readError(damaged, name: "damaged.gz")
        guard case .corruptGzip? = error1 else {
            Issue.record("expected .corruptGzip, got \(String(describing: error1))"); return
        }
        #expect(error1!.description.contains("corrupt gzip"))

        let full = try Gzip.compress(valid)
        let (error2, _) = try readError(Array(full.prefix(full.count / 2)), name: "cut.gz")
        guard case .corruptGzip(_, let reason)? = error2 else {
            Issue.record("expected .corruptGzip, got \(String(describing: error2))"); return
        }
        #expect(reason.contains("unexpected end"))

        let (error3, _) = try readError(full + [0xDE, 0xAD], name: "garbage-after.gz")
        guard case .corruptGzip(_, let reason3)? = error3 else {
            Issue.record("expected .corruptGzip, got \(String(describing: error3))"); return
        }
        #expect(reason3.contains("trailing garbage"))

        // Gzip magic followed by noise (its bogus ISIZE must not cause a huge allocation).
        let noise = [0x1f, 0x8b] + randomBytes(500, seed: 8) + [0xff, 0xff, 0xff, 0x7f]
        let (error4, _) = try readError(noise, name: "noise.gz")
        guard case .corruptGzip? = error4 else {
            Issue.record("expected .corruptGzip, got \(String(describing: error4))"); return
        }
    }

    @Test("missing file names the path")
    func missingFile() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let url = dir.appendingPathComponent("t10k-labels-idx1-ubyte.gz")
        let error = #expect(throws: DatasetError.self) { _ = try IDX.read(url) }
        #expect(error == .fileNotFound(path: url.path))
        #expect(error?.description == "\(url.path): no such file or directory")
    }
}

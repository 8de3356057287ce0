import Foundation
import Testing
@testable import Datasets

/// Decompression must stay within memory bounds derived from the compressed
/// size, the caller's limit and (for IDX) the header's declared length,
/// whatever a corrupt trailer or a decompression bomb claims.
@Suite("Gzip size limits and IDX decompression bombs")
struct GzipLimitTests {
    /// `count` zero bytes, gzip-compressed (about 1000:1).
    private func compressedZeros(_ count: Int, after prefix: [UInt8] = []) throws -> [UInt8] {
        try Gzip.compress(prefix + [UInt8](repeating: 0, count: count))
    }

    @Test("a truncated .gz whose last 4 bytes claim ~4 GB reserves only a bound derived from its size")
    func garbageTrailerSize() throws {
        // Incompressible data, so the compressed stream is ~4.5 MB: large
        // enough that a 0xffffffff ISIZE looked plausible (≤ 1032 × size).
        let full = try Gzip.compress(randomBytes(4_500_000, seed: 21), level: 1)
        var cut = Array(full.prefix(full.count - 100_000))
        cut.replaceSubrange((cut.count - 4)..., with: [0xff, 0xff, 0xff, 0xff])
        #expect(cut.count > Int(UInt32.max) / 1032)

        var stats = DecompressionStats()
        let error = #expect(throws: DatasetError.self) {
            _ = try cut.withUnsafeBytes {
                try Gzip.decompress($0, path: "cut.gz", maxOutputBytes: Gzip.defaultMaxOutputBytes, stats: &stats)
            }
        }
        guard case .corruptGzip(let path, _)? = error else {
            Issue.record("expected .corruptGzip, got \(String(describing: error))"); return
        }
        #expect(path == "cut.gz")
        #expect(stats.largestReservation > 0)
        #expect(stats.largestReservation <= 8 * cut.count + (1 << 20),
                "reserved \(stats.largestReservation) bytes for \(cut.count) compressed bytes")
        #expect(stats.reservedBytes < 100 << 20, "reserved \(stats.reservedBytes) bytes in all")

        // The capacity rule itself: the trailer is a hint, clamped to
        // 8 × compressed + 1 MiB and to the caller's limit.
        #expect(Gzip.initialCapacity(compressedCount: 4_000_000, trailerSize: 0xffff_ffff,
                                     maxOutputBytes: Gzip.defaultMaxOutputBytes) == 33_000_000 + 48_576)
        #expect(Gzip.initialCapacity(compressedCount: 1_000, trailerSize: 5_000, maxOutputBytes: 1 << 30) == 5_000)
        #expect(Gzip.initialCapacity(compressedCount: 1_000, trailerSize: 5_000, maxOutputBytes: 100) == 100)
        #expect(Gzip.initialCapacity(compressedCount: Int.max / 2, trailerSize: nil, maxOutputBytes: 1 << 30) == 1 << 30)
    }

    @Test("a gzip bomb stops at maxOutputBytes with an error naming the file")
    func bombStopsAtLimit() throws {
        #expect(Gzip.defaultMaxOutputBytes == 1 << 30)
        let bomb = try compressedZeros(50_000_000)
        #expect(bomb.count < 200_000)
        let limit = 1 << 20
        var stats = DecompressionStats()
        let error = #expect(throws: DatasetError.self) {
            _ = try bomb.withUnsafeBytes {
                try Gzip.decompress($0, path: "/data/bomb.gz", maxOutputBytes: limit, stats: &stats)
            }
        }
        guard case .decompressedTooLarge(let path, let reported, _)? = error else {
            Issue.record("expected .decompressedTooLarge, got \(String(describing: error))"); return
        }
        #expect(path == "/data/bomb.gz")
        #expect(reported == limit)
        #expect(error!.description.hasPrefix("/data/bomb.gz: decompresses to more than 1048576 bytes"))
        #expect(stats.reservedBytes <= 2 * limit, "reserved \(stats.reservedBytes) bytes for a \(limit)-byte limit")

        // The public entry point applies the same limit.
        #expect(throws: DatasetError.self) { _ = try Gzip.decompress(bomb, path: "b", maxOutputBytes: limit) }
        // Output of exactly the limit is accepted; one byte less is not.
        let data = randomBytes(10_000, seed: 4)
        let gz = try Gzip.compress(data)
        #expect(try Gzip.decompress(gz, path: "x", maxOutputBytes: data.count) == data)
        let tight = #expect(throws: DatasetError.self) { _ = try Gzip.decompress(gz, path: "x", maxOutputBytes: data.count - 1) }
        #expect(tight == .decompressedTooLarge(path: "x", limit: data.count - 1,
                                               detail: "the limit for this file; it is corrupt or a decompression bomb"))
        // Concatenated members count together.
        #expect(throws: DatasetError.self) { _ = try Gzip.decompress(gz + gz, path: "x", maxOutputBytes: data.count + 10) }
        #expect(try Gzip.decompress(gz + gz, path: "x", maxOutputBytes: 2 * data.count) == data + data)
    }

    @Test("IDX.read stops a bomb at the length its header declares")
    func idxBomb() throws {
        // A valid header for 60000 labels, followed by 50 MB of zeros.
        let header = IDX.encode(IDXTensor(shape: [0], bytes: [])).prefix(4) + [0, 0, 0xEA, 0x60]
        #expect(Array(header) == [0, 0, 8, 1, 0, 0, 0xEA, 0x60])
        let bomb = try compressedZeros(50_000_000, after: Array(header))
        let declared = 8 + 60_000

        var stats = DecompressionStats()
        let error = #expect(throws: DatasetError.self) {
            _ = try IDX.decodeChecked(bomb, path: "/data/train-labels-idx1-ubyte.gz", expectedDimensions: 1, stats: &stats)
        }
        guard case .decompressedTooLarge(let path, let limit, let detail)? = error else {
            Issue.record("expected .decompressedTooLarge, got \(String(describing: error))"); return
        }
        #expect(path == "/data/train-labels-idx1-ubyte.gz")
        #expect(limit == declared)
        #expect(detail.contains("length mismatch"))
        #expect(error!.description.hasPrefix("/data/train-labels-idx1-ubyte.gz: decompresses to more than 60008 bytes"))
        #expect(stats.reservedBytes <= 2 * declared, "reserved \(stats.reservedBytes) bytes for a \(declared)-byte file")

        // Through the file API, too.
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        let url = dir.appendingPathComponent("train-labels-idx1-ubyte.gz")
        try Data(bomb).write(to: url)
        let fileError = #expect(throws: DatasetError.self) { _ = try IDX.read(url, expectedDimensions: 1) }
        #expect(fileError?.path == url.path)
        #expect(fileError?.description.contains("decompresses to more than 60008 bytes") == true)

        // A header that declares far more than the file holds (but no more than the bound)
        // does not get its declared size reserved up front either.
        let huge: [UInt8] = [0, 0, 8, 1, 0x40, 0, 0, 0]   // 2^30 labels, IDX.defaultBound
        let short = try compressedZeros(3_000_000, after: huge)
        var hugeStats = DecompressionStats()
        let truncated = #expect(throws: DatasetError.self) {
            _ = try IDX.decodeChecked(short, path: "huge.gz", expectedDimensions: 1, stats: &hugeStats)
        }
        #expect(truncated == .truncated(path: "huge.gz", expected: 1 << 30, found: 3_000_000))
        #expect(hugeStats.largestReservation <= Gzip.saneCapacity(compressedCount: short.count) + 2 * 3_000_000,
                "reserved \(hugeStats.largestReservation) bytes")
        #expect(hugeStats.reservedBytes < 64 << 20)
    }

    @Test("a gzip IDX file with a few trailing bytes still reports the exact length mismatch")
    func gzipTrailingData() throws {
        let valid = IDX.encode(IDXTensor(shape: [4, 28, 28], bytes: randomBytes(4 * 784, seed: 5)))
        let error = #expect(throws: DatasetError.self) {
            _ = try IDX.decode(try Gzip.compress(valid + [1, 2, 3]), path: "long.gz")
        }
        #expect(error == .trailingData(path: "long.gz", expected: 3136, found: 3139))
        #expect(error?.description.contains("3 trailing bytes") == true)
        // And a valid gzip IDX file decodes, with the header returned for hashing.
        var stats = DecompressionStats()
        let (header, tensor) = try IDX.decodeChecked(try Gzip.compress(valid), path: "ok.gz",
                                                     expectedDimensions: 3, stats: &stats)
        #expect(header + tensor.bytes == valid)
        #expect(stats.reservedBytes <= 2 * valid.count)
    }
}

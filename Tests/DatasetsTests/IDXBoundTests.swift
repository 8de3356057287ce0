import Foundation
import Tensors
import Testing
@testable import Datasets

/// The bound on what an IDX file may declare, and reading only the rows used.
@Suite struct IDXBoundTests {
    @Test func theBoundsAreMNISTsSizesAndOneGiBElsewhere() {
        #expect(IDX.defaultBound.bytes == 1_073_741_824)
        #expect(MNISTFile.trainImages.bound.bytes == 60_000 * 28 * 28 && MNISTFile.trainImages.bound.bytes == 47_040_000)
        #expect(MNISTFile.trainLabels.bound.bytes == 60_000)
        #expect(MNISTFile.testImages.bound.bytes == 7_840_000)
        #expect(MNISTFile.testLabels.bound.bytes == 10_000)
        #expect(MNISTFetcher.expectedFiles.map(\.shape) == [[60_000, 28, 28], [60_000], [10_000, 28, 28], [10_000]])
    }

    @Test func aHeaderAtTheBoundIsReadAndOneRowMoreIsNot() throws {
        let bound = IDX.Bound(bytes: 4 * 784, reason: "four images")
        let four = IDX.encode(IDXTensor(shape: [4, 28, 28], bytes: randomBytes(4 * 784, seed: 2)))
        #expect(try IDX.decode(four, path: "four", bound: bound).shape == [4, 28, 28])
        let five = IDX.encode(IDXTensor(shape: [5, 28, 28], bytes: randomBytes(5 * 784, seed: 2)))
        for bytes in [five, try Gzip.compress(five)] {
            #expect(throws: DatasetError.declaredTooLarge(path: "five", dimensions: [5, 28, 28], bytes: 3920, limit: 3136, reason: "four images")) {
                try IDX.decode(bytes, path: "five", bound: bound)
            }
        }
        // A product that overflows Int is still called an overflow.
        let header: [UInt8] = [0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        #expect(throws: DatasetError.dimensionOverflow(path: "o", dimensions: [4_294_967_295, 4_294_967_295, 4_294_967_295])) {
            try IDX.decode(header, path: "o")
        }
    }

    @Test func pickedRowsAreTheOnlyOnesKept() throws {
        let dir = try makeTemporaryDirectory("rows")
        defer { removeTemporaryDirectory(dir) }
        let all = IDXTensor(shape: [1000, 28, 28], bytes: randomBytes(1000 * 784, seed: 3))
        let picked = [999, 0, 999, 5]
        let expected = IDXTensor(shape: [4, 28, 28], bytes: picked.flatMap { all.bytes[($0 * 784)..<(($0 + 1) * 784)] })
        for compressed in [false, true] {
            let url = dir.appendingPathComponent("images-\(compressed)")
            try IDX.write(all, to: url, compressed: compressed)
            var seen: [Int] = []
            let read = try IDX.read(url, rows: { shape in
                seen = shape
                return picked
            })
            #expect(read == expected && seen == [1000, 28, 28])
            #expect(try IDX.read(url) == all)
            #expect(throws: DatasetError.invalidArgument(path: url.path, reason: "row 1000 is outside the file's rows 0..<1000")) {
                try IDX.read(url, rows: { _ in [3, 1000] })
            }
        }
        // Only the picked rows' memory is reserved: 4 × 784 bytes, not 784,000.
        var stats = DecompressionStats()
        let (_, tensor) = try IDX.decodeChecked(try Gzip.compress(IDX.encode(all)), path: "x.gz", expectedDimensions: 3,
                                                rows: { _ in picked }, stats: &stats)
        #expect(tensor == expected)
        #expect(stats.largestReservation == 4 * 784, "reserved \(stats.largestReservation) bytes at once")
    }

    @Test func aTrainLimitGivesTheSplitsOfTheWholeFile() throws {
        let dir = try makeTemporaryDirectory("limit")
        defer { removeTemporaryDirectory(dir) }
        try writeSyntheticMNIST(to: dir, trainCount: 300, testCount: 50)
        let images = try IDX.read(try MNISTFile.trainImages.locate(in: dir)).bytes
        let labels = try IDX.read(try MNISTFile.trainLabels.locate(in: dir)).bytes
        func rows(_ indices: [Int]) -> [UInt8] { indices.flatMap { images[($0 * 784)..<(($0 + 1) * 784)] } }
        // The split as the documentation defines it: a permutation from SplitMix64(seed: 4),
        // its first 20 for validation, the next 7 for training.
        var rng = SplitMix64(seed: 4)
        let permutation = rng.permutation(of: 300)
        let data = try MNISTDataset(directory: dir, validationCount: 20, splitSeed: 4, trainLimit: 7)
        #expect(data.validation.sourceIndices == Array(permutation[..<20]))
        #expect(data.validation.pixels == rows(Array(permutation[..<20])))
        #expect(data.validation.labels == permutation[..<20].map { Int(labels[$0]) })
        #expect(data.train.sourceIndices == Array(permutation[20..<27]))
        #expect(data.train.pixels == rows(Array(permutation[20..<27])))
        #expect(data.train.labels == permutation[20..<27].map { Int(labels[$0]) })
        #expect(data.test.count == 50 && data.test.sourceIndices == Array(0..<50))
    }
}

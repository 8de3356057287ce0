import Foundation
import Testing
@testable import Datasets

/// Issue 24, class 3: data files whose declared sizes used to be trusted.
@Suite struct TrustedDataTests {
    // MARK: Declared sizes

    /// An IDX header for `count` images of 28 × 28.
    private func imagesHeader(_ count: Int) -> [UInt8] {
        [0, 0, 8, 3, UInt8(count >> 24), UInt8((count >> 16) & 0xff), UInt8((count >> 8) & 0xff), UInt8(count & 0xff),
         0, 0, 0, 28, 0, 0, 0, 28]
    }

    @Test func aHeaderDeclaringTwoMillionImagesIsRefusedBeforeItsDataIsRead() throws {
        let dir = try makeTemporaryDirectory("declared")
        defer { removeTemporaryDirectory(dir) }
        // 2,000,000 × 28 × 28 = 1,568,000,000 bytes, more than 2^30 = 1,073,741,824.
        let header = imagesHeader(2_000_000)
        #expect(Array(header[4..<8]) == [0x00, 0x1E, 0x84, 0x80])
        let gz = dir.appendingPathComponent("train-images-idx3-ubyte.gz")
        try Data(try Gzip.compress(header + [UInt8](repeating: 0, count: 1_000_000))).write(to: gz)
        let raw = dir.appendingPathComponent("train-images-idx3-ubyte")
        try Data(header + [UInt8](repeating: 0, count: 1000)).write(to: raw)
        for url in [gz, raw] {
            // Before: "truncated: header says 1568000000 bytes of data, file has …".
            #expect(failure { _ = try IDX.read(url) }
                    == "\(url.path): the IDX header declares 2000000×28×28 = 1568000000 bytes of data, more than the 1073741824 bytes allowed (the bound for any IDX file); refused before any memory is reserved for it")
        }
        // Nothing is reserved for the declared data.
        var stats = DecompressionStats()
        _ = try? IDX.decodeChecked(try Gzip.compress(header + [UInt8](repeating: 0, count: 1_000_000)), path: "x.gz",
                                   expectedDimensions: 3, stats: &stats)
        #expect(stats.reservedBytes < 1024, "reserved \(stats.reservedBytes) bytes")
    }

    @Test func anMNISTFileDeclaringMoreThanMNISTsSamplesIsRefused() throws {
        let dir = try makeTemporaryDirectory("mnist-declared")
        defer { removeTemporaryDirectory(dir) }
        try writeSyntheticMNIST(to: dir, trainCount: 20, testCount: 10)
        // 60,001 training images (and as many labels): 47,040,784 bytes, 784 more than MNIST's 60,000 × 28 × 28.
        let images = dir.appendingPathComponent(MNISTFile.trainImages.gzipName)
        try Data(try Gzip.compress(imagesHeader(60_001) + [UInt8](repeating: 0, count: 60_001 * 784))).write(to: images)
        try IDX.write(IDXTensor(shape: [60_001], bytes: [UInt8](repeating: 1, count: 60_001)),
                      to: dir.appendingPathComponent(MNISTFile.trainLabels.gzipName))
        let labels = dir.appendingPathComponent(MNISTFile.trainLabels.gzipName)
        // Before: loaded, 55,001 training samples.
        #expect(failure { _ = try MNISTDataset(directory: dir, validationCount: 5) }
                == "\(labels.path): the IDX header declares 60001 = 60001 bytes of data, more than the 60000 bytes allowed (an MNIST-format training-labels file holds at most 60000); refused before any memory is reserved for it")
        try IDX.write(IDXTensor(shape: [20], bytes: [UInt8](repeating: 1, count: 20)), to: labels)
        #expect(failure { _ = try MNISTDataset(directory: dir, validationCount: 5) }
                == "\(images.path): the IDX header declares 60001×28×28 = 47040784 bytes of data, more than the 47040000 bytes allowed (an MNIST-format training-images file holds at most 60000×28×28); refused before any memory is reserved for it")
    }
}

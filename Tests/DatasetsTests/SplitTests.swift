import Foundation
import Testing
@testable import Datasets

@Suite("MNIST-format loading, splits and batches (synthetic data)")
struct SplitTests {
    @Test("split sizes, disjointness and seeded reproducibility")
    func splits() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        try writeSyntheticMNIST(to: dir, trainCount: 300, testCount: 40)

        let a = try MNISTDataset(directory: dir, validationCount: 50, splitSeed: 9)
        #expect(a.train.count == 250)
        #expect(a.validation.count == 50)
        #expect(a.test.count == 40)
        #expect(a.train.featureCount == 784)
        #expect(a.train.pixels.count == 250 * 784)
        #expect(a.validation.pixels.count == 50 * 784)
        // Disjoint and together the whole training file.
        let trainSet = Set(a.train.sourceIndices), validationSet = Set(a.validation.sourceIndices)
        #expect(trainSet.isDisjoint(with: validationSet))
        #expect(trainSet.union(validationSet) == Set(0..<300))
        // Test split keeps file order.
        #expect(a.test.sourceIndices == Array(0..<40))
        // Labels follow their samples (synthetic label = source index % 10).
        #expect(a.train.labels == a.train.sourceIndices.map { $0 % 10 })
        // Pixels are the bytes of the right source row.
        let raw = randomBytes(300 * 784, seed: 7)
        let s = a.validation.sourceIndices[3]
        #expect(a.validation.image(at: 3) == raw[(s * 784)..<((s + 1) * 784)])

        // Same seed → same split; different seed → different split.
        let b = try MNISTDataset(directory: dir, validationCount: 50, splitSeed: 9)
        #expect(b.validation.sourceIndices == a.validation.sourceIndices)
        #expect(b.train.pixels == a.train.pixels)
        let c = try MNISTDataset(directory: dir, validationCount: 50, splitSeed: 10)
        #expect(c.validation.sourceIndices != a.validation.sourceIndices)
        // The validation split is a shuffled sample, not a contiguous block.
        #expect(a.validation.sourceIndices != Array(a.validation.sourceIndices.sorted()))
    }

    @Test("subsets: trainLimit and testLimit take seeded random subsets")
    func limits() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        try writeSyntheticMNIST(to: dir, trainCount: 120, testCount: 60, compressed: false)
        let full = try MNISTDataset(directory: dir, validationCount: 20, splitSeed: 3)
        let small = try MNISTDataset(directory: dir, validationCount: 20, splitSeed: 3, trainLimit: 30, testLimit: 15)
        #expect(small.train.count == 30)
        #expect(small.train.sourceIndices == Array(full.train.sourceIndices.prefix(30)))
        #expect(small.validation.sourceIndices == full.validation.sourceIndices)
        #expect(small.test.count == 15)
        #expect(Set(small.test.sourceIndices).count == 15)
        #expect(small.test.sourceIndices != Array(0..<15))
        #expect(full.train.prefix(30).sourceIndices == small.train.sourceIndices)
        // A limit above the size keeps everything.
        #expect(try MNISTDataset(directory: dir, validationCount: 20, trainLimit: 10_000).train.count == 100)
        // Validation larger than the training set is an error naming the file.
        let error = #expect(throws: DatasetError.self) {
            _ = try MNISTDataset(directory: dir, validationCount: 121)
        }
        #expect(error?.description.contains("train-images-idx3-ubyte") == true)
    }

    @Test("batches cover each index exactly once per epoch; epochs differ; seeded")
    func batches() throws {
        let split = DatasetSplit(name: "toy", pixels: (0..<(103 * 2)).map { UInt8($0) },
                                 labels: (0..<103).map { $0 % 10 }, featureCount: 2)
        for dropLast in [false, true] {
            let epoch0 = split.batchIndices(size: 10, seed: 77, epoch: 0, dropLast: dropLast)
            #expect(epoch0.count == (dropLast ? 10 : 11))
            #expect(epoch0.count == split.batchCount(size: 10, dropLast: dropLast))
            #expect(epoch0.dropLast().allSatisfy { $0.count == 10 })
            let flat = epoch0.flatMap { $0 }
            #expect(Set(flat).count == flat.count, "no index repeats within an epoch")
            #expect(flat.count == (dropLast ? 100 : 103))
            if !dropLast { #expect(Set(flat) == Set(0..<103)) }
        }
        let e0 = split.batchIndices(size: 10, seed: 77, epoch: 0).flatMap { $0 }
        let e1 = split.batchIndices(size: 10, seed: 77, epoch: 1).flatMap { $0 }
        let again = split.batchIndices(size: 10, seed: 77, epoch: 0).flatMap { $0 }
        #expect(e0 != e1)
        #expect(e0 == again)
        #expect(e0 != Array(0..<103))
        #expect(split.batchIndices(size: 10).flatMap { $0 } == Array(0..<103), "no seed keeps stored order")

        // Gathered batches carry the right rows and labels.
        var seen = 0
        for batch in split.batches(size: 16, seed: 5, epoch: 2) {
            #expect(batch.pixels.count == batch.count * 2)
            for (row, index) in batch.indices.enumerated() {
                #expect(batch.pixels[row * 2] == UInt8(index * 2))
                #expect(batch.pixels[row * 2 + 1] == UInt8(index * 2 + 1))
                #expect(batch.labels[row] == index % 10)
            }
            seen += batch.count
        }
        #expect(seen == 103)
    }

    @Test("loader rejects wrong image shape, count mismatch and bad labels, naming the file")
    func loaderChecks() throws {
        let dir = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(dir) }
        try writeSyntheticMNIST(to: dir, trainCount: 30, testCount: 10)

        // Labels file with one label too many.
        let labelsURL = dir.appendingPathComponent(MNISTFile.testLabels.gzipName)
        try IDX.write(IDXTensor(shape: [11], bytes: [UInt8](repeating: 1, count: 11)), to: labelsURL)
        var error = #expect(throws: DatasetError.self) { _ = try MNISTDataset(directory: dir, validationCount: 5) }
        guard case .countMismatch(_, 10, let lp, 11)? = error else {
            Issue.record("expected .countMismatch, got \(String(describing: error))"); return
        }
        #expect(lp == labelsURL.path)
        #expect(error!.description.contains(labelsURL.path))

        // A label of 10.
        try IDX.write(IDXTensor(shape: [10], bytes: [0, 1, 2, 3, 10, 5, 6, 7, 8, 9]), to: labelsURL)
        error = #expect(throws: DatasetError.self) { _ = try MNISTDataset(directory: dir, validationCount: 5) }
        #expect(error == .labelOutOfRange(path: labelsURL.path, index: 4, value: 10, validRange: 0...9))

        // Images 10×28×27.
        try IDX.write(IDXTensor(shape: [10], bytes: [UInt8](repeating: 3, count: 10)), to: labelsURL)
        let imagesURL = dir.appendingPathComponent(MNISTFile.testImages.gzipName)
        try IDX.write(IDXTensor(shape: [10, 28, 27], bytes: [UInt8](repeating: 0, count: 10 * 28 * 27)), to: imagesURL)
        error = #expect(throws: DatasetError.self) { _ = try MNISTDataset(directory: dir, validationCount: 5) }
        guard case .wrongShape(let p, _, [10, 28, 27])? = error else {
            Issue.record("expected .wrongShape, got \(String(describing: error))"); return
        }
        #expect(p == imagesURL.path)

        // Missing file: the message names the .gz path and the raw alternative.
        try FileManager.default.removeItem(at: imagesURL)
        error = #expect(throws: DatasetError.self) { _ = try MNISTDataset(directory: dir, validationCount: 5) }
        #expect(error == .missingDatasetFile(tried: [imagesURL.path, dir.appendingPathComponent(MNISTFile.testImages.rawName).path]))

        // Missing directory.
        let nowhere = dir.appendingPathComponent("nowhere")
        error = #expect(throws: DatasetError.self) { _ = try MNISTDataset.fashionMNIST(directory: nowhere) }
        #expect(error == .fileNotFound(path: nowhere.path))
    }
}

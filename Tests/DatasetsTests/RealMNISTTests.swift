import Foundation
import Testing
@testable import Datasets

/// Tests on the real MNIST files in `<package root>/../shared/data/mnist`.
/// When that directory is absent, each test records an issue (it does not
/// pass silently).
@Suite("Real MNIST and fetching")
struct RealMNISTTests {
    @Test("load real MNIST: 55k/5k/10k, first label 5, pixel bytes 0 to 255")
    func loadReal() throws {
        guard let dir = sharedMNISTOrRecordIssue() else { return }
        let mnist = try MNISTDataset(directory: dir)
        #expect(mnist.train.count == 55_000)
        #expect(mnist.validation.count == 5_000)
        #expect(mnist.test.count == 10_000)
        #expect(mnist.train.count + mnist.validation.count == 60_000)
        #expect(mnist.train.pixels.count == 55_000 * 784)

        // The first sample of the training file (source index 0) is a 5;
        // the first test sample is a 7.
        let all = try MNISTDataset(directory: dir, validationCount: 0)
        let position = all.train.sourceIndices.firstIndex(of: 0)!
        #expect(all.train.labels[position] == 5)
        #expect(all.test.labels[0] == 7)
        #expect(all.train.labels.prefix(0).isEmpty)
        let (_, rawLabels) = try MNISTDataset.loadPair(images: try MNISTFile.trainImages.locate(in: dir),
                                                       labels: try MNISTFile.trainLabels.locate(in: dir))
        #expect(Array(rawLabels.prefix(5)) == [5, 0, 4, 1, 9])

        for split in [mnist.train, mnist.validation, mnist.test] {
            #expect(split.pixels.min() == 0)
            #expect(split.pixels.max() == 255)
            #expect(Set(split.labels) == Set(0...9))
        }
        // Every class is present in roughly its share of the validation split.
        let counts = (0...9).map { c in mnist.validation.labels.filter { $0 == c }.count }
        #expect(counts.allSatisfy { $0 > 350 && $0 < 650 }, "validation class counts \(counts)")
    }

    @Test("verify accepts the shared copy")
    func verifyShared() throws {
        guard let dir = sharedMNISTOrRecordIssue() else { return }
        try MNISTFetcher.verify(directory: dir)
    }

    @Test("fetch from a local copy into a temporary directory, then again (already present); a damaged file is refused, not replaced")
    func fetchFromLocalCopy() throws {
        guard let source = sharedMNISTOrRecordIssue() else { return }
        let dest = try makeTemporaryDirectory("fetch-dest")
        defer { removeTemporaryDirectory(dest) }
        var lines: [String] = []
        let first = try MNISTFetcher.fetch(into: dest, localCopy: source, routes: [.existing, .localCopy]) { lines.append($0) }
        #expect(first == .localCopy(source.standardizedFileURL))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dest.path)) == Set(MNISTFile.allCases.map(\.gzipName)),
                "only the four files, no staging leftovers")
        #expect(lines.contains { $0.contains("copying MNIST from") })

        let second = try MNISTFetcher.fetch(into: dest, localCopy: source, routes: [.existing, .localCopy])
        #expect(second == .alreadyPresent(dest.standardizedFileURL))

        // Damage a destination file: the next fetch notices, but the file
        // may be the user's, so it refuses (naming it) and leaves it alone.
        let labels = dest.appendingPathComponent(MNISTFile.testLabels.gzipName)
        let damaged: [UInt8] = [0x1f, 0x8b, 0, 0]
        try Data(damaged).write(to: labels)
        let error = #expect(throws: DatasetError.self) {
            try MNISTFetcher.fetch(into: dest, localCopy: source, routes: [.existing, .localCopy]) { lines.append($0) }
        }
        guard case .conflictingFiles(let directory, let problems)? = error else {
            Issue.record("expected .conflictingFiles, got \(String(describing: error))"); return
        }
        #expect(directory == dest.standardizedFileURL.path)
        #expect(problems.map(\.path) == [labels.standardizedFileURL.path])
        #expect(try [UInt8](Data(contentsOf: labels)) == damaged, "the damaged file is left untouched")

        // The environment variable names a local copy when no argument does.
        let candidates = MNISTFetcher.localCopyCandidates(explicit: nil, environment: [MNISTFetcher.environmentVariable: source.path])
        #expect(candidates.count == 1)
        #expect(candidates.first?.url.path == source.standardizedFileURL.path)
        #expect(candidates.first?.explicit == true)
    }

    @Test("a local copy with a corrupted file is rejected, naming the file, and nothing is installed")
    func corruptedLocalCopy() throws {
        guard let source = sharedMNISTOrRecordIssue() else { return }
        let bad = try makeTemporaryDirectory("bad-copy")
        let dest = try makeTemporaryDirectory("fetch-dest")
        defer { removeTemporaryDirectory(bad); removeTemporaryDirectory(dest) }
        for file in MNISTFile.allCases {
            try FileManager.default.copyItem(at: try file.locate(in: source),
                                             to: bad.appendingPathComponent(file.gzipName))
        }

        // 1. A well-formed IDX file whose content differs (one label changed).
        let labelsURL = bad.appendingPathComponent(MNISTFile.testLabels.gzipName)
        let original = try IDX.read(labelsURL)
        var changed = original.bytes
        changed[123] = (changed[123] + 1) % 10
        try IDX.write(IDXTensor(shape: original.shape, bytes: changed), to: labelsURL)
        var error = #expect(throws: DatasetError.self) {
            try MNISTFetcher.fetch(into: dest, localCopy: bad, routes: [.existing, .localCopy])
        }
        guard case .checksumMismatch(let path, let expected, _)? = error else {
            Issue.record("expected .checksumMismatch, got \(String(describing: error))"); return
        }
        #expect(path == labelsURL.standardizedFileURL.path)
        #expect(expected == "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2")
        #expect(error!.description.contains("t10k-labels-idx1-ubyte.gz: SHA-256 of decompressed contents is"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dest.path).isEmpty, "nothing installed")

        // 2. A cut-off gzip file.
        let imagesURL = bad.appendingPathComponent(MNISTFile.testImages.gzipName)
        let gz = try Data(contentsOf: imagesURL)
        try gz.prefix(gz.count - 5000).write(to: imagesURL)
        error = #expect(throws: DatasetError.self) {
            try MNISTFetcher.fetch(into: dest, localCopy: bad, routes: [.existing, .localCopy])
        }
        guard case .corruptGzip(let path2, _)? = error else {
            Issue.record("expected .corruptGzip, got \(String(describing: error))"); return
        }
        #expect(path2 == imagesURL.standardizedFileURL.path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dest.path).isEmpty, "nothing installed")

        // 3. A missing local copy directory is an error, not a silent fallback.
        let nowhere = bad.appendingPathComponent("nowhere")
        error = #expect(throws: DatasetError.self) {
            try MNISTFetcher.fetch(into: dest, localCopy: nowhere)
        }
        #expect(error == .fileNotFound(path: nowhere.standardizedFileURL.path))
    }
}

/// Fashion-MNIST is optional (`apt-get install dataset-fashion-mnist`); the
/// test is reported as skipped where it is not installed.
@Suite("Fashion-MNIST")
struct FashionMNISTTests {
    @Test("load Fashion-MNIST from the default directory",
          .enabled(if: FileManager.default.fileExists(
              atPath: MNISTDataset.defaultFashionMNISTDirectory.appendingPathComponent(MNISTFile.trainImages.gzipName).path),
                   "Fashion-MNIST not installed at /usr/share/datasets/fashion-mnist"))
    func loadFashion() throws {
        let fashion = try MNISTDataset.fashionMNIST(validationCount: 5_000, testLimit: 1_000)
        #expect(fashion.name == "Fashion-MNIST")
        #expect(fashion.train.count == 55_000)
        #expect(fashion.validation.count == 5_000)
        #expect(fashion.test.count == 1_000)
        #expect(fashion.train.name == "Fashion-MNIST train")
        let (_, labels) = try MNISTDataset.loadPair(
            images: try MNISTFile.trainImages.locate(in: MNISTDataset.defaultFashionMNISTDirectory),
            labels: try MNISTFile.trainLabels.locate(in: MNISTDataset.defaultFashionMNISTDirectory))
        #expect(Array(labels.prefix(4)) == [9, 0, 0, 3])   // ankle boot, T-shirt, T-shirt, dress
        #expect(MNISTDataset.fashionClassNames[labels[0]] == "Ankle boot")
        let values = fashion.train.images(as: Float.self).scalars
        #expect(values.min() == 0 && values.max() == 1)
    }
}

import Foundation
import Testing
@testable import Datasets

/// Issue 24, class 3: only the training labels were identified, so a directory with other test
/// files or altered images ran as "MNIST". All four files are identified by their digests.
@Suite struct IdentificationTests {
    /// A directory of the shared MNIST files, linked, except `file`, written with `change` applied.
    private func mnistCopy(changing file: MNISTFile, _ change: (inout [UInt8]) -> Void) throws -> URL? {
        guard let mnist = sharedMNISTOrRecordIssue() else { return nil }
        let dir = try makeTemporaryDirectory("mnist-altered")
        for other in MNISTFile.allCases where other != file {
            let source = try other.locate(in: mnist)
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent(source.lastPathComponent).path,
                                                       withDestinationPath: source.path)
        }
        let original = try IDX.read(try file.locate(in: mnist))
        var bytes = original.bytes
        change(&bytes)
        try IDX.write(IDXTensor(shape: original.shape, bytes: bytes), to: dir.appendingPathComponent(file.gzipName))
        return dir
    }

    /// The data set `load` makes of `dir` as MNIST, and its log.
    private func load(_ dir: URL) throws -> (MNISTDataset, [String]) {
        var settings = DataSettings()
        settings.dataDirectory = dir.path
        settings.validation = 100
        settings.trainLimit = 100
        settings.testLimit = 100
        var lines: [String] = []
        let data = try MNISTDataset.load(settings) { lines.append($0) }
        return (data, lines)
    }

    @Test func otherTestLabelsAreNotTheCanonicalMNIST() throws {
        // The first test label of MNIST is 7; this copy says 8.
        guard let dir = try mnistCopy(changing: .testLabels, { $0[0] = $0[0] == 7 ? 8 : 7 }) else { return }
        defer { removeTemporaryDirectory(dir) }
        let (data, lines) = try load(dir)
        // Before: "MNIST", and no note (only the training labels were identified).
        #expect(data.name == "non-canonical MNIST (t10k-labels-idx1-ubyte differs)")
        #expect(data.train.name == "non-canonical MNIST (t10k-labels-idx1-ubyte differs) train")
        #expect(lines.contains { $0.contains("not the canonical MNIST: t10k-labels-idx1-ubyte differs") && $0.contains(dir.path) }, "\(lines)")
    }

    @Test func alteredTestImagesAreNotTheCanonicalMNIST() throws {
        guard let dir = try mnistCopy(changing: .testImages, { $0[400] ^= 1 }) else { return }
        defer { removeTemporaryDirectory(dir) }
        let (data, lines) = try load(dir)
        #expect(data.name == "non-canonical MNIST (t10k-images-idx3-ubyte differs)")
        #expect(lines.contains { $0.contains("not the canonical MNIST: t10k-images-idx3-ubyte differs") }, "\(lines)")
    }

    @Test func theSharedCopyIsTheCanonicalMNIST() throws {
        guard let mnist = sharedMNISTOrRecordIssue() else { return }
        let (data, lines) = try load(mnist)
        #expect(data.name == "MNIST" && data.train.name == "MNIST train")
        #expect(!lines.contains { $0.contains("canonical") }, "\(lines)")
    }

    /// SHA-256 of the decompressed shared files, by `zcat FILE.gz | sha256sum` (GNU coreutils).
    let sha256sum: [MNISTFile: String] = [
        .trainImages: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        .trainLabels: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        .testImages: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        .testLabels: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ]

    @Test func theSharedFilesAreIdentifiedByAllFourDigests() throws {
        guard let mnist = sharedMNISTOrRecordIssue() else { return }
        let identity = try MNISTDataset.identify(directory: mnist)
        #expect(identity.digests == sha256sum)
        #expect(identity.dataset == .mnist && identity.name(as: .mnist) == "MNIST" && identity.difference(from: .mnist) == nil)
        #expect(MNISTFetcher.expectedFiles.map(\.sha256) == MNISTFile.allCases.map { sha256sum[$0]! })
        #expect(identity.differingFiles(from: .fashionMNIST) == MNISTFile.allCases)
        #expect(identity.name(as: .fashionMNIST) == "non-canonical Fashion-MNIST (all four files differ)")
    }

    @Test func theNameSaysWhichFilesDiffer() {
        var digests = sha256sum
        digests[.testLabels] = String(repeating: "0", count: 64)
        #expect(DatasetIdentity(digests: digests).name(as: .mnist) == "non-canonical MNIST (t10k-labels-idx1-ubyte differs)")
        digests[.trainImages] = nil
        #expect(DatasetIdentity(digests: digests).dataset == nil)
        #expect(DatasetIdentity(digests: digests).difference(from: .mnist) == "train-images-idx3-ubyte and t10k-labels-idx1-ubyte differ")
        digests[.testImages] = nil
        #expect(DatasetIdentity(digests: digests).difference(from: .mnist)
                == "train-images-idx3-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte differ")
    }

    @Test func contentsAreHashedDecompressedAndNoFurtherThanAsked() throws {
        let dir = try makeTemporaryDirectory("digest")
        defer { removeTemporaryDirectory(dir) }
        let bytes = randomBytes(100_000, seed: 9)
        let raw = dir.appendingPathComponent("raw"), gz = dir.appendingPathComponent("gz")
        try Data(bytes).write(to: raw)
        try Data(try Gzip.compress(bytes)).write(to: gz)
        for url in [raw, gz] {
            #expect(try IDX.contentsSHA256(of: url, maxBytes: 100_000) == SHA256.hexDigest(of: bytes))
            #expect(try IDX.contentsSHA256(of: url, maxBytes: 99_999) == nil)
        }
    }
}

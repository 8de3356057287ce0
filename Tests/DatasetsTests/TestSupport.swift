import Tensors
import Foundation
import Testing
@testable import Datasets

/// A fresh empty temporary directory; delete it with `removeTemporaryDirectory`.
func makeTemporaryDirectory(_ label: String = "datasets-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func removeTemporaryDirectory(_ url: URL) {
    try? FileManager.default.removeItem(at: url)
}

/// `count` seeded pseudo-random bytes.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

/// The package root, found from this file's path (Tests/DatasetsTests/…).
let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The shared copy of the real MNIST files: `<package root>/../shared/data/mnist`.
let sharedMNISTDirectory = packageRoot.appendingPathComponent("../shared/data/mnist").standardizedFileURL

/// The shared MNIST directory if it holds the four files; otherwise records
/// an issue saying the data is absent and returns nil.
func sharedMNISTOrRecordIssue(sourceLocation: SourceLocation = #_sourceLocation) -> URL? {
    let missing = MNISTFile.allCases.filter { (try? $0.locate(in: sharedMNISTDirectory)) == nil }
    if missing.isEmpty { return sharedMNISTDirectory }
    Issue.record("MNIST not found at \(sharedMNISTDirectory.path) (missing \(missing.map(\.gzipName).joined(separator: ", "))); this test needs the real data",
                 sourceLocation: sourceLocation)
    return nil
}

/// Writes a small synthetic MNIST-format data set (N×28×28 images with
/// seeded pixels, labels `i % 10`) into `directory`.
func writeSyntheticMNIST(to directory: URL, trainCount: Int, testCount: Int, seed: UInt64 = 7,
                         compressed: Bool = true) throws {
    func name(_ file: MNISTFile) -> String { compressed ? file.gzipName : file.rawName }
    let trainImages = IDXTensor(shape: [trainCount, 28, 28], bytes: randomBytes(trainCount * 784, seed: seed))
    let trainLabels = IDXTensor(shape: [trainCount], bytes: (0..<trainCount).map { UInt8($0 % 10) })
    let testImages = IDXTensor(shape: [testCount, 28, 28], bytes: randomBytes(testCount * 784, seed: seed &+ 1))
    let testLabels = IDXTensor(shape: [testCount], bytes: (0..<testCount).map { UInt8(($0 * 3) % 10) })
    try IDX.write(trainImages, to: directory.appendingPathComponent(name(.trainImages)), compressed: compressed)
    try IDX.write(trainLabels, to: directory.appendingPathComponent(name(.trainLabels)), compressed: compressed)
    try IDX.write(testImages, to: directory.appendingPathComponent(name(.testImages)), compressed: compressed)
    try IDX.write(testLabels, to: directory.appendingPathComponent(name(.testLabels)), compressed: compressed)
}

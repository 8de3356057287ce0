import Foundation
import Testing
import Datasets
import Layers
import Training

/// A model that does not fit the data set (input width, number of logits) or the machine's memory
/// is refused before a run starts, naming the counts, and nothing is written.
@Suite struct ModelDataCheckTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let data: MNISTDataset? = try? MNISTDataset(directory: root.appendingPathComponent("Tests/Fixtures/data"), validationCount: 16)

    static func configuration(_ model: String) throws -> TrainingConfiguration {
        var cfg = TrainingConfiguration()
        cfg.model = try ModelSpec(reading: model)
        return cfg
    }

    @Test func mismatchedOutputsAndInputsAreRefusedWithTheCounts() throws {
        let data = try #require(Self.data)
        for (model, expected) in [
            ("mlp:784-16-5", "outputs 5 logits but MNIST has 10 classes"),
            ("mlp:784-16-1", "outputs 1 logits but MNIST has 10 classes"),
            ("mlp:784-16-100", "outputs 100 logits but MNIST has 10 classes"),
            ("mlp:100-16-10", "takes inputs of shape [100] (100 values) but MNIST images are [1, 28, 28] (784 values)"),
        ] {
            let error = try #require(throws: ModelDataError.self) { try ModelDataCheck.check(try Self.configuration(model), data: data) }
            #expect(error.description.contains(expected), "\(model): \(error)")
        }
        try ModelDataCheck.check(try Self.configuration("mlp:784-16-10"), data: data)
    }

    /// d = 784·16 + 16 + 16·10 + 10 = 12,730 parameters: 4 Float32 vectors are 203,680 bytes, and
    /// the fixture's samples (train + validation + test) × 784 × 4 bytes are added.
    @Test func theMemoryCheckRefusesAnEstimateAboveTheBudget() throws {
        let data = try #require(Self.data)
        let samples = data.train.count + data.validation.count + data.test.count
        let bytes = 4.0 * (4 * 12_730 + Double(samples) * 784)
        #expect(ModelDataCheck.trainingBytes(parameters: 12_730, data: data) == bytes)
        let cfg = try Self.configuration("mlp:784-16-10")
        try ModelDataCheck.check(cfg, data: data, available: bytes)
        let error = try #require(throws: ModelDataError.self) { try ModelDataCheck.check(cfg, data: data, available: bytes - 1) }
        #expect(error.description.contains("12730 parameters") && error.description.contains("more than this machine's"), "\(error)")
        // 784·3,000,000 + 3e6 + 3e6·10 + 10 ≈ 2.4e9 parameters: ≈ 38 GB, more than a 16 GB budget.
        let huge = try #require(throws: ModelDataError.self) {
            try ModelDataCheck.check(try Self.configuration("mlp:784-3000000-10"), data: data, available: 16e9)
        }
        #expect(huge.description.contains("2385000010 parameters"), "\(huge)")
    }

    @Test func trainRefusesBeforeWritingAnything() throws {
        guard let exe = landscapeExecutable() else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-fit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let dataDir = Self.root.appendingPathComponent("Tests/Fixtures/data").path
        for (model, expected) in [("mlp:784-16-5", "outputs 5 logits but "), ("mlp:784-16-1", "has 10 classes"),
                                  ("mlp:100-16-10", "takes inputs of shape [100] (100 values)"),
                                  ("mlp:784-16-100", "outputs 100 logits")] {
            let out = dir.appendingPathComponent("run")
            let r = try runLandscape(exe, ["train", "--model", model, "--data-dir", dataDir, "--validation", "16", "--epochs", "1",
                                           "--output-dir", out.path, "--no-progress"], in: dir)
            #expect(!r.signalled && r.status != 0 && r.output.contains(expected), "\(model): \(r.output)")
            #expect(!FileManager.default.fileExists(atPath: out.path), "\(model): \(out.path) was created")
            #expect(!r.output.contains("run directory:"), "\(model): \(r.output)")
        }
    }
}

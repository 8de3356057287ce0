import Foundation
import Testing
import Checkpoints
import Datasets
import Layers
import Probes
import Tensors
import Training

/// Issue 13, items 4 and 5: `--resume` checks every file it reads against what the run recorded.
/// Each test damages one kind of file of a run stopped after epoch 2 of 3 and expects either an
/// error naming the file or, where the damage only loses an epoch, the uninterrupted result.
@Suite(.serialized) struct VerifiedResumeTests {
    static let data: MNISTDataset = {
        let n = 256
        var rng = SplitMix64(seed: 13)
        let pixels = randomPixels(n * 784, using: &rng)
        let labels = (0..<n).map { _ in rng.next(below: 10) }
        return try! syntheticDataset(train: DatasetSplit(name: "synthetic", pixels: pixels, labels: labels, featureCount: 784))
    }()

    static let configuration: TrainingConfiguration = {
        var cfg = TrainingConfiguration()
        cfg.epochs = 3
        cfg.optimizer.batchSize = 64
        cfg.probes.probeSamples = 32
        cfg.probes.lambdaIterations = 3
        return cfg
    }()

    /// θ and metrics (without the timing columns) of the uninterrupted run.
    static let reference: (θ: Tensor<Float>, rows: [String]) = {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (θ, _) = try! Trainer(configuration: configuration, data: data, outputDirectory: dir).run()
        return (θ, try! rowsWithoutTimes(dir))
    }()

    /// A run directory stopped after epoch `epochs` of 3.
    func stopped(after epochs: Int) throws -> URL {
        let dir = temporaryDirectory()
        do {
            _ = try Trainer(configuration: Self.configuration, data: Self.data, outputDirectory: dir)
                .run(onEpoch: { m in if m.epoch == epochs { throw Interrupted() } })
            Issue.record("the run was not interrupted")
        } catch is Interrupted {}
        return dir
    }

    /// Resumes and expects an error whose description contains every string in `needles`.
    func expectRefused(_ dir: URL, configuration: TrainingConfiguration = Self.configuration, _ needles: String...,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try Trainer(configuration: configuration, data: Self.data, outputDirectory: dir).run(resume: true)
            Issue.record("the damaged run was resumed", sourceLocation: sourceLocation)
        } catch {
            for n in needles { #expect("\(error)".contains(n), "\(error)", sourceLocation: sourceLocation) }
        }
    }

    /// Resumes and expects the uninterrupted run's θ and metrics.
    func expectReference(_ dir: URL, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        var trainer = try Trainer(configuration: Self.configuration, data: Self.data, outputDirectory: dir)
        var warnings: [String] = []
        trainer.log = { warnings.append($0) }
        let (θ, _) = try trainer.run(resume: true)
        #expect(θ == Self.reference.θ, sourceLocation: sourceLocation)
        #expect(try rowsWithoutTimes(dir) == Self.reference.rows, sourceLocation: sourceLocation)
        return warnings
    }

    func replaceMetadata(_ url: URL, _ change: (inout [String: String]) -> Void) throws {
        let file = try SafeTensors.read(from: url)
        var metadata = file.metadata
        change(&metadata)
        try SafeTensors.write(try file.names.map { (name: $0, shape: try file.shape(named: $0), values: try file.floats(named: $0)) }, metadata: metadata, to: url)
    }

    func changeValue(_ url: URL, tensor: String) throws {
        let file = try SafeTensors.read(from: url)
        try SafeTensors.write(try file.names.map { name in
            var values = try file.floats(named: name)
            if name == tensor { values[3] += 0.25 }
            return (name: name, shape: try file.shape(named: name), values: values)
        }, metadata: file.metadata, to: url)
    }

    @Test func aCutLastMetricsRowIsDroppedWithAWarning() throws {
        for keepNewline in [false, true] {
            let dir = try stopped(after: 2)
            defer { try? FileManager.default.removeItem(at: dir) }
            let url = dir.appendingPathComponent("metrics.csv")
            var lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
            lines[2] = lines[2].split(separator: ",").prefix(11).joined(separator: ",")
            try (lines.joined(separator: "\n") + (keepNewline ? "\n" : "")).write(to: url, atomically: true, encoding: .utf8)
            let warnings = try expectReference(dir)
            #expect(warnings.contains { $0.contains(url.path) && $0.contains("11 of \(EpochMetrics.columns.count + EpochProbes.lambdaMaxColumns.count) fields") && $0.contains("dropped") }, "\(warnings)")
        }
    }

    @Test func duplicatedMetricsRowsAreRefused() throws {
        let dir = try stopped(after: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("metrics.csv")
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        try ([lines[0], lines[1], lines[2], lines[1], lines[2]].joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        expectRefused(dir, url.path, "line 4 holds epoch '1' where epoch 3 belongs")
    }

    @Test func anotherEpochsCheckpointInPlaceIsRefused() throws {
        let dir = try stopped(after: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let two = dir.appendingPathComponent("theta-epoch-002.safetensors")
        try FileManager.default.removeItem(at: two)
        try FileManager.default.copyItem(at: dir.appendingPathComponent("theta-epoch-001.safetensors"), to: two)
        expectRefused(dir, two.path, "metadata says epoch 1")
    }

    @Test func aChangedWeightOrMomentumIsRefused() throws {
        for (file, tensor) in [("theta-epoch-002.safetensors", "fc1.weight"), ("optimizer-epoch-002.safetensors", "velocity")] {
            let dir = try stopped(after: 2)
            defer { try? FileManager.default.removeItem(at: dir) }
            let url = dir.appendingPathComponent(file)
            try changeValue(url, tensor: tensor)
            expectRefused(dir, url.path, "changed after it was written")
            // Updating the file's own checksum does not help: checkpoints.csv recorded the original.
            let file = try SafeTensors.read(from: url)
            let actual = file.withDataBuffer { SHA256.hexDigest(of: $0) }
            try replaceMetadata(url) { $0["tensors_sha256"] = actual }
            expectRefused(dir, url.path, "changed after it was written")
        }
    }

    @Test func aChangedStepIsRefused() throws {
        let dir = try stopped(after: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("optimizer-epoch-002.safetensors")
        // 256 samples in batches of 64: 4 steps per epoch, 8 after epoch 2.
        #expect(try SafeTensors.read(from: url).metadata["step"] == "8")
        try replaceMetadata(url) { $0["step"] = "7" }
        expectRefused(dir, url.path, "metadata says step 7", "records step 8")
        // The record itself edited to match: 7 steps are not 2 epochs of 4.
        let records = dir.appendingPathComponent(RunRecord.fileName)
        let text = try String(contentsOf: records, encoding: .utf8)
        try text.replacingOccurrences(of: "\n2,8,", with: "\n2,7,").write(to: records, atomically: true, encoding: .utf8)
        expectRefused(dir, records.path, "records step 7 after epoch 2")
    }

    @Test func anEditedRunJSONIsRefused() throws {
        let dir = try stopped(after: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        // What `landscape train --resume` does: the configuration comes from run.json.
        let url = dir.appendingPathComponent("run.json")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains("\"epochs\" : 3"))
        try text.replacingOccurrences(of: "\"epochs\" : 3", with: "\"epochs\" : 4").write(to: url, atomically: true, encoding: .utf8)
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let edited = try JSONDecoder().decode(TrainingConfiguration.self, from: JSONSerialization.data(withJSONObject: info["configuration"]!))
        #expect(edited.epochs == 4)
        expectRefused(dir, configuration: edited, url.path, "edited")
        // With run.json's checksum updated too, the checkpoints' record still disagrees.
        var object = info
        object["configuration_sha256"] = edited.sha256
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        expectRefused(dir, configuration: edited, "checkpoints.csv", "another configuration")
    }

    @Test func aMissingRecordIsRefused() throws {
        let dir = try stopped(after: 2)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent(RunRecord.fileName)
        try FileManager.default.removeItem(at: url)
        expectRefused(dir, url.path, "cannot be verified")
        let opt = dir.appendingPathComponent("optimizer-epoch-002.safetensors")
        let dir2 = try stopped(after: 2)
        defer { try? FileManager.default.removeItem(at: dir2) }
        try FileManager.default.removeItem(at: dir2.appendingPathComponent(opt.lastPathComponent))
        expectRefused(dir2, dir2.appendingPathComponent(opt.lastPathComponent).path, "is missing")
    }

    @Test func oneProcessPerRunDirectory() throws {
        let dir = try stopped(after: 1)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fd = try #require(try DirectoryLock.acquire(in: dir))
        let before = try Data(contentsOf: dir.appendingPathComponent("metrics.csv"))
        expectRefused(dir, dir.path, "another landscape process is training in it")
        #expect(try Data(contentsOf: dir.appendingPathComponent("metrics.csv")) == before)
        DirectoryLock.release(fd)
        _ = try expectReference(dir)
    }

    @Test func aRunThatNeverCompletedAnEpochResumesFromItsStart() throws {
        // Killed after run.json and epoch 1's checkpoints, before its metrics row...
        let dir = try stopped(after: 1)
        defer { try? FileManager.default.removeItem(at: dir) }
        let header = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n")[0]
        try (header + "\n").write(to: dir.appendingPathComponent("metrics.csv"), atomically: true, encoding: .utf8)
        let warnings = try expectReference(dir)
        #expect(warnings.contains { $0.contains("no complete epoch") }, "\(warnings)")
        // ... or right after run.json.
        let bare = try stopped(after: 1)
        defer { try? FileManager.default.removeItem(at: bare) }
        for name in try FileManager.default.contentsOfDirectory(atPath: bare.path) where name != "run.json" {
            try FileManager.default.removeItem(at: bare.appendingPathComponent(name))
        }
        _ = try expectReference(bare)
    }
}

/// metrics.csv without its three timing columns.
func rowsWithoutTimes(_ dir: URL) throws -> [String] {
    try csvRowsWithoutTimes(dir.appendingPathComponent("metrics.csv"))
}

/// A CSV file's lines (header included) without the columns whose names end in `_seconds`.
func csvRowsWithoutTimes(_ url: URL) throws -> [String] {
    let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    guard let header = lines.first else { return [] }
    let keep = header.indices.filter { !header[$0].hasSuffix("_seconds") }
    return lines.map { fields in keep.filter { $0 < fields.count }.map { String(fields[$0]) }.joined(separator: ",") }
}

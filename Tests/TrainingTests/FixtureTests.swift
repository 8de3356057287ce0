import Foundation
import Testing
import Checkpoints
import Datasets
import Layers
import Probes
import Tensors
import Training

/// The run directories in Tests/Fixtures, written by the code before the configuration type and
/// the run store (Tests/Fixtures/README.md): they must still resume, or say why not.
@Suite struct FixtureTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A copy of a fixture directory to work in.
    func copy(_ name: String) throws -> URL {
        let dir = temporaryDirectory().appendingPathComponent(name)
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent(name), to: dir)
        return dir
    }

    /// The generator's settings (README): what the fixture's run.json holds in its flat form.
    static var configuration: TrainingConfiguration {
        var c = TrainingConfiguration()
        c.epochs = 3
        c.optimizer.batchSize = 16
        c.optimizer.learningRate = 0.1
        c.optimizer.microBatchSize = 8
        c.schedule = .step(everyEpochs: 1, gamma: 0.5)
        c.probes.probeSamples = 32
        c.probes.probeBatchSize = 16
        c.probes.lambdaIterations = 3
        return c
    }

    /// Rows without the three timing columns (train, evaluation and λ_max seconds: 14–16 of 16).
    func rowsWithoutTimes(_ csv: URL) throws -> [String] {
        try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            return (f[0..<14] + f[17...]).joined(separator: ",")
        }
    }

    @Test func anInterruptedRunOfTheEarlierVersionResumesToTheUninterruptedResult() throws {
        let dir = try copy("train-interrupted")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let data = try MNISTDataset(directory: Self.fixtures.appendingPathComponent("data"), validationCount: 16)
        let model = MLP(sizes: [784, 4, 10])
        let store = try RunStore.open(at: dir)
        // run.json's flat configuration reads as the nested one, and its own SHA-256 checks it.
        #expect(store.configuration == Self.configuration, "\(store.configuration.differingKeys(from: Self.configuration))")
        let oldRecords = try String(contentsOf: dir.appendingPathComponent(RunRecord.fileName), encoding: .utf8)
        #expect(oldRecords.contains(store.configurationHash))
        #expect(store.configurationHash != Self.configuration.sha256)
        try store.check(data: data)
        store.close()

        let (θ, metrics) = try Trainer(configuration: Self.configuration, data: data, outputDirectory: dir).run(model: model, resume: true, onStep: { _ in }, onEpoch: { _ in })
        #expect(metrics.map(\.epoch) == [3])
        let reference = try loadParameters(from: Self.fixtures.appendingPathComponent("train-complete/theta-epoch-003.safetensors"), layout: model.layout)
        #expect(θ.scalars == reference.scalars, "θ differs from the uninterrupted run's")
        #expect(try rowsWithoutTimes(dir.appendingPathComponent("metrics.csv")) == rowsWithoutTimes(Self.fixtures.appendingPathComponent("train-complete/metrics.csv")))
        // The continued run keeps recording the hash its run.json was written with, and the current header.
        let records = try RunRecord.entries(in: dir)
        #expect(records.count == 3 && records.allSatisfy { $0.configuration == records[0].configuration })
        let header = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n")[0]
        #expect(header == Substring(EpochMetrics.csvHeader(probeColumns: EpochProbes.lambdaMaxColumns)))
        #expect(try String(contentsOf: Self.fixtures.appendingPathComponent("train-interrupted/metrics.csv"), encoding: .utf8).contains("probe_seconds"))
    }

    @Test func anEditedFlatRunJSONIsRefused() throws {
        let dir = try copy("train-interrupted")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let url = dir.appendingPathComponent("run.json")
        let text = try String(contentsOf: url, encoding: .utf8)
        try text.replacingOccurrences(of: "\"learningRate\" : 0.1", with: "\"learningRate\" : 0.2").write(to: url, atomically: true, encoding: .utf8)
        do { _ = try RunStore.open(at: dir); Issue.record("an edited run.json was accepted") } catch {
            #expect("\(error)".contains("run.json") && "\(error)".contains("edited"), "\(error)")
        }
    }

    @Test func aResumeWithOtherSettingsIsRefused() throws {
        let dir = try copy("train-interrupted")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let data = try MNISTDataset(directory: Self.fixtures.appendingPathComponent("data"), validationCount: 16)
        var other = Self.configuration
        other.optimizer.momentum = 0.5
        do {
            _ = try Trainer(configuration: other, data: data, outputDirectory: dir).run(model: MLP(sizes: [784, 4, 10]), resume: true, onStep: { _ in }, onEpoch: { _ in })
            Issue.record("resumed with another momentum")
        } catch {
            #expect("\(error)".contains("another configuration"), "\(error)")
        }
    }

    @Test func aCLIRunOfTheEarlierVersionReadsAndSaysWhatIsMissing() throws {
        let dir = try copy("cli-train")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let store = try RunStore.open(at: dir)
        var expected = TrainingConfiguration()
        expected.epochs = 2
        expected.probes.probeSamples = 32
        expected.probes.lambdaIterations = 3
        #expect(store.configuration == expected, "\(store.configuration.differingKeys(from: expected))")
        // Its checkpoints were left out of the fixture: resuming names the missing file.
        do { _ = try store.lastComplete(layout: MLP().layout, stepsPerEpoch: 4); Issue.record("resumed without checkpoints") } catch {
            #expect("\(error)".contains("theta-epoch-002.safetensors") && "\(error)".contains("is missing"), "\(error)")
        }
    }
}

import Foundation
import Testing
import Checkpoints
import Datasets
import Layers
import Optimizers
import Tensors
import Training

/// Issue 24, class 5: errors that named the wrong cause. Each test is one reported example.
@Suite struct ErrorCauseTests {
    // MARK: A blow-up's cause

    @Test func weightDecayTimesTheLearningRateAboveTheStabilityLimitIsRefused() throws {
        // Before: accepted, and training stopped with "the learning rate is probably too large".
        var c = TrainingConfiguration()
        c.optimizer.weightDecay = 1e30
        do { try c.validate(); Issue.record("weight decay 1e30 accepted") } catch let error as ConfigurationError {
            #expect(error.key == "optimizer.weightDecay" && error.problem.contains("times the learning rate 0.05") && error.problem.contains("above 3.8 = 2(1 + μ)"), "\(error)")
        }
        // η = 0.05, μ = 0.9: η·λ ≤ 2(1 + μ) = 3.8 allows λ up to 76; Nesterov's 2(1 + μ)/(1 + 2μ) = 1.357 up to 27.1.
        c.optimizer.weightDecay = 75
        try c.validate()
        c.optimizer.weightDecay = 77
        #expect(throws: ConfigurationError.self) { try c.validate() }
        c.optimizer.nesterov = true
        c.optimizer.weightDecay = 27
        try c.validate()
        c.optimizer.weightDecay = 28
        #expect(throws: ConfigurationError.self) { try c.validate() }
        // A step schedule that raises the rate is checked at its largest rate: 0.05·10² = 5 in epoch 3 of 3.
        c = TrainingConfiguration()
        c.schedule = .step(everyEpochs: 1, gamma: 10)
        c.optimizer.weightDecay = 0.75
        try c.validate()
        c.optimizer.weightDecay = 0.77
        do { try c.validate(); Issue.record("accepted") } catch { #expect("\(error)".contains("the largest of the step:1:10.0 schedule"), "\(error)") }
        // The study checks each regime's rate the same way.
        #expect(c.largestLearningRate == 5)
    }

    @Test func aBlowUpNamesTheLearningRateOnlyWhenTheMeasuredCurvatureSaysSo() {
        var c = TrainingConfiguration()   // η = 0.05, μ = 0.9: stable for curvatures h ≤ 3.8/0.05 = 76
        let beyond = c.divergenceCause(learningRate: 0.05, lambdaMax: (100, 2))
        #expect(beyond.hasPrefix("the learning rate is too large") && beyond.contains("λ_max = 100 (after epoch 2) is 5, above 3.8"), "\(beyond)")
        let within = c.divergenceCause(learningRate: 0.05, lambdaMax: (10, 2))
        #expect(within.hasPrefix("no setting is known to exceed") && within.contains("the last λ_max, 10 after epoch 2, was within it"), "\(within)")
        #expect(within.contains("momentum μ = 0.9") && within.contains("weight decay λ = 0") && within.contains("no gradient clipping"), "\(within)")
        // Weight decay adds to every curvature: 0.05·(60 + 20) = 4 > 3.8.
        c.optimizer.weightDecay = 20
        let withDecay = c.divergenceCause(learningRate: 0.05, lambdaMax: (60, 1))
        #expect(withDecay.contains("plus the weight decay λ = 20 is 4, above"), "\(withDecay)")
        #expect(c.divergenceCause(learningRate: 0.05, lambdaMax: nil).contains("λ_max was not measured"))
    }

    @Test func theWeightDecayCommandLineExampleIsAValidationError() throws {
        guard let exe = landscapeExecutable() else { return }
        let r = try runLandscape(exe, ["train", "--weight-decay", "1e30", "--print-config"])
        #expect(!r.signalled && r.status != 0)
        #expect(r.output.contains("'optimizer.weightDecay' 1e+30 times the learning rate 0.05"), "\(r.output)")
    }

    // MARK: Configuration files

    @Test(.timeLimit(.minutes(1))) func aConfigurationPathThatIsNoRegularFileIsNamedForWhatItIs() throws {
        // Before: /dev/null and a FIFO gave "You don't have permission" (as root).
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("config.fifo")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let empty = dir.appendingPathComponent("empty.json")
        try Data(" \n".utf8).write(to: empty)
        for (path, problem) in [("/dev/null", "is a character device, not a regular file"), (fifo.path, "is a named pipe (FIFO), not a regular file"),
                                (dir.path, "is a directory, not a file"), (dir.appendingPathComponent("none.json").path, "does not exist"),
                                (empty.path, "is empty")] {
            do { _ = try TrainingConfiguration.load(from: URL(fileURLWithPath: path)); Issue.record("\(path) accepted") } catch let error as ConfigurationError {
                #expect(error.source == path && error.key == nil && error.problem.hasPrefix(problem), "\(error)")
            }
        }
    }

    @Test func aKeyGivenTwiceInAConfigurationFileIsAnErrorNamingIt() throws {
        // Before: the last value was kept without a word.
        let cases = [
            (#"{"momentum": 0.5, "momentum": 0.8}"#, "momentum", "appears twice in the same object"),
            (#"{"optimizer": {"momentum": 0.5, "nesterov": true, "momentum": 0.8}}"#, "optimizer.momentum", "appears twice in the same object"),
            (#"{"momentum": 0.5, "mom\u0065ntum": 0.8}"#, "momentum", "appears twice in the same object"),
            (#"{"momentum": 0.5, "optimizer": {"momentum": 0.8}}"#, "optimizer.momentum", "is given twice, as 'momentum' and within 'optimizer'"),
            (#"{"lambdaSamples": 10, "probeSamples": 20}"#, "probes.probeSamples", "is given twice, as 'lambdaSamples' and as 'probeSamples'"),
        ]
        for (json, key, problem) in cases {
            do { _ = try TrainingConfiguration.decode(json: Data(json.utf8), source: "c.json"); Issue.record("\(json) accepted") } catch let error as ConfigurationError {
                #expect(error.source == "c.json" && error.key == key && error.problem.hasPrefix(problem), "\(error)")
            }
        }
        // The same name in different objects, or inside a string, is no repeated key.
        let c = try TrainingConfiguration.decode(json: Data(#"{"optimizer": {"batchSize": 8}, "data": {"dataDirectory": "d,{\"batchSize\": 1, \"batchSize\""}, "evaluationBatchSize": 8}"#.utf8), source: "c.json")
        #expect(c.optimizer.batchSize == 8 && c.evaluationBatchSize == 8 && c.data.dataDirectory == #"d,{"batchSize": 1, "batchSize""#)
    }

    @Test func aSecondConfigIsAnError() throws {
        // Before: the second file silently replaced the first.
        guard let exe = landscapeExecutable() else { return }
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.json"), b = dir.appendingPathComponent("b.json")
        try Data(#"{"momentum": 0.5}"#.utf8).write(to: a)
        try Data(#"{"epochs": 7}"#.utf8).write(to: b)
        let r = try runLandscape(exe, ["train", "--config", a.path, "--config", b.path, "--print-config"])
        #expect(!r.signalled && r.status != 0)
        #expect(r.output.contains("--config is given 2 times (\(a.path), \(b.path))"), "\(r.output)")
        let one = try runLandscape(exe, ["train", "--config", a.path, "--print-config"])
        #expect(one.status == 0 && one.output.contains(#""momentum" : 0.5"#), "\(one.output)")
    }

    // MARK: Run files

    @Test func aRunWhoseCSVFilesHaveCRLFLineEndsResumes() throws {
        // Before: metrics.csv "does not start with the expected header" (the file was one line).
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func lastComplete(crlf: Bool) throws -> TrainingCheckpoint? {
            let dir = root.appendingPathComponent(crlf ? "crlf" : "lf")
            try FileManager.default.copyItem(at: FixtureTests.fixtures.appendingPathComponent("train-interrupted"), to: dir)
            for name in ["metrics.csv", RunRecord.fileName] where crlf {
                let url = dir.appendingPathComponent(name)
                try Data(try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "\n", with: "\r\n").utf8).write(to: url)
            }
            let store = try RunStore.open(at: dir)
            defer { store.close() }
            return try store.lastComplete(layout: MLP(sizes: [784, 4, 10]).layout, stepsPerEpoch: try RunRecord.entries(in: dir)[0].step)
        }
        let crlf = try lastComplete(crlf: true), lf = try lastComplete(crlf: false)
        #expect(crlf?.epoch == 2 && crlf?.metricsRows.count == 2)
        #expect(crlf?.metricsRows == lf?.metricsRows && crlf?.records == lf?.records)
    }

    @Test func aRunDirectoryThatCannotBeCreatedSaysWhyInPlainWords() throws {
        // Before: "The operation could not be completed. (NSCocoaErrorDomain error 512.)"
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a-file")
        try Data().write(to: file)
        var rng = SplitMix64(seed: 1)
        let split = DatasetSplit(name: "synthetic", pixels: randomPixels(64 * 784, using: &rng), labels: (0..<64).map { $0 % 10 }, featureCount: 784)
        do {
            _ = try RunStore.create(at: file.appendingPathComponent("run"), configuration: TrainingConfiguration(), model: MLP(), data: try syntheticDataset(train: split))
            Issue.record("created a run under a file")
        } catch {
            #expect("\(error)".contains("cannot be created (not a directory)"), "\(error)")
        }
    }
}

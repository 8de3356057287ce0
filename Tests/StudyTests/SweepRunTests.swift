import Foundation
import Testing
import Checkpoints
import Datasets
@testable import Study
import Training

/// A sweep small enough for a debug-build test: 300 training samples (5 steps of 64 per epoch),
/// 2 epochs, tiny probes; the data from the shared MNIST copy.
func tinySweep(_ extra: [String: Any] = [:], data: URL) -> [String: Any] {
    ["training": ["epochs": 2, "data": ["trainLimit": 300, "validation": 100, "testLimit": 100, "dataDirectory": data.path],
                  "probes": ["probeSamples": 32, "lambdaIterations": 3]] as [String: Any],
     "epochProbes": ["sharpnessDirections": 2, "traceProbes": 2, "batchSharpnessBatches": 2]].merging(extra) { $1 }
}

@Suite(.serialized) struct SweepRunTests {
    @Test func anInterruptedTaskResumesToTheSameMetricsAndCheckpoints() throws {
        guard let mnist = sharedMNIST() else { Issue.record("MNIST not found at ../shared/data/mnist"); return }
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let task = try sweepTasks(tinySweep(["points": [["seed": 3]]], data: mnist))[0]
        let loadData = { try MNISTDataset.load(task.settings.training.data, log: { _ in }) }
        let whole = root.appendingPathComponent("whole"), cut = root.appendingPathComponent("cut")

        #expect(try SweepTaskRunner(task: task, sweepDirectory: whole).run(data: loadData) == .finished(epochs: 2, before: false))

        // The signal's handler sets the flag the trainer reads before each step, after the
        // evaluation and before each epoch probe: raised before step 3 of epoch 2 (5 steps, 1 and
        // one per probe in epoch 1, then 3), the run stops after 2 steps of it.
        SweepSignals.install([SIGUSR1])
        SweepSignals.reset()
        defer { SweepSignals.reset() }
        let stopAt = 5 + 1 + StudyRunner.epochProbes(task.settings.training, task.settings.epochProbes).probes.count + 3
        var checks = 0
        var runner = SweepTaskRunner(task: task, sweepDirectory: cut)
        runner.shouldInterrupt = {
            checks += 1
            if checks == stopAt {
                // To the process (a test's thread may block signals): delivered to a thread that does not, soon.
                kill(getpid(), SIGUSR1)
                for _ in 0..<1000 where SweepSignals.receivedSignal == nil { usleep(1000) }
            }
            return SweepSignals.receivedSignal != nil
        }
        do {
            _ = try runner.run(data: loadData)
            Issue.record("not interrupted")
        } catch let error as TrainingError {
            guard case let .interrupted(epoch, step, last) = error else { throw error }
            #expect(epoch == 2 && step == 2 && last?.hasSuffix("theta-epoch-001.safetensors") == true, "\(error)")
        }
        #expect(SweepSignals.receivedSignal == SIGUSR1)
        #expect(try task.status(in: cut) == .partial(epochs: 1))
        // A lock file left behind (by a killed process) does not block the rerun: flock dies with its holder.
        try "12345\n".write(to: task.directory(in: cut).appendingPathComponent(DirectoryLock.fileName), atomically: false, encoding: .utf8)
        SweepSignals.reset()
        var log: [String] = []
        runner.log = { log.append($0) }
        #expect(try runner.run(data: loadData) == .finished(epochs: 2, before: false))
        #expect(log.contains { $0.contains("resuming after epoch 1 of 2") }, "\(log)")
        #expect(try metricsWithoutTimes(task.directory(in: cut)) == metricsWithoutTimes(task.directory(in: whole)))
        for name in ["theta-epoch-002.safetensors", "optimizer-epoch-002.safetensors", "theta-epoch-001.safetensors"] {
            let a = try Data(contentsOf: task.directory(in: whole).appendingPathComponent(name))
            let b = try Data(contentsOf: task.directory(in: cut).appendingPathComponent(name))
            #expect(a == b, "\(name) differs")
        }
        // Finished: a further run trains nothing.
        #expect(try runner.run(data: { throw CancellationError() }) == .finished(epochs: 2, before: true))
    }

    @Test func aStopRequestedDuringAnEpochsProbesRedoesThatEpochToTheSameResults() throws {
        guard let mnist = sharedMNIST() else { Issue.record("MNIST not found at ../shared/data/mnist"); return }
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let task = try sweepTasks(tinySweep(["points": [["seed": 5]]], data: mnist))[0]
        let loadData = { try MNISTDataset.load(task.settings.training.data, log: { _ in }) }
        let whole = root.appendingPathComponent("whole"), cut = root.appendingPathComponent("cut")
        #expect(try SweepTaskRunner(task: task, sweepDirectory: whole).run(data: loadData) == .finished(epochs: 2, before: false))

        // Checks per epoch: 5 SGD steps, 1 after the evaluation, 1 before each epoch probe.
        let probes = StudyRunner.epochProbes(task.settings.training, task.settings.epochProbes).probes.count
        #expect(probes >= 2)
        let perEpoch = 5 + 1 + probes
        // Stop before epoch 2's second probe (λ_max of epoch 2 measured, the rest not).
        let stopAt = perEpoch + 5 + 1 + 2
        var checks = 0
        var runner = SweepTaskRunner(task: task, sweepDirectory: cut)
        runner.shouldInterrupt = { checks += 1; return checks >= stopAt }
        do {
            _ = try runner.run(data: loadData)
            Issue.record("not interrupted")
        } catch let error as TrainingError {
            guard case let .interrupted(epoch, step, last) = error else { throw error }
            #expect(epoch == 2 && step == 5 && last?.hasSuffix("theta-epoch-001.safetensors") == true, "\(error)")
        }
        #expect(checks == stopAt)
        #expect(try task.status(in: cut) == .partial(epochs: 1))
        runner.shouldInterrupt = { false }
        #expect(try runner.run(data: loadData) == .finished(epochs: 2, before: false))
        #expect(try metricsWithoutTimes(task.directory(in: cut)) == metricsWithoutTimes(task.directory(in: whole)))
        for name in ["theta-epoch-002.safetensors", "optimizer-epoch-002.safetensors"] {
            let a = try Data(contentsOf: task.directory(in: whole).appendingPathComponent(name))
            let b = try Data(contentsOf: task.directory(in: cut).appendingPathComponent(name))
            #expect(a == b, "\(name) differs")
        }
    }

    @Test func aDivergedTaskIsRecordedAndNotRetried() throws {
        guard let mnist = sharedMNIST() else { Issue.record("MNIST not found at ../shared/data/mnist"); return }
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        // η = 1000 on the MLP: the loss is not finite within the first epoch.
        let task = try sweepTasks(tinySweep(["points": [["learningRate": 1000]]], data: mnist))[0]
        let runner = SweepTaskRunner(task: task, sweepDirectory: root)
        guard case let .diverged(reason, before) = try runner.run(data: { try MNISTDataset.load(task.settings.training.data, log: { _ in }) }) else {
            Issue.record("did not diverge")
            return
        }
        #expect(!before && reason.contains("non-finite"), "\(reason)")
        let failed = try String(contentsOf: runner.directory.appendingPathComponent(StudyRunner.failureFileName), encoding: .utf8)
        #expect(failed == reason + "\n")
        #expect(try task.status(in: root) == .diverged(reason: reason))
        #expect(try runner.run(data: { throw CancellationError() }) == .diverged(reason: reason, before: true))
    }

    @Test func aFileWhereATaskDirectoryBelongsIsNamed() throws {
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let task = try sweepTasks(tinySweep(["points": [["learningRate": 0.01]]], data: root))[0]
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data("stray\n".utf8).write(to: task.directory(in: root))
        do {
            _ = try task.status(in: root)
            Issue.record("a file as the task directory was accepted")
        } catch {
            #expect("\(error)".contains(task.directory(in: root).path) && "\(error)".contains("is a file where task 0's run directory belongs"), "\(error)")
        }
    }

    @Test func theExitCodesAreTheSysexitsOnes() {
        // sysexits.h: EX_USAGE 64, EX_TEMPFAIL 75, EX_CONFIG 78.
        #expect(SweepExitCode.allCases.map(\.rawValue) == [0, 1, 64, 75, 78])
        #expect(SweepExitCode.table.contains("  75  interrupted by SIGTERM, SIGUSR1 or SIGINT"))
    }
}

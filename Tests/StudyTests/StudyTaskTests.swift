import Foundation
import Testing
import Checkpoints
import Datasets
@testable import Study
import Training

/// A study's runs as independent tasks (issue 20, item 1: `landscape study --plan`): the same
/// results as the whole study, whatever the order or overlap of the tasks.
@Suite(.serialized) struct StudyTaskTests {
    /// Two MLP runs (high- and low-noise), one epoch each.
    func configuration() -> StudyConfiguration {
        var c = tinyConfiguration()
        c.models = [.mlp]
        return c
    }

    /// A file's rows without the timing columns (which differ between executions), sorted by run.
    func rowsWithoutTimes(_ file: String, in dir: URL, _ c: StudyConfiguration) throws -> [[String: String]] {
        try CSVTable.read(dir.appendingPathComponent(file)).rows.map { $0.filter { !$0.key.hasSuffix("_seconds") } }
            .sorted { (c.runName(ofRow: $0), $0["epoch"] ?? $0["rank"] ?? $0["layer"] ?? "") < (c.runName(ofRow: $1), $1["epoch"] ?? $1["rank"] ?? $1["layer"] ?? "") }
    }

    /// The whole study, once, as the reference.
    func wholeStudy(_ c: StudyConfiguration, _ data: MNISTDataset) throws -> URL {
        let dir = temporaryDirectory()
        let outcome = try StudyRunner(configuration: c, data: data, directory: dir).run()
        #expect(outcome.completed.count == 2 && outcome.failed.isEmpty, "\(outcome.failed)")
        return dir
    }

    /// The task directory's shared files hold the same rows as the whole study's, and its report names both runs as complete.
    func expectSameResults(_ tasks: URL, as whole: URL, _ c: StudyConfiguration) throws {
        for file in ["metrics.csv", "final.csv", "spectra.csv", "ggn-spectra.csv", "layers.csv"] {
            let got = try rowsWithoutTimes(file, in: tasks, c), expected = try rowsWithoutTimes(file, in: whole, c)
            #expect(!expected.isEmpty && got == expected, "\(file) differs from the whole study's")
        }
        for run in c.runs {
            for file in ["slices/\(run.name).csv", "densities/\(run.name).csv", "densities/\(run.name)-nodes.csv"] {
                #expect(FileManager.default.contents(atPath: tasks.appendingPathComponent(file).path) == FileManager.default.contents(atPath: whole.appendingPathComponent(file).path),
                        "\(file) differs from the whole study's")
            }
        }
        let written = try StudyReport.write(in: tasks)
        #expect(written.unfinishedRuns.isEmpty, "\(written.unfinishedRuns)")
        let summary = try String(contentsOf: tasks.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("All 2 runs are complete."))
        for run in c.runs { #expect(summary.contains(run.name), "summary.md does not name \(run.name)") }
    }

    @Test func tasksInTurnAndAtOnceGiveTheWholeStudysResults() throws {
        guard let data = try tinyData() else { return }
        let c = configuration()
        let whole = try wholeStudy(c, data)
        defer { try? FileManager.default.removeItem(at: whole) }
        // In turn, the second run first: a task's order is the scheduler's.
        let inTurn = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: inTurn) }
        let runs = try StudyRunner.plan(configuration: c, directory: inTurn).compactMap(\.studyRun)
        #expect(runs == ["mlp-high-noise-seed0", "mlp-low-noise-seed0"])
        #expect(try StudyReport.write(in: inTurn).unfinishedRuns.count == 2)
        var runner = try StudyRunner(configuration: c, data: data, directory: inTurn)
        // The first run is stopped mid-epoch, as a signal stops a task (after 3 of its 10 steps),
        // and resumed below: the results are still the whole study's.
        var asked = 0
        runner.shouldInterrupt = { asked += 1; return asked == 4 }
        #expect(throws: TrainingError.interrupted(epoch: 1, step: 3, lastCheckpoint: nil)) { try runner.runTask(named: runs[0]) }
        #expect(!FileManager.default.fileExists(atPath: inTurn.appendingPathComponent("slices/\(runs[0]).csv").path))
        for run in runs.reversed() { #expect(try runner.runTask(named: run) == .finished) }
        try expectSameResults(inTurn, as: whole, c)
        // A finished run is skipped, and leaves the files as they are.
        let before = snapshot(inTurn).filter { !$0.key.hasPrefix("figures/") && !$0.key.hasSuffix(".html") && !$0.key.hasSuffix(".md") }
        #expect(try runner.runTask(named: runs[0]) == .alreadyFinished)
        #expect(snapshot(inTurn).filter { before[$0.key] != nil } == before)

        // At once, on two threads (flock is per open file description, so the threads exclude each other as processes do).
        let atOnce = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: atOnce) }
        _ = try StudyRunner.plan(configuration: c, directory: atOnce)
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            do {
                let r = try StudyRunner(configuration: c, data: data, directory: atOnce).runTask(named: runs[i])
                results.append("\(runs[i]): \(r)")
            } catch { results.append("\(runs[i]): \(error)") }
        }
        #expect(results.values.sorted() == runs.map { "\($0): finished" }, "\(results.values)")
        try expectSameResults(atOnce, as: whole, c)
    }

    /// The manifest of a planned study: one line per run, each the run's own training settings and the study's epoch probes.
    @Test func aPlannedStudyHoldsItsManifestAndTheStudysFiles() throws {
        var c = configuration()
        c.seeds = [0, 5]
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let planned = try StudyRunner.plan(configuration: c, directory: dir)
        let tasks = try SweepManifest.read(dir.appendingPathComponent(SweepManifest.fileName))
        #expect(tasks.map(\.id) == planned.map(\.id))
        // The study's order: each seed's configurations, seed by seed.
        #expect(tasks.compactMap(\.studyRun) == ["mlp-high-noise-seed0", "mlp-low-noise-seed0", "mlp-high-noise-seed5", "mlp-low-noise-seed5"])
        for (task, run) in zip(tasks, c.runs) {
            #expect(task.settings.training == (try c.training(for: run)) && task.settings.epochProbes == c.epochProbes, "\(run.name)")
            #expect(task.directory(in: dir) == dir.appendingPathComponent("runs/\(run.name)"))
        }
        // The point names what varies between the runs: the regimes' batch sizes and learning rates (tinyConfiguration: 64 and 0.05, 200 and 0.01) and the seed.
        func point(_ k: Int, _ key: String) -> Double? { (tasks[k].point[key] as? NSNumber)?.doubleValue }
        #expect(Set(tasks[0].point.keys).isSuperset(of: ["training.optimizer.batchSize", "training.optimizer.learningRate", "training.seed"]), "\(tasks[0].point)")
        #expect(tasks[0].point["training.model"] == nil)
        #expect((point(0, "training.optimizer.batchSize"), point(1, "training.optimizer.batchSize")) == (64, 200))
        #expect((point(2, "training.optimizer.learningRate"), point(3, "training.optimizer.learningRate")) == (0.05, 0.01))
        #expect(tasks.map { point($0.index, "training.seed") } == [0, 0, 5, 5])
        #expect(try StudyConfiguration.loadSaved(from: dir.appendingPathComponent("config.json")) == (try c.normalizedAsSaved()))
        #expect(try StudyRunner.studyInfo(in: dir)?["configuration"] != nil)
        #expect(try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8) == StudyRunner.metricsHeader(c) + "\n")
        // A second plan into the directory is refused and changes nothing.
        let before = snapshot(dir)
        #expect(throws: StudyError.self) { try StudyRunner.plan(configuration: c, directory: dir) }
        #expect(snapshot(dir) == before)
    }

    @Test func aStudyRunsWholeOrAsTasksNotBoth() throws {
        guard let data = try tinyData() else { return }
        let c = configuration()
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try StudyRunner.plan(configuration: c, directory: dir)
        let runner = try StudyRunner(configuration: c, data: data, directory: dir)
        // A whole study holds .lock exclusively: a task is refused and changes nothing.
        let whole = try #require(try DirectoryLock.acquire(in: dir))
        let before = snapshot(dir)
        do {
            _ = try runner.runTask(named: "mlp-high-noise-seed0")
            Issue.record("a task ran while the study ran whole")
        } catch { #expect("\(error)".contains("running it whole"), "\(error)") }
        #expect(snapshot(dir) == before)
        DirectoryLock.release(whole)
        // A task holds it shared: the whole study is refused.
        let task = try #require(try DirectoryLock.acquire(in: dir, shared: true))
        do {
            _ = try runner.run(resume: true)
            Issue.record("the study ran whole while a task ran")
        } catch { #expect("\(error)".contains("another landscape study is running"), "\(error)") }
        DirectoryLock.release(task)
        // A name that is no run of the study, and a directory without a study, are errors naming them.
        do {
            _ = try runner.runTask(named: "cnn-high-noise-seed0")
            Issue.record("an unknown run was accepted")
        } catch { #expect("\(error)".contains("'cnn-high-noise-seed0' is no run of the study") && "\(error)".contains("mlp-low-noise-seed0"), "\(error)") }
        let empty = temporaryDirectory()
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: StudyError.runDirectory(path: empty.path, reason: "holds no config.json; is it a study directory?")) {
            try StudyRunner(configuration: c, data: data, directory: empty).runTask(named: "mlp-high-noise-seed0")
        }
        // A study planned with another configuration is refused.
        var other = c
        other.epochProbes.traceProbes = 3
        #expect(throws: StudyError.self) { try StudyRunner(configuration: other, data: data, directory: dir).runTask(named: "mlp-high-noise-seed0") }
    }

    @Test func aDivergedTaskWritesFailedTxtAndIsNotRetried() throws {
        guard let data = try tinyData() else { return }
        var c = configuration()
        c.regimes = ["high-noise"]
        c.regimeSettings["high-noise"] = RegimeSettings(batchSize: 64, learningRate: 1e30)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let name = try #require(try StudyRunner.plan(configuration: c, directory: dir).first?.studyRun)
        let runner = try StudyRunner(configuration: c, data: data, directory: dir)
        guard case let .diverged(reason) = try runner.runTask(named: name) else {
            Issue.record("a learning rate of 1e30 did not diverge")
            return
        }
        let failed = try String(contentsOf: dir.appendingPathComponent("runs/\(name)/failed.txt"), encoding: .utf8)
        #expect(failed.trimmingCharacters(in: .whitespacesAndNewlines) == reason)
        #expect(try runner.runTask(named: name) == .diverged(reason))
        let written = try StudyReport.write(in: dir)
        #expect(written.unfinishedRuns.contains { $0.hasPrefix(name) && $0.contains("stopped") }, "\(written.unfinishedRuns)")
    }
}

/// Lines appended from several threads.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var values: [String] { lock.withLock { lines } }
    func append(_ line: String) { lock.withLock { lines.append(line) } }
}

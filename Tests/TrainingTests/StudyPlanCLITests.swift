import Foundation
import Testing

/// `landscape study --plan` end to end (issue 20, item 1): the study's runs as a manifest, each
/// run by `landscape sweep run --task I`, merged by `landscape report DIR`.
@Suite(.serialized) struct StudyPlanCLITests {
    /// A two-run study (MLP × high- and low-noise, seed 0), one epoch on 300 samples, tiny probes.
    static func configuration(in dir: URL, data: URL) throws -> URL {
        let text = """
        {"seeds": [0], "models": ["mlp"], "regimes": ["high-noise", "low-noise"],
         "regimeSettings": {"low-noise": {"batchSize": 100, "learningRate": 0.01}},
         "training": {"epochs": 1, "data": {"trainLimit": 300, "validation": 100, "testLimit": 100, "dataDirectory": "\(data.path)"},
                      "probes": {"probeSamples": 32, "lambdaIterations": 3}},
         "epochProbes": {"sharpnessDirections": 2, "traceProbes": 2, "batchSharpnessBatches": 2},
         "finalProbes": {"slicePoints": 3, "sliceSamples": 16, "lanczosCount": 2, "lanczosSteps": 4, "slqProbes": 1, "slqSteps": 4, "extraFinalProbes": []}}
        """
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent("study.json")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// A CSV file's rows without the timing columns (`*_seconds`), sorted.
    static func rowsWithoutTimes(_ url: URL) throws -> [String] {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        guard let header = lines.first else { return [] }
        let keep = header.indices.filter { !header[$0].hasSuffix("_seconds") }
        return lines.map { row in keep.map { String(row[$0]) }.joined(separator: ",") }.sorted()
    }

    @Test func planRunEveryTaskAndReport() throws {
        guard let exe = landscapeExecutable(), let mnist = sharedMNISTOrRecord() else { return }
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let config = try Self.configuration(in: root, data: mnist)
        let dir = root.appendingPathComponent("study")
        let manifest = dir.appendingPathComponent("manifest.jsonl")

        let plan = try runLandscape(exe, ["study", "--plan", "--config", config.path, "--output-dir", dir.path])
        #expect(plan.status == 0, "\(plan.output)")
        #expect(plan.output.contains("planned 2 tasks, one per run of the study: mlp-high-noise-seed0, mlp-low-noise-seed0"), "\(plan.output)")
        #expect(plan.output.contains("sbatch --array=0-1 scripts/slurm/sweep.sbatch \(manifest.path)"), "\(plan.output)")
        #expect(plan.output.contains("landscape report \(dir.path)"), "\(plan.output)")
        // Planned, not trained: the study's files and the manifest, no runs.
        for file in ["config.json", "study.json", "metrics.csv", "manifest.jsonl"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(file)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))
        let lines = try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n")
        let runs = lines.map { ((try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["study"] as? [String: Any])?["run"] as? String }
        #expect(runs == ["mlp-high-noise-seed0", "mlp-low-noise-seed0"])

        // The second task first; the report of the half-done study names the missing run. The
        // threads are those of `--local --jobs 2` below (the probes' last digits depend on them).
        let threads = String(max(1, ProcessInfo.processInfo.activeProcessorCount / 2))
        let environment = ["OPENBLAS_NUM_THREADS": threads, "LANDSCAPE_THREADS": threads]
        let second = try runLandscape(exe, ["sweep", "run", manifest.path, "--task", "1", "--no-progress"], environment: environment)
        #expect(second.status == 0 && second.output.contains("finished: 1 epoch"), "\(second.output)")
        let partial = try runLandscape(exe, ["report", dir.path])
        #expect(partial.status == 0 && partial.output.contains("missing or unfinished runs (1): mlp-high-noise-seed0 (not started)"), "\(partial.output)")
        let first = try runLandscape(exe, ["sweep", "run", manifest.path, "--task", "0", "--no-progress"], environment: environment)
        #expect(first.status == 0 && first.output.contains("finished: 1 epoch"), "\(first.output)")
        let again = try runLandscape(exe, ["sweep", "run", dir.path, "--task", "0"])
        #expect(again.status == 0 && again.output.contains("already finished"), "\(again.output)")

        let report = try runLandscape(exe, ["report", dir.path])
        #expect(report.status == 0 && !report.output.contains("missing or unfinished"), "\(report.output)")
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("All 2 runs are complete."), "\(summary.prefix(2000))")
        for run in ["mlp-high-noise-seed0", "mlp-low-noise-seed0"] { #expect(summary.contains(run), "summary.md does not name \(run)") }
        let final = try String(contentsOf: dir.appendingPathComponent("final.csv"), encoding: .utf8).split(separator: "\n")
        #expect(final.count == 3, "\(final)")
        #expect(final.dropFirst().map { $0.split(separator: ",").prefix(3).joined(separator: ",") }.sorted() == ["mlp,high-noise,0", "mlp,low-noise,0"])
        let metrics = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n")
        #expect(metrics.count == 3, "one epoch per run: \(metrics.count - 1) rows")

        // The same study with both tasks at once (--local --jobs 2: two processes in one study
        // directory) gives the same rows, timings aside.
        let atOnce = root.appendingPathComponent("at-once")
        #expect(try runLandscape(exe, ["study", "--plan", "--config", config.path, "--output-dir", atOnce.path]).status == 0)
        let local = try runLandscape(exe, ["sweep", "run", atOnce.path, "--local", "--jobs", "2"])
        #expect(local.status == 0 && local.output.contains("0 done, 2 to run, 2 at a time") && local.output.contains("all 2 tasks done"), "\(local.output)")
        for file in ["final.csv", "metrics.csv", "spectra.csv", "layers.csv"] {
            #expect(try Self.rowsWithoutTimes(atOnce.appendingPathComponent(file)) == Self.rowsWithoutTimes(dir.appendingPathComponent(file)), "\(file)")
        }
        let rerun = try runLandscape(exe, ["sweep", "run", atOnce.path, "--local"])
        #expect(rerun.status == 0 && rerun.output.contains("2 done, 0 to run"), "\(rerun.output)")

        // --plan starts a study: not with --resume, and not into a directory that holds one.
        let withResume = try runLandscape(exe, ["study", "--plan", "--resume", dir.path])
        #expect(withResume.status != 0 && withResume.output.contains("--plan starts a new study directory"), "\(withResume.output)")
        let twice = try runLandscape(exe, ["study", "--plan", "--config", config.path, "--output-dir", dir.path])
        #expect(twice.status != 0 && twice.output.contains("already holds a run"), "\(twice.output)")
    }
}

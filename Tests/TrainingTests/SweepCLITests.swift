import Foundation
import Testing
import Checkpoints

/// Runs `landscape ARGS` to the end with `environment` added to this process's (and the task
/// index variables removed unless given), standard output and error together.
func runLandscape(_ exe: URL, _ args: [String], environment: [String: String]) throws -> CLIResult {
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-cli-\(UUID().uuidString).log")
    defer { try? FileManager.default.removeItem(at: log) }
    FileManager.default.createFile(atPath: log.path, contents: nil)
    let handle = try FileHandle(forWritingTo: log)
    let p = Process()
    p.executableURL = exe
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env["SLURM_ARRAY_TASK_ID"] = nil
    env["JOB_COMPLETION_INDEX"] = nil
    p.environment = env.merging(environment) { $1 }
    p.standardOutput = handle
    p.standardError = handle
    p.standardInput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return CLIResult(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                     output: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}

/// `landscape sweep` end to end on a tiny sweep: plan, one task, a skipped rerun, the rest locally,
/// the task index from the environment, signals and a killed task, and the exit codes.
@Suite(.serialized) struct SweepCLITests {
    /// A sweep of three 1-epoch tasks on 300 samples with tiny probes: seeds 0 and 1 (axis) and
    /// a point at learning rate 1000, which diverges.
    static func sweepFile(in dir: URL, data: URL, epochs: Int = 1) throws -> URL {
        let text = """
        {"training": {"epochs": \(epochs), "data": {"trainLimit": 300, "validation": 100, "testLimit": 100, "dataDirectory": "\(data.path)"},
                      "probes": {"probeSamples": 32, "lambdaIterations": 3}},
         "epochProbes": {"sharpnessDirections": 2, "traceProbes": 2, "batchSharpnessBatches": 2},
         "axes": {"seed": [0, 1]},
         "points": [{"learningRate": 1000}]}
        """
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent("tiny.json")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// The manifest's ids in line order.
    static func ids(_ manifest: URL) throws -> [String] {
        try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["id"] as? String ?? "?"
        }
    }

    /// Plans ``sweepFile(in:data:epochs:)`` into `root/sweep` through the CLI.
    /// - Returns: the sweep directory, its manifest and the manifest's ids in line order.
    static func planned(_ exe: URL, in root: URL, data: URL, epochs: Int = 1) throws -> (dir: URL, manifest: URL, ids: [String]) {
        let sweep = try sweepFile(in: root, data: data, epochs: epochs)
        let dir = root.appendingPathComponent("sweep")
        let plan = try runLandscape(exe, ["sweep", "plan", sweep.path, "--output-dir", dir.path])
        #expect(plan.status == 0, "\(plan.output)")
        let manifest = dir.appendingPathComponent("manifest.jsonl")
        return (dir, manifest, try ids(manifest))
    }

    /// The complete epochs in a task directory's metrics.csv.
    static func epochs(_ dir: URL) -> Int {
        ((try? String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8)) ?? "").split(separator: "\n").count - 1
    }

    @Test func planRunSkipAndTheRestLocally() throws {
        guard let exe = landscapeExecutable(), let mnist = sharedMNISTOrRecord() else { return }
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let sweep = try Self.sweepFile(in: root, data: mnist)
        let dir = root.appendingPathComponent("sweep")
        let plan = try runLandscape(exe, ["sweep", "plan", sweep.path, "--output-dir", dir.path])
        #expect(plan.status == 0, "\(plan.output)")
        let manifest = dir.appendingPathComponent("manifest.jsonl")
        #expect(plan.output.contains("planned 3 tasks"), "\(plan.output)")
        #expect(plan.output.contains("sbatch --array=0-2 scripts/slurm/sweep.sbatch \(manifest.path)"), "\(plan.output)")
        let ids = try Self.ids(manifest)
        #expect(ids.count == 3)

        let first = try runLandscape(exe, ["sweep", "run", manifest.path, "--task", "0", "--no-progress"])
        #expect(first.status == 0 && first.output.contains("task 0 (\(ids[0])) finished: 1 epoch"), "\(first.output)")
        #expect(Self.epochs(dir.appendingPathComponent(ids[0])) == 1)
        let again = try runLandscape(exe, ["sweep", "run", dir.path, "--task", "0"])
        #expect(again.status == 0 && again.output.contains("task 0 (\(ids[0])) already finished (1 epoch): nothing to do"), "\(again.output)")

        // Re-planning the same sweep keeps the ids and sees the finished task.
        let replan = try runLandscape(exe, ["sweep", "plan", root.appendingPathComponent("tiny.json").path, "--output-dir", dir.path])
        #expect(replan.status == 0 && replan.output.contains("planned 3 tasks (1 finished, 2 to run)"), "\(replan.output)")
        #expect(try Self.ids(manifest) == ids)

        let local = try runLandscape(exe, ["sweep", "run", manifest.path, "--local", "--jobs", "2"])
        #expect(local.status == 0, "\(local.output)")
        #expect(local.output.contains("1 done, 2 to run, 2 at a time"), "\(local.output)")
        #expect(local.output.contains("task 1 \(ids[1]) finished") && local.output.contains("task 2 \(ids[2]) diverged"), "\(local.output)")
        #expect(Self.epochs(dir.appendingPathComponent(ids[1])) == 1)
        let failed = try String(contentsOf: dir.appendingPathComponent("\(ids[2])/failed.txt"), encoding: .utf8)
        #expect(failed.contains("non-finite"), "\(failed)")
        let log = try String(contentsOf: dir.appendingPathComponent("logs/\(ids[1]).log"), encoding: .utf8)
        #expect(log.contains("task 1 (\(ids[1])) finished"), "\(log)")
        // A diverged task is a result: not retried, exit 0.
        let diverged = try runLandscape(exe, ["sweep", "run", manifest.path, "--task", "2"])
        #expect(diverged.status == 0 && diverged.output.contains("diverged earlier") && diverged.output.contains("not retried"), "\(diverged.output)")
        let none = try runLandscape(exe, ["sweep", "run", manifest.path, "--local"])
        #expect(none.status == 0 && none.output.contains("3 done, 0 to run"), "\(none.output)")

        // A re-plan that would drop tasks with directories is refused (exit 1), and allowed with --force.
        try #"{"training": {"epochs": 1}, "points": [{"seed": 9}]}"#.write(to: sweep, atomically: true, encoding: .utf8)
        let drop = try runLandscape(exe, ["sweep", "plan", sweep.path, "--output-dir", dir.path])
        #expect(drop.status == 1 && drop.output.contains("would leave out 3 tasks"), "\(drop.output)")
        #expect(try Self.ids(manifest) == ids)
    }

    @Test func theTaskIndexComesFromTheOptionOrTheEnvironmentAndErrorsHaveTheirExitCodes() throws {
        guard let exe = landscapeExecutable(), let mnist = sharedMNISTOrRecord() else { return }
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let (_, manifest, ids) = try Self.planned(exe, in: root, data: mnist)

        // Slurm's variable, then Kubernetes' (a diverging task: quick), --task before both.
        let slurm = try runLandscape(exe, ["sweep", "run", manifest.path, "--no-progress"], environment: ["SLURM_ARRAY_TASK_ID": "2", "JOB_COMPLETION_INDEX": "0"])
        #expect(slurm.status == 0 && slurm.output.contains("task 2 (\(ids[2])) diverged:"), "\(slurm.output)")
        let k8s = try runLandscape(exe, ["sweep", "run", manifest.path], environment: ["JOB_COMPLETION_INDEX": "2"])
        #expect(k8s.status == 0 && k8s.output.contains("task 2 (\(ids[2])) diverged earlier"), "\(k8s.output)")

        // EX_USAGE (64): no index, one out of range, one that is not a number, bad options.
        let missing = try runLandscape(exe, ["sweep", "run", manifest.path], environment: [:])
        #expect(missing.status == 64 && missing.output.contains("no task index"), "\(missing.output)")
        let range = try runLandscape(exe, ["sweep", "run", manifest.path], environment: ["SLURM_ARRAY_TASK_ID": "3"])
        #expect(range.status == 64 && range.output.contains("SLURM_ARRAY_TASK_ID is 3, but \(manifest.path) holds tasks 0...2"), "\(range.output)")
        #expect(try runLandscape(exe, ["sweep", "run", manifest.path, "--task", "-1"], environment: [:]).status == 64)
        #expect(try runLandscape(exe, ["sweep", "run", manifest.path], environment: ["JOB_COMPLETION_INDEX": "x"]).status == 64)
        #expect(try runLandscape(exe, ["sweep", "run", manifest.path, "--local", "--task", "0"], environment: [:]).status == 64)

        // EX_CONFIG (78): a bad manifest line, named.
        var lines = try String(contentsOf: manifest, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[1] = lines[1].replacingOccurrences(of: "\"epochs\":1", with: "\"epochs\":0")
        try (lines.joined(separator: "\n") + "\n").write(to: manifest, atomically: true, encoding: .utf8)
        let bad = try runLandscape(exe, ["sweep", "run", manifest.path, "--task", "0"], environment: [:])
        #expect(bad.status == 78 && bad.output.contains("\(manifest.path) line 2: 'training.epochs' must be in 1..."), "\(bad.output)")
        let absent = try runLandscape(exe, ["sweep", "run", root.appendingPathComponent("none.jsonl").path, "--task", "0"], environment: [:])
        #expect(absent.status == 78, "\(absent.output)")

        let help = try runLandscape(exe, ["sweep", "run", "--help"], environment: [:])
        #expect(help.output.contains("75  interrupted by SIGTERM, SIGUSR1 or SIGINT") && help.output.contains("78  a bad manifest line"), "\(help.output)")
    }

    @Test func aSignalledTaskExits75AndAKilledOneDoesNotBlockItsRerun() throws {
        guard let exe = landscapeExecutable(), let mnist = sharedMNISTOrRecord() else { return }
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let (dir, manifest, ids) = try Self.planned(exe, in: root, data: mnist, epochs: 2)

        /// Waits (at most 30 s) until `p` has written `text` to `log`.
        func wait(for text: String, in log: URL, of p: Process) {
            for _ in 0..<600 where p.isRunning && !((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains(text) { usleep(50_000) }
        }
        func read(_ log: URL) -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        // --local: SIGTERM to the parent stops both running children (SIGTERM), which exit 75; so does the parent.
        let localLog = root.appendingPathComponent("local.log")
        let parent = try launchLandscape(exe, ["sweep", "run", manifest.path, "--local", "--jobs", "2"], log: localLog)
        for id in ids.prefix(2) {
            for _ in 0..<600 where parent.isRunning && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("\(id)/run.json").path) { usleep(50_000) }
        }
        kill(parent.processIdentifier, SIGTERM)
        parent.waitUntilExit()
        #expect(parent.terminationReason == .exit && parent.terminationStatus == 75, "\(read(localLog))")
        #expect(read(localLog).contains("SIGTERM: stopping 2 running tasks") && read(localLog).contains("task 0 \(ids[0]) interrupted")
                && read(localLog).contains("task 1 \(ids[1]) interrupted"), "\(read(localLog))")
        #expect(read(dir.appendingPathComponent("logs/\(ids[0]).log")).contains("interrupted by SIGTERM"))

        // One task: SIGTERM stops it at the next SGD step, exit 75, resumable.
        let log = root.appendingPathComponent("task.log")
        let p = try launchLandscape(exe, ["sweep", "run", manifest.path, "--task", "0", "--no-progress"], log: log)
        wait(for: "task 0 (", in: log, of: p)   // printed once the handlers are installed
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 75, "\(read(log))")
        #expect(read(log).contains("interrupted by SIGTERM") && read(log).contains("is resumable"), "\(read(log))")
        let rerun = try runLandscape(exe, ["sweep", "run", manifest.path, "--task", "0"])
        #expect(rerun.status == 0 && rerun.output.contains("finished: 2 epochs"), "\(rerun.output)")

        // SIGKILL while it holds the run's lock: the rerun takes it (flock ends with its holder).
        let q = try launchLandscape(exe, ["sweep", "run", manifest.path, "--task", "1", "--no-progress"], log: log)
        wait(for: "task 1 (", in: log, of: q)
        usleep(500_000)
        kill(q.processIdentifier, SIGKILL)
        q.waitUntilExit()
        #expect(q.terminationReason == .uncaughtSignal)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("\(ids[1])/.lock").path))
        let after = try runLandscape(exe, ["sweep", "run", manifest.path, "--task", "1"])
        #expect(after.status == 0 && after.output.contains("finished: 2 epochs"), "\(after.output)")
    }

    @Test func sighupStopsTheLocalChildrenAReplannedLineIsRefusedAndPlanWaitsForTasks() throws {
        guard let exe = landscapeExecutable(), let mnist = sharedMNISTOrRecord() else { return }
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let (dir, manifest, ids) = try Self.planned(exe, in: root, data: mnist, epochs: 2)
        func read(_ log: URL) -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        // --threads: --local only, in 1...1024.
        #expect(try runLandscape(exe, ["sweep", "run", manifest.path, "--local", "--threads", "0"]).status == 64)
        #expect(try runLandscape(exe, ["sweep", "run", manifest.path, "--task", "0", "--threads", "2"]).status == 64)

        // A child started for another id than its line's refuses (78), naming both.
        let other = try runLandscape(exe, ["sweep", "run", manifest.path, "--task", "0", "--id", ids[1]])
        #expect(other.status == 78 && other.output.contains(ids[0]) && other.output.contains(ids[1]), "\(other.output)")

        // While a task holds the sweep's .lock shared (as every running `sweep run` does), plan refuses, saying why.
        let held = try #require(try DirectoryLock.acquire(in: dir, shared: true))
        let replan = try runLandscape(exe, ["sweep", "plan", root.appendingPathComponent("tiny.json").path, "--output-dir", dir.path])
        DirectoryLock.release(held)
        #expect(replan.status == 1 && replan.output.contains("tasks of the sweep that are running"), "\(replan.output)")

        // SIGHUP (a closed terminal) to the --local parent: its child is stopped (SIGTERM) and waited for; exit 75.
        let localLog = root.appendingPathComponent("local.log")
        let parent = try launchLandscape(exe, ["sweep", "run", manifest.path, "--local", "--jobs", "1", "--threads", "1"], log: localLog)
        for _ in 0..<600 where parent.isRunning && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("\(ids[0])/run.json").path) { usleep(50_000) }
        kill(parent.processIdentifier, SIGHUP)
        parent.waitUntilExit()
        #expect(parent.terminationReason == .exit && parent.terminationStatus == 75, "\(read(localLog))")
        #expect(read(localLog).contains("with 1 thread each") && read(localLog).contains("SIGHUP: stopping 1 running task")
                && read(localLog).contains("task 0 \(ids[0]) interrupted"), "\(read(localLog))")
        #expect(read(dir.appendingPathComponent("logs/\(ids[0]).log")).contains("interrupted by SIGTERM"))
    }
}

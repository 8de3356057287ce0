import ArgumentParser
import Checkpoints
import Datasets
import Foundation
import Study
import Tensors
import Training

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Grids of training runs with the study's epoch probes: plan a manifest, run its tasks (Slurm job arrays, Kubernetes Indexed Jobs, or locally).",
        subcommands: [SweepPlanCommand.self, SweepRunCommand.self, SweepReportCommand.self])
}

struct SweepPlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Resolve a sweep file into DIR/manifest.jsonl (one task per line) and DIR/sweep.json.",
        discussion: """
        SWEEP.json holds "training" and "epochProbes" (the base: any subset of their keys), "axes" (key → list of \
        values; the tasks are their Cartesian product) and "points" (a list of objects, each one more task). Keys are \
        full dotted paths (training.optimizer.batchSize) or a unique last component (batchSize, learningRate, seed). \
        Each task's id is the first 12 hex digits of the SHA-256 of its settings (without the data directory); task I \
        (the manifest's line I, from 0) trains into DIR/<id>.

        Planning again into a sweep directory rewrites its manifest: tasks keep their ids and directories (finished \
        ones stay finished), but line numbers may change, so do not re-plan while array jobs of the sweep are \
        running. It is refused when the new sweep leaves out tasks that have directories, unless --force (their \
        directories are kept, outside the manifest).
        """)

    @Argument(help: "The sweep file (JSON).") var sweepFile: String
    @Option(help: "The sweep directory (default runs/sweep-NAME, NAME the sweep file's base name).") var outputDir: String?
    @Flag(help: "Re-plan even when the new manifest leaves out tasks that have directories, or into a directory without a manifest.") var force = false

    func run() throws {
        let spec = try SweepSpecification.load(from: URL(fileURLWithPath: sweepFile))
        let tasks = try spec.tasks()
        let name = URL(fileURLWithPath: sweepFile).deletingPathExtension().lastPathComponent
        let dir = URL(fileURLWithPath: outputDir ?? "runs/sweep-\(name)").standardizedFileURL
        let fm = FileManager.default
        let manifest = dir.appendingPathComponent(SweepManifest.fileName)
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: dir.path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw CLIError(description: "sweep directory \(dir.path) exists and is a file") }
        }
        do { _ = try makeDirectories(dir) } catch let error as POSIXError {
            throw CLIError(description: "cannot create sweep directory \(dir.path): \(String(cString: strerror(error.code.rawValue)))")
        }
        let lock: Int32?
        do { lock = try DirectoryLock.acquire(in: dir) } catch { throw CLIError(description: "sweep directory \(dir.path): cannot create its lock file: \(error)") }
        guard let lock else { throw CLIError(description: "sweep directory \(dir.path): another landscape process is planning in it (its \(DirectoryLock.fileName) is held)") }
        defer { DirectoryLock.release(lock) }
        if fm.fileExists(atPath: manifest.path) {
            let old: [SweepTask]
            do { old = try SweepManifest.read(manifest) } catch {
                guard force else { throw CLIError(description: "\(error)\n(the sweep directory's manifest cannot be read; pass --force to replace it)") }
                old = []
            }
            let left = SweepManifest.tasksLeftOut(of: old, by: tasks, in: dir)
            if !left.isEmpty {
                let list = left.prefix(5).map { "\($0.id) {\($0.pointDescription)}" }.joined(separator: "; ") + (left.count > 5 ? "; …" : "")
                guard force else {
                    throw CLIError(description: "re-planning \(dir.path) would leave out \(left.count) task\(left.count == 1 ? "" : "s") that ha\(left.count == 1 ? "s a directory" : "ve directories") (\(list)); extend the sweep instead, choose another --output-dir, or pass --force to keep their directories outside the manifest")
                }
                stderrLine("note: \(left.count) task director\(left.count == 1 ? "y stays" : "ies stay") in \(dir.path) outside the new manifest: \(list)")
            }
        } else if !force {
            let held = ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }
            guard held.isEmpty else {
                throw CLIError(description: "\(dir.path) is not empty and holds no \(SweepManifest.fileName) (\(held.sorted().prefix(3).joined(separator: ", "))); choose a new --output-dir (or pass --force)")
            }
        }
        try SweepManifest.write(tasks, specification: spec, to: dir)
        var counts: [String: Int] = [:]
        for t in tasks { counts[(try? t.status(in: dir).name) ?? "unreadable", default: 0] += 1 }
        let summary = ["finished", "diverged", "partial", "missing", "unreadable"].compactMap { k in counts[k].map { "\($0) \(k == "missing" ? "to run" : k)" } }
        outLine("planned \(tasks.count) task\(tasks.count == 1 ? "" : "s") (\(summary.joined(separator: ", "))) over " +
                (spec.axes.isEmpty ? "no axes" : spec.axes.map { "\($0.key) (\($0.values.count))" }.joined(separator: " × ")) +
                (spec.points.isEmpty ? "" : " + \(spec.points.count) point\(spec.points.count == 1 ? "" : "s")"))
        for line in SweepManifest.submitLines(manifest: manifest, tasks: tasks.count) { outLine(line) }
        if tasks.count > 1001 {
            stderrLine("note: \(tasks.count) tasks exceed Slurm's default MaxArraySize (1001: indices 0...1000); ask for a larger one or submit the array in parts (--array=0-1000, 1001-…)")
        }
    }
}

struct SweepRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Train one task of a sweep manifest into DIR/<id> (Slurm array task, Kubernetes indexed pod), or with --local every unfinished task here.",
        discussion: """
        The task index I (the manifest's line, from 0) is --task, else SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX. \
        A finished task is skipped; a diverged one (failed.txt) is not retried; a partial one resumes after its last \
        complete epoch (with the same results as an uninterrupted run). SIGTERM, SIGUSR1 and SIGINT stop the run \
        after the current SGD step, leaving the directory resumable (exit 75: requeue it).

        --local runs every unfinished task on this machine, --jobs at a time, each as a child process \
        `landscape sweep run MANIFEST --task I` with OPENBLAS_NUM_THREADS and LANDSCAPE_THREADS set to \
        max(1, cores / jobs) and its output in DIR/logs/<id>.log; SIGINT or SIGTERM stops the children (SIGTERM) \
        and exits 75.

        Exit status:
        \(SweepExitCode.table)
        """)

    @Argument(help: "The manifest (DIR/manifest.jsonl, or the sweep directory DIR).") var manifest: String
    @Option(parsing: .unconditional, help: "The task index (default: SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX).") var task: Int?
    @Option(name: [.customLong("data-dir"), .customLong("data-directory")], help: "Read the data from this directory instead of the manifest's (data settings only).") var dataDir: String?
    @Flag(help: "Run every unfinished task on this machine, --jobs at a time.") var local = false
    @Option(help: "With --local: tasks at a time (default 1).") var jobs: Int?
    @Flag(help: "No progress bar even on a terminal.") var noProgress = false

    /// Where the task index comes from when --task is not given, in order.
    static let indexVariables = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"]

    func validate() throws {
        if local, task != nil { throw ValidationError("--local runs every unfinished task; drop --task") }
        if jobs != nil, !local { throw ValidationError("--jobs applies to --local only") }
        if let jobs, jobs < 1 || jobs > 1024 { throw ValidationError("--jobs must be in 1...1024, got \(jobs)") }
        if let dataDir, dataDir.isEmpty { throw ValidationError("--data-dir must not be empty") }
    }

    func run() throws {
        do {
            if local { try runLocal() } else { try runOne() }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            let code: SweepExitCode
            switch error {
            case is ConfigurationError: code = .configuration
            case let e as TrainingError: if case .interrupted = e { code = .interrupted } else { code = .failure }
            case is SweepUsageError: code = .usage
            default: code = .failure
            }
            stderrLine("error: \(error)")
            throw ExitCode(code.rawValue)
        }
    }

    var manifestURL: URL { SweepManifest.manifestURL(manifest).standardizedFileURL }

    /// The manifest's tasks, with --data-dir laid over their data settings.
    func tasks() throws -> [SweepTask] {
        var tasks = try SweepManifest.read(manifestURL)
        if let dataDir {
            for i in tasks.indices { tasks[i].settings.training.data.dataDirectory = URL(fileURLWithPath: dataDir).standardizedFileURL.path }
        }
        return tasks
    }

    /// The task index: --task, else the first of ``indexVariables`` that is set.
    /// - Throws: ``SweepUsageError`` when none is given, one is not an integer, or it is out of range.
    func index(of count: Int) throws -> Int {
        let environment = ProcessInfo.processInfo.environment
        let given: (value: String, source: String)
        if let task { given = (String(task), "--task") }
        else if let (name, value) = Self.indexVariables.lazy.compactMap({ n in environment[n].map { (n, $0) } }).first { given = (value, name) }
        else {
            throw SweepUsageError(description: "no task index: pass --task I, or run as a Slurm array task (SLURM_ARRAY_TASK_ID) or a Kubernetes indexed job (JOB_COMPLETION_INDEX); or --local for every task")
        }
        guard let i = Int(given.value.trimmingCharacters(in: .whitespaces)) else {
            throw SweepUsageError(description: "\(given.source) is '\(given.value)', not a task index")
        }
        guard i >= 0, i < count else {
            throw SweepUsageError(description: "\(given.source) is \(i), but \(manifestURL.path) holds tasks 0...\(count - 1)")
        }
        return i
    }

    func runOne() throws {
        let tasks = try tasks()
        let task = tasks[try index(of: tasks.count)]
        let dir = manifestURL.deletingLastPathComponent()
        var runner = SweepTaskRunner(task: task, sweepDirectory: dir)
        let progress = ProgressBar(enabled: !noProgress)
        runner.log = { progress.clear(); outLine($0) }
        runner.onStep = { progress.update($0) }
        SweepSignals.install()
        runner.shouldInterrupt = { SweepSignals.receivedSignal != nil }
        let name = "task \(task.index) (\(task.id))"
        let start = Date()
        do {
            switch try runner.run(data: {
                outLine("\(name) of \(tasks.count): {\(task.pointDescription)} in \(runner.directory.path); \(BLASRuntime.summary)")
                return try MNISTDataset.load(task.settings.training.data, log: stderrLine)
            }) {
            case let .finished(epochs, before):
                progress.clear()
                outLine(before ? "\(name) already finished (\(epochs) epoch\(epochs == 1 ? "" : "s")): nothing to do"
                               : String(format: "%@ finished: %d epoch%@ in %.1f s", name, epochs, epochs == 1 ? "" : "s", Date().timeIntervalSince(start)))
            case let .diverged(reason, before):
                progress.clear()
                let failed = runner.directory.appendingPathComponent(StudyRunner.failureFileName).path
                outLine(before ? "\(name) diverged earlier: \(reason); not retried (delete \(failed) to retry it)"
                               : "\(name) diverged: \(reason) (recorded in \(failed); not retried)")
            }
        } catch let error as TrainingError {
            progress.clear()
            guard case .interrupted = error else { throw error }
            let signal = SweepSignals.receivedSignal.map(SweepSignals.name(of:)) ?? "a signal"
            stderrLine("\(name) interrupted by \(signal): \(error); \(runner.directory.path) is resumable: run the task again (exit \(SweepExitCode.interrupted.rawValue): requeue)")
            throw ExitCode(SweepExitCode.interrupted.rawValue)
        }
    }

    func runLocal() throws {
        let tasks = try tasks()
        let dir = manifestURL.deletingLastPathComponent()
        let statuses = try tasks.map { try $0.status(in: dir) }
        let todo = tasks.filter { !statuses[$0.index].isDone }
        let jobs = max(1, min(self.jobs ?? 1, todo.count))
        let threads = max(1, ProcessInfo.processInfo.activeProcessorCount / jobs)
        outLine("\(tasks.count) task\(tasks.count == 1 ? "" : "s") in \(manifestURL.path): \(tasks.count - todo.count) done, \(todo.count) to run, \(jobs) at a time with \(threads) thread\(threads == 1 ? "" : "s") each")
        guard !todo.isEmpty else { return }
        let logs = dir.appendingPathComponent(SweepManifest.logsDirectoryName)
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = String(threads)
        environment["LANDSCAPE_THREADS"] = String(threads)
        SweepSignals.install([SIGINT, SIGTERM])
        var pending = todo[...]
        var running: [(task: SweepTask, process: Process, log: FileHandle, start: Date)] = []
        var failed: [(task: SweepTask, status: String)] = []
        var finished = 0
        var forwarded = false
        while !running.isEmpty || (!pending.isEmpty && !forwarded) {
            if SweepSignals.receivedSignal != nil, !forwarded {
                forwarded = true
                stderrLine("\(SweepSignals.name(of: SweepSignals.receivedSignal!)): stopping \(running.count) running task\(running.count == 1 ? "" : "s") (SIGTERM) and waiting for them")
                for r in running { kill(r.process.processIdentifier, SIGTERM) }
            }
            while !forwarded, running.count < jobs, let task = pending.popFirst() {
                let logURL = logs.appendingPathComponent("\(task.id).log")
                if !FileManager.default.fileExists(atPath: logURL.path) { FileManager.default.createFile(atPath: logURL.path, contents: nil) }
                let handle = try FileHandle(forWritingTo: logURL)
                try handle.seekToEnd()
                try handle.write(contentsOf: Data("== landscape sweep run --task \(task.index) (--local), \(ISO8601DateFormatter().string(from: Date())) ==\n".utf8))
                let p = Process()
                p.executableURL = executable
                p.arguments = ["sweep", "run", manifestURL.path, "--task", String(task.index), "--no-progress"] + (dataDir.map { ["--data-dir", $0] } ?? [])
                p.environment = environment
                p.standardOutput = handle
                p.standardError = handle
                p.standardInput = FileHandle.nullDevice
                try p.run()
                running.append((task, p, handle, Date()))
            }
            usleep(50_000)
            let ended = running.filter { !$0.process.isRunning }
            running.removeAll { r in ended.contains { $0.process === r.process } }
            for r in ended {
                let code = r.process.terminationReason == .uncaughtSignal ? -1 : r.process.terminationStatus
                try? r.log.close()
                let status: String
                if code == SweepExitCode.done.rawValue { status = (try? r.task.status(in: dir).name) ?? "unreadable" }
                else if code == SweepExitCode.interrupted.rawValue { status = "interrupted" }
                else if code == -1 { status = "killed by signal \(r.process.terminationStatus)" }
                else { status = "failed (exit \(code))" }
                finished += 1
                if !["finished", "diverged"].contains(status) { failed.append((r.task, status)) }
                outLine(String(format: "[%d/%d] task %d %@ %@ %.1f s", finished, todo.count, r.task.index, r.task.id, status, Date().timeIntervalSince(r.start)))
            }
        }
        if forwarded {
            stderrLine("interrupted: \(finished) of \(todo.count) tasks ended; run `landscape sweep run \(manifestURL.path) --local` again to go on")
            throw ExitCode(SweepExitCode.interrupted.rawValue)
        }
        if !failed.isEmpty {
            throw CLIError(description: "\(failed.count) task\(failed.count == 1 ? "" : "s") did not finish: " +
                           failed.map { "task \($0.task.index) (\($0.task.id)) \($0.status), log \(logs.appendingPathComponent("\($0.task.id).log").path)" }.joined(separator: "; "))
        }
        outLine("all \(tasks.count) tasks done")
    }
}

/// A `sweep run` usage error found after parsing (the task index): exit 64.
struct SweepUsageError: Error, CustomStringConvertible {
    let description: String
}

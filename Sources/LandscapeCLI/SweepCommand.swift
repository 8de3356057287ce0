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
        values; the tasks are their Cartesian product) and "points" (a list of objects, each one more task), at most \
        \(SweepSpecification.maximumTasks) tasks in all. Keys are \
        full dotted paths (training.optimizer.batchSize) or a unique last component (batchSize, learningRate, seed). \
        Each task's id is the first 12 hex digits of the SHA-256 of its settings (without the data directory); task I \
        (the manifest's line I, from 0) trains into DIR/<id>.

        Planning again into a sweep directory rewrites its manifest: tasks keep their ids and directories (finished \
        ones stay finished), but line numbers may change, so do not re-plan while array jobs of the sweep are \
        running: it is refused while any `sweep run` task of the directory runs (each holds DIR/.lock shared). \
        Array elements not yet started read the manifest when they start, so re-plan only once the array has \
        ended. It is refused when the new sweep leaves out tasks that have directories, unless --force (their \
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
        do { lock = try DirectoryLock.acquire(in: dir) } catch { throw CLIError(description: "sweep directory \(dir.path): \(error)") }
        guard let lock else {
            throw CLIError(description: "sweep directory \(dir.path): its \(DirectoryLock.fileName) is held, by tasks of the sweep that are running (`sweep run` holds it while a task runs) or by another `sweep plan`; re-planning while tasks run could give a running task's line to another task, so wait until they have ended")
        }
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
        for t in tasks { counts[(try? t.status(in: dir).name) ?? SweepTaskStatus.unreadableName, default: 0] += 1 }
        let summary = (SweepTaskStatus.names + [SweepTaskStatus.unreadableName]).compactMap { k in counts[k].map { "\($0) \(k == "missing" ? "to run" : k)" } }
        outLine("planned \(tasks.count) task\(tasks.count == 1 ? "" : "s") (\(summary.joined(separator: ", "))) over " +
                (spec.axes.isEmpty ? "no axes" : spec.axes.map { "\($0.key) (\($0.values.count))" }.joined(separator: " × ")) +
                (spec.points.isEmpty ? "" : " + \(spec.points.count) point\(spec.points.count == 1 ? "" : "s")"))
        for line in SweepManifest.submitLines(manifest: manifest, tasks: tasks.count) { outLine(line) }
        for data in Set(tasks.map(\.settings.training.data.resolvedDirectory)).sorted() where !fm.fileExists(atPath: data) {
            stderrLine("note: the data directory \(data) does not exist (yet): each task fetches MNIST into it when it starts; plan where the data are, or pass --data-dir to `sweep run`")
        }
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
        after the current SGD step, or between an epoch's evaluation and its probes (that epoch is then redone on \
        resume), leaving the directory resumable (exit 75: requeue it). While it runs, a task holds the sweep \
        directory's .lock shared, so `sweep plan` cannot re-plan under it.

        --local runs every unfinished task on this machine, --jobs at a time, each as a child process \
        `landscape sweep run MANIFEST --task I` with OPENBLAS_NUM_THREADS and LANDSCAPE_THREADS set to --threads \
        (default max(1, cores / jobs)) and its output in DIR/logs/<id>.log; a child refuses to run (exit 78) when \
        its line no longer holds the task the parent started it for. SIGINT, SIGTERM, SIGUSR1, SIGHUP or SIGQUIT \
        stops the children (SIGTERM), waits for them and exits 75; a second signal kills them (SIGKILL). An error \
        of the parent stops and waits for its children too.

        Exit status:
        \(SweepExitCode.table)
        """)

    @Argument(help: "The manifest (DIR/manifest.jsonl, or the sweep directory DIR).") var manifest: String
    @Option(parsing: .unconditional, help: "The task index (default: SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX).") var task: Int?
    @Option(name: [.customLong("data-dir"), .customLong("data-directory")], help: "Read the data from this directory instead of the manifest's (data settings only).") var dataDir: String?
    @Flag(help: "Run every unfinished task on this machine, --jobs at a time.") var local = false
    @Option(help: "With --local: tasks at a time (default 1).") var jobs: Int?
    @Option(help: "With --local: threads per task, OPENBLAS_NUM_THREADS and LANDSCAPE_THREADS of each child (default max(1, cores / jobs)).") var threads: Int?
    @Flag(help: "No progress bar even on a terminal.") var noProgress = false
    /// The task's id as the `--local` parent read it from the manifest: the child refuses another.
    @Option(help: .hidden) var id: String?
    /// The `--local` parent's pid, set by it for its children (the orphan check compares getppid() with it).
    @Option(help: .hidden) var parent: Int32?

    /// How long a task waits for the sweep directory's lock held by a `sweep plan` (seconds).
    static let lockWaitSeconds = 30.0

    /// Where the task index comes from when --task is not given, in order.
    static let indexVariables = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"]

    func validate() throws {
        if local, task != nil { throw ValidationError("--local runs every unfinished task; drop --task") }
        if jobs != nil, !local { throw ValidationError("--jobs applies to --local only") }
        if let jobs, jobs < 1 || jobs > 1024 { throw ValidationError("--jobs must be in 1...1024, got \(jobs)") }
        if threads != nil, !local { throw ValidationError("--threads applies to --local only (a task's threads are OPENBLAS_NUM_THREADS and LANDSCAPE_THREADS)") }
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be in 1...1024, got \(threads)") }
        if let id, local || id.count != SweepTask.idLength { throw ValidationError("--id is set by `sweep run --local` for its children") }
        if parent != nil, local || id == nil { throw ValidationError("--parent is set by `sweep run --local` for its children") }
        if let dataDir, dataDir.isEmpty { throw ValidationError("--data-dir must not be empty") }
    }

    func run() throws {
        // First: a signal from here on ends with 75, not by its default action (143, 138).
        SweepSignals.install(local ? SweepSignals.localSignals : SweepSignals.requeueSignals)
        do {
            if local { try runLocal() } else { try runOne() }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            let code: SweepExitCode
            switch error {
            case is SweepUsageError: code = .usage
            case is SweepBusyError: code = .interrupted
            default: code = SweepExitCode(for: error)
            }
            stderrLine("error: \(error)")
            throw ExitCode(code.rawValue)
        }
    }

    /// Takes the sweep directory's .lock shared for the task's (or `--local`'s) whole run, so that
    /// `sweep plan` (exclusive) does not re-plan under it; waits up to ``lockWaitSeconds`` for a
    /// `sweep plan` that holds it. `nil` when the manifest does not exist (reading it says so).
    /// - Throws: ``SweepBusyError`` when it stays held or a signal arrives; `CLIError` when it cannot be taken.
    func holdSweepDirectory() throws -> Int32? {
        guard FileManager.default.fileExists(atPath: manifestURL.path) else { return nil }
        let dir = manifestURL.deletingLastPathComponent()
        let deadline = Date().addingTimeInterval(Self.lockWaitSeconds)
        while true {
            let fd: Int32?
            do { fd = try DirectoryLock.acquire(in: dir, shared: true) } catch { throw CLIError(description: "sweep directory \(dir.path): \(error)") }
            if let fd { return fd }
            if let signal = SweepSignals.receivedSignal {
                throw SweepBusyError(description: "\(SweepSignals.name(of: signal)) while waiting for \(dir.path)/\(DirectoryLock.fileName); nothing was run")
            }
            if Date() > deadline {
                throw SweepBusyError(description: "sweep directory \(dir.path): its \(DirectoryLock.fileName) is held exclusively (a `sweep plan` re-planning it, or a whole `landscape study` running in it) for more than \(Int(Self.lockWaitSeconds)) s; run the task again later")
            }
            usleep(100_000)
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
        let lock = try holdSweepDirectory()
        defer { lock.map(DirectoryLock.release) }
        let tasks = try tasks()
        let task = tasks[try index(of: tasks.count)]
        if let id, id != task.id {
            throw ConfigurationError(source: "\(manifestURL.path) line \(task.index + 1)", key: "id",
                                     "is \(task.id), but `sweep run --local` started this task as \(id): the manifest was planned again while the sweep ran; run `landscape sweep run --local` again")
        }
        let dir = manifestURL.deletingLastPathComponent()
        var runner = SweepTaskRunner(task: task, sweepDirectory: dir)
        let progress = ProgressBar(enabled: !noProgress)
        runner.log = { progress.clear(); outLine($0) }
        runner.onStep = { progress.update($0) }
        // A child of `--local` also stops when its parent is gone (killed with SIGKILL, which it
        // cannot forward): it is then re-parented, and a rerun of the sweep would find its run locked.
        let parent = self.parent
        let orphaned = { parent.map { getppid() != $0 } ?? false }
        runner.shouldInterrupt = { SweepSignals.receivedSignal != nil || orphaned() }
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
        } catch {
            progress.clear()
            guard SweepExitCode(for: error) == .interrupted, SweepSignals.receivedSignal != nil || orphaned() else { throw error }
            let signal = SweepSignals.receivedSignal.map(SweepSignals.name(of:)) ?? "the end of its `sweep run --local` parent"
            stderrLine("\(name) interrupted by \(signal): \(error); \(runner.directory.path) is resumable: run the task again (exit \(SweepExitCode.interrupted.rawValue): requeue)")
            throw ExitCode(SweepExitCode.interrupted.rawValue)
        }
    }

    func runLocal() throws {
        let lock = try holdSweepDirectory()
        defer { lock.map(DirectoryLock.release) }
        let tasks = try tasks()
        let dir = manifestURL.deletingLastPathComponent()
        let statuses = try tasks.map { try $0.status(in: dir) }
        let todo = tasks.filter { !statuses[$0.index].isDone }
        let jobs = max(1, min(self.jobs ?? 1, todo.count))
        let threads = self.threads ?? SweepManifest.defaultLocalThreads(jobs: jobs)
        outLine("\(tasks.count) task\(tasks.count == 1 ? "" : "s") in \(manifestURL.path): \(tasks.count - todo.count) done, \(todo.count) to run, \(jobs) at a time with \(threads) thread\(threads == 1 ? "" : "s") each")
        guard !todo.isEmpty else { return }
        let logs = dir.appendingPathComponent(SweepManifest.logsDirectoryName)
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = String(threads)
        environment["LANDSCAPE_THREADS"] = String(threads)
        var pending = todo[...]
        var running: [(task: SweepTask, process: Process, log: FileHandle, start: Date)] = []
        var failed: [(task: SweepTask, status: String)] = []
        var finished = 0
        // Stopping: on a signal (`interruptedBy`) or an error of this loop (`failure`), the running
        // children get SIGTERM and are waited for; a further signal sends them SIGKILL.
        var interruptedBy: Int32? = nil, failure: Error? = nil
        var signalsAtStop = 0, killed = false
        var stopping: Bool { interruptedBy != nil || failure != nil }
        func stop(_ why: String) {
            signalsAtStop = SweepSignals.receivedCount
            stderrLine("\(why): stopping \(running.count) running task\(running.count == 1 ? "" : "s") (SIGTERM) and waiting for them (a second signal kills them)")
            for r in running { kill(r.process.processIdentifier, SIGTERM) }
        }
        func start(_ task: SweepTask) throws {
            let logURL = logs.appendingPathComponent("\(task.id).log")
            // O_APPEND: a task's earlier runs (or a child orphaned by a killed parent) keep their lines.
            let fd = open(logURL.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw CLIError(description: "cannot open the task log \(logURL.path): \(String(cString: strerror(errno)))") }
            let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            do {
                try handle.write(contentsOf: Data("== landscape sweep run --task \(task.index) (--local), \(ISO8601DateFormatter().string(from: Date())) ==\n".utf8))
                let p = Process()
                p.executableURL = executable
                p.arguments = ["sweep", "run", manifestURL.path, "--task", String(task.index), "--id", task.id, "--parent", String(getpid()), "--no-progress"] + (dataDir.map { ["--data-dir", $0] } ?? [])
                p.environment = environment
                p.standardOutput = handle
                p.standardError = handle
                p.standardInput = FileHandle.nullDevice
                try p.run()
                running.append((task, p, handle, Date()))
            } catch {
                try? handle.close()
                throw error
            }
        }
        while !running.isEmpty || (!pending.isEmpty && !stopping) {
            if !stopping, let signal = SweepSignals.receivedSignal {
                interruptedBy = signal
                stop(SweepSignals.name(of: signal))
            } else if stopping, !killed, SweepSignals.receivedCount > signalsAtStop {
                killed = true
                stderrLine("\(SweepSignals.name(of: SweepSignals.receivedSignal ?? SIGKILL)) again: killing \(running.count) running task\(running.count == 1 ? "" : "s") (SIGKILL); their directories resume from their last complete epochs")
                for r in running { kill(r.process.processIdentifier, SIGKILL) }
            }
            while !stopping, running.count < jobs, let task = pending.popFirst() {
                do { try start(task) } catch {
                    failure = error
                    stop("error: task \(task.index) (\(task.id)) cannot be started: \(error)")
                }
            }
            usleep(50_000)
            let ended = running.filter { !$0.process.isRunning }
            running.removeAll { r in ended.contains { $0.process === r.process } }
            for r in ended {
                let code = r.process.terminationReason == .uncaughtSignal ? -1 : r.process.terminationStatus
                try? r.log.close()
                let status: String, after = code == SweepExitCode.done.rawValue ? try? r.task.status(in: dir) : nil
                if code == SweepExitCode.done.rawValue { status = after?.name ?? SweepTaskStatus.unreadableName }
                else if code == SweepExitCode.interrupted.rawValue { status = "interrupted" }
                else if code == -1 { status = "killed by signal \(r.process.terminationStatus)" }
                else { status = "failed (exit \(code))" }
                finished += 1
                if after?.isDone != true { failed.append((r.task, status)) }
                outLine(String(format: "[%d/%d] task %d %@ %@ %.1f s", finished, todo.count, r.task.index, r.task.id, status, Date().timeIntervalSince(r.start)))
            }
        }
        if let failure { throw failure }
        if interruptedBy != nil {
            stderrLine("interrupted: \(finished - failed.count) of \(todo.count) tasks done, \(failed.count) stopped or failed; run `landscape sweep run \(manifestURL.path) --local` again to go on")
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

/// The sweep directory is held by another process for longer than a task waits: exit 75 (retry later).
struct SweepBusyError: Error, CustomStringConvertible {
    let description: String
}

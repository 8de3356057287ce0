import Autodiff
import Checkpoints
import Datasets
import Foundation
import Layers
import Probes
import Tensors
import Training

/// What a study run did, per run (configuration × seed, named by ``StudyRun/name``).
public struct StudyOutcome: Sendable {
    /// Runs that finished all epochs and their final probes.
    public var completed: [String] = []
    /// Runs that stopped early (non-finite loss or parameters), with the message.
    public var failed: [(name: String, reason: String)] = []
    /// Wall-clock seconds of this call.
    public var seconds: Double = 0
}

/// What running one run of a study as a task did (``StudyRunner/runTask(named:shouldStop:)``).
public enum StudyTaskResult: Sendable, Equatable {
    /// The run trained to its end (its epochs or its stopping rule) and its final probes were written now.
    case finished
    /// The run had finished before (its final probes written); nothing was done.
    case alreadyFinished
    /// The run's loss or parameters became non-finite, now or earlier (the reason, from
    /// `runs/NAME/failed.txt`): a result, not retried.
    case diverged(String)
}

/// Runs the study (``StudyConfiguration``) into a run directory:
///
/// ```
/// DIR/config.json                 the resolved configuration (every key)
/// DIR/study.json                  data set, sizes, OpenBLAS kernel, threads, start times
/// DIR/metrics.csv                 one row per run and epoch: model, regime, seed, then the runs' columns
/// DIR/final.csv                   final-epoch probes per run (timings, SLQ trace, effective ranks)
/// DIR/spectra.csv                 top Lanczos eigenvalues per run
/// DIR/ggn-spectra.csv             top eigenvalues of the Gauss–Newton matrix per run
/// DIR/layers.csv                  per run and module: λ_max and trace of the Hessian's diagonal block
/// DIR/slices/NAME.csv             the run's final 2D slice (alpha, beta, loss)
/// DIR/densities/NAME.csv          the run's SLQ density (eigenvalue, density); NAME-nodes.csv its nodes and weights
/// DIR/.lock, DIR/.files.lock      flock(2): the study (exclusive) or its tasks (shared); the shared files' writes (short)
/// DIR/runs/NAME/                  the run's training run: metrics.csv, run.json,
///                                 theta-epoch-NNN.safetensors, optimizer-epoch-NNN.safetensors, checkpoints.csv,
///                                 failed.txt when it stopped on a non-finite loss
/// DIR/summary.md, report.html, aggregate.csv, figures/*.svg   written by ``StudyReport``
/// ```
///
/// A run is a configuration (model × regime) and a seed; NAME is ``StudyRun/name``:
/// `MODEL-REGIME-seedS`, or `MODEL-REGIME` in a study without ``StudyConfiguration/seeds``
/// (written before that key; its CSV files may lack the `seed` column, and read as its one run
/// per configuration). The CSV files' `seed` column is the run's `training.seed`.
///
/// Every file is written atomically (temporary file + rename), and a run's epoch counts as
/// done once its metrics row is written (after its checkpoints), so an interrupted study
/// (Ctrl-C included) resumes from the last complete epoch of each run with the same results as
/// an uninterrupted one.
///
/// A study runs whole (``run(resume:shouldStop:)``: one process, DIR/.lock held exclusively,
/// the runs in turn) or as tasks, one run each (``runTask(named:shouldStop:)``, in a directory
/// made by ``plan(configuration:directory:)``: any number of processes at once, each holding
/// DIR/.lock shared and its run's directory by its ``/Training/RunStore``), never both at once. Either way
/// the files every run rewrites (metrics.csv, final.csv, spectra.csv, ggn-spectra.csv,
/// layers.csv, slices/, densities/) are read, changed and written under the short exclusive
/// lock DIR/.files.lock (`withFilesLock(_:)`), so that no run's rows are lost to another's write.
public struct StudyRunner {
    /// The validated configuration.
    public let configuration: StudyConfiguration
    /// The data set (loaded by the caller as the configuration says).
    public let data: MNISTDataset
    /// The run directory.
    public let directory: URL
    /// Receives one line per event (configuration start, epoch results, final probes, failures).
    public var log: (String) -> Void = { _ in }
    /// Receives the progress of training steps (configuration name, progress).
    public var onStep: (String, StepProgress) -> Void = { _, _ in }
    /// Asked before every SGD step and epoch probe (``/Training/Trainer/shouldInterrupt``): `true` stops the
    /// run with ``/Training/TrainingError/interrupted(epoch:step:lastCheckpoint:)``, leaving it resumable
    /// (`landscape sweep run` on a signal); asked too between the stages of a run's final probes
    /// (Lanczos and SLQ, the slice, the precision check, layer blocks and GGN, the extra probes):
    /// `true` stops with ``StudyError/interrupted(configuration:epoch:)``, nothing of them written,
    /// and they are computed again (from the same θ, so to the same values) when the task is rerun.
    public var shouldInterrupt: () -> Bool = { false }


    /// The study's epoch probes: λ_max (and the extra probes) every `lambdaEvery` epochs with the
    /// training settings, sharpness, the trace and batch sharpness every epoch with
    /// ``StudyConfiguration/epochProbes``.
    public static func epochProbes(_ training: TrainingConfiguration, _ e: EpochProbeSettings) -> EpochProbes {
        let p = training.probes
        return EpochProbes([(AnyProbe(LambdaMaxProbe(powerIterations: p.lambdaIterations, tolerance: p.lambdaTolerance)), p.lambdaEvery),
                            (AnyProbe(sharpness(e)), 1), (AnyProbe(trace(e)), 1), (AnyProbe(batchSharpness(e)), 1)]
                           + Trainer.extraProbes(of: training).map { ($0, p.lambdaEvery) })
    }

    static func sharpness(_ e: EpochProbeSettings) -> SharpnessProbe {
        SharpnessProbe(epsilon: e.sharpnessEpsilon, directions: e.sharpnessDirections, seed: e.sharpnessSeed, precision: e.sharpnessPrecision)
    }

    static func trace(_ e: EpochProbeSettings) -> TraceProbe { TraceProbe(probes: e.traceProbes, seed: e.traceSeed) }

    static func batchSharpness(_ e: EpochProbeSettings) -> BatchSharpnessProbe { BatchSharpnessProbe(batches: e.batchSharpnessBatches, seed: e.batchSharpnessSeed) }

    /// The configuration key of each epoch probe setting the study sets (probe → setting → key).
    static let epochProbeKeys = [SharpnessProbe.name: ["epsilon": "epochProbes.sharpnessEpsilon", "directions": "epochProbes.sharpnessDirections"],
                                 TraceProbe.name: ["probes": "epochProbes.traceProbes"],
                                 BatchSharpnessProbe.name: ["batches": "epochProbes.batchSharpnessBatches"]]

    /// - Throws: ``/Training/ConfigurationError`` for an invalid configuration or an empty training split;
    ///   ``/Training/ModelDataError`` for a model that does not fit the data or this machine's memory
    ///   (``/Training/ModelDataCheck/check(_:data:available:)``).
    public init(configuration: StudyConfiguration, data: MNISTDataset, directory: URL) throws {
        try configuration.validate()
        guard data.train.count > 0 else { throw ConfigurationError(key: "training.data", "selects an empty training split") }
        // Every model against the data and this machine's memory, before any run starts.
        for model in configuration.models {
            var training = configuration.training
            training.model = model
            try ModelDataCheck.check(training, data: data)
        }
        self.configuration = try configuration.normalizedAsSaved()
        self.data = data
        self.directory = directory
    }

    /// Runs (or, with `resume`, continues) every run (``StudyConfiguration/runs``: each
    /// configuration once per seed), then writes the report.
    ///
    /// A run whose loss or parameters become non-finite is ended with a message (in
    /// `runs/NAME/failed.txt` and the outcome) and the others go on. `shouldStop(name, epoch)` is
    /// asked with the run's name after every complete epoch; returning true stops with
    /// ``StudyError/interrupted(configuration:epoch:)`` leaving a resumable directory (tests use it).
    /// - Throws: ``StudyError`` for directory problems, a configuration that differs from the
    ///   directory's on resume, corrupt checkpoints or CSV files (naming the file); data, model and
    ///   probe errors. Nothing already written is removed.
    public func run(resume: Bool = false, shouldStop: (String, Int) -> Bool = { _, _ in false }) throws -> StudyOutcome {
        let start = Date()
        let lock = try prepare(resume: resume)
        defer { DirectoryLock.release(lock) }
        logDataNotes()
        var outcome = StudyOutcome()
        for run in configuration.runs {
            switch try runOne(run, shouldStop: shouldStop) {
            case .finished, .alreadyFinished: outcome.completed.append(run.name)
            case let .diverged(reason): outcome.failed.append((run.name, reason))
            }
        }
        try StudyReport.generate(in: directory)
        outcome.seconds = Date().timeIntervalSince(start)
        return outcome
    }

    /// Runs (or continues) one run of the study, by name (``StudyRun/name``), as an independent
    /// task: several processes may run different runs of one study directory at once (a study
    /// run as a job array, `landscape sweep run` on the manifest of `landscape study --plan`).
    ///
    /// The directory must hold the study already (``plan(configuration:directory:)``, or a study
    /// started whole) with this configuration, and no process may be running it whole. The task
    /// takes DIR/.lock shared (any number of tasks, no whole study), its run's directory by its
    /// ``/Training/RunStore`` (so one run never trains twice at once), and DIR/.files.lock for each write of
    /// the shared files. The first task records the data in study.json; later ones check it. A
    /// run whose final probes are written is skipped; one that stopped on a non-finite loss or
    /// parameters (now or before) writes or keeps `runs/NAME/failed.txt`. The report is left to
    /// `landscape report DIR` (``StudyReport``), which merges whatever runs have finished.
    /// `shouldStop(name, epoch)` is asked after every complete epoch, as by ``run(resume:shouldStop:)``.
    /// - Throws: ``/Training/ConfigurationError`` when no run has that name; ``StudyError`` when the directory
    ///   holds no study, another configuration or other data, is run whole by another process, or
    ///   the run is being trained by another task (its run directory's lock is held; ``/Training/TrainingError``);
    ///   ``StudyError/interrupted(configuration:epoch:)`` when `shouldStop` says so; corrupt files,
    ///   data, model and probe errors.
    public func runTask(named name: String, shouldStop: (String, Int) -> Bool = { _, _ in false }) throws -> StudyTaskResult {
        guard let run = configuration.runs.first(where: { $0.name == name }) else {
            throw ConfigurationError(key: "study.run", "'\(name)' is no run of the study in \(directory.path) (its runs: \(configuration.runs.map(\.name).joined(separator: ", ")))")
        }
        let configURL = try StudyError.savedConfiguration(in: directory)
        let lock: Int32?
        do { lock = try DirectoryLock.acquire(in: directory, shared: true) } catch {
            throw StudyError.runDirectory(path: directory.path, reason: "cannot take its lock: \(error)")
        }
        guard let lock else {
            throw StudyError.runDirectory(path: directory.path, reason: "a landscape study is running it whole (its .lock is held); its runs cannot run as tasks at the same time")
        }
        defer { DirectoryLock.release(lock) }
        try withFilesLock {
            try checkResumable(configURL: configURL)
            // Every write into these directories happens under this lock, so a temporary file seen here is a cut-off write's.
            for sub in ["", "slices", "densities"] {
                let stale = AtomicFile.removeStaleTemporaryFiles(in: directory.appendingPathComponent(sub))
                if !stale.isEmpty { log("note: removed \(stale.count) temporary file\(stale.count == 1 ? "" : "s") of writes that were cut off in \(directory.appendingPathComponent(sub).path)") }
            }
            if try Self.studyInfo(in: directory)?["data"] == nil { try updateStudyInfo(resumed: nil) }
        }
        if try finalProbesDone(run) {
            log("[\(name)] finished earlier (its final probes are written); skipped")
            return .alreadyFinished
        }
        logDataNotes()
        return try runOne(run, shouldStop: shouldStop)
    }

    /// Creates a study directory for running its runs as tasks (``runTask(named:shouldStop:)``),
    /// as ``run(resume:shouldStop:)`` creates one, without data (the first task records them):
    /// config.json, study.json (start time and configuration), metrics.csv's header, and
    /// manifest.jsonl, one line per run (``StudyConfiguration/sweepTasks()``, ``SweepManifest``).
    /// - Returns: the tasks, in the manifest's order.
    /// - Throws: ``/Training/ConfigurationError`` for an invalid configuration; ``StudyError`` when the
    ///   directory is a file, not empty or locked; I/O errors.
    public static func plan(configuration: StudyConfiguration, directory: URL) throws -> [SweepTask] {
        try configuration.validate()
        let c = try configuration.normalizedAsSaved()
        let tasks = try c.sweepTasks()
        let lock = try create(c, in: directory, data: nil, log: { _ in })
        defer { DirectoryLock.release(lock) }
        try SweepManifest.write(tasks, specification: nil, to: directory)
        return tasks
    }

    /// Runs one run (trains or continues it, then its final probes) unless it finished or
    /// diverged before; a non-finite loss or parameters end it with `runs/NAME/failed.txt`.
    func runOne(_ run: StudyRun, shouldStop: (String, Int) -> Bool) throws -> StudyTaskResult {
        let name = run.name
        let runDir = runDirectory(run)
        let failedURL = runDir.appendingPathComponent(Self.failureFileName)
        if let reason = try Self.failure(in: runDir) {
            log("[\(name)] stopped earlier: \(reason); not retried (delete \(failedURL.path) to retry it)")
            return .diverged(reason)
        }
        let m = try run.model.make()
        do {
            try runConfiguration(m, run: run, runDir: runDir, shouldStop: shouldStop)
            return .finished
        } catch let error as TrainingError {
            switch error {
            case .nonFiniteLoss, .nonFiniteParameters:
                try FileManager.default.createDirectory(at: runDir, withIntermediateDirectories: true)
                try AtomicFile.write("\(error)\n", to: failedURL)
                log("[\(name)] \(error); this run ends here, the others go on")
                try mergeMetrics()
                return .diverged("\(error)")
            default:
                throw error
            }
        }
    }

    /// Notes on settings the data cut short (a training limit or probe set larger than the split, a batch larger than it).
    func logDataNotes() {
        let training = configuration.training
        if let limit = training.data.trainLimit, limit > data.train.count {
            log("note: trainLimit \(limit) exceeds the training split; using all \(data.train.count) samples")
        }
        if training.probes.probeSamples > data.train.count {
            log("note: probeSamples \(training.probes.probeSamples) exceeds the training split; the probe set is all \(data.train.count) training samples")
        }
        for r in configuration.regimes {
            let batch = configuration.resolvedRegime(r).batchSize
            if batch > data.train.count {
                log("note: regime \(r) has batch size \(batch) but the training split has \(data.train.count) samples: one SGD step per epoch")
            }
        }
    }

    /// The name of the lock file that guards the study's shared files (`withFilesLock(_:)`).
    public static let filesLockName = ".files.lock"

    /// Runs `body` holding DIR/.files.lock exclusively (waiting for it): every read-modify-write
    /// of the files all runs share (metrics.csv, final.csv, spectra.csv, ggn-spectra.csv,
    /// layers.csv, study.json, slices/, densities/) and the report's writes happen inside it.
    /// Not reentrant: `body` must not take it again.
    /// - Throws: ``StudyError/runDirectory(path:reason:)`` when the lock file cannot be created; what `body` throws.
    func withFilesLock<T>(_ body: () throws -> T) throws -> T { try Self.withFilesLock(in: directory, body) }

    static func withFilesLock<T>(in directory: URL, _ body: () throws -> T) throws -> T {
        let fd: Int32?
        do { fd = try DirectoryLock.acquire(in: directory, name: filesLockName, wait: true) } catch {
            throw StudyError.runDirectory(path: directory.path, reason: "cannot lock its shared files: \(error)")
        }
        defer { fd.map(DirectoryLock.release) }
        return try body()
    }

    func finalProbesDone(_ run: StudyRun) throws -> Bool { try Self.finalProbesDone(run: run.name, in: directory, configuration: configuration) }

    /// Whether a run's final probes are written: its slice and density files and its row of final.csv
    /// (written last, under DIR/.files.lock).
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` for a final.csv that cannot be read.
    public static func finalProbesDone(run name: String, in directory: URL, configuration: StudyConfiguration) throws -> Bool {
        let fm = FileManager.default
        guard fm.fileExists(atPath: directory.appendingPathComponent("slices/\(name).csv").path),
              fm.fileExists(atPath: directory.appendingPathComponent("densities/\(name).csv").path) else { return false }
        let final = try CSVTable.readIfPresent(directory.appendingPathComponent("final.csv"))
        return final?.rows.contains { configuration.runName(ofRow: $0) == name } == true
    }

    // MARK: Directory

    /// A run's training directory, `runs/NAME`.
    func runDirectory(_ run: StudyRun) -> URL { directory.appendingPathComponent("runs/\(run.name)") }

    /// Checks (on resume) or creates the directory and takes its lock before writing anything.
    /// - Returns: the lock (``lockDirectory()``).
    func prepare(resume: Bool) throws -> Int32 {
        let fm = FileManager.default
        let configURL = directory.appendingPathComponent("config.json")
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: directory.path, isDirectory: &isDir), !isDir.boolValue {
            throw StudyError.runDirectory(path: directory.path, reason: "exists and is a file")
        }
        if resume {
            _ = try StudyError.savedConfiguration(in: directory)
            let lock = try lockDirectory()
            do {
                try checkResumable(configURL: configURL)
                // metrics.csv is rebuilt from the runs; the final probes' files accumulate rows.
                try StudyReport.checkRunKeys(in: directory, config: configuration, files: StudyReport.runKeyedFiles.filter { $0.file != "metrics.csv" })
                for sub in ["", "slices", "densities", "figures"] {
                    let stale = AtomicFile.removeStaleTemporaryFiles(in: directory.appendingPathComponent(sub))
                    if !stale.isEmpty { log("note: removed \(stale.count) temporary file\(stale.count == 1 ? "" : "s") of writes that were cut off in \(directory.appendingPathComponent(sub).path)") }
                }
                try withFilesLock { try updateStudyInfo(resumed: true) }
            } catch {
                DirectoryLock.release(lock)
                throw error
            }
            return lock
        }
        return try Self.create(configuration, in: directory, data: data, log: log)
    }

    /// Creates the study directory (it must not exist or hold only hidden files), takes its lock
    /// and writes config.json, study.json and metrics.csv's header.
    /// - Returns: the lock (``lockDirectory()``).
    static func create(_ configuration: StudyConfiguration, in directory: URL, data: MNISTDataset?, log: (String) -> Void) throws -> Int32 {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: directory.path, isDirectory: &isDir), !isDir.boolValue {
            throw StudyError.runDirectory(path: directory.path, reason: "exists and is a file")
        }
        if fm.fileExists(atPath: directory.path) {
            let held = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? []).filter { !$0.hasPrefix(".") }
            guard held.isEmpty else {
                throw StudyError.runDirectory(path: directory.path, reason: "is not empty (\(held.sorted().prefix(3).joined(separator: ", "))); choose a new directory or pass --resume to continue it")
            }
        }
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let lock = try lockDirectory(directory)
        do {
            try AtomicFile.write(try configuration.jsonData(), to: directory.appendingPathComponent("config.json"))
            try updateStudyInfo(in: directory, configuration: configuration, data: data, resumed: false)
            try AtomicFile.write(metricsHeader(configuration) + "\n", to: directory.appendingPathComponent("metrics.csv"))
        } catch {
            DirectoryLock.release(lock)
            throw error
        }
        return lock
    }

    /// The resume checks: config.json is the configuration given and the one the study started
    /// with (kept in study.json), and the data are the same.
    func checkResumable(configURL: URL) throws {
        let saved: StudyConfiguration
        do { saved = try StudyConfiguration.loadSaved(from: configURL) } catch {
            throw StudyError.corruptFile(path: configURL.path, reason: "cannot be read back: \(error)")
        }
        guard saved == configuration else {
            throw StudyError.runDirectory(path: directory.path, reason: "its config.json differs from the configuration given; resume with the directory's own configuration")
        }
        // config.json must still be the configuration the study started with (kept in study.json),
        // and the data must be the same: a resumed study that changed either would mix results.
        let infoURL = directory.appendingPathComponent("study.json")
        let info = try Self.studyInfo(in: directory)
        if let stored = info?["configuration"] as? [String: Any] {
            let original = try StudyConfiguration.savedBase.merging(stored, source: infoURL.path)
            let changed = original.differingKeys(from: configuration)
            guard changed.isEmpty else {
                throw StudyError.runDirectory(path: directory.path, reason: "config.json was changed since the study started (\(changed.joined(separator: ", "))); resuming would mix results of two configurations. Restore it or start a new study")
            }
        } else {
            log("note: \(infoURL.path) is missing or holds no original configuration; config.json cannot be checked against it")
        }
        if let d = info?["data"] as? [String: Any] {
            let was = [d["name"] as? String ?? "?", "\(d["train"] ?? "?")", "\(d["validation"] ?? "?")", "\(d["test"] ?? "?")"]
            let now = [data.name, "\(data.train.count)", "\(data.validation.count)", "\(data.test.count)"]
            guard was.dropFirst() == now.dropFirst(), DatasetIdentity.recordedName(was[0], matches: now[0]) else {
                throw StudyError.runDirectory(path: directory.path, reason: "the study ran on \(was[0]) with \(was[1])/\(was[2])/\(was[3]) train/validation/test samples; the data now are \(now[0]) with \(now[1])/\(now[2])/\(now[3])")
            }
        }
    }

    func updateStudyInfo(resumed: Bool?) throws { try Self.updateStudyInfo(in: directory, configuration: configuration, data: data, resumed: resumed) }

    /// Writes study.json: the start time (`resumed` false) or one more resume time (true; nil:
    /// neither), the original configuration (once), the data (when given), OpenBLAS and the host.
    static func updateStudyInfo(in directory: URL, configuration: StudyConfiguration, data: MNISTDataset?, resumed: Bool?) throws {
        let url = directory.appendingPathComponent("study.json")
        var info = try Self.studyInfo(in: directory) ?? [:]
        let now = ISO8601DateFormatter().string(from: Date())
        switch resumed {
        case true?: info["resumed"] = ((info["resumed"] as? [String]) ?? []) + [now]
        case false?: info["started"] = now
        case nil: break
        }
        if info["configuration"] == nil { info["configuration"] = configuration.jsonObject() }
        if let data {
            info["data"] = ["name": data.name, "directory": data.directory.path, "train": data.train.count,
                            "validation": data.validation.count, "test": data.test.count, "split_seed": data.splitSeed]
        }
        info["openblas"] = BLASRuntime.record
        info["host"] = ["processors": ProcessInfo.processInfo.activeProcessorCount]
        try AtomicFile.write(try JSONText.data(info), to: url)
    }

    /// study.json's object; `nil` when the file does not exist or holds no JSON object.
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` when it exists but cannot be read.
    static func studyInfo(in directory: URL) throws -> [String: Any]? {
        let text: String?
        do { text = try TextFile.readIfPresent(directory.appendingPathComponent("study.json")) } catch {
            throw StudyError.corruptFile(path: error.path, reason: error.problem)
        }
        return text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The file in a run's directory that holds why its training stopped on a non-finite loss or
    /// parameters (the ``/Training/TrainingError`` text): a result, not retried.
    public static let failureFileName = "failed.txt"

    /// Why a configuration stopped, from its `failed.txt` (trimmed); `nil` when there is none.
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` when the file exists but cannot be read.
    static func failure(in runDirectory: URL) throws -> String? {
        do { return try TextFile.readIfPresent(runDirectory.appendingPathComponent(failureFileName))?.trimmingCharacters(in: .whitespacesAndNewlines) } catch {
            throw StudyError.corruptFile(path: error.path, reason: error.problem)
        }
    }

    /// Takes an exclusive lock on DIR/.lock (flock), so that two processes never run one study.
    /// - Returns: the lock's file descriptor (closing it releases the lock).
    /// - Throws: ``StudyError/runDirectory(path:reason:)`` when another process holds it.
    func lockDirectory() throws -> Int32 { try Self.lockDirectory(directory) }

    static func lockDirectory(_ directory: URL) throws -> Int32 {
        let fd: Int32?
        do { fd = try DirectoryLock.acquire(in: directory) } catch {
            throw StudyError.runDirectory(path: directory.path, reason: "cannot take its lock: \(error)")
        }
        guard let fd else { throw StudyError.runDirectory(path: directory.path, reason: "another landscape study is running in it (its .lock is held, by a whole study or by tasks running its runs)") }
        return fd
    }

    // MARK: One configuration

    func runConfiguration<M: Model>(_ model: M, run: StudyRun, runDir: URL, shouldStop: (String, Int) -> Bool) throws {
        let name = run.name
        let training = try configuration.training(for: run)
        let (trainX, trainY) = Trainer.tensor(of: data.train, as: Float.self)
        var lastEpoch = 0
        let trained = try Self.trainWithEpochProbes(model, training: training, epochProbes: configuration.epochProbes, data: data, in: runDir, name: name,
                                                    setting: run.regime, log: log, shouldInterrupt: shouldInterrupt, onStep: { onStep(name, $0) }, onEpoch: { m in
            lastEpoch = m.epoch
            try mergeMetrics()
            if shouldStop(name, m.epoch) { throw StudyError.interrupted(configuration: name, epoch: m.epoch) }
        })
        if try finalProbesDone(run) {
            log("[\(name)] final probes already done")
            return
        }
        try finalProbes(model, θ: trained.parameters, chunk: training.probes.probeBatchSize, trainX: trainX, trainY: trainY, training: training, run: run,
                        epoch: trained.finishedBefore?.epoch ?? lastEpoch)
    }

    /// Trains one run with the study's epoch probes (``epochProbes(_:_:)``) in `runDir`, or
    /// continues it: a directory with a run.json is resumed after its last complete epoch (from its
    /// start if none is), checked to hold a run of `training` (the data settings aside) and, with
    /// `checkData`, of the same data (``/Training/RunStore/check(data:)``); a finished run trains no further.
    /// Logs the start or resume and every epoch (`describe(_:epochs:)`) as `[name] …`, the
    /// start with `setting` (the regime, or a sweep task's point). `shouldInterrupt` is the
    /// trainer's (``/Training/Trainer/shouldInterrupt``); `onEpoch` runs after each epoch is in the store.
    /// The one way the study and `landscape sweep run` train a run.
    /// - Returns: the final θ, and the last complete epoch when the run was finished before this call.
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` when the checkpoints cannot be resumed
    ///   from; the store's and ``/Training/Trainer/train(model:from:store:onStep:onEpoch:)``'s errors
    ///   (``/Training/TrainingError/nonFiniteLoss(epoch:step:loss:lastCheckpoint:cause:)``, ``/Training/TrainingError/interrupted(epoch:step:lastCheckpoint:)``, …);
    ///   whatever `onEpoch` throws.
    public static func trainWithEpochProbes<M: Model>(_ model: M, training: TrainingConfiguration, epochProbes e: EpochProbeSettings, data: MNISTDataset,
                                                      in runDir: URL, name: String, setting: String, checkData: Bool = false,
                                                      log: @escaping (String) -> Void, shouldInterrupt: @escaping () -> Bool = { false },
                                                      onStep: (StepProgress) -> Void = { _ in },
                                                      onEpoch: (EpochMetrics) throws -> Void = { _ in }) throws -> (parameters: Tensor<Float>, finishedBefore: TrainingCheckpoint?) {
        var trainer = try Trainer(configuration: training, data: data, epochProbes: epochProbes(training, e))
        trainer.log = log
        trainer.shouldInterrupt = shouldInterrupt
        // A run directory with a run.json is continued (from its start if no epoch is complete).
        let started = FileManager.default.fileExists(atPath: runDir.appendingPathComponent(RunStore.runInfoName).path)
        let store = started ? try RunStore.open(at: runDir, probeColumns: trainer.epochProbes.columns, log: log)
                            : try RunStore.create(at: runDir, configuration: training, model: model, data: data, probeColumns: trainer.epochProbes.columns, log: log)
        defer { store.close() }
        if started {
            try store.check(configuration: training)
            if checkData { try store.check(data: data) }
        }
        let state: TrainingCheckpoint?
        do { state = try store.lastComplete(layout: model.layout, stepsPerEpoch: trainer.stepsPerEpoch) } catch {
            throw StudyError.corruptFile(path: runDir.path, reason: "cannot resume from its checkpoints: \(error) (nothing was changed; remove the damaged epoch's files or the whole run directory to redo it)")
        }
        if let state, training.isFinished(after: state.metrics) { return (state.parameters, state) }
        if let state {
            log("[\(name)] resuming after epoch \(state.epoch) of \(training.epochs)")
        } else {
            let o = training.optimizer
            log("[\(name)] \(model.name) (\(model.layout.parameterCount) parameters), \(setting): batch \(o.batchSize), lr \(o.learningRate) \(training.schedule), momentum \(o.momentum), \(training.lengthDescription), seed \(training.seed)")
        }
        if started { try store.prepareToContinue(after: state) }
        let result = try trainer.train(model: model, from: state, store: store, onStep: onStep, onEpoch: { m in
            log("[\(name)] " + describe(m, epochs: training.epochs))
            try onEpoch(m)
        })
        return (result.parameters, nil)
    }

    static func describe(_ m: EpochMetrics, epochs: Int) -> String {
        let seconds = m.probeColumns.indices.filter { m.probeColumns[$0].hasSuffix("_seconds") }.map { m.probeValues[$0] }.filter(\.isFinite).reduce(0, +)
        return String(format: "epoch %d/%d  train %.4f %.2f%% (running %.4f)  val %.4f %.2f%%  test %.4f %.2f%%  λ_max %.4g%@  S_max %.3g  S_mean %.3g  tr %.4g±%.2g  [%.1f s train, %.1f s eval, %.1f s probes]",
                      m.epoch, epochs, m.trainLoss, 100 * m.trainAccuracy, m.trainRunningLoss, m.validationLoss, 100 * m.validationAccuracy,
                      m.testLoss, 100 * m.testAccuracy, m.lambdaMax, m.lambdaConverged ? "" : "*", m["sharpness_max"], m["sharpness_mean"],
                      m["trace"], m["trace_stderr"], m.trainSeconds, m.evaluationSeconds, seconds)
    }

    // MARK: Final-epoch probes

    func finalProbes<M: Model>(_ trained: M, θ: Tensor<Float>, chunk: Int, trainX: Tensor<Float>, trainY: [Int], training: TrainingConfiguration, run: StudyRun,
                               epoch: Int) throws {
        let cfg = configuration, e = cfg.epochProbes, f = cfg.finalProbes
        // The model in the BatchNorm mode of the epoch probes (itself without BatchNorm); a loss that couples the samples is not chunked.
        let model = try Trainer.normalized(trained, at: θ, input: trainX, mode: training.probes.normalization ?? .eval, chunk: training.evaluationBatchSize)
        let chunk = model.couplesSamples ? 0 : chunk
        // A stop request between stages (``shouldInterrupt``): nothing of the final probes is written yet.
        func checkStop() throws {
            guard shouldInterrupt() else { return }
            log("[\(run.name)] final probes interrupted; they run again when the task is rerun")
            throw StudyError.interrupted(configuration: run.name, epoch: epoch)
        }
        let fm = FileManager.default
        let name = run.name, regime = run.regime, seed = String(run.seed)
        let sliceURL = directory.appendingPathComponent("slices/\(name).csv")
        let densityURL = directory.appendingPathComponent("densities/\(name).csv")
        let belongs = { (row: [String: String]) in cfg.runName(ofRow: row) == name }
        log("[\(name)] final probes: top-\(f.lanczosCount) eigenvalues and SLQ density from a \(max(f.lanczosSteps, f.slqSteps))-step Lanczos run" +
            (f.slqProbes > 1 ? " (+ \(f.slqProbes - 1) SLQ probe\(f.slqProbes == 2 ? "" : "s") of \(f.slqSteps) steps)" : "") + ", \(f.slicePoints)×\(f.slicePoints) slice")
        // One Lanczos run from a Rademacher vector gives both the top eigenvalues and the first
        // SLQ probe (the same Krylov space); further SLQ probes are runs of their own.
        let t0 = Date()
        let probeCount = min(cfg.training.probes.probeSamples, trainY.count)
        let (probeX, probeY) = Trainer.probeSet(of: trainX, labels: trainY, samples: probeCount)
        let hessianOp = try Trainer.probeHessian(of: model, at: θ, input: probeX, labels: probeY, chunk: chunk)
        var rng0 = SplitMix64(seed: f.spectrumSeed)
        let top = try lanczos(of: hessianOp, count: f.lanczosCount, target: .largestAlgebraic,
                              steps: min(max(f.lanczosSteps, f.slqSteps), θ.count),
                              initialVector: Tensor<Float>.randomRademacher([θ.count], using: &rng0))
        let t1 = Date()
        try checkStop()
        var runs = [top.quadrature]
        for _ in 1..<max(f.slqProbes, 1) {
            runs.append(try lanczos(of: hessianOp, count: 1, steps: min(f.slqSteps, θ.count),
                                    initialVector: Tensor<Float>.randomRademacher([θ.count], using: &rng0)).quadrature)
        }
        let density = try spectralDensity(from: runs)
        let ranks = try SpectralRanks(density: density, dimension: θ.count)
        let rank = ranks.effectiveRank
        let t2 = Date()
        try checkStop()
        var rng = SplitMix64(seed: f.sliceSeed)
        let u = try filterNormalized(Tensor<Float>.randomNormal([θ.count], using: &rng), like: θ, layout: model.layout)
        let v = try filterNormalized(Tensor<Float>.randomNormal([θ.count], using: &rng), like: θ, layout: model.layout)
        let n = min(f.sliceSamples, cfg.training.probes.probeSamples, trainY.count)
        let sliceLoss = try model.loss(on: trainX.rows(0..<n), labels: Array(trainY[0..<n]))
        let axis = try grid(from: -f.sliceRange, to: f.sliceRange, count: f.slicePoints)
        let slice = try slice2D(of: sliceLoss, at: θ, u: u, v: v, alphas: axis, betas: axis)
        if let warning = slice.nonFiniteWarning { log("[\(name)] final slice \(warning)") }
        let t3 = Date()
        try checkStop()
        // Precision check of the last epoch's sharpness: the same directions in the other precision.
        let θ64 = Tensor<Double>(shape: θ.shape, scalars: θ.scalars.map(Double.init))
        let s32 = try randomSharpness(of: try model.loss(on: probeX, labels: probeY), at: θ, epsilon: e.sharpnessEpsilon,
                                      directions: e.sharpnessDirections, kind: .unit, seed: e.sharpnessSeed)
        let probeX64 = data.train.images(rows: 0..<probeY.count, as: Double.self)
        let s64 = try randomSharpness(of: try model.loss(on: probeX64, labels: probeY),
                                      at: θ64, epsilon: e.sharpnessEpsilon, directions: e.sharpnessDirections, kind: .unit, seed: e.sharpnessSeed)
        let t4 = Date()
        try checkStop()
        // Curvature per module (``/Layers/Model/modules``: a parameterized layer, or a transformer
        // block's attention, MLP and norms) and the Gauss–Newton matrix's top eigenvalues on the same
        // probe set: each module's diagonal Hessian block by a short Lanczos run, its trace by splitting
        // Hutchinson products of the whole Hessian by block (tr H_bb = E[z_bᵀ(Hz)_b]), and the
        // GGN's top eigenvalues by Lanczos on the chunk-weighted sum of per-chunk GGN operators.
        let modules = model.modules
        let blocks = try modules.map { try RestrictedOperator(hessianOp, entries: $0.entries, of: model.layout) }
        let traces = try blockTraces(of: hessianOp, blocks: blocks.map(\.ranges), probes: max(e.traceProbes, 2), seed: e.traceSeed &+ 1)
        var layerRows: [[String: String]] = []
        for (block, (restricted, (mean, se))) in zip(modules, zip(blocks, traces)) {
            let run = try lanczos(of: restricted, count: 1, steps: min(Self.layerLanczosSteps, restricted.dimension), seed: f.spectrumSeed)
            layerRows.append(["model": model.name, "regime": regime, "seed": seed, "layer": block.name, "parameters": String(restricted.dimension),
                              "lambda_max": "\(run.pairs[0].value)", "lambda_max_residual": "\(run.pairs[0].residualNorm)",
                              "lambda_max_converged": run.pairs[0].converged ? "1" : "0", "trace": "\(mean)", "trace_stderr": "\(se)"])
        }
        let ggn = try lanczos(of: try CurvatureKind.ggn.matrix(of: model, at: θ, input: probeX, labels: probeY, chunkSize: chunk), count: f.lanczosCount,
                              steps: min(max(f.lanczosSteps, f.lanczosCount), θ.count), seed: f.spectrumSeed)
        let t5 = Date()
        try checkStop()
        // The extra final probes on the same probe set and Hessian.
        let extras = finalExtraProbes
        var context = ProbeContext(point: θ, loss: try model.meanLoss(on: probeX, labels: probeY, chunkSize: chunk), seed: f.spectrumSeed,
                                   curvature: { hessianOp }, float64: { (try model.meanLoss(on: probeX64, labels: probeY, chunkSize: chunk), θ64) },
                                   miniBatches: try Trainer.miniBatches(of: model, input: trainX, labels: trainY, configuration: training),
                                   perSample: model.couplesSamples ? nil : try model.perSampleLosses(on: probeX, labels: probeY, chunkSize: chunk))
        // The top Ritz vector starts λ_max for the extra probes that measure along its eigenvector.
        if let t = top.pairs.first { context.warmStarts[LambdaMaxProbe.name] = t.vector }
        let extraValues = try extras.measure(&context)
        let whole = try wholeSplitProbes(model, θ: θ, trainX: trainX, trainY: trainY, run: run, probeLoss: context.loss, probeHessian: hessianOp, probeTop: top.pairs.first)
        if !extras.probes.isEmpty {
            log("[\(name)] " + zip(extras.columns, extraValues).filter { !$0.0.hasSuffix("_seconds") }.map { "\($0.0) \(String(format: "%.4g", $0.1))" }.joined(separator: ", "))
        }
        log(String(format: "[%@] per module λ_max %@; Gauss–Newton top eigenvalues %@  [%.1f s]", name,
                   layerRows.map { "\($0["layer"]!) \(String(format: "%.4g", Double($0["lambda_max"]!)!))" }.joined(separator: ", "),
                   ggn.pairs.map { String(format: "%.4g", $0.value) }.joined(separator: ", "), t5.timeIntervalSince(t4)))

        let spectraRows = top.pairs.enumerated().map { k, p in
            ["model": model.name, "regime": regime, "seed": seed, "rank": String(k + 1), "eigenvalue": "\(p.value)",
             "residual": "\(p.residualNorm)", "converged": p.converged ? "1" : "0"]
        }
        let ggnRows = ggn.pairs.enumerated().map { k, p in
            ["model": model.name, "regime": regime, "seed": seed, "rank": String(k + 1), "eigenvalue": "\(p.value)",
             "residual": "\(p.residualNorm)", "converged": p.converged ? "1" : "0"]
        }
        let finalRow = ["model": model.name, "regime": regime, "seed": seed, "lanczos_steps": String(top.steps), "lanczos_seconds": String(format: "%.3f", t1.timeIntervalSince(t0)),
                        "slq_probes": String(f.slqProbes), "slq_steps": String(f.slqSteps), "slq_seconds": String(format: "%.3f", t2.timeIntervalSince(t1)),
                        "slq_trace": "\(density.mean * Double(θ.count))", "effective_rank_entropy": "\(rank.entropy)", "effective_rank_trace_ratio": "\(rank.traceRatio)",
                        "slice_points": String(f.slicePoints), "slice_samples": String(n), "slice_cosine": "\(slice.cosine)",
                        "slice_seconds": String(format: "%.3f", t3.timeIntervalSince(t2)),
                        "sharpness_mean_float32": "\(s32.mean)", "sharpness_mean_float64": "\(s64.mean)",
                        "sharpness_max_float32": "\(s32.maximum)", "sharpness_max_float64": "\(s64.maximum)",
                        "precision_check_seconds": String(format: "%.3f", t4.timeIntervalSince(t3)),
                        "curvature_seconds": String(format: "%.3f", t5.timeIntervalSince(t4)),
                        "participation_ratio": "\(ranks.participationRatio)", "effective_dimension": "\(ranks.effectiveDimension)",
                        "count_above_fraction": "\(ranks.countAboveFraction)"]
            .merging(whole) { a, _ in a }
            .merging(zip(extras.columns, extraValues).map { c, v in (c, probeText(v, column: c, isInteger: extras.integerColumns.contains(c))) }) { a, _ in a }

        // The run's own files, then its rows of the shared ones, under DIR/.files.lock; final.csv's
        // row last (it marks the final probes done: finalProbesDone(_:)).
        try withFilesLock {
            try fm.createDirectory(at: sliceURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.createDirectory(at: densityURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            var csv = "alpha,beta,loss\n"
            for (i, a) in axis.enumerated() { for (j, b) in axis.enumerated() { csv += "\(a),\(b),\(slice.losses[i][j])\n" } }
            try AtomicFile.write(csv, to: sliceURL)
            csv = "eigenvalue,density\n" + zip(density.grid, density.density).map { "\($0),\($1)" }.joined(separator: "\n") + "\n"
            try AtomicFile.write(csv, to: densityURL)
            csv = "node,weight\n" + zip(density.nodes, density.weights).map { "\($0),\($1)" }.joined(separator: "\n") + "\n"
            try AtomicFile.write(csv, to: directory.appendingPathComponent("densities/\(name)-nodes.csv"))
            try CSVTable.replaceRows(in: directory.appendingPathComponent("spectra.csv"), columns: Self.spectraColumns, added: addedColumns, where: belongs, with: spectraRows)
            try CSVTable.replaceRows(in: directory.appendingPathComponent("ggn-spectra.csv"), columns: Self.spectraColumns, added: addedColumns, where: belongs, with: ggnRows)
            try CSVTable.replaceRows(in: directory.appendingPathComponent("layers.csv"), columns: Self.layerColumns, added: addedColumns, where: belongs, with: layerRows)
            try CSVTable.replaceRows(in: directory.appendingPathComponent("final.csv"), columns: finalColumns, added: addedColumns, where: belongs, with: [finalRow])
        }
        log(String(format: "[%@] top eigenvalues %@; SLQ trace %.4g, effective rank %.4g (entropy) / %.4g (Σ|λ|/λ_max); slice loss %.3g…%.3g  [%.1f s Lanczos, %.1f s SLQ, %.1f s slice]",
                   name, top.pairs.map { String(format: "%.4g", $0.value) }.joined(separator: ", "), density.mean * Double(θ.count), rank.entropy, rank.traceRatio,
                   slice.losses.flatMap { $0 }.filter(\.isFinite).min() ?? .nan, slice.losses.flatMap { $0 }.filter(\.isFinite).max() ?? .nan,
                   t1.timeIntervalSince(t0), t2.timeIntervalSince(t1), t3.timeIntervalSince(t2)))
    }

    /// The columns of final.csv: ``fixedFinalColumns``, then the extra final probes' columns.
    public var finalColumns: [String] { Self.finalColumns(extraFinalProbes: configuration.finalProbes.extraFinalProbes) }

    /// The columns of final.csv with these extra final probes.
    static func finalColumns(extraFinalProbes names: [String]) -> [String] { fixedFinalColumns + finalExtraProbes(names).columns }

    /// The probes of ``FinalProbeSettings/extraFinalProbes``, with their default settings.
    /// The validity radii take the study's sharpness ε and seed, so that they measure along S_ε's
    /// directions and in its units.
    var finalExtraProbes: EpochProbes { Self.finalExtraProbes(configuration.finalProbes.extraFinalProbes, sharpness: configuration.epochProbes) }

    static func finalExtraProbes(_ names: [String], sharpness e: EpochProbeSettings? = nil) -> EpochProbes {
        EpochProbes(names.compactMap { name in
            if name == ValidityRadiusProbe.name, let e {
                var p = ValidityRadiusProbe()
                p.epsilon = e.sharpnessEpsilon; p.seed = e.sharpnessSeed
                return AnyProbe(p)
            }
            return try? ProbeRegistry.probe(named: name)
        }, every: 1)
    }

    /// The columns that identify a run in the study's CSV files: its model, regime and seed
    /// (``StudyConfiguration/runName(ofRow:)``).
    public static let runColumns = ["model", "regime", "seed"]

    /// The values of columns that files written before them lack: the `seed` of a study without
    /// seeds (the only one its runs have).
    var addedColumns: [String: String] { ["seed": String(configuration.training.seed)] }

    /// The columns of final.csv that every study has: per run, the final Lanczos, SLQ and
    /// slice settings and seconds (`lanczos_seconds` is the run that gives the top eigenvalues and the
    /// first SLQ probe, `slq_seconds` the further SLQ probes and the smoothing), the SLQ trace and the
    /// ranks from its density (``/Probes/SpectralRanks``), and S_ε at the final θ in Float32 and Float64 (the
    /// same directions) as a check of the precision chosen for the per-epoch sharpness.
    public static let fixedFinalColumns = runColumns + ["lanczos_steps", "lanczos_seconds", "slq_probes", "slq_steps", "slq_seconds", "slq_trace",
                                      "effective_rank_entropy", "effective_rank_trace_ratio", "slice_points", "slice_samples", "slice_cosine", "slice_seconds",
                                      "sharpness_mean_float32", "sharpness_mean_float64", "sharpness_max_float32", "sharpness_max_float64", "precision_check_seconds",
                                      "curvature_seconds", "participation_ratio", "effective_dimension", "count_above_fraction"] + wholeSplitColumns

    /// final.csv's columns of `wholeSplitProbes(_:θ:trainX:trainY:run:probeLoss:probeHessian:probeTop:)` (empty for the runs it skips).
    public static let wholeSplitColumns = ["whole_split_samples", "whole_split_lambda_max", "whole_split_lambda_residual", "whole_split_lambda_converged",
                                           "probe_set_lambda_max", "whole_split_lambda_ratio", "whole_split_trace", "whole_split_trace_stderr",
                                           "probe_set_trace", "probe_set_trace_stderr", "whole_split_trace_ratio", "whole_split_seconds"]

    /// λ_max and the Hutchinson trace of the Hessian of the mean loss over the whole training split
    /// at the final θ, beside the probe set's: λ_max by ``LambdaMaxProbe`` (the training settings'
    /// iterations and tolerance) warm-started from the probe set's top Ritz vector, the probe set's
    /// being that Ritz value; both traces by ``TraceProbe`` with the epoch probes' count and seed, so
    /// the two use the same Rademacher vectors. Runs whose seed is not among the first
    /// ``FinalProbeSettings/wholeSplitSeeds`` of the configuration get no values.
    /// - Returns: final.csv's ``wholeSplitColumns`` for the run (empty fields when skipped: not measured).
    func wholeSplitProbes<M: Model>(_ model: M, θ: Tensor<Float>, trainX: Tensor<Float>, trainY: [Int], run: StudyRun, probeLoss: LossFunction<Float>,
                                    probeHessian: AnySymmetricOperator<Float>, probeTop: RitzPair<Float>?) throws -> [String: String] {
        let cfg = configuration, p = cfg.training.probes
        guard let index = cfg.runSeeds.firstIndex(of: run.seed), index < cfg.finalProbes.wholeSplitSeeds else {
            return Dictionary(uniqueKeysWithValues: Self.wholeSplitColumns.map { ($0, "") })
        }
        let t0 = Date()
        guard !model.couplesSamples else {
            log("[\(run.name)] whole-split probes skipped: in train mode, BatchNorm's batch statistics make the whole split one batch")
            return Dictionary(uniqueKeysWithValues: Self.wholeSplitColumns.map { ($0, "") })
        }
        let chunk = BatchChunking.rows(for: run.model)
        let records = BatchChunking.records(.hessian, rows: trainY.count, dimension: θ.count, scalarBytes: 4)
        log("[\(run.name)] final λ_max and trace on the whole training split (\(trainY.count) samples, chunks of \(min(chunk, trainY.count)))")
        var context = ProbeContext(point: θ, loss: try model.meanLoss(on: trainX, labels: trainY, chunkSize: chunk), seed: cfg.finalProbes.spectrumSeed,
                                   curvature: { try CurvatureKind.hessian.matrix(of: model, at: θ, input: trainX, labels: trainY, chunkSize: chunk, records: records) })
        if let probeTop { context.warmStarts[LambdaMaxProbe.name] = probeTop.vector }
        let λ = try LambdaMaxProbe(powerIterations: p.lambdaIterations, tolerance: p.lambdaTolerance).measure(&context)
        let trace = Self.trace(cfg.epochProbes)
        let wholeTrace = try trace.measure(&context)
        var probeContext = ProbeContext(point: θ, loss: probeLoss, seed: cfg.finalProbes.spectrumSeed, curvature: { probeHessian })
        let probeTrace = try trace.measure(&probeContext)
        let probeλ = probeTop?.value ?? .nan
        // A ratio to a zero probe-set value is not finite and says so in final.csv (written as inf or nan).
        let values: [(String, Double)] = [("whole_split_lambda_max", λ.lambdaMax), ("whole_split_lambda_residual", λ.residual),
                                          ("probe_set_lambda_max", probeλ), ("whole_split_lambda_ratio", λ.lambdaMax / probeλ),
                                          ("whole_split_trace", wholeTrace.trace), ("whole_split_trace_stderr", wholeTrace.standardError),
                                          ("probe_set_trace", probeTrace.trace), ("probe_set_trace_stderr", probeTrace.standardError),
                                          ("whole_split_trace_ratio", wholeTrace.trace / probeTrace.trace)]
        let seconds = Date().timeIntervalSince(t0)
        log(String(format: "[%@] whole split: λ_max %.4g (probe set %.4g, ratio %.3g), trace %.4g ± %.2g (probe set %.4g ± %.2g, ratio %.3g)  [%.1f s]",
                   run.name, λ.lambdaMax, probeλ, λ.lambdaMax / probeλ, wholeTrace.trace, wholeTrace.standardError,
                   probeTrace.trace, probeTrace.standardError, wholeTrace.trace / probeTrace.trace, seconds))
        return Dictionary(uniqueKeysWithValues: values.map { ($0, "\($1)") } + [("whole_split_samples", String(trainY.count)),
                          ("whole_split_lambda_converged", λ.converged ? "1" : "0"), ("whole_split_seconds", String(format: "%.3f", seconds))])
    }

    /// The columns of spectra.csv (the Hessian's top Lanczos eigenvalues) and ggn-spectra.csv (the Gauss–Newton matrix's).
    public static let spectraColumns = runColumns + ["rank", "eigenvalue", "residual", "converged"]

    /// The columns of layers.csv: per run and module (``/Layers/Model/modules``; the column `layer`
    /// holds the module's name, as it did when the modules were the layers), λ_max of the module's
    /// diagonal Hessian block (Lanczos, ``layerLanczosSteps`` steps) with its residual, and the block's Hutchinson trace.
    public static let layerColumns = runColumns + ["layer", "parameters", "lambda_max", "lambda_max_residual", "lambda_max_converged", "trace", "trace_stderr"]

    /// Lanczos steps per module block at the final epoch.
    public static let layerLanczosSteps = 10

    // MARK: metrics.csv

    /// The header of the study's metrics.csv: model, regime and seed, then each run's columns.
    public var metricsHeader: String { Self.metricsHeader(configuration) }

    static func metricsHeader(_ c: StudyConfiguration) -> String { (runColumns + EpochMetrics.columns + epochProbes(c.training, c.epochProbes).columns).joined(separator: ",") }

    /// The epoch probes' columns in every run's metrics.csv.
    public var probeColumns: [String] { Self.epochProbes(configuration.training, configuration.epochProbes).columns }

    /// Rewrites DIR/metrics.csv from the runs' own metrics.csv files (atomic), ordered by
    /// model, regime and seed, under DIR/.files.lock (so the last writer sees every run's last epoch).
    func mergeMetrics() throws { try withFilesLock { try mergeMetricsLocked() } }

    func mergeMetricsLocked() throws {
        var out = metricsHeader + "\n"
        let c = configuration
        for model in c.models {
            for regime in c.regimes {
                for run in c.runs where run.model == model && run.regime == regime {
                    let url = runDirectory(run).appendingPathComponent("metrics.csv")
                    guard FileManager.default.fileExists(atPath: url.path) else { continue }
                    let rows: [String]
                    do { rows = try RunRecord.completeRows(of: url, columns: EpochMetrics.columns + probeColumns, renamed: EpochMetrics.renamedColumns, added: EpochMetrics.addedColumns, log: log) } catch let TrainingError.corruptRun(path, reason) {
                        throw StudyError.corruptFile(path: path, reason: reason)
                    }
                    for line in rows { out += "\(model.name),\(regime),\(run.seed),\(line)\n" }
                }
            }
        }
        try AtomicFile.write(out, to: directory.appendingPathComponent("metrics.csv"))
    }
}

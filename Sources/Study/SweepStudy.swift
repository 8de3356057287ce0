import Datasets
import Foundation
import Training

/// A study's runs as a sweep manifest (`landscape study --plan`): one task per run
/// (``StudyConfiguration/runs``), run inside the study directory by `landscape sweep run`
/// through ``StudyRunner/runTask(named:shouldStop:)`` and merged by `landscape report DIR`.
extension StudyConfiguration {
    /// The study's runs as manifest tasks, in the order of ``runs``: each task's settings are the
    /// run's training settings (``training(for:)``) and the study's ``epochProbes``, its id theirs
    /// (``SweepTaskSettings/id``), its `study` `{"run": NAME}` (``StudyRun/name``), and its
    /// `point` the keys in which the runs' settings differ (model, seed, the regime's batch size
    /// and learning rate, …; full dotted paths), with this run's values.
    /// - Throws: ``/Training/ConfigurationError`` for a regime without settings or two runs with the same settings.
    public func sweepTasks() throws -> [SweepTask] {
        let settings: [SweepTaskSettings] = try runs.map { run in
            var s = SweepTaskSettings()
            s.training = try training(for: run)
            s.epochProbes = epochProbes
            return s
        }
        guard let first = settings.first else { return [] }
        let objects = settings.map { $0.jsonObject() }
        // The leaves whose values differ between the runs (a key unset in one run, as `stopping`, reads as null there).
        let candidates = Set(settings.flatMap { $0.differingKeys(from: first) })
        let varying = candidates.filter { key in
            !candidates.contains { $0.hasPrefix(key + ".") } && Set(objects.map { jsonText(Self.value(at: key, in: $0) ?? NSNull()) }).count > 1
        }.sorted()
        var tasks: [SweepTask] = []
        var runOfID: [String: String] = [:]
        for (k, (run, s)) in zip(runs, settings).enumerated() {
            let id = s.id
            if let other = runOfID[id] {
                throw ConfigurationError(key: nil, "the runs \(other) and \(run.name) have the same training settings (task \(id)); each run of a study must differ")
            }
            runOfID[id] = run.name
            var point: [String: Any] = [:]
            for key in varying { point[key] = Self.value(at: key, in: objects[k]) ?? NSNull() }
            tasks.append(SweepTask(index: k, id: id, point: point, settings: s, study: ["run": run.name]))
        }
        return tasks
    }

    /// The value at a dotted key in a configuration's JSON object (`nil` when absent).
    static func value(at key: String, in object: [String: Any]) -> Any? {
        var current: Any = object
        for part in key.split(separator: ".") {
            guard let dict = current as? [String: Any], let next = dict[String(part)] else { return nil }
            current = next
        }
        return current
    }
}

extension SweepManifest {
    /// What to type to run a manifest of `tasks` tasks: the `sbatch` line of a Slurm job array
    /// (indices 0…K−1) and the local run on `cores` processors (``suggestedLocalJobs(tasks:cores:)``
    /// at a time), each a line to print.
    public static func submitLines(manifest: URL, tasks: Int, cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> [String] {
        let jobs = suggestedLocalJobs(tasks: tasks, cores: cores)
        return ["manifest:      \(manifest.path)",
                "run on Slurm:  sbatch --array=0-\(tasks - 1) scripts/slurm/sweep.sbatch \(manifest.path)",
                "run here:      landscape sweep run \(manifest.path) --local --jobs \(jobs)"]
    }

    /// The `--jobs` suggested for `sweep run --local` on `cores` processors: tasks of two threads
    /// each (as the Slurm script's tasks), at most one per task: max(1, min(tasks, cores / 2)).
    public static func suggestedLocalJobs(tasks: Int, cores: Int) -> Int { max(1, min(tasks, cores / 2)) }

    /// The threads per task of `sweep run --local` without `--threads`: max(1, cores / jobs).
    public static func defaultLocalThreads(jobs: Int, cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> Int { max(1, cores / max(jobs, 1)) }
}

extension SweepTaskRunner {
    /// Runs a study's task: the run `name` of the study in the sweep directory (its config.json),
    /// through ``StudyRunner/runTask(named:shouldStop:)``, with this runner's log, progress and
    /// interruption. A run that diverged before or whose final probes are written is not run
    /// again (nor the data loaded).
    /// - Throws: ``ConfigurationError`` when the manifest's line is not the study's run (no such
    ///   run, or settings other than config.json gives it); ``StudyError`` for the directory;
    ///   ``TrainingError/interrupted(epoch:step:lastCheckpoint:)`` (resumable); data, training and probe errors.
    func runStudyRun(_ name: String, data: () throws -> MNISTDataset) throws -> SweepTaskOutcome {
        let configuration = try StudyConfiguration.loadSaved(from: try StudyError.savedConfiguration(in: sweepDirectory))
        let source = "\(sweepDirectory.appendingPathComponent(SweepManifest.fileName).path) line \(task.index + 1)"
        guard let run = configuration.runs.first(where: { $0.name == name }) else {
            throw ConfigurationError(source: source, key: "study.run", "'\(name)' is no run of the study in \(sweepDirectory.path) (its runs: \(configuration.runs.map(\.name).joined(separator: ", ")))")
        }
        guard let planned = try configuration.sweepTasks().first(where: { $0.studyRun == name }), planned.id == task.id else {
            throw ConfigurationError(source: source, key: "settings", "are not those the study's config.json gives its run \(name); plan the study again (`landscape study --plan`)")
        }
        if let reason = try StudyRunner.failure(in: directory) { return .diverged(reason: reason, before: true) }
        if case let .finished(epochs) = try task.status(in: sweepDirectory) { return .finished(epochs: epochs, before: true) }
        var runner = try StudyRunner(configuration: configuration, data: try data(), directory: sweepDirectory)
        runner.log = log
        runner.onStep = { [onStep] _, progress in onStep(progress) }
        runner.shouldInterrupt = shouldInterrupt
        switch try runner.runTask(named: run.name) {
        case let .diverged(reason): return .diverged(reason: reason, before: false)
        case .finished, .alreadyFinished:
            guard case let .finished(epochs) = try task.status(in: sweepDirectory) else {
                throw StudyError.corruptFile(path: directory.path, reason: "the run ended but its metrics.csv or final probes do not show it finished")
            }
            return .finished(epochs: epochs, before: false)
        }
    }
}

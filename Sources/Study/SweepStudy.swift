import Foundation
import Training

/// A study's runs as a sweep manifest (`landscape study --plan`, issue 20): one task per run
/// (``StudyConfiguration/runs``), run inside the study directory by `landscape sweep run`
/// through ``StudyRunner/runTask(named:shouldStop:)`` and merged by `landscape report DIR`.
extension StudyConfiguration {
    /// The study's runs as manifest tasks, in the order of ``runs``: each task's settings are the
    /// run's training settings (``training(for:)``) and the study's ``epochProbes``, its id theirs
    /// (``SweepTaskSettings/id``), its `study` `{"run": NAME}` (``StudyRun/name``), and its
    /// `point` the keys in which the runs' settings differ (model, seed, the regime's batch size
    /// and learning rate, …; full dotted paths), with this run's values.
    /// - Throws: ``ConfigurationError`` for a regime without settings or two runs with the same settings.
    public func sweepTasks() throws -> [SweepTask] {
        let settings: [SweepTaskSettings] = try runs.map { run in
            var s = SweepTaskSettings()
            s.training = try training(for: run)
            s.epochProbes = epochProbes
            return s
        }
        guard let first = settings.first else { return [] }
        let varying = Set(settings.flatMap { $0.differingKeys(from: first) }).sorted()
        var tasks: [SweepTask] = []
        var runOfID: [String: String] = [:]
        for (k, (run, s)) in zip(runs, settings).enumerated() {
            let id = s.id
            if let other = runOfID[id] {
                throw ConfigurationError(key: nil, "the runs \(other) and \(run.name) have the same training settings (task \(id)); each run of a study must differ")
            }
            runOfID[id] = run.name
            let object = s.jsonObject()
            var point: [String: Any] = [:]
            for key in varying { point[key] = Self.value(at: key, in: object) ?? NSNull() }
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
    /// (indices 0…K−1) and the local run, each a line to print.
    public static func submitLines(manifest: URL, tasks: Int) -> [String] {
        ["manifest:      \(manifest.path)",
         "run on Slurm:  sbatch --array=0-\(tasks - 1) scripts/slurm/sweep.sbatch \(manifest.path)",
         "run here:      landscape sweep run \(manifest.path) --local --jobs 2"]
    }
}

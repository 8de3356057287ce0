import Checkpoints
import Datasets
import Foundation
import Settings
import Training

/// The settings of one sweep task: a training run (``/Training/TrainingConfiguration``) with the study's
/// epoch probes (``EpochProbeSettings``: λ_max, S_ε, the trace and batch sharpness every epoch,
/// ``StudyRunner/epochProbes(_:_:)``). Its keys are the sweep file's axis and point keys: full
/// dotted paths (`training.optimizer.batchSize`) or a unique last component (`batchSize`, `seed`,
/// `sharpnessEpsilon`), read by the configuration key machinery (``/Training/ConfigurationValue``).
public struct SweepTaskSettings: ConfigurationValue {
    /// The training run (the defaults of `landscape train`).
    public var training = TrainingConfiguration()
    /// The epoch probes beside λ_max (the study's protocol).
    public var epochProbes = EpochProbeSettings()

    /// `landscape train`'s defaults with the study's epoch probes.
    public init() {}

    public static var renamedKeys: [String: String] { TrainingConfiguration.renamedKeys }
    /// Training's keys and the epoch probes' (for the types in error messages; a sweep's settings come from its file).
    public static let keys: [SettingKey<SweepTaskSettings>] = TrainingConfiguration.keys.map { $0.nested(in: "training", \.training) }
        + EpochProbeSettings.keys.map { $0.nested(in: "epochProbes", \.epochProbes) }
    public static let recordedKeys: [SettingKey<SweepTaskSettings>] = TrainingConfiguration.recordedKeys.map { $0.nested(in: "training", \.training) }

    /// Checks the training settings and the epoch probes.
    /// - Throws: ``/Training/ConfigurationError`` naming the first bad key (`training.…` or `epochProbes.…`).
    public func validate() throws {
        do { try training.validate() } catch var error as ConfigurationError {
            error.key = error.key.map { "training.\($0)" }
            throw error
        }
        try epochProbes.validate(with: training)
    }

    /// The task's id: the first 12 hex digits of the SHA-256 of the settings' JSON with sorted keys
    /// (``/Training/sha256OfSortedJSON(_:)``) with `training.data.dataDirectory` nil and
    /// `training.probes.stepCurvature` false counted as absent (as ``/Training/TrainingConfiguration/sha256``
    /// does), so that the same task planned on another machine, with its data elsewhere, has the
    /// same id, and keys added later as `nil` optionals leave it unchanged.
    public var id: String {
        var s = self
        s.training.data.dataDirectory = nil
        if s.training.probes.stepCurvature == false { s.training.probes.stepCurvature = nil }
        return String(sha256OfSortedJSON(s).prefix(SweepTask.idLength))
    }
}

/// One axis of a sweep: a key of ``SweepTaskSettings`` (its full dotted path) and the values it
/// takes, in the order the sweep file gives them (JSON values: numbers, strings, lists, objects).
public struct SweepAxis {
    /// The full dotted path (`training.optimizer.batchSize`).
    public var key: String
    /// The values, as JSON values (`NSNumber`, `String`, `[Any]`, `[String: Any]`, `NSNull`).
    public var values: [Any]
}

/// A sweep file (the input of `landscape sweep plan SWEEP.json`):
///
/// ```json
/// { "training": {…}, "epochProbes": {…},
///   "axes":   { "batchSize": [64, 256], "learningRate": [0.0125, 0.05], "seed": [0, 1, 2] },
///   "points": [ { "batchSize": 128, "learningRate": 0.1, "seed": 0 } ] }
/// ```
///
/// `training` and `epochProbes` are the base (any subset of their keys over the defaults of
/// ``SweepTaskSettings``). The tasks (``tasks()``) are the Cartesian product of `axes` (none when
/// omitted or empty), in canonical order (axes sorted by key, the last varying fastest, each
/// axis's values in the order given), then the explicit `points` in the order given, each laid
/// over the base as it is (not crossed with the axes).
public struct SweepSpecification {
    /// The base settings every task starts from.
    public var base: SweepTaskSettings
    /// The axes in canonical order (sorted by key).
    public var axes: [SweepAxis]
    /// The explicit points, with canonical (full dotted path) keys.
    public var points: [[String: Any]]
    /// Where the sweep came from (a file's path), for errors.
    public var source: String
    /// The sweep file's object as given.
    public var original: [String: Any]

    /// The sweep file's keys.
    public static let keys = ["training", "epochProbes", "axes", "points"]

    /// Reads a sweep file.
    /// - Throws: ``/Training/ConfigurationError`` with the file's path as the source (as ``decode(json:source:)``).
    public static func load(from url: URL) throws -> SweepSpecification {
        let text: String
        do { text = try TextFile.read(url) } catch { throw ConfigurationError(source: error.path, key: nil, error.problem) }
        return try decode(json: Data(text.utf8), source: url.path)
    }

    /// Decodes a sweep file's JSON and checks it: the base settings are valid, each axis is a
    /// non-empty list under a known key (no key given twice), each value of an axis gives valid
    /// settings over the base, each point is an object of known keys.
    /// - Throws: ``/Training/ConfigurationError`` naming `source` and the key (`axes.training.seed`,
    ///   `points[2].batchSize`) with the value.
    public static func decode(json data: Data, source: String) throws -> SweepSpecification {
        func bad(_ key: String?, _ problem: String) -> ConfigurationError { ConfigurationError(source: source, key: key, problem) }
        guard let object = try ConfigurationError.parsingJSON(data, source: source) as? [String: Any] else {
            throw bad(nil, "must hold a JSON object with the keys \(keys.joined(separator: ", "))")
        }
        if let repeated = JSONText.duplicateKey(in: data) {
            throw bad(repeated.joined(separator: "."), "appears twice in the same object; give each key once")
        }
        for key in object.keys.sorted() where !keys.contains(key) {
            throw bad(key, "is not a key of a sweep file; its keys are \(keys.joined(separator: ", ")) (axes and points take the settings' keys)")
        }
        var baseObject: [String: Any] = [:]
        for key in ["training", "epochProbes"] {
            guard let value = object[key] else { continue }
            guard value is [String: Any] else { throw bad(key, "must be an object of \(key) keys") }
            baseObject[key] = value
        }
        let base = try SweepTaskSettings().merging(baseObject, source: source)
        do { try base.validate() } catch var error as ConfigurationError {
            error.source = source
            throw error
        }
        var axes: [SweepAxis] = []
        if let raw = object["axes"], !(raw is NSNull) {
            guard let dict = raw as? [String: Any] else { throw bad("axes", "must be an object: key → list of values") }
            var named: [String: String] = [:]
            let leaves = SweepTaskSettings.keyPaths
            for (given, value) in dict.sorted(by: { $0.key < $1.key }) {
                let key = try SweepTaskSettings.path(of: given, source: "\(source): axes").joined(separator: ".")
                if let other = named[key] { throw bad("axes.\(given)", "names \(key), as 'axes.\(other)' does; give each axis once") }
                named[key] = given
                // An axis varies one key; a whole group (`optimizer`) is not a value of its own.
                let inside = leaves.filter { $0.hasPrefix(key + ".") }
                if !inside.isEmpty { throw bad("axes.\(given)", "is a group of keys (\(inside.joined(separator: ", "))); an axis varies one key: give an axis for each key to vary") }
                guard let values = value as? [Any] else { throw bad("axes.\(given)", "must be a list of values, got \(jsonText(value))") }
                guard !values.isEmpty else { throw bad("axes.\(given)", "is an empty list; give at least one value (or drop the axis)") }
                axes.append(SweepAxis(key: key, values: values))
            }
            axes.sort { $0.key < $1.key }
            try checkTaskCount(axes: axes, points: (object["points"] as? [Any])?.count ?? 0, source: source)
            for axis in axes {
                let given = named[axis.key]!
                for (i, v) in axis.values.enumerated() {
                    _ = try resolve(base, [axis.key: v], source: "\(source): axes.\(given)[\(i)] = \(jsonText(v))")
                }
            }
            // An axis inside another (`optimizer` and `batchSize`) would set one key twice.
            for a in axes { for b in axes where b.key.hasPrefix(a.key + ".") { throw bad("axes.\(b.key)", "lies inside the axis '\(a.key)'; give one of them") } }
        }
        var points: [[String: Any]] = []
        if let raw = object["points"], !(raw is NSNull) {
            guard let list = raw as? [Any] else { throw bad("points", "must be a list of objects (each: key → value)") }
            try checkTaskCount(axes: axes, points: list.count, source: source)
            for (i, p) in list.enumerated() {
                guard let dict = p as? [String: Any] else { throw bad("points[\(i)]", "must be an object (key → value), got \(jsonText(p))") }
                var point: [String: Any] = [:]
                for (given, v) in dict.sorted(by: { $0.key < $1.key }) {
                    let key = try SweepTaskSettings.path(of: given, source: "\(source): points[\(i)]").joined(separator: ".")
                    guard point[key] == nil else { throw bad("points[\(i)].\(given)", "names \(key) a second time; give it once") }
                    point[key] = v
                }
                points.append(point)
            }
        }
        return SweepSpecification(base: base, axes: axes, points: points, source: source, original: object)
    }

    /// The most tasks a sweep may have. Planning takes about a millisecond per task and the
    /// manifest a few kilobytes per line; a larger grid is more likely a mistake than a plan
    /// (and a Slurm array or Kubernetes Indexed Job of this size is already at their limits).
    public static let maximumTasks = 100_000

    /// The number of tasks: the product of the axes' lengths (none without axes) plus `points`,
    /// or `nil` when it overflows `Int`.
    public static func taskCount(axes: [SweepAxis], points: Int) -> Int? {
        var grid = axes.isEmpty ? 0 : 1
        for axis in axes {
            let (product, overflow) = grid.multipliedReportingOverflow(by: axis.values.count)
            if overflow { return nil }
            grid = product
        }
        let (total, overflow) = grid.addingReportingOverflow(points)
        return overflow ? nil : total
    }

    /// Refuses a sweep of more than ``maximumTasks`` tasks, before any is built.
    /// - Throws: ``ConfigurationError`` with the count (the product of the axes' lengths plus the points) and the limit.
    static func checkTaskCount(axes: [SweepAxis], points: Int, source: String) throws {
        let count = taskCount(axes: axes, points: points)
        guard let count, count <= maximumTasks else {
            let lengths = axes.map { "\($0.values.count)" }.joined(separator: " × ")
            let total = count.map { "\($0)" } ?? "more than \(Int.max)"
            throw ConfigurationError(source: source, key: nil, "has \(total) tasks (axes \(lengths.isEmpty ? "none" : lengths), plus \(points) points); a sweep may have at most \(maximumTasks): split it into several sweeps")
        }
    }

    /// The settings of `point` over `base`, validated; the data directory an absolute path.
    /// - Throws: ``ConfigurationError`` with `source` (naming the point) and the key.
    static func resolve(_ base: SweepTaskSettings, _ point: [String: Any], source: String) throws -> SweepTaskSettings {
        var s = try base.merging(point, source: source)
        do { try s.validate() } catch var error as ConfigurationError {
            error.source = source
            throw error
        }
        s.training.data.dataDirectory = s.training.data.resolvedDirectory
        return s
    }

    /// The grid's points in canonical order (axes sorted by key, the last varying fastest).
    public var gridPoints: [[String: Any]] {
        guard !axes.isEmpty else { return [] }
        var out: [[String: Any]] = [[:]]
        for axis in axes {
            out = out.flatMap { p in axis.values.map { v in p.merging([axis.key: v]) { $1 } } }
        }
        return out
    }

    /// The tasks: the grid's points in canonical order, then the explicit points in the order
    /// given; each resolved over the base and validated, indexed 0…K−1 in that order.
    /// - Throws: ``/Training/ConfigurationError`` naming the point and key of a task whose settings are
    ///   invalid, two points that resolve to the same settings (the same id), a sweep without tasks
    ///   or with more than ``maximumTasks``.
    public func tasks() throws -> [SweepTask] {
        try Self.checkTaskCount(axes: axes, points: points.count, source: source)
        let labelled = gridPoints.map { ("axes point {\(SweepTask.describe($0))}", $0) }
            + points.enumerated().map { ("points[\($0)] {\(SweepTask.describe($1))}", $1) }
        guard !labelled.isEmpty else {
            throw ConfigurationError(source: source, key: nil, "has no tasks: give 'axes' (key → list of values) and/or 'points' (a list of objects)")
        }
        var seen: [String: String] = [:]
        var tasks: [SweepTask] = []
        for (label, point) in labelled {
            let settings = try Self.resolve(base, point, source: "\(source): \(label)")
            let id = settings.id
            if let first = seen[id] {
                throw ConfigurationError(source: source, key: nil, "\(label) gives the same settings as \(first) (task \(id)); each task must differ")
            }
            seen[id] = label
            tasks.append(SweepTask(index: tasks.count, id: id, point: point, settings: settings))
        }
        return tasks
    }

    /// sweep.json's object: the sweep file as given, with `resolvedAxes` (the axes in canonical
    /// order, full keys and values) and `resolvedPoints` (the points with full keys) added.
    public var recordObject: [String: Any] {
        var o = original
        o["resolvedAxes"] = axes.map { ["key": $0.key, "values": $0.values] as [String: Any] }
        o["resolvedPoints"] = points
        return o
    }
}

/// One task of a sweep manifest (a line of `DIR/manifest.jsonl`): a training run with its id,
/// the axis or point values that set it, and its full settings.
public struct SweepTask {
    /// The task index: the 0-based line of the manifest (`SLURM_ARRAY_TASK_ID`,
    /// `JOB_COMPLETION_INDEX`, `--task I`).
    public var index: Int
    /// 12 lowercase hex digits (``SweepTaskSettings/id``); the task's directory name.
    public var id: String
    /// The values of the task's axes or point, by full dotted key.
    public var point: [String: Any]
    /// Every setting of the task.
    public var settings: SweepTaskSettings
    /// A study's run (`{"run": "mlp-high-noise-seed0"}`) for a study's manifest; `nil` in a sweep's.
    public var study: [String: Any]?

    /// The length of an id in hex digits.
    public static let idLength = 12

    /// A task of a sweep.
    public init(index: Int, id: String, point: [String: Any], settings: SweepTaskSettings, study: [String: Any]? = nil) {
        self.index = index
        self.id = id
        self.point = point
        self.settings = settings
        self.study = study
    }

    /// The study run's name, when the task is one (`study.run`).
    public var studyRun: String? { study?["run"] as? String }

    /// The task's run directory: `DIR/<id>` in the sweep directory DIR (the manifest's directory);
    /// a study's run (``studyRun``) is `DIR/runs/<run>`, as ``StudyRunner`` places it.
    public func directory(in sweepDirectory: URL) -> URL {
        if let run = studyRun { return sweepDirectory.appendingPathComponent("runs").appendingPathComponent(run) }
        return sweepDirectory.appendingPathComponent(id)
    }

    /// The point as `key=value, …`, keys sorted, values as JSON.
    public var pointDescription: String { Self.describe(point) }

    static func describe(_ point: [String: Any]) -> String {
        point.keys.sorted().map { "\($0)=\(jsonText(point[$0]!))" }.joined(separator: ", ")
    }

    /// The task's status in the sweep directory (``SweepTaskStatus``): `diverged` when its
    /// directory holds failed.txt, `missing` without a run.json, else `finished` or `partial`
    /// from metrics.csv's complete rows (the last one decides, by
    /// ``/Training/TrainingConfiguration/isFinished(after:)``); a study's run is `partial` until its final
    /// probes are written (``StudyRunner/finalProbesDone(run:in:configuration:)``). Reads only.
    /// - Throws: ``StudyError/corruptFile(path:reason:)`` naming a file that cannot be read.
    public func status(in sweepDirectory: URL) throws -> SweepTaskStatus {
        let dir = directory(in: sweepDirectory)
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: dir.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw StudyError.corruptFile(path: dir.path, reason: "is a file where task \(index)'s run directory belongs; move it away")
        }
        if let reason = try StudyRunner.failure(in: dir) { return .diverged(reason: reason) }
        guard fm.fileExists(atPath: dir.appendingPathComponent(RunStore.runInfoName).path) else { return .missing }
        let metrics = dir.appendingPathComponent(RunStore.metricsName)
        guard fm.fileExists(atPath: metrics.path) else { return .partial(epochs: 0) }
        let columns = EpochMetrics.columns + StudyRunner.epochProbes(settings.training, settings.epochProbes).columns
        do {
            let rows = try RunRecord.completeRows(of: metrics, columns: columns, renamed: EpochMetrics.renamedColumns, added: EpochMetrics.addedColumns, log: { _ in })
            guard let last = rows.last else { return .partial(epochs: 0) }
            let m = try EpochMetrics(fields: last.split(separator: ",", omittingEmptySubsequences: false).map(String.init), header: columns, path: metrics.path)
            guard settings.training.isFinished(after: m) else { return .partial(epochs: rows.count) }
            // A study's run is finished once its final probes are written too.
            if let run = studyRun {
                let configuration = try StudyConfiguration.loadSaved(from: try StudyError.savedConfiguration(in: sweepDirectory))
                guard try StudyRunner.finalProbesDone(run: run, in: sweepDirectory, configuration: configuration) else { return .partial(epochs: rows.count) }
            }
            return .finished(epochs: rows.count)
        } catch let TrainingError.corruptRun(path, reason) {
            throw StudyError.corruptFile(path: path, reason: reason)
        }
    }
}

/// Where a sweep task stands (``SweepTask/status(in:)``).
public enum SweepTaskStatus: Equatable, Sendable {
    /// All epochs, or the stopping rule reached.
    case finished(epochs: Int)
    /// Stopped on a non-finite loss or parameters; failed.txt holds why. A result: not retried.
    case diverged(reason: String)
    /// Started: some complete epochs (possibly none); a rerun resumes after the last.
    case partial(epochs: Int)
    /// Not started (no run directory, or one without run.json).
    case missing

    /// The statuses' names (``name``) in the order summaries list them.
    public static let names = ["finished", "diverged", "partial", "missing"]
    /// What summaries call a task whose status cannot be read (``SweepTask/status(in:)`` threw).
    public static let unreadableName = "unreadable"

    /// `finished`, `diverged`, `partial` or `missing` (one of ``names``).
    public var name: String {
        switch self {
        case .finished: return "finished"
        case .diverged: return "diverged"
        case .partial: return "partial"
        case .missing: return "missing"
        }
    }

    /// Whether the task needs no more training (finished or diverged).
    public var isDone: Bool {
        switch self {
        case .finished, .diverged: return true
        case .partial, .missing: return false
        }
    }
}

/// A sweep's files in its directory DIR:
///
/// ```
/// DIR/manifest.jsonl   one task per line (``SweepTask``): {"id", "point", "settings"[, "study"]}
/// DIR/sweep.json       the sweep file as given, with its axes and points resolved (SweepSpecification/recordObject)
/// DIR/<id>/            task <id>'s training run (RunStore), with failed.txt when it diverged
/// DIR/logs/<id>.log    the output of the task under `landscape sweep run --local`
/// ```
public enum SweepManifest {
    /// The file names in the sweep directory.
    public static let fileName = "manifest.jsonl", sweepFileName = "sweep.json", logsDirectoryName = "logs"

    /// A task's line: its JSON object on one line, keys sorted; `settings` holds every key
    /// (unset optional ones as null).
    public static func line(of task: SweepTask) throws -> String {
        var object: [String: Any] = ["id": task.id, "point": task.point, "settings": task.settings.jsonObject()]
        if let study = task.study { object["study"] = study }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes `DIR/manifest.jsonl` (the tasks in index order) and, when given, `DIR/sweep.json`,
    /// each atomically; creates DIR.
    /// - Throws: ``/Checkpoints/CheckpointError`` and I/O errors.
    public static func write(_ tasks: [SweepTask], specification: SweepSpecification?, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try AtomicFile.write(try tasks.map(line(of:)).joined(separator: "\n") + "\n", to: directory.appendingPathComponent(fileName))
        if let specification {
            try AtomicFile.write(try JSONText.data(specification.recordObject), to: directory.appendingPathComponent(sweepFileName))
        }
    }

    /// The manifest file for a path given on the command line: the path itself, or
    /// `PATH/manifest.jsonl` when it is a directory.
    public static func manifestURL(_ path: String) -> URL {
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue { return url.appendingPathComponent(fileName) }
        return url
    }

    /// Reads a manifest: every line a task, checked (settings valid, id 12 hex digits and equal
    /// to the settings' id, the point's values those of the settings, no id twice); blank lines
    /// at the end are ignored.
    /// - Throws: ``/Training/ConfigurationError`` whose source is `PATH line N` for a bad line, `PATH` for a
    ///   file that cannot be read or holds no task.
    public static func read(_ url: URL) throws -> [SweepTask] {
        let text: String
        do { text = try TextFile.read(url, maximumBytes: 1 << 30) } catch { throw ConfigurationError(source: error.path, key: nil, error.problem) }
        var (lines, _) = TextFile.lines(of: text)
        // Blank lines at the end (an editor's) hold no task; one between tasks is an error, as it
        // would shift the indexes of the tasks after it.
        while lines.last?.allSatisfy(\.isWhitespace) == true { lines.removeLast() }
        guard !lines.isEmpty else { throw ConfigurationError(source: url.path, key: nil, "holds no tasks (one JSON object per line, written by `landscape sweep plan`)") }
        var tasks: [SweepTask] = []
        var lineOfID: [String: Int] = [:]
        for (k, line) in lines.enumerated() {
            let source = "\(url.path) line \(k + 1)"
            func bad(_ key: String?, _ problem: String) -> ConfigurationError { ConfigurationError(source: source, key: key, problem) }
            let data = Data(line.utf8)
            if line.allSatisfy(\.isWhitespace) { throw bad(nil, "is empty; each line is a task's JSON object") }
            guard let object = try ConfigurationError.parsingJSON(data, source: source) as? [String: Any] else {
                throw bad(nil, "is not a JSON object")
            }
            for key in object.keys.sorted() where !["id", "point", "settings", "study"].contains(key) {
                throw bad(key, "is not a key of a manifest line (id, point, settings, study)")
            }
            guard let id = object["id"] as? String else { throw bad("id", "is missing or not a string") }
            guard id.count == SweepTask.idLength, id.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
                throw bad("id", "must be \(SweepTask.idLength) lowercase hex digits, got '\(id.prefix(40))'")
            }
            guard let point = object["point"] as? [String: Any] else { throw bad("point", "is missing or not an object") }
            guard let raw = object["settings"] as? [String: Any] else { throw bad("settings", "is missing or not an object") }
            let study = object["study"]
            if let study, !(study is [String: Any]) { throw bad("study", "must be an object") }
            if let run = (study as? [String: Any])?["run"] {
                guard let name = run as? String, !name.isEmpty, name.count <= 200, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }), name != ".", name != ".." else {
                    throw bad("study.run", "must be a run name of ASCII letters, digits, '-', '_' and '.', got \(jsonText(run))")
                }
            }
            let settings = try SweepTaskSettings().merging(raw, source: source)
            do { try settings.validate() } catch var error as ConfigurationError {
                error.source = source
                throw error
            }
            guard settings.id == id else {
                throw bad("id", "is \(id), but the line's settings give \(settings.id): the settings were edited after planning; plan the sweep again")
            }
            try checkPoint(point, of: settings, raw: raw, source: source)
            if let first = lineOfID[id] { throw bad("id", "\(id) is also the task of line \(first); each task appears once") }
            lineOfID[id] = k + 1
            tasks.append(SweepTask(index: k, id: id, point: point, settings: settings, study: study as? [String: Any]))
        }
        return tasks
    }
}

extension SweepManifest {
    /// Checks that each value of a manifest line's point is the settings' value at its key (the
    /// report labels the task by its point; the run trains its settings): equal as JSON to the
    /// line's `settings` object `raw` there, or else another spelling of it (`"Cosine"`, a subset
    /// of a group's keys) that, laid over the settings, leaves the task's id unchanged.
    /// - Throws: ``ConfigurationError`` with `source` naming the key (`point.training.seed`) and both values.
    static func checkPoint(_ point: [String: Any], of settings: SweepTaskSettings, raw: [String: Any], source: String) throws {
        for (key, value) in point.sorted(by: { $0.key < $1.key }) {
            let path = try SweepTaskSettings.path(of: key, source: "\(source): point")
            let held = path.reduce(raw as Any?) { ($0 as? [String: Any])?[$1] }
            if let held, jsonText(held) == jsonText(value) { continue }
            if try settings.merging([key: value], source: "\(source): point").id == settings.id { continue }
            throw ConfigurationError(source: source, key: "point.\(key)", "is \(jsonText(value)), but the line's settings hold \(held.map(jsonText) ?? "another value") there: the point was edited after planning; plan the sweep again")
        }
    }
}

/// A JSON value as compact text, for messages.
func jsonText(_ value: Any) -> String {
    if let s = value as? String { return "\"\(s)\"" }
    if value is NSNull { return "null" }
    if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]) {
        return String(decoding: data, as: UTF8.self)
    }
    return "\(value)"
}

extension SweepManifest {
    /// The tasks of `old` (a sweep directory's manifest) that `new` leaves out and that have a
    /// directory in `sweepDirectory`: what re-planning would leave outside the manifest.
    public static func tasksLeftOut(of old: [SweepTask], by new: [SweepTask], in sweepDirectory: URL) -> [SweepTask] {
        let kept = Set(new.map(\.id))
        return old.filter { !kept.contains($0.id) && FileManager.default.fileExists(atPath: $0.directory(in: sweepDirectory).path) }
    }
}

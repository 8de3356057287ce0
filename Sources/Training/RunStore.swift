import Autodiff
import Checkpoints
import Datasets
import Foundation
import Probes
import Layers
import Tensors

/// One training run's directory, owned by one process at a time:
///
/// ```
/// run.json                         the configuration and its SHA-256, the model's layout, the data, the OpenBLAS kernel
/// checkpoints.csv                  per epoch: the step and the SHA-256 of the configuration and of each checkpoint (RunRecord)
/// theta-epoch-NNN.safetensors      θ after epoch NNN (ParameterFiles)
/// optimizer-epoch-NNN.safetensors  the SGD velocity and step and the λ_max start vectors after it
/// metrics.csv                      one row per complete epoch (EpochMetrics, then the epoch probe's columns)
/// steps.csv                        with probes.lambdaEverySteps: one row per λ_max inside epochs (StepMetrics)
/// step-curvature.csv               with probes.stepCurvature: one row per SGD step (StepCurvatureMetrics)
/// .lock                            flock(2) while a process holds the store
/// ```
///
/// An epoch is appended in that order, each file atomically, the metrics row last: a row means
/// the epoch is complete, and ``lastComplete(layout:stepsPerEpoch:)`` checks every file of it
/// against the records before a run continues from it (``prepareToContinue(after:)``). The rows of
/// steps.csv and step-curvature.csv are appended one by one during the epoch, before its files (not atomically: a row a
/// kill cuts belongs to an epoch that is not complete, and resuming drops the rows of such epochs).
///
/// Directories of older versions read as follows: a run.json whose configuration is one flat
/// object (before the nested settings) is read through the keys' last components
/// (`lambdaSamples` is `probeSamples`) and checked against the SHA-256 of that flat form, which
/// the run keeps recording; a metrics.csv whose header says `probe_seconds` for
/// `lambda_seconds` (``EpochMetrics/renamedColumns``) is read as the current one and gets the
/// current header when the run continues.
public final class RunStore {
    /// The run directory.
    public let directory: URL
    /// The run's configuration, as run.json holds it (with its length extended by run.json's
    /// ``extensionsKey``, ``extend(toEpochs:after:)``; ``configurationHash`` stays the original's).
    public internal(set) var configuration: TrainingConfiguration
    /// The SHA-256 run.json records for the configuration, written into every checkpoint.
    public let configurationHash: String
    /// The columns of metrics.csv: ``EpochMetrics/columns`` and the epoch probe's.
    public let columns: [String]
    /// Receives warnings (a cut metrics row, removed temporary files).
    public var log: (String) -> Void
    /// The data run.json records: name and split sizes.
    let recordedData: [String: Any]
    /// The records of the epochs in checkpoints.csv.
    var records: [RunRecord.Entry] = []
    /// The lock's file descriptor while the store is open.
    var lock: Int32?

    /// The file names the store writes.
    public static let runInfoName = "run.json", metricsName = "metrics.csv", stepsName = "steps.csv", stepCurvatureName = "step-curvature.csv"

    init(directory: URL, configuration: TrainingConfiguration, configurationHash: String, probeColumns: [String],
         recordedData: [String: Any], lock: Int32, log: @escaping (String) -> Void) {
        self.directory = directory
        self.configuration = configuration
        self.configurationHash = configurationHash
        self.columns = EpochMetrics.columns + probeColumns
        self.recordedData = recordedData
        self.lock = lock
        self.log = log
    }

    deinit { close() }

    /// Releases the directory's lock (also done when the store is released).
    public func close() {
        if let lock { DirectoryLock.release(lock) }
        lock = nil
    }

    var metricsURL: URL { directory.appendingPathComponent(Self.metricsName) }
    var stepsURL: URL { directory.appendingPathComponent(Self.stepsName) }
    /// Whether the run writes steps.csv (``ProbeSettings/lambdaEverySteps``).
    var recordsSteps: Bool { configuration.probes.lambdaEverySteps != nil }
    /// step-curvature.csv, written when the run records the curvature along every step (``ProbeSettings/stepCurvature``).
    public var stepCurvatureURL: URL { directory.appendingPathComponent(Self.stepCurvatureName) }
    var recordsStepCurvature: Bool { configuration.probes.stepCurvature == true }
    var header: String { columns.joined(separator: ",") }

    // MARK: Creating and opening

    /// Starts a run in `directory` (created if missing; it must not hold a run yet): takes the
    /// lock, then writes run.json, an empty checkpoints.csv and the headers of metrics.csv and
    /// (with ``ProbeSettings/lambdaEverySteps``) steps.csv.
    /// - Parameter probeColumns: the columns of the epoch probes; `nil`: those of the configuration's
    ///   (``Trainer/defaultEpochProbes(for:)``: λ_max and the extra probes).
    /// - Throws: ``ConfigurationError`` for an invalid configuration; ``TrainingError/runDirectory(path:reason:)``
    ///   when the directory holds a run or cannot be created, ``TrainingError/runDirectoryLocked(path:)``
    ///   when another process holds its lock; I/O errors.
    public static func create(at directory: URL, configuration: TrainingConfiguration, model: any Model, data: MNISTDataset,
                              probeColumns: [String]? = nil, log: @escaping (String) -> Void = { _ in }) throws -> RunStore {
        try configuration.validate()
        let fm = FileManager.default
        if fm.fileExists(atPath: directory.appendingPathComponent(runInfoName).path) {
            throw TrainingError.runDirectory(path: directory.path, reason: "already holds a run (run.json); continue it or choose another directory")
        }
        do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw TrainingError.runDirectory(path: directory.path, reason: "cannot be created (\(SystemError.reason(of: error)))")
        }
        let lock = try takeLock(directory)
        let dataInfo: [String: Any] = ["name": data.name, "directory": data.directory.path, "train": data.train.count,
                                       "validation": data.validation.count, "test": data.test.count, "split_seed": data.splitSeed]
        let store = RunStore(directory: directory, configuration: configuration, configurationHash: configuration.sha256,
                             probeColumns: probeColumns ?? Trainer.defaultEpochProbes(for: configuration).columns, recordedData: dataInfo, lock: lock, log: log)
        var modelInfo: [String: Any] = ["name": model.name, "parameters": model.layout.parameterCount,
                                        "layout": model.layout.entries.map { ["name": $0.name, "shape": $0.shape, "offset": $0.offset] }]
        // The Hessian its probes measure (``ProbeSettings/normalization``), where the model has BatchNorm.
        if let spec = model as? SpecModel, spec.hasBatchNorm { modelInfo["probe_normalization"] = (configuration.probes.normalization ?? .eval).rawValue }
        let info: [String: Any] = [
            "configuration": configuration.jsonObject(),
            "configuration_sha256": configuration.sha256,
            "model": modelInfo,
            "data": dataInfo,
            "openblas": BLASRuntime.record,
            "seed": configuration.seed,
            "started": ISO8601DateFormatter().string(from: Date()),
            "host": ["processors": ProcessInfo.processInfo.activeProcessorCount],
        ]
        try AtomicFile.write(try JSONText.data(info), to: directory.appendingPathComponent(runInfoName))
        try store.rewrite(records: [], metrics: [])
        return store
    }

    /// Opens a run to continue it: takes the lock, removes temporary files of cut-off writes, and
    /// reads run.json, checking it against the SHA-256 it was written with.
    /// - Parameter probeColumns: as in ``create(at:configuration:model:data:probeColumns:log:)``
    ///   (`nil`: those of the configuration in run.json).
    /// - Throws: ``TrainingError/runDirectoryLocked(path:)``, ``TrainingError/runDirectory(path:reason:)``, ``TrainingError/corruptRun(path:reason:)``
    ///   naming run.json when it is missing, unreadable or edited.
    public static func open(at directory: URL, probeColumns: [String]? = nil, log: @escaping (String) -> Void = { _ in }) throws -> RunStore {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDir) else {
            throw TrainingError.runDirectory(path: directory.path, reason: "does not exist")
        }
        guard isDir.boolValue else { throw TrainingError.runDirectory(path: directory.path, reason: "is not a directory") }
        let lock = try takeLock(directory)
        do {
            let stale = AtomicFile.removeStaleTemporaryFiles(in: directory)
            if !stale.isEmpty { log("note: removed \(stale.count) temporary file\(stale.count == 1 ? "" : "s") of writes that were cut off (\(stale.joined(separator: ", ")))") }
            let (configuration, hash, data) = try readRunInfo(directory)
            return RunStore(directory: directory, configuration: configuration, configurationHash: hash,
                            probeColumns: probeColumns ?? Trainer.defaultEpochProbes(for: configuration).columns, recordedData: data, lock: lock, log: log)
        } catch {
            DirectoryLock.release(lock)
            throw error
        }
    }

    /// Takes the directory's lock (``DirectoryLock``): one process per run directory.
    /// - Throws: ``TrainingError/runDirectoryLocked(path:)`` when another process holds it;
    ///   ``TrainingError/runDirectory(path:reason:)`` saying what failed when the lock file cannot
    ///   be created or locked (e.g. `flock` unsupported: ENOLCK, ENOSYS).
    static func takeLock(_ dir: URL) throws -> Int32 {
        let fd: Int32?
        do { fd = try DirectoryLock.acquire(in: dir) } catch {
            throw TrainingError.runDirectory(path: dir.path, reason: "cannot take its lock: \(error)")
        }
        guard let fd else { throw TrainingError.runDirectoryLocked(path: dir.path) }
        return fd
    }

    /// run.json's configuration (current or flat form), the SHA-256 it records, and its data record.
    static func readRunInfo(_ dir: URL) throws -> (TrainingConfiguration, String, [String: Any]) {
        let url = dir.appendingPathComponent(runInfoName)
        func bad(_ reason: String) -> TrainingError { .corruptRun(path: url.path, reason: reason) }
        let raw: Data
        do { raw = Data(try TextFile.read(url).utf8) } catch {
            throw bad(error.isMissing ? "does not exist: the directory holds no run to resume" : error.problem)
        }
        guard let info = try? JSONSerialization.jsonObject(with: raw) as? [String: Any], let object = info["configuration"] as? [String: Any] else {
            throw bad("holds no readable training configuration")
        }
        let configuration: TrainingConfiguration, hash: String
        do {
            if FlatTrainingConfiguration.isFlat(object) {
                (configuration, hash) = try FlatTrainingConfiguration.read(object, source: url.path)
            } else {
                configuration = try TrainingConfiguration().merging(object, source: url.path)
                hash = configuration.sha256
            }
        } catch {
            throw bad("holds no readable training configuration (\(error))")
        }
        guard let recorded = info["configuration_sha256"] as? String else {
            throw bad("records no configuration_sha256 (written by an older landscape?); its configuration cannot be checked")
        }
        guard recorded == hash else {
            throw bad("its configuration was edited after the run started (its SHA-256 differs from the recorded configuration_sha256); restore it or start a new run")
        }
        var extended = configuration
        if let epochs = extendedEpochs(info) {
            guard epochs >= configuration.epochs, epochs <= TrainingConfiguration.maximumEpochs else { throw bad("extends the run to \(epochs) epochs, not more than its \(configuration.epochs)") }
            extended.epochs = epochs
        }
        return (extended, recorded, info["data"] as? [String: Any] ?? [:])
    }

    // MARK: Checks

    /// Refuses to continue the run with another configuration (the data settings aside; see ``check(data:)``).
    /// - Throws: ``TrainingError/invalidRun(_:)``.
    public func check(configuration given: TrainingConfiguration) throws {
        guard given.describesSameRun(as: configuration) else {
            throw TrainingError.invalidRun("\(directory.path) was trained with another configuration (run.json); resuming with different settings would not reproduce the run")
        }
    }

    /// Refuses data other than the run's: another data set or other split sizes than run.json records.
    /// - Throws: ``TrainingError/invalidRun(_:)`` naming both.
    public func check(data: MNISTDataset) throws {
        let recorded = recordedData
        let expected = [recorded["train"] as? Int, recorded["validation"] as? Int, recorded["test"] as? Int]
        let actual = [data.train.count, data.validation.count, data.test.count]
        guard expected.map({ $0 ?? -1 }) == actual, let name = recorded["name"] as? String, DatasetIdentity.recordedName(name, matches: data.name) else {
            throw TrainingError.invalidRun("the data differ from the run's (\(recorded["name"] ?? "?") with \(expected.map { $0.map(String.init) ?? "?" }.joined(separator: "/")) train/validation/test samples; now \(data.name) with \(actual.map(String.init).joined(separator: "/"))); use the same data set, validation and train limit")
        }
    }

    // MARK: Epochs

    /// The last complete epoch, every file checked against the run's records; `nil` if metrics.csv
    /// is missing or holds no complete row. Reads only.
    /// - Throws: ``TrainingError/corruptRun(path:reason:)`` naming the file that does not match;
    ///   ``/Checkpoints/CheckpointError`` for unreadable checkpoints.
    public func lastComplete(layout: ParameterLayout, stepsPerEpoch: Int) throws -> TrainingCheckpoint? {
        guard FileManager.default.fileExists(atPath: metricsURL.path) else { return nil }
        let rows = try RunRecord.completeRows(of: metricsURL, columns: columns, renamed: EpochMetrics.renamedColumns, added: EpochMetrics.addedColumns, log: log)
        guard !rows.isEmpty else { return nil }
        let epoch = rows.count
        let recordsURL = directory.appendingPathComponent(RunRecord.fileName)
        let records = try RunRecord.entries(in: directory)
        guard records.count >= epoch else {
            throw TrainingError.corruptRun(path: recordsURL.path, reason: "records \(records.count) epoch\(records.count == 1 ? "" : "s"), but metrics.csv holds \(epoch)")
        }
        let entry = records[epoch - 1]
        guard entry.configuration == configurationHash else {
            throw TrainingError.corruptRun(path: recordsURL.path, reason: "epoch \(epoch) was trained with another configuration (configuration_sha256 differs from run.json's): the configuration was edited under the run")
        }
        guard entry.step == epoch * stepsPerEpoch else {
            throw TrainingError.corruptRun(path: recordsURL.path, reason: "records step \(entry.step) after epoch \(epoch); \(epoch) epochs of \(stepsPerEpoch) steps are \(epoch * stepsPerEpoch)")
        }
        let thetaURL = directory.appendingPathComponent(ParameterFiles.thetaName(epoch: epoch))
        let optURL = directory.appendingPathComponent(ParameterFiles.optimizerName(epoch: epoch))
        _ = try RunRecord.verifiedFile(thetaURL, entry: entry, checksum: entry.theta)
        let opt = try RunRecord.verifiedFile(optURL, entry: entry, checksum: entry.optimizer)
        // The checksums match, so another shape or a NaN was written so: the run is corrupt.
        func checked<T>(_ url: URL, _ read: () throws -> T) throws -> T {
            do { return try read() } catch let error as CheckpointError {
                switch error {
                case .shapeMismatch, .nonFiniteValue: throw TrainingError.corruptRun(path: url.path, reason: "\(error)")
                default: throw error
                }
            }
        }
        let θ = try checked(thetaURL) { try loadParameters(from: thetaURL, layout: layout) }
        let velocity = try checked(optURL) { try opt.finiteFloats(named: "velocity") }
        guard velocity.count == θ.count else {
            throw TrainingError.corruptRun(path: optURL.path, reason: "the velocity has \(velocity.count) elements, θ has \(θ.count)")
        }
        func startVector(_ name: String, _ what: String) throws -> Tensor<Float>? {
            guard opt.names.contains(name) else { return nil }
            let v = Tensor(try checked(optURL) { try opt.finiteFloats(named: name) })
            guard v.count == θ.count else { throw TrainingError.corruptRun(path: optURL.path, reason: "\(what) has \(v.count) elements, θ has \(θ.count)") }
            return v
        }
        let eigen = try startVector("eigenvector", "the λ_max start vector")
        let stepEigen = try startVector("step_eigenvector", "the start vector of the steps' λ_max")
        let metrics = try EpochMetrics(fields: rows[epoch - 1].split(separator: ",", omittingEmptySubsequences: false).map(String.init),
                                       header: columns, path: metricsURL.path)
        return TrainingCheckpoint(epoch: epoch, parameters: θ, parametersPath: thetaURL.path, velocity: Tensor(velocity),
                                  step: entry.step, eigenvector: eigen, stepEigenvector: stepEigen, metrics: metrics,
                                  metricsRows: rows, records: Array(records.prefix(epoch)))
    }

    /// Cuts checkpoints.csv, metrics.csv and steps.csv after the epoch a run continues from (a
    /// state from ``lastComplete(layout:stepsPerEpoch:)``; `nil`: the run starts again from epoch 1).
    /// - Throws: ``TrainingError/corruptRun(path:reason:)`` when steps.csv's rows of the complete
    ///   epochs are not the steps K, 2K, … up to the state's step; I/O errors.
    public func prepareToContinue(after state: TrainingCheckpoint?) throws {
        if state == nil { log("note: \(directory.path) holds no complete epoch; the run starts again from epoch 1") }
        let steps = try recordsSteps ? stepRows(through: state) : []
        let curvatures = try recordsStepCurvature ? stepCurvatureRows(through: state) : []
        try rewrite(records: state?.records ?? [], metrics: state?.metricsRows ?? [], steps: steps, stepCurvatures: curvatures)
    }

    /// Writes checkpoints.csv and metrics.csv holding these epochs, and steps.csv (when the run
    /// records steps) holding these rows.
    func rewrite(records: [RunRecord.Entry], metrics: [String], steps: [String] = [], stepCurvatures: [String] = []) throws {
        self.records = records
        try AtomicFile.write(RunRecord.text(of: records), to: directory.appendingPathComponent(RunRecord.fileName))
        try AtomicFile.write(([header] + metrics).joined(separator: "\n") + "\n", to: metricsURL)
        if recordsSteps { try AtomicFile.write(([StepMetrics.csvHeader] + steps).joined(separator: "\n") + "\n", to: stepsURL) }
        if recordsStepCurvature {
            try AtomicFile.write(([StepCurvatureMetrics.csvHeader] + stepCurvatures).joined(separator: "\n") + "\n", to: stepCurvatureURL)
        }
    }

    /// steps.csv's rows of the epochs up to `state`'s (none for `nil`): those of later epochs,
    /// and a last row cut by a kill, are left out.
    /// - Throws: ``TrainingError/corruptRun(path:reason:)`` for another header, a row of another
    ///   width, or rows that are not the steps K, 2K, … ≤ the state's step, in order.
    func stepRows(through state: TrainingCheckpoint?) throws -> [String] {
        try rowsPerStep(of: stepsURL, header: StepMetrics.csvHeader, width: StepMetrics.columns.count + StepMetrics.probeColumns.count,
                        every: configuration.probes.lambdaEverySteps ?? 1, what: "λ_max", through: state)
    }

    /// step-curvature.csv's rows of the epochs up to `state`'s, as ``stepRows(through:)`` (a row per step).
    /// - Throws: as ``stepRows(through:)``.
    func stepCurvatureRows(through state: TrainingCheckpoint?) throws -> [String] {
        try rowsPerStep(of: stepCurvatureURL, header: StepCurvatureMetrics.csvHeader, width: StepCurvatureMetrics.columns.count,
                        every: 1, what: "the curvature along the step", through: state)
    }

    /// The rows of a file with a row every `every` SGD steps (epoch, then step, first), of the
    /// epochs up to `state`'s (none for `nil`): those of later epochs, and a last row cut by a
    /// kill, are left out.
    /// - Throws: ``TrainingError/corruptRun(path:reason:)`` for another header, a row of another
    ///   width, or rows that are not the steps K, 2K, … ≤ the state's step, in order.
    func rowsPerStep(of url: URL, header: String, width: Int, every: Int, what: String, through state: TrainingCheckpoint?) throws -> [String] {
        func bad(_ reason: String) -> TrainingError { .corruptRun(path: url.path, reason: reason) }
        let schedule = every == 1 ? "\(what) after every step" : "\(what) every \(every) steps"
        guard let state else { return [] }
        let text: String
        do {
            guard let read = try TextFile.readIfPresent(url) else {
                log("warning: \(url.path) is missing; its rows of epochs 1…\(state.epoch) are lost, and the run goes on writing it")
                return []
            }
            text = read
        } catch { throw TrainingError.corruptRun(path: error.path, reason: error.problem) }
        var (lines, terminated) = TextFile.lines(of: text)
        if !terminated, !lines.isEmpty { lines.removeLast() }   // cut while it was appended
        guard lines.first.map(String.init) == header else { throw bad("does not start with the expected header") }
        var rows: [String] = []
        for (k, line) in lines.enumerated().dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard let epoch = Int(fields[0]) else { throw bad("line \(k + 1) holds epoch '\(fields[0])', not an integer") }
            if epoch > state.epoch { continue }
            guard fields.count == width else { throw bad("line \(k + 1) has \(fields.count) fields, the header has \(width)") }
            let expected = (rows.count + 1) * every
            guard Int(fields[1]) == expected else {
                throw bad("line \(k + 1) holds step '\(fields[1])' where step \(expected) belongs (\(schedule))")
            }
            rows.append(String(line))
        }
        guard rows.count == state.step / every else {
            throw bad("holds \(rows.count) rows of epochs 1…\(state.epoch), which took \(state.step) steps: \(schedule) gives \(state.step / every)")
        }
        return rows
    }

    /// Appends a row to steps.csv (in place, not atomically; see the type's description).
    /// - Throws: ``/Checkpoints/CheckpointError/ioFailure(path:operation:reason:)``.
    public func append(step row: StepMetrics) throws { try appendLine(row.csvRow, to: stepsURL) }

    /// Appends a row to step-curvature.csv (in place, not atomically; see the type's description).
    /// - Throws: ``/Checkpoints/CheckpointError/ioFailure(path:operation:reason:)``.
    public func append(stepCurvature row: StepCurvatureMetrics) throws { try appendLine(row.csvRow, to: stepCurvatureURL) }

    func appendLine(_ line: String, to url: URL) throws {
        do {
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((line + "\n").utf8))
        } catch {
            throw CheckpointError.ioFailure(path: url.path, operation: "append a row", reason: SystemError.reason(of: error))
        }
    }

    /// Appends a complete epoch: θ and the optimizer state (velocity, step, the λ_max start
    /// vectors of the epochs' and the steps' estimates) as checkpoints, then the epoch's record
    /// in checkpoints.csv, then its metrics row; each file atomically, in that order.
    /// - Returns: the path of θ's checkpoint.
    /// - Throws: ``/Autodiff/AutodiffError`` for a θ that does not fit the layout; ``/Checkpoints/CheckpointError`` and I/O
    ///   errors; ``TrainingError/corruptRun(path:reason:)`` when metrics.csv cannot be read back.
    @discardableResult
    public func append(_ metrics: EpochMetrics, parameters θ: Tensor<Float>, model: any Model, velocity: Tensor<Float>, step: Int,
                       eigenvector: Tensor<Float>?, stepEigenvector: Tensor<Float>? = nil) throws -> String {
        let epoch = metrics.epoch
        let thetaURL = directory.appendingPathComponent(ParameterFiles.thetaName(epoch: epoch))
        let common = ["epoch": String(epoch), "step": String(step), "configuration_sha256": configurationHash]
        try model.layout.validate(θ)
        let thetaSum = try RunRecord.writeChecked(ParameterFiles.tensors(of: θ, layout: model.layout),
                                                  metadata: common.merging(["model": model.name, "seed": String(configuration.seed)]) { $1 }, to: thetaURL)
        var state: [(name: String, shape: [Int], values: [Float])] = [(name: "velocity", shape: [θ.count], values: velocity.scalars)]
        if let eigenvector { state.append((name: "eigenvector", shape: [θ.count], values: eigenvector.scalars)) }
        if let stepEigenvector { state.append((name: "step_eigenvector", shape: [θ.count], values: stepEigenvector.scalars)) }
        let optimizerSum = try RunRecord.writeChecked(state, metadata: common, to: directory.appendingPathComponent(ParameterFiles.optimizerName(epoch: epoch)))
        records.append(RunRecord.Entry(epoch: epoch, step: step, configuration: configurationHash, theta: thetaSum, optimizer: optimizerSum))
        try AtomicFile.write(RunRecord.text(of: records), to: directory.appendingPathComponent(RunRecord.fileName))
        let previous: String
        do { previous = try TextFile.readIfPresent(metricsURL) ?? header + "\n" } catch { throw TrainingError.corruptRun(path: error.path, reason: error.problem) }
        try AtomicFile.write(previous + metrics.csvRow + "\n", to: metricsURL)
        return thetaURL.path
    }
}

/// The state of a training run after a complete epoch, read back from its run directory and
/// checked against the run's records (``RunStore/lastComplete(layout:stepsPerEpoch:)``).
public struct TrainingCheckpoint {
    /// The last complete epoch.
    public let epoch: Int
    /// θ after it (length d).
    public let parameters: Tensor<Float>
    /// The path of its θ file.
    public let parametersPath: String
    /// The SGD momentum buffer (length d).
    public let velocity: Tensor<Float>
    /// SGD steps taken.
    public let step: Int
    /// The power-iteration vector of that epoch, if λ_max was estimated.
    public let eigenvector: Tensor<Float>?
    /// The vector of the last λ_max inside an epoch (``ProbeSettings/lambdaEverySteps``), if one was estimated.
    public let stepEigenvector: Tensor<Float>?
    /// The epoch's metrics row, read back: what ``TrainingConfiguration/isFinished(after:)`` decides from.
    public let metrics: EpochMetrics
    /// metrics.csv's rows of epochs 1…``epoch`` (without the header).
    public let metricsRows: [String]
    /// The records of checkpoints.csv up to that epoch.
    public let records: [RunRecord.Entry]
}

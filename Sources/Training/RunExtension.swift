import Autodiff
import Checkpoints
import Datasets
import Foundation
import Layers
import Tensors

/// The θ a run starts from instead of a fresh initialization (`landscape train --from-checkpoint`):
/// a parameter file of the run's model and the SHA-256 of its bytes, checked when the run starts
/// (also when it starts again from epoch 1 on resume), so that a run records what it began with.
public struct InitialParameters: Codable, Equatable, Sendable {
    /// The parameter file (safetensors, ``/Checkpoints/saveParameters(_:layout:to:metadata:)``), as given.
    public var path: String
    /// SHA-256 of the file's bytes, lowercase hex.
    public var sha256: String

    /// A file and the SHA-256 of its bytes as recorded (``init(file:)`` reads the file).
    public init(path: String, sha256: String) {
        self.path = path
        self.sha256 = sha256
    }

    /// The file at `path` with the SHA-256 of its bytes now.
    /// - Throws: ``TrainingError/invalidRun(_:)`` when it cannot be read.
    public init(file path: String) throws {
        self.init(path: path, sha256: try Self.digest(of: path))
    }

    static func digest(of path: String) throws -> String {
        do { return SHA256.hexDigest(of: try TextFile.readBytes(URL(fileURLWithPath: path), maximumBytes: 1 << 34)) } catch {
            throw TrainingError.invalidRun("cannot read the starting checkpoint \(path): \(error.problem)")
        }
    }

    /// θ from the file, after checking that its bytes are still those recorded.
    /// - Throws: ``TrainingError/invalidRun(_:)`` for a changed or unreadable file; ``/Checkpoints/CheckpointError``
    ///   for a file that does not hold `layout` (naming the tensor).
    public func load(layout: ParameterLayout) throws -> Tensor<Float> {
        let now = try Self.digest(of: path)
        guard now == sha256 else {
            throw TrainingError.invalidRun("the starting checkpoint \(path) changed since the run started (SHA-256 \(now), the run records \(sha256)); restore it or start a new run")
        }
        return try loadParameters(from: URL(fileURLWithPath: path), layout: layout)
    }
}

extension Schedule {
    /// Whether the learning rate of a step depends on the run's total length (cosine annealing
    /// spans all epochs): such a run cannot be extended without changing what its epochs meant.
    public var spansRunLength: Bool {
        if case .cosine = self { return true }
        return false
    }
}

/// What run.json says about a run, read without taking the run's lock: for commands that use a
/// run's checkpoints (`probe`, `slice`, `taylor`, `check`).
public struct RecordedRun: Sendable {
    /// The directory whose run.json this was read from.
    public let directory: URL
    /// The run's configuration (with its extensions, ``RunStore/extend(toEpochs:after:)``).
    public let configuration: TrainingConfiguration
    /// The data directory the run read (run.json's `data.directory`, absolute), if recorded.
    public let dataDirectory: String?
}

extension RunStore {
    /// The key of run.json listing a run's extensions: `[{"epochs": N, "previous_epochs": E, "after_epoch": K, "date": …}]`.
    public static let extensionsKey = "extensions"

    /// The run in `directory` as its run.json records it; `nil` when there is no run.json.
    /// - Throws: ``TrainingError/corruptRun(path:reason:)`` for an unreadable or edited run.json.
    public static func recordedRun(in directory: URL) throws -> RecordedRun? {
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent(runInfoName).path) else { return nil }
        let (configuration, _, data) = try readRunInfo(directory)
        return RecordedRun(directory: directory, configuration: configuration, dataDirectory: data["directory"] as? String)
    }

    /// The epochs of the last extension recorded in run.json's object `info`, if any.
    static func extendedEpochs(_ info: [String: Any]) -> Int? {
        (info[extensionsKey] as? [[String: Any]])?.last?["epochs"] as? Int
    }

    /// Extends the run to `epochs` epochs (more than its configuration's), after its last complete
    /// epoch `epoch`: run.json keeps the configuration and its SHA-256 (every checkpoint records
    /// them) and lists the extension under ``extensionsKey``; the store's ``configuration`` then
    /// has the new length. A schedule that spans the run's length (cosine) is refused: its epochs
    /// already trained would not be those of an `epochs`-epoch run.
    /// - Throws: ``TrainingError/invalidRun(_:)`` naming the reason; I/O errors.
    public func extend(toEpochs epochs: Int, after epoch: Int) throws {
        let c = configuration
        guard epochs > c.epochs else { throw TrainingError.invalidRun("--epochs \(epochs) does not extend \(directory.path): it has \(c.epochs) epochs") }
        guard epochs <= TrainingConfiguration.maximumEpochs else {
            throw TrainingError.invalidRun("--epochs must be at most \(TrainingConfiguration.maximumEpochs), got \(epochs)")
        }
        guard !c.schedule.spansRunLength else {
            throw TrainingError.invalidRun("\(directory.path) uses the \(c.schedule) schedule, whose learning rate at each step depends on the run's total length (\(c.epochs) epoch\(c.epochs == 1 ? "" : "s")): the \(epoch) epoch\(epoch == 1 ? "" : "s") trained would not be those of a \(epochs)-epoch run. Start a new run from its last checkpoint instead: landscape train --from-checkpoint \(directory.appendingPathComponent(ParameterFiles.thetaName(epoch: epoch)).path) --epochs N")
        }
        let url = directory.appendingPathComponent(Self.runInfoName)
        let raw: String
        do { raw = try TextFile.read(url) } catch { throw TrainingError.corruptRun(path: url.path, reason: error.problem) }
        guard var info = try? JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: Any] else {
            throw TrainingError.corruptRun(path: url.path, reason: "is not a JSON object")
        }
        var list = info[Self.extensionsKey] as? [[String: Any]] ?? []
        list.append(["epochs": epochs, "previous_epochs": c.epochs, "after_epoch": epoch, "date": ISO8601DateFormatter().string(from: Date())])
        info[Self.extensionsKey] = list
        try AtomicFile.write(try JSONText.data(info), to: url)
        configuration.epochs = epochs
    }
}

extension TrainingConfiguration {
    /// The same run as `other` but perhaps for its length (``epochs``): what `train --resume DIR
    /// --epochs N` may change (``RunStore/extend(toEpochs:after:)``).
    public func describesSameRun(as other: TrainingConfiguration, butEpochs: Bool) -> Bool {
        var a = self
        if butEpochs { a.epochs = other.epochs }
        return a.describesSameRun(as: other)
    }
}

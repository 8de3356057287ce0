import Checkpoints
import Datasets
import Foundation

/// What a training run records about itself so that `--resume` can check every file it reads:
///
/// - `run.json` holds the configuration and its SHA-256 (``TrainingConfiguration/sha256``; for a
///   run.json of the flat form, that form's SHA-256: ``RunStore``);
/// - each checkpoint's safetensors metadata holds its `epoch`, the optimizer `step`, the
///   `configuration_sha256` and `tensors_sha256` (SHA-256 of the data buffer after the header);
/// - `checkpoints.csv` holds one record per epoch (``header``): the step and the three
///   checksums, written after both checkpoint files and before the epoch's metrics row;
/// - `metrics.csv` holds the rows of epochs 1, 2, 3, … once each, every one complete.
public enum RunRecord {
    /// The file of per-epoch checkpoint records.
    public static let fileName = "checkpoints.csv"
    /// Its header.
    public static let header = "epoch,step,configuration_sha256,theta_sha256,optimizer_sha256"

    /// One epoch's record in checkpoints.csv.
    public struct Entry: Equatable, Sendable {
        /// The epoch, its SGD step count after it, and the SHA-256 of the configuration and of each checkpoint's tensors.
        public var epoch: Int, step: Int, configuration: String, theta: String, optimizer: String

        var line: String { "\(epoch),\(step),\(configuration),\(theta),\(optimizer)" }
    }

    /// The SHA-256 (lowercase hex) of a safetensors file's data buffer.
    public static func tensorsChecksum(of file: SafeTensorsFile) -> String {
        file.withDataBuffer { SHA256.hexDigest(of: $0) }
    }

    /// Writes F32 tensors atomically with `metadata` plus `tensors_sha256`, their checksum.
    /// - Returns: the checksum.
    /// - Throws: ``/Checkpoints/CheckpointError``.
    @discardableResult
    public static func writeChecked(_ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String], to url: URL) throws -> String {
        let payload = tensors.map { (name: $0.name, shape: $0.shape, payload: SafeTensorsPayload.f32($0.values)) }
        let checksum = tensorsChecksum(of: try SafeTensors.parse(try SafeTensors.encode(payload, metadata: metadata)))
        try SafeTensors.write(payload, metadata: metadata.merging(["tensors_sha256": checksum]) { $1 }, to: url)
        return checksum
    }

    /// The complete rows of a run's metrics.csv (without the header): epochs 1, 2, 3, … in order.
    /// The header must name `columns` in any order, or older names of them (`renamed`: old name →
    /// current); columns of `added` (name → the value rows written before it existed get) may be
    /// missing. The rows returned have `columns`, in that order.
    /// A last row that is cut (fewer fields than the header, or no final newline) is dropped with
    /// a warning to `log`; it is never kept.
    /// - Throws: ``TrainingError/corruptRun(path:reason:)`` naming the file and line for a wrong
    ///   header, a row of the wrong length before the last, or epochs out of order or repeated.
    public static func completeRows(of url: URL, columns: [String], renamed: [String: String] = [:], added: [String: String] = [:],
                                    log: (String) -> Void) throws -> [String] {
        let text: String
        do { text = try TextFile.read(url) } catch { throw TrainingError.corruptRun(path: error.path, reason: error.problem) }
        let (lines, ended) = TextFile.lines(of: text)
        let header = lines.first.map { $0.split(separator: ",", omittingEmptySubsequences: false).map { renamed[String($0)] ?? String($0) } }
        let missing = columns.filter { !(header ?? []).contains($0) }
        guard let header, Set(header) == Set(columns).subtracting(missing), header.count == Set(header).count,
              missing.allSatisfy({ added[$0] != nil }) else {
            throw TrainingError.corruptRun(path: url.path, reason: "does not start with the expected header")
        }
        let width = header.count
        var rows: [String] = []
        for k in 1..<lines.count {
            let fields = lines[k].split(separator: ",", omittingEmptySubsequences: false)
            let last = k == lines.count - 1
            if last && (!ended || fields.count < width) {
                log("warning: \(url.path): the last row (line \(k + 1), \(fields.count) of \(width) fields\(ended ? "" : ", no final newline")) is cut; it is dropped and its epoch is run again")
                break
            }
            guard fields.count == width else {
                throw TrainingError.corruptRun(path: url.path, reason: "line \(k + 1) has \(fields.count) fields, the header has \(width)")
            }
            let epochField = fields[header.firstIndex(of: "epoch") ?? 0]
            guard let epoch = Int(epochField), epoch == rows.count + 1 else {
                throw TrainingError.corruptRun(path: url.path, reason: "line \(k + 1) holds epoch '\(epochField)' where epoch \(rows.count + 1) belongs (the rows must be epochs 1, 2, 3, … once each)")
            }
            if header == columns {
                rows.append(String(lines[k]))
            } else {
                var values = Dictionary(uniqueKeysWithValues: zip(header, fields.map(String.init)))
                for c in missing { values[c] = added[c] }
                rows.append(columns.map { values[$0]! }.joined(separator: ","))
            }
        }
        return rows
    }

    /// The records of checkpoints.csv, epochs 1, 2, 3, … in order.
    /// - Throws: ``TrainingError/corruptRun(path:reason:)`` for a missing file, a wrong header or a malformed or misplaced record.
    public static func entries(in dir: URL) throws -> [Entry] {
        let url = dir.appendingPathComponent(fileName)
        let text: String
        do { text = try TextFile.read(url) } catch {
            throw TrainingError.corruptRun(path: error.path, reason: error.isMissing
                ? "does not exist: without it the checkpoints cannot be verified (a run written by an older landscape cannot be resumed)" : error.problem)
        }
        let lines = TextFile.lines(of: text).lines.filter { !$0.isEmpty }
        guard lines.first.map(String.init) == header else { throw TrainingError.corruptRun(path: url.path, reason: "does not start with the expected header") }
        var out: [Entry] = []
        for (k, line) in lines.dropFirst().enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 5, let epoch = Int(f[0]), let step = Int(f[1]), f[2...].allSatisfy({ $0.count == 64 }) else {
                throw TrainingError.corruptRun(path: url.path, reason: "line \(k + 2) is not a record of epoch, step and three SHA-256 checksums")
            }
            guard epoch == out.count + 1 else {
                throw TrainingError.corruptRun(path: url.path, reason: "line \(k + 2) records epoch \(epoch) where epoch \(out.count + 1) belongs")
            }
            out.append(Entry(epoch: epoch, step: step, configuration: f[2], theta: f[3], optimizer: f[4]))
        }
        return out
    }

    /// The text of checkpoints.csv holding `entries`.
    static func text(of entries: [Entry]) -> String {
        ([header] + entries.map(\.line)).joined(separator: "\n") + "\n"
    }

    /// Reads a checkpoint and checks it against its epoch's record: the metadata's epoch, step,
    /// configuration checksum and tensors checksum, and the checksum of the tensors themselves.
    /// - Throws: ``TrainingError/corruptRun(path:reason:)`` naming the file and the mismatch; ``CheckpointError`` for unreadable files.
    static func verifiedFile(_ url: URL, entry: Entry, checksum: String) throws -> SafeTensorsFile {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TrainingError.corruptRun(path: url.path, reason: "is missing, but \(fileName) records epoch \(entry.epoch)")
        }
        let file = try SafeTensors.read(from: url)
        func bad(_ reason: String) -> TrainingError { .corruptRun(path: url.path, reason: reason) }
        let m = file.metadata
        guard m["epoch"] == String(entry.epoch) else {
            throw bad("its metadata says epoch \(m["epoch"] ?? "(none)"), but it is the checkpoint of epoch \(entry.epoch) (another epoch's file was put in its place?)")
        }
        guard m["step"] == String(entry.step) else {
            throw bad("its metadata says step \(m["step"] ?? "(none)"), \(fileName) records step \(entry.step) after epoch \(entry.epoch)")
        }
        guard m["configuration_sha256"] == entry.configuration else {
            throw bad("it was written with another configuration (its configuration_sha256 differs from the one \(fileName) records)")
        }
        let actual = tensorsChecksum(of: file)
        guard m["tensors_sha256"] == checksum, actual == checksum else {
            throw bad("its tensors' SHA-256 is \(actual), the run recorded \(checksum) for epoch \(entry.epoch) in \(fileName): the file was changed after it was written")
        }
        return file
    }
}

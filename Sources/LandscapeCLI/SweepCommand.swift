import ArgumentParser
import Checkpoints
import Datasets
import Foundation
import Study
import Training

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Grids of training runs with the study's epoch probes: plan a manifest, run its tasks (Slurm job arrays, Kubernetes Indexed Jobs, or locally).",
        subcommands: [SweepPlanCommand.self])
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
        outLine("manifest: \(manifest.path)")
        outLine("run on Slurm:  sbatch --array=0-\(tasks.count - 1) scripts/slurm/sweep.sbatch \(manifest.path)")
        outLine("run here:      landscape sweep run \(manifest.path) --local --jobs 2")
    }
}

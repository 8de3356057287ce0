import ArgumentParser
import Foundation
import Study

struct SweepReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Merge a sweep's tasks into DIR/sweep.csv, DIR/summary.md and DIR/figures/ (also of a partial sweep, listing its unfinished tasks), and print the table over seeds.",
        discussion: """
        Each task of DIR/manifest.jsonl is finished, diverged, partial or missing; finished tasks contribute the last \
        epoch of DIR/<id>/metrics.csv. sweep.csv has one row per task (axis values, B, η, μ, η/B, the stability limit, \
        final losses and accuracies, learned (0: stuck at chance, final train accuracy below \(SweepReport.learnedTrainAccuracy)), \
        the generalization gaps, λ_max, λ_max·η/2, λ_max/limit, the trace, S_ε, epochs, seconds); summary.md aggregates \
        over seeds per (B, η), names the cells with tasks stuck at chance, and says per quantity whether it collapses \
        onto one curve in η/B (each difference between batch sizes at equal η/B against its own seed noise by Welch's \
        t, calibrated to a normal-equivalent z: RMS z ≤ \(String(format: "%g", SweepReport.Collapse.zLimit))), over all finished \
        tasks and over those that learned; the figures draw each quantity (every finished task) against η/B, one colour \
        per batch size, and λ_max against 2(1+μ)/η. A study's directory (`landscape study --plan`) is reported by \
        `landscape report DIR` instead.
        """)

    @Argument(help: "The sweep directory (holding manifest.jsonl), or its manifest.jsonl.") var directory: String

    func run() throws {
        let manifest = SweepManifest.manifestURL(directory).standardizedFileURL
        // A path that is not a directory must be a sweep's own manifest: the report is written beside it.
        guard manifest.lastPathComponent == SweepManifest.fileName else {
            throw CLIError(description: "\(directory): not a sweep directory, nor a sweep's \(SweepManifest.fileName)")
        }
        let dir = manifest.deletingLastPathComponent()
        let written = try SweepReport.write(in: dir, log: stderrLine)
        outLine(written.table)
        // The judgement over the tasks that learned only when some task is stuck at chance (else it is the same).
        for c in written.collapses where c.tasks == .finished || !written.stuck.isEmpty {
            outLine("\(SweepReport.metrics.first { $0.id == c.metric }?.label ?? c.metric)\(c.family.isEmpty ? "" : " (\(c.family))") [\(c.tasks.rawValue)]: \(c.sentence)")
        }
        if !written.stuck.isEmpty {
            outLine("stuck at chance (\(written.stuck.count), final train accuracy below \(SweepReport.learnedTrainAccuracy)): tasks " + written.stuck.map { String($0.index) }.joined(separator: ", "))
        }
        if !written.unfinished.isEmpty {
            outLine("not finished (\(written.unfinished.count), left out of the table and figures):")
            for t in written.unfinished { outLine("  task \(t.index) \(t.id): \(t.status.name)" + (t.failure.map { " (\($0))" } ?? (t.epochs > 0 ? " (\(t.epochs) epochs)" : ""))) }
        }
        outLine("wrote \(written.files.count) files in \(dir.path): sweep.csv, summary.md, figures/")
    }
}

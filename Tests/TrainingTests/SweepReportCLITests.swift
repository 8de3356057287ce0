import Foundation
import Testing

/// `landscape sweep report` through the command line: a planned sweep with no task run yet is
/// reported (every task listed as missing, the files written); a directory without a manifest is
/// an error naming it.
@Suite struct SweepReportCLITests {
    @Test func aSweepWithNoTaskRunListsEveryTaskAsMissing() throws {
        guard let exe = landscapeExecutable() else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-sweep-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let sweepFile = dir.appendingPathComponent("grid.json")
        try Data(#"{"training": {"epochs": 1}, "axes": {"batchSize": [64, 128], "seed": [0, 1]}}"#.utf8).write(to: sweepFile)
        let out = dir.appendingPathComponent("sweep")
        let plan = try runLandscape(exe, ["sweep", "plan", sweepFile.path, "--output-dir", out.path])
        #expect(plan.status == 0, "\(plan.output)")
        let manifest = try String(contentsOf: out.appendingPathComponent("manifest.jsonl"), encoding: .utf8)
        let ids = manifest.split(separator: "\n").compactMap { line -> String? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? String
        }
        #expect(ids.count == 4)
        let r = try runLandscape(exe, ["sweep", "report", out.path])
        #expect(r.status == 0 && !r.signalled, "\(r.output)")
        for (k, id) in ids.enumerated() { #expect(r.output.contains("task \(k) \(id): missing"), "\(r.output)") }
        for name in ["sweep.csv", "summary.md", "figures/lambda_max-vs-eta-over-b.svg", "figures/lambda_max-vs-stability-limit.svg"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(name) was not written")
        }
        let summary = try String(contentsOf: out.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("4 tasks: 0 finished, 0 diverged, 0 partial, 4 missing."))
        #expect(summary.contains("too few overlapping points to tell"))
        // The manifest's path names the same sweep.
        let again = try runLandscape(exe, ["sweep", "report", out.appendingPathComponent("manifest.jsonl").path])
        #expect(again.status == 0 && again.output.contains("task 0 \(ids[0]): missing"), "\(again.output)")
    }

    @Test func aDirectoryWithoutAManifestIsAnErrorNamingIt() throws {
        guard let exe = landscapeExecutable() else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-sweep-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let r = try runLandscape(exe, ["sweep", "report", dir.path])
        #expect(r.status != 0 && !r.signalled)
        #expect(r.output.contains("manifest.jsonl"), "\(r.output)")
    }
}

import Foundation
import Testing
@testable import Study

/// `landscape study --preset quick` learns — every configuration above 90 % test
/// accuracy — so that its first look shows the full study's picture. It runs the release binary
/// (a debug build of the CNN takes many times the preset's 3 minutes): `scripts/test.sh` builds it
/// and names it in `LANDSCAPE_RELEASE_BINARY`.
@Suite(.serialized) struct QuickPresetTests {
    @Test func everyConfigurationOfTheQuickPresetIsAbove90PercentTestAccuracy() throws {
        guard let data = sharedMNIST() else {
            Issue.record("MNIST not found at ../shared/data/mnist: the quick preset's accuracy was not checked")
            return
        }
        guard let binary = ProcessInfo.processInfo.environment["LANDSCAPE_RELEASE_BINARY"], FileManager.default.isExecutableFile(atPath: binary) else {
            print("QuickPresetTests: skipped — set LANDSCAPE_RELEASE_BINARY to a release build of landscape (scripts/test.sh does) to run the quick preset")
            return
        }
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["study", "--preset", "quick", "--data-directory", data.path, "--output-dir", out.path, "--no-progress"]
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-quick-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        try #require(process.terminationStatus == 0, "landscape study --preset quick exited \(process.terminationStatus):\n\(text.suffix(3000))")
        let config = try StudyConfiguration.loadSaved(from: out.appendingPathComponent("config.json"))
        let metrics = try CSVTable.read(out.appendingPathComponent("metrics.csv"))
        for run in config.runs {
            let last = try #require(metrics.rows.last { config.runName(ofRow: $0) == run.name }, "no metrics row of \(run.name)")
            let epochs = try config.training(for: run).epochs
            #expect(last["epoch"] == String(epochs), "\(run.name) stopped at epoch \(last["epoch"] ?? "?") of \(epochs)")
            let accuracy = Double(last["test_accuracy"] ?? "") ?? .nan
            #expect(accuracy > 0.9, "\(run.name): test accuracy \(accuracy) after epoch \(last["epoch"] ?? "?")")
        }
    }
}

import Foundation
import Testing

/// Inputs that must be answered before any work starts: `--version` after a subcommand (which
/// would otherwise start that command's default job), an empty data directory for `fetch`, and
/// an output file of `taylor --json` that cannot be written (checked before the derivatives).
@Suite struct EarlyRefusalCLITests {
    @Test func versionAfterASubcommandPrintsTheVersionAndStartsNothing() throws {
        guard let exe = landscapeExecutable() else { return }
        let cwd = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-version-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: cwd, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: cwd) }
        for args in [["train", "--version"], ["study", "--version"], ["probe", "--only", "trace", "--version"], ["--version", "train"]] {
            let r = try runLandscape(exe, args, in: cwd)
            #expect(r.status == 0 && r.output.hasPrefix("landscape ") && r.output.contains("OpenBLAS"), "\(args): \(r.output)")
            // Nothing was started: no run directory, no fetched data.
            #expect(try FileManager.default.contentsOfDirectory(atPath: cwd.path).isEmpty, "\(args)")
        }
    }

    @Test func fetchRefusesAnEmptyDataDirectory() throws {
        guard let exe = landscapeExecutable() else { return }
        let r = try runLandscape(exe, ["fetch", "--data-directory", ""])
        #expect(r.status != 0 && r.output.contains("--data-directory: must not be empty"), "\(r.output)")
    }

    @Test func taylorChecksItsJSONFileBeforeComputing() throws {
        guard let exe = landscapeExecutable() else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-taylor-json-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String)] = [("", "--json: must not be empty"), (dir.path, "is a directory"),
                                         (dir.appendingPathComponent("missing/x.json").path, "does not exist")]
        for (path, message) in cases {
            let r = try runLandscape(exe, ["taylor", "--json", path], in: dir)
            #expect(r.status != 0 && r.output.contains(message), "\(path): \(r.output)")
            // Refused before any data was loaded (nothing fetched into the working directory).
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("data").path), "\(path)")
        }
    }
}

extension EarlyRefusalCLITests {
    @Test func reportNamesBothKindsOfDirectory() throws {
        guard let exe = landscapeExecutable() else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-report-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runLandscape(exe, ["report", dir.path])
        #expect(r.status != 0 && r.output.contains("neither config.json") && r.output.contains("run.json"), "\(r.output)")
    }
}

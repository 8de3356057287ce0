import Foundation
import Testing
import Checkpoints
import Layers

/// Issue 24, class 4 ("results that vanish or lie") through the command line, on the small
/// synthetic data set in Tests/Fixtures/data.
@Suite struct ResultCLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The fixture data and the smallest probe batch.
    static let data = ["--data-dir", root.appendingPathComponent("Tests/Fixtures/data").path, "--validation", "16", "--samples", "8"]
    /// `landscape probe`'s suite at its smallest.
    static let smallProbe = ["--top", "1", "--lanczos-steps", "4", "--slq-probes", "1", "--slq-steps", "2", "--trace-probes", "6",
                             "--sharpness-directions", "1", "--ascent-steps", "1", "--power-iterations", "2"]

    @Test func nonFiniteProbeResultsAreWrittenAsStringsBesideTheOthers() throws {
        guard let exe = landscapeExecutable() else { return }
        let out = temporaryDirectory().appendingPathComponent("probe")
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        // θ + 1e308·u overflows the model, and ½ε²λ_max = 0.5·1e616·λ_max overflows Float64.
        let r = try runLandscape(exe, ["probe", "--epsilon", "1e308", "--output-dir", out.path] + Self.smallProbe + Self.data)
        #expect(r.status == 0 && !r.signalled, "\(r.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("probe.json"))) as? [String: Any])
        let sharpness = try #require(json["sharpness"] as? [String: Any])
        // λ_max of the fresh MLP's Hessian is positive, so ½ε²λ_max is +∞.
        #expect(sharpness["half_eps2_lambda_max"] as? String == "inf", "\(sharpness)")
        #expect(["nan", "inf", "-inf"].contains(sharpness["max"] as? String ?? ""), "\(sharpness)")
        #expect(sharpness["epsilon"] as? Double == 1e308)
        // Every other result is kept.
        #expect((json["lambda_min"] as? Double)?.isFinite == true && (json["trace_hutchinson"] as? [String: Any])?["estimate"] is Double, "\(json)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("density.csv").path))
        #expect(r.output.contains("not finite") && r.output.contains("sharpness.half_eps2_lambda_max"), "\(r.output)")
    }
}

extension ResultCLITests {
    /// A 1D slice of three points: the quickest command that writes results.
    static let smallSlice = ["slice", "--dimensions", "1", "--points", "3", "--taylor-order", "1"] + data

    @Test func aFailedCommandRemovesOnlyTheDirectoriesItCreated() throws {
        guard let exe = landscapeExecutable() else { return }
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        let missing = ["--parameters", base.appendingPathComponent("missing.safetensors").path]
        // The current directory, empty: kept.
        let empty = base.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        for command in ["slice", "probe"] {
            let r = try runLandscape(exe, [command, "--output-dir", "."] + missing + Self.data, in: empty)
            #expect(r.status != 0 && r.output.contains("missing.safetensors"), "\(r.output)")
            #expect(FileManager.default.fileExists(atPath: empty.path), "\(command) removed the current directory")
        }
        // An existing empty directory named by its path: kept.
        let r = try runLandscape(exe, Self.smallSlice + ["--output-dir", empty.path] + missing)
        #expect(r.status != 0 && FileManager.default.fileExists(atPath: empty.path), "\(r.output)")
        // Directories the command made, the missing parent included: removed; the existing one above them kept.
        let made = base.appendingPathComponent("new/out")
        let s = try runLandscape(exe, Self.smallSlice + ["--output-dir", made.path] + missing)
        #expect(s.status != 0, "\(s.output)")
        #expect(!FileManager.default.fileExists(atPath: base.appendingPathComponent("new").path))
        #expect(FileManager.default.fileExists(atPath: base.path))
    }

    @Test func sliceAndProbeRefuseADirectoryAnotherProcessIsWritingIn() throws {
        guard let exe = landscapeExecutable() else { return }
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // flock locks belong to the open file description, so the child's lock conflicts with this one.
        let fd = try #require(try DirectoryLock.acquire(in: dir))
        for command in [Self.smallSlice, ["probe"] + Self.smallProbe + Self.data] {
            let r = try runLandscape(exe, command + ["--output-dir", dir.path])
            #expect(r.status != 0 && r.output.contains("another landscape process is writing in it"), "\(r.output)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [DirectoryLock.fileName])
        DirectoryLock.release(fd)
        let first = try runLandscape(exe, Self.smallSlice + ["--output-dir", dir.path])
        #expect(first.status == 0, "\(first.output)")
        // Once the first has written its results, a second is refused by them.
        let second = try runLandscape(exe, Self.smallSlice + ["--output-dir", dir.path])
        #expect(second.status != 0 && second.output.contains("already holds a run (slice1d.csv)"), "\(second.output)")
    }

    @Test func ofTwoSlicesStartedIntoOneDirectoryOneWrites() throws {
        // Before, both exited 0 and the second replaced the first's files.
        guard let exe = landscapeExecutable() else { return }
        let dir = temporaryDirectory().appendingPathComponent("slice")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let logs = (0..<2).map { _ in FileManager.default.temporaryDirectory.appendingPathComponent("landscape-cli-\(UUID().uuidString).log") }
        defer { for l in logs { try? FileManager.default.removeItem(at: l) } }
        let processes = try logs.map { try launchLandscape(exe, Self.smallSlice + ["--output-dir", dir.path], log: $0) }
        for p in processes { p.waitUntilExit() }
        let outputs = logs.map { (try? String(contentsOf: $0, encoding: .utf8)) ?? "" }
        #expect(processes.filter { $0.terminationStatus == 0 }.count == 1, "\(outputs)")
        #expect(outputs.contains { $0.contains("another landscape process is writing in it") || $0.contains("already holds a run") }, "\(outputs)")
    }
}

extension ResultCLITests {
    @Test func aPCASliceOfIdenticalCheckpointsIsRefused() throws {
        guard let exe = landscapeExecutable() else { return }
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        let run = base.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let model = MLP()
        for epoch in 1...3 {
            try saveParameters(model.initialParameters(Float.self, seed: 0), layout: model.layout,
                               to: run.appendingPathComponent(String(format: "theta-epoch-%03d.safetensors", epoch)))
        }
        let out = base.appendingPathComponent("slice")
        let r = try runLandscape(exe, Self.smallSlice + ["--directions", "pca", "--trajectory", run.path, "--output-dir", out.path])
        #expect(r.status != 0 && !r.signalled, "\(r.output)")
        #expect(r.output.contains("--trajectory \(run.path): PCA: the trajectory does not move"), "\(r.output)")
        #expect(!r.output.contains("explained variance") && !FileManager.default.fileExists(atPath: out.path), "\(r.output)")
    }
}

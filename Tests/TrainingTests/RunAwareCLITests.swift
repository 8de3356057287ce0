import Foundation
import Testing
import Autodiff
import Checkpoints
import Layers
import Tensors
import Training

/// Commands that know their run: the model and data of a checkpoint from its tensors and
/// run.json, train's checkpoint and next commands, Ctrl-C, extending a run, starting from a
/// checkpoint, check at a checkpoint, probe --only and direction files. Every run trains on the
/// synthetic fixture data (80 training images) to keep the tests short.
@Suite(.serialized) struct RunAwareCLITests {
    static let fixtureData = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/data").path
    /// A tiny run on the fixture data, its rate halved every epoch (a schedule that does not depend on the run's length).
    static let tiny = ["--data-dir", fixtureData, "--validation", "16", "--batch-size", "16", "--lambda-samples", "16",
                       "--lambda-iterations", "2", "--schedule", "step:1:0.5", "--no-progress"]

    /// metrics.csv as rows of named fields, the timings left out (they differ between runs).
    static func metrics(_ dir: URL) throws -> [[String: String]] {
        let lines = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = lines[0]
        return lines.dropFirst().map { row in Dictionary(uniqueKeysWithValues: zip(header, row).filter { !$0.0.hasSuffix("seconds") }) }
    }

    /// SHA-256 of a file by the system's sha256sum (an implementation independent of the package's).
    static func sha256sum(_ path: String) throws -> String? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum") else { return nil }
        let p = Process(), pipe = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        p.standardOutput = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return out.split(separator: " ").first.map(String.init)
    }

    static func json(_ url: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    /// train prints its last checkpoint and the commands that use it; a run of 1 epoch extended
    /// to 2 (rate halved every epoch) has the metrics of a 2-epoch run; a cosine run is not extended; Ctrl-C
    /// leaves a run that resumes to the same metrics; --from-checkpoint starts at the file's θ
    /// and records its SHA-256.
    @Test func trainKnowsItsCheckpointsAndRuns() throws {
        guard let exe = landscapeExecutable() else { return }
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let full = root.appendingPathComponent("full"), extended = root.appendingPathComponent("extended")
        let a = try runLandscape(exe, ["train", "--epochs", "2", "--output-dir", full.path] + Self.tiny)
        #expect(a.status == 0, "\(a.output)")
        let last = full.appendingPathComponent("theta-epoch-002.safetensors").path
        #expect(a.output.contains("last checkpoint: \(last)") && a.output.contains(" probe --parameters \(last)")
                && a.output.contains("landscape slice --parameters \(last)") && a.output.contains("landscape report \(full.path)"), "\(a.output)")

        // Extending a finished 1-epoch run to 2 epochs continues from epoch 1 with the same batches and state.
        let b = try runLandscape(exe, ["train", "--epochs", "1", "--output-dir", extended.path] + Self.tiny)
        #expect(b.status == 0, "\(b.output)")
        let more = try runLandscape(exe, ["train", "--resume", extended.path, "--epochs", "2", "--no-progress"])
        #expect(more.status == 0 && more.output.contains("extending \(extended.path) from 1 to 2 epochs"), "\(more.output)")
        #expect(try Self.metrics(extended) == Self.metrics(full))
        let extensions = try Self.json(extended.appendingPathComponent("run.json"))["extensions"] as? [[String: Any]]
        #expect(extensions?.count == 1 && extensions?[0]["epochs"] as? Int == 2 && extensions?[0]["after_epoch"] as? Int == 1, "\(String(describing: extensions))")
        // Its configuration and SHA-256 are the original's: the checkpoints keep verifying on resume.
        let again = try runLandscape(exe, ["train", "--resume", extended.path, "--no-progress"])
        #expect(again.status == 0 && again.output.contains("already finished all 2 epochs"), "\(again.output)")

        // Cosine spans the run's length: refused, naming the schedule and the way out.
        let cosine = root.appendingPathComponent("cosine")
        let c = try runLandscape(exe, ["train", "--epochs", "1", "--output-dir", cosine.path] + Self.tiny.map { $0 == "step:1:0.5" ? "cosine" : $0 })
        #expect(c.status == 0, "\(c.output)")
        let refused = try runLandscape(exe, ["train", "--resume", cosine.path, "--epochs", "2", "--no-progress"])
        #expect(refused.status != 0 && refused.output.contains("cosine") && refused.output.contains("--from-checkpoint"), "\(refused.output)")

        // A run that met its stopping rule is not extended (it would train no further).
        let early = root.appendingPathComponent("early")
        let r = try runLandscape(exe, ["train", "--epochs", "3", "--train-loss", "100", "--output-dir", early.path] + Self.tiny)
        #expect(r.status == 0 && r.output.contains("stopped: reached"), "\(r.output)")
        let notExtended = try runLandscape(exe, ["train", "--resume", early.path, "--epochs", "4", "--no-progress"])
        #expect(notExtended.status != 0 && notExtended.output.contains("stopping rule") && notExtended.output.contains("--from-checkpoint"), "\(notExtended.output)")
        #expect((try Self.json(early.appendingPathComponent("run.json"))["extensions"]) == nil)

        // Ctrl-C: the child stops at a step boundary, prints the resume command, and the run resumes to the same metrics.
        let stopped = root.appendingPathComponent("stopped")
        let log = root.appendingPathComponent("stopped.log")
        let p = try launchLandscape(exe, ["train", "--epochs", "2", "--output-dir", stopped.path] + Self.tiny, log: log)
        let deadline = Date().addingTimeInterval(300)
        while p.isRunning, Date() < deadline, ((try? Self.metrics(stopped).count) ?? 0) < 1 { Thread.sleep(forTimeInterval: 0.05) }
        let signalled = p.isRunning
        if signalled { kill(p.processIdentifier, SIGINT) }
        p.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        if signalled, (try Self.metrics(stopped).count) < 2 {
            #expect(p.terminationStatus == 130 && output.contains("landscape train --resume \(stopped.path)"), "\(output)")
            let resumed = try runLandscape(exe, ["train", "--resume", stopped.path, "--no-progress"])
            #expect(resumed.status == 0, "\(resumed.output)")
        } else {
            Issue.record("the run ended before SIGINT reached it; the interruption was not tested: \(output)")
        }
        #expect(try Self.metrics(stopped) == Self.metrics(full))

        // From a checkpoint: a step of a negligible rate without momentum leaves θ where the file put it.
        let started = root.appendingPathComponent("started")
        let d = try runLandscape(exe, ["train", "--from-checkpoint", last, "--epochs", "1", "--learning-rate", "1e-20", "--momentum", "0",
                                       "--output-dir", started.path] + Self.tiny)
        #expect(d.status == 0, "\(d.output)")
        let layout = MLP().layout
        let θ0 = try loadParameters(from: URL(fileURLWithPath: last), layout: layout), θ1 = try loadParameters(from: started.appendingPathComponent("theta-epoch-001.safetensors"), layout: layout)
        #expect(zip(θ0.scalars, θ1.scalars).allSatisfy { abs($0 - $1) <= 1e-6 * max(abs($0), 1e-3) })
        let initial = (try Self.json(started.appendingPathComponent("run.json"))["configuration"] as? [String: Any])?["initialParameters"] as? [String: Any]
        #expect(initial?["path"] as? String == last, "\(String(describing: initial))")
        if let expected = try Self.sha256sum(last) { #expect(initial?["sha256"] as? String == expected) }
        // A model given by any source that is not the file's is refused, naming the source as typed; nothing is written.
        let file = root.appendingPathComponent("cnn.json")
        try Data(#"{"model": "cnn"}"#.utf8).write(to: file)
        for (given, source) in [(["--model", "cnn"], "--model cnn"), (["--set", "model=cnn"], "--set model=cnn"), (["--config", file.path], "--config \(file.path) (model cnn)")] {
            let bad = root.appendingPathComponent("bad")
            let contradiction = try runLandscape(exe, ["train", "--from-checkpoint", last] + given + ["--output-dir", bad.path] + Self.tiny)
            #expect(contradiction.status != 0 && contradiction.output.contains("\(source) contradicts --from-checkpoint \(last), which holds the mlp's parameters"), "\(contradiction.output)")
            #expect(!FileManager.default.fileExists(atPath: bad.appendingPathComponent("run.json").path))
        }
        let agreeing = try runLandscape(exe, ["train", "--from-checkpoint", last, "--model", "mlp", "--print-config"])
        #expect(agreeing.status == 0 && agreeing.output.contains("\"model\" : \"mlp\""), "\(agreeing.output)")
    }

    /// A second Ctrl-C does not wait for the step boundary: `train` exits at once with 130, every
    /// complete epoch kept.
    @Test func aSecondSignalExitsAtOnce() throws {
        guard let exe = landscapeExecutable() else { return }
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("run"), log = root.appendingPathComponent("run.log")
        let p = try launchLandscape(exe, ["train", "--epochs", "1000", "--output-dir", run.path] + Self.tiny, log: log)
        let deadline = Date().addingTimeInterval(300)
        while p.isRunning, Date() < deadline, ((try? Self.metrics(run).count) ?? 0) < 1 { Thread.sleep(forTimeInterval: 0.05) }
        #expect(p.isRunning, "the run ended before the signals")
        // Two different signals: two of the same kind sent before the first is handled merge into
        // one (POSIX signals do not queue), which is what a loaded machine does.
        kill(p.processIdentifier, SIGTERM)
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(p.terminationReason == .exit && p.terminationStatus == 130 && output.contains("second signal: exiting now"), "\(output)")
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("theta-epoch-001.safetensors").path))
    }

    /// probe, check, slice and taylor on a run's checkpoint from another directory, without
    /// --model or data options: the model from the file, the data from run.json.
    @Test func commandsOnACheckpointUseItsRun() throws {
        guard let exe = landscapeExecutable() else { return }
        let root = temporaryDirectory(), elsewhere = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root); try? FileManager.default.removeItem(at: elsewhere) }
        let run = root.appendingPathComponent("run")
        let t = try runLandscape(exe, ["train", "--epochs", "2", "--output-dir", run.path] + Self.tiny)
        #expect(t.status == 0, "\(t.output)")
        let checkpoint = run.appendingPathComponent("theta-epoch-002.safetensors").path
        let small = ["--samples", "16", "--trace-probes", "6", "--top", "2", "--lanczos-steps", "6", "--power-iterations", "3"]

        // --only: only those probes, recorded in probe.json with the inputs.
        let out = root.appendingPathComponent("probe")
        let p = try runLandscape(exe, ["probe", "--parameters", checkpoint, "--only", "trace,lambda_min", "--output-dir", out.path] + small, in: elsewhere)
        #expect(p.status == 0 && p.output.contains("model mlp"), "\(p.output)")
        #expect(!FileManager.default.fileExists(atPath: elsewhere.appendingPathComponent("data").path), "the data came from run.json, not ./data/mnist")
        let json = try Self.json(out.appendingPathComponent("probe.json"))
        #expect(json["ran"] as? [String] == ["lambda_min", "trace"])
        #expect(json["trace_hutchinson"] != nil && json["lambda_min"] != nil && json["lambda_max_power"] == nil && json["sharpness"] == nil && json["trace_slq"] == nil)
        let inputs = json["inputs"] as? [String: Any] ?? [:]
        #expect(inputs["checkpoint"] as? String == checkpoint && inputs["data_directory"] as? String == Self.fixtureData
                && inputs["run_directory"] as? String == run.path && inputs["samples"] as? Int == 16, "\(inputs)")
        if let expected = try Self.sha256sum(checkpoint) { #expect(inputs["checkpoint_sha256"] as? String == expected) }
        // The run is resolved once (its data note printed once); Keskar sharpness applies no
        // curvature operator, so the Fisher's per-sample gradients are not computed.
        let keskar = try runLandscape(exe, ["probe", "--parameters", checkpoint, "--only", "keskar", "--operator", "fisher", "--ascent-steps", "2",
                                            "--samples", "16", "--output-dir", root.appendingPathComponent("keskar").path], in: elsewhere)
        #expect(keskar.status == 0 && keskar.output.components(separatedBy: "data as in").count == 2 && !keskar.output.contains("per-sample gradients"), "\(keskar.output)")
        // A CNN file in the MLP run's directory: the way out is worded for the command (only check has --run).
        let cnn = try CNN(), stray = run.appendingPathComponent("cnn.safetensors")
        try saveParameters(cnn.initialParameters(Float.self, seed: 1), layout: cnn.layout, to: stray)
        let fromStray = try runLandscape(exe, ["train", "--from-checkpoint", stray.path, "--print-config"], in: elsewhere)
        #expect(fromStray.status != 0 && fromStray.output.contains("give the run's own checkpoint, or a copy of the file outside \(run.path)") && !fromStray.output.contains("--run"), "\(fromStray.output)")
        let checkStray = try runLandscape(exe, ["check", "--parameters", stray.path, "--run", run.path], in: elsewhere)
        #expect(checkStray.status != 0 && checkStray.output.contains("give the run's own checkpoint or another --run"), "\(checkStray.output)")
        try FileManager.default.removeItem(at: stray)
        let unknown = try runLandscape(exe, ["probe", "--parameters", checkpoint, "--only", "trace,hessian_norm"], in: elsewhere)
        #expect(unknown.status != 0 && unknown.output.contains("hessian_norm") && unknown.output.contains("lambda_max, lambda_min, trace, density, sharpness, keskar"), "\(unknown.output)")
        let contradiction = try runLandscape(exe, ["probe", "--parameters", checkpoint, "--model", "cnn"], in: elsewhere)
        #expect(contradiction.status != 0 && contradiction.output.contains("--model cnn contradicts \(checkpoint)") && contradiction.output.contains("mlp"), "\(contradiction.output)")

        // check at the checkpoint on the run's data, with short numbers.
        let c = try runLandscape(exe, ["check", "--parameters", checkpoint, "--batch", "8", "--coordinates", "16"], in: elsewhere)
        #expect(c.status == 0 && c.output.contains("the first 8 training samples"), "\(c.output)")
        #expect(c.output.range(of: #"worst relative error \d\.\d\de[-+]\d\d at index \d+ \(fc\d\.(weight|bias)\)"#, options: .regularExpression) != nil, "\(c.output)")

        // A top eigenvector written by probe, read by taylor: vᵀHv along a unit Ritz vector is its Ritz value (the Rayleigh quotient).
        let eigen = root.appendingPathComponent("eigen")
        let e = try runLandscape(exe, ["probe", "--parameters", checkpoint, "--only", "lambda_max", "--save-directions", "--output-dir", eigen.path] + small, in: elsewhere)
        #expect(e.status == 0, "\(e.output)")
        let ritz = ((try Self.json(eigen.appendingPathComponent("probe.json"))["lanczos_top"] as? [[String: Any]])?.first?["value"] as? Double) ?? .nan
        let direction = eigen.appendingPathComponent(ParameterFiles.directionName("eigen-1")).path
        let record = root.appendingPathComponent("taylor.json")
        let taylor = try runLandscape(exe, ["taylor", "--parameters", checkpoint, "--direction", direction, "--samples", "16", "--order", "2", "--json", record.path], in: elsewhere)
        #expect(taylor.status == 0, "\(taylor.output)")
        let recorded = try Self.json(record)
        #expect((recorded["derivatives"] as? [Double])?.count == 3 && (recorded["inputs"] as? [String: Any])?["direction"] as? String == direction
                && (recorded["inputs"] as? [String: Any])?["data_directory"] as? String == Self.fixtureData, "\(recorded)")
        let line = taylor.output.split(separator: "\n").first { $0.hasSuffix("vᵀHv") }
        let curvature = line.flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Double($0) } } ?? .nan
        #expect(abs(curvature - ritz) <= 1e-4 * abs(ritz), "vᵀHv \(curvature), Ritz value \(ritz)")

        // slice --save-directions for PCA of the run's trajectory, read back by taylor.
        let slice = root.appendingPathComponent("slice")
        let s = try runLandscape(exe, ["slice", "--parameters", checkpoint, "--directions", "pca", "--trajectory", run.path, "--dimensions", "1",
                                       "--points", "3", "--samples", "8", "--save-directions", "--output-dir", slice.path], in: elsewhere)
        #expect(s.status == 0, "\(s.output)")
        let pca = slice.appendingPathComponent(ParameterFiles.directionName("pca-1")).path
        #expect((try Self.json(slice.appendingPathComponent("slice.json"))["inputs"] as? [String: Any])?["direction_files"] as? [String] == ["direction-pca-1.safetensors"])
        let back = try runLandscape(exe, ["taylor", "--parameters", checkpoint, "--direction", pca, "--samples", "8", "--order", "2"], in: elsewhere)
        #expect(back.status == 0, "\(back.output)")

        // An unreadable run.json beside the file: its data is unknown, so probe refuses rather than
        // guessing the defaults, unless the data options are given.
        let info = run.appendingPathComponent("run.json")
        try Data("{ not json".utf8).write(to: info)
        let guessed = try runLandscape(exe, ["probe", "--parameters", checkpoint, "--only", "trace", "--output-dir", root.appendingPathComponent("guess").path] + small, in: elsewhere)
        #expect(guessed.status != 0 && guessed.output.contains("cannot be used") && guessed.output.contains("give the data options"), "\(guessed.output)")
        let chosen = try runLandscape(exe, ["probe", "--parameters", checkpoint, "--only", "trace", "--data-directory", Self.fixtureData, "--validation", "16",
                                            "--output-dir", root.appendingPathComponent("chosen").path] + small, in: elsewhere)
        #expect(chosen.status == 0 && chosen.output.components(separatedBy: "is not used").count == 2, "\(chosen.output)")
    }

    /// A CNN checkpoint is probed as a CNN without --model; a file of no model lists its tensors and each model's.
    @Test func theModelComesFromTheTensors() throws {
        guard let exe = landscapeExecutable() else { return }
        let root = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let cnn = try CNN()
        let file = root.appendingPathComponent("cnn.safetensors")
        try saveParameters(cnn.initialParameters(Float.self, seed: 1), layout: cnn.layout, to: file)
        let p = try runLandscape(exe, ["probe", "--parameters", file.path, "--data-dir", Self.fixtureData, "--validation", "16", "--only", "trace",
                                       "--samples", "4", "--trace-probes", "6", "--output-dir", root.appendingPathComponent("probe").path])
        #expect(p.status == 0 && p.output.contains("model cnn"), "\(p.output)")
        let odd = root.appendingPathComponent("odd.safetensors")
        let tensors: [(name: String, shape: [Int], values: [Float])] = [(name: "w", shape: [3], values: [1, 2, 3])]
        try SafeTensors.write(tensors, metadata: [:], to: odd)
        let r = try runLandscape(exe, ["probe", "--parameters", odd.path, "--data-dir", "/nonexistent"])
        #expect(r.status != 0 && r.output.contains("w [3]") && r.output.contains("mlp: fc1.weight [256, 784]") && r.output.contains("cnn: conv1.weight [16, 1, 5, 5]"), "\(r.output)")
    }
}

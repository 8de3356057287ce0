import Foundation
import Testing
import Layers
import Training

/// Models as data through the command line: `train --model` with a compact form, a JSON
/// specification file or a model with BatchNorm; `probe` on their checkpoints (the model from
/// run.json, or from `--model` where there is none); `landscape model`; and bad model text.
@Suite struct ModelSpecCLITests {
    /// The small data set of Tests/Fixtures/data, 16 samples of it held out for validation.
    static var fixtureData: [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return ["--data-dir", root.appendingPathComponent("Tests/Fixtures/data").path, "--validation", "16"]
    }

    /// One epoch of `train` on the fixture data, with a small probe set, into a fresh directory.
    static func train(_ exe: URL, _ options: [String]) throws -> (CLIResult, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-spec-\(UUID().uuidString)")
        let r = try runLandscape(exe, ["train", "--epochs", "1", "--batch-size", "16", "--lambda-samples", "16", "--lambda-iterations", "3",
                                       "--no-progress", "--output-dir", dir.path] + options + fixtureData)
        return (r, dir)
    }

    /// A short probe run (λ_max and the module blocks) of `parameters`, returning probe.json.
    static func probe(_ exe: URL, _ parameters: URL, _ options: [String] = []) throws -> (CLIResult, [String: Any]?) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-spec-probe-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try runLandscape(exe, ["probe", "--parameters", parameters.path, "--only", "lambda_max", "--samples", "16", "--top", "2",
                                       "--lanczos-steps", "6", "--power-iterations", "5", "--trace-probes", "6", "--output-dir", out.path] + options)
        let json = (try? Data(contentsOf: out.appendingPathComponent("probe.json"))).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        return (r, json)
    }

    /// The parameters of linear layers of these widths (input first): Σ (in·out + out), weights and biases.
    static func linearCount(_ widths: [Int]) -> Int { zip(widths, widths.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 + $1.1 } }

    static func runInfo(_ dir: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("run.json"))) as? [String: Any])
    }

    /// A compact form trains; run.json records it as written (the configuration's `model`) with the
    /// parameter count of 784-32-32-10, 784·32 + 32 + 32·32 + 32 + 32·10 + 10; probe reads the model
    /// from run.json; a copy of the checkpoint without run.json is no preset's and needs `--model`.
    @Test func aCompactFormTrainsAndIsRecordedAsWritten() throws {
        guard let exe = landscapeExecutable() else { return }
        let (r, dir) = try Self.train(exe, ["--model", "mlp:784-32-32-10"])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(r.status == 0, "\(r.output)")
        let info = try Self.runInfo(dir)
        // The compact form, as the specification writes it (784-32x2-10 for 784-32-32-10).
        let recorded = try #require((info["configuration"] as? [String: Any])?["model"] as? String, "\(info)")
        let written = try ModelSpec(parsing: recorded), asGiven = try ModelSpec(parsing: "mlp:784-32-32-10")
        #expect(recorded.hasPrefix("mlp:") && written == asGiven, "\(recorded)")
        #expect((info["model"] as? [String: Any])?["parameters"] as? Int == Self.linearCount([784, 32, 32, 10]))
        let checkpoint = dir.appendingPathComponent("theta-epoch-001.safetensors")
        let (p, json) = try Self.probe(exe, checkpoint)
        #expect(p.status == 0, "\(p.output)")
        #expect((json?["parameters"] as? Int) == Self.linearCount([784, 32, 32, 10]))
        #expect(json?["normalization"] is NSNull, "a model without BatchNorm records no normalization")
        // Without run.json: the file is no preset's; the error lists its tensors and asks for --model.
        let alone = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-spec-alone-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: alone, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: alone) }
        let copy = alone.appendingPathComponent("theta.safetensors")
        try FileManager.default.copyItem(at: checkpoint, to: copy)
        let (refused, _) = try Self.probe(exe, copy)
        #expect(refused.status != 0 && refused.output.contains("holds the parameters of no preset") && refused.output.contains("fc1.weight [32, 784]")
                && refused.output.contains("--model SPEC"), "\(refused.output)")
        let (given, _) = try Self.probe(exe, copy, ["--model", "mlp:784-32-32-10"])
        #expect(given.status == 0, "\(given.output)")
        // A --model whose layout is not the file's lists both.
        let (wrong, _) = try Self.probe(exe, copy, ["--model", "mlp:784-16-10"])
        #expect(wrong.status != 0 && wrong.output.contains("--model mlp:784-16-10 contradicts") && wrong.output.contains("fc1.weight is [32, 784]"), "\(wrong.output)")
    }

    /// A residual model from a JSON file trains one epoch; run.json holds the specification
    /// itself (the file may go), and probe runs on its checkpoint with one block per module.
    @Test func aJSONSpecificationOfAResidualModelTrainsAndIsProbed() throws {
        guard let exe = landscapeExecutable() else { return }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("res-\(UUID().uuidString).json")
        try #"""
        {"name": "res-small", "input": [784],
         "layers": [{"linear": {"out": 24}}, "relu",
                    {"residual": {"body": [{"linear": {"out": 24}}, "relu"], "projection": false}},
                    {"linear": {"out": 10}}]}
        """#.write(to: file, atomically: true, encoding: .utf8)
        let (r, dir) = try Self.train(exe, ["--model", file.path])
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: file)
        #expect(r.status == 0, "\(r.output)")
        let recorded = try #require((Self.runInfo(dir)["configuration"] as? [String: Any])?["model"] as? [String: Any])
        #expect(recorded["name"] as? String == "res-small")
        // 784·24 + 24, the residual body's 24·24 + 24, 24·10 + 10.
        let count = Self.linearCount([784, 24, 24, 10])
        #expect((try Self.runInfo(dir)["model"] as? [String: Any])?["parameters"] as? Int == count)
        let (p, json) = try Self.probe(exe, dir.appendingPathComponent("theta-epoch-001.safetensors"), ["--blocks", "layer"])
        #expect(p.status == 0, "\(p.output)")
        let spec = try ModelSpec(parsing: String(decoding: try JSONSerialization.data(withJSONObject: recorded), as: UTF8.self))
        let blocks = (json?["blocks"] as? [[String: Any]])?.map { $0["name"] as? String ?? "" }
        #expect(blocks == (try spec.make()).modules.map(\.name), "\(String(describing: blocks))")
        #expect((json?["blocks"] as? [[String: Any]])?.reduce(0) { $0 + ($1["parameters"] as? Int ?? 0) } == count)
    }

    /// A model with BatchNorm trains one epoch (λ_max measured in eval mode); run.json and
    /// probe.json record the normalization the probes use; a micro-batch size is refused.
    @Test func aBatchNormModelTrainsAndItsProbesRecordTheNormalization() throws {
        guard let exe = landscapeExecutable() else { return }
        let (r, dir) = try Self.train(exe, ["--model", "mlp:784-32-32-10+bn"])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(r.status == 0, "\(r.output)")
        #expect((try Self.runInfo(dir)["model"] as? [String: Any])?["probe_normalization"] as? String == "eval")
        let metrics = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        let lambda = try #require(metrics[0].firstIndex(of: "lambda_max"))
        #expect(Double(metrics[1][lambda])?.isFinite == true, "\(metrics)")
        let checkpoint = dir.appendingPathComponent("theta-epoch-001.safetensors")
        let (eval, evalJSON) = try Self.probe(exe, checkpoint)
        #expect(eval.status == 0 && evalJSON?["normalization"] as? String == "eval", "\(eval.output)")
        let (train, trainJSON) = try Self.probe(exe, checkpoint, ["--normalization", "train"])
        #expect(train.status == 0 && trainJSON?["normalization"] as? String == "train", "\(train.output)")
        // The two Hessians differ: batch statistics couple the samples.
        let λe = (evalJSON?["lambda_max_power"] as? [String: Any])?["value"] as? Double, λt = (trainJSON?["lambda_max_power"] as? [String: Any])?["value"] as? Double
        #expect(λe != nil && λt != nil && λe != λt)
        let (micro, microDir) = try Self.train(exe, ["--model", "mlp:784-32-10+bn", "--micro-batch", "8"])
        defer { try? FileManager.default.removeItem(at: microDir) }
        #expect(micro.status != 0 && micro.output.contains("'optimizer.microBatchSize' must be 0") && micro.output.contains("BatchNorm"), "\(micro.output)")
    }

    /// `landscape model`: the MLP's count in closed form, 784·256 + 256 + 256·256 + 256 + 256·10 + 10;
    /// sized to 100,000 parameters, the printed compact form mlp:784-W-W-10 has the printed count,
    /// 784W + W + W² + W + 10W + 10, within 10 % of the target.
    @Test func theModelCommandPrintsLayoutCountAndSizing() throws {
        guard let exe = landscapeExecutable() else { return }
        let r = try runLandscape(exe, ["model", "mlp"])
        #expect(r.status == 0 && r.output.contains("parameters 269,322") && r.output.contains("fc1.weight  [256, 784]") && r.output.contains("fc3: fc3.weight, fc3.bias"), "\(r.output)")
        #expect(Self.linearCount([784, 256, 256, 10]) == 269_322)
        let j = try runLandscape(exe, ["model", "cnn", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(j.output.utf8)) as? [String: Any], "\(j.output)")
        // The CNN: conv 1→16 and 16→32 of 5×5 (with biases), fc 32·7·7 → 128 → 10.
        let convolutions: Int = 16 * 25 + 16 + 32 * 16 * 25 + 32
        #expect(object["parameters"] as? Int == convolutions + Self.linearCount([32 * 7 * 7, 128, 10]))
        #expect((object["layout"] as? [[String: Any]])?.first?["name"] as? String == "conv1.weight")
        let sized = try runLandscape(exe, ["model", "mlp", "--parameters", "100000", "--json"])
        let s = try #require(try JSONSerialization.jsonObject(with: Data(sized.output.utf8)) as? [String: Any], "\(sized.output)")
        let form = try #require(s["compact_form"] as? String)
        // Widths, WxK written out as K times W.
        let widths = form.dropFirst("mlp:".count).split(separator: "-").flatMap { part -> [Int] in
            let wk = part.split(separator: "x").compactMap { Int($0) }
            return wk.count == 2 ? Array(repeating: wk[0], count: wk[1]) : wk
        }
        #expect(widths.count == 4 && widths[0] == 784 && widths[1] == widths[2] && widths[3] == 10, "\(form)")
        let w = widths[1], count = try #require(s["parameters"] as? Int)
        #expect(count == Self.linearCount([784, w, w, 10]))
        #expect(abs(Double(count) - 100_000) <= 0.1 * 100_000)
    }

    /// Bad model text names the problem and gives the grammar, on every command that reads it.
    @Test func badModelTextIsNamedWithTheGrammar() throws {
        guard let exe = landscapeExecutable() else { return }
        let grammar = String(ModelSpec.compactFormHelp.prefix(30))
        for args in [["train", "--model", "mlp:784-abc-10", "--data-dir", "/nonexistent"], ["probe", "--model", "mlp:784-abc-10", "--data-dir", "/nonexistent"],
                     ["model", "mlp:784-abc-10"], ["study", "--models", "mlp,mlp:784-abc-10", "--print-config"]] {
            let r = try runLandscape(exe, args)
            #expect(!r.signalled && r.status != 0, "\(args)")
            #expect(r.output.contains("mlp:784-abc-10") && r.output.contains("has an invalid value") && r.output.contains(grammar), "\(args): \(r.output)")
        }
        let missing = try runLandscape(exe, ["train", "--model", "/nonexistent/spec.json", "--data-dir", "/nonexistent"])
        #expect(missing.status != 0 && missing.output.contains("/nonexistent/spec.json") && missing.output.contains("does not exist"), "\(missing.output)")
    }

    /// Model text is parsed before it is read as a file: a file named like a preset in the working
    /// directory does not replace the preset (`./mlp` reads it); a specification that cannot be
    /// built is refused by `--print-config`; a study's per-model key naming no model is refused.
    @Test func presetsWinOverFilesAndUnbuildableModelsAndUnknownKeysAreRefused() throws {
        guard let exe = landscapeExecutable() else { return }
        let cwd = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-cwd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: cwd, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: cwd) }
        try #"{"name": "from-file", "input": [784], "layers": [{"linear": {"out": 10}}]}"#
            .write(to: cwd.appendingPathComponent("mlp"), atomically: true, encoding: .utf8)
        let preset = try runLandscape(exe, ["train", "--model", "mlp", "--print-config"], in: cwd)
        #expect(preset.status == 0 && preset.output.contains(#""model" : "mlp""#) && !preset.output.contains("from-file"), "\(preset.output)")
        let file = try runLandscape(exe, ["train", "--model", "./mlp", "--print-config"], in: cwd)
        #expect(file.status == 0 && file.output.contains("from-file"), "\(file.output)")
        try #"{"name": "flat-conv", "input": [784], "layers": [{"conv2d": {"out": 4, "kernel": 3}}, "flatten", {"linear": {"out": 10}}]}"#
            .write(to: cwd.appendingPathComponent("bad.json"), atomically: true, encoding: .utf8)
        let bad = try runLandscape(exe, ["train", "--model", "bad.json", "--print-config"], in: cwd)
        #expect(!bad.signalled && bad.status != 0 && bad.output.contains("flat-conv") && bad.output.contains("model"), "\(bad.output)")
        let missing = try runLandscape(exe, ["train", "--model", "specs/none", "--print-config"], in: cwd)
        #expect(missing.status != 0 && missing.output.contains("specs/none") && missing.output.contains("nor is it an existing file"), "\(missing.output)")
        let typo = try runLandscape(exe, ["study", "--set", "microBatchSize.cnnn=256", "--print-config"])
        #expect(!typo.signalled && typo.status != 0 && typo.output.contains("microBatchSize.cnnn") && typo.output.contains("mlp, cnn"), "\(typo.output)")
    }
}

import Foundation
import Testing
import Settings
import Training

/// Every command reads its settings through one declaration per key (``SettingKey``): options in
/// the user's spelling, the nearest option for a typo, help with descriptions and limits, one
/// default per quantity, `--version`.
@Suite struct OptionCLITests {
    @Test func messagesNameTheOptionAsTyped() throws {
        guard let exe = landscapeExecutable() else { return }
        for (args, expected) in [
            (["train", "--momentum", "1.5"], "--momentum 1.5: 'optimizer.momentum' must be in [0, 1)"),
            (["train", "--model", "resnet"], "--model resnet: has an invalid value ('resnet')"),
            (["train", "--epochs=2.5"], "--epochs=2.5: must be an integer"),
            (["train", "--micro-batch", "-1"], "--micro-batch -1: 'optimizer.microBatchSize' must be ≥ 0"),
            (["study", "--sharpness-epsilon", "0"], "--sharpness-epsilon 0: "),
            (["probe", "--samples", "100000"], "--samples 100000: must be in 1...60000, got 100000"),
            (["probe", "--probe-samples", "0"], "--probe-samples 0: must be in 1...60000, got 0"),
            (["slice", "--validation", "60000"], "--validation 60000: must be in 0..<60000 (the rest is the training split), got 60000"),
            (["taylor", "--train-limit", "x"], "--train-limit x: must be an integer or null"),
        ] {
            let r = try runLandscape(exe, args + ["--data-dir", "/nonexistent"])
            #expect(!r.signalled && r.status != 0, "\(args)")
            #expect(r.output.contains(expected), "\(args): \(r.output)")
            let error = r.output.split(separator: "\n").first { $0.hasPrefix("Error:") } ?? ""
            #expect(!error.contains("--set"), "an option the user did not type: \(r.output)")
        }
    }

    /// `--set` and the key options apply in command-line order, each key once (by `--set` or its
    /// option); the command's own options are suggested for typos; a flag's forms are explained.
    @Test func assignmentsApplyInOrderEachKeyOnce() throws {
        guard let exe = landscapeExecutable() else { return }
        func learningRate(_ args: [String]) throws -> Double? {
            let r = try runLandscape(exe, ["train"] + args + ["--print-config"])
            let json = try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any]
            return (json?["optimizer"] as? [String: Any])?["learningRate"] as? Double
        }
        // The group by --set and its key by an option: the later one wins.
        #expect(try learningRate(["--learning-rate", "0.3", "--set", "optimizer={\"learningRate\":0.2}"]) == 0.2)
        #expect(try learningRate(["--set", "optimizer={\"learningRate\":0.2}", "--learning-rate", "0.3"]) == 0.3)
        #expect(try learningRate(["--set=optimizer.learningRate=0.4"]) == 0.4)
        for (args, expected) in [
            (["study", "--epochs", "3", "--set", "epochs=4"], "--set epochs=4: training.epochs is given twice (--epochs 3, --set epochs=4)"),
            (["train", "--epochs", "2", "--epochs", "3"], "--epochs 3: epochs is given twice (--epochs 2, --epochs 3)"),
            (["train", "--set", "epochs=2", "--set", "epochs=3"], "--set epochs=3: epochs is given twice (--set epochs=2, --set epochs=3)"),
            (["study", "--models", "mlp", "--models", "cnn"], "--models cnn: models is given twice (--models mlp, --models cnn)"),
            (["probe", "--samples", "3", "--probe-samples", "4"], "--probe-samples 4: probeSamples is given twice (--samples 3, --probe-samples 4)"),
            (["train", "--ouptut-dir", "x"], "--ouptut-dir: no such option; did you mean --output-dir?"),
            (["train", "--resum", "x"], "--resum: no such option; did you mean --resume?"),
            (["probe", "--paramters", "x"], "--paramters: no such option; did you mean --parameters?"),
            (["train", "--nesterov", "false"], "--nesterov false: a flag takes no separate value; write --nesterov (true), --no-nesterov (false) or --nesterov=true|false"),
            (["train", "--no-nesterov=true"], "--no-nesterov=true: --no-nesterov takes no value"),
            (["train", "--"], "--: not used"),
            (["train", "--lambda-samples", "70000"], "--lambda-samples 70000: 'probes.probeSamples' must be in 1...60000"),
            (["check", "--validation", "5"], "--validation 5: the data options need --parameters FILE"),
        ] {
            let r = try runLandscape(exe, args + ["--print-config"].filter { _ in args[0] != "probe" && args[0] != "check" })
            #expect(!r.signalled && r.status != 0 && r.output.contains(expected), "\(args): \(r.output)")
        }
    }

    @Test func anUnknownOptionNamesTheNearestOne() throws {
        guard let exe = landscapeExecutable() else { return }
        for (args, expected) in [(["train", "--lr", "0.1"], "--lr: no such option; did you mean --learning-rate?"),
                                 (["train", "--learning-rat", "0.1"], "did you mean --learning-rate?"),
                                 (["study", "--model", "mlp"], "--model: no such option; did you mean --models?"),
                                 (["probe", "--directions", "3"], "--directions: no such option; did you mean --sharpness-directions?"),
                                 (["slice", "--sharpness-directions", "3"], "--sharpness-directions: no such option")] {
            let r = try runLandscape(exe, args + ["--data-dir", "/nonexistent"])
            #expect(!r.signalled && r.status != 0 && r.output.contains(expected), "\(args): \(r.output)")
        }
    }

    @Test func optionsFlagsAndListsSetTheirKeys() throws {
        guard let exe = landscapeExecutable() else { return }
        let r = try runLandscape(exe, ["train", "--learning-rate=0.1", "--nesterov", "--epochs", "7", "--print-config"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any], "\(r.output)")
        let optimizer = try #require(json["optimizer"] as? [String: Any])
        #expect(optimizer["learningRate"] as? Double == 0.1 && optimizer["nesterov"] as? Bool == true && json["epochs"] as? Int == 7, "\(json)")
        let off = try runLandscape(exe, ["train", "--set", "optimizer={\"nesterov\":true}", "--no-nesterov", "--print-config"])
        #expect(off.output.contains("\"nesterov\" : false"), "\(off.output)")
        let study = try runLandscape(exe, ["study", "--models", "cnn,mlp", "--seeds", "5", "--print-config"])
        let s = try #require(try JSONSerialization.jsonObject(with: Data(study.output.utf8)) as? [String: Any], "\(study.output)")
        #expect(s["models"] as? [String] == ["cnn", "mlp"] && s["seeds"] as? [Int] == [5], "\(s)")
    }

    @Test func helpShowsDescriptionsDefaultsAndLimits() throws {
        guard let exe = landscapeExecutable() else { return }
        let train = try runLandscape(exe, ["train", "--help"]).output.replacingOccurrences(of: "\n      ", with: " ")
        #expect(train.contains("--learning-rate <a number> The base learning rate η₀"), "\(train)")
        #expect(train.contains("Must be positive and finite. Default: 0.05. Key: optimizer.learningRate."), "\(train)")
        #expect(train.contains("--nesterov / --no-nesterov"), "\(train)")
        let probe = try runLandscape(exe, ["probe", "--help"]).output.replacingOccurrences(of: "\n      ", with: " ")
        #expect(probe.contains("--sharpness-directions <an integer>") && probe.contains("Must be in 1...10000. Default: 20."), "\(probe)")
        #expect(probe.contains("--probe-samples <an integer>"), "\(probe)")
        let taylor = try runLandscape(exe, ["taylor", "--help"]).output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(taylor.contains("The probe batch is 256 samples by default, not probe's 1024"), "\(taylor)")
    }

    /// One default per quantity: the keys of `train`, `study`, `probe` and `slice` that measure the
    /// same thing show the same default in their help.
    @Test func theSameQuantityHasOneDefaultEverywhere() throws {
        guard let exe = landscapeExecutable() else { return }
        func defaultOf(_ option: String, in command: String) throws -> String? {
            let help = try runLandscape(exe, [command, "--help"]).output.replacingOccurrences(of: "\n      ", with: " ")
            guard let r = help.range(of: "\n  \(option) ") else { return nil }
            let after = help[r.upperBound...]
            guard let d = after.range(of: "Default: ") else { return nil }
            return String(after[d.upperBound...].prefix { $0 != " " }.dropLast())
        }
        #expect(try defaultOf("--probe-samples", in: "train") == "1024" && defaultOf("--probe-samples", in: "probe") == "1024")
        #expect(try defaultOf("--power-tolerance", in: "train") == "0.001" && defaultOf("--power-tolerance", in: "probe") == "0.001")
        #expect(try defaultOf("--sharpness-epsilon", in: "study") == "0.5" && defaultOf("--sharpness-epsilon", in: "probe") == "0.5")
        #expect(try defaultOf("--sharpness-directions", in: "study") == "20" && defaultOf("--sharpness-directions", in: "probe") == "20")
        #expect(try defaultOf("--slice-points", in: "study") == "31")
        #expect(try runLandscape(exe, ["slice", "--help"]).output.split(whereSeparator: \.isWhitespace).joined(separator: " ").contains("--points <points> Grid points per axis (the study's finalProbes.slicePoints, the same default). (default: 31)"))
    }

    /// With default settings `train`'s λ_max after an epoch and `probe`'s on that epoch's
    /// checkpoint measure the same matrix (the same 1,024-sample probe batch, the same tolerance):
    /// two power iterations that each stop at a relative residual ‖Hv − λv‖ ≤ 1e-3·|λ| agree
    /// to within the sum of their residuals (a Rayleigh quotient's error is at most the residual).
    @Test func trainAndProbeMeasureTheSameLambdaMax() throws {
        guard let exe = landscapeExecutable(), let data = sharedMNISTOrRecord() else { return }
        let run = temporaryDirectory(), out = temporaryDirectory().appendingPathComponent("probe")
        defer { try? FileManager.default.removeItem(at: run); try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        let dataOptions = ["--data-dir", data.path, "--train-limit", "4096"]
        let t = try runLandscape(exe, ["train", "--epochs", "1", "--no-progress", "--output-dir", run.path + "/r"] + dataOptions)
        #expect(t.status == 0, "\(t.output)")
        let rows = try String(contentsOf: run.appendingPathComponent("r/metrics.csv"), encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        let column = { (name: String) in rows[1][rows[0].firstIndex(of: name)!] }
        let trained = try #require(Double(column("lambda_max"))), trainResidual = try #require(Double(column("lambda_residual")))
        #expect(column("lambda_converged") == "1" || column("lambda_converged") == "true", "\(rows)")
        // λ_max's settings at their defaults; the rest of the suite small (it does not touch λ_max).
        let small = ["--slq-probes", "1", "--slq-steps", "4", "--trace-probes", "6", "--sharpness-directions", "1", "--ascent-steps", "1"]
        let p = try runLandscape(exe, ["probe", "--parameters", run.path + "/r/theta-epoch-001.safetensors", "--output-dir", out.path] + small + dataOptions)
        #expect(p.status == 0, "\(p.output)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("probe.json"))) as! [String: Any]
        let power = json["lambda_max_power"] as! [String: Any]
        let probed = power["value"] as! Double, probeResidual = power["residual"] as! Double
        #expect(json["samples"] as? Int == 1024, "\(json)")
        #expect(abs(trained - probed) <= trainResidual + probeResidual + 1e-9 * probed, "train \(trained) ± \(trainResidual), probe \(probed) ± \(probeResidual)")
    }

    /// `study --help` lists each configuration option once, and each one, given the default its
    /// help shows, is accepted.
    @Test func studyHelpListsOnlyOptionsThatWorkAndEachOnce() throws {
        guard let exe = landscapeExecutable() else { return }
        let help = try runLandscape(exe, ["study", "--help"]).output
        let start = try #require(help.range(of: "Configuration options")), end = try #require(help.range(of: "\nOPTIONS:"))
        let section = String(help[start.lowerBound..<end.lowerBound])
        let entries = section.replacingOccurrences(of: "\n      ", with: " ").split(separator: "\n").filter { $0.hasPrefix("  --") }
        let names = entries.map { String($0.dropFirst(4).prefix { $0 != " " }) }
        #expect(names.count > 40 && Set(names).count == names.count, "\(names.filter { n in names.filter { $0 == n }.count > 1 })")
        #expect(!names.contains("model") && names.contains("models") && names.contains("micro-batch-size"), "\(names)")
        for (name, entry) in zip(names, entries) {
            let value = try #require(entry.firstMatch(of: /Default: (.*?)\. Key:/)).1
            let flag = entry.contains(" / --no-")
            let r = try runLandscape(exe, ["study"] + (flag ? ["--\(name)=\(value)"] : ["--\(name)", String(value)]) + ["--print-config"])
            #expect(r.status == 0, "study --\(name) \(value): \(r.output)")
        }
    }

    @Test func versionNamesTheReleaseCommitAndKernel() throws {
        guard let exe = landscapeExecutable() else { return }
        let r = try runLandscape(exe, ["--version"])
        #expect(r.status == 0, "\(r.output)")
        let line = r.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let match = line.wholeMatch(of: /landscape (\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}|unknown)\), OpenBLAS (\S+)/)
        #expect(match != nil, "\(line)")
        // The commit is the checkout's HEAD, read independently here.
        let git = Process(), pipe = Pipe()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", URL(fileURLWithPath: #filePath).deletingLastPathComponent().path, "rev-parse", "HEAD"]
        git.standardOutput = pipe
        git.standardError = FileHandle.nullDevice
        if (try? git.run()) != nil, let match {
            let head = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            git.waitUntilExit()
            if git.terminationStatus == 0 { #expect(head.hasPrefix(String(match.2)), "\(head) vs \(line)") }
        }
    }
}

/// The option table alone: parsing, flags, suggestions and limits.
@Suite struct SettingOptionsTests {
    struct Root { var rate = 0.5, count = 3, on = false, names: [String] = ["a"], limit: Int? = nil }
    static let table = SettingOptions<Root>([
        SettingKey("group.rate", \.rate, limits: .positive, help: "A rate."),
        SettingKey("count", \.count, aliases: ["n"], limits: .range(1...10), help: "A count."),
        SettingKey("on", \.on, help: "A flag."),
        SettingKey("names", \.names, help: "Names."),
        SettingKey("limit", \.limit, help: "An optional limit."),
    ])

    func apply(_ args: [String]) throws -> Root {
        var r = Root()
        for a in try Self.table.parse(args) { a.key.assign?(&r, a.value) }
        return r
    }

    @Test func optionsSetTheirKeys() throws {
        let r = try apply(["--rate", "0.25", "--n=7", "--on", "--names", "x,y", "--limit", "4"])
        #expect(r.rate == 0.25 && r.count == 7 && r.on && r.names == ["x", "y"] && r.limit == 4)
        #expect(try apply(["--on=true"]).on && !(try apply(["--on=false"]).on))
        let s = try apply(["--no-on", "--limit=null", "--rate", "-2"])
        #expect(!s.on && s.limit == nil && s.rate == -2)
        #expect(Self.table.problem(in: s)?.problem == "must be positive and finite, got -2.0")
        #expect(Self.table.problem(in: try apply(["--count", "11"]))?.problem == "must be in 1...10, got 11")
    }

    @Test func errorsSpellTheArgumentAsTyped() {
        func message(_ args: [String]) -> String { do { _ = try apply(args); return "accepted" } catch { return "\(error)" } }
        #expect(message(["--count", "x"]) == "--count x: must be an integer")
        #expect(message(["--count"]) == "--count: needs a value (an integer)")
        #expect(message(["--rat", "1"]) == "--rat: no such option; did you mean --rate?")
        #expect(message(["--cuont", "1"]) == "--cuont: no such option; did you mean --count?")
        #expect(message(["--no-count"]) == "--no-count: no such option; did you mean --count?")
        #expect(message(["stray"]) == "stray: unexpected argument")
        #expect(message(["--on=maybe"]) == "--on=maybe: must be true or false")
        // A flag's forms, said where another is tried; `--` separates nothing here.
        let forms = "write --on (true), --no-on (false) or --on=true|false"
        #expect(message(["--on", "false"]) == "--on false: a flag takes no separate value; \(forms)")
        #expect(message(["--no-on", "true"]) == "--no-on true: a flag takes no separate value; \(forms)")
        #expect(message(["--no-on=true"]) == "--no-on=true: --no-on takes no value; \(forms)")
        #expect(message(["--"]).hasPrefix("--: not used"))
        // A key given twice is refused, naming both spellings (an alias is the same key).
        #expect(message(["--count", "2", "--n=3"]) == "--n=3: count is given twice (--count 2, --n=3); give it once")
        #expect(message(["--on", "--no-on"]) == "--no-on: on is given twice (--on, --no-on); give it once")
    }

    @Test func suggestionsIncludeTheCommandsOwnOptions() {
        let table = SettingOptions(Self.table.keys, otherOptions: ["output-dir", "resume"])
        #expect(table.suggestion(for: "ouptut-dir") == "output-dir")
        #expect(table.suggestion(for: "resum") == "resume")
        #expect(Self.table.suggestion(for: "resum") == nil)
    }
}

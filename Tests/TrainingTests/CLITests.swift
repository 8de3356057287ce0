import Foundation
import Testing
import Autodiff
import Checkpoints
import Datasets
import Layers
import Tensors
import Training

/// The `landscape` executable that `swift build --build-tests` puts beside the test bundle.
func landscapeExecutable() -> URL? {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let url = root.appendingPathComponent(".build/debug/landscape")
    if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    Issue.record("\(url.path) not found: build the package (swift build --build-tests) before running this test")
    return nil
}

/// The finished `landscape` run: exit status, whether it ended by a signal, stdout + stderr.
struct CLIResult {
    var status: Int32, signalled: Bool, output: String
}

/// Starts `landscape ARGS` with its output going to `log` (standard output to `stdout` instead
/// when given), in the working directory `cwd` when given.
func launchLandscape(_ exe: URL, _ args: [String], log: URL, in cwd: URL? = nil, stdout: FileHandle? = nil) throws -> Process {
    FileManager.default.createFile(atPath: log.path, contents: nil)
    let handle = try FileHandle(forWritingTo: log)
    let p = Process()
    p.executableURL = exe
    p.arguments = args
    if let cwd { p.currentDirectoryURL = cwd }
    p.standardOutput = stdout ?? handle
    p.standardError = handle
    p.standardInput = FileHandle.nullDevice
    try p.run()
    return p
}

/// Runs `landscape ARGS` to the end (in `cwd`, with standard output to `stdout`, when given).
func runLandscape(_ exe: URL, _ args: [String], in cwd: URL? = nil, stdout: FileHandle? = nil) throws -> CLIResult {
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-cli-\(UUID().uuidString).log")
    defer { try? FileManager.default.removeItem(at: log) }
    let p = try launchLandscape(exe, args, log: log, in: cwd, stdout: stdout)
    p.waitUntilExit()
    return CLIResult(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                     output: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}

/// Issue 13 through the command line: each input that crashed, looped or gave NaN with exit 0
/// now ends with a clear error or a finite result.
@Suite struct CLITests {
    @Test func aHugeStepScheduleIsAValidationError() throws {
        guard let exe = landscapeExecutable() else { return }
        let r = try runLandscape(exe, ["train", "--schedule", "step:9223372036854775807:0.5", "--data-dir", "/nonexistent"])
        #expect(!r.signalled && r.status != 0)
        #expect(r.output.contains("step size must be at most 100000 epochs"), "\(r.output)")
        let s = try runLandscape(exe, ["study", "--set", "schedule=step:9223372036854775807:0.5", "--print-config"])
        #expect(!s.signalled && s.status != 0)
        #expect(s.output.contains("step size must be at most"), "\(s.output)")
    }

    @Test func slicesTooNarrowForTheirPointsAreAValidationError() throws {
        guard let exe = landscapeExecutable() else { return }
        for (range, dimensions) in [("1:1.0000000000000002", "2"), ("1e16:10000000000000002", "1"), ("1e16:10000000000000002", "2")] {
            let r = try runLandscape(exe, ["slice", "--range", range, "--dimensions", dimensions, "--data-dir", "/nonexistent"])
            #expect(!r.signalled && r.status != 0, "\(range)")
            #expect(r.output.contains("too narrow for 31 distinct points"), "\(r.output)")   // slice's default --points, the study's slicePoints
        }
    }

    @Test func theWidestSliceRangeGivesFiniteAlphas() throws {
        guard let exe = landscapeExecutable(), let mnist = sharedMNISTOrRecord() else { return }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-slice-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try runLandscape(exe, ["slice", "--range=-1e308:1e308", "--dimensions", "1", "--points", "5", "--samples", "8",
                                       "--data-dir", mnist.path, "--output-dir", out.path])
        #expect(r.status == 0, "\(r.output)")
        let rows = try String(contentsOf: out.appendingPathComponent("slice1d.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        let alphas = rows.map { Double($0.split(separator: ",")[0])! }
        #expect(alphas.count == 5 && alphas.allSatisfy(\.isFinite))
        #expect(alphas.first == -1e308 && alphas[2] == 0 && alphas.last == 1e308)
        // θ ± 1e308·u overflows the model: said, not silent.
        #expect(r.output.contains("4 of 5 losses are not finite"), "\(r.output)")
        let svg = try String(contentsOf: out.appendingPathComponent("slice1d.svg"), encoding: .utf8)
        #expect(!svg.contains("nan") && !svg.contains("inf"))
    }

    @Test func slicesOfTwoAdjacentDoublesAreDrawn() throws {
        // Two points one ulp apart are a valid grid; their plot's ticks used to loop forever.
        guard let exe = landscapeExecutable(), let mnist = sharedMNISTOrRecord() else { return }
        for dimensions in ["1", "2"] {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-slice-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: out) }
            let r = try runLandscape(exe, ["slice", "--range", "1e16:10000000000000002", "--points", "2", "--dimensions", dimensions,
                                           "--samples", "8", "--data-dir", mnist.path, "--output-dir", out.path])
            #expect(r.status == 0, "\(r.output)")
            let svg = try String(contentsOf: out.appendingPathComponent("slice\(dimensions)d.svg"), encoding: .utf8)
            #expect(svg.hasSuffix("</svg>\n") && !svg.contains("nan"))
        }
    }

    @Test func twoResumesOfOneRunAtOnceWriteEachEpochOnce() throws {
        // Before, both succeeded and metrics.csv held epochs 1 2 3 3.
        guard let exe = landscapeExecutable(), let mnist = sharedMNISTOrRecord() else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-train-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = ["--data-dir", mnist.path, "--train-limit", "256", "--validation", "100", "--no-progress"]
        // A 3-epoch run, cut back to epoch 1 as if killed during epoch 2.
        let full = try runLandscape(exe, ["train", "--epochs", "3", "--batch-size", "64", "--lambda-samples", "32", "--output-dir", dir.path] + data)
        #expect(full.status == 0, "\(full.output)")
        let metrics = dir.appendingPathComponent("metrics.csv")
        let lines = try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n")
        try (lines.prefix(2).joined(separator: "\n") + "\n").write(to: metrics, atomically: true, encoding: .utf8)
        let logs = (0..<2).map { _ in FileManager.default.temporaryDirectory.appendingPathComponent("landscape-cli-\(UUID().uuidString).log") }
        defer { for l in logs { try? FileManager.default.removeItem(at: l) } }
        let processes = try logs.map { try launchLandscape(exe, ["train", "--resume", dir.path] + data, log: $0) }
        for p in processes { p.waitUntilExit() }
        let outputs = logs.map { (try? String(contentsOf: $0, encoding: .utf8)) ?? "" }
        // One trained; the other found the lock held (an error), or, coming second, nothing left to do (a success).
        let lockHeld = outputs.map { $0.contains("another landscape process is training in it") }
        let nothingLeft = outputs.map { $0.contains("already finished all 3 epochs: nothing to train") }
        #expect(zip(processes, lockHeld).allSatisfy { ($0.terminationStatus == 0) != $1 }, "\(outputs)")
        #expect(lockHeld.filter { $0 }.count + nothingLeft.filter { $0 }.count == 1, "\(outputs)")
        let epochs = try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",")[0] }
        #expect(epochs == ["1", "2", "3"])
        // Resuming the finished run succeeds, names its checkpoint and writes nothing.
        let before = try Data(contentsOf: metrics)
        let again = try runLandscape(exe, ["train", "--resume", dir.path] + data)
        #expect(again.status == 0 && again.output.contains("nothing to train") && again.output.contains("theta-epoch-003.safetensors"), "\(again.output)")
        #expect(try Data(contentsOf: metrics) == before)
    }

    @Test func everyProbeOptionHasAnUpperBound() throws {
        guard let exe = landscapeExecutable() else { return }
        for (option, value, range) in [("--lanczos-steps", 501, "1...500"), ("--slq-steps", 501, "2...500"), ("--slq-probes", 1001, "1...1000"),
                                       ("--trace-probes", 10_001, "6...10000"), ("--sharpness-directions", 10_001, "1...10000"),
                                       ("--ascent-steps", 10_001, "1...10000"), ("--power-iterations", 100_001, "1...100000")] {
            let r = try runLandscape(exe, ["probe", option, String(value), "--data-dir", "/nonexistent"])
            #expect(!r.signalled && r.status != 0, "\(option)")
            #expect(r.output.contains("\(option) \(value): must be in \(range), got \(value)"), "\(r.output)")
        }
    }

    @Test func probeRunsOnTheGaussNewtonMatrixPerLayer() throws {
        guard let exe = landscapeExecutable(), let data = sharedMNISTOrRecord() else { return }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("probe-ggn-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try runLandscape(exe, ["probe", "--operator", "ggn", "--blocks", "layer", "--samples", "16", "--top", "2",
                                       "--lanczos-steps", "8", "--slq-probes", "1", "--slq-steps", "4", "--trace-probes", "6",
                                       "--sharpness-directions", "2", "--ascent-steps", "2", "--power-iterations", "5",
                                       "--data-dir", data.path, "--output-dir", out.path])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("operator: ggn") && r.output.contains("per module"), "\(r.output)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("probe.json"))) as! [String: Any]
        let blocks = json["blocks"] as! [[String: Any]]
        #expect(blocks.map { $0["name"] as! String } == ["fc1", "fc2", "fc3"])
        // The Gauss–Newton matrix is PSD: every block's λ_min is ≥ 0 up to round-off.
        for b in blocks { #expect((b["lambda_min"] as! Double) > -1e-8 * (b["lambda_max"] as! Double), "\(b)") }
        #expect(blocks.reduce(0) { $0 + ($1["parameters"] as! Int) } == 269_322)
        let bad = try runLandscape(exe, ["probe", "--operator", "laplacian", "--data-dir", "/nonexistent"])
        #expect(bad.status != 0 && bad.output.contains("--operator must be one of hessian, ggn, fisher"), "\(bad.output)")
    }

    /// `probe --probes sharpness_gradient --learning-rate η`: the step is η, the prediction is
    /// λ − η⟨∇L, ∇λ⟩ of the reported fields, λ (uᵀHu of the probe's pass) is near the suite's
    /// λ_max, and the converged flag follows the residual; a learning rate of 0 is refused by name.
    @Test func probeMeasuresTheSharpnessGradient() throws {
        guard let exe = landscapeExecutable() else { return }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fixture = root.appendingPathComponent("Tests/Fixtures/data")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("probe-sg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try runLandscape(exe, ["probe", "--probes", "sharpness_gradient", "--learning-rate", "0.05", "--samples", "8", "--top", "2",
                                       "--lanczos-steps", "4", "--slq-probes", "1", "--slq-steps", "4", "--trace-probes", "6",
                                       "--sharpness-directions", "1", "--ascent-steps", "1", "--power-iterations", "20",
                                       "--data-dir", fixture.path, "--validation", "16", "--output-dir", out.path])
        #expect(r.status == 0, "\(r.output)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("probe.json"))) as! [String: Any]
        let fields = (json["probes"] as! [String: Any])["sharpness_gradient"] as! [String: Any]
        let number = { (key: String) in fields[key] as! Double }
        #expect(number("sharpness_gradient_step") == 0.05, "\(fields)")
        let λ = number("sharpness_gradient_lambda"), inner = number("sharpness_gradient_inner")
        #expect(abs(number("sharpness_gradient_predicted") - (λ - 0.05 * inner)) <= 1e-12 * abs(λ), "\(fields)")
        // The probe continues the suite's power iteration from its vector (20 products, not
        // converged here): its Rayleigh quotient is near the suite's, and its flag says whether
        // the eigenpair converged.
        let power = (json["lambda_max_power"] as! [String: Any])["value"] as! Double
        #expect(abs(λ - power) <= 0.05 * power, "λ \(λ) vs the suite's λ_max \(power)")
        #expect((fields["sharpness_gradient_converged"] as! Int == 1) == (number("sharpness_gradient_residual") <= 1e-3), "\(fields)")
        #expect(number("sharpness_gradient_norm") > 0 && number("sharpness_gradient_measured").isFinite, "\(fields)")
        let bad = try runLandscape(exe, ["probe", "--learning-rate", "0", "--data-dir", "/nonexistent"])
        #expect(bad.status != 0 && bad.output.contains("--learning-rate must be positive and finite, got 0.0"), "\(bad.output)")
        // A step into overflow has no λ_max after it: nan with the non-finite warning, every other result written.
        let far = out.appendingPathExtension("far")
        defer { try? FileManager.default.removeItem(at: far) }
        let huge = try runLandscape(exe, ["probe", "--probes", "sharpness_gradient", "--learning-rate", "1e300", "--samples", "8", "--top", "2",
                                          "--lanczos-steps", "4", "--slq-probes", "1", "--slq-steps", "4", "--trace-probes", "6",
                                          "--sharpness-directions", "1", "--ascent-steps", "1", "--power-iterations", "20",
                                          "--data-dir", fixture.path, "--validation", "16", "--output-dir", far.path])
        #expect(huge.status == 0 && huge.output.contains("sharpness_gradient_measured"), "\(huge.output)")
        let farJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: far.appendingPathComponent("probe.json"))) as! [String: Any]
        let farFields = (farJSON["probes"] as! [String: Any])["sharpness_gradient"] as! [String: Any]
        #expect(farFields["sharpness_gradient_measured"] as? String == "nan" && (farFields["sharpness_gradient_norm"] as! Double) > 0, "\(farFields)")
    }

    /// `probe --probes batch_sharpness` with a batch size above the 80 training samples: the one
    /// mini-batch is the whole split, so the value is g_Bᵀ(H_B g_B)/‖g_B‖² of the whole split's
    /// loss (Hessian-vector product, Float64), with standard error 0.
    @Test func probeMeasuresBatchSharpnessOnTheTrainingSplit() throws {
        guard let exe = landscapeExecutable() else { return }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fixture = root.appendingPathComponent("Tests/Fixtures/data")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("probe-bs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try runLandscape(exe, ["probe", "--probes", "batch_sharpness", "--batch-size", "200", "--samples", "8", "--top", "2",
                                       "--lanczos-steps", "4", "--slq-probes", "1", "--slq-steps", "4", "--trace-probes", "6",
                                       "--sharpness-directions", "1", "--ascent-steps", "1", "--power-iterations", "2",
                                       "--data-dir", fixture.path, "--validation", "16", "--output-dir", out.path])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("--batch-size 200 is more than the 80 training samples; batch_sharpness measures one batch of all of them"), "\(r.output)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("probe.json"))) as! [String: Any]
        let fields = (json["probes"] as! [String: Any])["batch_sharpness"] as! [String: Any]
        #expect(fields["batch_sharpness_batch_size"] as? Int == 80 && fields["batch_sharpness_batches"] as? Int == 1, "\(fields)")
        let train = try MNISTDataset(directory: fixture, validationCount: 16).train
        let model = MLP()
        let f = try model.loss(on: train.images(as: Double.self), labels: train.labels)
        let θ = model.initialParameters(Double.self, seed: 0)
        let g = try gradient(of: f, at: θ)
        let want = g.dot(try hessianVectorProduct(of: f, at: θ, along: g)) / g.dot(g)
        let got = fields["batch_sharpness"] as! Double
        #expect(abs(got - want) <= 1e-9 * abs(want), "\(got) vs \(want)")
        #expect(fields["batch_sharpness_stderr"] as? Double == 0)
        #expect(abs((fields["batch_gradient_norm"] as! Double) - g.norm()) <= 1e-9 * g.norm())
        let bad = try runLandscape(exe, ["probe", "--batch-size", "0", "--data-dir", "/nonexistent"])
        #expect(bad.status != 0 && bad.output.contains("--batch-size must be at least 1, got 0"), "\(bad.output)")
    }

    /// `train --step-curvature`: a row of step-curvature.csv per SGD step, its figure against the
    /// stability limit, and the key in run.json (absent without the flag, so older runs keep their SHA-256).
    @Test func trainStepCurvatureWritesARowPerStepAndItsFigure() throws {
        guard let exe = landscapeExecutable(), let mnist = sharedMNISTOrRecord() else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-train-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runLandscape(exe, ["train", "--step-curvature", "--epochs", "1", "--batch-size", "64", "--lambda-samples", "32", "--lambda-iterations", "2",
                                       "--data-dir", mnist.path, "--train-limit", "256", "--validation", "100", "--no-progress", "--output-dir", dir.path])
        #expect(r.status == 0, "\(r.output)")
        let lines = try String(contentsOf: dir.appendingPathComponent("step-curvature.csv"), encoding: .utf8).split(separator: "\n")
        #expect(lines.first.map(String.init) == StepCurvatureMetrics.csvHeader)
        #expect(lines.dropFirst().map { $0.split(separator: ",").prefix(2).joined(separator: ",") } == ["1,1", "1,2", "1,3", "1,4"])
        #expect(try String(contentsOf: dir.appendingPathComponent("step-curvature.svg"), encoding: .utf8).contains("Curvature along each SGD step"))
        let info = try String(contentsOf: dir.appendingPathComponent("run.json"), encoding: .utf8)
        #expect(info.contains("\"stepCurvature\" : true"), "\(info)")
        // The SHA-256 is of the encoded configuration, which leaves a nil key out.
        #expect(!String(decoding: try JSONEncoder().encode(TrainingConfiguration()), as: UTF8.self).contains("stepCurvature"))
        // Off is the same run as absent.
        var off = TrainingConfiguration()
        off.probes.stepCurvature = false
        #expect(off.sha256 == TrainingConfiguration().sha256)
        off.probes.stepCurvature = true
        #expect(off.sha256 != TrainingConfiguration().sha256)
    }

    /// `probe --per-sample`: per_sample.csv's losses and curvatures along the random direction
    /// against each sample's own loss and forward-over-reverse vᵀHᵢv (a batch of one), and the
    /// summary in probe.json against the column along u; `--probes per_sample_curvature` agrees.
    @Test func probeWritesPerSampleCurvature() throws {
        guard let exe = landscapeExecutable() else { return }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fixture = root.appendingPathComponent("Tests/Fixtures/data")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("probe-ps-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try runLandscape(exe, ["probe", "--per-sample", "--probes", "per_sample_curvature", "--samples", "8", "--top", "2",
                                       "--lanczos-steps", "4", "--slq-probes", "1", "--slq-steps", "4", "--trace-probes", "6",
                                       "--sharpness-directions", "1", "--ascent-steps", "1", "--power-iterations", "20", "--seed", "5",
                                       "--data-dir", fixture.path, "--validation", "16", "--output-dir", out.path])
        #expect(r.status == 0, "\(r.output)")
        let lines = try String(contentsOf: out.appendingPathComponent("per_sample.csv"), encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "sample,label,predicted,loss,curvature_u,curvature_random,random_seed")
        let rows = lines.dropFirst().map { $0.split(separator: ",").map(String.init) }
        #expect(rows.count == 8)
        let train = try MNISTDataset(directory: fixture, validationCount: 16).train
        let model = MLP()
        let x = train.images(rows: 0..<8, as: Double.self), y = Array(train.labels[0..<8])
        let θ = model.initialParameters(Double.self, seed: 5)
        // The random direction's generator seed is in the CSV: a stream of --seed 5 (not 5 itself, θ's initialization).
        let randomSeed = try #require(UInt64(rows[0][6]))
        #expect(randomSeed != 5 && rows.allSatisfy { $0[6] == rows[0][6] })
        var rng = SplitMix64(seed: randomSeed)
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng).normalized()
        for (i, row) in rows.enumerated() {
            let fi = try model.loss(on: x.rows(i..<(i + 1)), labels: [y[i]])
            let loss = try value(of: fi, at: θ), vHv = v.dot(try hessianVectorProduct(of: fi, at: θ, along: v))
            #expect(Int(row[1]) == y[i])
            #expect(abs(Double(row[3])! - loss) <= 1e-12 * loss, "sample \(i): \(row[3]) vs \(loss)")
            #expect(abs(Double(row[5])! - vHv) <= 1e-8 * max(abs(vHv), 1e-12), "sample \(i): \(row[5]) vs \(vHv)")
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("probe.json"))) as! [String: Any]
        let probes = json["probes"] as! [String: Any]
        let fields = probes["per_sample"] as! [String: Any]
        let mean = rows.map { Double($0[4])! }.reduce(0, +) / 8
        #expect(abs((fields["per_sample_curvature_mean"] as! Double) - mean) <= 1e-9 * abs(mean), "\(fields) vs \(mean)")
        #expect(((probes["per_sample_curvature"] as! [String: Any])["per_sample_curvature_mean"] as! Double).isFinite)
        #expect(try String(contentsOf: out.appendingPathComponent("per_sample.svg"), encoding: .utf8).contains("Per-sample curvature by class"))
    }

    /// `taylor`, `probe` and `slice` evaluate the loss in Float64 on pixel values computed in
    /// Float64: `taylor`'s L(θ), printed to 11 digits, is the loss on Double(byte)/255. The
    /// parameters are the initial ones ×10, where widened Float pixels move the loss by 1.5e-8
    /// relative, 300 times what the printed digits resolve.
    @Test func taylorEvaluatesTheLossOnFloat64Pixels() throws {
        guard let exe = landscapeExecutable() else { return }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fixture = root.appendingPathComponent("Tests/Fixtures/data")
        let model = MLP()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("taylor-theta-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        try saveParameters(model.initialParameters(Float.self, seed: 0).scaled(by: 10), layout: model.layout, to: file)
        let r = try runLandscape(exe, ["taylor", "--parameters", file.path, "--data-dir", fixture.path, "--validation", "16", "--samples", "64", "--order", "2"])
        #expect(r.status == 0, "\(r.output)")
        let row = r.output.split(separator: "\n").first { $0.hasPrefix("  0   ") }?.split(separator: " ")
        guard let row, row.count >= 2, let printed = Double(row[1]) else { Issue.record("no L(θ) row in \(r.output)"); return }

        let train = try MNISTDataset(directory: fixture, validationCount: 16).train
        let labels = Array(train.labels[0..<64])
        let θ = Tensor<Double>(converting: try loadParameters(from: file, layout: model.layout))
        let exact = try value(of: model.loss(on: train.images(rows: 0..<64, as: Double.self), labels: labels), at: θ)
        let widened = try value(of: model.loss(on: Tensor<Double>(converting: train.images(rows: 0..<64, as: Float.self)), labels: labels), at: θ)
        let halfDigit = 5e-11 * abs(exact) * 1.01
        #expect(abs(printed - exact) <= halfDigit, "printed \(printed), loss \(exact)")
        #expect(abs(printed - widened) > halfDigit, "printed \(printed), loss on widened Float pixels \(widened)")
    }

    /// `taylor` prints the smooth interval and the quadratic-model radius after the coefficients:
    /// the same numbers as ``smoothnessRadius(of:at:along:order:)`` and
    /// ``quadraticModelRadii(coefficients:tolerance:)`` on the same loss and direction.
    @Test func taylorPrintsTheValidityRadii() throws {
        guard let exe = landscapeExecutable() else { return }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fixture = root.appendingPathComponent("Tests/Fixtures/data")
        let model = MLP()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("taylor-radii-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let θ32 = model.initialParameters(Float.self, seed: 3)
        var rng = SplitMix64(seed: 17)
        let v32 = Tensor<Float>.randomNormal([θ32.count], using: &rng).normalized()
        try saveParameters(θ32, layout: model.layout, to: dir.appendingPathComponent("theta.safetensors"))
        try saveParameters(v32, layout: model.layout, to: dir.appendingPathComponent("v.safetensors"))
        let r = try runLandscape(exe, ["taylor", "--parameters", dir.appendingPathComponent("theta.safetensors").path,
                                       "--direction", dir.appendingPathComponent("v.safetensors").path,
                                       "--data-dir", fixture.path, "--validation", "16", "--samples", "32", "--order", "6"])
        #expect(r.status == 0, "\(r.output)")
        let lines = r.output.split(separator: "\n").map(String.init)
        guard let smooth = lines.first(where: { $0.hasPrefix("smooth for t in (−") }),
              let quadratic = lines.first(where: { $0.hasPrefix("quadratic model within 10 % for |ε| ≤ ") }) else {
            Issue.record("no radius lines in \(r.output)"); return
        }
        let numbers = { (s: String) in s.split(whereSeparator: { !"0123456789.e+-".contains($0) }).compactMap { Double($0) } }
        let train = try MNISTDataset(directory: fixture, validationCount: 16).train
        let f = try model.loss(on: train.images(rows: 0..<32, as: Double.self), labels: Array(train.labels[0..<32]))
        let expected = try smoothnessRadius(of: f, at: Tensor<Double>(converting: θ32), along: Tensor<Double>(converting: v32), order: 6)
        let printedSmooth = numbers(String(smooth.dropFirst("smooth for t in (−".count)))
        #expect(printedSmooth.count >= 2 && abs(printedSmooth[0] - expected.backward) <= 1e-5 * expected.backward
                && abs(printedSmooth[1] - expected.forward) <= 1e-5 * expected.forward, "\(smooth) vs \(expected.backward), \(expected.forward)")
        #expect(smooth.contains("exact: routing values are polynomials of degree 2 < order 6"), "\(smooth)")
        let radii = try quadraticModelRadii(coefficients: expected.coefficients)
        let printedQuadratic = numbers(String(quadratic.dropFirst("quadratic model within 10 % for |ε| ≤ ".count)))
        let r0 = min(radii.forward, radii.backward)
        #expect(!printedQuadratic.isEmpty && abs(printedQuadratic[0] - r0) <= 1e-5 * r0, "\(quadratic) vs \(r0)")
        #expect(quadratic.contains(expected.radius < r0 ? "by the order-6 jet, but that is beyond the smooth interval" : "(true error there "), "\(quadratic)")
    }

    /// The 1D slice marks the smooth interval and the quadratic radius (vertical lines) and prints them.
    @Test func sliceMarksTheValidityRadii() throws {
        guard let exe = landscapeExecutable() else { return }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-slice-radii-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try runLandscape(exe, ["slice", "--range=-0.001:0.001", "--dimensions", "1", "--points", "21", "--samples", "32", "--validation", "16",
                                       "--data-dir", root.appendingPathComponent("Tests/Fixtures/data").path, "--output-dir", out.path])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("smooth for α in (−") && r.output.contains("quadratic model within 10 % for |ε| ≤ "), "\(r.output)")
        let svg = try String(contentsOf: out.appendingPathComponent("slice1d.svg"), encoding: .utf8)
        #expect(svg.contains("data-series=\"smooth interval: activation pattern fixed\"><polyline"), "no smooth-interval lines")
        #expect(svg.contains("data-series=\"quadratic model within 10 %\""))
    }
}

import Foundation
import Testing
import Autodiff
import Checkpoints
import Datasets
import Layers
import Probes
import Tensors
import Training

/// The shared MNIST copy beside the repository (../shared/data/mnist), if present.
func sharedMNIST() -> URL? {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dir = root.deletingLastPathComponent().appendingPathComponent("shared/data/mnist")
    return FileManager.default.fileExists(atPath: dir.appendingPathComponent("train-images-idx3-ubyte.gz").path) ? dir : nil
}

/// The shared MNIST copy, or `nil` after recording that the calling test could not run.
func sharedMNISTOrRecord() -> URL? {
    if let dir = sharedMNIST() { return dir }
    Issue.record("MNIST not found at ../shared/data/mnist: this test needs the real data and did not run")
    return nil
}

func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-test-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct TrainingTests {
    @Test func shortRunOnRealMNISTReducesTheLoss() throws {
        guard let dir = sharedMNISTOrRecord() else { return }
        let data = try MNISTDataset(directory: dir, validationCount: 1000, trainLimit: 3000, testLimit: 1000)
        var cfg = TrainingConfiguration()
        cfg.epochs = 2
        cfg.optimizer.batchSize = 32
        cfg.optimizer.learningRate = 0.05
        cfg.probes.probeSamples = 256
        cfg.probes.lambdaIterations = 10
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let trainer = try Trainer(configuration: cfg, data: data, outputDirectory: out)
        let model = MLP()
        let θ0 = model.initialParameters(Float.self, seed: cfg.seed)
        let (trainX, trainY) = Trainer.tensor(of: data.train, as: Float.self)
        let (initialLoss, _) = try model.evaluate(θ0, input: trainX, labels: trainY, batchSize: cfg.evaluationBatchSize)
        let (θ, metrics) = try trainer.run()
        #expect(metrics.count == 2)
        #expect(metrics[1].trainLoss < 0.5 * initialLoss, "loss \(initialLoss) → \(metrics[1].trainLoss)")
        #expect(metrics[1].testAccuracy > 0.8)
        #expect(metrics.allSatisfy { $0.lambdaMax.isFinite && $0.lambdaMax > 0 })
        // Files: metrics.csv with a header and one row per epoch; run.json with the kernel; checkpoints that load back.
        let csv = try String(contentsOf: out.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 3)
        #expect(csv[0] == Substring(EpochMetrics.csvHeader(probeColumns: EpochProbes.lambdaMaxColumns)))
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("run.json"))) as? [String: Any]
        #expect((info?["openblas"] as? [String: Any])?["kernel"] as? String == BLASRuntime.coreName)
        #expect((info?["openblas"] as? [String: Any])?["convolution"] as? String == ConvolutionKernel.selected.rawValue)
        let loaded = try loadParameters(from: out.appendingPathComponent("theta-epoch-002.safetensors"), layout: model.layout)
        #expect(loaded == θ)
        let file = try SafeTensors.read(from: out.appendingPathComponent("theta-epoch-002.safetensors"))
        #expect(file.names.sorted() == model.layout.entries.map(\.name).sorted())
        #expect(try file.shape(named: "fc1.weight") == [256, 784])
    }

    @Test func nonFiniteLossStopsWithEpochAndStepAndKeepsTheCheckpoint() throws {
        // A synthetic data set and an absurd learning rate make the loss overflow.
        let n = 256
        var rng = SplitMix64(seed: 3)
        let pixels = randomPixels(n * 784, using: &rng)
        let labels = (0..<n).map { _ in rng.next(below: 10) }
        let split = DatasetSplit(name: "synthetic", pixels: pixels, labels: labels, featureCount: 784)
        let data = try syntheticDataset(train: split)
        var cfg = TrainingConfiguration()
        cfg.epochs = 3
        cfg.optimizer.batchSize = 32
        // A sane rate in epoch 1, then ×1e6 from epoch 2 on (the step schedule counts epochs).
        cfg.optimizer.learningRate = 0.01
        cfg.optimizer.momentum = 0.9
        cfg.schedule = .step(everyEpochs: 1, gamma: 1e6)
        cfg.probes.lambdaEvery = 0
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        do {
            _ = try Trainer(configuration: cfg, data: data, outputDirectory: out).run()
            Issue.record("training with learning rate 1e6 did not stop")
        } catch let TrainingError.nonFiniteLoss(epoch, step, loss, last, cause) {
            #expect(!loss.isFinite)
            #expect(epoch == 2 && step >= 1, "stopped at epoch \(epoch), step \(step)")
            let message = "\(TrainingError.nonFiniteLoss(epoch: epoch, step: step, loss: loss, lastCheckpoint: last, cause: cause))"
            #expect(message.contains("epoch \(epoch)") && message.contains("step \(step)") && message.contains(cause))
            // No weight decay and no λ_max: the cause names the rate the schedule raised, and every other candidate.
            #expect(cause.contains("η = 1e+04") && cause.contains("schedule") && cause.contains("λ_max was not measured") && cause.contains("momentum μ = 0.9"), "\(cause)")
            // Without a measured λ_max the cause must not claim the curvature ruled.
            #expect(!cause.contains("too large for the loss's curvature"), "\(cause)")
            #expect(last == out.appendingPathComponent("theta-epoch-001.safetensors").path)
            let kept = try loadParameters(from: out.appendingPathComponent("theta-epoch-001.safetensors"), layout: MLP().layout)
            #expect(kept.scalars.allSatisfy { $0.isFinite })
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("theta-epoch-002.safetensors").path))
        }
    }

    @Test func invalidConfigurationsAreRejectedWithTheirName() throws {
        var cfg = TrainingConfiguration()
        cfg.optimizer.batchSize = 0
        do { try cfg.validate(); Issue.record("batch size 0 accepted") } catch let error as ConfigurationError {
            #expect(error.key == "optimizer.batchSize" && "\(error)".contains("'optimizer.batchSize' must be in 1...16777216, got 0"), "\(error)")
        }
        do { _ = try cfg.setting("schedule=linear"); Issue.record("schedule 'linear' accepted") } catch {
            #expect("\(error)".contains("'training.schedule'") == false && "\(error)".contains("'schedule'") && "\(error)".contains("linear"), "\(error)")
        }
        cfg = TrainingConfiguration(); cfg.optimizer.momentum = 1
        #expect(throws: ConfigurationError.self) { try cfg.validate() }
        #expect(throws: ModelError.self) { try ModelSpec(parsing: "resnet").make() }
        #expect(try ModelSpec(parsing: "CNN").make().name == "cnn")
    }

    @Test func parametersWithTheWrongShapeAreRejectedOnLoad() throws {
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let small = MLP(sizes: [4, 3, 2])
        let url = out.appendingPathComponent("small.safetensors")
        try saveParameters(small.initialParameters(Float.self, seed: 1), layout: small.layout, to: url)
        #expect(throws: (any Error).self) { try loadParameters(from: url, layout: MLP().layout) }
        #expect(throws: AutodiffError.self) { try saveParameters(Tensor<Float>.zeros([3]), layout: small.layout, to: url) }
    }
}

/// `count` seeded pixel bytes: uniform values in [0, 1) times 255, rounded.
func randomPixels(_ count: Int, using rng: inout SplitMix64) -> [UInt8] {
    (0..<count).map { _ in UInt8((Float(rng.nextUnitInterval()) * 255).rounded()) }
}

/// An MNISTDataset built from in-memory splits by writing IDX files to a temporary directory.
func syntheticDataset(train: DatasetSplit) throws -> MNISTDataset {
    let dir = temporaryDirectory()
    let n = train.count
    try IDX.write(IDXTensor(shape: [n, 28, 28], bytes: train.pixels), to: dir.appendingPathComponent("train-images-idx3-ubyte.gz"))
    try IDX.write(IDXTensor(shape: [n], bytes: train.labels.map { UInt8($0) }), to: dir.appendingPathComponent("train-labels-idx1-ubyte.gz"))
    try IDX.write(IDXTensor(shape: [16, 28, 28], bytes: [UInt8](repeating: 0, count: 16 * 784)), to: dir.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
    try IDX.write(IDXTensor(shape: [16], bytes: [UInt8](repeating: 1, count: 16)), to: dir.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
    return try MNISTDataset(directory: dir, validationCount: 16)
}

struct Interrupted: Error {}

@Suite struct ResumeTests {
    /// Interrupt after epoch 1 of 3, resume, and compare with an uninterrupted run: the same
    /// metrics (all but the timing columns) and the same final θ, bit for bit.
    @Test func resumedRunEqualsUninterruptedRun() throws {
        let n = 512
        var rng = SplitMix64(seed: 8)
        let pixels = randomPixels(n * 784, using: &rng)
        let labels = (0..<n).map { _ in rng.next(below: 10) }
        let data = try syntheticDataset(train: DatasetSplit(name: "synthetic", pixels: pixels, labels: labels, featureCount: 784))
        var cfg = TrainingConfiguration()
        cfg.epochs = 3
        cfg.optimizer.batchSize = 32
        cfg.probes.probeSamples = 64
        cfg.probes.lambdaIterations = 5
        let a = temporaryDirectory(), b = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        let (θa, _) = try Trainer(configuration: cfg, data: data, outputDirectory: a).run()
        do {
            _ = try Trainer(configuration: cfg, data: data, outputDirectory: b).run(onEpoch: { m in if m.epoch == 1 { throw Interrupted() } })
            Issue.record("the run was not interrupted")
        } catch is Interrupted {}
        let (θb, resumed) = try Trainer(configuration: cfg, data: data, outputDirectory: b).run(resume: true)
        #expect(resumed.map(\.epoch) == [2, 3])
        #expect(θa == θb)
        func rows(_ dir: URL) throws -> [String] { try rowsWithoutTimes(dir) }
        #expect(try rows(a) == rows(b))
        #expect(try rows(a).count == 4)
        // Another configuration, nothing left to resume, and a directory without a run are clear errors.
        var other = cfg
        other.seed = 9
        do {
            _ = try Trainer(configuration: other, data: data, outputDirectory: b).run(resume: true)
            Issue.record("resuming with another seed was accepted")
        } catch { #expect("\(error)".contains("another configuration"), "\(error)") }
        #expect(throws: TrainingError.self) { try Trainer(configuration: cfg, data: data, outputDirectory: a).run(resume: true) }
        let empty = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: TrainingError.self) { try Trainer(configuration: cfg, data: data, outputDirectory: empty).run(resume: true) }
    }

    @Test func chunkedProbeHessianIsTheSameMatrix() throws {
        // Uneven chunks (100 = 32 + 32 + 32 + 4) weighted by size give the Hessian of the mean over all 100 rows.
        let seed: UInt64 = 17
        var rng = SplitMix64(seed: seed)
        let model = MLP(sizes: [12, 8, 3])
        let x = Tensor<Double>.randomNormal([100, 12], using: &rng)
        let y = (0..<100).map { ($0 * 7) % 3 }
        let θ = model.initialParameters(Double.self, seed: seed)
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let h0 = try hessianVectorProduct(of: try model.loss(on: x, labels: y), at: θ, along: v)
        let h1 = try Trainer.probeHessian(of: model, at: θ, input: x, labels: y, chunk: 32).apply(v)
        var dh = h0; dh.addScaled(h1, -1)
        #expect(dh.norm() < 1e-12 * h0.norm(), "seed \(seed)")
        // samples beyond the data are clamped.
        let (px, py) = Trainer.probeSet(of: x, labels: y, samples: 500)
        #expect(px.shape == [100, 12] && py == y)
        #expect(Trainer.probeSet(of: x, labels: y, samples: 30).0 == x.rows(0..<30))
    }

    @Test func microBatchesGiveTheSameSteps() throws {
        guard let dir = sharedMNISTOrRecord() else { return }
        let data = try MNISTDataset(directory: dir, validationCount: 100, trainLimit: 1000, testLimit: 100)
        var cfg = TrainingConfiguration()
        cfg.epochs = 1
        cfg.optimizer.batchSize = 250
        cfg.probes.lambdaEvery = 0
        let (θ0, m0) = try Trainer(configuration: cfg, data: data, outputDirectory: nil).run()
        cfg.optimizer.microBatchSize = 64 // 250 = 64 + 64 + 64 + 58: uneven parts, weighted by size
        let (θ1, m1) = try Trainer(configuration: cfg, data: data, outputDirectory: nil).run()
        var d = θ0; d.addScaled(θ1, -1)
        #expect(d.norm() < 1e-5 * θ0.norm(), "‖Δθ‖ = \(d.norm())")
        #expect(abs(m0[0].trainRunningLoss - m1[0].trainRunningLoss) < 1e-5)
        cfg.optimizer.microBatchSize = -1
        #expect(throws: ConfigurationError.self) { try cfg.validate() }
    }

    /// `batch_sharpness` after an epoch measures mini-batches of the configuration's batch size from
    /// the training split, each in its micro-batches: at the final θ, each batch's g_Bᵀ(H_B g_B)/‖g_B‖²
    /// by the Hessian-vector product (Float64) gives the row's mean. (`extraProbes` names it with
    /// its automatic K; here K = 5, to keep the debug-build check short.)
    @Test func batchSharpnessMeasuresTheRunsOwnMiniBatches() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try MNISTDataset(directory: root.appendingPathComponent("Tests/Fixtures/data"), validationCount: 16)
        var cfg = TrainingConfiguration()
        cfg.epochs = 1
        cfg.optimizer.batchSize = 24
        cfg.optimizer.microBatchSize = 10   // 24 = 10 + 10 + 4
        cfg.probes.probeSamples = 16
        cfg.probes.lambdaIterations = 3
        cfg.probes.extraProbes = [BatchSharpnessProbe.name]
        #expect(Trainer.defaultEpochProbes(for: cfg).columns.contains("batch_sharpness"))
        let probe = BatchSharpnessProbe(batches: 5, seed: 4)
        let probes = EpochProbes([AnyProbe(LambdaMaxProbe(powerIterations: 3, tolerance: 1e-3)), AnyProbe(probe)], every: 1)
        let (θ, metrics) = try Trainer(configuration: cfg, data: data, outputDirectory: nil, epochProbes: probes).run()
        let m = metrics[0]
        #expect(m["batch_sharpness_batch_size"] == 24 && m["batch_sharpness_batches"] == 5)
        let model = MLP()
        let x = data.train.images(as: Double.self), y = data.train.labels
        let θ64 = Tensor<Double>(converting: θ)
        let source = try Trainer.miniBatches(of: model, input: data.train.images(as: Float.self), labels: y, configuration: cfg)
        var values: [Double] = []
        for k in 0..<5 {
            let rows = source.rows(ofBatch: k, seed: probe.seed)
            #expect(rows.count == 24 && Set(rows).count == 24 && rows.allSatisfy { $0 < data.train.count })
            let f = try model.loss(on: x.gatherRows(rows), labels: rows.map { y[$0] })
            let g = try gradient(of: f, at: θ64)
            values.append(g.dot(try hessianVectorProduct(of: f, at: θ64, along: g)) / g.dot(g))
        }
        let mean = values.reduce(0, +) / Double(values.count)
        #expect(abs(m["batch_sharpness"] - mean) <= 1e-4 * abs(mean), "Float32 probe \(m["batch_sharpness"]) vs Float64 HVP \(mean)")
        #expect(m["batch_sharpness_stderr"] > 0 && m["batch_gradient_norm"] > 0)
    }

    /// `sharpness_gradient` after an epoch steps with the run's learning rate (the trainer sets the
    /// context's) from the λ_max probe's vector of the same pass.
    @Test func sharpnessGradientStepsWithTheRunsLearningRate() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try MNISTDataset(directory: root.appendingPathComponent("Tests/Fixtures/data"), validationCount: 16)
        var cfg = TrainingConfiguration()
        cfg.epochs = 1
        cfg.optimizer.batchSize = 40
        cfg.probes.probeSamples = 8
        cfg.probes.lambdaIterations = 2
        cfg.probes.extraProbes = [SharpnessGradientProbe.name]
        let trainer = try Trainer(configuration: cfg, data: data)
        #expect(trainer.epochProbes.columns.contains("sharpness_gradient_inner"))
        let (_, metrics) = try trainer.run()
        let m = metrics[0]
        // The rate of the epoch's last step (the schedule's, as metrics.csv's learning_rate).
        #expect(m["sharpness_gradient_step"] == m.learningRate && m.learningRate > 0, "\(m["sharpness_gradient_step"]) vs \(m.learningRate)")
        #expect(m["sharpness_gradient_norm"] > 0 && m["sharpness_gradient_predicted"].isFinite && m["sharpness_gradient_measured"].isFinite)
    }

    /// A run with an extra probe, its store created and reopened without naming the probe columns
    /// (as `landscape train` does), writes them in metrics.csv's header and resumes.
    @Test func extraProbeColumnsAreWrittenAndResumed() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try MNISTDataset(directory: root.appendingPathComponent("Tests/Fixtures/data"), validationCount: 16)
        var cfg = TrainingConfiguration()
        cfg.epochs = 2
        cfg.optimizer.batchSize = 40
        cfg.probes.probeSamples = 8
        cfg.probes.lambdaIterations = 2
        cfg.probes.extraProbes = [KeskarProbe.name]
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = MLP(), trainer = try Trainer(configuration: cfg, data: data)
        struct Stop: Error {}
        do {
            let store = try RunStore.create(at: dir, configuration: cfg, model: model, data: data)
            defer { store.close() }
            _ = try trainer.train(model: model, from: nil, store: store, onEpoch: { _ in throw Stop() })
            Issue.record("not stopped")
        } catch is Stop {}
        let header = try String(contentsOf: dir.appendingPathComponent(RunStore.metricsName), encoding: .utf8).split(separator: "\n")[0]
        #expect(header == Substring(EpochMetrics.csvHeader(probeColumns: trainer.epochProbes.columns)) && header.contains("keskar_sharpness"), "\(header)")
        let store = try RunStore.open(at: dir)
        defer { store.close() }
        let state = try #require(try store.lastComplete(layout: model.layout, stepsPerEpoch: trainer.stepsPerEpoch))
        #expect(state.epoch == 1)
        try store.prepareToContinue(after: state)
        let (_, metrics) = try trainer.train(model: model, from: state, store: store)
        #expect(metrics.map(\.epoch) == [2] && metrics[0]["keskar_steps"] >= 1)
    }

    @Test func olderRunConfigurationsStillDecode() throws {
        // run.json's flat form, written before probeBatchSize/microBatchSize existed.
        let json = #"{"model":"cnn","batchSize":32,"learningRate":0.1,"momentum":0.5,"weightDecay":0,"nesterov":false,"schedule":"constant","epochs":2,"seed":4,"lambdaEvery":1,"lambdaSamples":128,"lambdaIterations":5,"lambdaTolerance":0.01,"evaluationBatchSize":512}"#
        let c = try TrainingConfiguration.decode(json: Data(json.utf8), source: "run.json")
        #expect(c.model == .cnn && c.optimizer.batchSize == 32 && c.seed == 4 && c.probes.probeSamples == 128 && c.probes.probeBatchSize == 0 && c.optimizer.microBatchSize == 0)
        #expect(c.schedule == .constant && c.optimizer.momentum == 0.5 && c.probes.lambdaTolerance == 0.01 && c.evaluationBatchSize == 512)
        do { _ = try TrainingConfiguration.decode(json: Data(#"{"epochs":"two"}"#.utf8), source: "run.json"); Issue.record("accepted") } catch {
            #expect("\(error)" == "run.json: 'epochs' must be an integer", "\(error)")
        }
    }
}

import Foundation
import Testing
import Datasets
import Layers
import Optimizers
import Tensors
import Training

/// Gradient clipping by global norm: one configuration property, used by SGD; its option, `--set`
/// key, file key and `--print-config` line come from the configuration type.
@Suite struct GradientClippingTests {
    @Test func sgdClipsTheGradientToTheGlobalNorm() throws {
        var sgd = try SGD<Double>(parameterCount: 3, learningRate: 1, gradientClipNorm: 1)
        var θ = Tensor<Double>([0, 0, 0])
        try sgd.update(&θ, gradient: Tensor([3, 4, 0]))          // ‖g‖ = 5: scaled to norm 1
        #expect(zip(θ.scalars, [-0.6, -0.8, 0]).allSatisfy { abs($0 - $1) < 1e-15 }, "\(θ.scalars)")
        try sgd.update(&θ, gradient: Tensor([0.3, 0.4, 0]))      // ‖g‖ = 0.5: unchanged
        #expect(zip(θ.scalars, [-0.9, -1.2, 0]).allSatisfy { abs($0 - $1) < 1e-15 }, "\(θ.scalars)")
        #expect(throws: OptimizerError.self) { try SGD<Double>(parameterCount: 3, learningRate: 1, gradientClipNorm: 0) }
    }

    @Test func itIsAConfigurationKeyOffByDefault() throws {
        #expect(TrainingConfiguration().optimizer.gradientClipNorm == nil)
        #expect(TrainingConfiguration.keyPaths.contains("optimizer.gradientClipNorm"))
        let json = try #require(TrainingConfiguration().jsonObject()["optimizer"] as? [String: Any])
        #expect(json["gradientClipNorm"] is NSNull)
        let c = try TrainingConfiguration().setting("gradientClipNorm=0.5")
        #expect(c.optimizer.gradientClipNorm == 0.5)
        #expect(try TrainingConfiguration.decode(json: c.jsonData(), source: "file") == c)
        for bad in ["0", "-1"] {
            do { try TrainingConfiguration().setting("gradientClipNorm=\(bad)").validate(); Issue.record("\(bad) accepted") } catch {
                #expect("\(error)".contains("'optimizer.gradientClipNorm' must be positive and finite"), "\(error)")
            }
        }
    }

    @Test func trainingWithClippingMovesThetaAtMostEtaTimesCPerStep() throws {
        var rng = SplitMix64(seed: 21)
        let pixels = randomPixels(256 * 784, using: &rng)
        let labels = (0..<256).map { _ in rng.next(below: 10) }
        let data = try syntheticDataset(train: DatasetSplit(name: "synthetic", pixels: pixels, labels: labels, featureCount: 784))
        var cfg = TrainingConfiguration()
        cfg.epochs = 1
        cfg.optimizer.momentum = 0
        cfg.schedule = .constant
        cfg.probes.lambdaEvery = 0
        let (off, _) = try Trainer(configuration: cfg, data: data).run()
        cfg.optimizer.gradientClipNorm = 1e9
        let (loose, _) = try Trainer(configuration: cfg, data: data).run()
        #expect(loose.scalars == off.scalars, "a clip norm no gradient reaches changes nothing")
        cfg.optimizer.gradientClipNorm = 1e-3
        let (clipped, _) = try Trainer(configuration: cfg, data: data).run()
        var moved = clipped
        moved.addScaled(MLP().initialParameters(Float.self, seed: cfg.seed), -1)
        let steps = Double(data.train.batchCount(size: cfg.optimizer.batchSize))
        #expect(moved.norm() <= steps * cfg.optimizer.learningRate * 1e-3 * (1 + 1e-4), "‖Δθ‖ = \(moved.norm())")
        #expect(moved.norm() > 0)
    }

    @Test func theCommandLineOptionFollowsFromTheKey() throws {
        guard let exe = landscapeExecutable() else { return }
        let r = try runLandscape(exe, ["train", "--gradient-clip-norm", "0.25", "--print-config"])
        #expect(r.status == 0 && r.output.contains("\"gradientClipNorm\" : 0.25"), "\(r.output)")
        let s = try runLandscape(exe, ["study", "--print-config"])
        #expect(s.status == 0 && s.output.contains("\"gradientClipNorm\" : null"), "\(s.output)")
        let bad = try runLandscape(exe, ["study", "--gradient-clip-norm", "-1", "--print-config"])
        #expect(bad.status != 0 && bad.output.contains("'training.optimizer.gradientClipNorm' must be positive and finite"), "\(bad.output)")
    }
}

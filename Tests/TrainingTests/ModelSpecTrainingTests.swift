import Foundation
import Testing
import Datasets
import Layers
import Tensors
import Training

/// The trainer with models from specifications: each step sees the model in training mode
/// (dropout masks from the step's seed), micro-batches take the same step, and a model with
/// BatchNorm refuses micro-batches.
@Suite struct ModelSpecTrainingTests {
    static let data: MNISTDataset? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try? MNISTDataset(directory: root.appendingPathComponent("Tests/Fixtures/data"), validationCount: 16)
    }()

    static func trained(_ model: String, microBatch: Int = 0, seed: UInt64 = 0) throws -> Tensor<Float> {
        var cfg = TrainingConfiguration()
        cfg.model = try ModelSpec(reading: model)
        cfg.epochs = 1
        cfg.seed = seed
        cfg.optimizer.batchSize = 24
        cfg.optimizer.microBatchSize = microBatch
        cfg.probes.lambdaEvery = 0
        return try Trainer(configuration: cfg, data: try #require(data), outputDirectory: nil).run().parameters
    }

    static func distance(_ a: Tensor<Float>, _ b: Tensor<Float>) -> Double {
        var d = a
        d.addScaled(b, -1)
        return d.norm()
    }

    /// Dropout has no parameters, so both models start from the same θ; only the masks make the
    /// dropout model's steps differ. The masks are per sample, so micro-batches (24 = 10 + 10 + 4)
    /// give the step of the whole batch, and the same seed gives the same run.
    @Test func dropoutMasksComeFromTheStepAndMicroBatchesTakeTheSameStep() throws {
        let plain = try Self.trained("mlp:784-32-10")
        let dropped = try Self.trained("mlp:784-32-10+drop0.5")
        #expect(Self.distance(plain, dropped) > 1e-3 * plain.norm(), "dropout did not change the steps")
        #expect(try Self.trained("mlp:784-32-10+drop0.5") == dropped)
        let micro = try Self.trained("mlp:784-32-10+drop0.5", microBatch: 10)
        #expect(Self.distance(micro, dropped) < 1e-5 * dropped.norm(), "‖Δθ‖ = \(Self.distance(micro, dropped))")
        #expect(Self.distance(try Self.trained("mlp:784-32-10+drop0.5", seed: 1), dropped) > 0)
    }

    /// BatchNorm's batch statistics couple the samples: a micro-batch size is refused by name.
    @Test func aBatchNormModelRefusesMicroBatches() throws {
        var cfg = TrainingConfiguration()
        cfg.model = try ModelSpec(reading: "mlp:784-32-10+bn")
        cfg.optimizer.microBatchSize = 16
        let error = try #require(throws: ConfigurationError.self) { try cfg.validate() }
        #expect(error.key == "optimizer.microBatchSize" && error.problem.contains("BatchNorm"), "\(error)")
        cfg.optimizer.microBatchSize = 0
        try cfg.validate()
    }

    /// A specification that parses but cannot be built (a convolution on a flat input) is refused
    /// by validation under the key `model`, before any data is read.
    @Test func aModelThatCannotBeBuiltIsAValidationError() throws {
        var cfg = TrainingConfiguration()
        cfg.model = try ModelSpec(parsing: #"{"name": "flat-conv", "input": [784], "layers": [{"conv2d": {"out": 4, "kernel": 3}}, "flatten", {"linear": {"out": 10}}]}"#)
        #expect(throws: (any Error).self) { _ = try cfg.model.make() }
        let error = try #require(throws: ConfigurationError.self) { try cfg.validate() }
        #expect(error.key == "model" && error.problem.contains("flat-conv"), "\(error)")
    }

    /// Step probes of a model with BatchNorm in eval mode use the population statistics at θ of
    /// the epoch's start, not a new pass over the training split at every probed step. With one
    /// step per epoch the step probe after step 1 and the epoch probe of epoch 1 see the same θ₁
    /// and the same seed (seed + 1) and no warm start: in train mode (batch statistics of the probe
    /// set at θ₁ for both) they agree exactly; in eval mode the step probe's statistics are θ₀'s,
    /// the epoch probe's θ₁'s, so they differ.
    @Test func stepProbesOfABatchNormModelUseTheStatisticsOfTheEpochsStart() throws {
        let data = try #require(Self.data)
        func lambdas(_ mode: NormalizationMode) throws -> (step: Double, epoch: Double) {
            var cfg = TrainingConfiguration()
            cfg.model = try ModelSpec(parsing: "mlp:784-16-10+bn")
            cfg.epochs = 1
            cfg.optimizer.batchSize = data.train.count
            cfg.optimizer.learningRate = 0.5
            cfg.probes.probeSamples = 32
            cfg.probes.lambdaEverySteps = 1
            cfg.probes.normalization = mode
            var trainer = try Trainer(configuration: cfg, data: data, outputDirectory: nil)
            #expect(trainer.stepsPerEpoch == 1)
            let steps = Box()
            trainer.onStepMetrics = { steps.rows.append($0) }
            let epoch = try #require(try trainer.run().metrics.first)
            let step = try #require(steps.rows.first)
            #expect(steps.rows.count == 1 && step.step == 1)
            return (step.lambdaMax, epoch.lambdaMax)
        }
        let train = try lambdas(.train)
        #expect(train.step == train.epoch && train.step.isFinite, "\(train)")
        let eval = try lambdas(.eval)
        #expect(eval.step.isFinite && eval.epoch.isFinite)
        #expect(abs(eval.step - eval.epoch) > 1e-6 * abs(eval.epoch), "\(eval)")
    }

    final class Box: @unchecked Sendable { var rows: [StepMetrics] = [] }
}

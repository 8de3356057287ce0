import Foundation
import Testing
import Autodiff
import Datasets
import Layers
import Optimizers
import Probes
import Tensors
import Training

/// The curvature along every SGD step (probes.stepCurvature, step-curvature.csv).
@Suite(.serialized) struct StepCurvatureTests {
    /// Plain SGD without momentum: Δθ = −ηg, so the critical sharpness 2/η_c and κ are both
    /// gᵀHg/‖g‖² (Hg by forward-over-reverse), on a tiny Double MLP; and the cases without a
    /// critical step.
    @Test func plainSGDsCriticalSharpnessIsTheCurvatureAlongTheGradient() throws {
        let seed: UInt64 = 11
        let model = MLP(sizes: [6, 5, 3])
        var rng = SplitMix64(seed: seed)
        let x = Tensor<Double>.randomNormal([8, 6], using: &rng)
        let f = try model.loss(on: x, labels: (0..<8).map { $0 % 3 })
        let θ = model.initialParameters(Double.self, seed: seed).scaled(by: 2)
        let g = try gradient(of: f, at: θ)
        let η = 0.3
        var sgd = try SGD<Double>(parameterCount: θ.count, learningRate: η)
        var after = θ
        try sgd.update(&after, gradient: g)
        var Δθ = after
        Δθ.addScaled(θ, -1)
        let c = try stepCurvature(of: LossFunction(f), at: θ, step: Δθ, learningRate: η)
        let want = g.dot(try hessianVectorProduct(of: f, at: θ, along: g)) / g.dot(g)
        #expect(abs(c.criticalSharpness - want) <= 1e-10 * abs(want), "seed \(seed): \(c.criticalSharpness) vs gᵀHg/‖g‖² \(want)")
        #expect(abs(c.directionalCurvature - want) <= 1e-10 * abs(want), "seed \(seed)")
        let loss = try value(of: f, at: θ)
        #expect(abs(c.slope + η * g.dot(g)) <= 1e-12 * η * g.dot(g) && abs(c.loss - loss) <= 1e-14)
        // An ascent step has no critical step; a step along negative curvature never returns to L.
        let ascent = Δθ.scaled(by: -1)
        let up = try stepCurvature(of: LossFunction(f), at: θ, step: ascent, learningRate: η)
        #expect(up.criticalStep.isNaN && up.criticalSharpness.isNaN && abs(up.directionalCurvature - want) <= 1e-10 * abs(want))
        let concave = StepCurvature(coefficients: [1, -2, -0.5], stepNormSquared: 4, learningRate: 0.1)
        #expect(concave.criticalStep == .infinity && concave.criticalLearningRate == .infinity && concave.criticalSharpness == 0)
        #expect(concave.directionalCurvature == -0.25)
        let zero = StepCurvature(coefficients: [1, 0, 0], stepNormSquared: 0, learningRate: 0.1)
        #expect(zero.directionalCurvature.isNaN && zero.criticalStep.isNaN)
        // The divergence flag: κ above the limit, or not finite for a step that moved; a step that did not move exceeds nothing.
        func row(_ c: StepCurvature) -> StepCurvatureMetrics { StepCurvatureMetrics(epoch: 1, step: 1, stabilityLimit: 38, curvature: c, seconds: 0) }
        #expect(!row(zero).exceedsLimit && !row(quadraticOf(κ: 37.5)).exceedsLimit && row(quadraticOf(κ: 38.5)).exceedsLimit)
        #expect(row(StepCurvature(coefficients: [1, -2, .nan], stepNormSquared: 4, learningRate: 0.1)).exceedsLimit)
        #expect(row(StepCurvature(coefficients: [.infinity, -.infinity, .infinity], stepNormSquared: .infinity, learningRate: 1e30)).exceedsLimit)
        let quadratic = StepCurvature(coefficients: [1, -2, 0.5], stepNormSquared: 4, learningRate: 0.1)
        // q(α) = 1 − 2α + ½α²: back at 1 for α = 4.
        #expect(quadratic.criticalStep == 4 && abs(quadratic.criticalLearningRate - 0.4) < 1e-15 && abs(quadratic.criticalSharpness - 5) < 1e-14)
    }

    /// A step of ‖Δθ‖² = 1 whose curvature along it is κ.
    func quadraticOf(κ: Double) -> StepCurvature { StepCurvature(coefficients: [1, -1, κ / 2], stepNormSquared: 1, learningRate: 0.05) }

    /// A run with momentum 0.9 and weight decay: each row's κ, gᵀΔθ and critical learning rate
    /// against ΔθᵀHΔθ of the same batch at the same θ by a forward-over-reverse HVP in Float64,
    /// with the steps replayed here (the same initialization, batches and optimizer).
    @Test func eachRowMatchesAHessianVectorProductOnTheStepsBatch() throws {
        guard let data = try StoppingAndStepTests.data() else { return }
        var cfg = StoppingAndStepTests.configuration
        cfg.epochs = 1
        cfg.optimizer.weightDecay = 5e-4
        cfg.probes.stepCurvature = true
        let model = StoppingAndStepTests.model
        var rows: [StepCurvatureMetrics] = []
        var trainer = try Trainer(configuration: cfg, data: data)
        trainer.onStepCurvature = { rows.append($0) }
        _ = try trainer.train(model: model, from: nil, store: nil)
        #expect(rows.map(\.step) == Array(1...StoppingAndStepTests.stepsPerEpoch))

        let steps = StoppingAndStepTests.stepsPerEpoch
        let x = data.train.images(as: Float.self), x64 = data.train.images(as: Double.self), y = data.train.labels
        var θ = model.initialParameters(Float.self, seed: cfg.seed)
        var sgd = try SGD<Float>(parameterCount: θ.count, learningRate: cfg.optimizer.learningRate, momentum: cfg.optimizer.momentum,
                                 weightDecay: cfg.optimizer.weightDecay, schedule: try cfg.learningRateSchedule(stepsPerEpoch: steps), totalSteps: steps)
        for (k, batch) in data.train.batchIndices(size: cfg.optimizer.batchSize, seed: cfg.seed, epoch: 1).prefix(4).enumerated() {
            let labels = batch.map { y[$0] }
            let g = try gradient(of: try model.loss(on: x.gatherRows(batch), labels: labels), at: θ)
            let before = θ, η = sgd.currentLearningRate
            try sgd.update(&θ, gradient: g)
            var Δθ = θ
            Δθ.addScaled(before, -1)
            let f64 = try model.loss(on: x64.gatherRows(batch), labels: labels)
            let θ64 = Tensor<Double>(converting: before), Δ64 = Tensor<Double>(converting: Δθ)
            let (loss, g64, hΔ) = try valueGradientAndHVP(of: f64, at: θ64, along: Δ64)
            let curvature = Δ64.dot(hΔ), slope = g64.dot(Δ64)
            let κ = curvature / Δ64.dot(Δ64), ηc = -2 * slope / curvature * η
            let r = rows[k]
            #expect(r.learningRate == η && r.stabilityLimit == cfg.stabilityLimit(learningRate: η), "step \(k + 1)")
            #expect(abs(r.curvature.loss - loss) <= 1e-5 * loss, "step \(k + 1): loss \(r.curvature.loss) vs \(loss)")
            #expect(abs(r.curvature.slope - slope) <= 2e-3 * abs(slope), "step \(k + 1): gᵀΔθ \(r.curvature.slope) vs \(slope)")
            #expect(abs(r.curvature.directionalCurvature - κ) <= 2e-3 * abs(κ), "step \(k + 1): κ \(r.curvature.directionalCurvature) vs \(κ)")
            #expect(abs(r.curvature.criticalLearningRate - ηc) <= 4e-3 * abs(ηc), "step \(k + 1): η_c \(r.curvature.criticalLearningRate) vs \(ηc)")
            #expect(r.exceedsLimit == (κ > r.stabilityLimit))
        }
    }

    /// A run interrupted after epoch 1, with a complete row of epoch 2 and one cut by a kill left
    /// in step-curvature.csv, resumes to the uninterrupted run's rows, each step once.
    @Test func theRowsOfAResumedRunAreTheUninterruptedOnes() throws {
        guard let data = try StoppingAndStepTests.data() else { return }
        var cfg = StoppingAndStepTests.configuration
        cfg.epochs = 2
        cfg.probes.stepCurvature = true
        let model = StoppingAndStepTests.model
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        let a = base.appendingPathComponent("a"), b = base.appendingPathComponent("b")
        let (θa, _) = try Trainer(configuration: cfg, data: data, outputDirectory: a).run(model: model, resume: false, onStep: { _ in }, onEpoch: { _ in })
        let expected = try csvRowsWithoutTimes(a.appendingPathComponent(RunStore.stepCurvatureName))
        #expect(expected.first == StepCurvatureMetrics.columns.filter { !$0.hasSuffix("_seconds") }.joined(separator: ","))
        #expect(expected.dropFirst().map { $0.split(separator: ",").prefix(2).joined(separator: ",") } == (1...20).map { "\(($0 + 9) / 10),\($0)" })
        do {
            _ = try Trainer(configuration: cfg, data: data, outputDirectory: b).run(model: model, resume: false, onStep: { _ in },
                                                                                  onEpoch: { m in if m.epoch == 1 { throw Interrupted() } })
            Issue.record("the run was not interrupted")
        } catch is Interrupted {}
        let url = b.appendingPathComponent(RunStore.stepCurvatureName)
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("2,11,0.05,38,2.2,0.1,-0.01,5,0.01,200,0,0.004\n2,12,0.0".utf8))
        try handle.close()
        let (θb, resumed) = try Trainer(configuration: cfg, data: data, outputDirectory: b).run(model: model, resume: true, onStep: { _ in }, onEpoch: { _ in })
        #expect(resumed.map(\.epoch) == [2] && θa == θb)
        #expect(try csvRowsWithoutTimes(url) == expected)
        // A missing row of a complete epoch is refused, naming the file and the step.
        var lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        lines.remove(at: 3)
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        let store = try RunStore.open(at: b)
        defer { store.close() }
        let state = try store.lastComplete(layout: model.layout, stepsPerEpoch: StoppingAndStepTests.stepsPerEpoch)
        do { try store.prepareToContinue(after: state); Issue.record("accepted a missing row") } catch {
            #expect("\(error)".contains(url.path) && "\(error)".contains("where step 3 belongs"), "\(error)")
        }
    }
}

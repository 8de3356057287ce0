import Foundation
import Testing
import Checkpoints
import Datasets
import Layers
import Optimizers
import Probes
import Tensors
import Training

/// Issue 19: the stopping rule, the learning-rate warm-up, the stability limit per epoch and
/// λ_max every K SGD steps (steps.csv): an MLP with 32 hidden units on 320 MNIST samples in
/// batches of 32 (10 steps per epoch).
@Suite(.serialized) struct StoppingAndStepTests {
    static let stepsPerEpoch = 10
    static let model = MLP(sizes: [784, 32, 10])

    static let mnist: MNISTDataset? = sharedMNIST().flatMap { try? MNISTDataset(directory: $0, validationCount: 100, trainLimit: 320, testLimit: 100) }

    static func data() throws -> MNISTDataset? {
        guard sharedMNISTOrRecord() != nil else { return nil }
        return try #require(mnist, "MNIST at ../shared/data/mnist could not be read")
    }

    /// ``Trainer/run(model:resume:onStep:onEpoch:)`` with ``model``.
    @discardableResult
    func run(_ trainer: Trainer, resume: Bool = false, onEpoch: (EpochMetrics) throws -> Void = { _ in }) throws -> (parameters: Tensor<Float>, metrics: [EpochMetrics]) {
        try trainer.run(model: Self.model, resume: resume, onStep: { _ in }, onEpoch: onEpoch)
    }

    static var configuration: TrainingConfiguration {
        var c = TrainingConfiguration()
        c.epochs = 5
        c.optimizer.batchSize = 32
        c.probes.probeSamples = 64
        c.probes.lambdaIterations = 5
        return c
    }

    /// A CSV file's rows as maps from column to text, and its header.
    func table(_ url: URL) throws -> (header: [String], rows: [[String: String]]) {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = lines[0]
        return (header, lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) })
    }

    // MARK: The stopping rule

    @Test func theStoppingRuleStopsAtTheFirstEpochThatMeetsItsTarget() throws {
        guard let data = try Self.data() else { return }
        let cfg = Self.configuration
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        let reference = base.appendingPathComponent("reference")
        let (_, all) = try run(Trainer(configuration: cfg, data: data, outputDirectory: reference))
        let referenceRows = try rowsWithoutTimes(reference)
        #expect(all.count == cfg.epochs)
        // Targets first met before the cap: the best accuracy and the lowest loss of epochs 1…cap−1.
        let accuracies = all.map(\.trainAccuracy), losses = all.map(\.trainLoss)
        let accuracyTarget = accuracies.dropLast().max()!, lossTarget = losses.dropLast().min()!
        let cases = [("accuracy", StoppingRule(trainAccuracy: accuracyTarget), accuracies.firstIndex { $0 >= accuracyTarget }! + 1, "train accuracy \(accuracyTarget)"),
                     ("loss", StoppingRule(trainLoss: lossTarget), losses.firstIndex { $0 <= lossTarget }! + 1, "train loss \(lossTarget)")]
        for (name, rule, stop, target) in cases {
            // The test says something only if the stop has epochs before it and after it.
            #expect(stop >= 2 && stop < cfg.epochs, "\(name): the reference run meets \(target) first at epoch \(stop) (\(accuracies), \(losses))")
            var stopping = cfg
            stopping.stopping = rule
            let dir = base.appendingPathComponent(name)
            let (θ, metrics) = try run(Trainer(configuration: stopping, data: data, outputDirectory: dir))
            #expect(metrics.map(\.epoch) == Array(1...stop), "\(name)")
            // The rows up to the stop are the reference's (header included), θ its checkpoint of that epoch.
            #expect(try rowsWithoutTimes(dir) == Array(referenceRows.prefix(1 + stop)), "\(name)")
            #expect(θ == (try loadParameters(from: reference.appendingPathComponent(ParameterFiles.thetaName(epoch: stop)), layout: Self.model.layout)), "\(name)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(ParameterFiles.thetaName(epoch: stop + 1)).path))
            // A stopped run is finished: resuming it trains no further.
            do {
                _ = try run(Trainer(configuration: stopping, data: data, outputDirectory: dir), resume: true)
                Issue.record("\(name): resumed a run that reached its stopping rule")
            } catch let error as TrainingError {
                #expect("\(error)".contains("already reached the stopping rule's \(target) at epoch \(stop) of at most \(cfg.epochs)"), "\(error)")
            }
            #expect(try rowsWithoutTimes(dir).count == 1 + stop)
            let store = try RunStore.open(at: dir)
            defer { store.close() }
            let state = try #require(try store.lastComplete(layout: Self.model.layout, stepsPerEpoch: Self.stepsPerEpoch))
            #expect(state.epoch == stop && stopping.isFinished(after: state.metrics) && !cfg.isFinished(after: state.metrics))
            #expect(stopping.completion(after: state.metrics) == "reached the stopping rule's \(target) at epoch \(stop) of at most \(cfg.epochs)")
            let (θAgain, more) = try Trainer(configuration: stopping, data: data).train(model: Self.model, from: state, store: nil)
            #expect(more.isEmpty && θAgain == θ)
        }
    }

    @Test func bothTargetsMustBeMetAndTheCapEndsARunThatMeetsNone() throws {
        let m = EpochMetrics(epoch: 4, trainLoss: 0.2, trainAccuracy: 0.95, trainRunningLoss: 0.3, validationLoss: 0.3, validationAccuracy: 0.9,
                             testLoss: 0.3, testAccuracy: 0.9, learningRate: 0.01, stabilityLimit: 380, trainSeconds: 1, evaluationSeconds: 1)
        var c = TrainingConfiguration()
        c.epochs = 10
        c.stopping = StoppingRule(trainAccuracy: 0.95, trainLoss: 0.2)
        #expect(c.completion(after: m) == "reached the stopping rule's train accuracy 0.95 and train loss 0.2 at epoch 4 of at most 10")
        c.stopping = StoppingRule(trainAccuracy: 0.95, trainLoss: 0.1)
        #expect(c.completion(after: m) == nil)
        c.stopping = StoppingRule(trainAccuracy: 0.96)
        #expect(c.completion(after: m) == nil)
        c.epochs = 4
        #expect(c.completion(after: m) == "finished all 4 epochs")
    }

    // MARK: The schedule and its warm-up

    /// The rate of step t (from 0) of T = 10 × 3 steps, from the formulas: η₀, ½η₀(1 + cos(πt/T)),
    /// η₀·0.5^⌊t/10⌋; with a warm-up of W steps, times min(1, (t + 1)/W).
    static func expectedRate(_ schedule: Schedule, warmupSteps w: Int, step t: Int, η0: Double) -> Double {
        let T = 30.0
        let rate: Double
        switch schedule {
        case .constant: rate = η0
        case .cosine: rate = η0 * (1 + Foundation.cos(Double.pi * Double(t) / T)) / 2
        case .step: rate = η0 * Foundation.pow(0.5, Double(t / 10))
        }
        return w > 0 ? rate * Swift.min(1, Double(t + 1) / Double(w)) : rate
    }

    @Test("each step's rate is the schedule's formula over all epochs of the cap, with and without warm-up",
          arguments: [Schedule.constant, .cosine, .step(everyEpochs: 1, gamma: 0.5)], [nil, 1.5] as [Double?])
    func ratesFollowTheFormulaOverTheCap(schedule: Schedule, warmup: Double?) throws {
        guard let data = try Self.data() else { return }
        var cfg = Self.configuration
        cfg.epochs = 3
        cfg.schedule = schedule
        cfg.optimizer.warmupEpochs = warmup
        cfg.probes.lambdaEvery = 0
        cfg.probes.lambdaEverySteps = 1          // steps.csv then holds every step's rate
        cfg.probes.probeSamples = 16
        cfg.probes.lambdaTolerance = 0.5
        let w = warmup == nil ? 0 : 15           // ⌈1.5 × 10⌉
        #expect(cfg.warmupSteps(stepsPerEpoch: Self.stepsPerEpoch) == w)
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        // The whole run, and the same run stopped after epoch 1 (every epoch meets a train loss of 1e6).
        for stopped in [false, true] {
            var c = cfg
            if stopped { c.stopping = StoppingRule(trainLoss: 1e6) }
            let dir = base.appendingPathComponent("\(stopped)")
            _ = try run(Trainer(configuration: c, data: data, outputDirectory: dir))
            let rows = try table(dir.appendingPathComponent(RunStore.stepsName)).rows
            #expect(rows.count == (stopped ? 10 : 30))
            for row in rows {
                let step = Int(row["step"]!)!, rate = Double(row["learning_rate"]!)!
                let expected = Self.expectedRate(schedule, warmupSteps: w, step: step - 1, η0: cfg.optimizer.learningRate)
                #expect(Swift.abs(rate - expected) <= 1e-15 * cfg.optimizer.learningRate, "\(schedule), warm-up \(String(describing: warmup)), step \(step): \(rate) vs \(expected)")
                #expect(Int(row["epoch"]!)! == (step + 9) / 10)
            }
        }
    }

    @Test func warmupEpochsBecomeStepsOnce() throws {
        var c = TrainingConfiguration()
        c.epochs = 10
        c.schedule = .step(everyEpochs: 3, gamma: 0.5)
        c.optimizer.warmupEpochs = 2
        #expect(try c.learningRateSchedule(stepsPerEpoch: 100) == .warmup(steps: 200, then: .step(stepSize: 300, gamma: 0.5)))
        c.optimizer.warmupEpochs = 0
        #expect(try c.learningRateSchedule(stepsPerEpoch: 100) == .step(stepSize: 300, gamma: 0.5))
        // ⌈x⌉, except that a product within rounding of an integer is that integer.
        for (epochs, steps, expected) in [(0.25, 10, 3), (0.1, 30, 3), (1.5, 10, 15), (0.01, 7, 1), (3, 1, 3)] as [(Double, Int, Int)] {
            c.optimizer.warmupEpochs = epochs
            #expect(c.warmupSteps(stepsPerEpoch: steps) == expected, "\(epochs) epochs of \(steps) steps")
        }
        // A first rate η₀/W that rounds to 0 in Float32 (SGD's precision) is refused, naming the key.
        c.optimizer.learningRate = 1e-40
        c.optimizer.warmupEpochs = 3
        do { _ = try c.learningRateSchedule(stepsPerEpoch: 100_000); Issue.record("accepted") } catch let error as ConfigurationError {
            #expect(error.key == "optimizer.warmupEpochs" && error.problem.contains("rounds to 0 in Float32"), "\(error)")
        }
    }

    // MARK: The stability limit

    @Test("stability_limit is 2(1 + μ)/η of the epoch's last rate, 2(1 + μ)/((1 + 2μ)η) with Nesterov momentum",
          arguments: [(0.9, false), (0.9, true), (0.0, false)])
    func stabilityLimitColumn(momentum μ: Double, nesterov: Bool) throws {
        guard let data = try Self.data() else { return }
        var cfg = Self.configuration
        cfg.epochs = 2
        cfg.schedule = .step(everyEpochs: 1, gamma: 0.5)
        cfg.optimizer.momentum = μ
        cfg.optimizer.nesterov = nesterov
        cfg.probes.lambdaEvery = 0
        cfg.probes.lambdaEverySteps = 5
        cfg.probes.probeSamples = 16
        cfg.probes.lambdaTolerance = 0.5
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try run(Trainer(configuration: cfg, data: data, outputDirectory: dir))
        let limit = nesterov ? 2 * (1 + μ) / (1 + 2 * μ) : 2 * (1 + μ)
        let metrics = try table(dir.appendingPathComponent(RunStore.metricsName))
        let i = try #require(metrics.header.firstIndex(of: "learning_rate"))
        #expect(metrics.header[i + 1] == "stability_limit")
        // The step schedule's last rates: η₀ in epoch 1, η₀/2 in epoch 2.
        #expect(metrics.rows.map { Double($0["learning_rate"]!)! } == [0.05, 0.025])
        let steps = try table(dir.appendingPathComponent(RunStore.stepsName))
        #expect(steps.header.prefix(4) == ["epoch", "step", "learning_rate", "stability_limit"])
        #expect(steps.rows.map { $0["step"]! } == ["5", "10", "15", "20"])
        for row in metrics.rows + steps.rows {
            let η = Double(row["learning_rate"]!)!, got = Double(row["stability_limit"]!)!
            #expect(Swift.abs(got - limit / η) <= 1e-15 * (limit / η), "μ \(μ), Nesterov \(nesterov), η \(η): \(got) vs \(limit / η)")
        }
        if μ == 0.9 && !nesterov {
            // 3.8/0.05 and 3.8/0.025.
            #expect(zip(metrics.rows.map { Double($0["stability_limit"]!)! }, [76.0, 152.0]).allSatisfy { Swift.abs($0 - $1) <= 1e-13 * $1 })
        }
        // η = 0 (a decayed rate that underflowed) has no limit: +inf, written as the CSV writes it and read back.
        #expect(cfg.stabilityLimit(learningRate: 0) == .infinity)
        let m = EpochMetrics(epoch: 1, trainLoss: 1, trainAccuracy: 0.5, trainRunningLoss: 1, validationLoss: 1, validationAccuracy: 0.5, testLoss: 1,
                             testAccuracy: 0.5, learningRate: 0, stabilityLimit: cfg.stabilityLimit(learningRate: 0), trainSeconds: 1, evaluationSeconds: 1,
                             probeColumns: ["lambda_max", "lambda_iterations"], probeValues: [2.5, 7], integerColumns: ["lambda_iterations"])
        let fields = m.csvRow.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(fields[EpochMetrics.columns.firstIndex(of: "stability_limit")!] == "inf")
        let back = try EpochMetrics(fields: fields, header: EpochMetrics.columns + m.probeColumns, path: "metrics.csv")
        #expect(back.stabilityLimit == .infinity && back.csvRow == m.csvRow && back == m)
    }

    // MARK: λ_max every K steps

    @Test func theStepLambdaAtEachEpochsLastStepIsThatEpochsLambda() throws {
        guard let data = try Self.data() else { return }
        var cfg = Self.configuration
        cfg.epochs = 3
        cfg.probes.lambdaEverySteps = Self.stepsPerEpoch
        cfg.probes.lambdaIterations = 100
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var seen: [StepMetrics] = []
        var trainer = try Trainer(configuration: cfg, data: data, outputDirectory: dir)
        trainer.onStepMetrics = { seen.append($0) }
        let (_, metrics) = try run(trainer)
        let steps = try table(dir.appendingPathComponent(RunStore.stepsName))
        #expect(steps.header == StepMetrics.columns + EpochProbes.lambdaMaxColumns)
        #expect(steps.rows.map { $0["step"]! } == ["10", "20", "30"] && steps.rows.map { $0["epoch"]! } == ["1", "2", "3"])
        #expect(seen.map(\.step) == [10, 20, 30])
        let tolerance = cfg.probes.lambdaTolerance
        for (row, m) in zip(steps.rows, metrics) {
            // The same θ, probe set and operator: each estimate's residual ‖Hv − λv‖ ≤ tol·|λ| puts an
            // eigenvalue within tol·|λ| of it, so two estimates of the top one differ by at most tol(|a| + |b|).
            let a = Double(row["lambda_max"]!)!, b = m.lambdaMax
            #expect(row["lambda_converged"] == "1" && m.lambdaConverged, "epoch \(m.epoch)")
            #expect(Swift.abs(a - b) <= tolerance * (Swift.abs(a) + Swift.abs(b)), "epoch \(m.epoch): steps.csv \(a), metrics.csv \(b)")
            #expect(Double(row["learning_rate"]!)! == m.learningRate && Double(row["stability_limit"]!)! == m.stabilityLimit)
        }
    }

    @Test func stepsOfAnInterruptedAndResumedRunAreTheUninterruptedOnes() throws {
        guard let data = try Self.data() else { return }
        var cfg = Self.configuration
        cfg.epochs = 3
        cfg.probes.lambdaEverySteps = 3          // not a divisor of 10: the count runs on across epochs
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        let a = base.appendingPathComponent("a"), b = base.appendingPathComponent("b"), c = base.appendingPathComponent("c")
        let (θa, _) = try run(Trainer(configuration: cfg, data: data, outputDirectory: a))
        let expected = try csvRowsWithoutTimes(a.appendingPathComponent(RunStore.stepsName))
        #expect(expected.dropFirst().map { $0.split(separator: ",").prefix(2).joined(separator: ",") } ==
                [3, 6, 9, 12, 15, 18, 21, 24, 27, 30].map { "\(($0 + 9) / 10),\($0)" })
        for dir in [b, c] {
            do {
                _ = try run(Trainer(configuration: cfg, data: data, outputDirectory: dir), onEpoch: { m in if m.epoch == 1 { throw Interrupted() } })
                Issue.record("the run was not interrupted")
            } catch is Interrupted {}
        }
        // What a kill during epoch 2 leaves: a complete row of epoch 2 and one cut while it was appended.
        let steps = b.appendingPathComponent(RunStore.stepsName)
        let handle = try FileHandle(forWritingTo: steps)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((expected[4] + ",0.5\n2,15,0.0").utf8))
        try handle.close()
        let (θb, resumed) = try run(Trainer(configuration: cfg, data: data, outputDirectory: b), resume: true)
        #expect(resumed.map(\.epoch) == [2, 3])
        #expect(θa == θb)
        #expect(try csvRowsWithoutTimes(steps) == expected)
        #expect(try rowsWithoutTimes(a) == rowsWithoutTimes(b))
        // The steps' start vector is kept with each epoch's optimizer state.
        #expect(try SafeTensors.read(from: b.appendingPathComponent(ParameterFiles.optimizerName(epoch: 1))).names.contains("step_eigenvector"))
        // A row of a complete epoch missing is refused, naming steps.csv and the step.
        let cSteps = c.appendingPathComponent(RunStore.stepsName)
        var lines = try String(contentsOf: cSteps, encoding: .utf8).split(separator: "\n").map(String.init)
        lines.remove(at: 2)
        try (lines.joined(separator: "\n") + "\n").write(to: cSteps, atomically: true, encoding: .utf8)
        do { _ = try run(Trainer(configuration: cfg, data: data, outputDirectory: c), resume: true); Issue.record("resumed without a row of epoch 1") } catch {
            #expect("\(error)".contains(cSteps.path) && "\(error)".contains("where step 6 belongs"), "\(error)")
        }
    }

    // MARK: Validation

    @Test func theNewKeysAreValidatedNamingTheKey() throws {
        func problem(_ change: (inout TrainingConfiguration) -> Void) -> ConfigurationError? {
            var c = TrainingConfiguration()
            change(&c)
            do { try c.validate(); return nil } catch { return error as? ConfigurationError }
        }
        let accuracy = "must be in (0, 1] (a fraction of the training split), got"
        for (value, shown) in [(1.5, "1.5"), (0, "0.0"), (-0.1, "-0.1"), (.nan, "nan")] as [(Double, String)] {
            #expect(problem { $0.stopping = StoppingRule(trainAccuracy: value) } == ConfigurationError(key: "stopping.trainAccuracy", "\(accuracy) \(shown)"))
        }
        for (value, shown) in [(0, "0.0"), (-1, "-1.0"), (.infinity, "inf"), (.nan, "nan")] as [(Double, String)] {
            #expect(problem { $0.stopping = StoppingRule(trainLoss: value) } == ConfigurationError(key: "stopping.trainLoss", "must be positive and finite, got \(shown)"))
        }
        #expect(problem { $0.stopping = StoppingRule() }?.key == "stopping")
        for (value, shown) in [(-1, "-1.0"), (3.5, "3.5"), (.infinity, "inf"), (.nan, "nan")] as [(Double, String)] {
            #expect(problem { $0.optimizer.warmupEpochs = value } == ConfigurationError(key: "optimizer.warmupEpochs", "must be in [0, epochs] = [0, 3] (or null: no warm-up), got \(shown)"))
        }
        for value in [0, -2] {
            #expect(problem { $0.probes.lambdaEverySteps = value } == ConfigurationError(key: "probes.lambdaEverySteps", "must be at least 1 (or null: λ_max only after epochs), got \(value)"))
        }
        // Their valid ends.
        #expect(problem { $0.stopping = StoppingRule(trainAccuracy: 1, trainLoss: 1e-9); $0.optimizer.warmupEpochs = 3; $0.probes.lambdaEverySteps = 1 } == nil)
        #expect(problem { $0.optimizer.warmupEpochs = 0 } == nil)
        // From a file and from --set: the keys by path or last name; null removes the rule.
        do { _ = try TrainingConfiguration.decode(json: Data(#"{"stopping": {"trainAccuracy": 1.5}}"#.utf8), source: "f.json"); Issue.record("accepted") } catch {
            #expect("\(error)" == "f.json: 'stopping.trainAccuracy' must be in (0, 1] (a fraction of the training split), got 1.5")
        }
        let set = try TrainingConfiguration().setting("trainAccuracy=0.99").setting("warmupEpochs=0.5").setting("lambdaEverySteps=7")
        #expect(set.stopping == StoppingRule(trainAccuracy: 0.99) && set.optimizer.warmupEpochs == 0.5 && set.probes.lambdaEverySteps == 7)
        #expect(try set.setting("stopping.trainLoss=0.1").stopping == StoppingRule(trainAccuracy: 0.99, trainLoss: 0.1))
        #expect(try set.setting("stopping=null").stopping == nil)
        #expect(try TrainingConfiguration.decode(json: set.jsonData(), source: "file") == set)
        do { _ = try TrainingConfiguration().setting("trainLoss=x"); Issue.record("accepted") } catch {
            #expect("\(error)" == "--set trainLoss=x: 'stopping.trainLoss' must be a number or null", "\(error)")
        }
        // Unset, they are not in the JSON the SHA-256 is taken of: older runs keep their hash.
        let json = String(decoding: try JSONText.encoder().encode(TrainingConfiguration()), as: UTF8.self)
        for key in ["stopping", "warmupEpochs", "lambdaEverySteps"] { #expect(!json.contains(key), "\(json)") }
    }
}

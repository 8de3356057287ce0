import ArgumentParser
import Checkpoints
import Datasets
import Foundation
import Study
import Tensors
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on MNIST with SGD, printing loss, accuracy and λ_max (power iteration on HVPs) every epoch.",
        discussion: """
        The configuration starts from the defaults (--print-config shows them), then a --config JSON file (any subset of \
        the keys), then --set KEY=VALUE and the configuration options below, in command-line order, each key once.

        Ctrl-C stops at the next step boundary; every complete epoch is saved and `landscape train --resume DIR` continues. \
        `--resume DIR --epochs N` with N above the run's epochs extends a finished run (run.json keeps its configuration and \
        lists the extension under "extensions"); a cosine schedule spans the run's length, so such a run is refused \
        (its epochs would change meaning): start a new one with --from-checkpoint.

        """ + ConfigurationFlags.help(TrainingConfiguration.self))

    @OptionGroup var settings: ConfigurationOptions
    @OptionGroup var output: RunOptions
    @OptionGroup var start: TrainStartOptions

    func validate() throws {
        if output.resume != nil {
            if start.fromCheckpoint != nil { throw ValidationError("--from-checkpoint starts a new run; it cannot be combined with --resume") }
            let given = settings.given.filter { !$0.hasPrefix("--set") } + (output.outputDir != nil ? ["--output-dir"] : [])
            guard given.isEmpty else { throw ValidationError("--resume continues with the run's own configuration; drop \(given.joined(separator: ", "))") }
            return
        }
        do { _ = try settings.resolve(TrainingConfiguration()) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        if let resume = output.resume {
            let store = try RunStore.open(at: URL(fileURLWithPath: resume), log: stderrLine)
            let cfg = try settings.resolve(store.configuration)
            if cfg.epochs != store.configuration.epochs, cfg.describesSameRun(as: store.configuration, butEpochs: true) {
                try train(cfg, data: try loadChecked(cfg), store: store, resuming: true, extending: cfg.epochs)
                return
            }
            guard cfg.describesSameRun(as: store.configuration) else {
                throw CLIError(description: "--resume \(resume): only data settings may be given when resuming (the run's configuration is in its run.json): \(store.configuration.differingKeys(from: cfg).filter { !$0.hasPrefix("data.") }.joined(separator: ", ")) would change the run")
            }
            try train(cfg, data: try loadChecked(cfg), store: store, resuming: true)
            return
        }
        var (cfg, given) = try settings.resolved(TrainingConfiguration())
        if let file = start.fromCheckpoint { cfg = try startingFrom(file, cfg, given: given) }
        if settings.printConfig {
            outLine(String(decoding: try cfg.jsonData(), as: UTF8.self))
            return
        }
        // The model is checked against the data and the memory before the run directory exists.
        let dataset = try loadChecked(cfg)
        let out = try prepareOutputDirectory(output.outputDir, defaultPrefix: "runs/train-\(StudyConfiguration.modelNameProblem(cfg.model.name) == nil ? cfg.model.name : "model")")
        try removingIfEmptyOnError(out) { try train(cfg, data: dataset, store: nil, resuming: false, directory: out.url) }
    }

    /// The data set of `cfg`, once its model is known to fit it and this machine (``ModelDataCheck``).
    func loadChecked(_ cfg: TrainingConfiguration) throws -> MNISTDataset {
        let dataset = try MNISTDataset.load(cfg.data, mnistFrom: output.mnistCopy, log: stderrLine)
        try ModelDataCheck.check(cfg, data: dataset)
        return dataset
    }

    func train(_ cfg: TrainingConfiguration, data dataset: MNISTDataset, store opened: RunStore?, resuming: Bool, extending: Int? = nil, directory: URL? = nil) throws {
        if let limit = cfg.data.trainLimit, limit > dataset.train.count {
            stderrLine("note: --train-limit \(limit) exceeds the training split; using all \(dataset.train.count) samples")
        }
        let model = try cfg.model.make()
        var trainer = try Trainer(configuration: cfg, data: dataset)
        trainer.log = stderrLine
        let store = try opened ?? RunStore.create(at: directory!, configuration: cfg, model: model, data: dataset, log: stderrLine)
        defer { store.close() }
        var state: TrainingCheckpoint? = nil
        if resuming {
            try store.check(data: dataset)
            state = try store.lastComplete(layout: model.layout, stepsPerEpoch: trainer.stepsPerEpoch)
            if let epochs = extending {
                try extend(store, to: epochs, after: state)
            }
            // A finished run is a success with nothing left to do (a rerun of a finished job, e.g. a requeued array task).
            if let state, let done = cfg.completion(after: state.metrics) {
                outLine("\(store.directory.path) already \(done): nothing to train; its last checkpoint: \(state.parametersPath)")
                outLine(nextCommands(checkpoint: URL(fileURLWithPath: state.parametersPath), run: store.directory))
                return
            }
            try store.prepareToContinue(after: state)
        }
        let o = cfg.optimizer
        outLine("landscape train: \(cfg.model) (\(model.layout.parameterCount) parameters) on \(dataset.name) (\(dataset.train.count) train / \(dataset.validation.count) validation / \(dataset.test.count) test), " +
                "batch \(o.batchSize), lr \(o.learningRate) \(cfg.schedule), momentum \(o.momentum), \(cfg.lengthDescription), seed \(cfg.seed); \(BLASRuntime.summary)")
        outLine("run directory: \(store.directory.path)\(resuming ? " (resuming after its last complete epoch)" : "")")
        let table = ConsoleTable(columns: [("epoch", 5), ("train_loss", 10), ("train_acc", 9), ("val_loss", 10), ("val_acc", 9),
                                           ("test_loss", 10), ("test_acc", 9), ("lambda_max", 11), ("seconds", 8)])
        outLine(table.header)
        let progress = ProgressBar(enabled: !output.noProgress)
        func percent(_ x: Double) -> String { String(format: "%.2f%%", 100 * x) }
        func loss(_ x: Double) -> String { String(format: "%.4f", x) }
        var last: EpochMetrics? = nil
        trainer.shouldInterrupt = TrainInterruption.install()
        defer { TrainInterruption.uninstall() }
        do {
            _ = try trainer.train(model: model, from: state, store: store, onStep: { progress.update($0) }, onEpoch: { m in
                progress.clear()
                last = m
                let lambda = m.lambdaMax.isNaN ? "—" : String(format: "%.3f", m.lambdaMax) + (m.lambdaConverged ? " " : "*")
                outLine(table.row([String(m.epoch), loss(m.trainLoss), percent(m.trainAccuracy), loss(m.validationLoss), percent(m.validationAccuracy),
                                   loss(m.testLoss), percent(m.testAccuracy), lambda, String(format: "%.1f", m.trainSeconds + m.evaluationSeconds + (m["lambda_seconds"].isFinite ? m["lambda_seconds"] : 0))]))
                if cfg.probes.stepCurvature == true { try StepCurvatureFigure.write(runDirectory: store.directory, limitLabel: cfg.stabilityLimitLabel) }
            })
        } catch {
            progress.clear()
            if case TrainingError.interrupted = error, TrainInterruption.received { throw TrainInterruption.report(error, directory: store.directory) }
            throw error
        }
        if let rule = cfg.stopping, let last {
            if rule.reached(trainLoss: last.trainLoss, trainAccuracy: last.trainAccuracy) != nil, let done = cfg.completion(after: last) { outLine("stopped: \(done)") }
            else if last.epoch >= cfg.epochs { outLine("the stopping rule was not reached in \(cfg.epochs) epochs") }
        }
        outLine("metrics: \(store.directory.appendingPathComponent(RunStore.metricsName).path); checkpoints: theta-epoch-NNN.safetensors" +
                (cfg.probes.lambdaEverySteps.map { "; λ_max every \($0) steps: \(RunStore.stepsName)" } ?? "") +
                (cfg.probes.stepCurvature == true ? "; the curvature along every step: \(RunStore.stepCurvatureName), \(StepCurvatureFigure.fileName)" : "") +
                "\n(λ_max: the Hessian's largest eigenvalue on the probe batch; * = power iteration did not converge; — = not estimated)")
        let lastEpoch = last?.epoch ?? state?.epoch
        if let lastEpoch { outLine(nextCommands(checkpoint: store.directory.appendingPathComponent(ParameterFiles.thetaName(epoch: lastEpoch)), run: store.directory)) }
    }
}

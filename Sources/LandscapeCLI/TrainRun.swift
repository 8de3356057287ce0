import ArgumentParser
import Checkpoints
import Foundation
import Layers
import Settings
import Study
import Training

/// Ctrl-C (SIGINT) and SIGTERM during `train`: the handler records the signal (``SweepSignals``)
/// and the trainer stops before its next SGD step, evaluation or probe (``Trainer/shouldInterrupt``),
/// leaving every complete epoch in the run directory; `train` then prints how to resume.
enum TrainInterruption {
    /// Installs the handler; returns what the trainer asks.
    static func install() -> () -> Bool {
        SweepSignals.install([SIGINT, SIGTERM])
        return { SweepSignals.receivedSignal != nil }
    }

    /// Whether a signal asked the run to stop.
    static var received: Bool { SweepSignals.receivedSignal != nil }

    /// Prints the interruption and the command that resumes; returns the exit status 128 + the signal (130 for SIGINT).
    static func report(_ error: Error, directory: URL) -> ExitCode {
        let signal = SweepSignals.receivedSignal ?? SIGINT
        stderrLine("\ninterrupted by \(SweepSignals.name(of: signal)): \(error)")
        stderrLine("every complete epoch is saved; continue with: landscape train --resume \(directory.path)")
        return ExitCode(128 + signal)
    }
}

extension TrainCommand {
    /// `cfg` starting from the checkpoint `file` (``InitialParameters``, its path made absolute): the
    /// model is the file's; a `--model` (or configuration key) that names another is an error.
    /// - Throws: ``CLIError`` naming the file and both models.
    func startingFrom(_ file: String, _ cfg: TrainingConfiguration) throws -> TrainingConfiguration {
        let path = URL(fileURLWithPath: file).standardizedFileURL.path
        let context = try RunContext.resolve(parameters: path, runDirectory: nil, model: nil, data: nil)
        var c = cfg
        if c.model != context.kind {
            let given = (try? SettingOptions(TrainingConfiguration.keys).parse(settings.keyOptions))?.contains { $0.key.name == "model" } ?? false
            guard !given, !settings.assignments.contains(where: { $0.hasPrefix("model=") }) else {
                throw CLIError(description: "--model \(c.model.rawValue) contradicts --from-checkpoint \(file), which holds the \(context.kind.rawValue)'s parameters; drop --model or give --model \(context.kind.rawValue)")
            }
            c.model = context.kind
        }
        c.initialParameters = try InitialParameters(file: path)
        return c
    }

    /// Extends the opened run to `epochs` after its last complete epoch (``RunStore/extend(toEpochs:after:)``).
    /// - Throws: ``CLIError`` saying why it cannot be extended.
    func extend(_ store: RunStore, to epochs: Int, after state: TrainingCheckpoint?) throws {
        let before = store.configuration.epochs
        if let state, let met = store.configuration.stopping?.reached(trainLoss: state.metrics.trainLoss, trainAccuracy: state.metrics.trainAccuracy) {
            throw CLIError(description: "--resume \(store.directory.path) --epochs \(epochs): the run stopped at epoch \(state.epoch) by its stopping rule (\(met)); more epochs would not train. Start a new run from its last checkpoint: landscape train --from-checkpoint \(state.parametersPath)")
        }
        do { try store.extend(toEpochs: epochs, after: state?.epoch ?? 0) } catch let error as TrainingError {
            throw CLIError(description: "--resume \(store.directory.path) --epochs \(epochs): \(error)")
        }
        outLine("extending \(store.directory.path) from \(before) to \(epochs) epochs (recorded in its \(RunStore.runInfoName) under \"\(RunStore.extensionsKey)\")")
    }

    /// The last checkpoint's path and the commands that use it.
    func nextCommands(checkpoint: URL, run: URL) -> String {
        let p = shellQuoted(checkpoint.path), d = shellQuoted(run.path)
        return """
        last checkpoint: \(checkpoint.path)
        next:
          landscape probe --parameters \(p)     # curvature: λ_max, trace, spectral density, sharpness
          landscape slice --parameters \(p)     # a 2D loss slice around it
          landscape report \(d)     # figures and a summary of the run
        """
    }
}

/// `s` as one word for a POSIX shell: as it is when it holds only safe characters, else in single quotes.
func shellQuoted(_ s: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=+,@%")
    if !s.isEmpty, s.allSatisfy({ safe.contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

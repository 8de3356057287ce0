import ArgumentParser
import Checkpoints
import Foundation
import Layers
import Settings
import Study
import Training

/// Ctrl-C (SIGINT) and SIGTERM during `train`: the handler records the signal (``SweepSignals``)
/// and the trainer stops before its next SGD step, evaluation or probe (``Trainer/shouldInterrupt``),
/// leaving every complete epoch in the run directory; `train` then prints how to resume. A second
/// signal (the first one is waiting for a long evaluation or probe) exits at once with 128 + the
/// signal, losing only the epoch in progress.
enum TrainInterruption {
    static let signals = [SIGINT, SIGTERM]
    /// ``SweepSignals``' recording handler, called first by ``forceQuitting``.
    nonisolated(unsafe) static var recorder: (@convention(c) (Int32) -> Void)?
    /// Written by the handler on the second signal (prepared here: the handler may only call async-signal-safe functions).
    static let forceQuitMessage = Array("\nsecond signal: exiting now; the epoch in progress is lost, every complete epoch is saved (landscape train --resume DIR continues)\n".utf8)

    /// Records the signal through ``recorder``; at the second one, writes ``forceQuitMessage`` and `_exit`s with 128 + the signal.
    static let forceQuitting: @convention(c) (Int32) -> Void = { signal in
        TrainInterruption.recorder?(signal)
        if SweepSignals.receivedCount >= 2 {
            TrainInterruption.forceQuitMessage.withUnsafeBufferPointer { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
            _exit(128 + signal)
        }
    }

    /// Installs the handler; returns what the trainer asks.
    static func install() -> () -> Bool {
        SweepSignals.install(signals)
        for s in signals {
            let previous = signal(s, SIG_IGN)
            if recorder == nil, let previous, unsafeBitCast(previous, to: Int.self) > 1 { recorder = previous }   // not SIG_DFL (0) or SIG_IGN (1)
            signal(s, forceQuitting)
        }
        return { SweepSignals.receivedSignal != nil }
    }

    /// Restores the default action of ``signals`` once training has returned (a signal then ends `train` at once).
    static func uninstall() {
        for s in signals { signal(s, SIG_DFL) }
    }

    /// Whether a signal asked the run to stop.
    static var received: Bool { SweepSignals.receivedSignal != nil }

    /// Prints the interruption and the command that resumes; returns the exit status 128 + the signal (130 for SIGINT).
    static func report(_ error: Error, directory: URL) -> ExitCode {
        let signal = SweepSignals.receivedSignal ?? SIGINT
        stderrLine("\ninterrupted by \(SweepSignals.name(of: signal)): \(error)")
        stderrLine("every complete epoch is saved; continue with: \(invokedAs) train --resume \(shellQuoted(directory.path))")
        return ExitCode(128 + signal)
    }
}

extension TrainCommand {
    /// `cfg` starting from the checkpoint `file` (``InitialParameters``, its path made absolute): the
    /// model is the file's; a `model` given (`--model`, `--set model=…`, a `--config` file; `given`
    /// says how, ``ConfigurationOptions/resolved(_:)``) that names another is an error.
    /// - Throws: ``CLIError`` naming the file, both models and the source of `model` as typed.
    func startingFrom(_ file: String, _ cfg: TrainingConfiguration, given: [String: String]) throws -> TrainingConfiguration {
        let path = URL(fileURLWithPath: file).standardizedFileURL.path
        // Without run.json beside it, a file of no preset's layout is read as the model given.
        let fileOnly = (try? RunStore.recordedRun(in: URL(fileURLWithPath: path).deletingLastPathComponent())) == nil
        let context = try RunContext.resolve(parameters: path, runDirectory: nil, model: fileOnly && given["model"] != nil ? cfg.model : nil, data: nil)
        var c = cfg
        if c.model != context.spec {
            if let source = given["model"] {
                let what = source.hasPrefix("--config") ? "\(source) (model \(c.model))" : source
                throw CLIError(description: "\(what) contradicts --from-checkpoint \(file), which holds the \(context.spec)'s parameters; drop it or give --model \(context.spec)")
            }
            c.model = context.spec
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
          \(invokedAs) probe --parameters \(p)     # curvature: λ_max, trace, spectral density, sharpness
          \(invokedAs) slice --parameters \(p)     # a 2D loss slice around it
          \(invokedAs) report \(d)     # figures and a summary of the run
        """
    }
}

/// The program as the user invoked it (`landscape` on the PATH, or a path such as
/// `.build/release/landscape`), for commands printed to be run next from the same directory.
let invokedAs = shellQuoted(CommandLine.arguments.first ?? "landscape")

/// `s` as one word for a POSIX shell: as it is when it holds only safe characters, else in single quotes.
func shellQuoted(_ s: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=+,@%")
    if !s.isEmpty, s.allSatisfy({ safe.contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

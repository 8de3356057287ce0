import Checkpoints
import Datasets
import Foundation
import Synchronization
import Training

/// The exit statuses of `landscape sweep run`, written once: the CLI's help, the README, the
/// Slurm script (requeue on 75) and the Kubernetes podFailurePolicy (Ignore 75, FailIndex 64 and 78)
/// follow them.
public enum SweepExitCode: Int32, CaseIterable, Sendable {
    /// The task is finished (now, or before: skipped) or diverged (recorded in failed.txt).
    case done = 0
    /// Any other error (I/O, corrupt files); with `--local`, a task that did not end finished or diverged.
    case failure = 1
    /// EX_USAGE: bad options, the task index missing or out of range. Do not retry.
    case usage = 64
    /// EX_TEMPFAIL: interrupted by SIGTERM, SIGUSR1 or SIGINT (with `--local` also SIGHUP or
    /// SIGQUIT), or the task's run directory (or the sweep directory) is locked by another
    /// process; the directory is resumable. Requeue.
    case interrupted = 75
    /// EX_CONFIG: a bad manifest line or configuration, a task directory trained with other
    /// settings or data, or a manifest re-planned under a running `--local`. Do not retry.
    case configuration = 78

    /// What the status means, for `--help`.
    public var meaning: String {
        switch self {
        case .done: return "the task is finished (now, or already: skipped) or diverged (recorded in failed.txt; not retried)"
        case .failure: return "any other error (I/O, corrupt files); with --local, a task that did not end finished or diverged"
        case .usage: return "bad options, or the task index missing or out of range (do not retry)"
        case .interrupted: return "interrupted by SIGTERM, SIGUSR1 or SIGINT (with --local also SIGHUP or SIGQUIT), or the task's directory is locked by another process; the task directory is resumable (requeue it)"
        case .configuration: return "a bad manifest line or configuration, or a task directory trained with other settings or data (do not retry)"
        }
    }

    /// One line per status: `  75  interrupted by …`.
    public static var table: String { allCases.map { "  \(String($0.rawValue).padding(toLength: 3, withPad: " ", startingAt: 0)) \($0.meaning)" }.joined(separator: "\n") }
}

/// The signals that ask a sweep task to stop and be requeued (SIGTERM from Slurm or Kubernetes,
/// SIGUSR1 from Slurm's `--signal`, SIGINT from a terminal): their handler only records the
/// signal and counts it (atomic stores: async-signal-safe); the trainer reads it before every SGD
/// step and between an epoch's evaluation and probes (``/Training/Trainer/shouldInterrupt``).
public enum SweepSignals {
    /// The signals handled by ``install(_:)`` by default (one task).
    public static let requeueSignals: [Int32] = [SIGTERM, SIGUSR1, SIGINT]
    /// The signals a `--local` parent handles and forwards to its children as SIGTERM: those of
    /// a task, and SIGHUP and SIGQUIT, whose default action would end the parent and leave the
    /// children (in process groups of their own) training unattended.
    public static let localSignals: [Int32] = requeueSignals + [SIGHUP, SIGQUIT]

    private static let received = Atomic<Int32>(0)
    private static let count = Atomic<Int>(0)

    /// Installs the recording handler for `signals` and unblocks them in the calling thread (a
    /// process inherits its parent's signal mask: one started from a thread that blocks them,
    /// e.g. by Foundation's `Process` from a Dispatch thread, would never see them).
    public static func install(_ signals: [Int32] = requeueSignals) {
        _ = received.load(ordering: .relaxed)   // initialized here, not first in the handler
        _ = count.load(ordering: .relaxed)
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals {
            signal(s) {
                SweepSignals.received.store($0, ordering: .relaxed)
                SweepSignals.count.wrappingAdd(1, ordering: .relaxed)
            }
            sigaddset(&set, s)
        }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The last signal received since ``install(_:)`` or ``reset()``, or `nil`.
    public static var receivedSignal: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// How many signals were received since ``install(_:)`` or ``reset()`` (a second one escalates).
    public static var receivedCount: Int { count.load(ordering: .relaxed) }

    /// Forgets received signals.
    public static func reset() {
        received.store(0, ordering: .relaxed)
        count.store(0, ordering: .relaxed)
    }

    /// A signal's name (`SIGTERM`).
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGTERM: return "SIGTERM"
        case SIGUSR1: return "SIGUSR1"
        case SIGINT: return "SIGINT"
        case SIGHUP: return "SIGHUP"
        case SIGQUIT: return "SIGQUIT"
        default: return "signal \(signal)"
        }
    }
}

/// How a call of ``SweepTaskRunner/run(data:)`` ended.
public enum SweepTaskOutcome: Equatable, Sendable {
    /// All epochs (or the stopping rule) reached; `before`: it was finished before the call (nothing trained).
    case finished(epochs: Int, before: Bool)
    /// The run diverged (failed.txt holds `reason`); `before`: it had diverged before the call.
    case diverged(reason: String, before: Bool)
}

/// Runs one task of a sweep manifest into its directory (``SweepTask/directory(in:)``), with the
/// study's epoch probes, through ``StudyRunner/trainWithEpochProbes(_:training:epochProbes:data:in:name:setting:checkData:log:shouldInterrupt:onStep:onEpoch:)``:
/// a finished task is skipped, a diverged one is not retried, a partial one resumes after its
/// last complete epoch (checked to be the same configuration and data), a new one starts. A
/// study's task (``SweepTask/studyRun``) runs in its study directory through
/// ``StudyRunner/runTask(named:shouldStop:)``, final probes included.
public struct SweepTaskRunner {
    /// The task to run.
    public let task: SweepTask
    /// The sweep directory (the manifest's).
    public let sweepDirectory: URL
    /// Receives one line per event (start or resume, each epoch, divergence).
    public var log: (String) -> Void = { _ in }
    /// Receives the progress of training steps.
    public var onStep: (StepProgress) -> Void = { _ in }
    /// Asked before every SGD step and between an epoch's evaluation and probes (and a study
    /// run's final probes); `true` stops with ``/Training/TrainingError/interrupted(epoch:step:lastCheckpoint:)``.
    public var shouldInterrupt: () -> Bool = { false }

    /// A runner of `task` of the sweep in `sweepDirectory`.
    public init(task: SweepTask, sweepDirectory: URL) {
        self.task = task
        self.sweepDirectory = sweepDirectory
    }

    /// The task's run directory.
    public var directory: URL { task.directory(in: sweepDirectory) }

    /// Trains the task (or finds it done). `data` is called only when there is training to do.
    /// A run that diverges (``/Training/TrainingError/nonFiniteLoss(epoch:step:loss:lastCheckpoint:cause:)``,
    /// ``/Training/TrainingError/nonFiniteParameters(epoch:step:lastCheckpoint:cause:)``) gets failed.txt with
    /// the error's text and ends as ``SweepTaskOutcome/diverged(reason:before:)``.
    /// - Throws: ``/Training/TrainingError/interrupted(epoch:step:lastCheckpoint:)`` (resumable),
    ///   ``/Training/ConfigurationError`` for invalid settings, the data's, the store's and training's errors.
    public func run(data: () throws -> MNISTDataset) throws -> SweepTaskOutcome {
        if let run = task.studyRun { return try runStudyRun(run, data: data) }
        switch try task.status(in: sweepDirectory) {
        case let .finished(epochs): return .finished(epochs: epochs, before: true)
        case let .diverged(reason): return .diverged(reason: reason, before: true)
        case .partial, .missing: break
        }
        let training = task.settings.training
        let dataset = try data()
        try ModelDataCheck.check(training, data: dataset)
        let model = try training.model.make()
        do {
            _ = try StudyRunner.trainWithEpochProbes(model, training: training, epochProbes: task.settings.epochProbes, data: dataset, in: directory,
                                                     name: task.id, setting: task.pointDescription, checkData: true, log: log,
                                                     shouldInterrupt: shouldInterrupt, onStep: onStep)
        } catch let error as TrainingError {
            switch error {
            case .nonFiniteLoss, .nonFiniteParameters:
                try AtomicFile.write("\(error)\n", to: directory.appendingPathComponent(StudyRunner.failureFileName))
                log("[\(task.id)] \(error)")
                return .diverged(reason: "\(error)", before: false)
            default:
                throw error
            }
        }
        guard case let .finished(epochs) = try task.status(in: sweepDirectory) else {
            throw StudyError.corruptFile(path: directory.path, reason: "training ended but metrics.csv does not show the run finished")
        }
        return .finished(epochs: epochs, before: false)
    }
}

extension SweepExitCode {
    /// The exit status of `sweep run` for an error that ended a task: ``interrupted`` (75) for a
    /// stop on request (``/Training/TrainingError/interrupted(epoch:step:lastCheckpoint:)``,
    /// ``StudyError/interrupted(configuration:epoch:)``) and a run directory locked by another
    /// process (``/Training/TrainingError/runDirectoryLocked(path:)``: retry later); ``configuration`` (78)
    /// for a ``/Training/ConfigurationError`` and a run directory of another configuration or data
    /// (``/Training/TrainingError/invalidRun(_:)``: a retry cannot succeed); ``failure`` (1) otherwise.
    public init(for error: any Error) {
        switch error {
        case is ConfigurationError: self = .configuration
        case let e as TrainingError:
            switch e {
            case .interrupted, .runDirectoryLocked: self = .interrupted
            case .invalidRun: self = .configuration
            default: self = .failure
            }
        case let e as StudyError:
            if case .interrupted = e { self = .interrupted } else { self = .failure }
        default: self = .failure
        }
    }
}

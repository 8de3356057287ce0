import Checkpoints
/// Errors that stop a training run or refuse its directory.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// The mini-batch loss became NaN or ±inf. The last good checkpoint (previous epoch) is kept.
    /// `cause` is what made the steps blow up (``TrainingConfiguration/divergenceCause(learningRate:lambdaMax:)``).
    case nonFiniteLoss(epoch: Int, step: Int, loss: Double, lastCheckpoint: String?, cause: String)
    /// The parameters became NaN or ±inf in the last step of an epoch (the loss of that step was
    /// still finite). Nothing of that epoch is saved; the last good checkpoint is kept.
    case nonFiniteParameters(epoch: Int, step: Int, lastCheckpoint: String?, cause: String)
    /// The run was stopped on request (``Trainer/shouldInterrupt``: a signal) after `step` SGD
    /// steps of `epoch`; the steps of that epoch are not saved, the run resumes after epoch − 1.
    case interrupted(epoch: Int, step: Int, lastCheckpoint: String?)
    /// A curvature probe failed during an epoch.
    case probeFailed(epoch: Int, reason: String)
    /// The run cannot go on as asked (e.g. it already finished, or was trained with other settings).
    case invalidRun(String)
    /// A file of the run directory does not match what the run recorded (path, the mismatch).
    case corruptRun(path: String, reason: String)
    /// The run directory cannot be used (path, reason), e.g. it cannot be created.
    case runDirectory(path: String, reason: String)
    /// Another process holds the run directory's lock (it trains in it): try again once it has ended.
    case runDirectoryLocked(path: String)

    /// A one-line, human-readable description (for logs and error output).
    public var description: String {
        switch self {
        case let .nonFiniteLoss(epoch, step, loss, last, cause):
            return "training stopped: non-finite loss (\(loss.isNaN ? "NaN" : "\(loss)")) at epoch \(epoch), step \(step). Cause: \(cause)" +
                (last.map { ". The last good checkpoint is \($0)" } ?? ". No checkpoint was written before it")
        case let .nonFiniteParameters(epoch, step, last, cause):
            return "training stopped: the parameters became non-finite at epoch \(epoch), step \(step). Cause: \(cause)" +
                (last.map { ". The last good checkpoint is \($0)" } ?? ". No checkpoint was written before it")
        case let .interrupted(epoch, step, last):
            return (step == 0 ? "training interrupted before epoch \(epoch)" : "training interrupted after step \(step) of epoch \(epoch)") +
                "; the run resumes after epoch \(epoch - 1)" +
                (last.map { " (its last checkpoint is \($0))" } ?? " (from its start: no epoch was complete)")
        case let .probeFailed(epoch, reason):
            return "λ_max estimate failed after epoch \(epoch): \(reason)"
        case let .invalidRun(m):
            return m
        case let .corruptRun(path, reason):
            return "\(path): \(reason)"
        case let .runDirectory(path, reason):
            return "run directory \(path): \(reason)"
        case let .runDirectoryLocked(path):
            return "run directory \(path): another landscape process is training in it (its \(DirectoryLock.fileName) is held); try again once it has ended"
        }
    }
}

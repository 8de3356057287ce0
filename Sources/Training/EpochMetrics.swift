import Foundation
import Tensors

/// One epoch's measurements: a row of a run's `metrics.csv`.
public struct EpochMetrics: Sendable, Equatable {
    /// The epoch, from 1.
    public var epoch: Int
    /// Mean loss and accuracy over the whole training split, evaluated after the epoch.
    public var trainLoss: Double, trainAccuracy: Double
    /// Mean of the mini-batch losses during the epoch (the running average).
    public var trainRunningLoss: Double
    /// Mean loss and accuracy (fraction in [0, 1]) on the validation split.
    public var validationLoss: Double, validationAccuracy: Double
    /// Mean loss and accuracy (fraction in [0, 1]) on the test split.
    public var testLoss: Double, testAccuracy: Double
    /// λ_max by power iteration on the probe set: the Hessian eigenvalue of largest magnitude,
    /// which is λ_max unless negative curvature dominates (then it is negative). nan when not
    /// estimated this epoch (see ``ProbeSettings/lambdaEvery``).
    public var lambdaMax: Double
    /// Power iterations (and fallback Lanczos steps) used for λ_max (0 when not estimated).
    public var lambdaIterations: Int
    /// ‖Hv − λv‖ of the λ_max estimate (nan when not estimated).
    public var lambdaResidual: Double
    /// Whether the estimate met its tolerance within its iteration budget.
    public var lambdaConverged: Bool
    /// The learning rate of the epoch's last step.
    public var learningRate: Double
    /// Seconds: training steps, evaluation, λ_max.
    public var trainSeconds: Double, evaluationSeconds: Double, lambdaSeconds: Double
    /// The values of the ``EpochProbe``'s columns (empty without one).
    public var extra: [Double] = []

    /// The CSV columns matching ``csvRow`` (the study's metrics.csv has the same names).
    public static let columns = ["epoch", "train_loss", "train_accuracy", "train_running_loss", "validation_loss", "validation_accuracy",
                                 "test_loss", "test_accuracy", "lambda_max", "lambda_iterations", "lambda_residual", "lambda_converged",
                                 "learning_rate", "train_seconds", "evaluation_seconds", "lambda_seconds"]

    /// The names of older versions' columns: a run's metrics.csv called `lambda_seconds` `probe_seconds`.
    public static let renamedColumns = ["probe_seconds": "lambda_seconds"]

    /// The CSV header matching ``csvRow``.
    public static var csvHeader: String { columns.joined(separator: ",") }

    /// One CSV row (full precision).
    public var csvRow: String {
        [String(epoch), "\(trainLoss)", "\(trainAccuracy)", "\(trainRunningLoss)", "\(validationLoss)", "\(validationAccuracy)",
         "\(testLoss)", "\(testAccuracy)", "\(lambdaMax)", String(lambdaIterations), "\(lambdaResidual)", lambdaConverged ? "1" : "0", "\(learningRate)",
         String(format: "%.3f", trainSeconds), String(format: "%.3f", evaluationSeconds), String(format: "%.3f", lambdaSeconds)]
            .joined(separator: ",") + extra.map { ",\($0)" }.joined()
    }
}

/// The values an ``EpochProbe`` measures after an epoch, with named fields. The type lists its CSV
/// columns and converts to and from a row's values in that order, in one place.
public protocol EpochProbeResult: Sendable {
    /// The CSV column names, appended to ``EpochMetrics/columns``.
    static var columns: [String] { get }
    /// The values in the order of ``columns``.
    var values: [Double] { get }
    /// The result whose values are `values` (``columns``' order), e.g. read back from ``EpochMetrics/extra``.
    /// - Precondition: `values.count == Self.columns.count`.
    init(values: [Double])
}

/// Extra measurements taken after every epoch of a training run, after λ_max and before the
/// epoch's checkpoint and metrics row are written (the study adds sharpness and the Hessian
/// trace this way). Their values become extra CSV columns, so a resumed run reads them back.
public struct EpochProbe {
    /// The CSV column names, appended to ``EpochMetrics/columns``.
    public let columns: [String]
    /// Measures the epoch: `(epoch, θ after it, the epoch's metrics so far) → one value per column`.
    public let measure: (_ epoch: Int, _ parameters: Tensor<Float>, _ metrics: EpochMetrics) throws -> [Double]

    /// A probe whose results are `R`: its columns and values come from `R`.
    public init<R: EpochProbeResult>(_: R.Type, measure: @escaping (_ epoch: Int, _ parameters: Tensor<Float>, _ metrics: EpochMetrics) throws -> R) {
        self.columns = R.columns
        self.measure = { try measure($0, $1, $2).values }
    }
}

/// Progress of the steps inside an epoch, for a progress bar.
public struct StepProgress: Sendable {
    /// Epoch (from 1), step within it (from 1), steps per epoch, throughput so far and the estimated seconds left in the epoch.
    public var epoch: Int, step: Int, stepsInEpoch: Int, samplesPerSecond: Double, secondsRemaining: Double
}

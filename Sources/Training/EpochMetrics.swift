import Foundation
import Probes
import Tensors

/// One epoch's measurements: a row of a run's `metrics.csv`: loss and accuracy, the learning
/// rate and timings (``columns``), then the epoch probes' columns (``probeColumns``).
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
    /// The learning rate of the epoch's last step.
    public var learningRate: Double
    /// Seconds: training steps, evaluation.
    public var trainSeconds: Double, evaluationSeconds: Double
    /// The epoch probes' columns (each probe's result columns, then its seconds; ``EpochProbes/columns``).
    public var probeColumns: [String] = []
    /// Their values, nan where a probe did not run this epoch.
    public var probeValues: [Double] = []
    /// The probe columns that hold counts or flags (written without a fraction).
    public var integerColumns: Set<String> = []

    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, trainRunningLoss: Double, validationLoss: Double,
                validationAccuracy: Double, testLoss: Double, testAccuracy: Double, learningRate: Double, trainSeconds: Double,
                evaluationSeconds: Double, probeColumns: [String] = [], probeValues: [Double] = [], integerColumns: Set<String> = []) {
        self.epoch = epoch; self.trainLoss = trainLoss; self.trainAccuracy = trainAccuracy; self.trainRunningLoss = trainRunningLoss
        self.validationLoss = validationLoss; self.validationAccuracy = validationAccuracy; self.testLoss = testLoss
        self.testAccuracy = testAccuracy; self.learningRate = learningRate; self.trainSeconds = trainSeconds
        self.evaluationSeconds = evaluationSeconds; self.probeColumns = probeColumns; self.probeValues = probeValues
        self.integerColumns = integerColumns
    }

    /// The value of a probe column, or nan when there is no such column.
    public subscript(column: String) -> Double {
        probeColumns.firstIndex(of: column).map { probeValues[$0] } ?? .nan
    }

    /// λ_max (the ``LambdaMaxProbe``'s `lambda_max`), nan when not measured.
    public var lambdaMax: Double { self["lambda_max"] }
    /// Whether λ_max met its tolerance.
    public var lambdaConverged: Bool { self["lambda_converged"] == 1 }

    /// The CSV columns before the probes' (the study's metrics.csv has the same names).
    public static let columns = ["epoch", "train_loss", "train_accuracy", "train_running_loss", "validation_loss", "validation_accuracy",
                                 "test_loss", "test_accuracy", "learning_rate", "train_seconds", "evaluation_seconds"]

    /// The names of older versions' columns: a run's metrics.csv called `lambda_seconds` `probe_seconds`.
    public static let renamedColumns = ["probe_seconds": "lambda_seconds"]

    /// Columns that runs of older versions lack, with the value their rows read as: `lambda_negative`,
    /// and the batch-sharpness columns a study measures every epoch since issue 19.
    public static let addedColumns = ["lambda_negative": "nan"]
        .merging((BatchSharpnessProbe.Result.columns + [EpochProbes.secondsColumn(of: BatchSharpnessProbe.name)]).map { ($0, "nan") }) { a, _ in a }

    /// The CSV header of a run whose epoch probes have these columns.
    public static func csvHeader(probeColumns: [String]) -> String { (columns + probeColumns).joined(separator: ",") }

    /// One CSV row (full precision; seconds to the millisecond).
    public var csvRow: String {
        let base = [String(epoch), "\(trainLoss)", "\(trainAccuracy)", "\(trainRunningLoss)", "\(validationLoss)", "\(validationAccuracy)",
                    "\(testLoss)", "\(testAccuracy)", "\(learningRate)", String(format: "%.3f", trainSeconds), String(format: "%.3f", evaluationSeconds)]
        let probes = zip(probeColumns, probeValues).map { c, v in probeText(v, column: c, isInteger: integerColumns.contains(c)) }
        return (base + probes).joined(separator: ",")
    }
}

/// Progress of the steps inside an epoch, for a progress bar.
public struct StepProgress: Sendable {
    /// Epoch (from 1), step within it (from 1), steps per epoch, throughput so far and the estimated seconds left in the epoch.
    public var epoch: Int, step: Int, stepsInEpoch: Int, samplesPerSecond: Double, secondsRemaining: Double
}

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
    /// SGD's stability limit at that rate, as a curvature: 2(1 + μ)/η for heavy ball
    /// (``TrainingConfiguration/stabilityLimit(learningRate:)``); +inf for η = 0, nan in rows of
    /// runs written before this column. With weight decay λ the loss's own curvature must stay
    /// below it minus λ (the decay adds λ to every curvature).
    public var stabilityLimit: Double
    /// Seconds: training steps (without the λ_max estimates between them, timed in steps.csv), evaluation.
    public var trainSeconds: Double, evaluationSeconds: Double
    /// The epoch probes' columns (each probe's result columns, then its seconds; ``/Probes/EpochProbes/columns``).
    public var probeColumns: [String] = []
    /// Their values, nan where a probe did not run this epoch.
    public var probeValues: [Double] = []
    /// The probe columns that hold counts or flags (written without a fraction).
    public var integerColumns: Set<String> = []

    /// A row of metrics.csv; `probeValues` in the order of `probeColumns`.
    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, trainRunningLoss: Double, validationLoss: Double,
                validationAccuracy: Double, testLoss: Double, testAccuracy: Double, learningRate: Double, stabilityLimit: Double, trainSeconds: Double,
                evaluationSeconds: Double, probeColumns: [String] = [], probeValues: [Double] = [], integerColumns: Set<String> = []) {
        self.epoch = epoch; self.trainLoss = trainLoss; self.trainAccuracy = trainAccuracy; self.trainRunningLoss = trainRunningLoss
        self.validationLoss = validationLoss; self.validationAccuracy = validationAccuracy; self.testLoss = testLoss
        self.testAccuracy = testAccuracy; self.learningRate = learningRate; self.stabilityLimit = stabilityLimit
        self.trainSeconds = trainSeconds
        self.evaluationSeconds = evaluationSeconds; self.probeColumns = probeColumns; self.probeValues = probeValues
        self.integerColumns = integerColumns
    }

    /// The value of a probe column, or nan when there is no such column.
    public subscript(column: String) -> Double {
        probeColumns.firstIndex(of: column).map { probeValues[$0] } ?? .nan
    }

    /// λ_max (the ``/Probes/LambdaMaxProbe``'s `lambda_max`), nan when not measured.
    public var lambdaMax: Double { self["lambda_max"] }
    /// Whether λ_max met its tolerance.
    public var lambdaConverged: Bool { self["lambda_converged"] == 1 }

    /// The CSV columns before the probes' (the study's metrics.csv has the same names).
    public static let columns = ["epoch", "train_loss", "train_accuracy", "train_running_loss", "validation_loss", "validation_accuracy",
                                 "test_loss", "test_accuracy", "learning_rate", "stability_limit", "train_seconds", "evaluation_seconds"]

    /// The names of older versions' columns: a run's metrics.csv called `lambda_seconds` `probe_seconds`.
    public static let renamedColumns = ["probe_seconds": "lambda_seconds"]

    /// Columns that runs of older versions lack, with the value their rows read as: `lambda_negative`,
    /// `stability_limit` (not recorded: nan, though 2(1 + μ)/learning_rate gives it for heavy ball),
    /// and the batch-sharpness columns (a study measures batch sharpness every epoch; earlier runs have none).
    public static let addedColumns = ["lambda_negative": "nan", "stability_limit": "nan"]
        .merging((BatchSharpnessProbe.Result.columns + [EpochProbes.secondsColumn(of: BatchSharpnessProbe.name)]).map { ($0, "nan") }) { a, _ in a }

    /// The CSV header of a run whose epoch probes have these columns.
    public static func csvHeader(probeColumns: [String]) -> String { (columns + probeColumns).joined(separator: ",") }

    /// One CSV row (full precision; seconds to the millisecond).
    public var csvRow: String {
        let base = [String(epoch), "\(trainLoss)", "\(trainAccuracy)", "\(trainRunningLoss)", "\(validationLoss)", "\(validationAccuracy)",
                    "\(testLoss)", "\(testAccuracy)", "\(learningRate)", "\(stabilityLimit)", String(format: "%.3f", trainSeconds), String(format: "%.3f", evaluationSeconds)]
        let probes = zip(probeColumns, probeValues).map { c, v in probeText(v, column: c, isInteger: integerColumns.contains(c)) }
        return (base + probes).joined(separator: ",")
    }

    /// A row read back: `fields` under `header` (``columns`` in any order, then the probe columns),
    /// as ``RunRecord/completeRows(of:columns:renamed:added:log:)`` returns them. A probe value
    /// written without a fraction (`13`) counts as an integer column, so ``csvRow`` writes the row
    /// again as it was.
    /// - Throws: ``TrainingError/corruptRun(path:reason:)`` (naming `path`) for a missing column or
    ///   a value that is not a number.
    public init(fields: [String], header: [String], path: String) throws {
        guard fields.count == header.count else {
            throw TrainingError.corruptRun(path: path, reason: "a row has \(fields.count) fields, the header \(header.count)")
        }
        let values = Dictionary(zip(header, fields), uniquingKeysWith: { a, _ in a })
        func number(_ column: String) throws -> Double {
            guard let text = values[column], let x = Double(text) else {
                throw TrainingError.corruptRun(path: path, reason: "epoch \(values["epoch"] ?? "?"): \(column) is '\(values[column] ?? "(missing)")', not a number")
            }
            return x
        }
        guard let epoch = values["epoch"].flatMap({ Int($0) }) else {
            throw TrainingError.corruptRun(path: path, reason: "a row's epoch is '\(values["epoch"] ?? "(missing)")', not an integer")
        }
        let probeColumns = header.filter { !Self.columns.contains($0) }
        self.init(epoch: epoch, trainLoss: try number("train_loss"), trainAccuracy: try number("train_accuracy"),
                  trainRunningLoss: try number("train_running_loss"), validationLoss: try number("validation_loss"),
                  validationAccuracy: try number("validation_accuracy"), testLoss: try number("test_loss"), testAccuracy: try number("test_accuracy"),
                  learningRate: try number("learning_rate"), stabilityLimit: try number("stability_limit"), trainSeconds: try number("train_seconds"),
                  evaluationSeconds: try number("evaluation_seconds"), probeColumns: probeColumns, probeValues: try probeColumns.map(number),
                  integerColumns: Set(probeColumns.filter { Int(values[$0]!) != nil }))
    }
}

/// λ_max after an SGD step inside an epoch (``ProbeSettings/lambdaEverySteps``): a row of a run's
/// steps.csv, whose columns are ``columns``, then the λ_max probe's result columns and its seconds
/// (``/Probes/EpochProbes/columns`` of the λ_max probe alone).
public struct StepMetrics: Sendable, Equatable {
    /// The epoch (from 1) the step belongs to, and the step: SGD steps taken since the run began.
    public var epoch: Int, step: Int
    /// The rate of that step, and SGD's stability limit at it (``EpochMetrics/stabilityLimit``).
    public var learningRate: Double, stabilityLimit: Double
    /// The λ_max probe's columns (``probeColumns``) and values, then its seconds.
    public var probeValues: [Double]

    /// A row of steps.csv.
    public init(epoch: Int, step: Int, learningRate: Double, stabilityLimit: Double, probeValues: [Double]) {
        self.epoch = epoch; self.step = step; self.learningRate = learningRate; self.stabilityLimit = stabilityLimit
        self.probeValues = probeValues
    }

    /// The columns before the probe's.
    public static let columns = ["epoch", "step", "learning_rate", "stability_limit"]

    /// The probe's: λ_max alone, with its seconds.
    public static var probes: EpochProbes { EpochProbes([AnyProbe(LambdaMaxProbe())], every: 1) }
    /// The probe's columns, its seconds last.
    public static var probeColumns: [String] { probes.columns }
    /// The header of steps.csv.
    public static var csvHeader: String { (columns + probeColumns).joined(separator: ",") }

    /// λ_max (the probe's `lambda_max`).
    public var lambdaMax: Double { Self.probeColumns.firstIndex(of: "lambda_max").map { probeValues[$0] } ?? .nan }

    /// One CSV row (as ``EpochMetrics/csvRow``).
    public var csvRow: String {
        let integer = Self.probes.integerColumns
        let probes = zip(Self.probeColumns, probeValues).map { c, v in probeText(v, column: c, isInteger: integer.contains(c)) }
        return ([String(epoch), String(step), "\(learningRate)", "\(stabilityLimit)"] + probes).joined(separator: ",")
    }
}

/// The curvature along an SGD step (``ProbeSettings/stepCurvature``): a row of a run's
/// step-curvature.csv, one per step, with the quantities of ``/Probes/StepCurvature`` for the step's
/// actual update Δθ on its batch at the θ before it.
public struct StepCurvatureMetrics: Sendable, Equatable {
    /// The epoch (from 1) and the step (SGD steps taken since the run began, this one included).
    public var epoch: Int, step: Int
    /// The step's learning rate η and SGD's stability limit at it (``TrainingConfiguration/stabilityLimit(learningRate:)``).
    public var learningRate: Double, stabilityLimit: Double
    /// The batch loss, gᵀΔθ, ΔθᵀHΔθ and ‖Δθ‖² (``/Probes/StepCurvature``).
    public var curvature: StepCurvature
    /// Seconds of the jet pass.
    public var seconds: Double

    /// A row of step-curvature.csv.
    public init(epoch: Int, step: Int, stabilityLimit: Double, curvature: StepCurvature, seconds: Double) {
        self.epoch = epoch; self.step = step; learningRate = curvature.learningRate; self.stabilityLimit = stabilityLimit
        self.curvature = curvature; self.seconds = seconds
    }

    /// Whether κ, the curvature along the step, exceeds the stability limit (the divergence warning),
    /// or is not finite for a step that moved (ΔθᵀHΔθ overflowed: the step has left every limit).
    /// A step that did not move (Δθ = 0, κ = 0/0) exceeds nothing.
    public var exceedsLimit: Bool {
        let κ = curvature.directionalCurvature
        return κ > stabilityLimit || (!κ.isFinite && curvature.stepNormSquared != 0)
    }

    /// The columns of step-curvature.csv: `step_norm` is ‖Δθ‖, `step_slope` gᵀΔθ, `step_curvature`
    /// κ = ΔθᵀHΔθ/‖Δθ‖², `exceeds_limit` 1 when κ > `stability_limit` or κ is not finite for a step that moved.
    public static let columns = ["epoch", "step", "learning_rate", "stability_limit", "batch_loss", "step_norm", "step_slope", "step_curvature",
                                 "critical_learning_rate", "critical_sharpness", "exceeds_limit", "step_curvature_seconds"]
    /// The header of step-curvature.csv.
    public static var csvHeader: String { columns.joined(separator: ",") }

    /// One CSV row (full precision; nan and inf as Swift writes them, seconds to the millisecond).
    public var csvRow: String {
        let c = curvature
        return [String(epoch), String(step), "\(learningRate)", "\(stabilityLimit)", "\(c.loss)", "\(c.stepNormSquared.squareRoot())", "\(c.slope)",
                "\(c.directionalCurvature)", "\(c.criticalLearningRate)", "\(c.criticalSharpness)", exceedsLimit ? "1" : "0",
                probeText(seconds, column: "step_curvature_seconds", isInteger: false)].joined(separator: ",")
    }
}

/// Progress of the steps inside an epoch, for a progress bar.
public struct StepProgress: Sendable {
    /// Epoch (from 1), step within it (from 1), steps per epoch, throughput so far and the estimated seconds left in the epoch.
    public var epoch: Int, step: Int, stepsInEpoch: Int, samplesPerSecond: Double, secondsRemaining: Double
}

import Autodiff
import Foundation
import Tensors

/// One output of a probe: its name (CSV column and JSON key) and where its value lives in the
/// result, so that a probe's columns and its values come from one declaration.
public struct ProbeField<Result> {
    /// The CSV column and JSON key.
    public let name: String
    /// Whether the value is a count or a flag (written without a fraction: `13`, `1`).
    public let isInteger: Bool
    let get: (Result) -> Double
    let set: (inout Result, Double) -> Void

    /// A real value.
    public init(_ name: String, _ path: WritableKeyPath<Result, Double>) {
        self.name = name; isInteger = false
        get = { $0[keyPath: path] }
        set = { $0[keyPath: path] = $1 }
    }

    /// A count.
    public init(_ name: String, _ path: WritableKeyPath<Result, Int>) {
        self.name = name; isInteger = true
        get = { Double($0[keyPath: path]) }
        set = { $0[keyPath: path] = $1.isFinite && abs($1) < 9e15 ? Int($1) : 0 }
    }

    /// A flag, 1 or 0.
    public init(_ name: String, _ path: WritableKeyPath<Result, Bool>) {
        self.name = name; isInteger = true
        get = { $0[keyPath: path] ? 1 : 0 }
        set = { $0[keyPath: path] = $1 == 1 }
    }
}

/// A probe value as CSV text: counts and flags without a fraction, seconds to the millisecond,
/// everything else at full precision (nan as `nan`).
public func probeText(_ value: Double, column: String, isInteger: Bool) -> String {
    if isInteger, value.isFinite { return String(Int(value)) }
    if column.hasSuffix("_seconds"), value.isFinite { return String(format: "%.3f", value) }
    return "\(value)"
}

/// What a probe measured, with named fields; ``fields`` lists them once, in column order.
public protocol ProbeResult: Sendable {
    /// The fields, in CSV column order.
    static var fields: [ProbeField<Self>] { get }
    /// A result before measurement, into which ``init(values:)`` reads (fields nan, 0 or false).
    init()
}

extension ProbeResult {
    /// The CSV columns (and JSON keys).
    public static var columns: [String] { fields.map(\.name) }
    /// The values in the order of ``columns``.
    public var values: [Double] { Self.fields.map { $0.get(self) } }

    /// The result whose values are `values`, in the order of ``columns`` (e.g. read back from a CSV row).
    /// - Precondition: one value per column.
    public init(values: [Double]) {
        precondition(values.count == Self.fields.count, "\(Self.self): \(values.count) values for \(Self.fields.count) columns")
        self.init()
        for (f, v) in zip(Self.fields, values) { f.set(&self, v) }
    }

    /// The fields as a JSON object (write it with `JSONText.data`, which spells nan and the
    /// infinities `"nan"`, `"inf"`, `"-inf"`).
    public var json: [String: Any] {
        Dictionary(uniqueKeysWithValues: Self.fields.map { f in (f.name, f.get(self) as Any) })
    }
}

/// Where a probe measures: the point θ, the loss there and the curvature operator over the same
/// data (built when a probe first asks for it), and, where the caller has training data, its
/// mini-batches (``MiniBatchSource``). The context also carries what one probe leaves for the
/// next: λ_max for ½ε²λ_max, and warm starts from one pass (epoch) to the next.
public struct ProbeContext<E: TensorScalar> {
    /// θ (length d).
    public let point: Tensor<E>
    /// The loss over the probe data, with the layout of θ.
    public let loss: LossFunction<E>
    /// The same loss and point in Float64 (inputs computed in Float64), for probes that ask for it;
    /// `nil` when `E` is `Double` (then ``loss`` is that) or none was given.
    let float64: (() throws -> (LossFunction<Double>, Tensor<Double>))?
    /// Mini-batches of the training data of the run's batch size (``BatchSharpnessProbe``), when
    /// the caller has training data; `nil` otherwise.
    public let miniBatches: MiniBatchSource<E>?
    /// The per-sample losses of the probe data (``PerSampleCurvatureProbe``), when the caller knows
    /// the model; `nil` otherwise.
    public var perSample: PerSampleLosses<E>?
    let makeCurvature: () throws -> AnySymmetricOperator<E>
    var curvatureCache: Box<AnySymmetricOperator<E>?> = Box(nil)
    /// The seed of the pass (the λ_max start vector's); probes with a seed setting use theirs, so
    /// that every point is probed along the same directions.
    public var seed: UInt64
    /// λ_max, when a probe of this pass measured it.
    public var lambdaMax: Double?
    /// Vectors a probe keeps between passes (e.g. the λ_max eigenvector), by probe name.
    public var warmStarts: [String: Tensor<E>] = [:]
    /// The learning rate of the SGD steps that led to θ, when the caller knows it (the trainer's
    /// epoch probes: the rate of the epoch's last step; `landscape probe --learning-rate`), for
    /// probes that predict a step (``SharpnessGradientProbe``); `nil` otherwise.
    public var learningRate: Double?

    /// - Parameters:
    ///   - curvature: builds the curvature operator at θ (e.g. ``HessianOperator`` or a chunked one).
    ///   - float64: the loss and θ in Float64, for a Float32 context.
    ///   - miniBatches: mini-batches of the training data, for probes of what SGD steps see.
    ///   - perSample: the per-sample losses of the same data, for per-sample probes.
    public init(point: Tensor<E>, loss: LossFunction<E>, seed: UInt64 = 0, curvature: @escaping () throws -> AnySymmetricOperator<E>,
                float64: (() throws -> (LossFunction<Double>, Tensor<Double>))? = nil, miniBatches: MiniBatchSource<E>? = nil,
                perSample: PerSampleLosses<E>? = nil) {
        self.point = point; self.loss = loss; self.seed = seed; self.makeCurvature = curvature; self.float64 = float64
        self.miniBatches = miniBatches; self.perSample = perSample
    }

    /// The context of an objective at θ: its loss and its Hessian (linearized once).
    public init<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, seed: UInt64 = 0) where O.Scalar == E {
        self.init(point: θ, loss: LossFunction(f), seed: seed, curvature: { AnySymmetricOperator(try HessianOperator(of: f, at: θ)) })
    }

    /// The curvature operator at θ, built on first use and shared by the probes of this context.
    public func curvature() throws -> AnySymmetricOperator<E> {
        if let op = curvatureCache.value { return op }
        let op = try makeCurvature()
        curvatureCache.value = op
        return op
    }

    /// The mini-batches of the training data, for the probe named `probe`.
    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` naming the probe when the context has none.
    public func miniBatches(for probe: String) throws -> MiniBatchSource<E> {
        guard let miniBatches else {
            throw AutodiffError.invalidArgument("\(probe): this probe context has no mini-batches of training data (it measures on a fixed probe set only); run it where the training data are known: after an epoch of train or the study, or landscape probe --probes \(probe)")
        }
        return miniBatches
    }

    /// The loss and θ in Float64.
    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` when this Float32 context has no Float64 form.
    public func inFloat64() throws -> (LossFunction<Double>, Tensor<Double>) {
        if let f = loss as? LossFunction<Double>, let θ = point as? Tensor<Double> { return (f, θ) }
        guard let float64 else { throw AutodiffError.invalidArgument("this probe context has no Float64 form of its loss") }
        return try float64()
    }
}

/// A reference cell, so that copies of a ``ProbeContext`` share one built operator.
final class Box<T> {
    var value: T
    init(_ value: T) { self.value = value }
}

/// A curvature or landscape measure, as a value: its settings are its stored properties (each
/// default written once, as the property's initial value; ``validate()`` checks them), its
/// result has named fields (``ProbeResult``), and ``measure(_:)`` runs it in a context. The same
/// description runs in `landscape probe`, after every epoch of a run and in the study's final
/// probes. Adding one: a file with the type, and its name in ``ProbeRegistry``.
public protocol Probe: Codable, Equatable, Sendable {
    /// What the probe measures, with named fields.
    associatedtype Result: ProbeResult
    /// The probe's name in configurations, logs and output ("lambda_max", "sharpness", …).
    static var name: String { get }
    /// Checks the settings.
    /// - Throws: ``ProbeSettingError`` naming the setting.
    func validate() throws
    /// Measures at the context's point; may leave values for later probes in `context`.
    func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> Result
}

extension Probe {
    /// The error of an invalid setting.
    public func invalid(_ setting: String, _ problem: String) -> ProbeSettingError {
        ProbeSettingError(probe: Self.name, setting: setting, problem: problem)
    }

    /// Checks that `value` lies in `range`.
    /// - Throws: ``ProbeSettingError`` naming the setting.
    public func check(_ setting: String, _ value: Int, in range: ClosedRange<Int>) throws {
        guard range.contains(value) else { throw invalid(setting, "must be in \(range.lowerBound)...\(range.upperBound), got \(value)") }
    }

    /// Checks that `value` is positive and finite.
    /// - Throws: ``ProbeSettingError`` naming the setting.
    public func checkPositive(_ setting: String, _ value: Double) throws {
        guard value > 0, value.isFinite else { throw invalid(setting, "must be positive and finite, got \(value)") }
    }

    /// Checks that `value` keeps its meaning in `precision`, the precision the probe computes in
    /// (``Precision/roundingProblem(_:user:)``).
    /// - Throws: ``ProbeSettingError`` naming the setting, its value and the precision.
    public func checkRepresentable(_ setting: String, _ value: Double, in precision: Precision) throws {
        if let problem = precision.roundingProblem(value, user: "the probe") { throw invalid(setting, problem) }
    }
}

/// An invalid probe setting: the probe, the setting and what is wrong.
public struct ProbeSettingError: Error, Equatable, CustomStringConvertible {
    /// The probe's name, the setting, and what is wrong with its value.
    public let probe: String, setting: String, problem: String
    public var description: String { "\(probe): \(setting) \(problem)" }
}

/// A probe of any type behind one type: its name, columns and a measurement that returns the
/// values in column order, for lists of probes (per epoch, final) and their CSV rows.
public struct AnyProbe: Sendable {
    /// The probe's name (``Probe/name``).
    public let name: String
    /// The result's columns (``ProbeResult/columns``).
    public let columns: [String]
    /// The columns that hold counts or flags.
    public let integerColumns: Set<String>
    let validateSettings: @Sendable () throws -> Void
    let measureFloat: @Sendable (inout ProbeContext<Float>) throws -> [Double]
    let measureDouble: @Sendable (inout ProbeContext<Double>) throws -> [Double]
    let toJSON: @Sendable ([Double]) -> [String: Any]

    /// The probe `probe`, with its settings.
    public init<P: Probe>(_ probe: P) {
        name = P.name
        columns = P.Result.columns
        integerColumns = Set(P.Result.fields.filter(\.isInteger).map(\.name))
        validateSettings = { try probe.validate() }
        measureFloat = { try probe.measure(&$0).values }
        measureDouble = { try probe.measure(&$0).values }
        toJSON = { P.Result(values: $0).json }
    }

    /// - Throws: ``ProbeSettingError`` naming the setting.
    public func validate() throws { try validateSettings() }

    /// The values, in the order of ``columns``.
    /// - Throws: the probe's errors; ``/Autodiff/AutodiffError/invalidArgument(_:)`` for a scalar type other than Float and Double.
    public func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> [Double] {
        if var c = context as? ProbeContext<Float> {
            defer { if let back = c as? ProbeContext<E> { context = back } }
            return try measureFloat(&c)
        }
        guard var c = context as? ProbeContext<Double> else { throw AutodiffError.invalidArgument("probes run on Float or Double, not \(E.self)") }
        defer { if let back = c as? ProbeContext<E> { context = back } }
        return try measureDouble(&c)
    }

    /// The values as a JSON object (``ProbeResult/json``).
    public func json(_ values: [Double]) -> [String: Any] { toJSON(values) }
}

/// The probes a run measures after every `every` epochs (and after the last), in order, on the
/// fixed probe set: each a ``Probe`` description (λ_max by default), whose result columns and
/// seconds become columns of metrics.csv, so a resumed run reads them back.
public struct EpochProbes: Sendable {
    /// The probes, in the order they run.
    public let probes: [AnyProbe]
    /// Each probe runs every this many epochs (0: never; the last epoch always has it when > 0).
    public let every: [Int]

    /// All probes on one schedule.
    public init(_ probes: [AnyProbe], every: Int) {
        self.probes = probes; self.every = Array(repeating: every, count: probes.count)
    }

    /// Each probe on its own schedule.
    /// - Precondition: one schedule per probe.
    public init(_ scheduled: [(probe: AnyProbe, every: Int)]) {
        probes = scheduled.map(\.probe); every = scheduled.map(\.every)
    }

    /// The seconds column of a probe: `lambda_seconds` for λ_max (its name in runs of earlier
    /// versions), else `NAME_seconds`.
    public static func secondsColumn(of name: String) -> String { name == LambdaMaxProbe.name ? "lambda_seconds" : "\(name)_seconds" }

    /// The columns of the default epoch probes (λ_max alone).
    public static var lambdaMaxColumns: [String] { EpochProbes([AnyProbe(LambdaMaxProbe())], every: 1).columns }

    /// Each probe's columns and its seconds column, in order.
    public var columns: [String] { probes.flatMap { $0.columns + [Self.secondsColumn(of: $0.name)] } }

    /// The columns that hold counts or flags.
    public var integerColumns: Set<String> { probes.reduce(into: Set()) { $0.formUnion($1.integerColumns) } }

    /// Whether any probe runs after `epoch` of `epochs`.
    public func due(epoch: Int, of epochs: Int) -> Bool { probes.indices.contains { due($0, epoch: epoch, of: epochs) } }

    func due(_ i: Int, epoch: Int, of epochs: Int) -> Bool { every[i] > 0 && (epoch % every[i] == 0 || epoch == epochs) }

    /// Runs each probe in the context, in order — with `epoch`, only those due after that epoch of
    /// `epochs` — and returns the values of ``columns``, nan for a probe not run. `beforeEach` is
    /// called before each probe that runs (the trainer's check for a stop request).
    /// - Throws: the probes' errors; what `beforeEach` throws.
    public func measure<E: TensorScalar>(_ context: inout ProbeContext<E>, epoch: Int? = nil, of epochs: Int = 0,
                                         beforeEach: () throws -> Void = {}) throws -> [Double] {
        var values: [Double] = []
        for (i, p) in probes.enumerated() {
            if let epoch, !due(i, epoch: epoch, of: epochs) {
                values += [Double](repeating: .nan, count: p.columns.count + 1)
                continue
            }
            try beforeEach()
            let t0 = Date()
            values += try p.measure(&context)
            values.append(Date().timeIntervalSince(t0))
        }
        return values
    }

    /// The columns that are unique, or the first repeated one.
    public var repeatedColumn: String? {
        var seen = Set<String>()
        return columns.first { !seen.insert($0).inserted }
    }

    /// nan for every column: a row where the probes did not run.
    public var notMeasured: [Double] { [Double](repeating: .nan, count: columns.count) }
}

import Autodiff
import Foundation
import Tensors

/// One output of a probe: its name (CSV column and JSON key) and where its value lives in the
/// result, so that a probe's columns and its values come from one declaration.
public struct ProbeField<Result> {
    public let name: String
    let get: (Result) -> Double
    let set: (inout Result, Double) -> Void

    public init(_ name: String, _ path: WritableKeyPath<Result, Double>) {
        self.name = name
        get = { $0[keyPath: path] }
        set = { $0[keyPath: path] = $1 }
    }

    /// A count, written as an integer-valued number.
    public init(_ name: String, _ path: WritableKeyPath<Result, Int>) {
        self.name = name
        get = { Double($0[keyPath: path]) }
        set = { $0[keyPath: path] = $1.isFinite ? Int($1) : 0 }
    }

    /// A flag, written as 1 or 0.
    public init(_ name: String, _ path: WritableKeyPath<Result, Bool>) {
        self.name = name
        get = { $0[keyPath: path] ? 1 : 0 }
        set = { $0[keyPath: path] = $1 == 1 }
    }
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

    /// The fields as a JSON object (nan and infinities as `null`).
    public var json: [String: Any] {
        Dictionary(uniqueKeysWithValues: Self.fields.map { f in
            let v = f.get(self)
            return (f.name, v.isFinite ? v as Any : NSNull())
        })
    }
}

/// Where a probe measures: the point θ, the loss there and the curvature operator over the same
/// data (built when a probe first asks for it). The context also carries what one probe leaves
/// for the next: λ_max for ½ε²λ_max, and warm starts from one pass (epoch) to the next.
public struct ProbeContext<E: TensorScalar> {
    /// θ (length d).
    public let point: Tensor<E>
    /// The loss over the probe data, with the layout of θ.
    public let loss: LossFunction<E>
    /// The same loss and point in Float64 (inputs computed in Float64), for probes that ask for it;
    /// `nil` when `E` is `Double` (then ``loss`` is that) or none was given.
    let float64: (() throws -> (LossFunction<Double>, Tensor<Double>))?
    let makeCurvature: () throws -> AnySymmetricOperator<E>
    var curvatureCache: Box<AnySymmetricOperator<E>?> = Box(nil)
    /// The seed of the pass; probes derive their own seeds from their settings.
    public var seed: UInt64
    /// λ_max, when a probe of this pass measured it.
    public var lambdaMax: Double?
    /// Vectors a probe keeps between passes (e.g. the λ_max eigenvector), by probe name.
    public var warmStarts: [String: Tensor<E>] = [:]

    /// - Parameters:
    ///   - curvature: builds the curvature operator at θ (e.g. ``HessianOperator`` or a chunked one).
    ///   - float64: the loss and θ in Float64, for a Float32 context.
    public init(point: Tensor<E>, loss: LossFunction<E>, seed: UInt64 = 0, curvature: @escaping () throws -> AnySymmetricOperator<E>,
                float64: (() throws -> (LossFunction<Double>, Tensor<Double>))? = nil) {
        self.point = point; self.loss = loss; self.seed = seed; self.makeCurvature = curvature; self.float64 = float64
    }

    /// The context of an objective at θ: its loss and its Hessian (linearized once).
    public init<O: Objective>(of f: O, at θ: Tensor<O.Scalar>, seed: UInt64 = 0) where O.Scalar == E {
        self.init(point: θ, loss: LossFunction(f), seed: seed, curvature: { AnySymmetricOperator(try HessianOperator(of: f, at: θ)) })
    }

    /// The layout of θ.
    public var layout: ParameterLayout { loss.layout }

    /// The curvature operator at θ, built on first use and shared by the probes of this context.
    public func curvature() throws -> AnySymmetricOperator<E> {
        if let op = curvatureCache.value { return op }
        let op = try makeCurvature()
        curvatureCache.value = op
        return op
    }

    /// The loss and θ in Float64.
    /// - Throws: ``AutodiffError/invalidArgument(_:)`` when this Float32 context has no Float64 form.
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
    associatedtype Result: ProbeResult
    /// The probe's name in configurations, logs and output ("lambda_max", "sharpness", …).
    static var name: String { get }
    /// The settings' problem, naming the setting.
    /// - Throws: ``AutodiffError/invalidArgument(_:)``.
    func validate() throws
    /// Measures at the context's point; may leave values for later probes in `context`.
    func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> Result
}

extension Probe {
    /// Runs ``measure(_:)`` and returns its result with the seconds it took.
    public func timed<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> (result: Result, seconds: Double) {
        let t0 = Date()
        let r = try measure(&context)
        return (r, Date().timeIntervalSince(t0))
    }

    /// "NAME: SETTING must …": the message of an invalid setting.
    public func invalid(_ setting: String, _ problem: String) -> AutodiffError {
        .invalidArgument("\(Self.name): \(setting) \(problem)")
    }

    /// Checks that `value` lies in `range`.
    /// - Throws: ``AutodiffError/invalidArgument(_:)`` naming the setting.
    public func check(_ setting: String, _ value: Int, in range: ClosedRange<Int>) throws {
        guard range.contains(value) else { throw invalid(setting, "must be in \(range.lowerBound)...\(range.upperBound), got \(value)") }
    }

    /// Checks that `value` is positive and finite.
    /// - Throws: ``AutodiffError/invalidArgument(_:)`` naming the setting.
    public func checkPositive(_ setting: String, _ value: Double) throws {
        guard value > 0, value.isFinite else { throw invalid(setting, "must be positive and finite, got \(value)") }
    }
}

/// A probe of any type behind one type: its name, columns and a measurement that returns the
/// values in column order, for lists of probes (per epoch, final) and their CSV rows.
public struct AnyProbe: Sendable {
    public let name: String
    /// The result's columns (``ProbeResult/columns``).
    public let columns: [String]
    let validateSettings: @Sendable () throws -> Void
    let measureFloat: @Sendable (inout ProbeContext<Float>) throws -> [Double]
    let measureDouble: @Sendable (inout ProbeContext<Double>) throws -> [Double]
    let jsonFloat: @Sendable ([Double]) -> [String: Any]

    public init<P: Probe>(_ probe: P) {
        name = P.name
        columns = P.Result.columns
        validateSettings = { try probe.validate() }
        measureFloat = { try probe.measure(&$0).values }
        measureDouble = { try probe.measure(&$0).values }
        jsonFloat = { P.Result(values: $0).json }
    }

    /// - Throws: ``AutodiffError/invalidArgument(_:)`` naming the setting.
    public func validate() throws { try validateSettings() }

    /// The values, in the order of ``columns``.
    public func measure<E: TensorScalar>(_ context: inout ProbeContext<E>) throws -> [Double] {
        if var c = context as? ProbeContext<Float> {
            defer { context = c as! ProbeContext<E> }
            return try measureFloat(&c)
        }
        var c = context as! ProbeContext<Double>
        defer { context = c as! ProbeContext<E> }
        return try measureDouble(&c)
    }

    /// The values as a JSON object (nan as `null`).
    public func json(_ values: [Double]) -> [String: Any] { jsonFloat(values) }
}

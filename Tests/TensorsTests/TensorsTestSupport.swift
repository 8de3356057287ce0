import Foundation
import Tensors
import Testing

/// The element types every generic tensor test runs under.
enum Precision: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case float, double
    var testDescription: String { rawValue }
}

/// `n` seeded pseudo-random values uniform in `range`, rounded to `E`.
func randomScalars<E: TensorScalar>(_ n: Int, in range: ClosedRange<Double>, rng: inout SplitMix64, as _: E.Type = E.self) -> [E] {
    (0..<n).map { _ in E(range.lowerBound + (range.upperBound - range.lowerBound) * rng.nextUnitDouble()) }
}

/// Machine epsilon of `E` as a `Double`.
func epsilon<E: TensorScalar>(_: E.Type) -> Double { Double(E.ulpOfOne) }

/// The scalars of a tensor as `Double`s.
func doubles<E: TensorScalar>(_ t: Tensor<E>) -> [Double] { t.scalars.map { Double($0) } }

/// Compares `got` with `expected` elementwise: `|got − expected| ≤ tolerance[i]`.
/// Returns a description of the first violation (and how many there are), or nil.
func firstMismatch(_ got: [Double], _ expected: [Double], tolerance: (Int) -> Double) -> String? {
    guard got.count == expected.count else { return "count \(got.count) ≠ expected \(expected.count)" }
    var bad = 0
    var first: String?
    for i in got.indices {
        let tol = tolerance(i)
        let ok = got[i] == expected[i] || Swift.abs(got[i] - expected[i]) <= tol
        if !ok {
            bad += 1
            if first == nil { first = "index \(i): got \(got[i]), expected \(expected[i]) (tolerance \(tol))" }
        }
    }
    return first.map { "\($0); \(bad) of \(got.count) elements differ" }
}

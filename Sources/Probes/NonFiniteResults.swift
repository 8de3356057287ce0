/// The one rule for results that are NaN or ±inf: they are kept and written (CSV `nan`, `inf`,
/// `-inf`; JSON the strings `"nan"`, `"inf"`, `"-inf"`) and said, by this warning, which
/// `landscape slice`, `landscape probe` and the study print or log.
/// - Parameters:
///   - values: the results.
///   - what: their name, plural ("losses").
///   - note: why they arise or which they are, or `nil`.
///   - kept: how they are written and shown ("they are written as nan, inf or -inf").
/// - Returns: the warning, or `nil` when every value is finite.
public func nonFiniteWarning(_ values: [Double], what: String, note: String? = nil, kept: String) -> String? {
    let bad = values.filter { !$0.isFinite }.count
    guard bad > 0 else { return nil }
    return "warning: \(bad) of \(values.count) \(what) \(bad == 1 ? "is" : "are") not finite (NaN or ±inf\(note.map { ": " + $0 } ?? "")); \(kept)"
}

extension Slice1D {
    /// The warning for losses that are not finite (``nonFiniteWarning(_:what:note:kept:)``), or `nil`.
    public var nonFiniteWarning: String? { sliceWarning(losses) }
}

extension Slice2D {
    /// The warning for losses that are not finite (``nonFiniteWarning(_:what:note:kept:)``), or `nil`.
    public var nonFiniteWarning: String? { sliceWarning(losses.flatMap { $0 }) }
}

func sliceWarning(_ losses: [Double]) -> String? {
    Probes.nonFiniteWarning(losses, what: "losses", note: "the model overflows that far from θ",
                            kept: "they are written as nan, inf or -inf and drawn grey or left out")
}

import Autodiff

/// The probes by name: what `landscape probe --probes`, a run's epoch probes and the study's final
/// probes choose from. A new probe is one line here.
public enum ProbeRegistry {
    /// Each probe with its default settings, in the order a pass runs them (λ_max first, so that
    /// sharpness can report ½ε²λ_max).
    public static let all: [AnyProbe] = [
        AnyProbe(LambdaMaxProbe()),
        AnyProbe(SharpnessGradientProbe()),
        AnyProbe(SharpnessProbe()),
        AnyProbe(TraceProbe()),
        AnyProbe(KeskarProbe()),
        AnyProbe(SpectralRanksProbe()),
        AnyProbe(BatchSharpnessProbe()),
        AnyProbe(PerSampleCurvatureProbe()),
        AnyProbe(ValidityRadiusProbe()),
    ]

    /// The names, in order.
    public static var names: [String] { all.map(\.name) }

    /// The probe named `name`, with its default settings.
    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` naming the known probes.
    public static func probe(named name: String) throws -> AnyProbe {
        guard let p = all.first(where: { $0.name == name }) else {
            throw AutodiffError.invalidArgument("unknown probe '\(name)'; the probes are \(names.joined(separator: ", "))")
        }
        return p
    }
}

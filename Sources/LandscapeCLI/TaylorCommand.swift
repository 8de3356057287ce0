import ArgumentParser
import Autodiff
import Checkpoints
import Foundation
import Layers
import Probes
import Settings
import Tensors

struct TaylorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "taylor",
        abstract: "Print the first K directional derivatives of the loss along a direction, in one Taylor-mode (jet) pass, and compare the quadratic model with the true loss change.",
        discussion: """
        The probe batch is \(TaylorCommand.defaultSamples) samples by default, not probe's \(ProbeDefaults.probeSamples): a jet of order K carries K + 1 \
        coefficients through every layer for every sample, so it costs about K + 1 times a forward pass and holds K + 1 activations per sample.

        """ + SettingOptions(TargetSettings.targetKeys).help(defaults: { var s = TargetSettings(); s.probeSamples = TaylorCommand.defaultSamples; return s }(),
                                                             heading: "Settings (--OPTION VALUE or --OPTION=VALUE):"))

    @OptionGroup var target: ProbeTarget
    @OptionGroup var record: TaylorRecordOptions
    @Option(help: "A direction file (safetensors with the layout's tensor names); default: a random unit direction from --seed.") var direction: String?
    @Option(parsing: .unconditional, help: "Highest derivative order K (≥ 2).") var order: Int = 4
    @Option(help: "Comma-separated step sizes ε for the comparison table.") var epsilons: String = "0.01,0.1,0.3,1"

    /// Training samples in the batch unless --probe-samples says otherwise: fewer than probe's
    /// (``ProbeDefaults/probeSamples``) because a jet of order K costs about K + 1 forward passes.
    static let defaultSamples = 256

    func epsilonValues() throws -> [Double] {
        let values = epsilons.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0! > 0 && $0!.isFinite }) else {
            throw ValidationError("--epsilons must be positive finite numbers separated by commas, got '\(epsilons)'")
        }
        return values.map { $0! }
    }

    func validate() throws {
        _ = try target.settings(keys: TargetSettings.targetKeys, probeSamples: Self.defaultSamples)
        guard order >= 2, order <= 12 else { throw ValidationError("--order must be in 2...12, got \(order)") }
        _ = try epsilonValues()
    }

    func run() throws {
        let context = try target.runContext()
        try run(try context.spec.make(), context)
    }

    func run<M: Model>(_ m: M, _ context: RunContext) throws {
        let eps = try epsilonValues()
        let (f, θ) = try target.load(m, context: context, defaultSamples: Self.defaultSamples)
        let seed = target.seed
        var v: Tensor<Double>
        if let direction {
            v = try loadFlat(direction, layout: m.layout, what: "a direction")
            guard v.norm() > 0, v.norm().isFinite else { throw CLIError(description: "the direction in \(direction) is zero or not finite") }
        } else {
            var rng = SplitMix64(seed: seed &+ 0x7A11)
            v = Tensor<Double>.randomNormal([θ.count], using: &rng).normalized()
        }
        let d = try directionalDerivatives(of: f, at: θ, along: v, order: order)
        outLine("model \(m.name) (\(m.layout.parameterCount) parameters), θ: \(target.parameters ?? "fresh, seed \(seed)"), direction: \(direction ?? "random unit, seed \(seed)") (‖v‖ = \(String(format: "%.4g", v.norm()))), batch: first \(f.labels.count) training samples, Float64")
        let names = ["L(θ)", "gᵀv", "vᵀHv", "∇³L[v,v,v]"]
        outLine("  k   dᵏ/dtᵏ L(θ + t·v) at t = 0")
        for (k, value) in d.enumerated() {
            outLine(String(format: "%3d   %+.10e   %@", k, value, (k < names.count ? names[k] : "∇^\(k)L[v,…,v]") as NSString))
        }
        let radii = try validityRadii(of: LossFunction(f), at: θ, along: v, order: order)
        outLine(Self.smoothLine(radii))
        outLine(Self.quadraticLine(radii))
        let l0 = d[0], g = d[1], curvature = d[2]
        var rows: [[String: Any]] = []
        outLine("")
        outLine("      ε     true ΔL − ε·gᵀv     ½ε²·vᵀHv (quadratic)     Taylor to order \(order)     rel. error of quadratic")
        for e in eps {
            var moved = θ
            moved.addScaled(v, e)
            let truth = try value(of: f, at: moved) - l0 - e * g
            let quadratic = 0.5 * e * e * curvature
            var taylor = 0.0, factorial = 1.0, power = e
            for k in 2...order { factorial *= Double(k); power *= e; taylor += d[k] / factorial * power }
            let rel = abs(quadratic - truth) / max(abs(truth), 1e-300)
            rows.append(["epsilon": e, "true_change": truth, "quadratic": quadratic, "taylor": taylor, "relative_error_quadratic": rel])
            outLine(String(format: "%8.4g   %+.8e   %+.8e           %+.8e       %.3g", e, truth, quadratic, taylor, rel))
        }
        if let path = record.json {
            var inputs = try context.inputs(samples: f.labels.count, seed: seed)
            inputs["direction"] = direction.map { URL(fileURLWithPath: $0).path as Any } ?? "random unit, seed \(seed)"
            inputs["order"] = order
            try AtomicFile.write(try JSONText.data(["inputs": inputs, "derivatives": d, "direction_norm": v.norm(), "comparison": rows] as [String: Any]),
                                 to: URL(fileURLWithPath: path))
            outLine("wrote \(path)")
        }
    }

    /// "smooth for t in (−a, b): …" (``ValidityRadii/smooth``).
    static func smoothLine(_ r: ValidityRadii) -> String {
        let s = r.smooth
        let exact = s.isExact ? "exact: routing values are polynomials of degree \(s.routingDegree) < order \(s.coefficients.count - 1)"
                              : "from the order-\(s.coefficients.count - 1) Taylor polynomials of the routing values"
        return String(format: "smooth for t in (−%.6g, %.6g): activation pattern fixed (%@)", s.backward, s.forward, exact as NSString)
    }

    /// "quadratic model within 10 % for |ε| ≤ r (true error there …)" (``ValidityRadii/quadratic``):
    /// r is the jet's; past the smooth interval the jet is not the loss, and the line says so.
    static func quadraticLine(_ r: ValidityRadii) -> String {
        let order = r.smooth.coefficients.count - 1
        guard r.quadratic.isFinite else {
            return "quadratic model within 10 %: no estimate from the order-\(order) jet (its terms beyond c₂ vanish\(order < 3 ? ", or the order is below 3" : ""))"
        }
        if r.smoothBinds {
            return String(format: "quadratic model within 10 %% for |ε| ≤ %.6g by the order-%d jet, but that is beyond the smooth interval, where the jet is not the loss: the true error there is %.3g %%",
                          r.quadratic, order, 100 * r.trueError)
        }
        return String(format: "quadratic model within 10 %% for |ε| ≤ %.6g (true error there %.3g %%)", r.quadratic, 100 * r.trueError)
    }
}

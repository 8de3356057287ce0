import ArgumentParser
import Autodiff
import Checkpoints
import Foundation
import Layers
import Study
import Training

/// `landscape model SPEC`: what a specification builds, before training it — its parameter layout
/// (PyTorch names and shapes), its parameter count and its modules (the blocks of per-module
/// curvature); with `--parameters N`, the specification sized to about N parameters.
struct ModelSpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Print a model's parameter layout (names and shapes), parameter count and modules; with --parameters N, the model sized to about N parameters and its compact form.",
        discussion: ModelSpec.compactFormHelp)

    @Argument(help: "The model: a preset (\(ModelSpec.presets.map(\.name).joined(separator: ", "))), a compact form or the path of a JSON specification file.")
    var spec: String

    @Option(help: "Size the model to about this many parameters (its hidden widths, channels or dimension scaled; within 10 %).")
    var parameters: Int?

    @Flag(help: "Print JSON (the specification, its compact form, the parameter count, the layout with offsets and the modules) instead of text.")
    var json = false

    func validate() throws {
        _ = try parseModelOption(spec, option: nil)
        if let parameters, parameters < 1 { throw ValidationError("--parameters must be at least 1, got \(parameters)") }
    }

    func run() throws {
        let given = try parseModelOption(spec, option: nil)!
        var model = given
        if let parameters {
            do { model = try given.sized(toParameters: parameters) } catch {
                throw CLIError(description: "--parameters \(parameters): \(given) cannot be sized to it: \(error)")
            }
        }
        let built: SpecModel
        do { built = try model.make() } catch { throw CLIError(description: "\(spec): \(error)") }
        let layout = built.layout
        let count = layout.parameterCount
        if json {
            var object: [String: Any] = [
                "model": ConfigurationFlags.jsonValue(model), "name": model.name, "input": model.input,
                "compact_form": model.compactForm.map { $0 as Any } ?? NSNull(), "parameters": count,
                "layout": layout.entries.map { ["name": $0.name, "shape": $0.shape, "offset": $0.offset, "parameters": $0.shape.reduce(1, *)] as [String: Any] },
                "modules": built.modules.map { m in ["name": m.name, "entries": m.entries, "parameters": Self.parameters(of: m.entries, in: layout)] as [String: Any] },
            ]
            if let parameters {
                object["sized"] = ["from": ConfigurationFlags.jsonValue(given), "target": parameters,
                                   "relative_difference": Double(count - parameters) / Double(parameters)] as [String: Any]
            }
            outLine(String(decoding: try JSONText.data(object), as: UTF8.self))
            return
        }
        if let parameters {
            outLine("\(given) sized to \(StudyReport.grouped(parameters)) parameters: \(model.compactForm ?? model.name) "
                    + String(format: "(%@ parameters, %+.1f %%)", StudyReport.grouped(count), 100 * Double(count - parameters) / Double(parameters)))
        }
        outLine("model \(model.name)" + (model.compactForm.map { $0 == model.name ? "" : " (\($0))" } ?? "") + ", input \(model.input)")
        outLine("parameters \(StudyReport.grouped(count))")
        outLine("layout (name, shape, parameters):")
        let width = layout.entries.map(\.name.count).max() ?? 0
        for e in layout.entries {
            outLine("  " + e.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(e.shape)  \(StudyReport.grouped(e.shape.reduce(1, *)))")
        }
        outLine("modules (the blocks of per-module curvature: probe --blocks layer, the study's layers.csv):")
        for m in built.modules {
            outLine("  \(m.name): \(m.entries.joined(separator: ", ")) (\(StudyReport.grouped(Self.parameters(of: m.entries, in: layout))) parameters)")
        }
    }

    /// The number of parameters of the layout's entries named `entries`.
    static func parameters(of entries: [String], in layout: ParameterLayout) -> Int {
        layout.entries.filter { entries.contains($0.name) }.reduce(0) { $0 + $1.shape.reduce(1, *) }
    }
}

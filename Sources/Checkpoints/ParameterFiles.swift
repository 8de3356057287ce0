import Autodiff
import Foundation
import Tensors

/// Parameter files: a flat θ as safetensors, one F32 tensor per layout entry, named and shaped as
/// in the layout (PyTorch names and layouts; readable by `safetensors.numpy.load_file`), and the
/// names of a training run's per-epoch checkpoints.
public enum ParameterFiles {
    /// The θ checkpoint of an epoch: `theta-epoch-NNN.safetensors`.
    public static func thetaName(epoch: Int) -> String { String(format: "theta-epoch-%03d.safetensors", epoch) }
    /// The optimizer checkpoint of an epoch (SGD velocity and step, the λ_max start vector).
    public static func optimizerName(epoch: Int) -> String { String(format: "optimizer-epoch-%03d.safetensors", epoch) }

    /// The θ checkpoints in a run directory, in epoch order (the trajectory of a run).
    /// - Throws: ``CheckpointError/ioFailure(path:operation:reason:)`` when the directory cannot be listed.
    public static func thetaFiles(in directory: URL) throws -> [URL] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw CheckpointError.ioFailure(path: directory.path, operation: "listing the directory", reason: error.localizedDescription)
        }
        return names.filter { $0.hasPrefix("theta-epoch-") && $0.hasSuffix(".safetensors") }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// θ split into one named F32 tensor per layout entry, as ``saveParameters(_:layout:to:metadata:)`` writes it.
    /// - Precondition: θ has the layout's length.
    public static func tensors(of θ: Tensor<Float>, layout: ParameterLayout) -> [(name: String, shape: [Int], values: [Float])] {
        layout.entries.map { (name: $0.name, shape: $0.shape, values: Array(θ.scalars[$0.range])) }
    }
}

/// Saves a flat θ (atomically), one F32 tensor per layout entry.
/// - Throws: ``CheckpointError`` on I/O failure; ``/Autodiff/AutodiffError`` if θ has the wrong length.
public func saveParameters(_ θ: Tensor<Float>, layout: ParameterLayout, to url: URL, metadata: [String: String] = [:]) throws {
    try layout.validate(θ)
    try SafeTensors.write(ParameterFiles.tensors(of: θ, layout: layout), metadata: metadata, to: url)
}

/// Loads a flat θ saved by ``saveParameters(_:layout:to:metadata:)`` (or a direction of the same
/// layout), checking every layout entry's presence and shape and that every value is finite.
/// - Throws: ``CheckpointError`` for unreadable files, missing tensors, another shape, or a NaN or
///   infinity (``CheckpointError/nonFiniteValue(path:tensor:shape:index:value:)``).
public func loadParameters(from url: URL, layout: ParameterLayout) throws -> Tensor<Float> {
    let file = try SafeTensors.read(from: url)
    var values: [Float] = []
    values.reserveCapacity(layout.parameterCount)
    for e in layout.entries {
        let shape = try file.shape(named: e.name)
        guard shape == e.shape else { throw CheckpointError.shapeMismatch(path: url.path, tensor: e.name, shape: shape, expected: e.shape) }
        values.append(contentsOf: try file.finiteFloats(named: e.name))
    }
    return Tensor(values)
}

extension ParameterFiles {
    /// A direction file: `direction-NAME.safetensors`, θ's layout (``saveParameters(_:layout:to:metadata:)``),
    /// read back by ``loadParameters(from:layout:)`` (`landscape taylor --direction FILE`).
    public static func directionName(_ name: String) -> String { "direction-\(name).safetensors" }
}

import Datasets
import Layers
import Tensors

/// A model that cannot train on the data set, or cannot train in this machine's memory: found
/// before a run starts (before its directory is written), not at its first step.
public struct ModelDataError: Error, CustomStringConvertible, Equatable {
    /// What does not fit, with the counts.
    public let description: String
    /// An error with the message `description`.
    public init(_ description: String) { self.description = description }
}

/// Checks, run before training starts, that a model fits the data set and the machine.
public enum ModelDataCheck {
    /// The shape of one sample of `data`: `[1, 28, 28]` (``/Layers/ModelSpec/mnistInput``) when
    /// its feature count is that image's, else `[featureCount]`.
    static func sampleShape(featureCount: Int) -> [Int] {
        ModelSpec.mnistInput.reduce(1, *) == featureCount ? ModelSpec.mnistInput : [featureCount]
    }

    /// Why `model` (compiled from `spec`) cannot train on `data`, or `nil` when it can: its input
    /// row must have the data's feature count (``/Datasets/DatasetSplit/featureCount``, 784 for
    /// MNIST) and its logits one per class of the data set (``/Datasets/MNISTDataset/classCount``:
    /// the loader refuses labels outside it).
    public static func mismatch(_ spec: ModelSpec, _ model: any Model, data: MNISTDataset) -> String? {
        let features = data.train.featureCount
        if model.inputSize != features {
            let shape = sampleShape(featureCount: features)
            let images = shape.count == 1 ? "have \(features) values" : "are \(shape) (\(features) values)"
            return "model \(spec.name) takes inputs of shape \(spec.input) (\(model.inputSize) values) but \(data.name) images \(images)"
        }
        let classes = MNISTDataset.classCount
        if model.classCount != classes {
            return "model \(spec.name) outputs \(model.classCount) logits but \(data.name) has \(classes) classes (the last layer must output \(classes))"
        }
        return nil
    }

    /// Bytes that training a model of `parameters` Float32 parameters holds: θ, its gradient,
    /// the momentum buffer and a checkpoint copy (4 parameter-sized vectors), plus the data set
    /// as Float32 tensors (train, validation and test: ``/Training/Trainer`` converts each split once).
    /// Activations are not counted (they depend on the layers, and a batch's are small beside θ
    /// for the models this refuses).
    public static func trainingBytes(parameters: Int, data: MNISTDataset) -> Double {
        let floatBytes = Double(MemoryLayout<Float>.size)
        let samples = data.train.count + data.validation.count + data.test.count
        return floatBytes * (4 * Double(parameters) + Double(samples) * Double(data.train.featureCount))
    }

    /// Checks that `configuration`'s model fits `data` (``mismatch(_:_:data:)``) and that
    /// training it fits in `available` bytes (``trainingBytes(parameters:data:)``, default
    /// ``/Tensors/MachineMemory/bytes``).
    /// - Throws: ``ModelDataError`` naming the counts, or the estimate and the memory available;
    ///   ``/Layers/ModelError`` for a specification that does not compile.
    public static func check(_ configuration: TrainingConfiguration, data: MNISTDataset,
                             available: Double = MachineMemory.bytes) throws {
        let spec = configuration.model
        let model = try spec.make()
        if let problem = mismatch(spec, model, data: data) { throw ModelDataError(problem) }
        let d = model.layout.parameterCount
        if let problem = MachineMemory.excess(trainingBytes(parameters: d, data: data),
                                              for: "training model \(spec.name) (\(d) parameters: θ, gradient, momentum and a checkpoint copy in Float32, and the data set)",
                                              available: available) {
            throw ModelDataError(problem)
        }
    }
}

import Testing
import Layers

/// A parameter file's model from its tensors' names and shapes (the layouts of MLP [784, 256, 256, 10]
/// and of the CNN, written out here as PyTorch's [out, in] and [out, in, kh, kw]).
@Suite struct ModelSpecLayoutMatchingTests {
    static let mlp: [(name: String, shape: [Int])] = [("fc1.weight", [256, 784]), ("fc1.bias", [256]), ("fc2.weight", [256, 256]), ("fc2.bias", [256]),
                                                      ("fc3.weight", [10, 256]), ("fc3.bias", [10])]

    @Test func eachLayoutMatchesItsPresetOnly() throws {
        #expect(try ModelSpec.presets(matching: Self.mlp) == [.mlp])
        let cnn = try CNN().layout.entries.map { (name: $0.name, shape: $0.shape) }
        #expect(try ModelSpec.presets(matching: cnn) == [.cnn])
        #expect(cnn.first?.name == "conv1.weight" && cnn.first?.shape == [16, 1, 5, 5])
    }

    @Test func aMismatchNamesTheTensor() throws {
        var narrow = Self.mlp
        narrow[0] = (name: "fc1.weight", shape: [4, 784])
        #expect(try ModelSpec.presets(matching: narrow).isEmpty)
        #expect(try ModelSpec.mlp.layoutMismatch(narrow) == "fc1.weight is [4, 784], mlp has [256, 784]")
        #expect(try ModelSpec.mlp.layoutMismatch(Array(Self.mlp.dropLast())) == "no tensor fc3.bias (mlp has fc3.bias [10])")
        #expect(try ModelSpec.mlp.layoutMismatch(Self.mlp + [(name: "extra", shape: [1])]) == "mlp has no tensor extra")
    }

    @Test func theSummaryListsTheLayoutInOrder() throws {
        #expect(try ModelSpec.mlp.layoutSummary() == "fc1.weight [256, 784], fc1.bias [256], fc2.weight [256, 256], fc2.bias [256], fc3.weight [10, 256], fc3.bias [10]")
    }
}

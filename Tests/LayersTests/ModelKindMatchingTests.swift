import Testing
import Layers

/// A parameter file's model from its tensors' names and shapes (the layouts of MLP [784, 256, 256, 10]
/// and of the CNN, written out here as PyTorch's [out, in] and [out, in, kh, kw]).
@Suite struct ModelKindMatchingTests {
    static let mlp: [(name: String, shape: [Int])] = [("fc1.weight", [256, 784]), ("fc1.bias", [256]), ("fc2.weight", [256, 256]), ("fc2.bias", [256]),
                                                      ("fc3.weight", [10, 256]), ("fc3.bias", [10])]

    @Test func eachLayoutMatchesItsModelOnly() throws {
        #expect(try ModelKind.matching(tensors: Self.mlp) == [.mlp])
        let cnn = try CNN().layout.entries.map { (name: $0.name, shape: $0.shape) }
        #expect(try ModelKind.matching(tensors: cnn) == [.cnn])
        #expect(cnn.first?.name == "conv1.weight" && cnn.first?.shape == [16, 1, 5, 5])
    }

    @Test func aMismatchNamesTheTensor() throws {
        var narrow = Self.mlp
        narrow[0] = (name: "fc1.weight", shape: [4, 784])
        #expect(try ModelKind.matching(tensors: narrow).isEmpty)
        #expect(try ModelKind.mlp.layoutMismatch(narrow) == "fc1.weight is [4, 784], mlp has [256, 784]")
        #expect(try ModelKind.mlp.layoutMismatch(Array(Self.mlp.dropLast())) == "no tensor fc3.bias (mlp has fc3.bias [10])")
        #expect(try ModelKind.mlp.layoutMismatch(Self.mlp + [(name: "extra", shape: [1])]) == "mlp has no tensor extra")
    }
}

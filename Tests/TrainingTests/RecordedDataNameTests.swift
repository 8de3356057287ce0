import Foundation
import Testing
import Datasets
import Layers
import Training

/// Runs recorded before all four MNIST files were identified named any MNIST-shaped data "MNIST";
/// the data now read under "non-canonical MNIST (…)" must still resume them.
@Suite struct RecordedDataNameTests {
    @Test func namesMatchAcrossTheChangeAndNowhereElse() {
        #expect(DatasetIdentity.recordedName("MNIST", matches: "MNIST"))
        #expect(DatasetIdentity.recordedName("MNIST", matches: "non-canonical MNIST (all four files differ)"))
        #expect(!DatasetIdentity.recordedName("non-canonical MNIST (t10k-labels-idx1-ubyte differs)", matches: "non-canonical MNIST (train-images-idx3-ubyte differs)"))
        #expect(!DatasetIdentity.recordedName("Fashion-MNIST", matches: "non-canonical MNIST (all four files differ)"))
        #expect(!DatasetIdentity.recordedName("MNIST", matches: "Fashion-MNIST"))
        #expect(!DatasetIdentity.recordedName("anything", matches: "non-canonical anything (x differs)"))
    }

    @Test func theFixtureRunStillAcceptsItsDataReadThroughLoad() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: FixtureTests.fixtures.appendingPathComponent("train-interrupted"), to: dir)
        var settings = DataSettings()
        settings.dataDirectory = FixtureTests.fixtures.appendingPathComponent("data").path
        settings.validation = 16
        let data = try MNISTDataset.load(settings, log: { _ in })
        #expect(data.name.hasPrefix("non-canonical MNIST"), "\(data.name)")
        let store = try RunStore.open(at: dir)
        defer { store.close() }
        try store.check(data: data)
    }
}

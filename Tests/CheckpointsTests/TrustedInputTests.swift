import Autodiff
import Foundation
import Tensors
import Testing
@testable import Checkpoints

/// Issue 24, class 3: parameter files whose values used to be trusted.
@Suite struct TrustedInputTests {
    /// Two tensors: `a` of shape [2, 3] and `b` of shape [4] (10 parameters).
    let layout = ParameterLayout([(name: "a", shape: [2, 3]), (name: "b", shape: [4])])

    @Test func aNaNParameterIsRefusedNamingTheTensorAndTheFirstBadIndex() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("theta.safetensors")
        // b = [1, 2, nan, inf]: the first non-finite element of b is its element 2, a NaN.
        try SafeTensors.write([(name: "a", shape: [2, 3], values: [0, 1, 2, 3, 4, 5] as [Float]),
                               (name: "b", shape: [4], values: [1, 2, .nan, .infinity] as [Float])], to: url)
        do {
            let θ = try loadParameters(from: url, layout: layout)
            Issue.record("loaded non-finite parameters: \(θ.scalars)")
        } catch {
            #expect("\(error)" == "safetensors file '\(url.path)': tensor 'b' holds nan at element 2 (index [2] of shape [4]); parameters and directions must be finite")
        }
    }

    @Test func anInfiniteParameterIsNamedByItsIndexInTheTensorsShape() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("theta.safetensors")
        // a[1, 1] is element 1·3 + 1 = 4 in row-major order; b's NaN comes later in the file.
        try SafeTensors.write([(name: "a", shape: [2, 3], values: [0, 1, 2, 3, -.infinity, .infinity] as [Float]),
                               (name: "b", shape: [4], values: [1, .nan, 3, 4] as [Float])], to: url)
        do {
            _ = try loadParameters(from: url, layout: layout)
            Issue.record("loaded non-finite parameters")
        } catch {
            #expect("\(error)".contains("tensor 'a' holds -inf at element 4 (index [1, 1] of shape [2, 3])"), "\(error)")
        }
    }

    @Test func finiteParametersStillLoadExactly() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("theta.safetensors")
        let values: [Float] = [0, -1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, 1e-30, 2, 3, 4, 5]
        try SafeTensors.write(ParameterFiles.tensors(of: Tensor(values), layout: layout), to: url)
        #expect(try loadParameters(from: url, layout: layout).scalars == values)
    }

    @Test func finiteFloatsNamesTheFirstNaNOrInfinity() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let url = dir.file("optimizer.safetensors")
        try SafeTensors.write([(name: "velocity", shape: [2, 2], values: [1, .infinity, .nan, 4] as [Float])], to: url)
        let file = try SafeTensors.read(from: url)
        do {
            _ = try file.finiteFloats(named: "velocity")
            Issue.record("non-finite values were returned")
        } catch let CheckpointError.nonFiniteValue(path, tensor, shape, index, value) {
            #expect(path == url.path && tensor == "velocity" && shape == [2, 2] && index == 1 && value == .infinity)
        }
        // The reader itself returns what the file holds.
        #expect(try file.floats(named: "velocity").map(\.bitPattern) == ([1, .infinity, .nan, 4] as [Float]).map(\.bitPattern))
    }
}

import Foundation
import Testing
import Probes
import Training

/// Issue 24, class 4, item 3: a value that passes the range checks in Float64 but loses its
/// meaning in Float32, where training computes, is refused, naming the key, the value and the precision.
@Suite struct TrainingPrecisionTests {
    @Test func valuesThatRoundToZeroOrOverflowInFloat32AreRefused() throws {
        // Float32's smallest positive value is 2⁻¹⁴⁹ ≈ 1.4e-45 (a value below half of it rounds to 0)
        // and its largest 3.4e38; each value below is a valid Float64 in the key's range.
        let cases: [(String, Double, WritableKeyPath<OptimizerSettings, Double>?, String)] = [
            ("optimizer.learningRate", 1e-50, \.learningRate, "rounds to 0"), ("optimizer.learningRate", 1e39, \.learningRate, "overflows to inf"),
            ("optimizer.momentum", 1e-50, \.momentum, "rounds to 0"),
            ("optimizer.weightDecay", 1e-50, \.weightDecay, "rounds to 0"), ("optimizer.weightDecay", 1e39, \.weightDecay, "overflows to inf"),
            ("optimizer.gradientClipNorm", 1e-300, nil, "rounds to 0"), ("optimizer.gradientClipNorm", 1e39, nil, "overflows to inf"),
        ]
        for (key, value, path, problem) in cases {
            var c = TrainingConfiguration()
            if let path { c.optimizer[keyPath: path] = value } else { c.optimizer.gradientClipNorm = value }
            do { try c.validate(); Issue.record("\(key) = \(value) accepted") } catch let error as ConfigurationError {
                #expect(error.key == key && error.problem.contains("is \(value), which \(problem) in Float32") && error.problem.contains("training computes in"), "\(error)")
            }
        }
        // Their neighbours that Float32 holds are fine: 1e-30 is a normal Float32, 0 is no weight decay.
        var c = TrainingConfiguration()
        c.optimizer.gradientClipNorm = 1e-30
        c.optimizer.weightDecay = 0
        c.optimizer.momentum = 1e-30
        try c.validate()
    }

    @Test func theCommandLineNamesTheOptionValueAndPrecision() throws {
        guard let exe = landscapeExecutable() else { return }
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try runLandscape(exe, ["train", "--gradient-clip-norm", "1e-300", "--data-dir", "/dev/null/none", "--output-dir", out.appendingPathComponent("run").path])
        #expect(!r.signalled && r.status != 0)
        #expect(r.output.contains("'optimizer.gradientClipNorm' is 1e-300, which rounds to 0 in Float32"), "\(r.output)")
    }

    @Test func probeRadiiAreCheckedInTheProbesPrecision() throws {
        #expect(throws: ProbeSettingError.self) { try SharpnessProbe(epsilon: 1e-50, directions: 1, seed: 0, precision: .float32).validate() }
        try SharpnessProbe(epsilon: 1e-50, directions: 1, seed: 0, precision: .float64).validate()
        var k = KeskarProbe()
        k.epsilon = 1e39
        try k.validate()
        k.precision = .float32
        do { try k.validate(); Issue.record("accepted") } catch let error as ProbeSettingError {
            #expect(error.setting == "epsilon" && error.problem.contains("overflows to inf in Float32"), "\(error)")
        }
        var s = ProbeSuiteSettings()
        s.epsilon = 1e-50
        #expect(s.problem == nil && s.problem(in: .float64) == nil)
        #expect(s.problem(in: .float32)?.setting == "epsilon")
    }
}

import Foundation
import Testing
import Datasets
import Probes
@testable import Study
import Training

/// Issue 24, class 4 ("results that vanish or lie") in the study and its report.
@Suite struct StudyResultTests {
    /// Collects the study's log lines.
    final class Log: @unchecked Sendable { var lines: [String] = [] }

    @Test func nonFiniteSliceLossesAreWarnedAboutAsBySlice() throws {
        guard let data = try tinyData() else { return }
        var c = tinyConfiguration()
        c.models = [.mlp]
        c.regimes = ["low-noise"]
        // θ + α·u with |α| ≥ 5e29 (grid −1e30, −5e29, 0, 5e29, 1e30): hidden activations of
        // ~1e29 times weights of ~1e28 overflow Float32, so every point but the centre is not finite.
        c.finalProbes.sliceRange = 1e30
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var runner = try StudyRunner(configuration: c, data: data, directory: dir)
        let log = Log()
        runner.log = { log.lines.append($0) }
        _ = try runner.run()
        let rows = try String(contentsOf: dir.appendingPathComponent("slices/mlp-low-noise-seed0.csv"), encoding: .utf8).split(separator: "\n").dropFirst()
        let losses = rows.map { Double($0.split(separator: ",")[2]) ?? 0 }
        #expect(losses.count == 25 && losses.filter { !$0.isFinite }.count == 24 && losses[12].isFinite, "\(losses)")
        let warning = log.lines.first { $0.contains("warning") }
        #expect(warning?.contains("[mlp-low-noise-seed0] final slice warning: 24 of 25 losses are not finite") == true, "\(log.lines)")
    }
}

extension StudyResultTests {
    @Test func theFinalProbesRadiiAreCheckedInFloat32() throws {
        // The final sharpness check runs in Float32 even when the epoch probes use Float64.
        var c = StudyConfiguration()
        c.epochProbes.sharpnessPrecision = .float64
        c.epochProbes.sharpnessEpsilon = 1e-300
        do { try c.validate(); Issue.record("accepted") } catch let error as ConfigurationError {
            #expect(error.key == "epochProbes.sharpnessEpsilon" && error.problem.contains("is 1e-300, which rounds to 0 in Float32"), "\(error)")
        }
        c = StudyConfiguration()
        c.finalProbes.sliceRange = 1e39
        do { try c.validate(); Issue.record("accepted") } catch let error as ConfigurationError {
            #expect(error.key == "finalProbes.sliceRange" && error.problem.contains("overflows to inf in Float32"), "\(error)")
        }
        // A regime's learning rate goes through the training rule, under its own key.
        c = StudyConfiguration()
        c.regimeSettings["low-noise"]?.learningRate = 1e-50
        do { try c.validate(); Issue.record("accepted") } catch let error as ConfigurationError {
            #expect(error.key == "regimeSettings.low-noise.learningRate" && error.problem.contains("rounds to 0 in Float32"), "\(error)")
        }
    }
}

extension StudyResultTests {
    /// A copy of the cli-study fixture whose study.json records `train` as the text `value`.
    func fixture(train value: String) throws -> URL {
        let dir = temporaryDirectory().appendingPathComponent("cli-study")
        try FileManager.default.createDirectory(at: dir.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: StudyFixtureTests.fixture, to: dir)
        let url = dir.appendingPathComponent("study.json")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains(#""train" : 200"#))
        try text.replacingOccurrences(of: #""train" : 200"#, with: #""train" : "# + value).write(to: url, atomically: true, encoding: .utf8)
        return dir
    }

    @Test func aHugeTrainingSetSizeInStudyJSONIsReportedNotTrapped() throws {
        let dir = try fixture(train: String(Int.max))
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        try StudyReport.generate(in: dir)
        // ⌈(2⁶³ − 1)/64⌉ = 2⁵⁷ and ⌈(2⁶³ − 1)/2048⌉ = 2⁵² steps per epoch, times 2 epochs.
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.md"), encoding: .utf8)
        #expect(summary.contains("high-noise takes only \(1 << 58) SGD steps of batch 64 on \(Int.max) samples"), "\(summary)")
        #expect(summary.contains("low-noise takes only \(1 << 53) SGD steps of batch 2048"), "\(summary)")
    }

    @Test func aTrainingSetSizeThatIsNotACountNamesTheFileAndField() throws {
        for value in ["-5", "1e30", "18446744073709551615", #""many""#] {
            let dir = try fixture(train: value)
            defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
            do { try StudyReport.generate(in: dir); Issue.record("\(value) accepted") } catch let error as StudyError {
                #expect("\(error)".contains("study.json: 'data.train' is") && "\(error)".contains("not a sample count"), "\(error)")
            }
        }
    }
}

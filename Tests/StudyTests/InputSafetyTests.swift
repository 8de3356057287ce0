import Foundation
import Testing
import Checkpoints
import Probes
@testable import Study
import Training

/// Issue 13: study inputs that used to trap or give wrong results.
@Suite struct InputSafetyTests {
    @Test func repeatedOrEmptyCSVColumnNamesAreAnErrorNamingTheFile() throws {
        // Before: Dictionary(uniqueKeysWithValues:) trapped ("Duplicate values for key").
        for (text, reason) in [("train_loss,train_loss,epoch\n1,2,3\n", "'train_loss' twice"), (",,\n1,2,3\n", "empty name"), ("a,,b\n", "column 2")] {
            do {
                _ = try CSVTable.parse(text, path: "runs/x/final.csv")
                Issue.record("accepted \(text)")
            } catch let StudyError.corruptFile(path, r) {
                #expect(path == "runs/x/final.csv")
                #expect(r.contains(reason), "\(r)")
            }
        }
    }

    @Test func aHugeStepScheduleIsRefusedByValidation() throws {
        // Before: epochs × steps per epoch overflowed and trapped once training started.
        var t = TrainingConfiguration()
        t.schedule = try Schedule(parsing: "step:9223372036854775807:0.5")
        do { try t.validate(); Issue.record("accepted") } catch { #expect("\(error)".contains("at most \(TrainingConfiguration.maximumEpochs) epochs"), "\(error)") }
        let c = try StudyConfiguration().setting("schedule=step:9223372036854775807:0.5")
        do { try c.validate(); Issue.record("accepted") } catch { #expect("\(error)".contains("step size must be at most"), "\(error)") }
        // The conversion itself: 3 epochs of 100 steps are 300 steps; the largest step size fits.
        t.schedule = try Schedule(parsing: "step:3:0.5")
        #expect(try t.learningRateSchedule(stepsPerEpoch: 100) == .step(stepSize: 300, gamma: 0.5))
        t.schedule = try Schedule(parsing: "step:\(TrainingConfiguration.maximumEpochs):0.5")
        #expect(try t.learningRateSchedule(stepsPerEpoch: 60_000) == .step(stepSize: 6_000_000_000, gamma: 0.5))
        #expect(throws: ConfigurationError.self) { try t.learningRateSchedule(stepsPerEpoch: Int.max / 2) }
    }

    @Test func studyProbeCapsAreTheSharedLimits() throws {
        let cases: [(WritableKeyPath<StudyConfiguration, Int>, ClosedRange<Int>, String)] = [
            (\.finalProbes.lanczosSteps, ProbeLimits.lanczosSteps, "finalProbes.lanczosSteps"), (\.finalProbes.slqSteps, ProbeLimits.slqSteps, "finalProbes.slqSteps"),
            (\.finalProbes.slqProbes, ProbeLimits.slqProbes, "finalProbes.slqProbes"), (\.epochProbes.traceProbes, ProbeLimits.traceProbes, "epochProbes.traceProbes"),
            (\.epochProbes.sharpnessDirections, ProbeLimits.sharpnessDirections, "epochProbes.sharpnessDirections"),
        ]
        for (key, range, name) in cases {
            var c = StudyConfiguration()
            c[keyPath: key] = range.upperBound
            try c.validate()
            c[keyPath: key] = range.upperBound + 1
            do { try c.validate(); Issue.record("\(name) above its cap was accepted") } catch {
                #expect("\(error)".contains("'\(name)' must be in") && "\(error)".contains("\(range.upperBound)"), "\(error)")
            }
        }
        var c = StudyConfiguration()
        c.training.probes.lambdaIterations = ProbeLimits.powerIterations.upperBound + 1
        do { try c.validate(); Issue.record("accepted") } catch { #expect("\(error)".contains("'training.probes.lambdaIterations' must be in 1...100000"), "\(error)") }
        c = StudyConfiguration()
        c.finalProbes.lanczosCount = 10_000
        #expect(throws: ConfigurationError.self) { try c.validate() }
    }

    /// Batch sharpness is an epoch probe of the study, its K checked by the probe under the study's key.
    @Test func batchSharpnessIsMeasuredEveryEpochWithItsKeyChecked() throws {
        var c = StudyConfiguration()
        let probes = StudyRunner.epochProbes(c.training, c.epochProbes)
        let i = try #require(probes.probes.firstIndex { $0.name == BatchSharpnessProbe.name })
        #expect(probes.every[i] == 1 && probes.columns.contains("batch_sharpness_stderr"))
        for k in [0, 2, 10_000] {
            c.epochProbes.batchSharpnessBatches = k
            try c.validate()
        }
        for k in [1, -1, 10_001] {
            c.epochProbes.batchSharpnessBatches = k
            do { try c.validate(); Issue.record("accepted \(k) batches") } catch {
                #expect("\(error)".contains("'epochProbes.batchSharpnessBatches' must be 0 (automatic) or in 2...10000, got \(k)"), "\(error)")
            }
        }
    }

    @Test func aSliceRangeTooNarrowForItsPointsIsRefused() throws {
        var c = StudyConfiguration()
        c.finalProbes.sliceRange = 5e-322 // about 100 subnormal steps each side: 400 intervals cannot be distinct
        c.finalProbes.slicePoints = 401
        do { try c.validate(); Issue.record("accepted") } catch { #expect("\(error)".contains("too narrow"), "\(error)") }
    }

    @Test func aConfigurationNestedTooDeepIsCalledTooDeep() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("deep-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(("{\"models\":" + String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000) + "}").utf8).write(to: url)
        do { _ = try StudyConfiguration.load(from: url); Issue.record("accepted") } catch {
            #expect("\(error)".contains("too deep") && "\(error)".contains(url.path), "\(error)")
        }
        try Data([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]).write(to: url)
        do { _ = try StudyConfiguration.load(from: url); Issue.record("accepted") } catch {
            #expect("\(error)".contains("not UTF-8"), "\(error)")
        }
    }
}

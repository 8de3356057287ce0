import Foundation
import Testing
import Checkpoints
import Datasets
import Layers
@testable import Study
import Training

/// Issue 19: a study's run that reached its stopping rule is done (``TrainingConfiguration/isFinished(after:)``):
/// the study resumed does not continue it.
@Suite(.serialized) struct StoppingRuleStudyTests {
    @Test func aRunThatReachedItsStoppingRuleIsNotResumed() throws {
        guard let data = try tinyData() else { return }
        var c = tinyConfiguration()
        c.models = [.mlp]
        c.training.epochs = 3
        c.training.stopping = StoppingRule(trainLoss: 1e6)   // every epoch meets it: each run stops after epoch 1 of at most 3
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try StudyRunner(configuration: c, data: data, directory: dir).run()
        let rows = try metricsWithoutTimes(dir)
        #expect(rows.map { $0["epoch"] } == c.regimes.map { _ in "1" }, "\(rows)")
        var lines: [String] = []
        var runner = try StudyRunner(configuration: c, data: data, directory: dir)
        runner.log = { lines.append($0) }
        _ = try runner.run(resume: true)
        #expect(!lines.contains { $0.contains("resuming after epoch") }, "\(lines)")
        #expect(try metricsWithoutTimes(dir) == rows)
        for r in c.runs {
            #expect(try RunRecord.entries(in: dir.appendingPathComponent("runs/\(r.name)")).map(\.epoch) == [1])
        }
    }
}

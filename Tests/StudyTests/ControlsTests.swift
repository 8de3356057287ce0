import Foundation
import Testing
import Datasets
import Layers
@testable import Study
import Training

/// Regimes with their own epochs, warm-up and stopping rule (the
/// `low-noise-matched` control), and the final probes on the whole training split.
@Suite struct RegimeControlTests {
    @Test func aRegimeLaysItsEpochsWarmUpAndStoppingRuleOverTheTrainingSettings() throws {
        var c = StudyConfiguration()
        c.regimeSettings["capped"] = RegimeSettings(batchSize: 512, learningRate: 0.1, epochs: 7, warmupEpochs: 1.5, stopping: StoppingRule(trainAccuracy: 0.95))
        c.regimes = ["high-noise", "capped"]
        try c.validate()
        let t = try c.training(model: .mlp, regime: "capped")
        #expect(t.epochs == 7 && t.optimizer.warmupEpochs == 1.5 && t.stopping == StoppingRule(trainAccuracy: 0.95))
        #expect(t.optimizer.batchSize == 512 && t.optimizer.learningRate == 0.1)
        let h = try c.training(model: .mlp, regime: "high-noise")
        #expect(h.epochs == c.training.epochs && h.optimizer.warmupEpochs == nil && h.stopping == nil)
    }

    @Test func aBadRegimeSettingIsNamedUnderItsRegime() throws {
        let cases: [(RegimeSettings, String)] = [
            (RegimeSettings(epochs: 0), "regimeSettings.r.epochs"),
            (RegimeSettings(epochs: 3, warmupEpochs: 4), "regimeSettings.r.warmupEpochs"),
            (RegimeSettings(stopping: StoppingRule(trainAccuracy: 1.5)), "regimeSettings.r.stopping.trainAccuracy"),
            (RegimeSettings(learningRate: 0.1, learningRates: ["mlp": -1]), "regimeSettings.r.learningRates.mlp"),
        ]
        for (settings, key) in cases {
            var c = StudyConfiguration()
            c.regimeSettings["r"] = settings
            c.regimes = ["r"]
            do { try c.validate(); Issue.record("accepted \(settings)") } catch let error as ConfigurationError {
                #expect(error.key == key, "\(error)")
            }
        }
    }

    /// The control's noise scale η/B stays at least 4× below high-noise's (the issue's condition),
    /// and it trains at batch 2048 to 99 % train accuracy within a cap, as Notes/study.md says.
    @Test func theMatchedControlKeepsItsNoiseScaleFourTimesBelowHighNoise() throws {
        let c = StudyConfiguration()
        #expect(c.regimes == ["high-noise", "low-noise", "low-noise-matched"])
        for m in ModelSpec.presets {
            let high = c.resolvedRegime("high-noise", model: m), matched = c.resolvedRegime("low-noise-matched", model: m)
            #expect(matched.learningRate / Double(matched.batchSize) * 4 <= high.learningRate / Double(high.batchSize), "\(m)")
            #expect(matched.learningRate >= high.learningRate && matched.batchSize == 2048, "\(m)")
            #expect(try c.training(model: m, regime: "low-noise-matched").optimizer.learningRate == matched.learningRate)
        }
        let t = try c.training(model: .cnn, regime: "low-noise-matched")
        #expect(t.stopping?.trainAccuracy == 0.99 && t.epochs > c.training.epochs)
    }
}

@Suite(.serialized) struct WholeSplitProbeTests {
    /// When the probe set is the whole training split, the whole-split λ_max and trace equal the
    /// probe set's (ratios 1: the same operator in other chunks, the same Rademacher vectors); the
    /// second seed is not measured (wholeSplitSeeds 1).
    @Test func onAProbeSetThatIsTheWholeSplitTheRatiosAreOne() throws {
        guard let dir = sharedMNIST() else { Issue.record("MNIST not found at ../shared/data/mnist: this test needs the real data and did not run"); return }
        var c = tinyConfiguration()
        c.models = [.mlp]
        c.regimes = ["high-noise"]
        c.seeds = [0, 1]
        c.training.data.trainLimit = 128
        c.training.probes.probeSamples = 128
        c.finalProbes.lanczosCount = 1
        c.finalProbes.lanczosSteps = 20
        c.finalProbes.wholeSplitSeeds = 1
        let d = c.training.data
        let data = try MNISTDataset(directory: dir, validationCount: d.validation, trainLimit: d.trainLimit, testLimit: d.testLimit)
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        _ = try StudyRunner(configuration: c, data: data, directory: out).run()
        let finals = try CSVTable.read(out.appendingPathComponent("final.csv"))
        let first = try #require(finals.rows.first { $0["seed"] == "0" }), second = try #require(finals.rows.first { $0["seed"] == "1" })
        func v(_ row: [String: String], _ k: String) -> Double { Double(row[k] ?? "") ?? .infinity }
        #expect(first["whole_split_samples"] == "128")
        #expect(abs(v(first, "whole_split_lambda_ratio") - 1) < 5e-3, "\(first)")
        #expect(abs(v(first, "whole_split_trace_ratio") - 1) < 1e-4, "\(first)")
        #expect(v(first, "whole_split_lambda_ratio") == v(first, "whole_split_lambda_max") / v(first, "probe_set_lambda_max"))
        #expect(second["whole_split_lambda_max"] == "" && second["whole_split_trace"] == "", "\(second)")
    }
}

/// A study's CSV rows must each name their run: a damaged seed column or a repeated row is an error
/// naming the file and line, never a row counted for another run (a damaged seed column once mixed seeds).
@Suite struct RunKeyTests {
    func directory(_ files: [String: String]) throws -> URL {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return dir
    }

    func problem(_ files: [String: String], seeds: [UInt64]? = [0, 1]) -> String? {
        var c = StudyConfiguration()
        c.seeds = seeds
        guard let dir = try? directory(files) else { return "cannot write" }
        defer { try? FileManager.default.removeItem(at: dir) }
        do { try StudyReport.checkRunKeys(in: dir, config: c, files: StudyReport.runKeyedFiles); return nil } catch { return "\(error)" }
    }

    @Test func rowsThatCannotNameTheirRunAreRefused() {
        #expect(problem(["final.csv": "model,regime,seed,slq_trace\nmlp,high-noise,0,1\nmlp,high-noise,1,2\n"]) == nil)
        #expect(problem(["final.csv": "model,regime,slq_trace\nmlp,high-noise,1\n"])?.contains("final.csv: has no column 'seed'") == true)
        #expect(problem(["metrics.csv": "model,regime,seed,epoch\nmlp,high-noise,abc,1\n"])?.contains("line 2: seed 'abc' is not a seed") == true)
        #expect(problem(["metrics.csv": "model,regime,seed,epoch\nmlp,high-noise,0,1\nmlp,high-noise,7,1\n"])?.contains("line 3: seed 7 is not one of the study's seeds (0, 1)") == true)
        #expect(problem(["metrics.csv": "model,regime,seed,epoch\nmlp,high-noise,0,1\nmlp,high-noise,0,2\nmlp,high-noise,0,2\n"])?
            .contains("lines 3 and 4 are both run mlp-high-noise-seed0 with epoch 2") == true)
        #expect(problem(["final.csv": "model,regime,seed,x\nmlp,high-noise,1,1\nmlp,high-noise,1,2\n"])?.contains("lines 2 and 3 are both run mlp-high-noise-seed1") == true)
        // The layout before seeds: no seed column needed.
        #expect(problem(["final.csv": "model,regime,x\nmlp,high-noise,1\nmlp,low-noise,2\n"], seeds: nil) == nil)
    }
}

import Foundation
import Layers
import Settings
import Testing
import Study
import Training

/// Every configuration key is declared once with its option (``ConfigurationValue/keys``): the
/// declarations cover the keys of the JSON form exactly, so a key added to a configuration
/// without a declaration (no option, no help, no type in messages) fails here.
@Suite struct StudyKeyTests {
    @Test func everyTrainingKeyIsDeclared() {
        let declared = (TrainingConfiguration.keys + TrainingConfiguration.recordedKeys).map(\.name)
        #expect(Set(declared) == Set(TrainingConfiguration.keyPaths))
        #expect(declared.count == TrainingConfiguration.keyPaths.count)
    }

    /// The study's options are every key but its open objects (set with --set) and its recorded
    /// keys: training's model and seed (set from models and seeds) and initialParameters.
    @Test func everyStudyKeyIsDeclaredButTheOpenObjectsAndTheRunsOwn() {
        #expect(Set(StudyConfiguration.keys.map(\.name)) == Set(StudyConfiguration.keyPaths).subtracting(StudyConfiguration.openObjects)
            .subtracting(["training.model", "training.seed", "training.initialParameters"]))
        #expect(Set(StudyConfiguration.recordedKeys.map(\.name)) == ["training.model", "training.seed", "training.initialParameters"])
        #expect(Set((SweepTaskSettings.keys + SweepTaskSettings.recordedKeys).map(\.name)) == Set(SweepTaskSettings.keyPaths))
    }

    /// Each option names one key: no two keys of a command share an option or an alias.
    @Test func optionNamesAreUnique() {
        for names in [TrainingConfiguration.keys.flatMap { [$0.option] + $0.aliases }, StudyConfiguration.keys.flatMap { [$0.option] + $0.aliases }] {
            #expect(Set(names).count == names.count, "\(names.filter { n in names.filter { $0 == n }.count > 1 })")
        }
    }

    /// `--print-config` (``ConfigurationValue/jsonData()``) is the JSON of the key table: every
    /// declared key with its value at the configuration as its `Codable` form writes it, unset
    /// optionals as null, a group whose keys are all null (an optional group that is nil) as null,
    /// and each open object's entries the same way from their own keys.
    @Test func printedConfigurationIsTheKeyTable() throws {
        func json(_ value: any SettingValue) throws -> Any {
            func encoded<T: Encodable>(_ v: T) throws -> Any { (try JSONSerialization.jsonObject(with: JSONEncoder().encode([v])) as! [Any])[0] }
            return try encoded(value)
        }
        func table<Root>(_ keys: [SettingKey<Root>], at root: Root) throws -> [String: Any] {
            var out: [String: Any] = [:]
            func put(_ v: Any, _ path: ArraySlice<String>, _ tree: inout [String: Any]) {
                guard path.count > 1 else { tree[path.first!] = v; return }
                var child = tree[path.first!] as? [String: Any] ?? [:]
                put(v, path.dropFirst(), &child)
                tree[path.first!] = child
            }
            for k in keys { put(try json(k.value(root)), ArraySlice(k.name.split(separator: ".").map(String.init)), &out) }
            func collapse(_ v: Any) -> Any {
                guard let o = v as? [String: Any] else { return v }
                let inner = o.mapValues(collapse)
                return inner.values.allSatisfy { $0 is NSNull } ? NSNull() : inner
            }
            return out.mapValues(collapse)
        }
        func same(_ a: Any, _ b: Any) throws -> Bool {
            try JSONSerialization.data(withJSONObject: a, options: .sortedKeys) == JSONSerialization.data(withJSONObject: b, options: .sortedKeys)
        }
        func printed<C: ConfigurationValue>(_ c: C) throws -> [String: Any] { try JSONSerialization.jsonObject(with: c.jsonData()) as! [String: Any] }
        var run = TrainingConfiguration()
        run.stopping = StoppingRule(trainAccuracy: 0.9)
        run.data.trainLimit = 100
        for c in [TrainingConfiguration(), run] {
            #expect(try same(printed(c), table(TrainingConfiguration.keys + TrainingConfiguration.recordedKeys, at: c)))
        }
        #expect(try same(printed(SweepTaskSettings()), table(SweepTaskSettings.keys + SweepTaskSettings.recordedKeys, at: SweepTaskSettings())))
        // The protocol's low-noise-matched regime sets a stopping rule and a rate per model.
        #expect(StudyConfiguration().regimeSettings.values.contains { $0.stopping != nil && $0.learningRates != nil })
        let stoppingKeys = TrainingConfiguration.keys.filter { $0.name.hasPrefix("stopping.") }
        for c in [StudyConfiguration(), StudyConfiguration.savedBase, StudyConfiguration.Preset.quick.configuration] {
            var expected = try table(StudyConfiguration.keys + StudyConfiguration.recordedKeys, at: c)
            expected["regimeSettings"] = try c.regimeSettings.mapValues { r -> Any in
                var t = TrainingConfiguration()
                t.stopping = r.stopping
                return try table(RegimeSettings.keys, at: r).merging(table(stoppingKeys, at: t)) { a, _ in a }
            }
            expected["probeBatchSize"] = Dictionary(uniqueKeysWithValues: c.probeBatchSize.map { ($0.key, $0.value) })
            expected["microBatchSize"] = Dictionary(uniqueKeysWithValues: c.microBatchSize.map { ($0.key, $0.value) })
            let text = String(decoding: try c.jsonData(), as: UTF8.self)
            #expect(try same(printed(c), expected), "\(text)")
        }
    }

    /// The per-model maps are keyed by a model's name, so a key must name a model of the study or
    /// a preset (the defaults keep the CNN's entries in a study of the MLP alone); a typo is
    /// refused, naming the key and listing the names, rather than never applying.
    @Test func aPerModelKeyNamingNoModelIsRefused() throws {
        var mlpOnly = StudyConfiguration()
        mlpOnly.models = [.mlp]
        try mlpOnly.validate()
        var custom = StudyConfiguration()
        custom.models = [.mlp, try ModelSpec(parsing: "mlp:784-32-10")]
        custom.microBatchSize = ["mlp-784-32-10": 16, "cnn": 32]
        custom.regimeSettings["low-noise"]?.learningRates = ["mlp-784-32-10": 0.02]
        try custom.validate()
        var typo = StudyConfiguration()
        typo.microBatchSize = ["cnnn": 256]
        var error = try #require(throws: ConfigurationError.self) { try typo.validate() }
        #expect(error.key == "microBatchSize.cnnn" && error.problem.contains("'cnnn'") && error.problem.contains("mlp, cnn"), "\(error)")
        typo = StudyConfiguration()
        typo.probeBatchSize["MLP"] = 128
        error = try #require(throws: ConfigurationError.self) { try typo.validate() }
        #expect(error.key == "probeBatchSize.MLP", "\(error)")
        // In any regime's settings, listed in regimes or not.
        typo = custom
        typo.regimes = ["high-noise"]
        typo.regimeSettings["low-noise"]?.learningRates = ["mlp-784-32-1": 0.02]
        error = try #require(throws: ConfigurationError.self) { try typo.validate() }
        #expect(error.key == "regimeSettings.low-noise.learningRates.mlp-784-32-1" && error.problem.contains("mlp, mlp-784-32-10, cnn"), "\(error)")
    }
}

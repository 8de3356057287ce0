import Testing
import Study
import Training

/// Every configuration key is declared once with its option (``ConfigurationValue/keys``): the
/// declarations cover the keys of the JSON form exactly, so a key added to a configuration
/// without a declaration (no option, no help, no type in messages) fails here.
@Suite struct StudyKeyTests {
    /// Every key but `initialParameters`, which `train --from-checkpoint FILE` sets (with the
    /// file's SHA-256, read from the file: not a value a user types).
    @Test func everyTrainingKeyIsDeclared() {
        let keyPaths = Set(TrainingConfiguration.keyPaths).subtracting(["initialParameters"])
        #expect(Set(TrainingConfiguration.keys.map(\.name)) == keyPaths)
        #expect(TrainingConfiguration.keys.count == keyPaths.count)
    }

    /// The study declares every key but its open objects (set with --set) and training's model
    /// and seed (set from models and seeds).
    @Test func everyStudyKeyIsDeclaredButTheOpenObjectsAndTheRunsOwn() {
        let undeclared = StudyConfiguration.openObjects.union(["training.model", "training.seed", "training.initialParameters"])
        #expect(Set(StudyConfiguration.keys.map(\.name)) == Set(StudyConfiguration.keyPaths).subtracting(undeclared))
        #expect(Set(SweepTaskSettings.keys.map(\.name)) == Set(SweepTaskSettings.keyPaths).subtracting(["training.initialParameters"]))
    }

    /// Each option names one key: no two keys of a command share an option or an alias.
    @Test func optionNamesAreUnique() {
        for names in [TrainingConfiguration.keys.flatMap { [$0.option] + $0.aliases }, StudyConfiguration.keys.flatMap { [$0.option] + $0.aliases }] {
            #expect(Set(names).count == names.count, "\(names.filter { n in names.filter { $0 == n }.count > 1 })")
        }
    }
}

import Testing
import Study
import Training

/// Every configuration key is declared once with its option (``ConfigurationValue/keys``): the
/// declarations cover the keys of the JSON form exactly, so a key added to a configuration
/// without a declaration (no option, no help, no type in messages) fails here.
@Suite struct StudyKeyTests {
    @Test func everyTrainingKeyIsDeclared() {
        #expect(Set(TrainingConfiguration.keys.map(\.name)) == Set(TrainingConfiguration.keyPaths))
        #expect(TrainingConfiguration.keys.count == TrainingConfiguration.keyPaths.count)
    }

    /// The study declares every key but its open objects (set with --set) and training's model
    /// and seed (set from models and seeds).
    @Test func everyStudyKeyIsDeclaredButTheOpenObjectsAndTheRunsOwn() {
        let undeclared = StudyConfiguration.openObjects.union(["training.model", "training.seed"])
        #expect(Set(StudyConfiguration.keys.map(\.name)) == Set(StudyConfiguration.keyPaths).subtracting(undeclared))
        #expect(Set(SweepTaskSettings.keys.map(\.name)) == Set(SweepTaskSettings.keyPaths))
    }

    /// Each option names one key: no two keys of a command share an option or an alias.
    @Test func optionNamesAreUnique() {
        for names in [TrainingConfiguration.keys.flatMap { [$0.option] + $0.aliases }, StudyConfiguration.keys.flatMap { [$0.option] + $0.aliases }] {
            #expect(Set(names).count == names.count, "\(names.filter { n in names.filter { $0 == n }.count > 1 })")
        }
    }
}

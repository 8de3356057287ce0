import Foundation
import Testing
import Layers
import Optimizers
import Training

/// The training configuration's file format, overlays and schedule text.
@Suite struct ConfigurationTests {
    @Test("a schedule's text reads in epochs", arguments: [
        ("constant", Schedule.constant), ("cosine", .cosine), ("Cosine", .cosine),
        ("step:100:0.5", .step(everyEpochs: 100, gamma: 0.5)), ("step:1:0.1", .step(everyEpochs: 1, gamma: 0.1)),
    ])
    func scheduleTextReads(text: String, expected: Schedule) throws {
        #expect(try Schedule(parsing: text) == expected)
    }

    @Test("malformed schedule text is refused, naming it", arguments: [
        "linear", "step:0:0.5", "step:10", "step:a:b", "", "step:-5:0.5", "step:10:0", "step:10:-0.5",
        "step:10:nan", "step:10:inf", "constant:1", "cosine:100", "step:10:0.5:1",
    ])
    func scheduleTextIsRefused(text: String) {
        do { _ = try Schedule(parsing: text); Issue.record("'\(text)' accepted") } catch let error as ConfigurationError {
            #expect(error.key == "schedule" && error.problem.contains("'\(text)'"), "\(error)")
        } catch {
            Issue.record("'\(text)': \(error)")
        }
    }

    @Test func theScheduleBecomesStepsOnce() throws {
        var c = TrainingConfiguration()
        c.schedule = .step(everyEpochs: 3, gamma: 0.5)
        #expect(try c.learningRateSchedule(stepsPerEpoch: 100) == .step(stepSize: 300, gamma: 0.5))
        c.schedule = .cosine
        #expect(try c.learningRateSchedule(stepsPerEpoch: 100) == .cosine)
        // The text form round-trips through a file.
        c.schedule = .step(everyEpochs: 2, gamma: 0.25)
        #expect(try TrainingConfiguration.decode(json: c.jsonData(), source: "file") == c)
    }

    @Test func everyKeyIsAPathAndItsLastNameIsUnique() throws {
        let paths = TrainingConfiguration.keyPaths
        #expect(paths.contains("optimizer.learningRate") && paths.contains("probes.probeSamples") && paths.contains("data.trainLimit"))
        let names = paths.map { $0.split(separator: ".").last.map(String.init)! }
        #expect(Set(names).count == names.count, "\(names)")
        for (path, name) in zip(paths, names) { #expect(try TrainingConfiguration.path(of: name) == path.split(separator: ".").map(String.init)) }
        #expect(try TrainingConfiguration.path(of: "lambdaSamples") == ["probes", "probeSamples"])
    }

    @Test func overlaysSetOneKeyAndCheckItsType() throws {
        let c = try TrainingConfiguration().setting("learningRate=0.2").setting("nesterov=true").setting("model=cnn").setting("trainLimit=100")
        #expect(c.optimizer.learningRate == 0.2 && c.optimizer.nesterov && c.model == .cnn && c.data.trainLimit == 100)
        #expect(try c.setting("trainLimit=null").data.trainLimit == nil)
        #expect(c.differingKeys(from: TrainingConfiguration()) == ["data.trainLimit", "model", "optimizer.learningRate", "optimizer.nesterov"])
        func message(_ body: () throws -> Void) -> String { do { try body(); return "" } catch { return "\(error)" } }
        #expect(message { _ = try c.setting("nesterov=3") } == "--set nesterov=3: 'optimizer.nesterov' must be true or false")
        let vgg = message { _ = try c.setting("model=vgg") }
        #expect(vgg.hasPrefix("--set model=vgg: 'model' has an invalid value ('vgg'): ") && vgg.contains(ModelSpec.compactFormHelp), "\(vgg)")
        #expect(message { _ = try c.setting("dataset=cifar") }.contains("expected one of mnist, fashion-mnist"))
        #expect(message { _ = try c.setting("trainLimit=x") } == "--set trainLimit=x: 'data.trainLimit' must be an integer or null")
        #expect(message { _ = try c.setting("seed=-1") } == "--set seed=-1: 'seed' has an invalid value (-1); expected a non-negative integer")
        let group = message { _ = try c.setting("optimizer=3") }
        #expect(group.hasPrefix("--set optimizer=3: 'optimizer' must be an object of the group's keys (") && group.contains("batchSize, ") && group.contains("learningRate"), "\(group)")
    }

    @Test func textThatIsNotJSONIsReportedWithTheParsersWords() throws {
        func message(_ text: String) -> String {
            do { _ = try TrainingConfiguration.decode(json: Data(text.utf8), source: "f.json"); return "" } catch { return "\(error)" }
        }
        for text in ["not json", #"{"seed": NaN}"#, #"{"seed": 1e400}"#] {
            #expect(message(text).hasPrefix("f.json: is not valid JSON: "), "\(message(text))")
        }
        #expect(message("not json").contains("character 1"))
        #expect(message(#"{"seed": 1e400}"#).contains("1e400"))
        #expect(message("  ").hasPrefix("f.json: is empty"))
        #expect(message("[1]") == "f.json: must hold a JSON object ({…}) of configuration keys")
    }

    @Test func validationNamesTheKeyOnce() throws {
        var c = TrainingConfiguration()
        c.probes.lambdaTolerance = 0
        #expect(throws: ConfigurationError(key: "probes.lambdaTolerance", "must be positive and finite, got 0.0")) { try c.validate() }
        c = TrainingConfiguration()
        c.data.validation = 60_000
        #expect(throws: ConfigurationError(key: "data.validation", "must be in 0..<60000 (the rest is the training split), got 60000")) { try c.validate() }
        // A file's problem names the file.
        do { _ = try TrainingConfiguration.decode(json: Data(#"{"optimizer": {"momentum": 1.5}}"#.utf8), source: "f.json"); Issue.record("accepted") } catch {
            #expect("\(error)" == "f.json: 'optimizer.momentum' must be in [0, 1) (also after rounding to Float32), got 1.5")
        }
    }
}

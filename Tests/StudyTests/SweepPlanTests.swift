import Foundation
import Testing
import Checkpoints
import Datasets
@testable import Study
import Training

/// A sweep file's JSON from a Swift value.
func sweepJSON(_ object: [String: Any]) -> Data {
    try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
}

/// The tasks of a sweep given as a JSON object.
func sweepTasks(_ object: [String: Any], source: String = "sweep.json") throws -> [SweepTask] {
    try SweepSpecification.decode(json: sweepJSON(object), source: source).tasks()
}

/// The message of the error `body` throws ("" and a recorded issue when it throws none).
func errorText(_ body: () throws -> Void) -> String {
    do { try body() } catch { return "\(error)" }
    Issue.record("no error thrown")
    return ""
}

@Suite struct SweepPlanTests {
    static var base: [String: Any] { ["training": ["epochs": 2, "data": ["trainLimit": 300, "dataDirectory": "/data/a"]]] }

    @Test func theGridIsTheProductOfTheAxesInCanonicalOrderThenThePoints() throws {
        var sweep = Self.base
        sweep["axes"] = ["seed": [2, 0], "batchSize": [64, 128, 32]]
        sweep["points"] = [["batchSize": 100, "learningRate": 0.1, "seed": 7]]
        let tasks = try sweepTasks(sweep)
        #expect(tasks.count == 3 * 2 + 1)
        // Axes sorted by key (training.optimizer.batchSize < training.seed), the last varying fastest, values as given.
        let grid = tasks.prefix(6).map { [$0.settings.training.optimizer.batchSize, Int($0.settings.training.seed)] }
        #expect(grid == [[64, 2], [64, 0], [128, 2], [128, 0], [32, 2], [32, 0]])
        #expect(tasks.map(\.index) == Array(0..<7))
        let p = tasks[6].settings.training
        #expect(p.optimizer.batchSize == 100 && p.optimizer.learningRate == 0.1 && p.seed == 7)
        #expect(Set(tasks[6].point.keys) == ["training.optimizer.batchSize", "training.optimizer.learningRate", "training.seed"])
        for t in tasks {
            try t.settings.validate()
            // The base's keys hold in every task; an axis sets only its own key.
            #expect(t.settings.training.epochs == 2 && t.settings.training.data.trainLimit == 300)
            #expect(t.settings.epochProbes == EpochProbeSettings())
        }
        #expect(Set(tasks.map(\.id)).count == 7)
    }

    @Test func anIdIsTheSHA256OfTheSortedSettingsWithoutTheDataDirectory() throws {
        let task = try sweepTasks(Self.base.merging(["points": [["seed": 3]]]) { $1 })[0]
        var s = task.settings
        s.training.data.dataDirectory = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let digest = SHA256.hexDigest(of: [UInt8](try encoder.encode(s)))
        #expect(task.id == String(digest.prefix(12)))
        #expect(task.id.count == 12 && task.id.allSatisfy(\.isHexDigit))
    }

    @Test func idsAreStableUnderReorderingExtendingAndMovingTheData() throws {
        let a = try sweepTasks(Self.base.merging(["axes": ["learningRate": [0.05, 0.1], "seed": [0, 1]]]) { $1 })
        // The axes named in another order and form, a value added to each, the data elsewhere.
        let text = """
        {"axes": {"training.seed": [1, 0, 2], "training.optimizer.learningRate": [0.025, 0.1, 0.05]},
         "training": {"data": {"dataDirectory": "/elsewhere/mnist", "trainLimit": 300}, "epochs": 2}}
        """
        let b = try SweepSpecification.decode(json: Data(text.utf8), source: "b.json").tasks()
        #expect(b.count == 9)
        let byPoint = Dictionary(uniqueKeysWithValues: b.map { ("\($0.settings.training.optimizer.learningRate) \($0.settings.training.seed)", $0.id) })
        for t in a {
            #expect(byPoint["\(t.settings.training.optimizer.learningRate) \(t.settings.training.seed)"] == t.id, "\(t.pointDescription)")
        }
        // The same sweep again: the same ids in the same lines.
        #expect(try sweepTasks(Self.base.merging(["axes": ["seed": [0, 1], "learningRate": [0.05, 0.1]]]) { $1 }).map(\.id) == a.map(\.id))
        #expect(b[0].settings.training.data.dataDirectory == "/elsewhere/mnist")
    }

    @Test func badAxesAndPointsAreErrorsNamingThem() throws {
        func plan(_ extra: [String: Any]) -> String { errorText { _ = try sweepTasks(Self.base.merging(extra) { $1 }) } }
        let unknown = plan(["axes": ["batchSizes": [1, 2]]])
        #expect(unknown.contains("'batchSizes'") && unknown.contains("is not a configuration key"), "\(unknown)")
        let value = plan(["axes": ["batchSize": [64, 0]]])
        #expect(value.contains("axes.batchSize[1] = 0") && value.contains("'training.optimizer.batchSize' must be in 1..."), "\(value)")
        let type = plan(["axes": ["learningRate": [0.1, "fast"]]])
        #expect(type.contains("axes.learningRate[1] = \"fast\"") && type.contains("training.optimizer.learningRate"), "\(type)")
        let probe = plan(["axes": ["traceProbes": [1]]])
        #expect(probe.contains("'epochProbes.traceProbes'"), "\(probe)")
        #expect(plan(["axes": ["seed": 3]]).contains("'axes.seed' must be a list of values, got 3"))
        #expect(plan(["axes": ["seed": []]]).contains("'axes.seed' is an empty list"))
        #expect(plan(["axes": ["seed": [1], "training.seed": [2]]]).contains("give each axis once"))
        #expect(plan(["axes": [:]]).contains("has no tasks"))
        #expect(plan([:]).contains("has no tasks"))
        #expect(plan(["grid": [:]]).contains("'grid' is not a key of a sweep file"))
        let point = plan(["points": [["seed": 1], ["momentum": 1.5]]])
        #expect(point.contains("points[1] {training.optimizer.momentum=1.5}") && point.contains("must be in [0, 1)"), "\(point)")
        // Values valid alone but not together: the task names its point.
        let together = plan(["axes": ["epochs": [1, 4], "warmupEpochs": [2]]])
        #expect(together.contains("axes point {training.epochs=1, training.optimizer.warmupEpochs=2}") && together.contains("warmupEpochs"), "\(together)")
        let bad = plan(["training": ["epochs": 0], "points": [[:]]])
        #expect(bad.contains("'training.epochs' must be in 1..."), "\(bad)")
    }

    @Test func pointsThatResolveToTheSameSettingsAreRejected() throws {
        // A point equal to a grid point (the base's epochs written out), and a repeated axis value.
        let twice = errorText { _ = try sweepTasks(Self.base.merging(["axes": ["seed": [0, 1]], "points": [["seed": 1, "epochs": 2]]]) { $1 }) }
        #expect(twice.contains("points[0] {training.epochs=2, training.seed=1} gives the same settings as axes point {training.seed=1}"), "\(twice)")
        let repeated = errorText { _ = try sweepTasks(Self.base.merging(["axes": ["seed": [0, 1, 0]]]) { $1 }) }
        #expect(repeated.contains("axes point {training.seed=0} gives the same settings as axes point {training.seed=0}"), "\(repeated)")
        // Explicit points alone are a sweep.
        let points = try sweepTasks(Self.base.merging(["points": [["seed": 5], ["seed": 6, "model": "cnn"]]]) { $1 })
        #expect(points.map { $0.settings.training.seed } == [5, 6] && points[1].settings.training.model == .cnn)
    }

    @Test func theManifestReadsBackWithItsTasksAndLineNumbersInErrors() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = try SweepSpecification.decode(json: sweepJSON(Self.base.merging(["axes": ["learningRate": [0.05, 0.1]], "points": [["seed": 4]]]) { $1 }), source: "s.json")
        let tasks = try spec.tasks()
        try SweepManifest.write(tasks, specification: spec, to: dir)
        let url = dir.appendingPathComponent(SweepManifest.fileName)
        let back = try SweepManifest.read(url)
        #expect(back.map(\.id) == tasks.map(\.id) && back.map(\.index) == [0, 1, 2])
        #expect(back.map(\.settings) == tasks.map(\.settings))
        #expect(back[2].point["training.seed"] as? Int == 4)
        #expect(back[0].directory(in: dir) == dir.appendingPathComponent(tasks[0].id))
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(SweepManifest.sweepFileName))) as? [String: Any]
        #expect((record?["resolvedAxes"] as? [[String: Any]])?.first?["key"] as? String == "training.optimizer.learningRate")

        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        func readError(_ replaced: [String]) throws -> String {
            try (replaced.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
            return errorText { _ = try SweepManifest.read(url) }
        }
        let notJSON = try readError([lines[0], "{not json", lines[2]])
        #expect(notJSON.contains("\(url.path) line 2: is not valid JSON: ") && notJSON.contains("character"), "\(notJSON)")
        #expect(try readError([lines[0], "[1]"]).contains("\(url.path) line 2: is not a JSON object"))
        let edited = try readError([lines[0], lines[1], lines[2].replacingOccurrences(of: "\"seed\":4", with: "\"seed\":5")])
        #expect(edited.contains("line 3: 'id'") && edited.contains("settings were edited"), "\(edited)")
        let invalid = try readError([lines[0], lines[1].replacingOccurrences(of: "\"epochs\":2", with: "\"epochs\":-1")])
        #expect(invalid.contains("line 2: 'training.epochs' must be in 1..."), "\(invalid)")
        #expect(try readError([lines[0], lines[0]]).contains("line 2: 'id'"))
        #expect(try readError([lines[0], "", lines[1]]).contains("line 2: is empty"))
        #expect(try readError([]).contains("holds no tasks"))
        let study = lines[0].replacingOccurrences(of: "{\"id\"", with: "{\"study\":{\"run\":\"mlp-high-noise-seed0\"},\"id\"")
        try (study + "\n").write(to: url, atomically: true, encoding: .utf8)
        let run = try SweepManifest.read(url)[0]
        #expect(run.studyRun == "mlp-high-noise-seed0" && run.directory(in: dir) == dir.appendingPathComponent("runs/mlp-high-noise-seed0"))
        #expect(try readError([lines[0].replacingOccurrences(of: "{\"id\"", with: "{\"study\":{\"run\":\"../x\"},\"id\"")]).contains("'study.run' must be a run name"))
    }

    @Test func aSweepOfMoreThanTheLimitIsRefusedBeforeItsTasksAreBuilt() throws {
        #expect(SweepSpecification.taskCount(axes: [SweepAxis(key: "a", values: [1, 2]), SweepAxis(key: "b", values: [1, 2, 3])], points: 4) == 2 * 3 + 4)
        #expect(SweepSpecification.taskCount(axes: [], points: 5) == 5)
        // 10⁹ tasks: refused at once (expanding them took 5 GB before).
        let huge = Self.base.merging(["axes": ["seed": Array(0..<1000), "learningRate": (1...1000).map { Double($0) / 1000 }, "batchSize": Array(1...1000)]]) { $1 }
        let refused = errorText { _ = try SweepSpecification.decode(json: sweepJSON(huge), source: "s.json") }
        #expect(refused == "s.json: has 1000000000 tasks (axes 1000 × 1000 × 1000, plus 0 points); a sweep may have at most 100000: split it into several sweeps", "\(refused)")
        // 100¹⁰ = 10²⁰ overflows Int (< 9.3·10¹⁸): still refused, not wrapped around.
        let keys = SweepTaskSettings.keyPaths.prefix(10)
        let overflow = errorText { _ = try SweepSpecification.decode(json: sweepJSON(["axes": Dictionary(uniqueKeysWithValues: keys.map { ($0, Array(0..<100)) })]), source: "s.json") }
        #expect(overflow.contains("has more than \(Int.max) tasks"), "\(overflow)")
        // Exactly the limit is a sweep; one point more is not, in the file or added later.
        var limit = Self.base
        limit["axes"] = ["seed": Array(0..<400), "epochs": Array(1...250)]
        var spec = try SweepSpecification.decode(json: sweepJSON(limit), source: "s.json")
        #expect(SweepSpecification.taskCount(axes: spec.axes, points: spec.points.count) == SweepSpecification.maximumTasks)
        limit["points"] = [["seed": 1000]]
        #expect(errorText { _ = try SweepSpecification.decode(json: sweepJSON(limit), source: "s.json") }.contains("has 100001 tasks (axes 250 × 400, plus 1 points)"))
        spec.points.append(["training.seed": 1000])
        #expect(errorText { _ = try spec.tasks() }.contains("has 100001 tasks"))
    }

    @Test func anAxisVariesOneKeyNotAGroup() throws {
        func plan(_ extra: [String: Any]) -> String { errorText { _ = try sweepTasks(Self.base.merging(extra) { $1 }) } }
        let probes = plan(["axes": ["epochProbes": [1]]])
        #expect(probes.contains("'axes.epochProbes' is a group of keys (epochProbes.") && probes.contains("epochProbes.traceProbes"), "\(probes)")
        let optimizer = plan(["axes": ["training.optimizer": [["batchSize": 64], ["batchSize": 128]]]])
        #expect(optimizer.contains("'axes.training.optimizer' is a group of keys (") && optimizer.contains("training.optimizer.batchSize"), "\(optimizer)")
        // The seed is unsigned.
        let seed = plan(["axes": ["seed": [-1]]])
        #expect(seed.contains("'training.seed' has an invalid value (-1); expected a non-negative integer"), "\(seed)")
    }

    @Test func aSweepFileThatIsNotJSONSaysSoWithThePosition() throws {
        func decode(_ text: String) -> String { errorText { _ = try SweepSpecification.decode(json: Data(text.utf8), source: "s.json") } }
        for text in ["not json", #"{"axes": {"seed": [NaN]}}"#] {
            let message = decode(text)
            #expect(message.hasPrefix("s.json: is not valid JSON: ") && message.contains("character"), "\(message)")
        }
        let empty = decode("")
        #expect(empty.hasPrefix("s.json: is not valid JSON: "), "\(empty)")
        let large = decode(#"{"training": {"epochs": 1e400}}"#)
        #expect(large.hasPrefix("s.json: is not valid JSON: ") && large.contains("1e400"), "\(large)")
        #expect(decode("[1]").contains("s.json: must hold a JSON object with the keys training"))
    }

    @Test func aManifestPointMustHoldTheSettingsValuesAndTrailingBlankLinesAreIgnored() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tasks = try sweepTasks(Self.base.merging(["axes": ["seed": [0, 1]], "points": [["seed": 4, "schedule": "constant"]]]) { $1 })
        try SweepManifest.write(tasks, specification: nil, to: dir)
        let url = dir.appendingPathComponent(SweepManifest.fileName)
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        func read(_ text: String) throws -> [SweepTask] {
            try text.write(to: url, atomically: true, encoding: .utf8)
            return try SweepManifest.read(url)
        }
        // A point edited by hand (seed 0 → 7) would label a seed-0 run as seed 7.
        #expect(lines[0].contains(#""point":{"training.seed":0}"#), "\(lines[0])")
        let edited = errorText { _ = try read([lines[0].replacingOccurrences(of: #""point":{"training.seed":0}"#, with: #""point":{"training.seed":7}"#), lines[1]].joined(separator: "\n") + "\n") }
        #expect(edited == "\(url.path) line 1: 'point.training.seed' is 7, but the line's settings hold 0 there: the point was edited after planning; plan the sweep again", "\(edited)")
        // Another spelling of the same value is the same task.
        let spelled = lines[2].replacingOccurrences(of: #""training.schedule":"constant""#, with: #""training.schedule":"CONSTANT""#)
        #expect(spelled != lines[2])
        #expect(try read([lines[0], lines[1], spelled].joined(separator: "\n") + "\n").map(\.id) == tasks.map(\.id))
        // Blank lines an editor adds at the end are not tasks; one between tasks still is an error.
        #expect(try read(lines.joined(separator: "\n") + "\n\n\n  \n").map(\.id) == tasks.map(\.id))
        #expect(errorText { _ = try read([lines[0], "", lines[1], lines[2], ""].joined(separator: "\n") + "\n") }.contains("line 2: is empty"))
    }

    @Test func aTaskIsMissingUntilItHasARunAndDivergedWithItsFailure() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let task = try sweepTasks(Self.base.merging(["points": [["seed": 1]]]) { $1 })[0]
        #expect(try task.status(in: dir) == .missing)
        let runDir = task.directory(in: dir)
        try FileManager.default.createDirectory(at: runDir, withIntermediateDirectories: true)
        #expect(try task.status(in: dir) == .missing)
        try "training stopped: non-finite loss\n".write(to: runDir.appendingPathComponent(StudyRunner.failureFileName), atomically: true, encoding: .utf8)
        #expect(try task.status(in: dir) == .diverged(reason: "training stopped: non-finite loss"))
        // Re-planning without the task would leave its directory out of the manifest.
        #expect(SweepManifest.tasksLeftOut(of: [task], by: [], in: dir).map(\.id) == [task.id])
        #expect(SweepManifest.tasksLeftOut(of: [task], by: [task], in: dir).isEmpty)
    }
}

@Suite struct SweepIdPinTests {
    /// Compatibility promise: these ids were computed by the code of 2026 (commit e09f2ff) and must
    /// never change, or every existing manifest and task directory would stop matching its
    /// settings. A new key of TrainingConfiguration or EpochProbeSettings must be Optional with a
    /// nil default (omitted from the JSON), and the encoder's output must stay the same.
    @Test func theIdsOfTwoFixedSettingsArePinned() throws {
        var a = SweepTaskSettings()
        a.training.data.dataDirectory = "/anywhere"
        var b = SweepTaskSettings()
        b.training.optimizer.batchSize = 128
        b.training.optimizer.learningRate = 0.1
        b.training.seed = 3
        b.training.epochs = 2
        b.epochProbes.sharpnessDirections = 2
        b.epochProbes.traceProbes = 2
        #expect(a.id == "f09594007f27", "\(a.id)")
        #expect(b.id == "a38aada9f612", "\(b.id)")
    }

    @Test func theStatusNamesAreTheCasesNames() {
        let all: [SweepTaskStatus] = [.finished(epochs: 1), .diverged(reason: "x"), .partial(epochs: 0), .missing]
        #expect(all.map(\.name) == SweepTaskStatus.names)
        #expect(!SweepTaskStatus.names.contains(SweepTaskStatus.unreadableName))
    }

    @Test func theLocalRunSuggestedAndItsThreadsFollowTheCores() {
        // Two threads per task, at most one job per task, at least one job.
        #expect(SweepManifest.suggestedLocalJobs(tasks: 3, cores: 8) == 3)
        #expect(SweepManifest.suggestedLocalJobs(tasks: 100, cores: 64) == 32)
        #expect(SweepManifest.suggestedLocalJobs(tasks: 5, cores: 1) == 1)
        #expect(SweepManifest.submitLines(manifest: URL(fileURLWithPath: "/s/manifest.jsonl"), tasks: 10, cores: 8).last
                == "run here:      landscape sweep run /s/manifest.jsonl --local --jobs 4")
        #expect(SweepManifest.defaultLocalThreads(jobs: 3, cores: 8) == 2)
        #expect(SweepManifest.defaultLocalThreads(jobs: 4, cores: 2) == 1)
    }

    /// README.md's exit-status table of `landscape sweep run` says what ``SweepExitCode`` says.
    @Test func theReadmesExitCodeTableIsTheCodes() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let lines = try String(contentsOf: readme, encoding: .utf8).split(separator: "\n").map(String.init)
        for code in SweepExitCode.allCases {
            let row = lines.filter { $0.hasPrefix("| \(code.rawValue) | ") }
            #expect(row == ["| \(code.rawValue) | \(code.meaning) |"], "README row of \(code.rawValue): \(row)")
        }
    }

    @Test func errorsMapToTheirExitCodes() {
        #expect(SweepExitCode(for: ConfigurationError(key: "epochs", "bad")) == .configuration)
        #expect(SweepExitCode(for: TrainingError.invalidRun("other configuration")) == .configuration)
        #expect(SweepExitCode(for: TrainingError.runDirectoryLocked(path: "/r")) == .interrupted)
        #expect(SweepExitCode(for: TrainingError.interrupted(epoch: 2, step: 0, lastCheckpoint: nil)) == .interrupted)
        #expect(SweepExitCode(for: StudyError.interrupted(configuration: "a", epoch: 1)) == .interrupted)
        #expect(SweepExitCode(for: TrainingError.runDirectory(path: "/r", reason: "cannot take its lock")) == .failure)
        #expect(SweepExitCode(for: StudyError.corruptFile(path: "/r", reason: "x")) == .failure)
        #expect(SweepExitCode(for: CancellationError()) == .failure)
    }
}

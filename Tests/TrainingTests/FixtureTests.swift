import Foundation
import Testing
import Autodiff
import Checkpoints
import Datasets
import Layers
import Probes
import Tensors
import Training

/// The run directories in Tests/Fixtures, written by the code before the configuration type and
/// the run store (Tests/Fixtures/README.md): they must still resume, or say why not.
@Suite struct FixtureTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A copy of a fixture directory to work in.
    func copy(_ name: String) throws -> URL {
        let dir = temporaryDirectory().appendingPathComponent(name)
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent(name), to: dir)
        return dir
    }

    /// The generator's settings (README): what the fixture's run.json holds in its flat form.
    static var configuration: TrainingConfiguration {
        var c = TrainingConfiguration()
        c.epochs = 3
        c.optimizer.batchSize = 16
        c.optimizer.learningRate = 0.1
        c.optimizer.microBatchSize = 8
        c.schedule = .step(everyEpochs: 1, gamma: 0.5)
        c.probes.probeSamples = 32
        c.probes.probeBatchSize = 16
        c.probes.lambdaIterations = 3
        return c
    }

    // The fixtures were computed with OpenBLAS's Haswell kernel (train-interrupted/run.json says so).
    // Bit identity is promised between two runs on one machine and kernel, not across kernels:
    // SkylakeX and Sandybridge block the GEMMs differently and Sandybridge has no FMA, so the last
    // bits of θ and of what is computed from it differ. A run here is compared with the fixtures to
    // the tolerances below; the bit-for-bit promise is checked between two runs made in one test
    // (anEarlierVersionsRunResumedTwiceEqualsItResumedOnce).
    //
    // Measured on an AVX-512 machine with OPENBLAS_CORETYPE set: Haswell reproduces the fixtures
    // bit for bit. Resuming train-interrupted (5 SGD steps of epoch 3 and λ_max), SkylakeX changes
    // 88 of the 3,190 weights and Sandybridge 397, each by at most 3e-8: ‖Δθ‖/‖θ‖ = 1.4e-8 and
    // 1.9e-8. Resuming after epoch 1 reaches 3.0e-8, a whole 3-epoch run from the seed 3.8e-8.
    // The losses and accuracies of every row were identical; λ_max differed by at most 1.7e-7
    // relative, the λ_max residual by at most 5.0e-9 (5.8e-6 of itself, 1.1e-8 of λ_max).

    /// ‖θ − θ_fixture‖ ≤ θTolerance·‖θ_fixture‖: 250 times the largest difference measured; one
    /// epoch of this run moves θ by 0.1 of its norm, one SGD step by about 0.02.
    static let θTolerance = 1e-5

    /// How closely a metrics column computed here must match the fixture's.
    enum MetricTolerance {
        /// Equal numbers: counts, the schedule's rate, and accuracies, which are counts over 80 or
        /// 16 samples and change only if a kernel's rounding flips a prediction (none did).
        case exact
        /// |Δ| ≤ r·|fixture|.
        case relative(Double)
        /// |Δ| ≤ r·|λ_max of the same row|: the residual ‖Hv − λv‖ is a difference of vectors of
        /// norm about λ_max, so its rounding error scales with λ_max, not with itself.
        case relativeToLambda(Double)
    }

    /// The 13 columns every version writes, with their tolerances.
    /// Losses and λ_max: 1e-5 relative, 60 times the largest difference measured; the residual:
    /// 1e-6 of λ_max, 90 times the largest measured and still 5e-4 of the residual itself.
    static let metricTolerances: [(column: String, tolerance: MetricTolerance)] = [
        ("epoch", .exact), ("train_loss", .relative(1e-5)), ("train_accuracy", .exact), ("train_running_loss", .relative(1e-5)),
        ("validation_loss", .relative(1e-5)), ("validation_accuracy", .exact), ("test_loss", .relative(1e-5)), ("test_accuracy", .exact),
        ("lambda_max", .relative(1e-5)), ("lambda_iterations", .exact), ("lambda_residual", .relativeToLambda(1e-6)),
        ("lambda_converged", .exact), ("learning_rate", .exact),
    ]

    /// The numeric rows of a metrics.csv, columns as in ``metricTolerances``, found by name (the
    /// current version writes the λ columns after the timings, the earlier one before them).
    func metricRows(_ csv: URL) throws -> [[Double]] {
        let lines = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")
        let header = lines[0].split(separator: ",").map(String.init)
        let indices = Self.metricTolerances.map { header.firstIndex(of: $0.column) }
        #expect(indices.allSatisfy { $0 != nil }, "\(csv.path): \(header)")
        return try lines.dropFirst().map { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            return try indices.map { i in
                guard let i, i < fields.count, let x = Double(fields[i]) else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: csv.path]) }
                return x
            }
        }
    }

    /// Each value of `got` outside its tolerance of `expected`, described; empty if all are within.
    func metricDifferences(_ got: [[Double]], _ expected: [[Double]]) -> [String] {
        guard got.count == expected.count else { return ["\(got.count) rows, the fixture has \(expected.count)"] }
        let lambda = Self.metricTolerances.firstIndex { $0.column == "lambda_max" }!
        var out: [String] = []
        for (g, e) in zip(got, expected) {
            for (k, (column, tolerance)) in Self.metricTolerances.enumerated() {
                let bound: Double
                switch tolerance {
                case .exact: bound = 0
                case .relative(let r): bound = r * abs(e[k])
                case .relativeToLambda(let r): bound = r * abs(e[lambda])
                }
                if !(abs(g[k] - e[k]) <= bound) { out.append("epoch \(Int(e[0])) \(column): \(g[k]), fixture \(e[k]) (allowed ±\(bound))") }
            }
        }
        return out
    }

    /// ‖a − b‖ / ‖b‖, summed in Double here rather than with the library's BLAS.
    func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        var d = 0.0, n = 0.0
        for (x, y) in zip(a, b) {
            d += (Double(x) - Double(y)) * (Double(x) - Double(y))
            n += Double(y) * Double(y)
        }
        return (d / n).squareRoot()
    }

    /// The fixture's final θ, from the uninterrupted run.
    func uninterruptedθ(layout: ParameterLayout) throws -> [Float] {
        try loadParameters(from: Self.fixtures.appendingPathComponent("train-complete/theta-epoch-003.safetensors"), layout: layout).scalars
    }

    @Test func anInterruptedRunOfTheEarlierVersionResumesToTheUninterruptedResult() throws {
        let dir = try copy("train-interrupted")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let data = try MNISTDataset(directory: Self.fixtures.appendingPathComponent("data"), validationCount: 16)
        let model = MLP(sizes: [784, 4, 10])
        let store = try RunStore.open(at: dir)
        // run.json's flat configuration reads as the nested one, and its own SHA-256 checks it.
        #expect(store.configuration == Self.configuration, "\(store.configuration.differingKeys(from: Self.configuration))")
        let oldRecords = try String(contentsOf: dir.appendingPathComponent(RunRecord.fileName), encoding: .utf8)
        #expect(oldRecords.contains(store.configurationHash))
        #expect(store.configurationHash != Self.configuration.sha256)
        try store.check(data: data)
        store.close()

        let (θ, metrics) = try Trainer(configuration: Self.configuration, data: data, outputDirectory: dir).run(model: model, resume: true, onStep: { _ in }, onEpoch: { _ in })
        #expect(metrics.map(\.epoch) == [3])
        let difference = relativeDifference(θ.scalars, try uninterruptedθ(layout: model.layout))
        #expect(difference <= Self.θTolerance, "‖θ − θ_fixture‖/‖θ_fixture‖ = \(difference)")
        // Epochs 1 and 2 are the fixture's rows as read; epoch 3 was computed here.
        let rows = try metricRows(dir.appendingPathComponent("metrics.csv"))
        #expect(rows.prefix(2) == (try metricRows(Self.fixtures.appendingPathComponent("train-interrupted/metrics.csv")))[...])
        let differences = metricDifferences(rows, try metricRows(Self.fixtures.appendingPathComponent("train-complete/metrics.csv")))
        #expect(differences.isEmpty, "\(differences.joined(separator: "; "))")
        // The continued run keeps recording the hash its run.json was written with, and the current header.
        let records = try RunRecord.entries(in: dir)
        #expect(records.count == 3 && records.allSatisfy { $0.configuration == records[0].configuration })
        let header = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n")[0]
        #expect(header == Substring(EpochMetrics.csvHeader(probeColumns: EpochProbes.lambdaMaxColumns)))
        #expect(try String(contentsOf: Self.fixtures.appendingPathComponent("train-interrupted/metrics.csv"), encoding: .utf8).contains("probe_seconds"))
        // The earlier version recorded no stability limit: nan in its rows; 2(1 + μ)/η = 3.8/0.025 in epoch 3's (η₀·0.5²).
        let lines = try String(contentsOf: dir.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let k = try #require(lines[0].firstIndex(of: "stability_limit"))
        let limits = lines.dropFirst().map { Double($0[k])! }
        #expect(limits.count == 3 && limits[0].isNaN && limits[1].isNaN && abs(limits[2] - 152) <= 1e-13 * 152, "\(limits)")
    }

    /// A copy of train-interrupted cut back to what the earlier version had written after epoch 1:
    /// the rows and the θ and optimizer files of epoch 2 removed.
    func stoppedAfterEpochOne() throws -> URL {
        let dir = try copy("train-interrupted")
        for name in ["theta-epoch-002.safetensors", "optimizer-epoch-002.safetensors"] {
            try FileManager.default.removeItem(at: dir.appendingPathComponent(name))
        }
        for name in ["metrics.csv", RunRecord.fileName] {
            let url = dir.appendingPathComponent(name)
            let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 3, "\(name)")
            try (lines.prefix(2).joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        }
        return dir
    }

    /// The promise of bit identity, on this machine: the earlier version's run resumed after epoch 1
    /// and run to the end equals the same run stopped after epoch 2 and resumed again.
    @Test func anEarlierVersionsRunResumedTwiceEqualsItResumedOnce() throws {
        let once = try stoppedAfterEpochOne(), twice = try stoppedAfterEpochOne()
        defer {
            try? FileManager.default.removeItem(at: once.deletingLastPathComponent())
            try? FileManager.default.removeItem(at: twice.deletingLastPathComponent())
        }
        let data = try MNISTDataset(directory: Self.fixtures.appendingPathComponent("data"), validationCount: 16)
        let model = MLP(sizes: [784, 4, 10])
        let (θOnce, metricsOnce) = try Trainer(configuration: Self.configuration, data: data, outputDirectory: once)
            .run(model: model, resume: true, onStep: { _ in }, onEpoch: { _ in })
        #expect(metricsOnce.map(\.epoch) == [2, 3])
        do {
            _ = try Trainer(configuration: Self.configuration, data: data, outputDirectory: twice)
                .run(model: model, resume: true, onStep: { _ in }, onEpoch: { m in if m.epoch == 2 { throw Interrupted() } })
            Issue.record("the run was not interrupted")
        } catch is Interrupted {}
        let (θTwice, metricsTwice) = try Trainer(configuration: Self.configuration, data: data, outputDirectory: twice)
            .run(model: model, resume: true, onStep: { _ in }, onEpoch: { _ in })
        #expect(metricsTwice.map(\.epoch) == [3])
        let sameBits = θTwice.scalars.map(\.bitPattern) == θOnce.scalars.map(\.bitPattern)
        #expect(sameBits, "θ differs: ‖Δθ‖/‖θ‖ = \(relativeDifference(θTwice.scalars, θOnce.scalars))")
        #expect(try csvRowsWithoutTimes(twice.appendingPathComponent("metrics.csv")) == csvRowsWithoutTimes(once.appendingPathComponent("metrics.csv")))
        #expect(try RunRecord.entries(in: twice).map(\.epoch) == [1, 2, 3])
        // Both continued the earlier version's epoch 1, so they end near its uninterrupted run.
        let difference = relativeDifference(θOnce.scalars, try uninterruptedθ(layout: model.layout))
        #expect(difference <= Self.θTolerance, "‖θ − θ_fixture‖/‖θ_fixture‖ = \(difference)")
        let differences = metricDifferences(try metricRows(once.appendingPathComponent("metrics.csv")),
                                            try metricRows(Self.fixtures.appendingPathComponent("train-complete/metrics.csv")))
        #expect(differences.isEmpty, "\(differences.joined(separator: "; "))")
    }

    @Test func anEditedFlatRunJSONIsRefused() throws {
        let dir = try copy("train-interrupted")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let url = dir.appendingPathComponent("run.json")
        let text = try String(contentsOf: url, encoding: .utf8)
        try text.replacingOccurrences(of: "\"learningRate\" : 0.1", with: "\"learningRate\" : 0.2").write(to: url, atomically: true, encoding: .utf8)
        do { _ = try RunStore.open(at: dir); Issue.record("an edited run.json was accepted") } catch {
            #expect("\(error)".contains("run.json") && "\(error)".contains("edited"), "\(error)")
        }
    }

    @Test func aResumeWithOtherSettingsIsRefused() throws {
        let dir = try copy("train-interrupted")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let data = try MNISTDataset(directory: Self.fixtures.appendingPathComponent("data"), validationCount: 16)
        var other = Self.configuration
        other.optimizer.momentum = 0.5
        do {
            _ = try Trainer(configuration: other, data: data, outputDirectory: dir).run(model: MLP(sizes: [784, 4, 10]), resume: true, onStep: { _ in }, onEpoch: { _ in })
            Issue.record("resumed with another momentum")
        } catch {
            #expect("\(error)".contains("another configuration"), "\(error)")
        }
    }

    @Test func aCLIRunOfTheEarlierVersionReadsAndSaysWhatIsMissing() throws {
        let dir = try copy("cli-train")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let store = try RunStore.open(at: dir)
        var expected = TrainingConfiguration()
        expected.epochs = 2
        expected.probes.probeSamples = 32
        expected.probes.lambdaIterations = 3
        #expect(store.configuration == expected, "\(store.configuration.differingKeys(from: expected))")
        // Its checkpoints were left out of the fixture: resuming names the missing file.
        do { _ = try store.lastComplete(layout: MLP().layout, stepsPerEpoch: 4); Issue.record("resumed without checkpoints") } catch {
            #expect("\(error)".contains("theta-epoch-002.safetensors") && "\(error)".contains("is missing"), "\(error)")
        }
    }
}

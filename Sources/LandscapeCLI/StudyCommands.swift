import ArgumentParser
import Datasets
import Foundation
import Study
import Tensors
import Training

/// The message printed when Ctrl-C stops a study (set before the study starts; read by the signal handler).
nonisolated(unsafe) var interruptMessage: UnsafeMutablePointer<CChar>? = nil
/// The message when Ctrl-C comes before config.json exists, and that file's path.
nonisolated(unsafe) var interruptEarlyMessage: UnsafeMutablePointer<CChar>? = nil
nonisolated(unsafe) var interruptConfigPath: UnsafeMutablePointer<CChar>? = nil

struct StudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study",
        abstract: "Run the MNIST geometry study: MLP and CNN × high-noise and low-noise SGD, with loss, accuracy, λ_max, sharpness and trace every epoch, final slices and spectra, figures and an HTML report.",
        discussion: """
        The configuration starts from --preset (full: the study's protocol; quick: 10,000 training samples, 2 epochs, \
        smaller probes, 1–3 minutes), then a --config JSON file (any subset of the keys printed by --print-config), \
        then the options below and --set KEY=VALUE for any key (dotted keys reach into objects, e.g. \
        --set regimeSettings.low-noise.batchSize=1024). The run directory gets config.json, metrics.csv, summary.md, \
        report.html, figures/*.svg, slices/ and densities/ CSV files and per-configuration checkpoints in runs/. \
        Ctrl-C leaves it resumable: `landscape study --resume DIR` continues from each configuration's last complete epoch.
        """)

    @Option(help: "Preset: full (the study's protocol) or quick (a first look in 1–3 minutes).") var preset: String = "full"
    @Option(help: "A JSON configuration file; its keys override the preset's.") var config: String?
    @Option(help: "Comma-separated models (mlp, cnn).") var models: String?
    @Option(help: "Comma-separated regimes (high-noise, low-noise, or keys you add to regimeSettings).") var regimes: String?
    @Option(parsing: .unconditional, help: "Epochs per configuration.") var epochs: Int?
    @Option(parsing: .unconditional, help: "Seed of initialization (the same for every regime), shuffling and probes' start vectors.") var seed: UInt64?
    @Option(help: "Data set: mnist or fashion-mnist.") var dataset: String?
    @Option(help: "Directory with the four IDX files (default data/mnist, fetched if missing; /usr/share/datasets/fashion-mnist for fashion-mnist).") var dataDir: String?
    @Option(help: "An existing local copy of the MNIST files to use when fetching.") var mnistFrom: String?
    @Option(parsing: .unconditional, help: "Use only this many training samples (a seeded random subset).") var trainLimit: Int?
    @Option(name: .customLong("set"), help: "KEY=VALUE for any configuration key (repeatable).") var assignments: [String] = []
    @Option(help: "Run directory (default runs/study-TIMESTAMP); must be new or empty.") var outputDir: String?
    @Option(help: "Continue the study in this directory from each configuration's last complete epoch (its config.json is used).") var resume: String?
    @Flag(help: "Print the resolved configuration as JSON and exit.") var printConfig = false
    @Flag(help: "No progress bar even on a terminal.") var noProgress = false

    /// The configuration from preset, file, options and --set, validated.
    func resolvedConfiguration() throws -> StudyConfiguration {
        var c = try StudyConfiguration.preset(named: preset)
        if let config { c = try StudyConfiguration.load(from: URL(fileURLWithPath: config), base: c) }
        func list(_ s: String, _ what: String) throws -> [String] {
            let items = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !items.isEmpty else { throw ValidationError("--\(what) needs at least one name") }
            return items
        }
        if let models { c.models = try list(models, "models").map { $0.lowercased() } }
        if let regimes { c.regimes = try list(regimes, "regimes") }
        if let epochs { c.epochs = epochs }
        if let seed { c.seed = seed }
        if let dataset { c.dataset = dataset }
        if let dataDir { c.dataDirectory = dataDir }
        if let trainLimit { c.trainLimit = trainLimit }
        for a in assignments { c = try c.setting(a) }
        try c.validate()
        return c
    }

    func validate() throws {
        if resume != nil {
            let given = [config != nil ? "--config" : nil, models != nil ? "--models" : nil, regimes != nil ? "--regimes" : nil,
                         epochs != nil ? "--epochs" : nil, seed != nil ? "--seed" : nil, dataset != nil ? "--dataset" : nil,
                         trainLimit != nil ? "--train-limit" : nil, assignments.isEmpty ? nil : "--set", outputDir != nil ? "--output-dir" : nil,
                         preset != "full" ? "--preset" : nil, dataDir != nil ? "--data-dir" : nil, printConfig ? "--print-config" : nil].compactMap { $0 }
            guard given.isEmpty else {
                throw ValidationError("--resume continues with the directory's own config.json; drop \(given.joined(separator: ", "))")
            }
            return
        }
        do { _ = try resolvedConfiguration() } catch let e as ValidationError { throw e } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let out: URL
        var cfg: StudyConfiguration
        let resuming = resume != nil
        if let resume {
            out = URL(fileURLWithPath: resume)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: out.path, isDirectory: &isDir) else {
                throw CLIError(description: "--resume \(out.path): no such directory")
            }
            guard isDir.boolValue else { throw CLIError(description: "--resume \(out.path): is a file, not a study directory") }
            let configURL = out.appendingPathComponent("config.json")
            guard FileManager.default.fileExists(atPath: configURL.path) else {
                throw CLIError(description: "--resume \(out.path): no config.json there; is it a study directory?")
            }
            cfg = try StudyConfiguration.load(from: configURL)
        } else {
            cfg = try resolvedConfiguration()
            if cfg.dataDirectory == nil, cfg.dataset == "mnist" { cfg.dataDirectory = "data/mnist" }
            if let d = cfg.dataDirectory { cfg.dataDirectory = URL(fileURLWithPath: d).standardizedFileURL.path }
            if printConfig {
                outLine(String(decoding: try cfg.jsonData(), as: UTF8.self))
                return
            }
            out = try prepareRunDirectory(outputDir, defaultPrefix: "runs/study")
        }
        let body = {
            let data = try loadDataset(cfg.dataset, directory: cfg.dataDirectory, mnistFrom: mnistFrom, validation: cfg.validation,
                                       trainLimit: cfg.trainLimit, testLimit: cfg.testLimit, log: stderrLine)
            var runner = try StudyRunner(configuration: cfg, data: data, directory: out)
            let progress = ProgressBar(enabled: !noProgress && isatty(STDERR_FILENO) == 1)
            runner.log = { progress.clear(); outLine($0) }
            runner.onStep = { _, p in progress.update(p) }
            outLine("landscape study: \(cfg.runNames.joined(separator: ", ")) on \(data.name) (\(data.train.count) train / \(data.validation.count) validation / \(data.test.count) test), \(cfg.epochs) epoch\(cfg.epochs == 1 ? "" : "s"), seed \(cfg.seed); \(BLASRuntime.summary)")
            outLine("run directory: \(out.path)\(resuming ? " (resuming)" : "")")
            interruptMessage = strdup("\ninterrupted: every complete epoch is saved; continue with `landscape study --resume \(out.path)`\n")
            interruptEarlyMessage = strdup("\ninterrupted before the study started; nothing to resume in \(out.path)\n")
            interruptConfigPath = strdup(out.appendingPathComponent("config.json").path)
            signal(SIGINT) { _ in
                // Only async-signal-safe calls here: access(2), write(2), _exit(2).
                let started = interruptConfigPath.map { access($0, F_OK) == 0 } ?? true
                if let m = started ? interruptMessage : interruptEarlyMessage { _ = write(STDERR_FILENO, m, strlen(m)) }
                _exit(130)
            }
            let outcome = try runner.run(resume: resuming)
            progress.clear()
            outLine(String(format: "study finished in %.1f s (%.1f min): %d configuration%@ complete", outcome.seconds, outcome.seconds / 60,
                           outcome.completed.count, outcome.completed.count == 1 ? "" : "s") +
                    (outcome.failed.isEmpty ? "" : ", \(outcome.failed.count) stopped (" + outcome.failed.map(\.name).joined(separator: ", ") + ")"))
            outLine("report: \(out.appendingPathComponent("report.html").path), summary: \(out.appendingPathComponent("summary.md").path)")
            if !outcome.failed.isEmpty {
                throw CLIError(description: "\(outcome.failed.count) configuration\(outcome.failed.count == 1 ? "" : "s") stopped early: " + outcome.failed.map { "\($0.name): \($0.reason)" }.joined(separator: "; "))
            }
        }
        if resuming { try body() } else { try removingIfEmptyOnError(out, body) }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Regenerate a study's figures (SVG), summary.md and report.html from its CSV files.")

    @Argument(help: "The study's run directory.") var directory: String

    func run() throws {
        let dir = URL(fileURLWithPath: directory).standardizedFileURL
        let written = try StudyReport.generate(in: dir)
        outLine("wrote \(written.count) files in \(dir.path):")
        for url in written { outLine("  " + url.standardizedFileURL.path.replacingOccurrences(of: dir.path + "/", with: "")) }
    }
}

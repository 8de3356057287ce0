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
        abstract: "Run the MNIST geometry study: MLP and CNN × high-noise and low-noise SGD, each over several seeds, with loss, accuracy, λ_max, sharpness and trace every epoch, final slices and spectra, figures and an HTML report with means and spreads over seeds.",
        discussion: """
        The configuration starts from --preset (full: the study's protocol, seeds 0, 1, 2; quick: one seed, 10,000 \
        training samples, 2 epochs of high-noise and 6 of low-noise SGD, smaller probes: about a minute for the MLP alone, 6–15 minutes \
        with the CNN on 2 cores; the options below show the full preset's defaults), then a --config JSON file (any subset of the keys printed by --print-config), \
        then --set KEY=VALUE for any key (dotted keys reach into objects; the per-model and per-regime maps are set this way, \
        e.g. --set regimeSettings.low-noise.batchSize=1024) and the configuration options below, in command-line order, each key once. Each configuration (model × regime) is trained \
        once per seed (--seeds 0,1,2), each as its own run. The run directory gets config.json, metrics.csv, \
        summary.md, report.html, figures/*.svg, slices/ and densities/ CSV files and per-run checkpoints in runs/. \
        Ctrl-C leaves it resumable: `landscape study --resume DIR` continues from each run's last complete epoch.

        --plan makes the run directory without training: config.json, study.json, the header of metrics.csv and \
        manifest.jsonl, one task per run (its training settings and the study's epoch probes, as `landscape sweep plan` \
        writes). Each task is then run by `landscape sweep run DIR/manifest.jsonl --task I` (a Slurm job array, a \
        Kubernetes Indexed Job, or --local), any number at once, and `landscape report DIR` merges what has finished.

        """ + ConfigurationFlags.help(StudyConfiguration.self))

    @Option(help: "Preset: full (the study's protocol, the default) or quick (a first look: about a minute with --models mlp, 6–15 minutes with the CNN).") var preset: StudyConfiguration.Preset?
    @OptionGroup var settings: ConfigurationOptions
    @OptionGroup var output: RunOptions
    @Flag(help: "Plan the study as a manifest of its runs (DIR/manifest.jsonl) for `landscape sweep run`, without training.") var plan = false

    /// The configuration from preset, file, options and --set, validated, with the data
    /// directory resolved to an absolute path.
    func resolvedConfiguration() throws -> StudyConfiguration {
        var c = try settings.resolve((preset ?? .full).configuration)
        c.training.data.dataDirectory = c.training.data.resolvedDirectory
        return c
    }

    func validate() throws {
        if plan, output.resume != nil { throw ValidationError("--plan starts a new study directory; it cannot be combined with --resume") }
        if output.resume != nil {
            let given = settings.given + [output.outputDir != nil ? "--output-dir" : nil, preset != nil ? "--preset" : nil].compactMap { $0 }
            guard given.isEmpty else {
                throw ValidationError("--resume continues with the directory's own config.json; drop \(given.joined(separator: ", "))")
            }
            return
        }
        do { _ = try resolvedConfiguration() } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let out: URL
        var prepared: OutputDirectory?
        let cfg: StudyConfiguration
        let resuming = output.resume != nil
        if let resume = output.resume {
            out = URL(fileURLWithPath: resume)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: out.path, isDirectory: &isDir) else {
                throw CLIError(description: "--resume \(out.path): no such directory")
            }
            guard isDir.boolValue else { throw CLIError(description: "--resume \(out.path): is not a directory, so not a study directory") }
            let configURL = out.appendingPathComponent("config.json")
            guard FileManager.default.fileExists(atPath: configURL.path) else {
                throw CLIError(description: "--resume \(out.path): no config.json there; is it a study directory?")
            }
            cfg = try StudyConfiguration.loadSaved(from: configURL)
        } else {
            cfg = try resolvedConfiguration()
            if settings.printConfig {
                outLine(String(decoding: try cfg.jsonData(), as: UTF8.self))
                return
            }
            let directory = try prepareOutputDirectory(output.outputDir, defaultPrefix: "runs/study")
            if plan {
                try removingIfEmptyOnError(directory) {
                    let tasks = try StudyRunner.plan(configuration: cfg, directory: directory.url)
                    let manifest = directory.url.appendingPathComponent(SweepManifest.fileName)
                    outLine("planned \(tasks.count) task\(tasks.count == 1 ? "" : "s"), one per run of the study: " + tasks.compactMap(\.studyRun).joined(separator: ", "))
                    outLine("study directory: \(directory.url.path)")
                    for line in SweepManifest.submitLines(manifest: manifest, tasks: tasks.count) { outLine(line) }
                    outLine("report:        landscape report \(directory.url.path)   (merges the runs that have finished, naming the others)")
                }
                return
            }
            prepared = directory
            out = directory.url
        }
        let body = {
            try cfg.checkMemory()
            let data = try MNISTDataset.load(cfg.training.data, mnistFrom: output.mnistCopy, log: stderrLine)
            var runner = try StudyRunner(configuration: cfg, data: data, directory: out)
            let progress = ProgressBar(enabled: !output.noProgress)
            runner.log = { progress.clear(); outLine($0) }
            runner.onStep = { _, p in progress.update(p) }
            let epochs = cfg.training.epochs
            let seeds = cfg.seeds.map { "seed\($0.count == 1 ? "" : "s") \($0.map(String.init).joined(separator: ", "))" } ?? "seed \(cfg.training.seed)"
            let runs = cfg.runs.count
            outLine("landscape study: \(cfg.configurationNames.joined(separator: ", ")) × \(seeds) (\(runs) run\(runs == 1 ? "" : "s")) on \(data.name) (\(data.train.count) train / \(data.validation.count) validation / \(data.test.count) test), \(epochs) epoch\(epochs == 1 ? "" : "s"); \(BLASRuntime.summary)")
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
            outLine(String(format: "study finished in %.1f s (%.1f min): %d run%@ complete", outcome.seconds, outcome.seconds / 60,
                           outcome.completed.count, outcome.completed.count == 1 ? "" : "s") +
                    (outcome.failed.isEmpty ? "" : ", \(outcome.failed.count) stopped (" + outcome.failed.map(\.name).joined(separator: ", ") + ")"))
            outLine("report: \(out.appendingPathComponent("report.html").path), summary: \(out.appendingPathComponent("summary.md").path)")
            if !outcome.failed.isEmpty {
                throw CLIError(description: "\(outcome.failed.count) run\(outcome.failed.count == 1 ? "" : "s") stopped early: " + outcome.failed.map { "\($0.name): \($0.reason)" }.joined(separator: "; "))
            }
        }
        if let prepared { try removingIfEmptyOnError(prepared, body) } else { try body() }
    }
}

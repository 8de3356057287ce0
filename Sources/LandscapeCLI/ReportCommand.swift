import ArgumentParser
import Foundation
import Study
import Training

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Regenerate a study's figures (SVG), summary.md, report.html and aggregate.csv from its CSV files (also of a partial study, naming its missing and unfinished runs), or draw a training run (a `landscape train` directory: figures/ and report.html).")

    @Argument(help: "A study's directory, or a training run's (a `landscape train` directory with run.json and metrics.csv).") var directory: String

    func run() throws {
        let dir = URL(fileURLWithPath: directory).standardizedFileURL
        func list(_ files: [URL]) {
            outLine("wrote \(files.count) files in \(dir.path):")
            for url in files { outLine("  " + url.standardizedFileURL.path.replacingOccurrences(of: dir.path + "/", with: "")) }
        }
        if RunReport.isRun(dir) {
            list(try RunReport.write(in: dir))
            return
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: dir.path), !fm.fileExists(atPath: dir.appendingPathComponent("config.json").path),
           !fm.fileExists(atPath: dir.appendingPathComponent(RunStore.runInfoName).path) {
            throw CLIError(description: "\(directory) holds neither config.json (a study's directory) nor run.json (a training run's): give a directory that `landscape study` or `landscape train` wrote")
        }
        let written = try StudyReport.write(in: dir)
        list(written.files)
        if !written.unfinishedRuns.isEmpty {
            outLine("missing or unfinished runs (\(written.unfinishedRuns.count)): " + written.unfinishedRuns.joined(separator: "; "))
        }
    }
}

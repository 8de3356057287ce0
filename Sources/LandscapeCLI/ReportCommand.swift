import ArgumentParser
import Foundation
import Study

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Regenerate a study's figures (SVG), summary.md, report.html and aggregate.csv from its CSV files (also of a partial study, naming its missing and unfinished runs).")

    @Argument(help: "The study's run directory.") var directory: String

    func run() throws {
        let dir = URL(fileURLWithPath: directory).standardizedFileURL
        let written = try StudyReport.write(in: dir)
        outLine("wrote \(written.files.count) files in \(dir.path):")
        for url in written.files { outLine("  " + url.standardizedFileURL.path.replacingOccurrences(of: dir.path + "/", with: "")) }
        if !written.unfinishedRuns.isEmpty {
            outLine("missing or unfinished runs (\(written.unfinishedRuns.count)): " + written.unfinishedRuns.joined(separator: "; "))
        }
    }
}

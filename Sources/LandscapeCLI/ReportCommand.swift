import ArgumentParser
import Foundation
import Study

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Regenerate a study's figures (SVG), summary.md and report.html from its CSV files.")

    @Argument(help: "The study's run directory.") var directory: String

    func run() throws {
        let dir = URL(fileURLWithPath: directory).standardizedFileURL
        let written = try StudyReport.generate(in: dir)
        outLine("wrote \(written.count) files in \(dir.path):")
        for url in written { outLine("  " + url.standardizedFileURL.path.replacingOccurrences(of: dir.path + "/", with: "")) }
    }
}

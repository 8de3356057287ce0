import ArgumentParser
import Foundation
import Study
import Tensors
import Training

@main
struct Landscape: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "landscape",
        abstract: "Second-order automatic differentiation and loss-landscape analysis.",
        discussion: "Runs on the OpenBLAS kernel picked for this CPU (OPENBLAS_CORETYPE; set it yourself to override).",
        subcommands: [StudyCommand.self, ReportCommand.self, FetchCommand.self, TrainCommand.self, CheckCommand.self,
                      TaylorCommand.self, ProbeCommand.self, SliceCommand.self, SweepCommand.self, ModelSpecCommand.self])

    /// The release, the one place it is written.
    static let version = "0.1.0"

    @Flag(help: "Print the version, the source commit and the OpenBLAS kernel, and exit.") var version = false

    /// `landscape VERSION (commit HASH), OpenBLAS KERNEL`: the commit of the source checkout this
    /// binary was built from (`git rev-parse` in the directory of this file, if it is still a git
    /// checkout; else `unknown`: SwiftPM cannot embed it at build time).
    static var versionLine: String { "landscape \(version) (commit \(sourceCommit ?? "unknown")), OpenBLAS \(BLASRuntime.coreName)" }

    /// The short hash of HEAD of the checkout that holds this source file, or `nil`.
    static var sourceCommit: String? {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", directory.path, "rev-parse", "--short=12", "HEAD"]
        let pipe = Pipe()
        git.standardOutput = pipe
        git.standardError = FileHandle.nullDevice
        guard (try? git.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        git.waitUntilExit()
        let hash = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return git.terminationStatus == 0 && !hash.isEmpty ? hash : nil
    }

    func run() throws {
        guard version else { throw CleanExit.helpRequest(self) }
        outLine(Self.versionLine)
    }

    static func main() {
        signal(SIGPIPE, SIG_IGN)  // a closed stdout pipe becomes EPIPE, which Console reports and survives
        BLASRuntime.ensureFastKernel()
        BLASRuntime.retainFreedMemory()
        _ = GEMMThreads.count  // the thread policy (OpenBLAS single-threaded) before any BLAS call
        let arguments = Array(CommandLine.arguments.dropFirst())
        // `--version` anywhere before `--` (`landscape train --version`) prints the version: a
        // subcommand would otherwise parse past it and start its job.
        if arguments.prefix(while: { $0 != "--" }).contains("--version") {
            outLine(versionLine)
            return
        }
        if let name = arguments.first, let command = configuration.subcommands.first(where: { $0.configuration.commandName == name }) {
            CommandOptions.names = CommandOptions.names(of: command)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

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
                      TaylorCommand.self, ProbeCommand.self, SliceCommand.self, SweepCommand.self])

    static func main() {
        signal(SIGPIPE, SIG_IGN)  // a closed stdout pipe becomes EPIPE, which Console reports and survives
        BLASRuntime.ensureFastKernel()
        BLASRuntime.retainFreedMemory()
        do {
            var arguments = Array(CommandLine.arguments.dropFirst())
            // `train` and `study` take every configuration key as an option of its own name.
            switch arguments.first {
            case TrainCommand.configuration.commandName?: arguments = ConfigurationFlags.rewrite(arguments, for: TrainingConfiguration.self)
            case StudyCommand.configuration.commandName?: arguments = ConfigurationFlags.rewrite(arguments, for: StudyConfiguration.self)
            default: break
            }
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

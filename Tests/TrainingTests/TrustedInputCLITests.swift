import Foundation
import Testing
import Checkpoints
import Datasets
import Layers
import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `landscape ARGS` run for at most `seconds`: its result, or `nil` (after killing it) when it
/// was still running then.
func runLandscape(_ exe: URL, _ args: [String], timeout seconds: Double) throws -> CLIResult? {
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("landscape-cli-\(UUID().uuidString).log")
    defer { try? FileManager.default.removeItem(at: log) }
    let p = try launchLandscape(exe, args, log: log)
    let deadline = Date(timeIntervalSinceNow: seconds)
    while p.isRunning && Date() < deadline { usleep(50_000) }
    if p.isRunning {
        // SIGKILL: the test process may block SIGTERM, and its children inherit that mask.
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        return nil
    }
    return CLIResult(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                     output: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
}

/// Issue 24, class 3, through the command line: inputs that used to be trusted.
@Suite struct TrustedInputCLITests {
    let fixtureData = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/data")

    func temporary(_ label: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("landscape-\(label)-\(UUID().uuidString)")
    }

    /// The default MLP's initial parameters with `value` at flat position `index`, saved to a new file.
    func parameters(_ value: Float, at index: Int) throws -> URL {
        let model = MLP()
        var θ = model.initialParameters(Float.self, seed: 0).scalars
        θ[index] = value
        let url = temporary("theta").appendingPathExtension("safetensors")
        try saveParameters(Tensor(θ), layout: model.layout, to: url)
        return url
    }

    @Test func probeAndTaylorRefuseNaNParametersNamingTheTensorAndIndex() throws {
        guard let exe = landscapeExecutable() else { return }
        // Flat position 7 is fc1.weight[0, 7] (fc1.weight is [256, 784], row-major).
        let nan = try parameters(.nan, at: 7)
        defer { try? FileManager.default.removeItem(at: nan) }
        let expected = "cannot use \(nan.path) as parameters of the mlp: safetensors file '\(nan.path)': tensor 'fc1.weight' holds nan at element 7 (index [0, 7] of shape [256, 784]); parameters and directions must be finite"
        let data = ["--data-dir", fixtureData.path, "--validation", "16", "--samples", "8"]
        let out = temporary("probe")
        defer { try? FileManager.default.removeItem(at: out) }
        // Before: exit 0 with finite λ_max, trace and sharpness (ReLU turned the NaN into 0).
        for args in [["probe", "--parameters", nan.path, "--output-dir", out.path] + data,
                     ["taylor", "--parameters", nan.path, "--order", "2"] + data] {
            let r = try runLandscape(exe, args)
            #expect(!r.signalled && r.status != 0, "\(args[0]): \(r.output)")
            #expect(r.output.contains(expected), "\(args[0]): \(r.output)")
        }
    }

    @Test func directionsWithInfinitiesAreRefusedNamingTheTensorAndIndex() throws {
        guard let exe = landscapeExecutable() else { return }
        // fc2.bias starts after fc1.weight (256·784), fc1.bias (256) and fc2.weight (256·256).
        let model = MLP()
        let offset = 256 * 784 + 256 + 256 * 256
        #expect(model.layout.entries[model.layout.index(of: "fc2.bias")].offset == offset)
        let inf = try parameters(.infinity, at: offset + 3)
        defer { try? FileManager.default.removeItem(at: inf) }
        let data = ["--data-dir", fixtureData.path, "--validation", "16", "--samples", "8"]
        let tensor = "tensor 'fc2.bias' holds inf at element 3 (index [3] of shape [256])"
        // Before: "the direction in … is zero or not finite", naming no tensor.
        let taylor = try runLandscape(exe, ["taylor", "--direction", inf.path, "--order", "2"] + data)
        #expect(!taylor.signalled && taylor.status != 0)
        #expect(taylor.output.contains("cannot use \(inf.path) as a direction: ") && taylor.output.contains(tensor), "\(taylor.output)")
        // The end point of an interpolation slice is read as parameters too.
        let out = temporary("slice")
        defer { try? FileManager.default.removeItem(at: out) }
        let slice = try runLandscape(exe, ["slice", "--directions", "interpolate", "--to", inf.path, "--dimensions", "1",
                                           "--points", "3", "--output-dir", out.path] + data)
        #expect(!slice.signalled && slice.status != 0)
        #expect(slice.output.contains(tensor), "\(slice.output)")
    }

    @Test func aFIFOUnderADataFileNameStopsTrainAndFetchInsteadOfBlockingThem() throws {
        guard let exe = landscapeExecutable() else { return }
        let data = temporary("fifo-data"), out = temporary("fifo-run"), destination = temporary("fifo-fetch")
        defer { for d in [data, out, destination] { try? FileManager.default.removeItem(at: d) } }
        try FileManager.default.copyItem(at: fixtureData, to: data)
        let fifo = data.appendingPathComponent(MNISTFile.trainImages.gzipName)
        try FileManager.default.removeItem(at: fifo)
        try #require(mkfifo(fifo.path, 0o644) == 0)
        let expected = "\(fifo.path): cannot read: it is a named pipe (FIFO), not a regular file"
        // Before: both blocked in open(2) until killed.
        let train = try runLandscape(exe, ["train", "--data-dir", data.path, "--validation", "16", "--epochs", "1",
                                           "--output-dir", out.path, "--no-progress"], timeout: 60)
        #expect(train.map { !$0.signalled && $0.status != 0 && $0.output.contains(expected) } == true,
                "train: \(train?.output ?? "still running after 60 s")")
        let fetch = try runLandscape(exe, ["fetch", "--data-dir", destination.path, "--from", data.path], timeout: 60)
        #expect(fetch.map { !$0.signalled && $0.status != 0 && $0.output.contains(expected) } == true,
                "fetch: \(fetch?.output ?? "still running after 60 s")")
    }

    @Test func aRunDirectoryWhoseLockIsASymbolicLinkIsRefused() throws {
        guard let exe = landscapeExecutable() else { return }
        let run = temporary("lock-run"), outside = temporary("lock-target")
        defer { for d in [run, outside] { try? FileManager.default.removeItem(at: d) } }
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let lock = run.appendingPathComponent(".lock")
        try FileManager.default.createSymbolicLink(atPath: lock.path, withDestinationPath: outside.path)
        let r = try runLandscape(exe, ["train", "--data-dir", fixtureData.path, "--validation", "16", "--epochs", "1",
                                       "--output-dir", run.path, "--no-progress"])
        // Before: the lock was taken on a new file at the link's target, outside the run directory.
        #expect(!FileManager.default.fileExists(atPath: outside.path), "a file was created outside the run directory")
        #expect(!r.signalled && r.status != 0, "\(r.output)")
        #expect(r.output.contains("'\(lock.path)': create lock file failed: it is a symbolic link"), "\(r.output)")
    }
}

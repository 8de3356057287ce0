import Foundation
import Testing
import Checkpoints

/// Issue 24, class 4 ("results that vanish or lie") through the command line, on the small
/// synthetic data set in Tests/Fixtures/data.
@Suite struct ResultCLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The fixture data and the smallest probe batch.
    static let data = ["--data-dir", root.appendingPathComponent("Tests/Fixtures/data").path, "--validation", "16", "--samples", "8"]
    /// `landscape probe`'s suite at its smallest.
    static let smallProbe = ["--top", "1", "--lanczos-steps", "4", "--slq-probes", "1", "--slq-steps", "2", "--trace-probes", "6",
                             "--directions", "1", "--ascent-steps", "1", "--power-iterations", "2"]

    @Test func nonFiniteProbeResultsAreWrittenAsStringsBesideTheOthers() throws {
        guard let exe = landscapeExecutable() else { return }
        let out = temporaryDirectory().appendingPathComponent("probe")
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        // θ + 1e308·u overflows the model, and ½ε²λ_max = 0.5·1e616·λ_max overflows Float64.
        let r = try runLandscape(exe, ["probe", "--epsilon", "1e308", "--output-dir", out.path] + Self.smallProbe + Self.data)
        #expect(r.status == 0 && !r.signalled, "\(r.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("probe.json"))) as? [String: Any])
        let sharpness = try #require(json["sharpness"] as? [String: Any])
        // λ_max of the fresh MLP's Hessian is positive, so ½ε²λ_max is +∞.
        #expect(sharpness["half_eps2_lambda_max"] as? String == "inf", "\(sharpness)")
        #expect(["nan", "inf", "-inf"].contains(sharpness["max"] as? String ?? ""), "\(sharpness)")
        #expect(sharpness["epsilon"] as? Double == 1e308)
        // Every other result is kept.
        #expect((json["lambda_min"] as? Double)?.isFinite == true && (json["trace_hutchinson"] as? [String: Any])?["estimate"] is Double, "\(json)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("density.csv").path))
        #expect(r.output.contains("not finite") && r.output.contains("sharpness.half_eps2_lambda_max"), "\(r.output)")
    }
}

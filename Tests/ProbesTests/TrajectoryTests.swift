import Foundation
import Testing
import Autodiff
import Probes
import Tensors

/// Issue 24, class 4, item 4: the principal directions of a trajectory that does not move (or
/// moves along fewer directions than asked for) are rounding noise, and are refused.
@Suite struct TrajectoryTests {
    static func point(seed: UInt64, count: Int = 1000) -> Tensor<Double> {
        var rng = SplitMix64(seed: seed)
        return Tensor<Double>.randomNormal([count], using: &rng)
    }

    @Test func identicalSnapshotsHaveNoDirection() throws {
        // Three copies: the mean θ·(1/3)·3 is not θ in every coordinate, which was sliced along.
        let θ = Self.point(seed: 1)
        do { _ = try trajectoryPCA([θ, θ, θ], count: 2); Issue.record("identical snapshots gave directions") } catch let error as AutodiffError {
            #expect("\(error)".contains("the trajectory does not move") && "\(error)".contains("spread 0 "), "\(error)")
        }
        // One ulp apart in five coordinates: a spread of at most √5·2ε·max|θ_i|, under 16·n·ε·‖θ‖.
        var nudged = θ
        nudged.withUnsafeMutablePointer { p in for i in [3, 90, 400, 555, 999] { p[i] = p[i].nextUp } }
        #expect(throws: AutodiffError.self) { try trajectoryPCA([θ, nudged, θ], count: 1) }
    }

    @Test func snapshotsOnALineHaveOneDirection() throws {
        let θ = Self.point(seed: 2), u = Self.point(seed: 3).normalized()
        let line = (0..<4).map { t -> Tensor<Double> in var s = θ; s.addScaled(u, Double(t)); return s }
        let (dirs, ratios) = try trajectoryPCA(line, count: 1)
        #expect(abs(abs(dirs[0].dot(u)) - 1) < 1e-12 && ratios[0] > 1 - 1e-12)
        do { _ = try trajectoryPCA(line, count: 2); Issue.record("a line gave a second direction") } catch let error as AutodiffError {
            #expect("\(error)".contains("1 direction above round-off, not 2") && "\(error)".contains("slice it in 1 dimension"), "\(error)")
        }
    }
}

import Foundation
import Optimizers
import Tensors
import Testing

/// PyTorch's SGD written out in Double:
///   g ← ∇ + λθ;  b ← μb + g (b₀ = 0);  θ ← θ − η_t·(nesterov ? g + μb : b).
func referenceSGD(theta: [Double], gradients: [[Double]], rates: [Double], momentum μ: Double,
                  weightDecay λ: Double, nesterov: Bool) -> [Double] {
    var θ = theta
    var b = [Double](repeating: 0, count: θ.count)
    for (t, grad) in gradients.enumerated() {
        for i in θ.indices {
            let g = grad[i] + λ * θ[i]
            b[i] = μ * b[i] + g
            let direction = nesterov ? g + μ * b[i] : b[i]
            θ[i] -= rates[t] * direction
        }
    }
    return θ
}

func randomValues<E: TensorScalar>(_ n: Int, _ rng: inout SplitMix64, as _: E.Type = E.self) -> [E] {
    (0..<n).map { _ in E(2 * rng.nextUnitDouble() - 1) }
}

/// Runs SGD for 5 steps on random θ and gradients; returns the largest error against the reference.
func sgdError<E: TensorScalar>(_: E.Type, seed: UInt64, momentum: Double, weightDecay: Double, nesterov: Bool) throws -> Double {
    var rng = SplitMix64(seed: seed)
    let d = 7, steps = 5, η = 0.1
    let theta0: [E] = randomValues(d, &rng)
    let grads: [[E]] = (0..<steps).map { _ in randomValues(d, &rng) }
    var sgd = try SGD<E>(parameterCount: d, learningRate: η, momentum: momentum, weightDecay: weightDecay,
                         nesterov: nesterov, schedule: .constant, totalSteps: steps)
    var θ = Tensor(theta0)
    for g in grads { try sgd.update(&θ, gradient: Tensor(g)) }
    let expected = referenceSGD(theta: theta0.map { Double($0) }, gradients: grads.map { $0.map { Double($0) } },
                                rates: [Double](repeating: Double(E(η)), count: steps),
                                momentum: Double(E(momentum)), weightDecay: Double(E(weightDecay)), nesterov: nesterov)
    guard sgd.step == steps else { return .infinity }
    return zip(θ.scalars, expected).map { Swift.abs(Double($0) - $1) / (1 + Swift.abs($1)) }.max() ?? 0
}

struct SGDConfig: Sendable, CustomTestStringConvertible {
    var momentum: Double
    var weightDecay: Double
    var testDescription: String { "μ \(momentum), λ \(weightDecay)" }
    static let all = [SGDConfig(momentum: 0.9, weightDecay: 5e-4), SGDConfig(momentum: 0.5, weightDecay: 0.1),
                      SGDConfig(momentum: 0, weightDecay: 0.01), SGDConfig(momentum: 0.99, weightDecay: 0)]
}

@Suite("SGD")
struct SGDTests {
    @Test("5 steps of heavy-ball SGD with weight decay match PyTorch's formula", arguments: SGDConfig.all, [false, true])
    func againstReference(config: SGDConfig, nesterov: Bool) throws {
        for seed: UInt64 in [3, 4, 5] {
            let eD = try sgdError(Double.self, seed: seed, momentum: config.momentum, weightDecay: config.weightDecay, nesterov: nesterov)
            #expect(eD < 1e-13, "seed \(seed), \(config.testDescription), nesterov \(nesterov): Double error \(eD)")
            let eF = try sgdError(Float.self, seed: seed, momentum: config.momentum, weightDecay: config.weightDecay, nesterov: nesterov)
            #expect(eF < 2e-6, "seed \(seed), \(config.testDescription), nesterov \(nesterov): Float error \(eF)")
        }
    }

    @Test("hand-computed two steps with momentum, weight decay and Nesterov")
    func handComputed() throws {
        // θ₀ = 1, g = 1 each step, η = 0.5, μ = 0.5, λ = 1.
        // Step 1: g = 1 + 1·1 = 2; b = 2; heavy ball θ = 1 − 0.5·2 = 0.
        // Step 2: g = 1 + 0 = 1; b = 0.5·2 + 1 = 2; θ = 0 − 0.5·2 = −1.
        var heavy = try SGD<Double>(parameterCount: 1, learningRate: 0.5, momentum: 0.5, weightDecay: 1)
        var θ = Tensor<Double>([1])
        try heavy.update(&θ, gradient: Tensor([1]))
        #expect(θ.scalars == [0])
        #expect(heavy.velocity.scalars == [2])
        try heavy.update(&θ, gradient: Tensor([1]))
        #expect(θ.scalars == [-1])
        #expect(heavy.velocity.scalars == [2])
        // Nesterov: step 1: g = 2, b = 2, θ = 1 − 0.5·(2 + 0.5·2) = −0.5.
        // Step 2: g = 1 + (−0.5) = 0.5; b = 1 + 0.5 = 1.5; θ = −0.5 − 0.5·(0.5 + 0.75) = −1.125.
        var nest = try SGD<Double>(parameterCount: 1, learningRate: 0.5, momentum: 0.5, weightDecay: 1, nesterov: true)
        var φ = Tensor<Double>([1])
        try nest.update(&φ, gradient: Tensor([1]))
        #expect(φ.scalars == [-0.5])
        try nest.update(&φ, gradient: Tensor([1]))
        #expect(φ.scalars == [-1.125])
        #expect(nest.velocity.scalars == [1.5])
        #expect(nest.step == 2)
    }

    @Test("the stability limit is where SGD on a quadratic starts to diverge",
          arguments: [(0.0, false), (0.5, false), (0.9, false), (0.5, true), (0.9, true)])
    func stabilityLimit(momentum: Double, nesterov: Bool) throws {
        // f(x) = h/2·x², with h given as weight decay and a zero loss gradient: 1% below the
        // limit |x| shrinks over 20,000 steps, 1% above it grows.
        let limit = sgdStabilityLimit(momentum: momentum, nesterov: nesterov)
        for (factor, shrinks) in [(0.99, true), (1.01, false)] {
            var sgd = try SGD<Double>(parameterCount: 1, learningRate: 0.1, momentum: momentum, weightDecay: factor * limit / 0.1, nesterov: nesterov)
            var x = Tensor<Double>([1])
            for _ in 0..<20_000 { try sgd.update(&x, gradient: Tensor([0])) }
            #expect((abs(x.scalars[0]) < 1e-3) == shrinks, "μ \(momentum), Nesterov \(nesterov), η·h = \(factor) × \(limit): x = \(x.scalars[0])")
        }
    }

    @Test("a fresh optimizer has zero velocity and step 0")
    func freshState() throws {
        let sgd = try SGD<Float>(parameterCount: 4, learningRate: 0.1, momentum: 0.9)
        #expect(sgd.velocity.scalars == [0, 0, 0, 0] && sgd.velocity.shape == [4])
        #expect(sgd.step == 0)
        #expect(sgd.currentLearningRate == 0.1)
    }

    @Test("init rejects η ≤ 0 or non-finite, μ ∉ [0, 1), λ < 0",
          arguments: [(lr: 0.0, mu: 0.0, wd: 0.0), (-0.1, 0, 0), (.nan, 0, 0), (.infinity, 0, 0),
                      (0.1, 1, 0), (0.1, 1.5, 0), (0.1, -0.1, 0), (0.1, .nan, 0),
                      (0.1, 0.9, -1e-4), (0.1, 0.9, -1), (0.1, 0, .nan)])
    func rejectsHyperparameters(lr: Double, mu: Double, wd: Double) {
        let error = #expect(throws: OptimizerError.self, "η \(lr), μ \(mu), λ \(wd)") {
            _ = try SGD<Float>(parameterCount: 3, learningRate: lr, momentum: mu, weightDecay: wd)
        }
        if let error {
            guard case .invalidHyperparameter = error else {
                Issue.record("expected invalidHyperparameter, got \(error)")
                return
            }
        }
    }

    @Test("init accepts the boundary values μ = 0, λ = 0 and small positive η")
    func acceptsBoundaries() throws {
        _ = try SGD<Double>(parameterCount: 2, learningRate: 1e-12, momentum: 0, weightDecay: 0)
        _ = try SGD<Double>(parameterCount: 2, learningRate: 10, momentum: 0.999, weightDecay: 1)
    }

    @Test("update rejects θ or gradient of the wrong length and leaves state unchanged", arguments: [UInt64(61), 62])
    func lengthMismatch(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var sgd = try SGD<Float>(parameterCount: 5, learningRate: 0.1, momentum: 0.9)
        var shortθ = Tensor<Float>(randomValues(4, &rng))
        let saved = shortθ
        #expect(throws: OptimizerError.lengthMismatch(expected: 5, actual: 4), "seed \(seed)") {
            try sgd.update(&shortθ, gradient: Tensor(randomValues(5, &rng)))
        }
        #expect(shortθ == saved, "seed \(seed)")
        var θ = Tensor<Float>(randomValues(5, &rng))
        let savedθ = θ
        #expect(throws: OptimizerError.lengthMismatch(expected: 5, actual: 6), "seed \(seed)") {
            try sgd.update(&θ, gradient: Tensor(randomValues(6, &rng)))
        }
        #expect(throws: OptimizerError.lengthMismatch(expected: 5, actual: 3), "seed \(seed)") {
            try sgd.update(&θ, gradient: Tensor(randomValues(3, &rng)))
        }
        #expect(θ == savedθ, "seed \(seed)")
        #expect(sgd.step == 0, "seed \(seed)")
        #expect(sgd.velocity.scalars == [0, 0, 0, 0, 0], "seed \(seed)")
        // A rank-2 θ with the right number of elements is accepted (the vector is flat).
        var matrixθ = Tensor<Float>(shape: [5, 1], scalars: [1, 1, 1, 1, 1])
        try sgd.update(&matrixθ, gradient: Tensor(shape: [5], scalars: [1, 2, 3, 4, 5]))
        #expect(sgd.step == 1)
        #expect(OptimizerError.lengthMismatch(expected: 5, actual: 4).description.contains("4"))
    }
}

/// The momentum buffer is b ← μb + g rounded as two Float operations, fl(fl(μ·b) + g), bit for bit,
/// step after step, on a vector long enough for the vectorized kernels (and of odd length, so their
/// remainder loops run too); θ moves by −η·b within the roundings of each step (the BLAS may fuse them).
@Test func momentumBufferIsTheFloatRecurrenceBitForBit() throws {
    let seed: UInt64 = 0x5ED
    var rng = SplitMix64(seed: seed)
    let d = 4_099, μ: Float = 0.9, η: Float = 0.05
    var sgd = try SGD<Float>(parameterCount: d, learningRate: Double(η), momentum: Double(μ))
    var θ = Tensor<Float>(randomValues(d, &rng))
    var b = [Float](repeating: 0, count: d), θRef = θ.scalars
    for step in 1...3 {
        let g: [Float] = randomValues(d, &rng)
        try sgd.update(&θ, gradient: Tensor(g))
        for i in 0..<d {
            let scaled = μ * b[i]
            b[i] = scaled + g[i]
            θRef[i] -= η * b[i]
        }
        let differing = (0..<d).filter { sgd.velocity.scalars[$0].bitPattern != b[$0].bitPattern }.count
        #expect(differing == 0, "seed \(seed), step \(step): \(differing) velocity elements differ")
        // θ, g in [−1, 1] and |b| < 10: each step's two roundings are below 2ε in absolute terms, accumulated over the steps.
        let far = (0..<d).filter { abs(θ.scalars[$0] - θRef[$0]) > Float(step) * 4 * .ulpOfOne }.count
        #expect(far == 0, "seed \(seed), step \(step): \(far) parameters beyond rounding")
    }
}

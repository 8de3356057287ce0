import Foundation
import Optimizers
import Tensors
import Testing

@Suite("Learning-rate schedules")
struct ScheduleTests {
    @Test("constant is η₀ at every step")
    func constant() {
        for t in [0, 1, 50, 99, 100, 1000] {
            #expect(LearningRateSchedule.constant.rate(base: 0.3, step: t, totalSteps: 100) == 0.3, "t \(t)")
        }
    }

    @Test("step decays by γ every stepSize steps: η₀ γ^⌊t/s⌋", arguments: [(stepSize: 10, gamma: 0.5), (3, 0.1), (1, 0.9), (7, 2.0)])
    func stepDecay(stepSize: Int, gamma: Double) {
        let base = 0.8
        let schedule = LearningRateSchedule.step(stepSize: stepSize, gamma: gamma)
        for t in [0, 1, stepSize - 1, stepSize, stepSize + 1, 2 * stepSize - 1, 2 * stepSize, 3 * stepSize + 2, 10 * stepSize] {
            // ⌊t/s⌋ by counting, γ^k by repeated multiplication.
            var k = 0
            while (k + 1) * stepSize <= t { k += 1 }
            var expected = base
            for _ in 0..<k { expected *= gamma }
            let got = schedule.rate(base: base, step: t, totalSteps: 1000)
            #expect(Swift.abs(got - expected) <= 1e-14 * expected, "s \(stepSize), γ \(gamma), t \(t): \(got) vs \(expected)")
        }
        #expect(LearningRateSchedule.step(stepSize: 100, gamma: 0.5).rate(base: 1, step: 250, totalSteps: 0) == 0.25)
    }

    @Test("cosine: η₀ at 0, η₀/2 at T/2, 0 at T, decreasing", arguments: [2, 10, 100, 1000])
    func cosine(totalSteps T: Int) {
        let base = 0.4
        let s = LearningRateSchedule.cosine
        #expect(s.rate(base: base, step: 0, totalSteps: T) == base)
        #expect(Swift.abs(s.rate(base: base, step: T / 2, totalSteps: T) - base / 2) < 1e-15, "T \(T)")
        #expect(Swift.abs(s.rate(base: base, step: T, totalSteps: T)) < 1e-16, "T \(T)")
        var previous = Double.infinity
        for t in 0...T {
            let r = s.rate(base: base, step: t, totalSteps: T)
            #expect(r < previous, "T \(T), t \(t): \(r) not below \(previous)")
            #expect(r >= 0 && r <= base, "T \(T), t \(t): \(r)")
            // ½η₀(1 + cos(πt/T)), written independently.
            let expected = base * (1 + Foundation.cos(Double.pi * Double(t) / Double(T))) / 2
            #expect(Swift.abs(r - expected) < 1e-15, "T \(T), t \(t): \(r) vs \(expected)")
            previous = r
        }
        // A quarter of the way: η₀(1 + √2/2)/2.
        if T % 4 == 0 {
            #expect(Swift.abs(s.rate(base: base, step: T / 4, totalSteps: T) - base * (1 + 0.5.squareRoot()) / 2) < 1e-15)
        }
    }

    /// The rate of each schedule at step t of T, written from the formulas: η₀; ½η₀(1 + cos(πt/T));
    /// η₀γ^⌊t/s⌋; under a warm-up of W steps, times min(1, (t + 1)/W).
    static func expectedRate(_ schedule: LearningRateSchedule, base η0: Double, step t: Int, totalSteps T: Int) -> Double {
        switch schedule {
        case .constant: return η0
        case .cosine: return η0 * (1 + Foundation.cos(Double.pi * Double(t) / Double(T))) / 2
        case let .step(s, gamma): return η0 * Foundation.pow(gamma, Double(t / s))
        case let .warmup(w, inner): return expectedRate(inner, base: η0, step: t, totalSteps: T) * Swift.min(1, Double(t + 1) / Double(w))
        }
    }

    @Test("SGD's currentLearningRate follows the schedule step by step, and the update uses it",
          arguments: [LearningRateSchedule.constant, .cosine, .step(stepSize: 3, gamma: 0.5),
                      .warmup(steps: 5, then: .constant), .warmup(steps: 5, then: .cosine), .warmup(steps: 4, then: .step(stepSize: 3, gamma: 0.5))])
    func sgdFollowsSchedule(schedule: LearningRateSchedule) throws {
        let T = 12, η0 = 0.2
        var sgd = try SGD<Double>(parameterCount: 3, learningRate: η0, schedule: schedule, totalSteps: T)
        var θ = Tensor<Double>([1, -2, 3])
        let g = Tensor<Double>([0.5, 1, -2])
        for t in 0..<T {
            let expected = Self.expectedRate(schedule, base: η0, step: t, totalSteps: T)
            #expect(Swift.abs(sgd.currentLearningRate - expected) < 1e-15, "\(schedule), t \(t): \(sgd.currentLearningRate) vs \(expected)")
            #expect(sgd.step == t)
            let before = θ.scalars
            try sgd.update(&θ, gradient: g)
            // Without momentum or decay, θ moves by exactly −η_t·g.
            for i in 0..<3 {
                let moved = before[i] - θ.scalars[i]
                #expect(Swift.abs(moved - expected * g.scalars[i]) < 1e-14, "\(schedule), t \(t), i \(i)")
            }
        }
        #expect(sgd.step == T)
    }

    @Test("warm-up: η₀/W, 2η₀/W, …, then the schedule's own rate, which keeps its course over all steps")
    func warmupRampsLinearly() {
        // W = 4 over a constant 0.2: 0.05, 0.1, 0.15, 0.2, 0.2, …
        let constant = LearningRateSchedule.warmup(steps: 4, then: .constant)
        for (t, expected) in [0.05, 0.1, 0.15, 0.2, 0.2, 0.2].enumerated() {
            #expect(Swift.abs(constant.rate(base: 0.2, step: t, totalSteps: 10) - expected) < 1e-16, "t \(t)")
        }
        // Over cosine with T = 8 and W = 2: t = 0 gives ½·η₀·½(1 + cos 0) = η₀/2; from t = 1 on the cosine's own rate.
        let cosine = LearningRateSchedule.warmup(steps: 2, then: .cosine)
        #expect(cosine.rate(base: 1, step: 0, totalSteps: 8) == 0.5)
        // t = 1: ½(1 + cos(π/8)), cos(π/8) = √(2 + √2)/2.
        #expect(Swift.abs(cosine.rate(base: 1, step: 1, totalSteps: 8) - (1 + (2 + 2.0.squareRoot()).squareRoot() / 2) / 2) < 1e-15)
        #expect(Swift.abs(cosine.rate(base: 1, step: 4, totalSteps: 8) - 0.5) < 1e-15)
        // Over a step schedule (s = 2, γ = 0.1) with W = 3: t = 2 is 0.1·η₀ from the decay, times 3/3.
        let step = LearningRateSchedule.warmup(steps: 3, then: .step(stepSize: 2, gamma: 0.1))
        #expect(Swift.abs(step.rate(base: 1, step: 1, totalSteps: 10) - 2.0 / 3) < 1e-16)
        #expect(Swift.abs(step.rate(base: 1, step: 2, totalSteps: 10) - 0.1) < 1e-16)
        // W = 0 is no warm-up.
        #expect(LearningRateSchedule.warmup(steps: 0, then: .constant).rate(base: 0.3, step: 0, totalSteps: 5) == 0.3)
    }
}

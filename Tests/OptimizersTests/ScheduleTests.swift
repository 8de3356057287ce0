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

    @Test("SGD's currentLearningRate follows the schedule step by step, and the update uses it",
          arguments: [LearningRateSchedule.constant, .cosine, .step(stepSize: 3, gamma: 0.5)])
    func sgdFollowsSchedule(schedule: LearningRateSchedule) throws {
        let T = 12, η0 = 0.2
        var sgd = try SGD<Double>(parameterCount: 3, learningRate: η0, schedule: schedule, totalSteps: T)
        var θ = Tensor<Double>([1, -2, 3])
        let g = Tensor<Double>([0.5, 1, -2])
        for t in 0..<T {
            let expected: Double
            switch schedule {
            case .constant: expected = η0
            case .cosine: expected = η0 * (1 + Foundation.cos(Double.pi * Double(t) / Double(T))) / 2
            case .step: expected = η0 * Foundation.pow(0.5, Double(t / 3))
            }
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
}

import Foundation
import Testing
import Autodiff
import Probes
import Tensors

/// The probe descriptions: λ_max is one quantity through every path that runs it, a result's
/// columns and values come from one declaration, and the registry names each probe once.
@Suite struct ProbePipelineTests {
    /// A context whose curvature is the given matrix and whose loss is ½θᵀAθ, with mini-batches
    /// (each the whole data set) whose loss is a quadratic of the same spectrum, and two samples.
    static func context(_ spectrum: [Double], rotated seed: UInt64? = nil) throws -> ProbeContext<Double> {
        let a = try LargestEigenvalueTests.matrix(spectrum, rotated: seed)
        let d = spectrum.count
        let f = LossFunction<Double>(layout: ParameterLayout(vectorOf: d), value: { θ in 0.5 * θ.dot(try a.apply(θ)) },
                                     valueWithGradient: { θ in let g = try a.apply(θ); return (0.5 * θ.dot(g), g) },
                                     // A quadratic: H = A everywhere, ∇³L = 0.
                                     gradientOfCurvature: { θ, u in
                                         let g = try a.apply(θ)
                                         return CurvatureGradient(value: 0.5 * θ.dot(g), gradient: g, hvp: try a.apply(u), curvatureGradient: Tensor.zeros([d]))
                                     }, hessian: { _ in AnySymmetricOperator(a) },
                                     smoothnessRadius: { θ, v, order in
                                         // ½θᵀAθ along v: c₀ = ½θᵀAθ, c₁ = vᵀAθ, c₂ = ½vᵀAv, no routing.
                                         let av = try a.apply(v)
                                         let c = [0.5 * θ.dot(try a.apply(θ)), θ.dot(av), 0.5 * v.dot(av)] + Array(repeating: 0, count: max(order - 2, 0))
                                         return SmoothnessRadius(forward: .infinity, backward: .infinity, coefficients: Array(c.prefix(order + 1)))
                                     })
        let batches = try MiniBatchSource<Double>(samples: 10, batchSize: 10) { _ in LossFunction(Quadratic(spectrum: spectrum, seed: seed ?? 1)) }
        // Two samples whose losses are both ½θᵀAθ: c₀ = ½θᵀAθ, c₁ = vᵀAθ, c₂ = ½vᵀAv, exact beyond.
        let perSample = PerSampleLosses<Double>(classCount: 2) { θ, v, order in
            let aθ = try a.apply(θ), av = try a.apply(v)
            let c = (0...order).map { k in k == 0 ? 0.5 * θ.dot(aθ) : k == 1 ? v.dot(aθ) : k == 2 ? 0.5 * v.dot(av) : 0 }
            return PerSampleExpansion(labels: [0, 1], predicted: [0, 0], coefficients: c.map { [$0, $0] })
        }
        return ProbeContext(point: Tensor<Double>(Array(repeating: 0.1, count: d)), loss: f, seed: 3, curvature: { AnySymmetricOperator(a) },
                            miniBatches: batches, perSample: perSample)
    }

    /// diag(−6, 4, 1), diag(5, −5, 1) and a top pair 10, 9.99: the epoch probe (as train and the
    /// study run it) and `landscape probe`'s suite report the largest algebraic eigenvalue.
    @Test(arguments: [([-6.0, 4, 1], 4.0, -6.0 as Double?), ([5, -5, 1], 5, -5), ([10, 9.99, 3, -2, 1, 0.5], 10, nil)])
    func lambdaMaxIsTheLargestEigenvalueOnEveryPath(spectrum: [Double], lambdaMax: Double, negative: Double?) throws {
        for rotated in [nil, UInt64(77)] {
            // The epoch path: the probe list of a run (λ_max with its settings), on the operator.
            var context = try Self.context(spectrum, rotated: rotated)
            let epoch = EpochProbes([AnyProbe(LambdaMaxProbe(powerIterations: 10, tolerance: 1e-10))], every: 1)
            let values = try epoch.measure(&context)
            let r = LambdaMaxProbe.Result(values: Array(values.dropLast()))
            #expect(abs(r.lambdaMax - lambdaMax) < 1e-6, "\(spectrum): \(r.lambdaMax)")
            #expect(r.converged)
            if let negative {
                #expect(abs(r.negative - negative) < 5e-3 * abs(negative), "dominant negative \(r.negative)")
            } else {
                #expect(r.negative.isNaN)
            }
            #expect(context.lambdaMax == r.lambdaMax && context.warmStarts[LambdaMaxProbe.name] != nil)
            // The second pass starts from the first's eigenvector and agrees.
            let again = LambdaMaxProbe.Result(values: Array(try epoch.measure(&context).dropLast()))
            #expect(abs(again.lambdaMax - lambdaMax) < 1e-6)
            // `landscape probe`'s suite on the same operator.
            let f = Quadratic(spectrum: spectrum, seed: rotated ?? 1)
            var s = ProbeSuiteSettings()
            s.top = 2; s.lanczosSteps = spectrum.count; s.slqSteps = spectrum.count; s.traceProbes = 6; s.powerTolerance = 1e-10
            let a = try LargestEigenvalueTests.matrix(spectrum, rotated: rotated)
            let suite = try probeSuite(of: f, at: Tensor<Double>.zeros([spectrum.count]), operator: a, layout: f.layout, settings: s)
            #expect(abs(suite.power!.value - lambdaMax) < 1e-6 && abs(suite.lambdaMax! - lambdaMax) < 1e-6, "\(suite.power!.value) \(suite.lambdaMax!)")
        }
    }

    @Test func resultsReadBackFromTheirValues() throws {
        var context = try Self.context([3, 1, -0.5], rotated: 5)
        for probe in ProbeRegistry.all {
            let values = try probe.measure(&context)
            #expect(values.count == probe.columns.count, "\(probe.name)")
            let json = probe.json(values)
            #expect(Set(json.keys) == Set(probe.columns), "\(probe.name)")
        }
        let r = SharpnessProbe.Result(values: [0.25, 0.5, .nan])
        #expect(r.mean == 0.25 && r.maximum == 0.5 && r.quadraticPrediction.isNaN && (r.json["quadratic_prediction"] as? Double)?.isNaN == true)
        let names = ProbeRegistry.all.flatMap(\.columns)
        #expect(Set(names).count == names.count, "every column is one probe's")
        #expect(Set(ProbeRegistry.names).count == ProbeRegistry.names.count)
        #expect(throws: AutodiffError.self) { try ProbeRegistry.probe(named: "sharpnes") }
    }

    @Test func invalidSettingsNameTheProbeAndTheSetting() {
        var p = SharpnessProbe()
        p.epsilon = 0
        do { try p.validate(); Issue.record("accepted ε = 0") } catch { #expect("\(error)".contains("sharpness: epsilon"), "\(error)") }
        var t = TraceProbe()
        t.probes = 1
        do { try AnyProbe(t).validate(); Issue.record("accepted 1 probe") } catch { #expect("\(error)".contains("trace: probes must be in 2..."), "\(error)") }
    }

    /// Sharpness after λ_max in one pass reports ½ε²λ_max with the pass's λ_max.
    @Test func sharpnessUsesTheLambdaMaxOfItsPass() throws {
        var context = try Self.context([2, 1, 0.5], rotated: 9)
        let pass = EpochProbes([AnyProbe(LambdaMaxProbe(powerIterations: 200, tolerance: 1e-12)), AnyProbe(SharpnessProbe(epsilon: 0.1, directions: 3, seed: 1))], every: 1)
        let values = try pass.measure(&context)
        let q = values[pass.columns.firstIndex(of: "quadratic_prediction")!]
        #expect(abs(q - 0.5 * 0.01 * 2) < 1e-9, "\(q)")
    }
}

@Suite struct BlockTraceTests {
    /// Blocks that partition the coordinates: their traces add up to Hutchinson's estimate with the
    /// same probes (the same products split), and each is within 4 standard errors of the exact
    /// block trace; a diagonal block's estimate is exact (z_i² = 1).
    @Test(arguments: [UInt64(2), 3]) func blockTracesSplitHutchinsonsProducts(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let spectrum = (0..<12).map { _ in 4 * rng.nextUnitDouble() - 1 }
        let a = try LargestEigenvalueTests.matrix(spectrum, rotated: seed &+ 50)
        let blocks = [[0..<3, 7..<9], [3..<7], [9..<12]]
        let traces = try blockTraces(of: a, blocks: blocks, probes: 400, seed: seed)
        let whole = try hutchinsonTrace(of: a, probes: 400, seed: seed)
        #expect(abs(traces.map(\.trace).reduce(0, +) - whole.trace) < 1e-9, "seed \(seed)")
        let m = a.matrix.scalars
        for (ranges, t) in zip(blocks, traces) {
            let exact = ranges.flatMap { Array($0) }.reduce(0.0) { $0 + m[$1 * 12 + $1] }
            #expect(abs(t.trace - exact) <= 4 * t.standardError + 1e-12, "seed \(seed): \(t) vs \(exact)")
        }
        let diagonal = try blockTraces(of: try SymmetricMatrix<Double>(diagonal: spectrum), blocks: [[0..<5]], probes: 3, seed: seed)
        #expect(abs(diagonal[0].trace - spectrum.prefix(5).reduce(0, +)) < 1e-12 && diagonal[0].standardError < 1e-12)
        #expect(throws: AutodiffError.self) { try blockTraces(of: a, blocks: [[0..<13]], probes: 4) }
        #expect(throws: AutodiffError.self) { try blockTraces(of: a, blocks: blocks, probes: 1) }
    }
}

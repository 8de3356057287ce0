import Foundation
import Testing
import Autodiff
import Layers
import Probes
import Tensors

/// L(θ) = Σ_i a_i θ_i⁴ / 12: H = diag(a_i θ_i²), ∇³L[u, u, ·]_i = 2 a_i θ_i u_i².
struct Quartic: TensorObjective {
    typealias Scalar = Double
    let a: [Double]
    var layout: ParameterLayout { ParameterLayout(vectorOf: a.count, name: "theta") }
    func callAsFunction<A: TensorAlgebra>(_ p: [A]) -> A where A.Scalar == Double {
        let x2 = p[0] * p[0]
        return (x2 * x2 * A(constant: Tensor(a))).sum().scaled(by: 1.0 / 12)
    }
}

/// L(θ) = ¼ (θᵀAθ)² with s = θᵀAθ: ∇L = s·Aθ, H = s·A + 2·AθθᵀA,
/// ∇³L[u, u, ·] = 2(uᵀAu)·Aθ + 4(uᵀAθ)·Au.
struct SquaredQuadratic: TensorObjective {
    typealias Scalar = Double
    let a: Tensor<Double>   // [d, d], symmetric
    var layout: ParameterLayout { ParameterLayout(vectorOf: a.shape[0], name: "theta") }
    func callAsFunction<A: TensorAlgebra>(_ p: [A]) -> A where A.Scalar == Double {
        let d = a.shape[0]
        let row = p[0].reshaped([1, d])
        let s = (A.matmul(row, A(constant: a)) * row).sum()
        return (s * s).scaled(by: 0.25)
    }
}

/// L(θ) = ⅙ Σ_j (c_jᵀθ)³ (rows c_j of C): H = Σ_j (c_jᵀθ) c_j c_jᵀ, ∇³L[u, u, ·] = Σ_j (c_jᵀu)² c_j,
/// the same at every θ.
struct CubicSum: TensorObjective {
    typealias Scalar = Double
    let c: Tensor<Double>   // [m, d]
    var layout: ParameterLayout { ParameterLayout(vectorOf: c.shape[1], name: "theta") }
    func callAsFunction<A: TensorAlgebra>(_ p: [A]) -> A where A.Scalar == Double {
        let z = A.matmul(p[0].reshaped([1, c.shape[1]]), A(constant: c), transposeA: false, transposeB: true)
        return (z * z * z).sum().scaled(by: 1.0 / 6)
    }
}

func matVec(_ m: Tensor<Double>, _ v: Tensor<Double>) -> Tensor<Double> {
    Tensor.matmul(m, v.reshaped([v.count, 1])).reshaped([m.shape[0]])
}

func relativeDistance(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Double {
    var d = a
    d.addScaled(b, -1)
    return d.norm() / max(b.norm(), 1e-300)
}

/// The largest eigenvalue of the dense Hessian and its unit eigenvector (LAPACK), with the gap to
/// the second.
func denseTopEigenpair<O: Objective>(_ f: O, at θ: Tensor<Double>) throws -> (value: Double, vector: Tensor<Double>, gap: Double) where O.Scalar == Double {
    let (values, vectors) = try LAPACK.symmetricEigen(try hessian(of: f, at: θ))
    let n = values.count
    return (values[n - 1], Tensor(Array(vectors.scalars[((n - 1) * n)..<(n * n)])), values[n - 1] - values[n - 2])
}

func smallMLPLoss(seed: UInt64, sizes: [Int] = [4, 5, 3], batch: Int = 6) throws -> (ModelLoss<MLP, Double>, Tensor<Double>) {
    let model = MLP(sizes: sizes)
    var rng = SplitMix64(seed: seed)
    let x = Tensor<Double>.randomNormal([batch, sizes[0]], using: &rng)
    let labels = (0..<batch).map { _ in rng.next(below: sizes.last!) }
    return (try model.loss(on: x, labels: labels), model.initialParameters(Double.self, seed: seed &+ 1).scaled(by: 2))
}

func smallCNNLoss<E: TensorScalar>(_: E.Type, seed: UInt64, batch: Int = 3) throws -> (ModelLoss<CNN, E>, Tensor<E>) {
    let model = try CNN(inputChannels: 1, height: 8, width: 8, channels: [2, 3], kernelSize: 3, padding: 1, hiddenSize: 4, classCount: 3)
    var rng = SplitMix64(seed: seed)
    let x = Tensor<E>.randomNormal([batch, 64], using: &rng)
    let labels = (0..<batch).map { _ in rng.next(below: 3) }
    return (try model.loss(on: x, labels: labels), model.initialParameters(E.self, seed: seed).scaled(by: 2))
}

@Suite struct SharpnessGradientTests {
    // MARK: closed forms

    @Test(arguments: [UInt64(1), 2, 3]) func quarticMatchesItsClosedForm(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let d = 6
        let a = (0..<d).map { _ in 0.5 + 2 * rng.nextUnitDouble() }
        let θ = Tensor<Double>.randomNormal([d], using: &rng)
        let u = Tensor<Double>.randomNormal([d], using: &rng)
        let f = Quartic(a: a)
        let r = try gradientOfCurvature(of: f, at: θ, along: u)
        let t = θ.scalars, v = u.scalars
        let value: Double = (0..<d).map { a[$0] * pow(t[$0], 4) / 12 }.reduce(0, +)
        #expect(abs(r.value - value) < 1e-14, "seed \(seed)")
        let g: [Double] = (0..<d).map { a[$0] * pow(t[$0], 3) / 3 }
        let hu: [Double] = (0..<d).map { a[$0] * t[$0] * t[$0] * v[$0] }
        let third: [Double] = (0..<d).map { 2 * a[$0] * t[$0] * v[$0] * v[$0] }
        #expect(relativeDistance(r.gradient, Tensor(g)) < 1e-14, "seed \(seed)")
        #expect(relativeDistance(r.hvp, Tensor(hu)) < 1e-14, "seed \(seed)")
        #expect(relativeDistance(r.curvatureGradient, Tensor(third)) < 1e-14, "seed \(seed)")
        // For the top eigenvector e_k (λ = max a_i θ_i²): ∇λ = 2 a_k θ_k e_k.
        let curvatures: [Double] = (0..<d).map { a[$0] * t[$0] * t[$0] }
        let k = curvatures.indices.max { curvatures[$0] < curvatures[$1] }!
        let e = Tensor((0..<d).map { $0 == k ? 1.0 : 0 })
        let top = try gradientOfCurvature(of: f, at: θ, along: e)
        #expect(relativeDistance(top.curvatureGradient, e.scaled(by: 2 * a[k] * t[k])) < 1e-14, "seed \(seed)")
    }

    @Test(arguments: [UInt64(4), 5]) func squaredQuadraticMatchesItsClosedForm(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let d = 5
        let b = Tensor<Double>.randomNormal([d, d], using: &rng).scalars
        let a = Tensor(shape: [d, d], scalars: (0..<(d * d)).map { 0.5 * (b[$0] + b[($0 % d) * d + $0 / d]) })
        let θ = Tensor<Double>.randomNormal([d], using: &rng)
        let u = Tensor<Double>.randomNormal([d], using: &rng)
        let r = try gradientOfCurvature(of: SquaredQuadratic(a: a), at: θ, along: u)
        let aθ = matVec(a, θ), au = matVec(a, u)
        let s = θ.dot(aθ)
        #expect(relativeDistance(r.gradient, aθ.scaled(by: s)) < 1e-13, "seed \(seed)")
        var hu = au.scaled(by: s)
        hu.addScaled(aθ, 2 * aθ.dot(u))
        #expect(relativeDistance(r.hvp, hu) < 1e-13, "seed \(seed)")
        var expected = aθ.scaled(by: 2 * u.dot(au))
        expected.addScaled(au, 4 * u.dot(aθ))
        #expect(relativeDistance(r.curvatureGradient, expected) < 1e-13, "seed \(seed)")
    }

    @Test func cubicSumHasAConstantThirdDerivative() throws {
        var rng = SplitMix64(seed: 6)
        let (m, d) = (4, 5)
        let c = Tensor<Double>.randomNormal([m, d], using: &rng)
        let u = Tensor<Double>.randomNormal([d], using: &rng)
        let cu = matVec(c, u).scalars
        var expected = Tensor<Double>.zeros([d])
        for j in 0..<m { expected.addScaled(Tensor(Array(c.scalars[(j * d)..<((j + 1) * d)])), cu[j] * cu[j]) }
        for _ in 0..<2 {
            let θ = Tensor<Double>.randomNormal([d], using: &rng)
            let r = try gradientOfCurvature(of: CubicSum(c: c), at: θ, along: u)
            #expect(relativeDistance(r.curvatureGradient, expected) < 1e-13)
        }
    }

    /// Edges: the zero direction gives H·0 = 0 and ∇³L[0, 0, ·] = 0; θ = 0 of the quartic (every
    /// curvature 0, a fourfold tie) gives ∇³L = 0; wrong lengths are errors naming the vector.
    @Test func zeroDirectionZeroPointAndBadLengths() throws {
        let f = Quartic(a: [1, 2, 3])
        let θ = Tensor<Double>([0.5, -1, 2])
        let r = try gradientOfCurvature(of: f, at: θ, along: Tensor.zeros([3]))
        #expect(r.hvp.isIdenticallyZero && r.curvatureGradient.isIdenticallyZero)
        #expect(relativeDistance(r.gradient, try gradient(of: f, at: θ)) < 1e-15)
        let z = try gradientOfCurvature(of: f, at: Tensor.zeros([3]), along: Tensor([1, 1, 1]))
        #expect(z.curvatureGradient.isIdenticallyZero && z.gradient.isIdenticallyZero)
        #expect(throws: AutodiffError.lengthMismatch(what: "the direction", expected: 3, actual: 2)) {
            try gradientOfCurvature(of: f, at: θ, along: Tensor([1, 2]))
        }
        #expect(throws: AutodiffError.lengthMismatch(what: "the parameter vector", expected: 3, actual: 4)) {
            try gradientOfCurvature(of: f, at: Tensor([1, 2, 3, 4]), along: θ)
        }
    }

    // MARK: models

    /// ⟨∇λ, d⟩ against a central difference of the dense Hessian's top eigenvalue (LAPACK) along
    /// random directions, on ReLU MLPs in Double; the pass's value, gradient and HVP equal
    /// `valueGradientAndHVP`'s, and u·∇³L[u, u, ·] equals the order-3 forward jet's 6c₃.
    @Test(arguments: [UInt64(11), 12, 13]) func eigenvalueGradientMatchesCentralDifferencesOnAnMLP(seed: UInt64) throws {
        let (f, θ) = try smallMLPLoss(seed: seed)
        let top = try denseTopEigenpair(f, at: θ)
        #expect(top.gap > 1e-3 * top.value, "seed \(seed): the top eigenvalue must be simple for ∇λ to exist; gap \(top.gap)")
        let r = try gradientOfCurvature(of: f, at: θ, along: top.vector)
        let (value, g, hv) = try valueGradientAndHVP(of: f, at: θ, along: top.vector)
        #expect(abs(r.value - value) <= 1e-14 * abs(value), "seed \(seed)")
        #expect(relativeDistance(r.gradient, g) < 1e-13, "seed \(seed)")
        #expect(relativeDistance(r.hvp, hv) < 1e-12, "seed \(seed)")
        #expect(abs(top.vector.dot(r.hvp) - top.value) < 1e-10 * top.value, "seed \(seed)")
        let c = try taylorCoefficients(of: f, at: θ, along: top.vector, order: 3)
        #expect(abs(top.vector.dot(r.curvatureGradient) - 6 * c[3]) <= 1e-10 * max(abs(6 * c[3]), 1e-8), "seed \(seed)")
        var rng = SplitMix64(seed: seed &+ 100)
        let h = 1e-5
        for _ in 0..<3 {
            let d = Tensor<Double>.randomNormal([θ.count], using: &rng).normalized()
            var plus = θ, minus = θ
            plus.addScaled(d, h)
            minus.addScaled(d, -h)
            let fd = (try denseTopEigenpair(f, at: plus).value - denseTopEigenpair(f, at: minus).value) / (2 * h)
            let jet = r.curvatureGradient.dot(d)
            #expect(abs(jet - fd) <= 1e-8 * max(r.curvatureGradient.norm(), 1e-3), "seed \(seed): ⟨∇λ, d⟩ \(jet) vs central difference \(fd)")
        }
    }

    /// The route runs through convolutions and max-pool in Float and Double; in Double its gradient
    /// and HVP equal forward-over-reverse and uᵀ∇³L[u, u, ·] the forward jet's 6c₃; Float agrees
    /// with Double.
    @Test(arguments: [UInt64(21), 22]) func cnnRouteInFloatAndDouble(seed: UInt64) throws {
        let (f, θ) = try smallCNNLoss(Double.self, seed: seed)
        var rng = SplitMix64(seed: seed)
        let u = Tensor<Double>.randomNormal([θ.count], using: &rng).normalized()
        let r = try gradientOfCurvature(of: f, at: θ, along: u)
        let (_, g, hv) = try valueGradientAndHVP(of: f, at: θ, along: u)
        #expect(relativeDistance(r.gradient, g) < 1e-13 && relativeDistance(r.hvp, hv) < 1e-12, "seed \(seed)")
        let c = try taylorCoefficients(of: f, at: θ, along: u, order: 3)
        #expect(abs(u.dot(r.curvatureGradient) - 6 * c[3]) <= 1e-10 * max(abs(6 * c[3]), 1e-8), "seed \(seed)")
        #expect(r.curvatureGradient.norm() > 0)
        let (f32, θ32) = try smallCNNLoss(Float.self, seed: seed)
        let r32 = try gradientOfCurvature(of: f32, at: θ32, along: Tensor<Float>(converting: u))
        #expect(relativeDistance(Tensor<Double>(converting: r32.curvatureGradient), r.curvatureGradient) < 1e-3, "seed \(seed)")
        #expect(relativeDistance(Tensor<Double>(converting: r32.hvp), r.hvp) < 1e-4, "seed \(seed)")
    }

    /// The chunked mean loss's route is the sum over its chunks, equal to the whole batch's; its
    /// Hessian route equals the whole batch's Hessian.
    @Test func chunkedMeanLossEqualsTheWholeBatch() throws {
        let model = MLP(sizes: [4, 5, 3])
        var rng = SplitMix64(seed: 31)
        let x = Tensor<Double>.randomNormal([7, 4], using: &rng)
        let labels = (0..<7).map { _ in rng.next(below: 3) }
        let θ = model.initialParameters(Double.self, seed: 32).scaled(by: 2)
        let u = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let chunked = try model.meanLoss(on: x, labels: labels, chunkSize: 3)
        let whole = try model.loss(on: x, labels: labels)
        let a = try chunked.gradientOfCurvature(at: θ, along: u)
        let b = try gradientOfCurvature(of: whole, at: θ, along: u)
        #expect(abs(a.value - b.value) < 1e-13 * abs(b.value))
        #expect(relativeDistance(a.gradient, b.gradient) < 1e-12 && relativeDistance(a.hvp, b.hvp) < 1e-12)
        #expect(relativeDistance(a.curvatureGradient, b.curvatureGradient) < 1e-12)
        #expect(relativeDistance(try chunked.hessian(at: θ).apply(u), try hessianVectorProduct(of: whole, at: θ, along: u)) < 1e-12)
    }

    // MARK: the probe

    /// On the quartic every field has a closed form: u = e_k, λ = a_k θ_k², ∇λ = 2a_kθ_k e_k,
    /// ∇L = a_i θ_i³/3, and after the step λ' = max_i a_i (θ_i − η a_i θ_i³/3)².
    @Test func probeOnTheQuarticMatchesItsClosedForm() throws {
        let a = [1.0, 2, 0.5, 1.5], t = [0.7, -0.9, 1.1, 0.3]
        let k = 1   // a_k θ_k² = 1.62, next 0.605 and 0.49
        let f = Quartic(a: a)
        var context = ProbeContext(of: f, at: Tensor(t), seed: 1)
        let η = 0.05
        let r = try SharpnessGradientProbe(learningRate: η, powerIterations: 200, lanczosSteps: 4, tolerance: 1e-10).measure(&context)
        let λ = a[k] * t[k] * t[k], gk = a[k] * pow(t[k], 3) / 3, dλ = 2 * a[k] * t[k]
        #expect(context.lambdaMax != nil, "the probe ran λ_max itself")
        #expect(abs(r.lambda - λ) < 1e-12 && r.residual < 1e-10 && r.converged)
        #expect(abs(r.norm - abs(dλ)) < 1e-10)
        #expect(abs(r.inner - gk * dλ) < 1e-10)
        let gNorm = (0..<4).map { pow(a[$0] * pow(t[$0], 3) / 3, 2) }.reduce(0, +).squareRoot()
        #expect(abs(r.cosine - gk * dλ / (gNorm * abs(dλ))) < 1e-10)
        #expect(r.step == η && abs(r.predicted - (λ - η * gk * dλ)) < 1e-10)
        let after = (0..<4).map { i in a[i] * pow(t[i] - η * a[i] * pow(t[i], 3) / 3, 2) }.max()!
        #expect(abs(r.measured - after) < 1e-9 * after && r.measuredConverged && r.measuredResidual < 1e-9)
    }

    /// η: the setting, else the context's learning rate, else 1/λ.
    @Test func stepSizeComesFromTheSettingTheContextOrTheCurvature() throws {
        let f = Quartic(a: [1, 2, 0.5]), θ = Tensor<Double>([0.7, -0.9, 1.1])
        var context = ProbeContext(of: f, at: θ)
        let r = try SharpnessGradientProbe().measure(&context)
        #expect(abs(r.step - 1 / r.lambda) < 1e-15)
        context.learningRate = 0.02
        #expect(try SharpnessGradientProbe().measure(&context).step == 0.02)
        #expect(try SharpnessGradientProbe(learningRate: 0.3).measure(&context).step == 0.3)
    }

    /// The predicted sharpness after a step agrees with the measured one to first order: the
    /// error falls as η² (by about 4 per halving) on a Double MLP.
    @Test(arguments: [UInt64(41), 42]) func predictionErrorShrinksQuadraticallyWithTheStep(seed: UInt64) throws {
        let (f, θ) = try smallMLPLoss(seed: seed)
        var errors: [Double] = []
        for η in [0.04, 0.02, 0.01] {
            var context = ProbeContext(of: f, at: θ, seed: seed)
            let r = try SharpnessGradientProbe(learningRate: η, powerIterations: 2000, lanczosSteps: 40, tolerance: 1e-11).measure(&context)
            #expect(r.converged && r.measuredConverged, "seed \(seed), η \(η)")
            errors.append(abs(r.measured - r.predicted))
        }
        for i in 0..<2 {
            let ratio = errors[i] / errors[i + 1]
            #expect(ratio > 3 && ratio < 5, "seed \(seed): errors \(errors)")
        }
    }

    @Test func invalidSettingsAndMissingRoutes() throws {
        do { try SharpnessGradientProbe(learningRate: -1).validate(); Issue.record("accepted η = −1") } catch {
            #expect("\(error)" == "sharpness_gradient: learningRate must be 0 (the context's learning rate) or positive and finite, got -1.0")
        }
        do { try SharpnessGradientProbe(learningRate: 0, tolerance: 0).validate(); Issue.record("accepted tolerance 0") } catch {
            #expect("\(error)".hasPrefix("sharpness_gradient: tolerance must be positive"), "\(error)")
        }
        let f = LossFunction<Double>(layout: ParameterLayout(vectorOf: 2), value: { $0.dot($0) }, valueWithGradient: { ($0.dot($0), $0.scaled(by: 2)) })
        #expect(!f.hasCurvatureGradient)
        do { _ = try f.gradientOfCurvature(at: Tensor([1, 2]), along: Tensor([1, 0])); Issue.record("no route, no error") } catch {
            #expect("\(error)".contains("no gradient-of-curvature"), "\(error)")
        }
        do { _ = try f.hessian(at: Tensor([1, 2])); Issue.record("no route, no error") } catch {
            #expect("\(error)".contains("no Hessian route"), "\(error)")
        }
    }
}

import Testing
import Autodiff
import Layers
import Tensors

/// A number system with tensors but no convolutions: `Tensor<Double>` behind a wrapper that
/// conforms to `TensorAlgebra` and not to `ConvolutionAlgebra`.
struct TensorOnly: TensorAlgebra {
    var base: Tensor<Double>
    init(_ base: Tensor<Double>) { self.base = base }

    static func + (a: TensorOnly, b: TensorOnly) -> TensorOnly { TensorOnly(a.base + b.base) }
    static func - (a: TensorOnly, b: TensorOnly) -> TensorOnly { TensorOnly(a.base - b.base) }
    static func * (a: TensorOnly, b: TensorOnly) -> TensorOnly { TensorOnly(a.base * b.base) }
    static func / (a: TensorOnly, b: TensorOnly) -> TensorOnly { TensorOnly(a.base / b.base) }
    static prefix func - (a: TensorOnly) -> TensorOnly { TensorOnly(-a.base) }
    func scaled(by factor: Double) -> TensorOnly { TensorOnly(base.scaled(by: factor)) }
    func shifted(by offset: Double) -> TensorOnly { TensorOnly(base.shifted(by: offset)) }
    func zerosLike() -> TensorOnly { TensorOnly(base.zerosLike()) }
    func onesLike() -> TensorOnly { TensorOnly(base.onesLike()) }
    var isIdenticallyZero: Bool { base.isIdenticallyZero }
    static func strongZeroProduct(_ t: TensorOnly, _ d: TensorOnly) -> TensorOnly { TensorOnly(.strongZeroProduct(t.base, d.base)) }
    static func applying<F: ElementwiseFunction>(_ f: F, to x: TensorOnly) -> TensorOnly { TensorOnly(.applying(f, to: x.base)) }
    static func applying<F: BinaryElementwiseFunction>(_ f: F, _ a: TensorOnly, _ b: TensorOnly) -> TensorOnly {
        TensorOnly(.applying(f, a.base, b.base))
    }
    func masked(wherePositive mask: TensorOnly) -> TensorOnly { TensorOnly(base.masked(wherePositive: mask.base)) }
    static func select(_ c: TensorOnly, _ a: TensorOnly, _ b: TensorOnly) -> TensorOnly { TensorOnly(.select(c.base, a.base, b.base)) }

    init(constant: Tensor<Double>) { base = constant }
    var primalTensor: Tensor<Double> { base }
    var shape: [Int] { base.shape }
    static func matmul(_ a: TensorOnly, _ b: TensorOnly, transposeA: Bool, transposeB: Bool) -> TensorOnly {
        TensorOnly(.matmul(a.base, b.base, transposeA: transposeA, transposeB: transposeB))
    }
    static func batchedMatmul(_ a: TensorOnly, _ b: TensorOnly, transposeA: Bool, transposeB: Bool) -> TensorOnly {
        TensorOnly(.batchedMatmul(a.base, b.base, transposeA: transposeA, transposeB: transposeB))
    }
    func addingRowBroadcast(_ bias: TensorOnly) -> TensorOnly { TensorOnly(base.addingRowBroadcast(bias.base)) }
    func broadcastRows(_ rows: Int) -> TensorOnly { TensorOnly(base.broadcastRows(rows)) }
    func sumRows() -> TensorOnly { TensorOnly(base.sumRows()) }
    func broadcastColumns(_ cols: Int) -> TensorOnly { TensorOnly(base.broadcastColumns(cols)) }
    func sumColumns() -> TensorOnly { TensorOnly(base.sumColumns()) }
    func sum() -> TensorOnly { TensorOnly(base.sum()) }
    func broadcast(to shape: [Int]) -> TensorOnly { TensorOnly(base.broadcast(to: shape)) }
    func reshaped(_ shape: [Int]) -> TensorOnly { TensorOnly(base.reshaped(shape)) }
    func permuted(_ axes: [Int]) -> TensorOnly { TensorOnly(base.permuted(axes)) }
    func gatherColumns(_ index: [Int]) -> TensorOnly { TensorOnly(base.gatherColumns(index)) }
    func scatterColumns(_ index: [Int], width: Int) -> TensorOnly { TensorOnly(base.scatterColumns(index, width: width)) }
    static func applying<Op: TensorFunction>(_ op: Op, to x: TensorOnly) -> TensorOnly { TensorOnly(.applying(op, to: x.base)) }
}

/// `f(θ)`, its JVP along `v`, its gradient and its HVP along `v`, each computed in a number
/// system built on `TensorOnly` from nothing but `f`'s ``TensorObjective`` conformance.
func evaluateWithoutConvolutions<O: TensorObjective>(_ f: O, at θ: Tensor<Double>, along v: Tensor<Double>) throws
    -> (value: Double, jvp: Double, gradient: Tensor<Double>, hvp: Tensor<Double>) where O.Scalar == Double {
    let p = try f.layout.split(θ), dp = try f.layout.split(v)
    let value = f(p.map { TensorOnly($0) }).base.scalar
    let jvp = f(zip(p, dp).map { Dual(primal: TensorOnly($0), tangent: TensorOnly($1)) }).tangentOrZero.base.scalar
    let tape = Tape<Dual<TensorOnly>>()
    let vars = zip(p, dp).map { tape.variable(Dual(primal: TensorOnly($0), tangent: TensorOnly($1))) }
    let y = f(vars)
    let cotangents = tape.cotangents(of: y, seed: y.value.onesLike())
    let blocks = vars.map { cotangents[$0.index]! }
    return (value, jvp, f.layout.flatten(blocks.map(\.primal.base)), f.layout.flatten(blocks.map(\.tangentOrZero.base)))
}

@Suite struct TensorOnlyAlgebraTests {
    @Test func theWrapperHasNoConvolutions() {
        #expect(!(TensorOnly.self is any ConvolutionAlgebra.Type))
        #expect(!(Dual<TensorOnly>.self is any ConvolutionAlgebra.Type))
    }

    /// (That the MLP and its loss need none is checked at compile time, by the tests below.)
    @Test func theCNNAndItsLossNeedConvolutions() {
        #expect(!(CNN.self is any TensorModel.Type))
        #expect(!(ModelLoss<CNN, Double>.self is any TensorObjective.Type))
    }

    @Test(arguments: [UInt64(1), 2, 3]) func anMLPLossRunsWithoutConvolutions(seed: UInt64) throws {
        let (f, θ) = randomMLPLoss(seed: seed)
        let plain: Tensor<Double> = f(try f.layout.split(θ))
        let wrapped: TensorOnly = f(try f.layout.split(θ).map { TensorOnly($0) })
        #expect(wrapped.shape == plain.shape)
        #expect(wrapped.base.scalar == plain.scalar, "seed \(seed)")
        #expect(wrapped.base.scalar == (try value(of: f, at: θ)), "seed \(seed)")
    }

    @Test func anMLPLossInChunksRunsWithoutConvolutions() throws {
        var (f, θ) = randomMLPLoss(seed: 4, batch: 7)
        f.chunkRows = 3
        let wrapped: TensorOnly = f(try f.layout.split(θ).map { TensorOnly($0) })
        #expect(wrapped.base.scalar == (try value(of: f, at: θ)))
    }

    /// Every derivative of the MLP's loss, in number systems without convolutions, equals the
    /// package's own (which run on `Tensor`, a `ConvolutionAlgebra`): the same operations in the
    /// same order.
    @Test(arguments: [UInt64(5), 6]) func derivativesOfAnMLPLossWithoutConvolutions(seed: UInt64) throws {
        let (f, θ) = randomMLPLoss(seed: seed)
        var rng = SplitMix64(seed: seed &+ 100)
        let v = Tensor<Double>.randomNormal([θ.count], using: &rng)
        let r = try evaluateWithoutConvolutions(f, at: θ, along: v)
        let (value, derivative) = try jvp(of: f, at: θ, along: v)
        let (_, gradient, hvp) = try valueGradientAndHVP(of: f, at: θ, along: v)
        #expect(r.value == value && r.jvp == derivative, "seed \(seed)")
        #expect(r.gradient.scalars == gradient.scalars, "seed \(seed)")
        #expect(r.hvp.scalars == hvp.scalars, "seed \(seed)")
    }

    /// An objective written over `TensorAlgebra` outside the package is a `TensorObjective` too.
    @Test func anObjectiveOverTensorAlgebraRunsWithoutConvolutions() throws {
        struct SumOfSquares: TensorObjective {
            typealias Scalar = Double
            let layout = ParameterLayout([(name: "w", shape: [3])])
            func callAsFunction<A: TensorAlgebra>(_ p: [A]) -> A where A.Scalar == Double { (p[0] * p[0]).sum() }
        }
        let θ = Tensor<Double>([1, -2, 3]), v = Tensor<Double>([1, 0, 1])
        let r = try evaluateWithoutConvolutions(SumOfSquares(), at: θ, along: v)
        #expect(r.value == 14 && r.jvp == 8)
        #expect(r.gradient.scalars == [2, -4, 6] && r.hvp.scalars == [2, 0, 2])
        #expect(r.value == (try value(of: SumOfSquares(), at: θ)))
    }
}

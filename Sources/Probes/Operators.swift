import Autodiff
import Tensors

/// A symmetric linear operator `A` on vectors of length ``dimension``: what every probe
/// (power iteration, Lanczos, Hutchinson, Hutch++, SLQ, the Frobenius and diagonal estimators,
/// dense materialization) needs. The Hessian of an objective, the Gauss–Newton matrix, the
/// empirical Fisher, a block of any of them, a weighted sum over data chunks, and a plain
/// symmetric matrix conform (as curvlinops' linear operators and JAX's `linearize`).
public protocol SymmetricOperator {
    /// The element type of the vectors.
    associatedtype Scalar: TensorScalar
    /// d: the length of the vectors `apply` takes and returns.
    var dimension: Int { get }
    /// `A v` for `v` of length d.
    /// - Throws: ``/Autodiff/AutodiffError`` for a wrong length or a non-finite product.
    func apply(_ v: Tensor<Scalar>) throws -> Tensor<Scalar>
    /// `[A v₁, …, A v_k]`, each equal to ``apply(_:)`` of its vector to round-off; the default
    /// applies the vectors one by one, ``HessianOperator`` pushes k tangents through one replay.
    func apply(block vectors: [Tensor<Scalar>]) throws -> [Tensor<Scalar>]
}

extension SymmetricOperator {
    public func apply(block vectors: [Tensor<Scalar>]) throws -> [Tensor<Scalar>] { try vectors.map { try apply($0) } }

    /// Checks a vector's length against ``dimension``.
    /// - Throws: ``/Autodiff/AutodiffError/lengthMismatch(what:expected:actual:)``.
    public func validate(_ v: Tensor<Scalar>, as what: String = "the vector") throws {
        guard v.count == dimension else { throw AutodiffError.lengthMismatch(what: what, expected: dimension, actual: v.count) }
    }

    /// The dense d×d matrix (Double), symmetrized as (A + Aᵀ)/2 against round-off: d products.
    /// - Throws: ``/Autodiff/AutodiffError/tooLarge(parameters:limit:)`` above `limit` (raise it to allow
    ///   d² memory and d products).
    public func dense(limit: Int = 4096) throws -> Tensor<Double> {
        let d = dimension
        guard d <= limit else { throw AutodiffError.tooLarge(parameters: d, limit: limit) }
        var a = [Double](repeating: 0, count: d * d)
        for j in 0..<d {
            var e = Tensor<Scalar>.zeros([d])
            e.withUnsafeMutablePointer { $0[j] = 1 }
            let col = try apply(e)
            for i in 0..<d { a[i * d + j] = Double(col.scalars[i]) }
        }
        for i in 0..<d { for j in 0..<i {
            let s = 0.5 * (a[i * d + j] + a[j * d + i]); a[i * d + j] = s; a[j * d + i] = s
        } }
        return Tensor(shape: [d, d], scalars: a)
    }

    /// All eigenvalues (ascending) of the dense matrix: ``dense(limit:)`` and LAPACK `dsyevd`.
    public func spectrum(limit: Int = 4096) throws -> [Double] { try LAPACK.symmetricEigen(dense(limit: limit)).values }
}

/// A plain symmetric matrix as an operator, e.g. to test the probes on known spectra.
public struct SymmetricMatrix<E: TensorScalar>: SymmetricOperator {
    public typealias Scalar = E
    /// The matrix, `[d, d]`.
    public let matrix: Tensor<E>
    public var dimension: Int { matrix.shape[0] }

    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` unless `matrix` is square, finite and
    ///   symmetric to round-off (|a_ij − a_ji| ≤ 1e-12·max|a|).
    public init(_ matrix: Tensor<E>) throws {
        guard matrix.rank == 2, matrix.shape[0] == matrix.shape[1], matrix.shape[0] > 0 else {
            throw AutodiffError.invalidArgument("SymmetricMatrix: expected a non-empty square matrix, got shape \(matrix.shape)")
        }
        let d = matrix.shape[0], a = matrix.scalars
        guard a.allSatisfy({ $0.isFinite }) else { throw AutodiffError.invalidArgument("SymmetricMatrix: the matrix has non-finite entries") }
        let scale = a.map { Double($0.magnitude) }.max() ?? 0
        for i in 0..<d { for j in 0..<i where abs(Double(a[i * d + j]) - Double(a[j * d + i])) > 1e-12 * scale {
            throw AutodiffError.invalidArgument("SymmetricMatrix: entries (\(i), \(j)) and (\(j), \(i)) differ: \(a[i * d + j]) vs \(a[j * d + i])")
        } }
        self.matrix = matrix
    }

    /// The diagonal matrix diag(values).
    public init(diagonal values: [Double]) throws {
        let d = values.count
        var a = [E](repeating: 0, count: d * d)
        for i in 0..<d { a[i * d + i] = E(values[i]) }
        try self.init(Tensor(shape: [d, d], scalars: a))
    }

    public func apply(_ v: Tensor<E>) throws -> Tensor<E> {
        try validate(v)
        return Tensor.matmul(matrix, v.reshaped([dimension, 1])).reshaped([dimension])
    }
}

/// The Hessian ∇²f(θ) of an objective at a point, linearized once (``/Autodiff/LinearizedHessian``):
/// building it runs the primal forward and reverse pass and records its intermediates; each
/// product then computes only the tangents of the forward-over-reverse pass (Pearlmutter 1994).
public struct HessianOperator<O: Objective>: SymmetricOperator {
    public typealias Scalar = O.Scalar
    /// The objective f.
    public var objective: O { linearization.objective }
    /// θ (length d).
    public var point: Tensor<O.Scalar> { linearization.point }
    /// The recorded pass, with f(θ) and ∇f(θ).
    public let linearization: LinearizedHessian<O>
    public var dimension: Int { point.count }

    /// - Throws: ``/Autodiff/AutodiffError/lengthMismatch(what:expected:actual:)`` if θ does not fit the layout.
    public init(of objective: O, at θ: Tensor<O.Scalar>) throws {
        try objective.layout.validate(θ)
        linearization = try LinearizedHessian(of: objective, at: θ)
    }

    public func apply(_ v: Tensor<O.Scalar>) throws -> Tensor<O.Scalar> {
        try finite(try linearization.apply(v), "the Hessian-vector product")
    }

    /// The products in replays of up to ``ProbeLimits/tangentsPerPass`` tangents each
    /// (``/Autodiff/LinearizedHessian/apply(block:)``): equal to ``apply(_:)`` vector by vector to
    /// round-off.
    public func apply(block vectors: [Tensor<O.Scalar>]) throws -> [Tensor<O.Scalar>] {
        for v in vectors { try validate(v, as: "the direction") }
        var out: [Tensor<O.Scalar>] = []
        out.reserveCapacity(vectors.count)
        for start in stride(from: 0, to: vectors.count, by: ProbeLimits.tangentsPerPass) {
            let part = Array(vectors[start..<min(start + ProbeLimits.tangentsPerPass, vectors.count)])
            out += try (part.count == 1 ? [linearization.apply(part[0])] : linearization.apply(block: part)).map { try finite($0, "the Hessian-vector product") }
        }
        return out
    }
}

/// An operator restricted to some coordinates: P A Pᵀ for the selection P of `ranges` (e.g. one
/// layer's entries of a ``/Autodiff/ParameterLayout``), of dimension the total length of the ranges.
public struct RestrictedOperator<Base: SymmetricOperator>: SymmetricOperator {
    public typealias Scalar = Base.Scalar
    /// The unrestricted operator.
    public let base: Base
    /// Disjoint, ascending ranges of the base's coordinates.
    public let ranges: [Range<Int>]
    public var dimension: Int { ranges.reduce(0) { $0 + $1.count } }

    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` for empty, overlapping, unsorted or
    ///   out-of-range ranges.
    public init(_ base: Base, ranges: [Range<Int>]) throws {
        guard !ranges.isEmpty, ranges.allSatisfy({ !$0.isEmpty && $0.lowerBound >= 0 && $0.upperBound <= base.dimension }),
              zip(ranges, ranges.dropFirst()).allSatisfy({ $0.upperBound <= $1.lowerBound }) else {
            throw AutodiffError.invalidArgument("block: the ranges \(ranges) must be non-empty, ascending, disjoint and inside 0..<\(base.dimension)")
        }
        self.base = base; self.ranges = ranges
    }

    /// The block of a layout's entries named in `names` (e.g. `["fc1.weight", "fc1.bias"]`).
    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` naming an unknown entry.
    public init(_ base: Base, entries names: [String], of layout: ParameterLayout) throws {
        let entries = try names.map { name in
            guard let e = layout.entry(named: name) else {
                throw AutodiffError.invalidArgument("block: no parameter named '\(name)'; known: \(layout.entries.map(\.name).joined(separator: ", "))")
            }
            return e
        }
        try self.init(base, ranges: entries.map(\.range).sorted { $0.lowerBound < $1.lowerBound })
    }

    /// `Pᵀ x`: `x` placed at the ranges of a zero vector of the base's dimension.
    func embed(_ x: Tensor<Scalar>) -> Tensor<Scalar> {
        var full = [Scalar](repeating: 0, count: base.dimension), k = 0
        for r in ranges { for i in r { full[i] = x.scalars[k]; k += 1 } }
        return Tensor(full)
    }

    /// `P y`: the ranges' coordinates of `y`.
    func extract(_ y: Tensor<Scalar>) -> Tensor<Scalar> { Tensor(ranges.flatMap { Array(y.scalars[$0]) }) }

    public func apply(_ v: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try validate(v)
        return extract(try base.apply(embed(v)))
    }

    /// The base's block product of the embedded vectors.
    public func apply(block vectors: [Tensor<Scalar>]) throws -> [Tensor<Scalar>] {
        for v in vectors { try validate(v) }
        return try base.apply(block: vectors.map(embed)).map(extract)
    }
}

/// The layers of a layout: entries grouped by the name before the last dot ("fc1.weight" and
/// "fc1.bias" form "fc1"), in θ order.
public func layerBlocks(of layout: ParameterLayout) -> [(name: String, entries: [String])] {
    var blocks: [(name: String, entries: [String])] = []
    for e in layout.entries {
        let layer = e.name.split(separator: ".").dropLast().joined(separator: ".")
        let name = layer.isEmpty ? e.name : layer
        if let i = blocks.firstIndex(where: { $0.name == name }) { blocks[i].entries.append(e.name) } else { blocks.append((name, [e.name])) }
    }
    return blocks
}

/// The block-diagonal part of an operator: Σ_b P_bᵀ P_b A P_bᵀ P_b over disjoint blocks (e.g. the
/// layers), the curvature with all cross-layer terms dropped (as K-FAC's block structure).
public struct BlockDiagonalOperator<Base: SymmetricOperator>: SymmetricOperator {
    public typealias Scalar = Base.Scalar
    /// The diagonal blocks, disjoint and together covering every coordinate.
    public let blocks: [RestrictedOperator<Base>]
    public var dimension: Int { blocks[0].base.dimension }

    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` for no blocks, blocks of different bases'
    ///   dimensions or overlapping blocks.
    public init(_ blocks: [RestrictedOperator<Base>]) throws {
        guard let first = blocks.first else { throw AutodiffError.invalidArgument("block-diagonal operator: no blocks") }
        let all = blocks.flatMap(\.ranges).sorted { $0.lowerBound < $1.lowerBound }
        guard blocks.allSatisfy({ $0.base.dimension == first.base.dimension }),
              zip(all, all.dropFirst()).allSatisfy({ $0.upperBound <= $1.lowerBound }) else {
            throw AutodiffError.invalidArgument("block-diagonal operator: the blocks overlap or belong to operators of different sizes")
        }
        self.blocks = blocks
    }

    public func apply(_ v: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try validate(v)
        var out = [Scalar](repeating: 0, count: dimension)
        for b in blocks {
            let y = try b.apply(b.extract(v))
            var k = 0
            for r in b.ranges { for i in r { out[i] += y.scalars[k]; k += 1 } }
        }
        return Tensor(out)
    }

    /// Each block's block product of the vectors' parts, placed back.
    public func apply(block vectors: [Tensor<Scalar>]) throws -> [Tensor<Scalar>] {
        for v in vectors { try validate(v) }
        var out = vectors.map { _ in [Scalar](repeating: 0, count: dimension) }
        for b in blocks {
            let ys = try b.apply(block: vectors.map(b.extract))
            for (j, y) in ys.enumerated() {
                var k = 0
                for r in b.ranges { for i in r { out[j][i] += y.scalars[k]; k += 1 } }
            }
        }
        return out.map { Tensor($0) }
    }
}

/// How a ``ChunkedOperator`` holds its chunks' operators.
public enum ChunkRecords: String, Codable, Sendable, CaseIterable {
    /// Each product rebuilds each chunk's operator (for the Hessian: re-records its forward and
    /// reverse pass), so only one chunk's record exists at a time: memory of one chunk, about
    /// 1.7× the time per product of `kept`.
    case streamed
    /// Every chunk's operator is built once and kept: products replay the records, memory grows
    /// with the data.
    case kept
}

/// Σ_i w_i A_i over chunks of data (``/Autodiff/RowChunks``, w_i = n_i/n), A_i the curvature of chunk i's
/// mean loss: the curvature of the mean loss over all rows, as curvlinops' `_loop_over_data`.
/// Every curvature operator over a data set (Hessian, Gauss–Newton, Fisher, their blocks) is one.
public struct ChunkedOperator<Part: SymmetricOperator>: SymmetricOperator {
    public typealias Scalar = Part.Scalar
    /// The chunks of rows, each weighted by its share n_i/N.
    public let chunks: RowChunks
    /// Whether each chunk's operator is kept or rebuilt per product.
    public let records: ChunkRecords
    public let dimension: Int
    let make: (Range<Int>) throws -> Part
    let kept: [Part]

    /// - Parameter make: the operator of the chunk of rows given; it is called once per chunk
    ///   (`kept`) or once per chunk and product (`streamed`).
    /// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)`` for chunks whose operators differ in
    ///   dimension; `make`'s errors.
    public init(chunks: RowChunks, records: ChunkRecords = .kept, make: @escaping (Range<Int>) throws -> Part) throws {
        let first = try make(chunks[0])
        self.chunks = chunks; self.records = records; self.make = make; self.dimension = first.dimension
        var kept: [Part] = []
        if records == .kept || chunks.count == 1 {
            kept = [first]
            for i in chunks.indices.dropFirst() {
                let part = try make(chunks[i])
                guard part.dimension == first.dimension else {
                    throw AutodiffError.invalidArgument("chunked operator: chunk \(i) has dimension \(part.dimension), chunk 0 \(first.dimension)")
                }
                kept.append(part)
            }
        }
        self.kept = kept
    }

    /// The operator of chunk `i`.
    func part(_ i: Int) throws -> Part {
        if i < kept.count { return kept[i] }
        let part = try make(chunks[i])
        guard part.dimension == dimension else {
            throw AutodiffError.invalidArgument("chunked operator: chunk \(i) has dimension \(part.dimension), expected \(dimension)")
        }
        return part
    }

    public func apply(_ v: Tensor<Scalar>) throws -> Tensor<Scalar> {
        try validate(v)
        return try chunks.weightedSum { i, _ in try part(i).apply(v) }
    }

    /// One pass over the chunks for all vectors: a streamed chunk is built once per block.
    public func apply(block vectors: [Tensor<Scalar>]) throws -> [Tensor<Scalar>] {
        for v in vectors { try validate(v) }
        guard !vectors.isEmpty else { return [] }
        var totals: [Tensor<Scalar>] = []
        for i in chunks.indices {
            let ys = try part(i).apply(block: vectors), w = chunks.weight(i)
            if chunks.count == 1 { return ys }
            if totals.isEmpty { totals = ys.map { $0.scaled(by: w) } } else { for k in ys.indices { totals[k].addScaled(ys[k], Scalar(w)) } }
        }
        return totals
    }
}

/// Any symmetric operator of scalar `E`, behind one type (e.g. the curvature a probe is given,
/// whichever kind and chunking it is).
public struct AnySymmetricOperator<E: TensorScalar>: SymmetricOperator {
    public typealias Scalar = E
    public let dimension: Int
    let product: (Tensor<E>) throws -> Tensor<E>
    let blockProduct: ([Tensor<E>]) throws -> [Tensor<E>]

    /// Wraps `base`.
    public init<A: SymmetricOperator>(_ base: A) where A.Scalar == E {
        dimension = base.dimension
        product = base.apply
        blockProduct = { try base.apply(block: $0) }
    }

    public func apply(_ v: Tensor<E>) throws -> Tensor<E> { try product(v) }
    public func apply(block vectors: [Tensor<E>]) throws -> [Tensor<E>] { try blockProduct(vectors) }
}

/// `y` if every element is finite, else an error naming the product (`what`, e.g. "the Hessian-vector product").
/// - Throws: ``/Autodiff/AutodiffError/invalidArgument(_:)``.
public func finite<E: TensorScalar>(_ y: Tensor<E>, _ what: String) throws -> Tensor<E> {
    guard y.norm().isFinite else { throw AutodiffError.invalidArgument("\(what) is not finite") }
    return y
}


/// λ_max, λ_min and the trace of one diagonal block of a curvature operator.
public struct BlockCurvature: Sendable {
    /// The block's name (a layer's, from ``layerBlocks(of:)``).
    public let name: String
    /// The block's dimension.
    public let parameters: Int
    /// The largest and smallest Ritz values of a Lanczos run on the block, with their residuals.
    public let lambdaMax: RitzPair<Double>, lambdaMin: RitzPair<Double>
    /// Hutchinson's trace of the block and its standard error.
    public let trace: Double, traceStandardError: Double
}

/// The curvature of each block (e.g. ``layerBlocks(of:)``) of an operator over a layout: a
/// Lanczos run of `steps` steps (capped at the block's size) for each of λ_max and λ_min, and the
/// trace from `traceProbes` Hutchinson products of the whole operator split by block (``blockTraces(of:blocks:probes:seed:)``).
/// - Throws: ``/Autodiff/AutodiffError`` for unknown entries or invalid options; product errors.
public func blockCurvature<A: SymmetricOperator>(of op: A, blocks: [(name: String, entries: [String])], layout: ParameterLayout,
                                                 steps: Int = 30, traceProbes: Int = 10, seed: UInt64 = 0) throws -> [BlockCurvature] {
    guard layout.parameterCount == op.dimension else {
        throw AutodiffError.lengthMismatch(what: "the operator", expected: layout.parameterCount, actual: op.dimension)
    }
    let restricted = try blocks.map { try RestrictedOperator(op, entries: $0.entries, of: layout) }
    let traces = try blockTraces(of: op, blocks: restricted.map(\.ranges), probes: max(traceProbes, 2), seed: seed &+ 1)
    return try zip(blocks, zip(restricted, traces)).map { block, rt in
        let (restricted, (t, se)) = rt
        let d = restricted.dimension
        let runs = try lanczos(of: restricted, starts: [LanczosStart(seed: seed), LanczosStart(seed: seed &+ 2, target: .smallestAlgebraic)],
                               count: 1, steps: min(max(steps, 2), d))
        let (run, low) = (runs[0], runs[1])
        func double(_ p: RitzPair<A.Scalar>) -> RitzPair<Double> {
            RitzPair(value: p.value, vector: Tensor<Double>(converting: p.vector), residualNorm: p.residualNorm, converged: p.converged)
        }
        return BlockCurvature(name: block.name, parameters: d, lambdaMax: double(run.pairs[0]), lambdaMin: double(low.pairs[0]),
                              trace: t, traceStandardError: se)
    }
}

import Autodiff
import Probes
import Tensors

/// A model whose first layer's pre-activation is affine in the parameters, so that a loss
/// slice's grid can share it: X(W + αU + βV)ᵀ + (b + αb_u + βb_v) = A + αB + βC with A, B, C
/// computed once (three GEMMs over the batch), and each grid point costs only the layers after
/// the first (for the study's MLP that first layer is 75 % of the forward FLOPs).
public protocol PlaneModel: Model {
    /// `losses[i][j]` = the mean cross-entropy on one chunk of rows at θ + alphas[i]·u + betas[j]·v,
    /// or `nil` when this model has no such shortcut (its first layer is not linear).
    /// - Throws: ``/Autodiff/AutodiffError`` for vectors of the wrong length.
    func lossesOnPlane<E: TensorScalar>(_ θ: Tensor<E>, u: Tensor<E>, v: Tensor<E>, alphas: [Double], betas: [Double],
                                        rows input: Tensor<E>, labels: [Int]) throws -> [[Double]]?
}

extension ModelLoss: PlaneEvaluable where M: PlaneModel {
    /// The grid over the chunks of ``chunkRows`` (one chunk for a model that couples its
    /// samples), weighted n_i/N; point by point when the model has no shortcut.
    public func lossesOnPlane(_ θ: Tensor<E>, u: Tensor<E>, v: Tensor<E>, alphas: [Double], betas: [Double]) throws -> [[Double]] {
        let chunks = RowChunks(rows: labels.count, size: model.couplesSamples ? 0 : chunkRows)
        var total = [[Double]](repeating: [Double](repeating: 0, count: betas.count), count: alphas.count)
        for i in chunks.indices {
            let r = chunks[i]
            let (x, y) = chunks.count == 1 ? (input, labels) : (input.rows(r), Array(labels[r]))
            guard let part = try model.lossesOnPlane(θ, u: u, v: v, alphas: alphas, betas: betas, rows: x, labels: y) else {
                return try alphas.map { a in
                    try betas.map { b in
                        var p = θ
                        p.addScaled(u, E(a)); p.addScaled(v, E(b))
                        return Double(try Autodiff.value(of: self, at: p))
                    }
                }
            }
            for a in alphas.indices { for b in betas.indices { total[a][b] += chunks.weight(i) * part[a][b] } }
        }
        return total
    }
}

extension MLP: PlaneModel {
    /// The shortcut, always available (every MLP starts with a linear layer).
    public func lossesOnPlane<E: TensorScalar>(_ θ: Tensor<E>, u: Tensor<E>, v: Tensor<E>, alphas: [Double], betas: [Double],
                                               rows input: Tensor<E>, labels: [Int]) throws -> [[Double]]? {
        let p = try layout.split(θ), pu = try layout.split(u, as: "the direction u"), pv = try layout.split(v, as: "the direction v")
        let first = layers[0]
        let a = first(input, weight: p[0], bias: p[1])
        let b = first(input, weight: pu[0], bias: pu[1])
        let c = first(input, weight: pv[0], bias: pv[1])
        var losses: [[Double]] = []
        for alpha in alphas {
            var row: [Double] = []
            for beta in betas {
                var h = a
                h.addScaled(b, E(alpha))
                h.addScaled(c, E(beta))
                for (k, layer) in layers.enumerated().dropFirst() {
                    h = h.relu()
                    var w = p[2 * k], bias = p[2 * k + 1]
                    w.addScaled(pu[2 * k], E(alpha)); w.addScaled(pv[2 * k], E(beta))
                    bias.addScaled(pu[2 * k + 1], E(alpha)); bias.addScaled(pv[2 * k + 1], E(beta))
                    h = layer(h, weight: w, bias: bias)
                }
                row.append(Double(softmaxCrossEntropy(logits: h, labels: labels).scalar))
            }
            losses.append(row)
        }
        return losses
    }
}

extension SpecModel: PlaneModel {
    /// The shortcut when the first layer is linear on `[F]` inputs (the mlp preset and compact
    /// mlp forms: for the preset the operations, and so the numbers, of ``MLP``'s); `nil` otherwise.
    public func lossesOnPlane<E: TensorScalar>(_ θ: Tensor<E>, u: Tensor<E>, v: Tensor<E>, alphas: [Double], betas: [Double],
                                               rows input: Tensor<E>, labels: [Int]) throws -> [[Double]]? {
        guard case let .linear(first)? = steps.first, inputShape.count == 1 else { return nil }
        try checkEvaluable()
        let p = try layout.split(θ), pu = try layout.split(u, as: "the direction u"), pv = try layout.split(v, as: "the direction v")
        func linear(_ w: [Tensor<E>]) -> Tensor<E> {
            Tensor.matmul(input, w[first.weight], transposeA: false, transposeB: true).addingRowBroadcast(w[first.bias])
        }
        let a = linear(p), b = linear(pu), c = linear(pv)
        let rest = 1..<steps.count, keys = dropoutSeed == nil ? [] : Self.rowKeys(input)
        var losses: [[Double]] = []
        for alpha in alphas {
            var row: [Double] = []
            for beta in betas {
                var h = a
                h.addScaled(b, E(alpha))
                h.addScaled(c, E(beta))
                let point: [Tensor<E>] = p.indices.map { k in
                    var w = p[k]
                    w.addScaled(pu[k], E(alpha)); w.addScaled(pv[k], E(beta))
                    return w
                }
                row.append(Double(softmaxCrossEntropy(logits: run(point, h, steps: rest, rows: keys), labels: labels).scalar))
            }
            losses.append(row)
        }
        return losses
    }
}

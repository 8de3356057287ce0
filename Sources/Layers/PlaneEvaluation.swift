import Autodiff
import Probes
import Tensors

extension ModelLoss: PlaneEvaluable where M == MLP {
    /// For an MLP the first layer's pre-activation is affine in the parameters:
    /// X(W + αU + βV)ᵀ + (b + αb_u + βb_v) = A + αB + βC with A, B, C computed once (three GEMMs
    /// over the batch), so each grid point costs only the layers after the first (for the study's
    /// MLP that first layer is 75 % of the forward FLOPs).
    public func lossesOnPlane(_ θ: Tensor<E>, u: Tensor<E>, v: Tensor<E>, alphas: [Double], betas: [Double]) throws -> [[Double]] {
        guard chunkRows > 0, labels.count > chunkRows else { return try lossesOnPlane(θ, u: u, v: v, alphas: alphas, betas: betas, rows: input, labels: labels) }
        let chunks = RowChunks(rows: labels.count, size: chunkRows)
        var total = [[Double]](repeating: [Double](repeating: 0, count: betas.count), count: alphas.count)
        for i in chunks.indices {
            let r = chunks[i]
            let part = try lossesOnPlane(θ, u: u, v: v, alphas: alphas, betas: betas, rows: input.rows(r), labels: Array(labels[r]))
            for a in alphas.indices { for b in betas.indices { total[a][b] += chunks.weight(i) * part[a][b] } }
        }
        return total
    }

    func lossesOnPlane(_ θ: Tensor<E>, u: Tensor<E>, v: Tensor<E>, alphas: [Double], betas: [Double], rows input: Tensor<E>, labels: [Int]) throws -> [[Double]] {
        let p = try layout.split(θ), pu = try layout.split(u, as: "the direction u"), pv = try layout.split(v, as: "the direction v")
        let first = model.layers[0]
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
                for (k, layer) in model.layers.enumerated().dropFirst() {
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

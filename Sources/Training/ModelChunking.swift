import Layers

extension BatchChunking {
    /// Rows per chunk of a probe batch for `model` when it has a measured preference, `nil` when
    /// not: 64 for a model with convolutions (the CNN's Hessian-vector product costs less per
    /// sample in chunks of 64; Notes/probes.md), none otherwise. (A model whose loss couples the
    /// samples, BatchNorm in train mode, is never chunked: ``/Layers/Model/couplesSamples``.)
    public static func preferredRows(for model: ModelSpec) -> Int? {
        func convolves(_ layers: [LayerSpec]) -> Bool {
            layers.contains { layer in
                switch layer {
                case .conv2d: return true
                case let .residual(body, _): return convolves(body)
                default: return false
                }
            }
        }
        return convolves(model.layers) ? 64 : nil
    }

    /// Rows per chunk for `model`: its ``preferredRows(for:)``, else 512.
    public static func rows(for model: ModelSpec) -> Int { preferredRows(for: model) ?? 512 }
}

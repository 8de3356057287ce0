import Autodiff
import Foundation
import Layers
import Optimizers
import Probes
import Tensors

// Plain release benchmark: warm-up, then the median of repeated runs. Reports ratios
// measured in this run (GFLOP/s relative to sgemm, HVP time / gradient time), and the
// OpenBLAS kernel. Usage: landscape-benchmarks [--quick] [--json FILE] [--markdown FILE]

BLASRuntime.ensureFastKernel()

let args = CommandLine.arguments
let quick = args.contains("--quick")
func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Median seconds of `body` over `repeats` runs after `warmup` runs (at least `minTime` seconds in total).
func measure(warmup: Int = 2, repeats: Int = 7, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    for _ in 0..<(quick ? 3 : repeats) {
        let t0 = now()
        try body()
        times.append(now() - t0)
    }
    times.sort()
    return times[times.count / 2]
}

struct Row: Codable {
    var model: String
    var workload: String
    var precision: String
    var batch: Int
    var medianSeconds: Double
    var gflops: Double?
    var fractionOfGemm: Double?
    var ratioToGradient: Double?
}

var rows: [Row] = []

// GEMM throughput of this machine in this run (1024×1024).
func gemmThroughput<E: TensorScalar>(_: E.Type) -> Double {
    var rng = SplitMix64(seed: 1)
    let a = Tensor<E>.randomNormal([1024, 1024], using: &rng), b = Tensor<E>.randomNormal([1024, 1024], using: &rng)
    let t = measure(repeats: 9) { _ = Tensor.matmul(a, b) }
    return 2 * 1024 * 1024 * 1024 / t / 1e9
}
let sgemm = gemmThroughput(Float.self)
let dgemm = gemmThroughput(Double.self)
print("OpenBLAS kernel: \(BLASRuntime.coreName), threads: \(BLASRuntime.threadCount)")
print(String(format: "sgemm 1024: %.1f GFLOP/s, dgemm 1024: %.1f GFLOP/s", sgemm, dgemm))

/// FLOPs of the MLP's GEMMs: forward 2·N·Σ in·out; gradient = 3× forward (forward + two backward GEMMs per layer, minus the input's);
/// counted as forward ×3 for simplicity (the first layer's input gradient is not computed, so this slightly overcounts).
func mlpForwardFlops(_ m: MLP, batch: Int) -> Double {
    zip(m.sizes, m.sizes.dropFirst()).reduce(0.0) { $0 + 2 * Double(batch) * Double($1.0) * Double($1.1) }
}

func benchMLP<E: TensorScalar>(_: E.Type, batch: Int, gemmRate: Double, hvpOnly: Bool) throws {
    let m = MLP()
    var rng = SplitMix64(seed: 7)
    let x = Tensor<E>.randomUniform([batch, 784], bound: 1, using: &rng).affine(scale: 0.5, shift: 0.5)
    let labels = (0..<batch).map { _ in rng.next(below: 10) }
    let θ = m.initialParameters(E.self, seed: 1)
    let v = Tensor<E>.randomNormal([θ.count], using: &rng)
    let f = try m.loss(on: x, labels: labels)
    let fwd = mlpForwardFlops(m, batch: batch)
    // First layer: no input gradient, so gradient = forward + 2·forward − (first layer forward).
    let first = 2 * Double(batch) * 784 * 256
    let gradFlops = 3 * fwd - first
    let prec = E.self == Float.self ? "f32" : "f64"
    let tg = try measure { _ = try valueWithGradient(of: f, at: θ) }
    if !hvpOnly {
        let tl = try measure { _ = try value(of: f, at: θ) }
        rows.append(Row(model: "mlp", workload: "loss", precision: prec, batch: batch, medianSeconds: tl, gflops: fwd / tl / 1e9, fractionOfGemm: fwd / tl / 1e9 / gemmRate))
    }
    rows.append(Row(model: "mlp", workload: "value+gradient", precision: prec, batch: batch, medianSeconds: tg, gflops: gradFlops / tg / 1e9, fractionOfGemm: gradFlops / tg / 1e9 / gemmRate, ratioToGradient: 1))
    let th = try measure { _ = try valueGradientAndHVP(of: f, at: θ, along: v) }
    rows.append(Row(model: "mlp", workload: "HVP (fwd-over-rev)", precision: prec, batch: batch, medianSeconds: th, ratioToGradient: th / tg))
    if !hvpOnly {
        var opt = try SGD<E>(parameterCount: θ.count, learningRate: 0.01, momentum: 0.9)
        var p = θ
        let ts = try measure {
            let g = try gradient(of: f, at: p)
            try opt.update(&p, gradient: g)
        }
        rows.append(Row(model: "mlp", workload: "SGD step", precision: prec, batch: batch, medianSeconds: ts, ratioToGradient: ts / tg))
    }
}

for batch in (quick ? [64, 2048] : [64, 512, 2048]) {
    try benchMLP(Float.self, batch: batch, gemmRate: sgemm, hvpOnly: false)
    try benchMLP(Double.self, batch: batch, gemmRate: dgemm, hvpOnly: true)
}

// λ_max by 20 power iterations on 512 samples.
do {
    let m = MLP()
    var rng = SplitMix64(seed: 9)
    let x = Tensor<Float>.randomUniform([512, 784], bound: 1, using: &rng)
    let f = try m.loss(on: x, labels: (0..<512).map { _ in rng.next(below: 10) })
    let θ = m.initialParameters(Float.self, seed: 1)
    let t = try measure(warmup: 1, repeats: 3) { _ = try powerIteration(of: f, at: θ, maxIterations: 20, tolerance: 1e-12) }
    let tg = try measure { _ = try valueWithGradient(of: f, at: θ) }
    rows.append(Row(model: "mlp", workload: "lambda_max (20 power its)", precision: "f32", batch: 512, medianSeconds: t, ratioToGradient: t / tg))
}

var md = "OpenBLAS kernel: \(BLASRuntime.coreName), threads: \(BLASRuntime.threadCount); sgemm \(String(format: "%.1f", sgemm)) GFLOP/s, dgemm \(String(format: "%.1f", dgemm)) GFLOP/s (1024×1024, this run)\n\n"
md += "| model | workload | precision | batch | median (ms) | GFLOP/s | of gemm | time / gradient |\n|---|---|---|---|---|---|---|---|\n"
for r in rows {
    let g = r.gflops.map { String(format: "%.1f", $0) } ?? ""
    let fr = r.fractionOfGemm.map { String(format: "%.0f%%", 100 * $0) } ?? ""
    let rt = r.ratioToGradient.map { String(format: "%.2f", $0) } ?? ""
    md += "| \(r.model) | \(r.workload) | \(r.precision) | \(r.batch) | \(String(format: "%.3f", r.medianSeconds * 1000)) | \(g) | \(fr) | \(rt) |\n"
}
print(md)
if let path = option("--markdown") { try md.write(toFile: path, atomically: true, encoding: .utf8) }
if let path = option("--json") {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    try enc.encode(rows).write(to: URL(fileURLWithPath: path))
}

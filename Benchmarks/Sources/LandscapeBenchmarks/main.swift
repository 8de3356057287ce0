import Autodiff
import Checkpoints
import Datasets
import Foundation
import Layers
import Optimizers
import Probes
import Tensors
import Training

// Plain release benchmark: warm-up, then the median of repeated runs. Reports ratios
// measured in this run (GFLOP/s relative to sgemm, HVP time / gradient time), and the
// OpenBLAS kernel. Usage: landscape-benchmarks [--quick] [--models mlp,cnn,vit] [--vit SPEC]
// [--batches B,…] [--cpu-time] [--no-probes] [--no-epochs] [--json FILE] [--markdown FILE];
// other modes below (--spec-parity, --callgrind, --export-peer-check, …).

BLASRuntime.ensureFastKernel()
BLASRuntime.retainFreedMemory()
_ = GEMMThreads.count  // the thread policy (OpenBLAS single-threaded) before any BLAS call

let args = CommandLine.arguments
let quick = args.contains("--quick")
func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// --cpu-time: the main table and --spec-parity time the process's CPU time instead of the wall
/// clock; with OPENBLAS_NUM_THREADS=1 other processes on the machine then barely change it.
let cpuTime = args.contains("--cpu-time")
let clockName = cpuTime ? "process CPU time" : "wall clock"
func timer() -> Double {
    guard cpuTime else { return now() }
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Median seconds of `body` over `repeats` runs after `warmup` runs (at least `minTime` seconds in total).
func measure(warmup: Int = 2, repeats: Int = 7, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<warmup { try body() }
    var times: [Double] = []
    for _ in 0..<(quick ? 3 : repeats) {
        let t0 = timer()
        try body()
        times.append(timer() - t0)
    }
    times.sort()
    return times[times.count / 2]
}

/// A rule with the built-in function's primal and derivative but no hand-written Taylor rule,
/// so that jets take the generic ODE: what each kept recurrence saves.
struct GenericODE<F: ElementwiseFunction>: ElementwiseFunction {
    let f: F
    func callAsFunction(_ x: Float) -> Float { f(x) }
    func callAsFunction(_ x: Double) -> Double { f(x) }
    func derivative<V: ScalarAlgebra>(at x: V, value y: V) -> V { f.derivative(at: x, value: y) }
}

if args.contains("--jet-rules") {
    // Each hand-written Taylor rule against the generic ODE on a [512, 256] Float64 tensor
    // (the MLP's hidden activations at batch 512), orders 3 and 8.
    var rng = SplitMix64(seed: 5)
    let x = Tensor<Double>.randomUniform([512, 256], bound: 1, using: &rng)
    let v = Tensor<Double>.randomUniform([512, 256], bound: 1, using: &rng)
    func row<F: ElementwiseFunction>(_ name: String, _ f: F, _ at: Tensor<Double>) {
        for order in [3, 8] {
            let jet = Jet(point: at, direction: v, order: order)
            let fast = measure(warmup: 1, repeats: 5) { _ = Jet.applying(f, to: jet) }
            let generic = measure(warmup: 1, repeats: 5) { _ = Jet.applying(GenericODE(f: f), to: jet) }
            print(String(format: "%@ order %d: recurrence %.2f ms, generic ODE %.2f ms (%.1f×)", name, order, fast * 1e3, generic * 1e3, generic / fast))
        }
    }
    let positive = x.affine(scale: 0.5, shift: 1)
    row("exp", Exp(), x); row("log", Log(), positive); row("sqrt", Sqrt(), positive); row("tanh", Tanh(), x)
    row("sigmoid", Sigmoid(), x); row("sin", Sin(), x); row("cos", Cos(), x); row("pow 1.5", Power(1.5), positive)
    row("relu", ReLU(), x)
    exit(0)
}

if let b = option("--hvp-profile") {
    // Three CNN HVPs at the given batch (or, with --gradient, 6·2048 samples of gradients), for a profiler (perf record).
    let m = try CNN()
    var rng = SplitMix64(seed: 3)
    let n = Int(b) ?? 2048
    let x = Tensor<Float>.randomUniform([n, 784], bound: 1, using: &rng)
    let f = try m.loss(on: x, labels: (0..<n).map { _ in rng.next(below: 10) })
    let θ = m.initialParameters(Float.self, seed: 1)
    let v = Tensor<Float>.randomNormal([θ.count], using: &rng)
    if args.contains("--gradient") { for _ in 0..<(6 * 2048 / n) { _ = try valueWithGradient(of: f, at: θ) }; exit(0) }
    for _ in 0..<3 { _ = try valueGradientAndHVP(of: f, at: θ, along: v) }
    exit(0)
}

if args.contains("--chunks") {
    // Study settings: seconds per HVP / loss of the CNN's 1,024-sample probe set evaluated in
    // chunks, and per 2048-sample SGD gradient in micro-batches, relative to the unchunked time.
    let m = try CNN()
    var rng = SplitMix64(seed: 3)
    let n = 1024
    let x = Tensor<Float>.randomUniform([2048, 784], bound: 1, using: &rng)
    let y = (0..<2048).map { _ in rng.next(below: 10) }
    let θ = m.initialParameters(Float.self, seed: 1)
    let v = Tensor<Float>.randomNormal([θ.count], using: &rng)
    print("OpenBLAS \(BLASRuntime.coreName), \(BLASRuntime.threadCount) threads; CNN, probe set of \(n)")
    for records in ChunkRecords.allCases {
        var base = 0.0
        for chunk in [1024, 512, 256, 128, 64, 32] {
            let (px, py) = Trainer.probeSet(of: x, labels: y, samples: n)
            let op = try CurvatureKind.hessian.matrix(of: m, at: θ, input: px, labels: py, chunkSize: chunk, records: records)
            let t = try measure(warmup: 1, repeats: 3) { _ = try op.apply(v) }
            if chunk == 1024 { base = t }
            print(String(format: "HVP (%@), chunk %5d: %7.1f ms  (%.2f of unchunked)", records.rawValue, chunk, t * 1e3, t / base))
        }
    }
    let all = try m.loss(on: x, labels: y)
    let tg = try measure(warmup: 1, repeats: 3) { _ = try valueWithGradient(of: all, at: θ) }
    print(String(format: "gradient at 2048, whole batch: %7.1f ms", tg * 1e3))
    for micro in [512, 256, 128, 64] {
        let chunks = RowChunks(rows: 2048, size: micro)
        let t = try measure(warmup: 1, repeats: 3) {
            _ = try chunks.weightedSum { _, r in
                let (l, g) = try valueWithGradient(of: try m.loss(on: x.rows(r), labels: Array(y[r])), at: θ)
                return (Double(l), g)
            }
        }
        print(String(format: "gradient at 2048, micro-batch %4d: %7.1f ms  (%.2f of whole)", micro, t * 1e3, t / tg))
    }
    exit(0)
}

if let samples = option("--lambda-memory").flatMap(Int.init) {
    // Peak resident memory of one λ_max estimate (10 power iterations, then Lanczos) on the CNN's
    // Hessian over `samples` rows in chunks of --chunk rows, streamed or kept (--kept): run once
    // per setting, in separate processes, and compare the maxima.
    let chunk = Int(option("--chunk") ?? "64") ?? 64
    let records: ChunkRecords = args.contains("--kept") ? .kept : .streamed
    let m = try CNN()
    var rng = SplitMix64(seed: 3)
    let x = Tensor<Float>.randomUniform([samples, 784], bound: 1, using: &rng)
    let y = (0..<samples).map { _ in rng.next(below: 10) }
    let θ = m.initialParameters(Float.self, seed: 1)
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    let before = Double(usage.ru_maxrss) / 1024
    let t0 = Date()
    let op = try CurvatureKind.hessian.matrix(of: m, at: θ, input: x, labels: y, chunkSize: chunk, records: records)
    let r = try largestEigenvalue(of: op, powerIterations: 10, lanczosSteps: 10, seed: 1)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    print(String(format: "λ_max %.6g (%d products) on %d samples in chunks of %d (%@): max RSS %.0f MiB (%.0f MiB before), %.1f s",
                 r.value, r.products, samples, chunk, records.rawValue, Double(usage.ru_maxrss) / 1024, before, Date().timeIntervalSince(t0)))
    exit(0)
}

if let name = option("--probe-memory") {
    // Peak resident memory of one probe as `landscape probe` runs it (Float64, the data in
    // chunks by BatchChunking): run once per probe and size, in separate processes, and compare
    // the maxima. --model mlp|cnn, --samples N (probe batch), --probes K (trace probes, SLQ
    // probes, sharpness directions), --steps S (Lanczos steps).
    let spec = ModelSpec.presets.first { $0.name == option("--model") ?? "mlp" } ?? .mlp
    let samples = Int(option("--samples") ?? "512") ?? 512, k = Int(option("--probes") ?? "30") ?? 30
    let steps = Int(option("--steps") ?? "40") ?? 40
    func run<M: Model>(_ m: M) throws {
        var rng = SplitMix64(seed: 3)
        let x = Tensor<Double>.randomUniform([samples, m.inputSize], bound: 1, using: &rng)
        let y = (0..<samples).map { _ in rng.next(below: m.classCount) }
        let θ = m.initialParameters(Double.self, seed: 1)
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let before = Double(usage.ru_maxrss) / 1024
        let t0 = Date()
        let curvatureKind = CurvatureKind(rawValue: option("--operator") ?? "hessian") ?? .hessian
        let rows = BatchChunking.rows(for: spec)
        let records = BatchChunking.records(curvatureKind, rows: samples, dimension: m.layout.parameterCount, scalarBytes: 8)
        let curvature = { try curvatureKind.matrix(of: m, at: θ, input: x, labels: y, chunkSize: rows, records: records) }
        let loss = try m.meanLoss(on: x, labels: y, chunkSize: rows)
        let value: Double
        switch name {
        case "lambda_max": value = try largestEigenvalue(of: try curvature(), powerIterations: 10, lanczosSteps: steps, seed: 1).value
        case "lanczos": value = try lanczos(of: try curvature(), count: 5, steps: steps, seed: 1).pairs[0].value
        case "hutchinson": value = try hutchinsonTrace(of: try curvature(), probes: k, seed: 1).trace
        case "hutchpp": value = try hutchPlusPlusTrace(of: try curvature(), probes: k, seed: 1).trace
        case "slq": value = try spectralDensity(of: try curvature(), probes: k, steps: steps, seed: 1).mean
        case "sharpness": value = try randomSharpness(of: loss, at: θ, epsilon: 0.05, directions: k, seed: 1).mean
        case "keskar": value = try keskarSharpness(of: loss, at: θ, epsilon: 1e-3, steps: 10, seed: 1).increase
        default: fatalError("--probe-memory: unknown probe \(name); one of lambda_max, lanczos, hutchinson, hutchpp, slq, sharpness, keskar")
        }
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        print(String(format: "%@ %@ (%d parameters) on %d samples in chunks of %d (%@), %d probes, %d steps: value %.6g, max RSS %.0f MiB (%.0f MiB before), %.1f s",
                     name, m.name, m.layout.parameterCount, samples, min(rows, samples), records.rawValue, k, steps, value,
                     Double(usage.ru_maxrss) / 1024, before, Date().timeIntervalSince(t0)))
    }
    // The structs MLP and CNN, which give the presets' layouts and logits.
    if spec == .cnn { try run(try CNN()) } else { try run(MLP()) }
    exit(0)
}

if args.contains("--batch-sharpness") {
    // One batch_sharpness probe call (Float32, as after a training epoch) against one
    // value-with-gradient of one mini-batch of the same size (gathered from the data, as an SGD
    // step does), and one order-2 jet of it: MLP and CNN at --batches (default 64, 2048), K =
    // --k (default: the probe's automatic K). The data: 8,192 uniform random rows, random labels.
    // Rounds interleave the three (--rounds, default 3) and report medians, so that load from
    // other processes falls on all of them; --cpu-time times the process's CPU time instead of
    // the wall clock (run with OPENBLAS_NUM_THREADS=1: a busy machine then barely changes it).
    let kGiven = Int(option("--k") ?? "")
    let rounds = Int(option("--rounds") ?? "3") ?? 3
    let batches = option("--batches").map { $0.split(separator: ",").compactMap { Int($0) } } ?? [64, 2048]
    let cpu = args.contains("--cpu-time")
    func clock() -> Double {
        guard cpu else { return now() }
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
    func time(_ body: () throws -> Void) rethrows -> Double { let t0 = clock(); try body(); return clock() - t0 }
    func median(_ x: [Double]) -> Double { x.sorted()[x.count / 2] }
    func run<M: Model>(_ m: M) throws {
        var rng = SplitMix64(seed: 5)
        let n = 8192
        let x = Tensor<Float>.randomUniform([n, m.inputSize], bound: 1, using: &rng).affine(scale: 0.5, shift: 0.5)
        let y = (0..<n).map { _ in rng.next(below: m.classCount) }
        let θ = m.initialParameters(Float.self, seed: 1)
        for b in batches {
            let k = kGiven ?? BatchSharpnessProbe().batchCount(batchSize: b)
            let source = try m.miniBatches(of: x, labels: y, batchSize: b)
            let f = try source.loss(ofBatch: 0, seed: 4)
            let u = try f.valueWithGradient(at: θ).1.normalized()
            _ = try f.taylorCoefficients(at: θ, along: u, order: 2)
            var tg: [Double] = [], tj: [Double] = [], tp: [Double] = []
            var s: BatchSharpness? = nil
            for _ in 0..<rounds {
                tg.append(try time { _ = try source.loss(ofBatch: 0, seed: 4).valueWithGradient(at: θ) })
                tj.append(try time { _ = try f.taylorCoefficients(at: θ, along: u, order: 2) })
                tp.append(try time { s = try batchSharpness(of: source, at: θ, batches: k, seed: 4) })
            }
            let g = median(tg), j = median(tj), p = median(tp)
            print(String(format: "%@ batch %4d: value+gradient %8.1f ms, jet order 2 %8.1f ms (%.2f×), probe K = %d %9.1f ms = %.1f× value+gradient (%.2f× per batch); batch sharpness %.4g ± %.2g",
                         m.name, b, g * 1e3, j * 1e3, j / g, k, p * 1e3, p / g, p / g / Double(k), s!.mean, s!.standardError))
        }
    }
    print("OpenBLAS \(BLASRuntime.coreName), \(cpu ? "process CPU time" : "wall clock"), medians of \(rounds) interleaved rounds")
    try run(MLP())
    try run(try CNN())
    exit(0)
}

if args.contains("--jet-probes") {
    // The costs of the jet probes against their baselines, in one run, Float32, both models:
    // ∇λ (reverse over an order-2 jet) ÷ one value+gradient at batch 512 (target ≤ 4);
    // per-sample curvature (order-2 per-sample expansion) ÷ one order-2 jet of the mean loss at
    // batch 512 (target ≤ 2); the curvature along an SGD step (order-2 jet along Δθ) ÷ one
    // forward pass (the loss) at the study's high-noise batch 64 (target ≤ 1.5). Rounds interleave
    // the measurements (--rounds, default 7) so that load from other processes falls on all of
    // them; each ratio is the median of the per-round ratios, with their min and max.
    let rounds = Int(option("--rounds") ?? "7") ?? 7
    func time(_ body: () throws -> Void) rethrows -> Double { let t0 = now(); try body(); return now() - t0 }
    func spread(_ x: [Double]) -> String {
        let s = x.sorted()
        return String(format: "%.2f× [%.2f, %.2f]", s[s.count / 2], s.first!, s.last!)
    }
    func run<M: Model>(_ m: M) throws {
        var rng = SplitMix64(seed: 11)
        let θ = m.initialParameters(Float.self, seed: 1)
        let u = Tensor<Float>.randomNormal([θ.count], using: &rng).normalized()
        let x512 = Tensor<Float>.randomUniform([512, m.inputSize], bound: 1, using: &rng).affine(scale: 0.5, shift: 0.5)
        let y512 = (0..<512).map { _ in rng.next(below: m.classCount) }
        let f512 = try m.loss(on: x512, labels: y512)
        let x64 = x512.rows(0..<64), y64 = Array(y512[0..<64])
        let f64 = try m.loss(on: x64, labels: y64)
        var opt = try SGD<Float>(parameterCount: θ.count, learningRate: 0.05, momentum: 0.9)
        var after = θ
        try opt.update(&after, gradient: try gradient(of: f64, at: θ))
        var Δθ = after
        Δθ.addScaled(θ, -1)
        let loss64 = LossFunction(f64)
        var gradientRatio: [Double] = [], perSampleRatio: [Double] = [], stepRatio: [Double] = []
        var ms: [String: [Double]] = [:]
        for r in 0...rounds {
            let tg = try time { _ = try valueWithGradient(of: f512, at: θ) }
            let tc = try time { _ = try gradientOfCurvature(of: f512, at: θ, along: u) }
            let tj = try time { _ = try taylorCoefficients(of: f512, at: θ, along: u, order: 2) }
            let tp = try time { _ = try m.perSampleExpansion(at: θ, along: u, input: x512, labels: y512, order: 2) }
            let tf = try time { _ = try value(of: f64, at: θ) }
            let ts = try time { _ = try stepCurvature(of: loss64, at: θ, step: Δθ, learningRate: 0.05) }
            guard r > 0 else { continue }   // round 0 warms up
            gradientRatio.append(tc / tg); perSampleRatio.append(tp / tj); stepRatio.append(ts / tf)
            for (k, t) in [("value+gradient 512", tg), ("gradient of curvature 512", tc), ("jet order 2, 512", tj),
                           ("per-sample expansion 512", tp), ("forward 64", tf), ("step curvature 64", ts)] { ms[k, default: []].append(t * 1e3) }
        }
        for k in ["value+gradient 512", "gradient of curvature 512", "jet order 2, 512", "per-sample expansion 512", "forward 64", "step curvature 64"] {
            let s = ms[k]!.sorted()
            print(String(format: "%@ %@: %.2f ms (median of %d)", m.name, k, s[s.count / 2], s.count))
        }
        print("\(m.name) ∇λ ÷ value+gradient (≤ 4): \(spread(gradientRatio))")
        print("\(m.name) per-sample curvature ÷ one order-2 jet of the batch (≤ 2): \(spread(perSampleRatio))")
        print("\(m.name) step curvature ÷ one forward pass, batch 64 (≤ 1.5): \(spread(stepRatio))")
    }
    print("OpenBLAS \(BLASRuntime.coreName), \(BLASRuntime.threadCount) threads, wall clock, \(rounds) interleaved rounds after one warm-up")
    try run(MLP())
    try run(try CNN())
    exit(0)
}

if args.contains("--ops") {
    // Per-operation medians for the CNN's shapes (for profiling, not for the report).
    let n = Int(option("--batch") ?? "64") ?? 64
    var rng = SplitMix64(seed: 3)
    let x1 = Tensor<Float>.randomUniform([n, 1, 28, 28], bound: 1, using: &rng)
    let w1 = Tensor<Float>.randomUniform([16, 1, 5, 5], bound: 0.2, using: &rng)
    let x2 = Tensor<Float>.randomUniform([n, 16, 14, 14], bound: 1, using: &rng)
    let w2 = Tensor<Float>.randomUniform([32, 16, 5, 5], bound: 0.05, using: &rng)
    let y1 = Tensor.conv2d(x1, w1, stride: 1, padding: 2), y2 = Tensor.conv2d(x2, w2, stride: 1, padding: 2)
    func report(_ name: String, flops: Double, _ body: () -> Void) {
        let t = measure(warmup: 3, repeats: 15, body)
        print(String(format: "%-28@ %9.3f ms  %7.1f GFLOP/s", name as NSString, t * 1e3, flops / t / 1e9))
    }
    let f1 = 2.0 * Double(n) * 16 * 25 * 784, f2 = 2.0 * Double(n) * 32 * 400 * 196
    report("conv1 forward", flops: f1) { _ = Tensor.conv2d(x1, w1, stride: 1, padding: 2) }
    report("conv1 backward filter", flops: f1) { _ = Tensor.conv2dBackwardFilter(x1, y1, filterShape: w1.shape, stride: 1, padding: 2) }
    report("conv2 forward", flops: f2) { _ = Tensor.conv2d(x2, w2, stride: 1, padding: 2) }
    report("conv2 backward input", flops: f2) { _ = Tensor.conv2dBackwardInput(y2, w2, inputShape: x2.shape, stride: 1, padding: 2) }
    report("conv2 backward filter", flops: f2) { _ = Tensor.conv2dBackwardFilter(x2, y2, filterShape: w2.shape, stride: 1, padding: 2) }
    report("relu y1", flops: 0) { _ = y1.relu() }
    if args.contains("--maxpool-loop") { for _ in 0..<2000 { _ = y1.gatherMaxPool2x2(argmaxOf: y1) }; exit(0) }
    report("maxpool y1", flops: 0) { _ = y1.maxPool2x2() }
    do {
        let src = UnsafeMutablePointer<Float>.allocate(capacity: y1.count), dst = UnsafeMutablePointer<Float>.allocate(capacity: y1.count / 4)
        y1.withUnsafePointer { src.update(from: $0, count: y1.count) }
        report("maxpool kernel only", flops: 0) { Float.maxPool2Gather(src, by: src, dst, planes: n * 16, h: 28, w: 28) }
        report("maxpool tensor+kernel", flops: 0) { _ = Tensor<Float>(shape: [n, 16, 14, 14]) { y, _ in y1.withUnsafePointer { Float.maxPool2Gather($0, by: $0, y, planes: n * 16, h: 28, w: 28) } } }
        report("gatherMaxPool2x2", flops: 0) { _ = y1.gatherMaxPool2x2(argmaxOf: y1) }
        report("maxpool kernel, fresh out", flops: 0) { let d = UnsafeMutablePointer<Float>.allocate(capacity: y1.count / 4); Float.maxPool2Gather(src, by: src, d, planes: n * 16, h: 28, w: 28); d.deallocate() }
        report("relu kernel only", flops: 0) { Float.relu(src, dst, count: y1.count / 4) }
    }
    report("channel bias y1", flops: 0) { _ = y1.addingChannelBias(Tensor<Float>.zeros([16])) }
    report("im2col conv2", flops: 0) { _ = x2.im2col(ConvolutionGeometry(batch: n, channels: 16, height: 14, width: 14, outputChannels: 32, kernelHeight: 5, kernelWidth: 5, stride: 1, padding: 2)) }
    do {
        let nb = 13, chunks = max(1, n / nb)
        let sg = ConvolutionGeometry(batch: nb, channels: 16, height: 14, width: 14, outputChannels: 32, kernelHeight: 5, kernelWidth: 5, stride: 1, padding: 2)
        let buf = UnsafeMutablePointer<Float>.allocate(capacity: 400 * nb * 196), ob = UnsafeMutablePointer<Float>.allocate(capacity: 32 * nb * 196), yb = UnsafeMutablePointer<Float>.allocate(capacity: 32 * nb * 196)
        x2.withUnsafePointer { xp in
            let pad = UnsafeMutablePointer<Float>.allocate(capacity: nb * 16 * 18 * 18); pad.initialize(repeating: 0, count: nb * 16 * 18 * 18)
            report("pad conv2 chunks of 13", flops: 0) { for c in 0..<chunks { Float.padImages(xp + c * nb * 16 * 196, pad, sg) } }
            report("im2col conv2 chunks of 13", flops: 0) { for _ in 0..<chunks { Float.im2colPadded(pad, buf, sg) } }
            report("col2im conv2 chunks of 13", flops: 0) { for _ in 0..<chunks { Float.col2imPadded(buf, pad, sg) } }
        }
        report("gemm chunks of 13", flops: f2 * Double(chunks * nb) / Double(n)) { w2.withUnsafePointer { wp in for _ in 0..<chunks { Float.gemm(transposeA: false, transposeB: false, m: 32, n: nb * 196, k: 400, alpha: 1, a: wp, lda: 400, b: buf, ldb: nb * 196, beta: 0, c: ob, ldc: nb * 196) } } }
        report("swap chunks of 13", flops: 0) { for _ in 0..<chunks { Float.swapLeadingAxes(ob, yb, a: 32, b: nb, k: 196) } }
    }
    let cols2 = Tensor<Float>.randomUniform([400, n * 196], bound: 1, using: &rng)
    let w2m = w2.reshaped([32, 400])
    report("gemm W·cols (32×400·400×nP)", flops: f2) { _ = Tensor.matmul(w2m, cols2) }
    report("gemm colsᵀ·Wᵀ (nP×400·400×32)", flops: f2) { _ = Tensor.matmul(cols2, w2m, transposeA: true, transposeB: true) }
    let cols2t = Tensor<Float>.randomUniform([n * 196, 400], bound: 1, using: &rng)
    report("gemm cols'·Wᵀ (rows=pixels)", flops: f2) { _ = Tensor.matmul(cols2t, w2m, transposeB: true) }
    let g2 = Tensor<Float>.randomUniform([32, n * 196], bound: 1, using: &rng)
    report("gemm Wᵀ·g (400×32·32×nP)", flops: f2) { _ = Tensor.matmul(w2m, g2, transposeA: true) }
    report("gemm g·colsᵀ (32×nP·nP×400)", flops: f2) { _ = Tensor.matmul(g2, cols2, transposeB: true) }
    do {
        let b = 2048
        let xm = Tensor<Float>.randomUniform([b, 784], bound: 1, using: &rng), w1 = Tensor<Float>.randomUniform([256, 784], bound: 1, using: &rng)
        let g1 = Tensor<Float>.randomUniform([b, 256], bound: 1, using: &rng), w2 = Tensor<Float>.randomUniform([256, 256], bound: 1, using: &rng)
        let f1 = 2.0 * Double(b) * 784 * 256, f2 = 2.0 * Double(b) * 256 * 256
        report("mlp fwd x·W1ᵀ (2048)", flops: f1) { _ = Tensor.matmul(xm, w1, transposeB: true) }
        report("mlp dW1 = gᵀ·x", flops: f1) { _ = Tensor.matmul(g1, xm, transposeA: true) }
        report("mlp fwd h·W2ᵀ", flops: f2) { _ = Tensor.matmul(g1, w2, transposeB: true) }
        report("mlp dh = g·W2", flops: f2) { _ = Tensor.matmul(g1, w2) }
        report("mlp dW2 = gᵀ·h", flops: f2) { _ = Tensor.matmul(g1, g1, transposeA: true) }
        report("relu mask [2048,256]", flops: 0) { _ = g1.masked(wherePositive: g1) }
        report("bias add [2048,256]", flops: 0) { _ = g1.addingRowBroadcast(Tensor<Float>.zeros([256])) }
        report("sumRows [2048,256]", flops: 0) { _ = g1.sumRows() }
    }
    let a = Tensor<Float>.randomUniform([1024, 1024], bound: 1, using: &rng)
    report("sgemm 1024", flops: 2 * 1024 * 1024 * 1024) { _ = Tensor.matmul(a, a) }
    exit(0)
}

/// The transformer of the benchmark and of the peers' agreement check (Benchmarks/peers:
/// torch_bench.py builds the same architecture from the same compact form): --vit SPEC to change it.
let vitSpecText = option("--vit") ?? "vit:patch7-dim32-depth2-heads4-mlp64"
func vitModel() throws -> SpecModel { try ModelSpec(parsing: vitSpecText).make() }

struct BenchmarkError: Error, CustomStringConvertible { let description: String }

/// The order statistics of a sample: median, quartiles (nearest rank) and extremes.
struct Spread: Codable {
    var median: Double, q1: Double, q3: Double, min: Double, max: Double
    init(_ x: [Double]) {
        let s = x.sorted(), n = s.count
        median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
        q1 = s[(n - 1) / 4]; q3 = s[(3 * (n - 1) + 3) / 4]; min = s[0]; max = s[n - 1]
    }
    var text: String { String(format: "%.3f [%.3f, %.3f] (min %.3f, max %.3f)", median, q1, q3, min, max) }
}

/// One workload of `--spec-parity`: the struct's and the specification's time per call and their ratio.
struct ParityRow: Codable {
    var model: String, workload: String, precision: String, batch: Int
    var rounds: Int, callsPerTiming: Int
    var structMilliseconds: Double, specMilliseconds: Double   // medians over rounds, per call
    var ratio: Spread                                           // spec / struct, per round
    var bitIdentical: Bool                                      // loss and gradient (or H·v) equal bit for bit
}

/// Times `reference` (a struct: MLP, CNN) against `spec` (the same preset through ModelSpec) on
/// the same θ and batch, interleaved: every round times a block of `calls` calls of each, the
/// order alternating between rounds, after one warm-up round; the ratio spec / struct is taken
/// per round, so that load from other processes falls on both sides of each ratio.
func parity<R: Model, S: Model, E: TensorScalar>(_ reference: R, _ spec: S, _: E.Type, batches: [Int], rounds: Int,
                                                 blockSeconds: Double) throws -> [ParityRow] {
    guard reference.layout.entries.map(\.name) == spec.layout.entries.map(\.name),
          reference.layout.entries.map(\.shape) == spec.layout.entries.map(\.shape) else {
        throw BenchmarkError(description: "--spec-parity: \(spec.name)'s layout differs from \(reference.name)'s")
    }
    let prec = E.self == Float.self ? "f32" : "f64"
    let θ = reference.initialParameters(E.self, seed: 1)
    if spec.initialParameters(E.self, seed: 1).scalars != θ.scalars {
        print("warning: \(spec.name) through the specification draws another initial θ than the struct (timed on the struct's)")
    }
    var out: [ParityRow] = []
    for batch in batches {
        var rng = SplitMix64(seed: 7)
        let x = Tensor<E>.randomUniform([batch, reference.inputSize], bound: 1, using: &rng).affine(scale: 0.5, shift: 0.5)
        let labels = (0..<batch).map { _ in rng.next(below: reference.classCount) }
        let v = Tensor<E>.randomNormal([θ.count], using: &rng)
        let fr = try reference.loss(on: x, labels: labels), fs = try spec.loss(on: x, labels: labels)
        var pr = θ, ps = θ
        var optR = try SGD<E>(parameterCount: θ.count, learningRate: 0.01, momentum: 0.9), optS = optR
        let (lr, gr) = try valueWithGradient(of: fr, at: θ), (ls, gs) = try valueWithGradient(of: fs, at: θ)
        let (_, _, hr) = try valueGradientAndHVP(of: fr, at: θ, along: v), (_, _, hs) = try valueGradientAndHVP(of: fs, at: θ, along: v)
        let sameGradient = lr == ls && gr.scalars == gs.scalars, sameHVP = sameGradient && hr.scalars == hs.scalars
        var workloads: [(name: String, same: Bool, reference: () throws -> Void, spec: () throws -> Void)] = [
            ("value+gradient", sameGradient, { _ = try valueWithGradient(of: fr, at: θ) }, { _ = try valueWithGradient(of: fs, at: θ) }),
            ("HVP (fwd-over-rev)", sameHVP, { _ = try valueGradientAndHVP(of: fr, at: θ, along: v) },
             { _ = try valueGradientAndHVP(of: fs, at: θ, along: v) }),
        ]
        if batch == 64 {
            workloads.append(("SGD step", sameGradient,
                              { try optR.update(&pr, gradient: try gradient(of: fr, at: pr)) },
                              { try optS.update(&ps, gradient: try gradient(of: fs, at: ps)) }))
        }
        for w in workloads {
            try w.reference(); try w.spec()
            let t0 = timer(); try w.reference()
            let calls = max(1, Int((blockSeconds / max(timer() - t0, 1e-6)).rounded(.up)))
            func block(_ body: () throws -> Void) throws -> Double {
                let t0 = timer()
                for _ in 0..<calls { try body() }
                return (timer() - t0) / Double(calls)
            }
            var tr: [Double] = [], ts: [Double] = []
            for r in 0...rounds {
                let a: Double, b: Double
                if r % 2 == 0 { a = try block(w.reference); b = try block(w.spec) } else { b = try block(w.spec); a = try block(w.reference) }
                if r > 0 { tr.append(a); ts.append(b) }    // round 0 warms up
            }
            let row = ParityRow(model: reference.name, workload: w.name, precision: prec, batch: batch, rounds: rounds, callsPerTiming: calls,
                                structMilliseconds: Spread(tr).median * 1e3, specMilliseconds: Spread(ts).median * 1e3,
                                ratio: Spread(zip(ts, tr).map { $0 / $1 }), bitIdentical: w.same)
            print(String(format: "%@ %@ batch %4d %-19@ struct %9.3f ms, spec %9.3f ms; spec / struct %@; %@",
                         row.model, prec, batch, w.name as NSString, row.structMilliseconds, row.specMilliseconds, row.ratio.text,
                         w.same ? "bit-identical" : "NOT bit-identical"))
            out.append(row)
        }
    }
    return out
}

if args.contains("--spec-parity") {
    // The presets through the specification (ModelSpec.mlp.make(), ModelSpec.cnn.make(): SpecModel)
    // against the structs MLP() and CNN() that the main table times, in one run, interleaved (see
    // `parity`): value+gradient and HVP at batches 64 and 512, SGD step at 64. --rounds (default 11,
    // 5 with --quick), --block SECONDS (least time per timing, default 0.05: small workloads are
    // timed as blocks of calls), --precision f32|f64|both (default f32), --models mlp,cnn,
    // --cpu-time, --json FILE, --markdown FILE.
    let rounds = Int(option("--rounds") ?? "") ?? (quick ? 5 : 11)
    let blockSeconds = Double(option("--block") ?? "") ?? 0.05
    let precision = option("--precision") ?? "f32"
    let names = (option("--models") ?? "mlp,cnn").split(separator: ",").map(String.init)
    print("OpenBLAS kernel: \(BLASRuntime.coreName), threads: \(BLASRuntime.threadCount); \(clockName), \(rounds) interleaved rounds after one warm-up")
    var out: [ParityRow] = []
    for name in names {
        for p in ["f32", "f64"] where precision == p || precision == "both" {
            func run<E: TensorScalar>(_ e: E.Type) throws {
                switch name {
                case "mlp": out += try parity(MLP(), try ModelSpec.mlp.make(), e, batches: [64, 512], rounds: rounds, blockSeconds: blockSeconds)
                case "cnn": out += try parity(try CNN(), try ModelSpec.cnn.make(), e, batches: [64, 512], rounds: rounds, blockSeconds: blockSeconds)
                default: fatalError("--spec-parity: unknown model \(name); mlp or cnn")
                }
            }
            if p == "f32" { try run(Float.self) } else { try run(Double.self) }
        }
    }
    var md = "OpenBLAS kernel: \(BLASRuntime.coreName), threads: \(BLASRuntime.threadCount); \(rounds) interleaved rounds (\(clockName)), ratio = spec / struct per round\n\n"
    md += "| model | workload | precision | batch | struct (ms) | spec (ms) | spec / struct: median | quartiles | min–max | calls per timing | bit-identical |\n"
    md += "|---|---|---|---:|---:|---:|---:|---|---|---:|---|\n"
    for r in out {
        md += String(format: "| %@ | %@ | %@ | %d | %.3f | %.3f | %.3f | %.3f–%.3f | %.3f–%.3f | %d | %@ |\n", r.model, r.workload, r.precision, r.batch,
                     r.structMilliseconds, r.specMilliseconds, r.ratio.median, r.ratio.q1, r.ratio.q3, r.ratio.min, r.ratio.max,
                     r.callsPerTiming, r.bitIdentical ? "yes" : "no")
    }
    print(md)
    if let path = option("--markdown") { try md.write(toFile: path, atomically: true, encoding: .utf8) }
    if let path = option("--json") {
        let enc = JSONText.encoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(out).write(to: URL(fileURLWithPath: path))
    }
    exit(0)
}

/// The region Benchmarks/callgrind.sh counts (valgrind --toggle-collect='*callgrindRegion*'):
/// everything `body` executes, and nothing of the set-up around it.
@inline(never) func callgrindRegion(_ body: () throws -> Void) rethrows { try body() }

if let which = option("--callgrind") {
    // A small fixed workload for instruction counts under valgrind (Benchmarks/callgrind.sh):
    // --calls N (default 20) calls of --workload gradient|hvp (value+gradient, or value, gradient
    // and H·v) at --batch B (default 64), Float32, on mlp | cnn (the structs), spec-mlp | spec-cnn
    // (the presets through ModelSpec) or vit (the benchmark's transformer).
    let calls = Int(option("--calls") ?? "20") ?? 20, batch = Int(option("--batch") ?? "64") ?? 64
    let hvp = option("--workload") == "hvp", sgdStep = option("--workload") == "step"
    func run<M: Model>(_ m: M) throws {
        var rng = SplitMix64(seed: 7)
        let x = Tensor<Float>.randomUniform([batch, m.inputSize], bound: 1, using: &rng).affine(scale: 0.5, shift: 0.5)
        let labels = (0..<batch).map { _ in rng.next(below: m.classCount) }
        let θ = m.initialParameters(Float.self, seed: 1)
        let v = Tensor<Float>.randomNormal([θ.count], using: &rng)
        let f = try m.loss(on: x, labels: labels)
        _ = try valueGradientAndHVP(of: f, at: θ, along: v)     // one-off costs (BLAS buffers, caches) outside the region
        // --workload step: the benchmark's "SGD step" row (gradient, then the momentum update in place).
        var p = θ, opt = try SGD<Float>(parameterCount: θ.count, learningRate: 0.01, momentum: 0.9)
        if sgdStep { try opt.update(&p, gradient: try gradient(of: f, at: p)) }
        try callgrindRegion {
            for _ in 0..<calls {
                if hvp { _ = try valueGradientAndHVP(of: f, at: θ, along: v) }
                else if sgdStep { try opt.update(&p, gradient: try gradient(of: f, at: p)) }
                else { _ = try valueWithGradient(of: f, at: θ) }
            }
        }
        print("\(which): \(calls) × \(hvp ? "HVP" : sgdStep ? "SGD step" : "value+gradient") at batch \(batch), OpenBLAS \(BLASRuntime.coreName), \(BLASRuntime.threadCount) threads")
    }
    switch which {
    case "mlp": try run(MLP())
    case "cnn": try run(try CNN())
    case "spec-mlp": try run(try ModelSpec.mlp.make())
    case "spec-cnn": try run(try ModelSpec.cnn.make())
    case "vit": try run(try vitModel())
    default: fatalError("--callgrind: unknown workload \(which); mlp, cnn, spec-mlp, spec-cnn or vit")
    }
    exit(0)
}

if let which = option("--epoch-overhead") {
    // What an epoch of `Trainer.train` costs beyond its SGD steps: --steps S (default 200) steps at
    // --batch B (default 64) on the first S·B rows of MNIST (LANDSCAPE_MNIST or
    // /work/shared/data/mnist), no probes, against the same steps (the same batches, gathered
    // beforehand) as bare gradient + update calls. Process CPU time of steps 11…S (from the
    // onStep callback), minimum of --rounds R (default 3) alternating rounds. Under callgrind
    // (--callgrind-region trainer|steps) only that part runs, inside `callgrindRegion`.
    let steps = Int(option("--steps") ?? "200") ?? 200, batch = Int(option("--batch") ?? "64") ?? 64
    let rounds = Int(option("--rounds") ?? "3") ?? 3, only = option("--callgrind-region")
    let dir = URL(fileURLWithPath: ProcessInfo.processInfo.environment["LANDSCAPE_MNIST"] ?? "/work/shared/data/mnist")
    let data = try MNISTDataset(directory: dir, validationCount: 64, trainLimit: steps * batch, testLimit: 64)
    var cfg = TrainingConfiguration()
    cfg.model = which == "cnn" ? .cnn : .mlp
    cfg.epochs = 1
    cfg.optimizer.batchSize = batch
    cfg.optimizer.learningRate = 0.01
    cfg.optimizer.momentum = 0.9
    cfg.probes.lambdaEvery = 0
    cfg.evaluationBatchSize = 64
    let trainer = try Trainer(configuration: cfg, data: data)
    func cpuNow() -> Double { var t = timespec(); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 }
    func run<M: Model>(_ m: M) throws {
        let (x, y) = Trainer.tensor(of: data.train, as: Float.self)
        let batches = data.train.batchIndices(size: batch, seed: cfg.seed, epoch: 1)
        let losses = try batches.map { try m.loss(on: x.gatherRows($0), labels: $0.map { y[$0] }) }
        func trainerRound() throws -> Double {
            var t10 = 0.0, tEnd = 0.0
            _ = try trainer.train(model: m, from: nil, store: nil, onStep: { s in
                if s.step == 10 { t10 = cpuNow() } else if s.step == steps { tEnd = cpuNow() }
            })
            return (tEnd - t10) / Double(steps - 10)
        }
        func stepsRound() throws -> Double {
            var θ = m.initialParameters(Float.self, seed: cfg.seed)
            var opt = try SGD<Float>(parameterCount: θ.count, learningRate: 0.01, momentum: 0.9)
            var t10 = 0.0
            for (i, f) in losses.enumerated() {
                if i == 10 { t10 = cpuNow() }
                try opt.update(&θ, gradient: try gradient(of: f, at: θ))
            }
            return (cpuNow() - t10) / Double(steps - 10)
        }
        if let only {
            _ = only == "trainer" ? try trainerRound() : try stepsRound()     // warm-up outside the region
            try callgrindRegion { _ = only == "trainer" ? try trainerRound() : try stepsRound() }
            print("\(which): \(only), \(steps) steps at batch \(batch)")
            return
        }
        var te = Double.infinity, ts = Double.infinity
        for _ in 0..<rounds { te = min(te, try trainerRound()); ts = min(ts, try stepsRound()) }
        print(String(format: "%@ batch %d: Trainer epoch %.3f ms/step, bare steps %.3f ms/step, ratio %.3f (CPU time, min of %d; OpenBLAS %@, %d threads)",
                     which, batch, te * 1e3, ts * 1e3, te / ts, rounds, BLASRuntime.coreName, BLASRuntime.threadCount))
    }
    if which == "cnn" { try run(try CNN()) } else { try run(MLP()) }
    exit(0)
}

if let dir = option("--export-peer-check") {
    // Writes, per model, a safetensors file with a batch, θ, a direction v and Landscape's
    // Float32 HVP, for Benchmarks/peers/jax_bench.py to compare against JAX on the same numbers.
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for m in [MLP() as any Model, try CNN() as any Model, try vitModel() as any Model] {
        try exportPeerCheck(m, to: URL(fileURLWithPath: dir).appendingPathComponent("peer-check-\(label(m)).safetensors"))
    }
    exit(0)
}

func exportPeerCheck<M: Model>(_ m: M, to url: URL) throws {
    var rng = SplitMix64(seed: 11)
    let n = 64
    let x = Tensor<Float>.randomUniform([n, m.inputSize], bound: 1, using: &rng).affine(scale: 0.5, shift: 0.5)
    let labels = (0..<n).map { _ in rng.next(below: m.classCount) }
    let θ = m.initialParameters(Float.self, seed: 5)
    let v = Tensor<Float>.randomNormal([θ.count], using: &rng)
    let f = try m.loss(on: x, labels: labels)
    let (loss, g, hv) = try valueGradientAndHVP(of: f, at: θ, along: v)
    var tensors: [(name: String, shape: [Int], payload: SafeTensorsPayload)] = [
        (name: "x", shape: [n, m.inputSize], payload: .f32(x.scalars)),
        (name: "labels", shape: [n], payload: .i64(labels.map { Int64($0) })),
        (name: "loss", shape: [], payload: .f32([loss])),
    ]
    for e in m.layout.entries {
        tensors.append((name: "theta/" + e.name, shape: e.shape, payload: .f32(Array(θ.scalars[e.range]))))
        tensors.append((name: "v/" + e.name, shape: e.shape, payload: .f32(Array(v.scalars[e.range]))))
        tensors.append((name: "grad/" + e.name, shape: e.shape, payload: .f32(Array(g.scalars[e.range]))))
        tensors.append((name: "hvp/" + e.name, shape: e.shape, payload: .f32(Array(hv.scalars[e.range]))))
    }
    try SafeTensors.write(tensors, metadata: ["model": label(m), "spec": (m as? SpecModel)?.spec.description ?? m.name,
                                              "order": m.layout.entries.map(\.name).joined(separator: ",")], to: url)
    print("wrote \(url.path)")
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
print("OpenBLAS kernel: \(BLASRuntime.coreName), threads: \(BLASRuntime.threadCount), \(clockName)")
print(String(format: "sgemm 1024: %.1f GFLOP/s, dgemm 1024: %.1f GFLOP/s", sgemm, dgemm))

/// GEMM/convolution FLOPs of one forward pass and of one value-with-gradient.
func flops<M: Model>(_ m: M, batch: Int) -> (forward: Double, gradient: Double) {
    let n = Double(batch)
    if let mlp = m as? MLP {
        let layers = zip(mlp.sizes, mlp.sizes.dropFirst()).map { 2 * n * Double($0.0) * Double($0.1) }
        let fwd = layers.reduce(0, +)
        return (fwd, 3 * fwd - layers[0])        // no input gradient for the first layer
    }
    if let cnn = m as? CNN {
        var fwd = 0.0, grad = 0.0
        var (c, h, w) = (cnn.inputChannels, cnn.height, cnn.width)
        for (i, conv) in cnn.convolutions.enumerated() {
            let f = 2 * n * Double(conv.outputChannels * c * conv.kernelSize * conv.kernelSize * h * w)
            fwd += f; grad += i == 0 ? 2 * f : 3 * f
            c = conv.outputChannels; h /= 2; w /= 2
        }
        for l in [cnn.hidden, cnn.output] { let f = 2 * n * Double(l.inputSize * l.outputSize); fwd += f; grad += 3 * f }
        return (fwd, grad)
    }
    return (.nan, .nan)
}

/// GFLOP/s of `flops` in `seconds`; nil when the FLOPs of the model are not counted (the transformer).
func rate(_ flops: Double, _ seconds: Double) -> Double? { flops.isFinite ? flops / seconds / 1e9 : nil }

/// The model's name in the tables: "vit" for the transformer (its specification is in the header), else its own.
func label<M: Model>(_ m: M) -> String { m is SpecModel ? "vit" : m.name }

func benchModel<M: Model, E: TensorScalar>(_ m: M, _: E.Type, batch: Int, gemmRate: Double, hvpOnly: Bool) throws {
    var rng = SplitMix64(seed: 7)
    let x = Tensor<E>.randomUniform([batch, m.inputSize], bound: 1, using: &rng).affine(scale: 0.5, shift: 0.5)
    let labels = (0..<batch).map { _ in rng.next(below: m.classCount) }
    let θ = m.initialParameters(E.self, seed: 1)
    let v = Tensor<E>.randomNormal([θ.count], using: &rng)
    let f = try m.loss(on: x, labels: labels)
    let (fwd, gradFlops) = flops(m, batch: batch)
    let prec = E.self == Float.self ? "f32" : "f64"
    let reps = batch >= 2048 && m is CNN ? 3 : 7
    let tg = try measure(warmup: 1, repeats: reps) { _ = try valueWithGradient(of: f, at: θ) }
    if !hvpOnly {
        let tl = try measure(warmup: 1, repeats: reps) { _ = try value(of: f, at: θ) }
        rows.append(Row(model: label(m), workload: "loss", precision: prec, batch: batch, medianSeconds: tl, gflops: rate(fwd, tl), fractionOfGemm: rate(fwd, tl).map { $0 / gemmRate }))
    }
    rows.append(Row(model: label(m), workload: "value+gradient", precision: prec, batch: batch, medianSeconds: tg, gflops: rate(gradFlops, tg), fractionOfGemm: rate(gradFlops, tg).map { $0 / gemmRate }, ratioToGradient: 1))
    let th = try measure(warmup: 1, repeats: reps) { _ = try valueGradientAndHVP(of: f, at: θ, along: v) }
    rows.append(Row(model: label(m), workload: "HVP (fwd-over-rev)", precision: prec, batch: batch, medianSeconds: th, ratioToGradient: th / tg))
    // The linearized Hessian: recorded once (one value+gradient pass), then tangents only per product.
    let op = try LinearizedHessian(of: f, at: θ)
    let ta = try measure(warmup: 1, repeats: reps) { _ = try op.apply(v) }
    rows.append(Row(model: label(m), workload: "linearized HVP (apply)", precision: prec, batch: batch, medianSeconds: ta, ratioToGradient: ta / tg))
    if !hvpOnly {
        var opt = try SGD<E>(parameterCount: θ.count, learningRate: 0.01, momentum: 0.9)
        var p = θ
        let ts = try measure(warmup: 1, repeats: reps) {
            let g = try gradient(of: f, at: p)
            try opt.update(&p, gradient: g)
        }
        rows.append(Row(model: label(m), workload: "SGD step", precision: prec, batch: batch, medianSeconds: ts, ratioToGradient: ts / tg))
    }
    print("done: \(label(m)) \(prec) batch \(batch)")
}

// --models: mlp, cnn (the structs) and vit (the transformer `vitSpecText` through the specification).
let models: [any Model] = try (option("--models") ?? "mlp,cnn,vit").split(separator: ",").map { name -> any Model in
    switch name {
    case "mlp": return MLP()
    case "cnn": return try CNN()
    case "vit": return try vitModel()
    default: throw BenchmarkError(description: "--models: unknown model \(name); mlp, cnn or vit")
    }
}
for model in models {
    // The transformer at batches 64 and 512 (the issue's rows), the others at 64, 2048 (--quick) or 64, 512, 2048.
    let defaultBatches = model is SpecModel ? [64, 512] : quick ? [64, 2048] : [64, 512, 2048]
    for batch in (option("--batches").map { $0.split(separator: ",").compactMap { Int($0) } } ?? defaultBatches) {
        try benchModel(model, Float.self, batch: batch, gemmRate: sgemm, hvpOnly: false)
        try benchModel(model, Double.self, batch: batch, gemmRate: dgemm, hvpOnly: true)
    }
}

// λ_max by 20 power iterations on 512 samples, and one training epoch of 60,000 samples.
func benchProbesAndEpochs<M: Model>(_ m: M) throws {
    var rng = SplitMix64(seed: 9)
    let x = Tensor<Float>.randomUniform([512, m.inputSize], bound: 1, using: &rng).affine(scale: 0.5, shift: 0.5)
    let f = try m.loss(on: x, labels: (0..<512).map { _ in rng.next(below: m.classCount) })
    let θ = m.initialParameters(Float.self, seed: 1)
    let tg = try measure(warmup: 1, repeats: 5) { _ = try valueWithGradient(of: f, at: θ) }
    let t = try measure(warmup: 1, repeats: quick ? 1 : 3) { _ = try powerIteration(of: f, at: θ, maxIterations: 20, tolerance: 1e-12) }
    rows.append(Row(model: label(m), workload: "lambda_max (20 power its)", precision: "f32", batch: 512, medianSeconds: t, ratioToGradient: t / tg))
    let v = Tensor<Float>.randomNormal([θ.count], using: &rng)
    let tj = try measure(warmup: 1, repeats: quick ? 3 : 5) { _ = try taylorCoefficients(of: f, at: θ, along: v, order: 3) }
    rows.append(Row(model: label(m), workload: "jet, order 3", precision: "f32", batch: 512, medianSeconds: tj, ratioToGradient: tj / tg))
    // ∇λ = ∇³L[u, u, ·]: reverse mode over an order-2 jet (Notes/jets.md; target ≤ 4× value+gradient).
    let u = v.normalized()
    let tc = try measure(warmup: 1, repeats: quick ? 3 : 5) { _ = try gradientOfCurvature(of: f, at: θ, along: u) }
    rows.append(Row(model: label(m), workload: "gradient of curvature (rev over jet 2)", precision: "f32", batch: 512, medianSeconds: tc, ratioToGradient: tc / tg))
    guard !args.contains("--no-epochs") else { return }
    let samples = 60_000
    let data = Tensor<Float>.randomUniform([samples, m.inputSize], bound: 1, using: &rng).affine(scale: 0.5, shift: 0.5)
    let labels = (0..<samples).map { _ in rng.next(below: m.classCount) }
    for batch in [64, 2048] {
        var p = θ
        var opt = try SGD<Float>(parameterCount: θ.count, learningRate: 0.01, momentum: 0.9)
        let t0 = timer()
        var start = 0
        while start < samples {
            let end = min(start + batch, samples)
            let fb = try m.loss(on: data.rows(start..<end), labels: Array(labels[start..<end]))
            let g = try gradient(of: fb, at: p)
            try opt.update(&p, gradient: g)
            start = end
        }
        let te = timer() - t0
        let (_, gradFlops) = flops(m, batch: samples)
        rows.append(Row(model: label(m), workload: "training epoch (60k samples, 1 run)", precision: "f32", batch: batch, medianSeconds: te,
                        gflops: rate(gradFlops, te), fractionOfGemm: rate(gradFlops, te).map { $0 / sgemm }))
        print("done: \(label(m)) epoch at batch \(batch)")
    }
}
if !args.contains("--no-probes") { for model in models { try benchProbesAndEpochs(model) } }

var md = "OpenBLAS kernel: \(BLASRuntime.coreName), threads: \(BLASRuntime.threadCount), \(clockName); sgemm \(String(format: "%.1f", sgemm)) GFLOP/s, dgemm \(String(format: "%.1f", dgemm)) GFLOP/s (1024×1024, this run)\n\n"
if models.contains(where: { $0 is SpecModel }) { md += "vit: `\(vitSpecText)` through the specification (SpecModel)\n\n" }
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
    let enc = JSONText.encoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    try enc.encode(rows).write(to: URL(fileURLWithPath: path))
}

#!/usr/bin/env python3
"""JAX peer of Landscape's benchmark (Benchmarks/Sources/LandscapeBenchmarks/main.swift).

Same models (PyTorch conventions, parameters in Landscape's order), same batches, same
measures, so Landscape's times can be put next to a mainstream autodiff system's, and
Landscape's Hessian-vector product can be checked against JAX's on the same numbers.

Usage (after `bash Benchmarks/peers/setup.sh`; PY=.build-peers/venv/bin/python):

  # agreement: loss, gradient and HVP at Landscape's θ along Landscape's v
  Benchmarks/.build/release/landscape-benchmarks --export-peer-check /tmp/peer
  $PY Benchmarks/peers/jax_bench.py --check /tmp/peer --json /tmp/jax-check.json
      [--precision f32|f64]   JAX's arithmetic (default f32; f64 shows how close each side
                              is to the exact value, in a process with jax_enable_x64)
      [--tolerance 1e-4]      exit status 1 when an error is above it

  # timing: jitted, compiled and warmed up, median of repeated runs
  $PY Benchmarks/peers/jax_bench.py --time --json /tmp/jax.json
      [--quick]               3 repeats everywhere, batches 64 and 2048 (like Landscape's --quick)
      [--models mlp,cnn,vit] [--batches 64,512,2048] [--precision both|f32|f64]
      [--vit vit:patch7-dim32-depth2-heads4-mlp64]   the transformer (compact form; timed at
                              batches 64 and 512 unless --batches, not in λ_max)
      [--maxpool reshape|window]  how the CNN's max-pool is written (default reshape)
      [--power-loop unrolled,dispatched]  which λ_max variants to time (also: rolled)

  With --precision both (the default for --time) each precision runs in its own child
  process (float64 needs jax_enable_x64 set before anything is traced); the parent
  collects their rows.

Workloads (rows {"model","workload","precision","batch","medianSeconds"}):
  loss                       value of the mean cross-entropy                    (f32)
  value+gradient             jax.value_and_grad                                 (f32, f64)
  HVP (fwd-over-rev)         jax.jvp of jax.value_and_grad: value, gradient and (f32, f64)
                             H·v in one call, as Landscape's valueGradientAndHVP
  SGD step                   value_and_grad + heavy-ball momentum update
                             (lr 0.01, μ 0.9, PyTorch form), one jitted function,
                             parameter and momentum buffers donated               (f32)
  lambda_max (20 power its)  20 HVPs with normalisation in a lax.fori_loop(unroll=True),
                             batch 512, mlp and cnn; XLA computes the forward pass
                             (independent of v) once for the 20 HVPs             (f32)
  lambda_max (20 power its, 20 dispatches)
                             the same as 20 calls of one jitted HVP+normalise step:
                             a full HVP per iteration, like Landscape           (f32)
  lambda_max (20 power its, rolled fori_loop)
                             only with --power-loop ...,rolled: unroll=1; slow on
                             XLA:CPU for the CNN (about 1 minute at batch 512)   (f32)

Environment: JAX_PLATFORMS=cpu is forced. XLA does not use OpenBLAS; see setup.sh for
threads and pinning.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial

os.environ.setdefault("JAX_PLATFORMS", "cpu")

# --precision f64 must turn on x64 before jax is imported and anything is traced.
if "--precision" in sys.argv:
    _i = sys.argv.index("--precision")
    if _i + 1 < len(sys.argv) and sys.argv[_i + 1] == "f64":
        os.environ["JAX_ENABLE_X64"] = "1"

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

if os.environ.get("JAX_ENABLE_X64") == "1":
    jax.config.update("jax_enable_x64", True)

# ----------------------------------------------------------------------------- models

from peer_common import NAMES, SHAPES, VIT_INPUT, VIT_SPEC, agreement, finish, log, parse_vit, set_vit  # noqa: E402

# The transformer's compact form (--vit, or a check file's "spec"); vit_logits reads it.
VIT = {"spec": VIT_SPEC}


def linear(h, w, b):
    """PyTorch nn.Linear: y = x Wᵀ + b with W [out, in]."""
    return h @ w.T + b


def conv2d(h, w, b):
    """PyTorch nn.Conv2d(stride 1, padding 2): cross-correlation, NCHW input, OIHW filter."""
    y = lax.conv_general_dilated(h, w, window_strides=(1, 1), padding=((2, 2), (2, 2)),
                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + b[None, :, None, None]


# 2×2 max-pool, stride 2, on NCHW. "reshape" (default): a max over the axes of a
# [N,C,H/2,2,W/2,2] view, ~1.6× faster end to end for the CNN on XLA:CPU than "window":
# lax.reduce_window, what flax.linen.max_pool does (its gradient is select_and_scatter).
# On ties "reshape" splits the gradient between the tied inputs and "window" sends it to
# one; after a ReLU the only likely ties are zeros, whose gradient the ReLU zeroes anyway.
MAXPOOL = "reshape"


def max_pool_2x2(h):
    if MAXPOOL == "window":
        return lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    n, c, hh, ww = h.shape
    return h.reshape(n, c, hh // 2, 2, ww // 2, 2).max(axis=(3, 5))


def mlp_logits(params, x):
    w1, b1, w2, b2, w3, b3 = params
    h = jax.nn.relu(linear(x, w1, b1))
    h = jax.nn.relu(linear(h, w2, b2))
    return linear(h, w3, b3)


def cnn_logits(params, x):
    c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b = params
    h = x.reshape(x.shape[0], 1, 28, 28)
    h = max_pool_2x2(jax.nn.relu(conv2d(h, c1w, c1b)))     # [N,16,14,14]
    h = max_pool_2x2(jax.nn.relu(conv2d(h, c2w, c2b)))     # [N,32,7,7]
    h = h.reshape(h.shape[0], -1)                          # (C, H, W) order → 1568
    h = jax.nn.relu(linear(h, f1w, f1b))
    return linear(h, f2w, f2b)


def layer_norm(h, w, b, eps=1e-5):
    """nn.LayerNorm over the last axis: biased variance, ε inside the square root."""
    mu = h.mean(-1, keepdims=True)
    var = ((h - mu) ** 2).mean(-1, keepdims=True)
    return (h - mu) / jnp.sqrt(var + eps) * w + b


def vit_logits(params, x):
    """The transformer of VIT["spec"], as torch_bench.py's ViT: patches by a convolution of
    kernel = stride = patch, tokens in row-major patch order plus the position embedding,
    pre-norm blocks (attention softmax(q kᵀ/√d_head) v with separate q, k, v, out linears; FFN
    with the exact GELU), a final LayerNorm, the mean over tokens, a linear head."""
    cfg = parse_vit(VIT["spec"])
    p, d, heads, t = cfg["patch"], cfg["dim"], cfg["heads"], cfg["tokens"]
    dh = d // heads
    n = x.shape[0]
    pw, pb, pos = params[:3]
    h = lax.conv_general_dilated(x.reshape(n, *VIT_INPUT), pw, window_strides=(p, p), padding="VALID",
                                 dimension_numbers=("NCHW", "OIHW", "NCHW")) + pb[None, :, None, None]
    h = h.reshape(n, d, t).transpose(0, 2, 1) + pos                       # [N,T,D]
    for i in range(cfg["depth"]):
        n1w, n1b, qw, qb, kw, kb, vw, vb, ow, ob, n2w, n2b, f1w, f1b, f2w, f2b = params[3 + 16 * i: 3 + 16 * (i + 1)]
        a = layer_norm(h, n1w, n1b)

        def split(z):                                                     # [N,T,D] → [N,H,T,D/H]
            return z.reshape(n, t, heads, dh).transpose(0, 2, 1, 3)
        q, k, v = split(linear(a, qw, qb)), split(linear(a, kw, kb)), split(linear(a, vw, vb))
        att = jax.nn.softmax(q @ k.swapaxes(-1, -2) / dh ** 0.5, axis=-1)
        h = h + linear((att @ v).transpose(0, 2, 1, 3).reshape(n, t, d), ow, ob)
        m = layer_norm(h, n2w, n2b)
        h = h + linear(jax.nn.gelu(linear(m, f1w, f1b), approximate=False), f2w, f2b)
    lw, lb, hw, hb = params[-4:]
    return linear(layer_norm(h, lw, lb).mean(axis=1), hw, hb)


LOGITS = {"mlp": mlp_logits, "cnn": cnn_logits, "vit": vit_logits}


def make_loss(model):
    logits_fn = LOGITS[model]

    def loss(params, x, labels):
        """Mean softmax cross-entropy with integer labels."""
        logp = jax.nn.log_softmax(logits_fn(params, x), axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))
    return loss


def make_fns(model):
    """The jitted workloads of one model; params is a tuple of arrays in Landscape's order."""
    loss = make_loss(model)
    vg = jax.value_and_grad(loss)

    def value_grad_hvp(params, v, x, labels):
        # forward-over-reverse: jvp of the (value, gradient) map along v
        (value, g), (_, hv) = jax.jvp(lambda p: vg(p, x, labels), (params,), (v,))
        return value, g, hv

    def hvp(params, v, x, labels):
        return jax.jvp(lambda p: jax.grad(loss)(p, x, labels), (params,), (v,))[1]

    def sgd_step(params, buf, x, labels, lr=0.01, mu=0.9):
        value, g = vg(params, x, labels)
        buf = tuple(mu * b + gi for b, gi in zip(buf, g))
        params = tuple(p - lr * b for p, b in zip(params, buf))
        return params, buf, value

    def dot(a, b):
        return sum(jnp.vdot(ai, bi) for ai, bi in zip(a, b))

    def power_step(params, v, x, labels):
        """One power iteration: w = H v, λ = wᵀv (v has unit norm), next v = w/‖w‖."""
        w = hvp(params, v, x, labels)
        lam = dot(w, v)
        wn = jnp.sqrt(dot(w, w))
        return tuple(wi / wn for wi in w), lam

    def unit(v0):
        nrm = jnp.sqrt(dot(v0, v0))
        return tuple(vi / nrm for vi in v0)

    def lambda_max(params, v0, x, labels, iters=20, unroll=True):
        # unroll=True: one straight-line program, in which XLA computes the v-independent
        # forward pass once for all 20 HVPs (CSE; in the compiled HLO the CNN has 162
        # convolutions = 2 + 20×8, a single HVP 10). unroll=1: a rolled while loop, which
        # recomputes everything and, for the CNN on XLA:CPU, takes ~3 s per HVP at batch
        # 512 against ~0.4 s for a standalone jitted HVP (README).
        def body(_, carry):
            return power_step(params, carry[0], x, labels)
        return lax.fori_loop(0, iters, body, (unit(v0), jnp.zeros((), v0[0].dtype)), unroll=unroll)[1]

    step = jax.jit(power_step)

    def lambda_max_dispatched(params, v0, x, labels, iters=20):
        # 20 separately dispatched jitted steps: each recomputes the forward pass, the same
        # work per iteration as Landscape's powerIteration (one full HVP per iteration).
        v, lam = unit(v0), None
        for _ in range(iters):
            v, lam = step(params, v, x, labels)
        return lam

    return {
        "loss": jax.jit(loss),
        "value+gradient": jax.jit(vg),
        "HVP (fwd-over-rev)": jax.jit(value_grad_hvp),
        "SGD step": jax.jit(sgd_step, donate_argnums=(0, 1)),
        "lambda_max (20 power its)": jax.jit(lambda_max),
        "lambda_max (20 power its, rolled fori_loop)": jax.jit(partial(lambda_max, unroll=1)),
        "lambda_max (20 power its, 20 dispatches)": lambda_max_dispatched,
    }

# ----------------------------------------------------------------------------- check


def check(directory, precision, tolerance, models):
    from safetensors import safe_open
    from safetensors.numpy import load_file
    dtype = np.float64 if precision == "f64" else np.float32
    results, ok = {}, True
    for model in models:
        path = os.path.join(directory, f"peer-check-{model}.safetensors")
        if not os.path.isfile(path):
            raise SystemExit(f"{path} not found: write it with `landscape-benchmarks --export-peer-check {directory}`")
        t = load_file(path)
        if model == "vit":      # the transformer the file was written for (landscape-benchmarks --vit)
            with safe_open(path, "np") as f:
                VIT["spec"] = (f.metadata() or {}).get("spec", VIT_SPEC)
            set_vit(VIT["spec"])
        names = NAMES[model]
        for n, shape in SHAPES[model]:
            for kind in ("theta", "v", "grad", "hvp"):
                got = t[f"{kind}/{n}"].shape
                if tuple(got) != shape:
                    raise SystemExit(f"{path}: {kind}/{n} has shape {got}, expected {shape}")
        theta = tuple(jnp.asarray(t[f"theta/{n}"].astype(dtype)) for n in names)
        v = tuple(jnp.asarray(t[f"v/{n}"].astype(dtype)) for n in names)
        x = jnp.asarray(t["x"].astype(dtype))
        labels = jnp.asarray(t["labels"].astype(np.int32))
        value, g, hv = make_fns(model)["HVP (fwd-over-rev)"](theta, v, x, labels)
        r = {
            "precision": precision,
            "batch": int(x.shape[0]),
            "lossJAX": float(value),
            **agreement(float(value), g, hv, t, names, tolerance),
        }
        if model == "vit":
            r["spec"] = VIT["spec"]
        ok &= r["pass"]
        results[model] = r
        print(f"{model}: JAX {precision} vs Landscape f32 (batch {r['batch']}): "
              f"loss {r['lossJAX']:.7g} vs {r['lossLandscape']:.7g} rel err {r['lossRelErr']:.2e}; "
              f"gradient rel err {r['gradRelErr']:.2e}; HVP rel err {r['hvpRelErr']:.2e}"
              f"{'' if r['pass'] else f'  ABOVE TOLERANCE {tolerance:g}'}")
    return results, ok

# ----------------------------------------------------------------------------- timing


def block(tree):
    jax.block_until_ready(tree)
    return tree


def median_time(call, warmup, repeats):
    """Median seconds of call() over `repeats` runs, after compiling and `warmup` runs."""
    for _ in range(warmup):
        block(call())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        block(call())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def random_problem(model, batch, dtype, seed):
    """Random data shaped like Landscape's benchmark (values don't matter for timing)."""
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.uniform(0, 1, (batch, 784)).astype(dtype))
    labels = jnp.asarray(rng.integers(0, 10, batch).astype(np.int32))
    params, v = [], []
    for _, shape in SHAPES[model]:
        # (values don't matter for the time: the vit's norms and position embedding get the same)
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        bound = 1 / np.sqrt(fan_in)
        params.append(jnp.asarray(rng.uniform(-bound, bound, shape).astype(dtype)))
        v.append(jnp.asarray(rng.standard_normal(shape).astype(dtype)))
    return tuple(params), tuple(v), x, labels


def time_precision(precision, models, batches, quick, power_variants, log):
    dtype = np.float64 if precision == "f64" else np.float32
    rows = []

    def add(model, workload, batch, seconds):
        rows.append({"model": model, "workload": workload, "precision": precision,
                     "batch": batch, "medianSeconds": seconds})
        log(f"  {model:3} {precision} batch {batch:4}  {workload:26} {seconds * 1e3:10.3f} ms")

    for model in models:
        fns = make_fns(model)
        # The transformer at batches 64 and 512 unless --batches is given, as Landscape's benchmark.
        for batch in (batches or ([64, 512] if model == "vit" else ([64, 2048] if quick else [64, 512, 2048]))):
            params, v, x, labels = random_problem(model, batch, dtype, seed=7)
            # Landscape: 7 repeats, 3 for the CNN at batch ≥ 2048, 3 with --quick; 1 warm-up.
            reps = 3 if quick or (model == "cnn" and batch >= 2048) else 7
            t0 = time.perf_counter()
            if precision == "f32":
                add(model, "loss", batch,
                    median_time(lambda: fns["loss"](params, x, labels), 2, reps))
            add(model, "value+gradient", batch,
                median_time(lambda: fns["value+gradient"](params, x, labels), 2, reps))
            add(model, "HVP (fwd-over-rev)", batch,
                median_time(lambda: fns["HVP (fwd-over-rev)"](params, v, x, labels), 2, reps))
            if precision == "f32":
                state = {"p": tuple(jnp.array(p) for p in params),
                         "b": tuple(jnp.zeros_like(p) for p in params)}

                def step():
                    state["p"], state["b"], value = fns["SGD step"](state["p"], state["b"], x, labels)
                    return value
                add(model, "SGD step", batch, median_time(step, 2, reps))
            log(f"  ({model} {precision} batch {batch}: {time.perf_counter() - t0:.1f} s)")
        if precision == "f32" and model != "vit":    # λ_max: the MLP and the CNN only
            batch = 512
            params, v, x, labels = random_problem(model, batch, dtype, seed=9)
            for variant in power_variants:
                name = {"unrolled": "lambda_max (20 power its)",
                        "dispatched": "lambda_max (20 power its, 20 dispatches)",
                        "rolled": "lambda_max (20 power its, rolled fori_loop)"}[variant]
                # Landscape: 1 warm-up, 3 repeats
                add(model, name, batch, median_time(lambda: fns[name](params, v, x, labels), 1, 3))
    return rows


def run_time(args):
    models = args.models.split(",")
    batches = [int(b) for b in args.batches.split(",")] if args.batches else None
    precisions = ["f32", "f64"] if args.precision == "both" else [args.precision]
    if len(precisions) == 1:
        log(f"JAX {jax.__version__} on {jax.devices()}, x64 {jax.config.jax_enable_x64}, max-pool {MAXPOOL}, "
            f"cpus {os.cpu_count()}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
        return time_precision(precisions[0], models, batches, args.quick, args.power_loop.split(","), log)
    rows = []
    for p in precisions:     # one child per precision: x64 is process-wide in JAX
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            out = f.name
        cmd = [sys.executable, os.path.abspath(__file__), "--time", "--precision", p,
               "--models", args.models, "--json", out, "--vit", args.vit,
               "--maxpool", args.maxpool, "--power-loop", args.power_loop]
        if batches:
            cmd += ["--batches", ",".join(map(str, batches))]
        if args.quick:
            cmd.append("--quick")
        subprocess.run(cmd, check=True)
        with open(out) as f:
            rows += json.load(f)
        os.unlink(out)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", metavar="DIR", help="compare with Landscape's peer-check-*.safetensors in DIR")
    mode.add_argument("--time", action="store_true", help="time the workloads")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--precision", choices=["f32", "f64", "both"], default=None)
    ap.add_argument("--tolerance", type=float, default=1e-4, help="--check: largest relative error accepted")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--models", default="mlp,cnn,vit", help="comma-separated from mlp, cnn, vit (default all)")
    ap.add_argument("--vit", default=VIT_SPEC, metavar="SPEC",
                    help=f"--time: the transformer's compact form (default {VIT_SPEC}); --check reads it from the file")
    ap.add_argument("--batches", default=None,
                    help="comma-separated (default 64,512,2048; 64,2048 with --quick; the vit 64,512)")
    ap.add_argument("--maxpool", choices=["reshape", "window"], default="reshape",
                    help="how the CNN's max-pool is written (see max_pool_2x2)")
    ap.add_argument("--power-loop", default="unrolled,dispatched",
                    help="λ_max variants to time, comma-separated from unrolled (the row "
                         "'lambda_max (20 power its)'), dispatched, rolled")
    args = ap.parse_args()
    if not set(args.power_loop.split(",")) <= {"unrolled", "dispatched", "rolled"}:
        ap.error("--power-loop takes unrolled, dispatched, rolled")
    global MAXPOOL
    MAXPOOL = args.maxpool
    if not set(args.models.split(",")) <= {"mlp", "cnn", "vit"}:
        ap.error("--models takes mlp, cnn, vit")
    VIT["spec"] = args.vit
    set_vit(args.vit)

    if args.check:
        precision = args.precision or "f32"
        if precision == "both":
            ap.error("--check takes --precision f32 or f64")
        results, ok = check(args.check, precision, args.tolerance, args.models.split(","))
        out = {"jax": jax.__version__, "tolerance": args.tolerance, "models": results}
    else:
        args.precision = args.precision or "both"
        out = run_time(args)
        ok = True
    finish(out, args.json, ok)


if __name__ == "__main__":
    main()
